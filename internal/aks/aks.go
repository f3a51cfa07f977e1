// Package aks is aksbot's domain: the AKS operations a chat command asks for, the plan the bot
// makes for one, and the job that carries it out. It has no dependencies on Slack, Azure or
// storage; the packages around it (commands, azure, store, jobs, slack, console) speak in its types.
package aks

import (
	"fmt"
	"sort"
	"strings"
)

// OpKind names a mutating operation. The values are stable: they are stored in jobs, written in
// the audit trail and used in policy files.
type OpKind string

const (
	OpClusterCreate  OpKind = "cluster.create"
	OpClusterDelete  OpKind = "cluster.delete"
	OpClusterUpgrade OpKind = "cluster.upgrade" // control plane (and pools unless ControlPlaneOnly)
	OpClusterStart   OpKind = "cluster.start"
	OpClusterStop    OpKind = "cluster.stop"
	OpPoolAdd        OpKind = "nodepool.add"
	OpPoolScale      OpKind = "nodepool.scale" // also `/aks scale`; Target.Pool may be empty there
	OpPoolAutoscale  OpKind = "nodepool.update"
	OpPoolDelete     OpKind = "nodepool.delete"
	OpPoolUpgrade    OpKind = "nodepool.upgrade"

	// EKS managed node groups: the same jobs, approvals and audit, on the AWS side.
	OpNodegroupCreate  OpKind = "eks.nodegroup.create"  // create-nodegroup
	OpNodegroupScale   OpKind = "eks.nodegroup.scale"   // update-nodegroup-config --scaling-config
	OpNodegroupUpgrade OpKind = "eks.nodegroup.upgrade" // update-nodegroup-version
	OpNodegroupDelete  OpKind = "eks.nodegroup.delete"  // delete-nodegroup
)

// OpKinds lists every operation kind, in the order help and policy listings show them.
var OpKinds = []OpKind{
	OpClusterCreate, OpClusterDelete, OpClusterUpgrade, OpClusterStart, OpClusterStop,
	OpPoolAdd, OpPoolScale, OpPoolAutoscale, OpPoolDelete, OpPoolUpgrade,
	OpNodegroupCreate, OpNodegroupScale, OpNodegroupUpgrade, OpNodegroupDelete,
}

// Valid reports whether k is a known operation kind.
func (k OpKind) Valid() bool {
	for _, known := range OpKinds {
		if k == known {
			return true
		}
	}
	return false
}

// OnPool reports whether the operation acts on one node pool (or EKS node group) rather than
// the whole cluster.
func (k OpKind) OnPool() bool {
	return strings.HasPrefix(string(k), "nodepool.") || strings.HasPrefix(string(k), "eks.nodegroup.")
}

// Provider is the cloud the operation kind belongs to: ProviderEKS for the eks.* kinds,
// ProviderAKS for the others.
func (k OpKind) Provider() string {
	if strings.HasPrefix(string(k), ProviderEKS+".") {
		return ProviderEKS
	}
	return ProviderAKS
}

// Providers: the clouds aksbot runs operations in. A target without one is AKS (jobs stored
// before there were two clouds have none).
const (
	ProviderAKS = "aks"
	ProviderEKS = "eks"
)

// Target names the resource an operation acts on. Pool is empty for cluster operations.
// On AKS a cluster is a resource group and a name in a subscription; on EKS (Provider "eks")
// it is a name in a region of an AWS account, and Pool is the managed node group.
type Target struct {
	// Provider is "" or ProviderAKS for AKS, ProviderEKS for EKS.
	Provider string `json:"provider,omitempty"`
	// Region and Account say where an EKS cluster lives; Account is the AWS account ID when
	// the bot knows it (from the configuration or STS), for policy and audit.
	Region  string `json:"region,omitempty"`
	Account string `json:"account,omitempty"`

	ResourceGroup string `json:"resourceGroup"`
	Cluster       string `json:"cluster"`
	Pool          string `json:"pool,omitempty"`
	// Subscription is the ID of the subscription the cluster lives in; "" = the default one.
	// Jobs stored before aksbot knew several subscriptions get the default when the store opens.
	Subscription string `json:"subscription,omitempty"`
	// SubscriptionName is the configured name of the subscription, set only when several
	// subscriptions are configured: it is for people (cards, audit lines), never a key.
	SubscriptionName string `json:"subscriptionName,omitempty"`
}

