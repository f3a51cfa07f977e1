package azure

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// Begin sends the operation's mutation and returns the long-running operation to follow.
// Updates start from a fresh GET of the resource and PUT it back whole with If-Match, so nothing
// stale or partial is ever sent; creates use If-None-Match "*" so that they never apply twice.
// If the resource changed since the plan was made (its ETag differs), Begin sends nothing and
// returns an *aks.Error EConflict.
//
// When a try of the mutation got a server error or no answer and the request then failed, Azure
// may have applied it all the same (the response got lost): Begin then returns an error wrapping
// ErrOutcomeUnknown instead of the last answer, and the caller must look at the resource.
func (c *Client) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, _ string) (aks.CloudOperation, error) {
	ctx, tries := withTries(ctx)
	o, err := c.begin(ctx, op, plan)
	if errors.Is(err, errAlreadyApplied) {
		// Typically the bot's own earlier request, whose answer got lost: sending it again
		// would be refused (the ETag moved) although the approved change is in place.
		c.log.Info("change already in place; nothing sent", "what", op.Describe())
		return appliedOperation{}, nil
	}
	if err != nil {
		return nil, outcome(err, tries, op.Describe())
	}
	return startedOperation{CloudOperation: o, firstPoll: tries.firstPollAfter()}, nil
}

// begin dispatches op to the function that sends its kind of request. Every pool operation but
// an add first GETs the pool (beginPoolChange); a kind that is neither known nor a pool
// operation sends nothing.
func (c *Client) begin(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	switch op.Kind {
	case aks.OpClusterCreate:
		return c.beginClusterCreate(ctx, op, plan)
	case aks.OpClusterDelete:
		return c.beginClusterDelete(ctx, op, plan)
	case aks.OpClusterStart:
		return c.beginClusterStart(ctx, op, plan)
	case aks.OpClusterStop:
		return c.beginClusterStop(ctx, op, plan)
	case aks.OpClusterUpgrade:
		return c.beginClusterUpgrade(ctx, op, plan)
	case aks.OpPoolAdd:
		return c.beginPoolAdd(ctx, op)
	}
	if !op.Kind.OnPool() {
		return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
	}
	return c.beginPoolChange(ctx, op, plan)
}

// beginClusterCreate fills the create's defaults (createSpec: the version the plan resolved,
// or else it reads the location's versions) and PUTs the new cluster with If-None-Match "*":
// a cluster that already exists is refused (createConflict) rather than overwritten, and a
// create is never applied twice.
func (c *Client) beginClusterCreate(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	t := op.Target
	s, err := c.createSpec(ctx, op, planChange(plan, changeVersion))
	if err != nil {
		return nil, err
	}
	p, err := c.clusters.BeginCreateOrUpdate(ctx, t.ResourceGroup, t.Cluster, newCluster(op, s),
		&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: ptr("*")})
	if exists := createConflict(err, "cluster "+clusterName(t)); exists != nil {
		return nil, exists
	}
	return started(c, p, err, op.Describe())
}

// beginClusterDelete GETs the cluster, checks its ETag against the plan (freshCluster) and
// sends the DELETE with If-Match on the ETag it just read.
func (c *Client) beginClusterDelete(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	t := op.Target
	mc, err := c.freshCluster(ctx, op, plan)
	if err != nil {
		return nil, err
	}
	p, err := c.clusters.BeginDelete(ctx, t.ResourceGroup, t.Cluster, &armcontainerservice.ManagedClustersClientBeginDeleteOptions{IfMatch: mc.ETag})
	return started(c, p, err, op.Describe())
}

// beginClusterStart GETs the cluster, checks its ETag against the plan (freshCluster) and
// POSTs start, with no condition on the request: the ETag check is the GET's.
func (c *Client) beginClusterStart(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	t := op.Target
	if _, err := c.freshCluster(ctx, op, plan); err != nil {
		return nil, err
	}
	p, err := c.clusters.BeginStart(ctx, t.ResourceGroup, t.Cluster, nil)
	return started(c, p, err, op.Describe())
}

// beginClusterStop GETs the cluster, checks its ETag against the plan (freshCluster) and POSTs
// stop, with no condition on the request: the ETag check is the GET's.
func (c *Client) beginClusterStop(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	t := op.Target
	if _, err := c.freshCluster(ctx, op, plan); err != nil {
		return nil, err
	}
	p, err := c.clusters.BeginStop(ctx, t.ResourceGroup, t.Cluster, nil)
	return started(c, p, err, op.Describe())
}

