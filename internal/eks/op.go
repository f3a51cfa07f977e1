package eks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// OpKind names a node-group operation: the domain's eks.nodegroup.* kinds, which jobs, policy
// files and the audit trail store.
type OpKind = aks.OpKind

const (
	OpScale   = aks.OpNodegroupScale   // update-nodegroup-config --scaling-config
	OpCreate  = aks.OpNodegroupCreate  // create-nodegroup
	OpUpgrade = aks.OpNodegroupUpgrade // update-nodegroup-version
	OpDelete  = aks.OpNodegroupDelete  // delete-nodegroup
)

// OpKinds lists the kinds in the order help shows them.
var OpKinds = []OpKind{OpCreate, OpScale, OpUpgrade, OpDelete}

// Target names a node group (or, with Nodegroup empty, a cluster) in a region.
type Target struct {
	Region    string `json:"region"`
	Cluster   string `json:"cluster"`
	Nodegroup string `json:"nodegroup,omitempty"`
}

func (t Target) String() string {
	s := t.Region + "/" + t.Cluster
	if t.Nodegroup != "" {
		s += "/" + t.Nodegroup
	}
	return s
}

// Taint is a Kubernetes taint as EKS takes it: Effect is NO_SCHEDULE, NO_EXECUTE or
// PREFER_NO_SCHEDULE.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

func (t Taint) String() string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

