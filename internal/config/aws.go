package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// AWS is the aws section: where the bot works with EKS managed node groups. Credentials never
// come from here: the SDK's default chain finds them (environment, shared files, IRSA, EKS Pod
// Identity, instance metadata).
type AWS struct {
	// Regions the bot works in; the first is /eks's default. Empty: the SDK's region
	// (AWS_REGION, or the profile's).
	Regions []string `yaml:"regions"`
	// Profile is the shared config profile; "" = AWS_PROFILE, else the default chain.
	Profile string `yaml:"profile"`
	// Account is the AWS account ID (12 digits), for policy rules and the audit log; "" = the bot
	// asks STS at start.
	Account string `yaml:"account"`
	// Clusters holds per-cluster defaults for /eks nodegroup create, by cluster name or
	// "REGION/NAME" (which wins over the bare name in its region).
	Clusters map[string]EKSCluster `yaml:"clusters"`

	// switched is AKSBOT_EKS as Load read it: +1 on, -1 off, 0 unset (the keys decide).
	switched int
}

// EKSCluster is what /eks nodegroup create takes for a cluster when the command does not say.
type EKSCluster struct {
	NodeRole      string   `yaml:"nodeRole"`      // the node IAM role's ARN
	Subnets       []string `yaml:"subnets"`       // subnet IDs for the nodes
	InstanceTypes []string `yaml:"instanceTypes"` // EC2 instance types, like m6i.large
}

// Enabled reports whether the bot offers /eks: AKSBOT_EKS when it is set, else whether the aws
// section sets any key (regions, profile, account or clusters).
func (a AWS) Enabled() bool {
	if a.switched != 0 {
		return a.switched > 0
	}
	return len(a.Regions) > 0 || a.Profile != "" || a.Account != "" || len(a.Clusters) > 0
}

// DefaultRegion is the first configured region, or "" when the SDK's region applies.
func (a AWS) DefaultRegion() string {
	if len(a.Regions) == 0 {
		return ""
	}
	return a.Regions[0]
}

// NodegroupDefaults returns the configured defaults for creating a node group in the cluster:
// the "REGION/NAME" entry when there is one, else the "NAME" entry, else nothing. EKS cluster
// names are case-sensitive, so the lookup is exact. The slices are copies.
func (a AWS) NodegroupDefaults(region, cluster string) aks.NodegroupSpec {
	c, ok := a.Clusters[region+"/"+cluster]
	if !ok {
		c = a.Clusters[cluster]
	}
	return aks.NodegroupSpec{
		NodeRole:      c.NodeRole,
		Subnets:       slices.Clone(c.Subnets),
		InstanceTypes: slices.Clone(c.InstanceTypes),
	}
}

// setSwitch reads AKSBOT_EKS.
func (a *AWS) setSwitch(value string) error {
	switch strings.ToLower(value) {
	case "":
		a.switched = 0
	case "1", "true", "yes", "on":
		a.switched = 1
	case "0", "false", "no", "off":
		a.switched = -1
	default:
		return fmt.Errorf("%s: %q is not a switch: write 1 to offer /eks, 0 to turn it off, or leave it unset (then the aws section decides)", EnvEKS, value)
	}
	return nil
}

// ValidAWSRegion reports whether s looks like an AWS region name ("eu-west-1").
func ValidAWSRegion(s string) bool { return aks.ValidAWSRegion(s) }

// ValidAWSAccount reports whether s is an AWS account ID (12 digits).
func ValidAWSAccount(s string) bool { return aks.ValidAWSAccount(s) }

// regionProblem says why s is not a region, with the likely fix.
func regionProblem(s string) string {
	if locationRE.MatchString(s) && !strings.Contains(s, "-") {
		return fmt.Sprintf("%q looks like an Azure location; AWS regions are written like eu-west-1", s)
	}
	if lower := strings.ToLower(s); lower != s && aks.ValidAWSRegion(lower) {
		return fmt.Sprintf("%q is not a region name; write it in lowercase: %s", s, lower)
	}
	return fmt.Sprintf("%q is not an AWS region (like eu-west-1 or us-east-1)", s)
}

// problems reports every invalid value of the aws section, each naming its key.
func (a AWS) problems() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	for i, r := range a.Regions {
		path := fmt.Sprintf("aws.regions[%d]", i)
		switch {
		case !aks.ValidAWSRegion(r):
			bad(path, "%s", regionProblem(r))
		case slices.Index(a.Regions, r) < i:
			bad(path, "%s is listed twice", r)
		}
	}
	if strings.ContainsFunc(a.Profile, func(r rune) bool { return r <= ' ' || r == '[' || r == ']' }) {
		bad("aws.profile", "%q is not a profile name: no spaces or brackets (write the name as in [profile NAME] of ~/.aws/config)", a.Profile)
	}
	if a.Account != "" && !aks.ValidAWSAccount(a.Account) {
		bad("aws.account", "%q is not an AWS account ID (12 digits, like \"123456789012\")", a.Account)
	}

	names := make([]string, 0, len(a.Clusters))
	for name := range a.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := "aws.clusters." + name
		region, cluster, scoped := strings.Cut(name, "/")
		if !scoped {
			cluster, region = region, ""
		}
		switch {
		case scoped && !aks.ValidAWSRegion(region):
			bad(path, "%s; write NAME or REGION/NAME, like eu-west-1/web-prod", regionProblem(region))
		case scoped && len(a.Regions) > 0 && !slices.Contains(a.Regions, region):
			bad(path, "region %s is not among aws.regions (%s), so this entry is never used", region, strings.Join(a.Regions, ", "))
		}
		if !aks.ValidEKSClusterName(cluster) {
			bad(path, "%q is not an EKS cluster name (up to 100 letters, digits, '-' and '_', starting with a letter or digit); write NAME or REGION/NAME", cluster)
		}
		c := a.Clusters[name]
		if c.NodeRole != "" && !aks.ValidRoleARN(c.NodeRole) {
			bad(path+".nodeRole", "%q is not an IAM role ARN (like arn:aws:iam::123456789012:role/eks-nodes)", c.NodeRole)
		}
		for i, s := range c.Subnets {
			switch {
			case !aks.ValidSubnetID(s):
				bad(fmt.Sprintf("%s.subnets[%d]", path, i), "%q is not a subnet ID (subnet- and 8 or 17 hex digits, like subnet-0a1b2c3d)", s)
			case slices.Index(c.Subnets, s) < i:
				bad(fmt.Sprintf("%s.subnets[%d]", path, i), "%s is listed twice", s)
			}
		}
		for i, t := range c.InstanceTypes {
			switch {
			case strings.HasPrefix(strings.ToLower(t), "standard_"):
				bad(fmt.Sprintf("%s.instanceTypes[%d]", path, i), "%q is an Azure VM size; EC2 instance types are written like m6i.large", t)
			case !aks.ValidInstanceType(t):
				bad(fmt.Sprintf("%s.instanceTypes[%d]", path, i), "%q is not an EC2 instance type (like m6i.large or c7g.2xlarge)", t)
			case slices.Index(c.InstanceTypes, t) < i:
				bad(fmt.Sprintf("%s.instanceTypes[%d]", path, i), "%s is listed twice", t)
			}
		}
	}
	return errs
}

// SwitchedOff reports whether AKSBOT_EKS=0 turned /eks off, also the console's simulated EKS.
func (a AWS) SwitchedOff() bool { return a.switched < 0 }