// beginClusterUpgrade GETs the cluster, checks its ETag against the plan (freshCluster), sets
// the Kubernetes version of the control plane (and of every pool profile unless
// ControlPlaneOnly) in what it read, and PUTs the whole cluster back with If-Match on that ETag.
func (c *Client) beginClusterUpgrade(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	t := op.Target
	mc, err := c.freshCluster(ctx, op, plan)
	if err != nil {
		return nil, err
	}
	if mc.Properties == nil {
		mc.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	mc.Properties.KubernetesVersion = ptr(op.KubernetesVersion)
	if !op.ControlPlaneOnly {
		for _, ap := range mc.Properties.AgentPoolProfiles {
			if ap != nil {
				ap.OrchestratorVersion = ptr(op.KubernetesVersion)
			}
		}
	}
	p, err := c.clusters.BeginCreateOrUpdate(ctx, t.ResourceGroup, t.Cluster, mc,
		&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfMatch: mc.ETag})
	return started(c, p, err, op.Describe())
}

// beginPoolAdd GETs the cluster (for the defaults of the new pool, poolAdd) and PUTs the new
// pool with If-None-Match "*": a pool that already exists is refused (createConflict) rather
// than overwritten, and an add is never applied twice. The plan's ETag is not checked.
func (c *Client) beginPoolAdd(ctx context.Context, op aks.Operation) (aks.CloudOperation, error) {
	t := op.Target
	cl, err := c.GetCluster(ctx, t.ResourceGroup, t.Cluster)
	if err != nil {
		return nil, err
	}
	p, err := c.pools.BeginCreateOrUpdate(ctx, t.ResourceGroup, t.Cluster, t.Pool, newPool(op, poolAdd(op, cl)),
		&armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfNoneMatch: ptr("*")})
	if exists := createConflict(err, fmt.Sprintf("pool %s of %s", t.Pool, clusterName(t))); exists != nil {
		return nil, exists
	}
	return started(c, p, err, op.Describe())
}

// beginPoolChange GETs the pool op acts on (poolOf: the plan resolves it for `/aks scale`),
// checks its ETag against the plan (freshPool), and hands what it read to the function of
// op's kind. An unknown pool operation is refused after that GET, sending nothing else.
func (c *Client) beginPoolChange(ctx context.Context, op aks.Operation, plan aks.Plan) (aks.CloudOperation, error) {
	pool := poolOf(op, plan)
	ap, err := c.freshPool(ctx, op, pool, plan)
	if err != nil {
		return nil, err
	}
	switch op.Kind {
	case aks.OpPoolScale:
		return c.beginPoolScale(ctx, op, pool, ap)
	case aks.OpPoolAutoscale:
		return c.beginPoolAutoscale(ctx, op, pool, ap)
	case aks.OpPoolUpgrade:
		return c.beginPoolUpgrade(ctx, op, pool, ap)
	case aks.OpPoolDelete:
		return c.beginPoolDelete(ctx, op, pool, ap)
	}
	return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
}

// putPool PUTs ap, the pool as GET read it with a change applied, back whole with If-Match on
// the ETag that GET returned.
func (c *Client) putPool(ctx context.Context, op aks.Operation, pool string, ap armcontainerservice.AgentPool) (aks.CloudOperation, error) {
	t := op.Target
	update := &armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfMatch: ap.Properties.ETag}
	p, err := c.pools.BeginCreateOrUpdate(ctx, t.ResourceGroup, t.Cluster, pool, ap, update)
	return started(c, p, err, op.Describe())
}

// beginPoolScale sets the node count in the pool ap (read by beginPoolChange) and PUTs it back
// with If-Match (putPool). It sends nothing if no count is given or the pool is autoscaled.
func (c *Client) beginPoolScale(ctx context.Context, op aks.Operation, pool string, ap armcontainerservice.AgentPool) (aks.CloudOperation, error) {
	if op.NodeCount == nil {
		return nil, invalid("how many nodes?", "add --node-count")
	}
	if ap.Properties.EnableAutoScaling != nil && *ap.Properties.EnableAutoScaling {
		return nil, &aks.Error{Code: aks.EConflict, Message: fmt.Sprintf("pool %s is autoscaled now, so its node count cannot be set", pool),
			Hint: "use `/aks nodepool update --update-cluster-autoscaler`, or disable the autoscaler first"}
	}
	ap.Properties.Count = ptr(int32(*op.NodeCount))
	return c.putPool(ctx, op, pool, ap)
}