// ParseTaint reads "key=value:Effect" (or "key:Effect"), with the effect in EKS's spelling
// (NO_SCHEDULE) or Kubernetes' (NoSchedule).
func ParseTaint(s string) (Taint, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	kv, effect := s[:i], s[i+1:]
	switch strings.ToUpper(strings.ReplaceAll(effect, "_", "")) {
	case "NOSCHEDULE":
		effect = "NO_SCHEDULE"
	case "NOEXECUTE":
		effect = "NO_EXECUTE"
	case "PREFERNOSCHEDULE":
		effect = "PREFER_NO_SCHEDULE"
	default:
		return Taint{}, fmt.Errorf("taint %q: effect must be NoSchedule, NoExecute or PreferNoSchedule", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	if !labelKey.MatchString(key) {
		return Taint{}, fmt.Errorf("taint %q: %q is not a valid key", s, key)
	}
	return Taint{Key: key, Value: value, Effect: effect}, nil
}

// NodegroupOp is one node-group operation, as a command asks for it. Fields that do not apply
// to Kind are zero; sizes are pointers where "not given" differs from zero.
type NodegroupOp struct {
	Kind      OpKind `json:"kind"`
	Region    string `json:"region,omitempty"` // "" = the client's default region
	Cluster   string `json:"cluster"`
	Nodegroup string `json:"nodegroup"`

	DesiredSize *int32 `json:"desiredSize,omitempty"` // scale, create
	MinSize     *int32 `json:"minSize,omitempty"`     // scale, create
	MaxSize     *int32 `json:"maxSize,omitempty"`     // scale, create

	KubernetesVersion string `json:"kubernetesVersion,omitempty"` // upgrade ("" = the cluster's), create
	ReleaseVersion    string `json:"releaseVersion,omitempty"`    // upgrade, create: the AMI release
	Force             bool   `json:"force,omitempty"`             // upgrade: ignore pod disruption budgets

	NodeRole      string            `json:"nodeRole,omitempty"`      // create: IAM role ARN
	Subnets       []string          `json:"subnets,omitempty"`       // create
	InstanceTypes []string          `json:"instanceTypes,omitempty"` // create
	CapacityType  string            `json:"capacityType,omitempty"`  // create: ON_DEMAND|SPOT|CAPACITY_BLOCK
	AMIType       string            `json:"amiType,omitempty"`       // create
	Labels        map[string]string `json:"labels,omitempty"`        // create
	Taints        []Taint           `json:"taints,omitempty"`        // create
}

// Target returns where the operation acts.
func (op NodegroupOp) Target() Target {
	return Target{Region: op.Region, Cluster: op.Cluster, Nodegroup: op.Nodegroup}
}

// Describe says in plain words what op asks for, without the current state.
func (op NodegroupOp) Describe() string {
	where := op.Cluster
	if op.Region != "" {
		where += " (" + op.Region + ")"
	}
	switch op.Kind {
	case OpScale:
		var parts []string
		if op.DesiredSize != nil {
			parts = append(parts, fmt.Sprintf("%d nodes", *op.DesiredSize))
		}
		if op.MinSize != nil {
			parts = append(parts, fmt.Sprintf("min %d", *op.MinSize))
		}
		if op.MaxSize != nil {
			parts = append(parts, fmt.Sprintf("max %d", *op.MaxSize))
		}
		return fmt.Sprintf("scale node group %s of %s to %s", op.Nodegroup, where, strings.Join(parts, ", "))
	case OpCreate:
		s := fmt.Sprintf("create node group %s in %s", op.Nodegroup, where)
		if op.DesiredSize != nil {
			s += fmt.Sprintf(" with %d nodes", *op.DesiredSize)
		}
		return s
	case OpUpgrade:
		switch {
		case op.ReleaseVersion != "":
			return fmt.Sprintf("upgrade node group %s of %s to AMI release %s", op.Nodegroup, where, op.ReleaseVersion)
		case op.KubernetesVersion != "":
			return fmt.Sprintf("upgrade node group %s of %s to Kubernetes %s", op.Nodegroup, where, op.KubernetesVersion)
		}
		return fmt.Sprintf("upgrade node group %s of %s to the cluster's version and latest AMI", op.Nodegroup, where)
	case OpDelete:
		return fmt.Sprintf("delete node group %s of %s", op.Nodegroup, where)
	}
	return fmt.Sprintf("%s %s/%s", op.Kind, where, op.Nodegroup)
}

// Kubernetes label keys and values (names and IDs are checked with the domain's rules).
var (
	labelKey   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

func validRegion(r string) bool { return aks.ValidAWSRegion(r) }

// check validates op on its own, before EKS is read: names, sizes given, fields that belong to
// the kind. Errors are *aks.Error (EInvalid) for users.
func (op NodegroupOp) check() error {
	switch op.Kind {
	case OpScale, OpCreate, OpUpgrade, OpDelete:
	default:
		return invalid(fmt.Sprintf("unknown EKS operation %q", op.Kind), "")
	}
	if op.Region != "" && !validRegion(op.Region) {
		return invalid(fmt.Sprintf("%q is not an AWS region", op.Region), "regions look like eu-west-1")
	}
	if !aks.ValidEKSClusterName(op.Cluster) {
		return invalid(fmt.Sprintf("%q is not a valid EKS cluster name", op.Cluster),
			"names start with a letter or digit and have up to 100 letters, digits, - and _")
	}
	if !aks.ValidNodegroupName(op.Nodegroup) {
		return invalid(fmt.Sprintf("%q is not a valid node group name", op.Nodegroup),
			"names start with a letter or digit and have up to 63 letters, digits, - and _")
	}
	for _, p := range []struct {
		name string
		v    *int32
	}{{"desired size", op.DesiredSize}, {"min size", op.MinSize}, {"max size", op.MaxSize}} {
		if p.v != nil && *p.v < 0 {
			return invalid(fmt.Sprintf("the %s cannot be negative", p.name), "")
		}
	}
	if op.KubernetesVersion != "" && !aks.ValidEKSVersion(op.KubernetesVersion) {
		return invalid(fmt.Sprintf("%q is not a Kubernetes version", op.KubernetesVersion), "versions look like 1.31")
	}
	if op.ReleaseVersion != "" && op.KubernetesVersion != "" && !strings.HasPrefix(op.ReleaseVersion, op.KubernetesVersion+".") {
		return invalid(fmt.Sprintf("AMI release %s is not a release of Kubernetes %s", op.ReleaseVersion, op.KubernetesVersion),
			"give the release alone, or one that starts with the version (1.31.7-20250620)")
	}
	switch op.Kind {
	case OpScale:
		if op.DesiredSize == nil && op.MinSize == nil && op.MaxSize == nil {
			return invalid("say the new size", "give --desired-size, --min-size or --max-size (eksctl: --nodes, --nodes-min, --nodes-max)")
		}
	case OpCreate:
		if !aks.ValidRoleARN(op.NodeRole) {
			return invalid("a node group needs a node IAM role ARN", "give --node-role arn:aws:iam::ACCOUNT:role/NAME")
		}
		if len(op.Subnets) == 0 {
			return invalid("a node group needs at least one subnet", "give --subnets subnet-...")
		}
		for _, s := range op.Subnets {
			if !aks.ValidSubnetID(s) {
				return invalid(fmt.Sprintf("%q is not a subnet ID", s), "subnet IDs look like subnet-0a1b2c3d")
			}
		}
		for _, it := range op.InstanceTypes {
			if !aks.ValidInstanceType(it) {
				return invalid(fmt.Sprintf("%q is not an EC2 instance type", it), "instance types look like m6i.large")
			}
		}
		switch op.CapacityType {
		case "", "ON_DEMAND", "SPOT", "CAPACITY_BLOCK":
		default:
			return invalid(fmt.Sprintf("capacity type %q is not ON_DEMAND, SPOT or CAPACITY_BLOCK", op.CapacityType), "")
		}
		for k, v := range op.Labels {
			if !labelKey.MatchString(k) || !labelValue.MatchString(v) {
				return invalid(fmt.Sprintf("label %s=%s is not a valid Kubernetes label", k, v), "")
			}
		}
		for _, t := range op.Taints {
			switch t.Effect {
			case "NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE":
			default:
				return invalid(fmt.Sprintf("taint %s: effect must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE", t.Key), "")
			}
			if !labelKey.MatchString(t.Key) {
				return invalid(fmt.Sprintf("taint key %q is not valid", t.Key), "")
			}
		}
	}
	return nil
}
