package commands

import (
	"fmt"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// The build functions turn scanned input into a Command, or return what is wrong in a few
// words. Parse adds the usage and fills Kind and the Operation's target.

func buildList(in *input) (Command, string) {
	rg, msg := resourceGroup(in)
	return Command{ResourceGroup: rg}, msg
}

// clusterCommand builds the read-only commands on one cluster, and starts the others.
func clusterCommand(in *input) (Command, string) {
	rg, msg := resourceGroup(in)
	if msg != "" {
		return Command{}, msg
	}
	cluster := in.slots[slotCluster]
	if msg := checkCluster(cluster); msg != "" {
		return Command{}, msg
	}
	return Command{ResourceGroup: rg, Cluster: cluster}, ""
}

// poolCommand is clusterCommand plus the POOL slot, validated.
func poolCommand(in *input) (Command, string, string) {
	c, msg := clusterCommand(in)
	if msg != "" {
		return c, "", msg
	}
	pool := in.slots[slotPool]
	if msg := checkPool(pool, ""); msg != "" {
		return c, "", msg
	}
	return c, pool, ""
}

// clusterOp builds delete, start and stop, which take nothing but the cluster.
func clusterOp(kind aks.OpKind) func(*input) (Command, string) {
	return func(in *input) (Command, string) {
		c, msg := clusterCommand(in)
		if msg != "" {
			return c, msg
		}
		c.Op = &aks.Operation{Kind: kind}
		return c, ""
	}
}

func buildGetVersions(in *input) (Command, string) {
	loc, msg := location(in)
	return Command{Location: loc}, msg
}

func buildCreate(in *input) (Command, string) {
	c, msg := clusterCommand(in)
	if msg != "" {
		return c, msg
	}
	op := &aks.Operation{Kind: aks.OpClusterCreate}
	if c.Location, msg = location(in); msg != "" {
		return c, msg
	}
	// The pool a create makes is the cluster's System pool: at least one node.
	if op.NodeCount, msg = count(in, fNodeCount, 1); msg != "" {
		return c, msg
	}
	if op.VMSize, msg = vmSize(in); msg != "" {
		return c, msg
	}
	if in.has(fK8sVersion) {
		if op.KubernetesVersion, msg = k8sVersion(in); msg != "" {
			return c, msg
		}
	}
	if op.Autoscaler, msg = autoscaler(in, in.has(fEnableAS), fEnableAS, 1, op.NodeCount); msg != "" {
		return c, msg
	}
	if op.Zones, msg = zones(in); msg != "" {
		return c, msg
	}
	if op.Tags, msg = tags(in); msg != "" {
		return c, msg
	}
	c.Op = op
	return c, ""
}

func buildScale(in *input) (Command, string) {
	c, msg := clusterCommand(in)
	if msg != "" {
		return c, msg
	}
	// Pool is optional here: the cloud layer picks the cluster's only pool.
	pool, named := in.slots[slotPool]
	if named {
		if msg := checkPool(pool, ""); msg != "" {
			return c, msg
		}
	}
	c.Op, msg = scaleOp(in, pool)
	return c, msg
}

// scaleOp builds the scale of pool to --node-count, which must be given. The pool's mode is
// not known here: 0 is allowed and the cloud layer refuses it for a System pool.
func scaleOp(in *input, pool string) (*aks.Operation, string) {
	if !in.has(fNodeCount) {
		return nil, "missing --node-count"
	}
	n, msg := count(in, fNodeCount, 0)
	if msg != "" {
		return nil, msg
	}
	return &aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{Pool: pool}, NodeCount: n}, ""
}

func buildUpgrade(in *input) (Command, string) {
	c, msg := clusterCommand(in)
	if msg != "" {
		return c, msg
	}
	if !in.has(fK8sVersion) {
		return c, "missing --kubernetes-version"
	}
	v, msg := k8sVersion(in)
	if msg != "" {
		return c, msg
	}
	c.Op = &aks.Operation{Kind: aks.OpClusterUpgrade, KubernetesVersion: v, ControlPlaneOnly: in.has(fControlPlane)}
	return c, ""
}

func buildPoolAdd(in *input) (Command, string) {
	c, pool, msg := poolCommand(in)
	if msg != "" {
		return c, msg
	}
	op := &aks.Operation{Kind: aks.OpPoolAdd, Target: aks.Target{Pool: pool}}
	if in.has(fMode) {
		if op.Mode, msg = oneOf(in, fMode, "User", "System"); msg != "" {
			return c, msg
		}
	}
	if in.has(fOSType) {
		if op.OSType, msg = oneOf(in, fOSType, "Linux", "Windows"); msg != "" {
			return c, msg
		}
	}
	if op.OSType == "Windows" {
		if msg := checkPool(pool, "Windows"); msg != "" {
			return c, msg
		}
		if op.Mode == "System" {
			return c, "a System pool must run Linux, not Windows"
		}
	}
	minNodes := 0
	if op.Mode == "System" {
		minNodes = 1
	}
	if op.NodeCount, msg = count(in, fNodeCount, minNodes); msg != "" {
		return c, msg
	}
	if op.VMSize, msg = vmSize(in); msg != "" {
		return c, msg
	}
	if op.Autoscaler, msg = autoscaler(in, in.has(fEnableAS), fEnableAS, minNodes, op.NodeCount); msg != "" {
		return c, msg
	}
	if op.Labels, msg = labels(in); msg != "" {
		return c, msg
	}
	if op.Taints, msg = taints(in); msg != "" {
		return c, msg
	}
	if op.Zones, msg = zones(in); msg != "" {
		return c, msg
	}
	c.Op = op
	return c, ""
}