// ClusterKey identifies the cluster for serialisation: AKS allows one mutating operation at a
// time per cluster and its pools, and Azure resource names (and subscription IDs) are
// case-insensitive. The same resource group and cluster in two subscriptions are two clusters.
//
// An EKS cluster's key is "eks/REGION/NAME": EKS names are case-sensitive, and one bot works in
// one AWS account.
func (t Target) ClusterKey() string {
	if t.IsEKS() {
		return ProviderEKS + "/" + t.Region + "/" + t.Cluster
	}
	k := strings.ToLower(t.ResourceGroup) + "/" + strings.ToLower(t.Cluster)
	if t.Subscription != "" {
		k = strings.ToLower(t.Subscription) + "/" + k
	}
	return k
}

// ClusterName says which cluster, for people: "rg-aks/demo", or "prod · rg-aks/demo" when
// several subscriptions are configured.
//
// EKS clusters name their cloud and region: "eks · eu-west-1 · web-prod".
func (t Target) ClusterName() string {
	if t.IsEKS() {
		return ProviderEKS + " · " + t.Region + " · " + t.Cluster
	}
	s := t.ResourceGroup + "/" + t.Cluster
	if t.SubscriptionName != "" {
		s = t.SubscriptionName + " · " + s
	}
	return s
}

// IsEKS reports whether the target is an EKS cluster or node group.
func (t Target) IsEKS() bool { return t.Provider == ProviderEKS }

// CloudName names the service that runs the target's operations, for people: "Azure" or "EKS".
func (t Target) CloudName() string {
	if t.IsEKS() {
		return "EKS"
	}
	return "Azure"
}

// ShowCommand is the command that shows the target's cluster now, for hints:
// "/aks show demo" or "/eks describe web-prod --region eu-west-1".
func (t Target) ShowCommand() string {
	if t.IsEKS() {
		return "/eks describe " + t.Cluster + " --region " + t.Region
	}
	return "/aks show " + t.Cluster
}

// ActivityLog says where the cloud records what happened to the target, for hints.
func (t Target) ActivityLog() string {
	if t.IsEKS() {
		return "the node group's update history (aws eks list-updates) and health"
	}
	return "the Azure activity log"
}

// ClusterOnly is the target without its pool: the cluster the operation's lane is for.
func (t Target) ClusterOnly() Target {
	t.Pool = ""
	return t
}

func (t Target) String() string {
	s := t.ClusterName()
	if t.Pool != "" {
		s += "/" + t.Pool
	}
	return s
}

// Autoscaler is the cluster autoscaler's setting for a pool.
type Autoscaler struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Operation is one mutating request, as parsed and validated from a command. Fields that do not
// apply to Kind are zero. Counts are pointers where "not given" differs from zero.
type Operation struct {
	Kind   OpKind `json:"kind"`
	Target Target `json:"target"`

	Location          string            `json:"location,omitempty"`          // create
	NodeCount         *int              `json:"nodeCount,omitempty"`         // create, scale, nodepool add/scale
	VMSize            string            `json:"vmSize,omitempty"`            // create, nodepool add
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"` // create, upgrade, nodepool upgrade
	ControlPlaneOnly  bool              `json:"controlPlaneOnly,omitempty"`  // upgrade
	NodeImageOnly     bool              `json:"nodeImageOnly,omitempty"`     // nodepool upgrade
	Autoscaler        *Autoscaler       `json:"autoscaler,omitempty"`        // create, nodepool add/update: enable or update
	DisableAutoscaler bool              `json:"disableAutoscaler,omitempty"` // nodepool update
	Mode              string            `json:"mode,omitempty"`              // nodepool add: System|User
	OSType            string            `json:"osType,omitempty"`            // nodepool add: Linux|Windows
	Zones             []string          `json:"zones,omitempty"`             // create, nodepool add
	Tags              map[string]string `json:"tags,omitempty"`              // create
	Labels            map[string]string `json:"labels,omitempty"`            // nodepool add, eks nodegroup create
	Taints            []string          `json:"taints,omitempty"`            // nodepool add, eks nodegroup create: key=value:Effect

	// Nodegroup holds what only EKS node-group operations take (eks.nodegroup.*).
	Nodegroup *NodegroupSpec `json:"nodegroup,omitempty"`
}