// beginPoolAutoscale enables (with min and max counts) or disables the autoscaler in the pool
// ap (read by beginPoolChange) and PUTs it back with If-Match (putPool). It sends nothing if
// neither bounds nor --disable-cluster-autoscaler are given.
func (c *Client) beginPoolAutoscale(ctx context.Context, op aks.Operation, pool string, ap armcontainerservice.AgentPool) (aks.CloudOperation, error) {
	if op.DisableAutoscaler {
		ap.Properties.EnableAutoScaling = ptr(false)
		ap.Properties.MinCount = nil
		ap.Properties.MaxCount = nil
	} else {
		if op.Autoscaler == nil {
			return nil, invalid("what should change?", "add --min-count and --max-count, or --disable-cluster-autoscaler")
		}
		ap.Properties.EnableAutoScaling = ptr(true)
		ap.Properties.MinCount = ptr(int32(op.Autoscaler.Min))
		ap.Properties.MaxCount = ptr(int32(op.Autoscaler.Max))
	}
	return c.putPool(ctx, op, pool, ap)
}

// beginPoolUpgrade upgrades the pool ap (read by beginPoolChange). A node image upgrade POSTs
// upgradeNodeImageVersion with no condition (the ETag check is the GET's); a Kubernetes
// upgrade sets the version in ap and PUTs it back with If-Match (putPool).
func (c *Client) beginPoolUpgrade(ctx context.Context, op aks.Operation, pool string, ap armcontainerservice.AgentPool) (aks.CloudOperation, error) {
	if op.NodeImageOnly {
		t := op.Target
		p, err := c.pools.BeginUpgradeNodeImageVersion(ctx, t.ResourceGroup, t.Cluster, pool, nil)
		return started(c, p, err, op.Describe())
	}
	ap.Properties.OrchestratorVersion = ptr(op.KubernetesVersion)
	return c.putPool(ctx, op, pool, ap)
}

// beginPoolDelete sends the DELETE of the pool with If-Match on the ETag that beginPoolChange's
// GET returned.
func (c *Client) beginPoolDelete(ctx context.Context, op aks.Operation, pool string, ap armcontainerservice.AgentPool) (aks.CloudOperation, error) {
	t := op.Target
	p, err := c.pools.BeginDelete(ctx, t.ResourceGroup, t.Cluster, pool, &armcontainerservice.AgentPoolsClientBeginDeleteOptions{IfMatch: ap.Properties.ETag})
	return started(c, p, err, op.Describe())
}

