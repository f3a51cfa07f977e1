package aks

import "regexp"

// The forms of AWS names and IDs that /eks takes. The grammar, the configuration and the EKS
// adapter check with the same rules, so a value one accepts is never refused by another.
var (
	eksClusterRE   = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`) // 1-100
	nodegroupRE    = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$`) // 1-63
	awsRegionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)  // eu-west-1, us-gov-west-1
	awsAccountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	eksVersionRE   = regexp.MustCompile(`^1\.[0-9]{1,3}$`)
	roleARNRE      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`) // any partition, optional path
	subnetIDRE     = regexp.MustCompile(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`) // m6i.large, u-6tb1.metal, m7i.metal-24xl
)

// ValidEKSClusterName: 1-100 letters, digits, '-' and '_', starting with a letter or digit.
func ValidEKSClusterName(s string) bool { return eksClusterRE.MatchString(s) }

// ValidNodegroupName: 1-63 letters, digits, '-' and '_', starting with a letter or digit.
func ValidNodegroupName(s string) bool { return nodegroupRE.MatchString(s) }

// ValidAWSRegion: "eu-west-1", "us-gov-west-1", "ap-southeast-4".
func ValidAWSRegion(s string) bool { return awsRegionRE.MatchString(s) }

// ValidAWSAccount: 12 digits.
func ValidAWSAccount(s string) bool { return awsAccountRE.MatchString(s) }

// ValidEKSVersion: a Kubernetes minor version as EKS names it, "1.31".
func ValidEKSVersion(s string) bool { return eksVersionRE.MatchString(s) }

// ValidRoleARN: an IAM role ARN in any partition, with an optional path.
func ValidRoleARN(s string) bool { return roleARNRE.MatchString(s) }

// ValidSubnetID: "subnet-" and 8 or 17 hex digits.
func ValidSubnetID(s string) bool { return subnetIDRE.MatchString(s) }

// ValidInstanceType: an EC2 instance type, family, a dot, a size: "m6i.large".
func ValidInstanceType(s string) bool { return instanceTypeRE.MatchString(s) }
