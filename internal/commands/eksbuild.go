package commands

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// releaseRe is the form of an AMI release version ("1.31.7-20250620"); names and IDs are checked
// with the domain's rules (aks.ValidEKSClusterName, ...), as internal/eks checks them again
// before a request leaves.
var releaseRe = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}[0-9A-Za-z.-]{0,60}$`)

// maxNodegroupSize guards against typos and overflow. It is far above EKS's default quota of
// 450 nodes per managed node group, which accounts can raise: EKS refuses what a quota does not
// allow, and policy guardrails refuse what the team does not.
const maxNodegroupSize = 10000

// amiTypes are the AMI types CreateNodegroup takes (aws-sdk-go-v2 service/eks v1.105.6,
// types.AMITypes), less CUSTOM, which needs a launch template the bot does not make.
var amiTypes = []string{
	"AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "AL2023_x86_64_NEURON", "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA",
	"AL2_x86_64", "AL2_x86_64_GPU", "AL2_ARM_64",
	"BOTTLEROCKET_ARM_64", "BOTTLEROCKET_x86_64", "BOTTLEROCKET_ARM_64_FIPS", "BOTTLEROCKET_x86_64_FIPS",
	"BOTTLEROCKET_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA", "BOTTLEROCKET_ARM_64_NVIDIA_FIPS", "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
	"WINDOWS_CORE_2019_x86_64", "WINDOWS_FULL_2019_x86_64", "WINDOWS_CORE_2022_x86_64", "WINDOWS_FULL_2022_x86_64",
	"WINDOWS_CORE_2025_x86_64", "WINDOWS_FULL_2025_x86_64",
}

// capacityTypes are those a node group can be created with here: CAPACITY_BLOCK needs a launch
// template too.
var capacityTypes = []string{"ON_DEMAND", "SPOT"}

func checkEKSCluster(name string) string {
	if !aks.ValidEKSClusterName(name) {
		return fmt.Sprintf("invalid cluster name %q: EKS cluster names have 1-100 letters, digits, '-' and '_', starting with a letter or digit", clip(name))
	}
	return ""
}

func checkNodegroup(name string) string {
	if !aks.ValidNodegroupName(name) {
		return fmt.Sprintf("invalid node group name %q: use 1-63 letters, digits, '-' and '_', starting with a letter or digit", clip(name))
	}
	return ""
}

// region reads --region: an AWS region's name, in lower case. Which regions the bot works in
// is for it to check, against its configuration.
func region(in *input) (string, string) {
	if !in.has(fRegion) {
		return "", ""
	}
	raw := in.value(fRegion)
	r := strings.ToLower(raw)
	if !aks.ValidAWSRegion(r) {
		return "", fmt.Sprintf("invalid region %q: use an AWS region such as eu-west-1", clip(raw))
	}
	return r, ""
}

func buildEKSList(in *input) (Command, string) {
	r, msg := region(in)
	return Command{Region: r}, msg
}

// eksCluster builds the commands on one cluster, and starts the node-group ones.
func eksCluster(in *input) (Command, string) {
	r, msg := region(in)
	if msg != "" {
		return Command{}, msg
	}
	cluster := in.slots[slotCluster]
	if msg := checkEKSCluster(cluster); msg != "" {
		return Command{}, msg
	}
	return Command{Region: r, Cluster: cluster}, ""
}

// eksNodegroup is eksCluster plus the NODEGROUP slot, validated.
func eksNodegroup(in *input) (Command, string) {
	c, msg := eksCluster(in)
	if msg != "" {
		return c, msg
	}
	ng := in.slots[slotNodegroup]
	if msg := checkNodegroup(ng); msg != "" {
		return c, msg
	}
	c.Nodegroup = ng
	return c, ""
}

// eksOptionalCluster builds policy and audit: a cluster when one is named, else a region at most.
func eksOptionalCluster(in *input) (Command, string) {
	if _, named := in.slots[slotCluster]; named {
		return eksCluster(in)
	}
	return buildEKSList(in)
}

// nodegroupOp builds delete, which takes nothing but the node group.
func nodegroupOp(kind aks.OpKind) func(*input) (Command, string) {
	return func(in *input) (Command, string) {
		c, msg := eksNodegroup(in)
		if msg != "" {
			return c, msg
		}
		c.Op = &aks.Operation{Kind: kind}
		return c, ""
	}
}

// sizedNodegroup starts scale and create: the node group, and the sizes given.
func sizedNodegroup(in *input) (Command, *aks.NodegroupSpec, string) {
	c, msg := eksNodegroup(in)
	if msg != "" {
		return c, nil, msg
	}
	ng := &aks.NodegroupSpec{}
	return c, ng, sizes(in, c.Nodegroup, ng)
}

func buildNodegroupScale(in *input) (Command, string) {
	c, ng, msg := sizedNodegroup(in)
	if msg != "" {
		return c, msg
	}
	if ng.DesiredSize == nil && ng.MinSize == nil && ng.MaxSize == nil {
		return c, "missing the new size: give " + fDesiredSize + " N, " + fMinSize + " N or " + fMaxSize + " N"
	}
	c.Op = &aks.Operation{Kind: aks.OpNodegroupScale, Nodegroup: ng}
	return c, ""
}

func buildNodegroupUpgrade(in *input) (Command, string) {
	c, msg := eksNodegroup(in)
	if msg != "" {
		return c, msg
	}
	if in.has(fK8sVersion) && in.has(fReleaseVersion) {
		return c, "give only one of " + in.used[fK8sVersion] + " and " + fReleaseVersion +
			" (a release belongs to one version: give the release alone)"
	}
	op := &aks.Operation{Kind: aks.OpNodegroupUpgrade, Nodegroup: &aks.NodegroupSpec{Force: in.has(fForce)}}
	if op.KubernetesVersion, msg = eksVersion(in); msg != "" {
		return c, msg
	}
	if op.Nodegroup.ReleaseVersion, msg = releaseVersion(in, ""); msg != "" {
		return c, msg
	}
	c.Op = op
	return c, ""
}

// releaseVersion reads --release-version, an AMI release; with version, it must be one of
// that Kubernetes version's releases.
func releaseVersion(in *input, version string) (string, string) {
	if !in.has(fReleaseVersion) {
		return "", ""
	}
	v := in.value(fReleaseVersion)
	if !releaseRe.MatchString(v) {
		return "", fmt.Sprintf("invalid AMI release version %q: use one such as 1.31.7-20250620", clip(v))
	}
	if version != "" && !strings.HasPrefix(v, version+".") {
		return "", fmt.Sprintf("AMI release %s is not a release of Kubernetes %s: give the release alone, or one that starts with the version", v, version)
	}
	return v, ""
}

func buildNodegroupCreate(in *input) (Command, string) {
	c, ng, msg := sizedNodegroup(in)
	if msg != "" {
		return c, msg
	}
	// CreateNodegroup takes all three sizes or none (EKS's scaling config rule).
	if given := countSet(ng.DesiredSize, ng.MinSize, ng.MaxSize); given != 0 && given != 3 {
		return c, "give " + fDesiredSize + ", " + fMinSize + " and " + fMaxSize + " together, or none of them (EKS then makes 2 nodes, min 1, max 2)"
	}
	if in.has(fNodeRole) {
		role := in.value(fNodeRole)
		if !aks.ValidRoleARN(role) {
			return c, fmt.Sprintf("invalid node role %q: use an IAM role ARN such as arn:aws:iam::111122223333:role/eks-nodes", clip(role))
		}
		ng.NodeRole = role
	}
	if ng.Subnets, msg = listOf(in, fSubnets, "subnet ID", "subnet IDs look like subnet-0a1b2c3d", aks.ValidSubnetID, false); msg != "" {
		return c, msg
	}
	if ng.InstanceTypes, msg = listOf(in, fInstanceTypes, "instance type", "use EC2 instance types such as m6i.large", aks.ValidInstanceType, true); msg != "" {
		return c, msg
	}
	if strings.EqualFold(strings.ReplaceAll(in.value(fCapacityType), "-", "_"), "CAPACITY_BLOCK") {
		return c, "capacity type CAPACITY_BLOCK needs a launch template with a capacity reservation, which aksbot does not make: use ON_DEMAND or SPOT"
	}
	if ng.CapacityType, msg = enum(in, fCapacityType, capacityTypes); msg != "" {
		return c, msg
	}
	if ng.AMIType, msg = enum(in, fAMIType, amiTypes); msg != "" {
		return c, msg
	}
	op := &aks.Operation{Kind: aks.OpNodegroupCreate, Nodegroup: ng}
	if op.KubernetesVersion, msg = eksVersion(in); msg != "" {
		return c, msg
	}
	if ng.ReleaseVersion, msg = releaseVersion(in, op.KubernetesVersion); msg != "" {
		return c, msg
	}
	// The AWS CLI writes labels and taints comma-separated; neither may hold a comma itself.
	for _, f := range []string{fLabels, fEKSTaints} {
		if in.has(f) {
			if in.vals[f] = splitCommas(in.vals[f]); len(in.vals[f]) == 0 {
				return c, in.used[f] + " needs a value"
			}
		}
	}
	if op.Labels, msg = labels(in); msg != "" {
		return c, msg
	}
	if op.Taints, msg = readTaints(in, fEKSTaints, true); msg != "" {
		return c, msg
	}
	c.Op = op
	return c, ""
}

// eksVersion reads --kubernetes-version as EKS takes it: major.minor.
func eksVersion(in *input) (string, string) {
	if !in.has(fK8sVersion) {
		return "", ""
	}
	v := in.value(fK8sVersion)
	if !aks.ValidEKSVersion(v) {
		return "", fmt.Sprintf("invalid Kubernetes version %q: EKS versions are major.minor, such as 1.31", clip(v))
	}
	return v, ""
}

// sizes reads the node group's sizes from --desired-size, --min-size and --max-size, or from
// --scaling-config, and checks those given as EKS will, in the words of the plan: max at least
// 1, min <= max, desired within them.
func sizes(in *input, name string, ng *aks.NodegroupSpec) string {
	if in.has(fScalingConfig) {
		for _, f := range []string{fDesiredSize, fMinSize, fMaxSize} {
			if in.has(f) {
				return "give the sizes either with " + fScalingConfig + " or with " + in.used[f] + " and the like, not both"
			}
		}
		if msg := scalingConfig(in, ng); msg != "" {
			return msg
		}
	} else {
		for _, f := range []struct {
			flag string
			to   **int
		}{{fDesiredSize, &ng.DesiredSize}, {fMinSize, &ng.MinSize}, {fMaxSize, &ng.MaxSize}} {
			if !in.has(f.flag) {
				continue
			}
			n, msg := size(in.used[f.flag], in.value(f.flag))
			if msg != "" {
				return msg
			}
			*f.to = n
		}
	}
	lo, want, hi := ng.MinSize, ng.DesiredSize, ng.MaxSize
	switch {
	case hi != nil && *hi < 1:
		return fmt.Sprintf("node group %s: the max size must be at least 1", name)
	case lo != nil && hi != nil && *lo > *hi:
		return fmt.Sprintf("node group %s: min size %d is above max size %d", name, *lo, *hi)
	case want != nil && lo != nil && *want < *lo:
		return fmt.Sprintf("node group %s: %d nodes is below the min size %d", name, *want, *lo)
	case want != nil && hi != nil && *want > *hi:
		return fmt.Sprintf("node group %s: %d nodes is above the max size %d", name, *want, *hi)
	}
	return ""
}

// scalingConfig reads the AWS CLI's shorthand "minSize=1,maxSize=10,desiredSize=5"; spaces
// after the commas are forgiven.
func scalingConfig(in *input, ng *aks.NodegroupSpec) string {
	fields := map[string]**int{"minsize": &ng.MinSize, "maxsize": &ng.MaxSize, "desiredsize": &ng.DesiredSize}
	items := splitCommas(in.vals[fScalingConfig])
	if len(items) == 0 {
		return fmt.Sprintf("%s needs a value (minSize=N,maxSize=N,desiredSize=N)", in.used[fScalingConfig])
	}
	for _, item := range items {
		k, v, ok := strings.Cut(item, "=")
		to, known := fields[strings.ToLower(k)]
		switch {
		case !ok || !known:
			return fmt.Sprintf("invalid %s item %q: use minSize=N,maxSize=N,desiredSize=N", in.used[fScalingConfig], clip(item))
		case *to != nil:
			return fmt.Sprintf("%s is given twice in %s", k, in.used[fScalingConfig])
		}
		n, msg := size(k, v)
		if msg != "" {
			return msg
		}
		*to = n
	}
	return ""
}

// size reads one size, named what for messages.
func size(what, raw string) (*int, string) {
	n, err := strconv.Atoi(raw)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Sprintf("%s %s is out of range 0-%d", what, clip(raw), maxNodegroupSize)
		}
		return nil, fmt.Sprintf("%s %q is not a whole number", what, clip(raw))
	}
	if n < 0 || n > maxNodegroupSize {
		return nil, fmt.Sprintf("%s %d is out of range 0-%d", what, n, maxNodegroupSize)
	}
	return &n, ""
}

func countSet(ps ...*int) int {
	n := 0
	for _, p := range ps {
		if p != nil {
			n++
		}
	}
	return n
}

// listOf reads a list flag whose items may also be comma-separated, each matching re (after
// lowering, with lower), none twice.
func listOf(in *input, flag, what, hint string, valid func(string) bool, lower bool) ([]string, string) {
	if !in.has(flag) {
		return nil, ""
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range splitCommas(in.vals[flag]) {
		if lower {
			v = strings.ToLower(v)
		}
		if !valid(v) {
			return nil, fmt.Sprintf("invalid %s %q: %s", what, clip(v), hint)
		}
		if seen[v] {
			return nil, fmt.Sprintf("%s %s is given twice", what, v)
		}
		seen[v] = true
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("%s needs a value", in.used[flag])
	}
	return out, ""
}

// enum reads a flag with a fixed set of values in the AWS spelling; case and '-' for '_' are
// forgiven ("on-demand" is ON_DEMAND), and a near miss is suggested.
func enum(in *input, flag string, values []string) (string, string) {
	if !in.has(flag) {
		return "", ""
	}
	raw := in.value(flag)
	typed := strings.ReplaceAll(raw, "-", "_")
	for _, v := range values {
		if strings.EqualFold(typed, v) {
			return v, ""
		}
	}
	msg := fmt.Sprintf("invalid %s %q", in.used[flag], clip(raw))
	upper := make([]string, len(values))
	for i, v := range values {
		upper[i] = strings.ToUpper(v)
	}
	if s := suggest(strings.ToUpper(typed), upper); s != "" {
		for i := range upper {
			if upper[i] == s {
				return "", msg + "; did you mean " + values[i] + "?"
			}
		}
	}
	if len(values) <= 4 {
		return "", msg + ": use " + strings.Join(values, " or ")
	}
	return "", msg + ": use an EKS AMI type such as AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD or BOTTLEROCKET_x86_64"
}

// splitCommas splits comma-separated items, as the AWS CLI writes lists, dropping empty ones.
func splitCommas(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}