// Resume rebuilds the operation from a resume token without sending anything. The token must
// come from the same kind of operation: the SDK checks it per method.
func (c *Client) Resume(ctx context.Context, op aks.Operation, token string) (aks.CloudOperation, error) {
	if token == "" {
		return nil, invalid("no resume token", "")
	}
	t := op.Target
	rg, name, pool := t.ResourceGroup, t.Cluster, t.Pool
	what := op.Describe() + " (resumed)"
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterUpgrade:
		p, err := c.clusters.BeginCreateOrUpdate(ctx, rg, name, armcontainerservice.ManagedCluster{},
			&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterDelete:
		p, err := c.clusters.BeginDelete(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginDeleteOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterStart:
		p, err := c.clusters.BeginStart(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginStartOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterStop:
		p, err := c.clusters.BeginStop(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginStopOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpPoolUpgrade:
		if op.NodeImageOnly {
			p, err := c.pools.BeginUpgradeNodeImageVersion(ctx, rg, name, pool, &armcontainerservice.AgentPoolsClientBeginUpgradeNodeImageVersionOptions{ResumeToken: token})
			return resumed(c, p, err, what, token)
		}
		fallthrough
	case aks.OpPoolAdd, aks.OpPoolScale, aks.OpPoolAutoscale:
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, pool, armcontainerservice.AgentPool{},
			&armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpPoolDelete:
		p, err := c.pools.BeginDelete(ctx, rg, name, pool, &armcontainerservice.AgentPoolsClientBeginDeleteOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	}
	return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
}

// poolOf is the pool an operation acts on: the one the plan resolved for `/aks scale`.
func poolOf(op aks.Operation, plan aks.Plan) string {
	if op.Target.Pool != "" {
		return op.Target.Pool
	}
	return plan.Pool
}

func planChange(plan aks.Plan, what string) string {
	for _, ch := range plan.Changes {
		if ch.What == what {
			return ch.To
		}
	}
	return ""
}

// freshCluster GETs the cluster and checks that it is the one the plan was made from.
// A cluster that changed but already is as op wants it gives errAlreadyApplied.
func (c *Client) freshCluster(ctx context.Context, op aks.Operation, plan aks.Plan) (armcontainerservice.ManagedCluster, error) {
	t := op.Target
	mc, err := c.getCluster(ctx, t.ResourceGroup, t.Cluster)
	if err != nil {
		return mc, err
	}
	if err := stale(plan.ETag, str(mc.ETag), "cluster "+clusterName(t)); err != nil {
		if clusterApplied(op, mc) {
			return mc, errAlreadyApplied
		}
		return mc, err
	}
	return mc, nil
}

// freshPool GETs the pool and checks that it is the one the plan was made from.
// A pool that changed but already is as op wants it gives errAlreadyApplied.
func (c *Client) freshPool(ctx context.Context, op aks.Operation, pool string, plan aks.Plan) (armcontainerservice.AgentPool, error) {
	t := op.Target
	if pool == "" {
		return armcontainerservice.AgentPool{}, invalid("which pool?", "add --nodepool-name")
	}
	ap, err := c.getPool(ctx, t.ResourceGroup, t.Cluster, pool)
	if err != nil {
		return ap, err
	}
	if ap.Properties == nil {
		ap.Properties = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	if err := stale(plan.ETag, str(ap.Properties.ETag), fmt.Sprintf("pool %s of %s", pool, clusterName(t))); err != nil {
		if poolApplied(op, ap) {
			return ap, errAlreadyApplied
		}
		return ap, err
	}
	return ap, nil
}

func stale(planned, now, what string) error {
	if planned == "" || now == "" || planned == now {
		return nil
	}
	return &aks.Error{Code: aks.EConflict, Message: what + " changed since the plan was made",
		Hint: "ask again to get a plan from its current state"}
}

// newCluster is the body of a create: the minimum AKS needs plus what the user asked for.
func newCluster(op aks.Operation, s createSpec) armcontainerservice.ManagedCluster {
	profile := &armcontainerservice.ManagedClusterAgentPoolProfile{
		Name:   ptr(DefaultPoolName),
		Count:  ptr(int32(s.count)),
		VMSize: ptr(s.vmSize),
		OSType: ptr(armcontainerservice.OSTypeLinux),
		Mode:   ptr(armcontainerservice.AgentPoolModeSystem),
		Type:   ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
	}
	if a := s.autoscaler; a != nil {
		profile.EnableAutoScaling = ptr(true)
		profile.MinCount = ptr(int32(a.Min))
		profile.MaxCount = ptr(int32(a.Max))
	}
	for _, z := range op.Zones {
		profile.AvailabilityZones = append(profile.AvailabilityZones, ptr(z))
	}
	return armcontainerservice.ManagedCluster{
		Location: ptr(op.Location),
		Tags:     armTags(op.Tags),
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix:         ptr(dnsPrefix(op.Target.Cluster)),
			KubernetesVersion: ptr(s.version),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{profile},
		},
	}
}

// newPool is the body of a nodepool add.
func newPool(op aks.Operation, s poolAddSpec) armcontainerservice.AgentPool {
	props := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Count:  ptr(int32(s.count)),
		VMSize: ptr(s.vmSize),
		OSType: ptr(armcontainerservice.OSType(canonical(s.osType, "Linux", "Windows"))),
		Mode:   ptr(armcontainerservice.AgentPoolMode(canonical(s.mode, modeSystem, modeUser))),
		Type:   ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
	}
	if a := op.Autoscaler; a != nil {
		props.EnableAutoScaling = ptr(true)
		props.MinCount = ptr(int32(a.Min))
		props.MaxCount = ptr(int32(a.Max))
	}
	for _, z := range op.Zones {
		props.AvailabilityZones = append(props.AvailabilityZones, ptr(z))
	}
	props.NodeLabels = armTags(op.Labels)
	for _, taint := range op.Taints {
		props.NodeTaints = append(props.NodeTaints, ptr(taint))
	}
	return armcontainerservice.AgentPool{Properties: props}
}

// canonical returns the known spelling of s (case-insensitive), or s itself.
func canonical(s string, known ...string) string {
	for _, k := range known {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return s
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsPrefix derives a DNS prefix from a cluster name: AKS wants 1-54 letters, digits and
// hyphens, starting with a letter and ending with a letter or digit.
func dnsPrefix(name string) string {
	p := notDNS.ReplaceAllString(strings.ToLower(name), "-")
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = "a" + p
	}
	if len(p) > 54 {
		p = p[:54]
	}
	p = strings.TrimRight(p, "-")
	if p == "" {
		p = "aks"
	}
	return p
}