// NodegroupSpec is what an EKS node-group operation asks for beyond the Operation's common
// fields (KubernetesVersion, Labels, Taints). Sizes are pointers: a scale may change only one.
type NodegroupSpec struct {
	DesiredSize *int `json:"desiredSize,omitempty"` // create, scale
	MinSize     *int `json:"minSize,omitempty"`     // create, scale
	MaxSize     *int `json:"maxSize,omitempty"`     // create, scale
	// ReleaseVersion is the AMI release an upgrade goes to ("" = the latest for the version).
	ReleaseVersion string `json:"releaseVersion,omitempty"`
	// Force: upgrade even when pods cannot be drained because of a pod disruption budget.
	Force bool `json:"force,omitempty"`

	NodeRole      string   `json:"nodeRole,omitempty"`      // create: the node IAM role ARN
	Subnets       []string `json:"subnets,omitempty"`       // create
	InstanceTypes []string `json:"instanceTypes,omitempty"` // create
	CapacityType  string   `json:"capacityType,omitempty"`  // create: ON_DEMAND|SPOT|CAPACITY_BLOCK
	AMIType       string   `json:"amiType,omitempty"`       // create
}

// sizes says the sizes given, in the words of a plan: "5 nodes, min 1, max 10".
func (n *NodegroupSpec) sizes() string {
	if n == nil {
		return ""
	}
	var parts []string
	if n.DesiredSize != nil {
		parts = append(parts, fmt.Sprintf("%d nodes", *n.DesiredSize))
	}
	if n.MinSize != nil {
		parts = append(parts, fmt.Sprintf("min %d", *n.MinSize))
	}
	if n.MaxSize != nil {
		parts = append(parts, fmt.Sprintf("max %d", *n.MaxSize))
	}
	return strings.Join(parts, ", ")
}