func buildPoolScale(in *input) (Command, string) {
	c, pool, msg := poolCommand(in)
	if msg != "" {
		return c, msg
	}
	c.Op, msg = scaleOp(in, pool)
	return c, msg
}

func buildPoolUpdate(in *input) (Command, string) {
	c, pool, msg := poolCommand(in)
	if msg != "" {
		return c, msg
	}
	var given []string
	for _, f := range []string{fEnableAS, fUpdateAS, fDisableAS} {
		if in.has(f) {
			given = append(given, in.used[f])
		}
	}
	switch len(given) {
	case 0:
		return c, "nodepool update needs one of " + fEnableAS + ", " + fUpdateAS + " or " + fDisableAS
	case 1:
	default:
		return c, "give only one of " + strings.Join(given, " and ")
	}
	op := &aks.Operation{Kind: aks.OpPoolAutoscale, Target: aks.Target{Pool: pool}}
	if in.has(fDisableAS) {
		for _, f := range []string{fMinCount, fMaxCount} {
			if in.has(f) {
				return c, in.used[f] + " cannot be used with " + fDisableAS
			}
		}
		op.DisableAutoscaler = true
	} else {
		enabler := fEnableAS
		if in.has(fUpdateAS) {
			enabler = fUpdateAS
		}
		// The pool's mode is not known here: min 0 is allowed and the cloud layer checks System pools.
		if op.Autoscaler, msg = autoscaler(in, true, enabler, 0, nil); msg != "" {
			return c, msg
		}
	}
	c.Op = op
	return c, ""
}

func buildPoolDelete(in *input) (Command, string) {
	c, pool, msg := poolCommand(in)
	if msg != "" {
		return c, msg
	}
	c.Op = &aks.Operation{Kind: aks.OpPoolDelete, Target: aks.Target{Pool: pool}}
	return c, ""
}

func buildPoolUpgrade(in *input) (Command, string) {
	c, pool, msg := poolCommand(in)
	if msg != "" {
		return c, msg
	}
	hasVersion, imageOnly := in.has(fK8sVersion), in.has(fNodeImage)
	switch {
	case hasVersion && imageOnly:
		return c, "give only one of " + in.used[fK8sVersion] + " and " + fNodeImage
	case !hasVersion && !imageOnly:
		return c, "nodepool upgrade needs " + fK8sVersion + " V or " + fNodeImage
	}
	op := &aks.Operation{Kind: aks.OpPoolUpgrade, Target: aks.Target{Pool: pool}, NodeImageOnly: imageOnly}
	if hasVersion {
		if op.KubernetesVersion, msg = k8sVersion(in); msg != "" {
			return c, msg
		}
	}
	c.Op = op
	return c, ""
}

func buildJobs(in *input) (Command, string) {
	return Command{All: in.has(fAll)}, ""
}

// buildNothing builds the commands that take no arguments and no flags.
func buildNothing(*input) (Command, string) {
	return Command{}, ""
}

// buildOptionalCluster builds policy: a cluster when one is named, the defaults when not.
func buildOptionalCluster(in *input) (Command, string) {
	if _, named := in.slots[slotCluster]; named {
		return clusterCommand(in)
	}
	rg, msg := resourceGroup(in)
	return Command{ResourceGroup: rg}, msg
}

// withSince builds audit: what build makes of the cluster part, and --since.
func withSince(build func(*input) (Command, string)) func(*input) (Command, string) {
	return func(in *input) (Command, string) {
		c, msg := build(in)
		if msg != "" {
			return c, msg
		}
		c.Since, msg = since(in)
		return c, msg
	}
}

func buildAbort(in *input) (Command, string) {
	c, msg := clusterCommand(in)
	if msg != "" {
		return c, msg
	}
	if pool, named := in.slots[slotPool]; named {
		if msg := checkPool(pool, ""); msg != "" {
			return c, msg
		}
		c.Pool = pool
	}
	return c, ""
}

func buildJobID(in *input) (Command, string) {
	id, msg := jobID(in.slots[slotID])
	return Command{JobID: id}, msg
}

// autoscaler reads --min-count and --max-count when enabled (by the flag named enabler), and
// refuses them when not. minNodes is the lowest allowed minimum; nodes, when given, must lie
// within the limits.
func autoscaler(in *input, enabled bool, enabler string, minNodes int, nodes *int) (*aks.Autoscaler, string) {
	if !enabled {
		for _, f := range []string{fMinCount, fMaxCount} {
			if in.has(f) {
				return nil, f + " needs " + fEnableAS
			}
		}
		return nil, ""
	}
	hasMin, hasMax := in.has(fMinCount), in.has(fMaxCount)
	switch {
	case !hasMin && !hasMax:
		return nil, enabler + " needs " + fMinCount + " and " + fMaxCount
	case !hasMin:
		return nil, enabler + " needs " + fMinCount + " too"
	case !hasMax:
		return nil, enabler + " needs " + fMaxCount + " too"
	}
	lo, msg := count(in, fMinCount, minNodes)
	if msg != "" {
		return nil, msg
	}
	hi, msg := count(in, fMaxCount, minNodes)
	if msg != "" {
		return nil, msg
	}
	if *lo > *hi {
		return nil, fmt.Sprintf("%s %d is more than %s %d", fMinCount, *lo, fMaxCount, *hi)
	}
	if nodes != nil && (*nodes < *lo || *nodes > *hi) {
		return nil, fmt.Sprintf("%s %d is outside the autoscaler's limits %d-%d", fNodeCount, *nodes, *lo, *hi)
	}
	return &aks.Autoscaler{Min: *lo, Max: *hi}, ""
}
