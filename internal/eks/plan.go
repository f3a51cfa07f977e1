package eks

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// EKS's defaults for a new node group's scaling config (CreateNodegroup without one).
const (
	defaultMin     = 1
	defaultDesired = 2
	defaultMax     = 2
)

// Plan reads the cluster and its node groups and returns what op will do in plain words
// ("ng-web: 2 -> 5 nodes, min 1, max 10"), after checking that it is possible now: sizes within
// min..max and max at least 1, names valid, the node group exists (or not, for create), the
// version an upgrade within what the control plane runs. Errors are *aks.Error for users.
// The plan is the domain's, so policy and approvals read it as they read an AKS plan: Pool is
// the node group, Location the region, VMSize the instance types.
func (c *Client) Plan(ctx context.Context, op NodegroupOp) (aks.Plan, error) {
	if err := op.check(); err != nil {
		return aks.Plan{}, err
	}
	cl, err := c.DescribeCluster(ctx, op.Region, op.Cluster)
	if err != nil {
		return aks.Plan{}, err
	}
	var ng *Nodegroup
	for i := range cl.Nodegroups {
		if cl.Nodegroups[i].Name == op.Nodegroup {
			ng = &cl.Nodegroups[i]
		}
	}
	return planFor(op, cl, ng)
}

// planFor works out the plan from the state read. ng is nil when the node group does not exist.
func planFor(op NodegroupOp, cl Cluster, ng *Nodegroup) (aks.Plan, error) {
	if err := op.check(); err != nil {
		return aks.Plan{}, err
	}
	where := fmt.Sprintf("cluster %s (%s)", cl.Name, cl.Region)
	if ng == nil && op.Kind != OpCreate {
		return aks.Plan{}, &aks.Error{Code: aks.ENotFound,
			Message: fmt.Sprintf("there is no node group %s in %s", op.Nodegroup, where),
			Hint:    fmt.Sprintf("see /eks nodegroup list %s", cl.Name)}
	}
	others := 0 // desired nodes of the cluster's other node groups
	for _, g := range cl.Nodegroups {
		if g.Name != op.Nodegroup {
			others += int(g.Desired)
		}
	}
	p := aks.Plan{Pool: op.Nodegroup, Location: cl.Region, FromNodes: -1, ToNodes: -1, ClusterNodes: -1}
	if ng != nil {
		p.VMSize = strings.Join(ng.InstanceTypes, ",")
		switch ng.Status {
		case "DELETING":
			return aks.Plan{}, invalid(fmt.Sprintf("node group %s is being deleted", ng.Name), "")
		case "CREATE_FAILED", "DELETE_FAILED":
			if op.Kind != OpDelete {
				return aks.Plan{}, invalid(fmt.Sprintf("node group %s is %s: only deleting it is possible", ng.Name, ng.Status),
					fmt.Sprintf("see /eks nodegroup describe %s %s", cl.Name, ng.Name))
			}
		}
	}

	switch op.Kind {
	case OpScale:
		minSize, desired, maxSize := pick(op.MinSize, ng.Min), pick(op.DesiredSize, ng.Desired), pick(op.MaxSize, ng.Max)
		if err := checkSizes(ng.Name, minSize, desired, maxSize); err != nil {
			return aks.Plan{}, err
		}
		if minSize == ng.Min && desired == ng.Desired && maxSize == ng.Max {
			return aks.Plan{}, invalid(fmt.Sprintf("node group %s already has %d nodes (min %d, max %d)", ng.Name, desired, minSize, maxSize), "nothing to do")
		}
		p.Summary = fmt.Sprintf("%s: %d -> %d nodes, %s, %s", ng.Name, ng.Desired, desired,
			fromTo("min", ng.Min, minSize), fromTo("max", ng.Max, maxSize))
		p.Changes = sizeChanges(ng.Name, ng.Min, ng.Desired, ng.Max, minSize, desired, maxSize)
		p.ScaleUp = desired > ng.Desired || maxSize > ng.Max
		p.FromNodes, p.ToNodes = int(ng.Desired), int(desired)
		p.ClusterNodes = others + int(desired)

	case OpCreate:
		if ng != nil {
			return aks.Plan{}, &aks.Error{Code: aks.EConflict,
				Message: fmt.Sprintf("node group %s exists already in %s (%s)", ng.Name, where, ng.Status),
				Hint:    "pick another name, or scale the existing one"}
		}
		minSize, desired, maxSize := pick(op.MinSize, defaultMin), pick(op.DesiredSize, defaultDesired), pick(op.MaxSize, defaultMax)
		if err := checkSizes(op.Nodegroup, minSize, desired, maxSize); err != nil {
			return aks.Plan{}, err
		}
		version := op.KubernetesVersion
		if version == "" {
			version = cl.Version
		}
		if minorOf(version) > minorOf(cl.Version) {
			return aks.Plan{}, invalid(fmt.Sprintf("Kubernetes %s is newer than the control plane of %s (%s)", version, cl.Name, cl.Version),
				"node groups run the control plane's version or an older one")
		}
		types := op.InstanceTypes
		if len(types) == 0 {
			types = []string{"t3.medium"} // EKS's default for the default AMI
		}
		capacity := op.CapacityType
		if capacity == "" {
			capacity = "ON_DEMAND"
		}
		p.VMSize = strings.Join(types, ",")
		p.Summary = fmt.Sprintf("%s: new node group, %d nodes (min %d, max %d) of %s, %s, Kubernetes %s",
			op.Nodegroup, desired, minSize, maxSize, p.VMSize, capacity, version)
		p.Changes = sizeChanges(op.Nodegroup, -1, -1, -1, minSize, desired, maxSize)
		p.ScaleUp = true
		p.FromNodes, p.ToNodes = 0, int(desired)
		p.ClusterNodes = others + int(desired)

	case OpUpgrade:
		version := op.KubernetesVersion
		if version == "" {
			version = cl.Version
		}
		if minorOf(version) > minorOf(cl.Version) {
			return aks.Plan{}, invalid(fmt.Sprintf("Kubernetes %s is newer than the control plane of %s (%s)", version, cl.Name, cl.Version),
				"upgrade the control plane first; node groups follow it")
		}
		if minorOf(version) < minorOf(ng.Version) {
			return aks.Plan{}, invalid(fmt.Sprintf("node group %s runs Kubernetes %s: going back to %s is not possible", ng.Name, ng.Version, version), "")
		}
		if op.ReleaseVersion != "" && !strings.HasPrefix(op.ReleaseVersion, version+".") {
			return aks.Plan{}, invalid(fmt.Sprintf("AMI release %s is not a release of Kubernetes %s", op.ReleaseVersion, version),
				"give --kubernetes-version with the release's version")
		}
		release := op.ReleaseVersion
		if release == "" {
			release = latestRelease
		}
		if version == ng.Version && release == ng.ReleaseVersion {
			return aks.Plan{}, invalid(fmt.Sprintf("node group %s already runs %s (AMI release %s)", ng.Name, version, release), "nothing to do")
		}
		if version != ng.Version {
			p.Changes = append(p.Changes, aks.Change{What: ng.Name + " Kubernetes version", From: ng.Version, To: version})
		}
		p.Changes = append(p.Changes, aks.Change{What: ng.Name + " AMI release", From: ng.ReleaseVersion, To: release})
		if version != ng.Version {
			p.Summary = fmt.Sprintf("%s: Kubernetes %s -> %s, AMI release %s -> %s", ng.Name, ng.Version, version, ng.ReleaseVersion, release)
		} else {
			p.Summary = fmt.Sprintf("%s: AMI release %s -> %s (Kubernetes %s)", ng.Name, ng.ReleaseVersion, release, version)
		}
		p.FromNodes, p.ToNodes = int(ng.Desired), int(ng.Desired)
		p.ClusterNodes = others + int(ng.Desired)

	case OpDelete:
		p.Summary = fmt.Sprintf("%s: delete the node group and its %d %s", ng.Name, ng.Desired, plural(int(ng.Desired), "node", "nodes"))
		p.Changes = []aks.Change{{What: ng.Name + " nodes", From: strconv.Itoa(int(ng.Desired))}}
		p.FromNodes, p.ToNodes = int(ng.Desired), 0
		p.ClusterNodes = others
	}
	return p, nil
}