// Describe says in plain words what the operation asks for, without the current state
// (Plan.Summary says "from -> to"). Example: "scale pool np2 of rg-aks/demo to 3 nodes".
func (op Operation) Describe() string {
	t := op.Target
	cluster := t.ClusterName()
	switch op.Kind {
	case OpClusterCreate:
		s := fmt.Sprintf("create cluster %s in %s", cluster, op.Location)
		if op.NodeCount != nil {
			s += fmt.Sprintf(" with %d nodes", *op.NodeCount)
		}
		return s
	case OpClusterDelete:
		return "delete cluster " + cluster
	case OpClusterUpgrade:
		if op.ControlPlaneOnly {
			return fmt.Sprintf("upgrade the control plane of %s to Kubernetes %s", cluster, op.KubernetesVersion)
		}
		return fmt.Sprintf("upgrade %s (control plane and node pools) to Kubernetes %s", cluster, op.KubernetesVersion)
	case OpClusterStart:
		return "start cluster " + cluster
	case OpClusterStop:
		return "stop cluster " + cluster
	case OpPoolAdd:
		s := fmt.Sprintf("add pool %s to %s", t.Pool, cluster)
		if op.NodeCount != nil {
			s += fmt.Sprintf(" with %d nodes", *op.NodeCount)
		}
		return s
	case OpPoolScale:
		pool := t.Pool
		if pool == "" {
			pool = "(the only pool)"
		}
		if op.NodeCount == nil {
			return fmt.Sprintf("scale pool %s of %s", pool, cluster)
		}
		return fmt.Sprintf("scale pool %s of %s to %d nodes", pool, cluster, *op.NodeCount)
	case OpPoolAutoscale:
		if op.DisableAutoscaler {
			return fmt.Sprintf("disable the autoscaler on pool %s of %s", t.Pool, cluster)
		}
		if op.Autoscaler != nil {
			return fmt.Sprintf("autoscale pool %s of %s between %d and %d nodes", t.Pool, cluster, op.Autoscaler.Min, op.Autoscaler.Max)
		}
		return fmt.Sprintf("update pool %s of %s", t.Pool, cluster)
	case OpPoolDelete:
		return fmt.Sprintf("delete pool %s of %s", t.Pool, cluster)
	case OpPoolUpgrade:
		if op.NodeImageOnly {
			return fmt.Sprintf("upgrade the node image of pool %s of %s", t.Pool, cluster)
		}
		return fmt.Sprintf("upgrade pool %s of %s to Kubernetes %s", t.Pool, cluster, op.KubernetesVersion)
	case OpNodegroupScale:
		return fmt.Sprintf("scale node group %s of %s to %s", t.Pool, cluster, op.Nodegroup.sizes())
	case OpNodegroupCreate:
		s := fmt.Sprintf("create node group %s in %s", t.Pool, cluster)
		if sz := op.Nodegroup.sizes(); sz != "" {
			s += " with " + sz
		}
		return s
	case OpNodegroupUpgrade:
		switch {
		case op.Nodegroup != nil && op.Nodegroup.ReleaseVersion != "":
			return fmt.Sprintf("upgrade node group %s of %s to AMI release %s", t.Pool, cluster, op.Nodegroup.ReleaseVersion)
		case op.KubernetesVersion != "":
			return fmt.Sprintf("upgrade node group %s of %s to Kubernetes %s", t.Pool, cluster, op.KubernetesVersion)
		}
		return fmt.Sprintf("upgrade node group %s of %s to the cluster's version and latest AMI", t.Pool, cluster)
	case OpNodegroupDelete:
		return fmt.Sprintf("delete node group %s of %s", t.Pool, cluster)
	}
	return string(op.Kind) + " " + t.String()
}

// Change is one "from -> to" line of a plan, such as pool np2's node count going from 1 to 3.
type Change struct {
	What string `json:"what"` // "np2 nodes", "Kubernetes version", "np2 autoscaler max"
	From string `json:"from"` // "" when the thing does not exist yet
	To   string `json:"to"`   // "" when the thing goes away
}

func (c Change) String() string {
	from, to := c.From, c.To
	if from == "" {
		from = "none"
	}
	if to == "" {
		to = "none"
	}
	return fmt.Sprintf("%s: %s -> %s", c.What, from, to)
}

// Plan is what the bot will do for an operation, worked out from Azure's current state when the
// job is made. Approvals are given to a plan.
type Plan struct {
	Summary string   `json:"summary"` // one line: "np2: 1 -> 3 nodes"
	Changes []Change `json:"changes,omitempty"`
	// ScaleUp: the plan adds capacity (more nodes, a higher autoscaler max, a new pool or cluster
	// with nodes). Policy uses it to decide on approval.
	ScaleUp bool `json:"scaleUp,omitempty"`
	// Pool resolved for the operation (for `/aks scale` without --nodepool-name).
	Pool string `json:"pool,omitempty"`
	// Node counts before and after, for node-count changes (scale, add, create); -1 when unknown.
	FromNodes int `json:"fromNodes"`
	ToNodes   int `json:"toNodes"`
	// ETag of the resource the plan was made from (empty for creates): a stale plan is detected by it.
	ETag string `json:"etag,omitempty"`
	// VMSize of the pool concerned, for the approval message.
	VMSize string `json:"vmSize,omitempty"`
	// Subscription the target lives in, for the approval message and the audit log.
	Subscription string `json:"subscription,omitempty"`
	// ClusterNodes is the cluster's total node count after the change (sum over its pools, with
	// autoscaled pools counted at their max); -1 when unknown. Policy guardrails use it.
	ClusterNodes int `json:"clusterNodes"`
	// Location of the cluster (existing, or to be created), for guardrails.
	Location string `json:"location,omitempty"`

	// Capacity is what the plan changes in nodes and control-plane tier (nil when nothing), for
	// cost and quota. Cost, Quota and ETA are filled by the engine before anyone is asked to
	// approve (nil when they do not apply).
	Capacity *Capacity `json:"capacity,omitempty"`
	Cost     *Cost     `json:"cost,omitempty"`
	Quota    *Quota    `json:"quota,omitempty"`
	ETA      *Estimate `json:"eta,omitempty"`
}

// Cluster is the read view of a managed cluster.
type Cluster struct {
	Name              string            `json:"name"`
	ResourceGroup     string            `json:"resourceGroup"`
	Location          string            `json:"location"`
	KubernetesVersion string            `json:"kubernetesVersion"`
	FQDN              string            `json:"fqdn,omitempty"`
	Tier              string            `json:"tier,omitempty"`       // Free|Standard|Premium
	PowerState        string            `json:"powerState,omitempty"` // Running|Stopped
	ProvisioningState string            `json:"provisioningState"`
	ETag              string            `json:"etag,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	Pools             []Pool            `json:"pools,omitempty"`
	// Subscription is the configured name of the cluster's subscription, set by the bot only
	// when several subscriptions are configured, for the lines that show it.
	Subscription string `json:"subscription,omitempty"`
}

// NodeCount is the sum of the pools' node counts.
func (c Cluster) NodeCount() int {
	n := 0
	for _, p := range c.Pools {
		n += p.Count
	}
	return n
}

// Pool returns the named pool (case-insensitive) and whether it exists.
func (c Cluster) Pool(name string) (Pool, bool) {
	for _, p := range c.Pools {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Pool{}, false
}

// Pool is the read view of a node pool (an ARM agent pool).
type Pool struct {
	Name                string            `json:"name"`
	Mode                string            `json:"mode"` // System|User
	Count               int               `json:"count"`
	VMSize              string            `json:"vmSize"`
	OSType              string            `json:"osType"`
	OrchestratorVersion string            `json:"orchestratorVersion,omitempty"`
	NodeImageVersion    string            `json:"nodeImageVersion,omitempty"`
	Autoscaling         bool              `json:"autoscaling"`
	MinCount            int               `json:"minCount,omitempty"`
	MaxCount            int               `json:"maxCount,omitempty"`
	ProvisioningState   string            `json:"provisioningState"`
	PowerState          string            `json:"powerState,omitempty"`
	Zones               []string          `json:"zones,omitempty"`
	Labels              map[string]string `json:"labels,omitempty"`
	Taints              []string          `json:"taints,omitempty"`
	ETag                string            `json:"etag,omitempty"`
}

// KubernetesVersion is one version offered in a location.
type KubernetesVersion struct {
	Version    string   `json:"version"`
	Preview    bool     `json:"preview,omitempty"`
	IsDefault  bool     `json:"isDefault,omitempty"`
	UpgradesTo []string `json:"upgradesTo,omitempty"`
}

// Upgrades is a cluster's upgrade profile.
type Upgrades struct {
	ControlPlaneVersion string        `json:"controlPlaneVersion"`
	ControlPlane        []string      `json:"controlPlane"` // versions the control plane can go to
	Pools               []PoolUpgrade `json:"pools,omitempty"`
}

// PoolUpgrade is one pool's upgrade profile.
type PoolUpgrade struct {
	Pool            string   `json:"pool"`
	Version         string   `json:"version"`
	Upgrades        []string `json:"upgrades"`
	LatestNodeImage string   `json:"latestNodeImage,omitempty"`
}

// SortedKeys returns m's keys in order, for stable rendering of tags and labels.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// InProgress reports whether an Azure provisioning state means an operation is under way. AKS
// has many such states (Creating, Updating, Scaling, Upgrading, Deleting, Starting, Stopping,
// ...); anything not known to be at rest counts as busy.
func InProgress(provisioningState string) bool {
	switch provisioningState {
	case "Succeeded", "Failed", "Canceled", "Cancelled", "NotFound", "":
		return false
	}
	return true
}