// latestRelease stands for "the newest AMI release of the version" in plans: EKS picks it when
// the release is not given, and the bot does not know it beforehand.
const latestRelease = "latest"

func checkSizes(name string, minSize, desired, maxSize int32) error {
	hint := "EKS needs min <= desired <= max and max at least 1"
	switch {
	case maxSize < 1:
		return invalid(fmt.Sprintf("node group %s: the max size must be at least 1", name), hint)
	case minSize > maxSize:
		return invalid(fmt.Sprintf("node group %s: min size %d is above max size %d", name, minSize, maxSize), hint)
	case desired < minSize:
		return invalid(fmt.Sprintf("node group %s: %d nodes is below the min size %d", name, desired, minSize), "lower --min-size as well")
	case desired > maxSize:
		return invalid(fmt.Sprintf("node group %s: %d nodes is above the max size %d", name, desired, maxSize), "raise --max-size as well")
	}
	return nil
}

func sizeChanges(name string, fromMin, fromDesired, fromMax, minSize, desired, maxSize int32) []aks.Change {
	str := func(n int32) string {
		if n < 0 {
			return ""
		}
		return strconv.Itoa(int(n))
	}
	var out []aks.Change
	if fromDesired != desired {
		out = append(out, aks.Change{What: name + " nodes", From: str(fromDesired), To: str(desired)})
	}
	if fromMin != minSize {
		out = append(out, aks.Change{What: name + " min size", From: str(fromMin), To: str(minSize)})
	}
	if fromMax != maxSize {
		out = append(out, aks.Change{What: name + " max size", From: str(fromMax), To: str(maxSize)})
	}
	return out
}

func fromTo(what string, from, to int32) string {
	if from == to {
		return fmt.Sprintf("%s %d", what, to)
	}
	return fmt.Sprintf("%s %d -> %d", what, from, to)
}

func pick(v *int32, def int32) int32 {
	if v != nil {
		return *v
	}
	return def
}

// minorOf is the minor number of "1.31" (or of a release "1.31.7-2025..."); -1 if unreadable.
func minorOf(v string) int {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return -1
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return -1
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
