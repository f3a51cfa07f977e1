package commands

import (
	"github.com/aksbot/aksbot/internal/aks"
)

// Kinds of the /eks commands that /aks has no twin of. The commands both have (help, jobs, job,
// cancel, approve, deny, pending, whoami, policy, audit) keep their kinds: they do the same.
const (
	KindEKSList              Kind = "eks list"
	KindEKSDescribe          Kind = "eks describe"
	KindEKSNodegroupList     Kind = "eks nodegroup list"
	KindEKSNodegroupDescribe Kind = "eks nodegroup describe"
	KindEKSNodegroupCreate   Kind = "eks nodegroup create"
	KindEKSNodegroupScale    Kind = "eks nodegroup scale"
	KindEKSNodegroupUpgrade  Kind = "eks nodegroup upgrade"
	KindEKSNodegroupDelete   Kind = "eks nodegroup delete"
)

// Flags of /eks only. --cluster-name, --name, --labels, --kubernetes-version, --dry-run, --all
// and --since are spelled as in /aks.
const (
	fRegion         = "--region"
	fNodegroupName  = "--nodegroup-name"
	fDesiredSize    = "--desired-size"
	fMinSize        = "--min-size"
	fMaxSize        = "--max-size"
	fScalingConfig  = "--scaling-config"
	fNodeRole       = "--node-role"
	fSubnets        = "--subnets"
	fInstanceTypes  = "--instance-types"
	fCapacityType   = "--capacity-type"
	fAMIType        = "--ami-type"
	fEKSTaints      = "--taints"
	fReleaseVersion = "--release-version"
	fForce          = "--force"
)

// eksFlagDefs are the /eks flags: the AWS CLI's long names, eksctl's as aliases.
var eksFlagDefs = []*flagDef{
	{long: fRegion, short: "-r", kind: valueFlag, meta: "REGION", help: "AWS region, e.g. eu-west-1 (default: the first configured region)"},
	flagsBySpelling[fName], // meaning and help depend on the command
	{long: fClusterName, aliases: []string{"--cluster"}, kind: valueFlag, slot: slotCluster},
	{long: fNodegroupName, kind: valueFlag, slot: slotNodegroup},
	{long: fDesiredSize, aliases: []string{"--nodes"}, kind: valueFlag, meta: "N", help: "the number of nodes"},
	{long: fMinSize, aliases: []string{"--nodes-min"}, kind: valueFlag, meta: "N", help: "the fewest nodes the group may scale in to"},
	{long: fMaxSize, aliases: []string{"--nodes-max"}, kind: valueFlag, meta: "N", help: "the most nodes the group may scale out to (at least 1)"},
	{long: fScalingConfig, kind: listFlag, meta: "minSize=N,maxSize=N,desiredSize=N", help: "the sizes in the AWS CLI's shorthand, instead of the three flags"},
	{long: fNodeRole, kind: valueFlag, meta: "ARN", help: "the node IAM role's ARN (default: the cluster's configured one)"},
	{long: fSubnets, kind: listFlag, meta: "ID ...", help: "subnet IDs, space- or comma-separated (default: the cluster's configured ones)"},
	{long: fInstanceTypes, aliases: []string{"--node-type"}, kind: listFlag, meta: "TYPE ...", help: "EC2 instance types, e.g. m6i.large (default: the cluster's configured ones, else EKS's t3.medium)"},
	{long: fCapacityType, kind: valueFlag, meta: "ON_DEMAND|SPOT", help: "On-Demand or Spot instances (default ON_DEMAND)"},
	{long: fAMIType, kind: valueFlag, meta: "TYPE", help: "AMI type, e.g. AL2023_x86_64_STANDARD or BOTTLEROCKET_ARM_64 (default: EKS's for the instance types)"},
	{long: fK8sVersion, short: "-k", aliases: []string{"--version"}, kind: valueFlag, meta: "V", help: "Kubernetes version, major.minor such as 1.31 (default: the control plane's)"},
	{long: fReleaseVersion, kind: valueFlag, meta: "V", help: "AMI release version, e.g. 1.31.7-20250620 (default: the latest of the Kubernetes version)"},
	{long: fForce, aliases: []string{"--force-upgrade"}, kind: boolFlag, help: "replace nodes even when a pod disruption budget keeps their pods from draining"},
	{long: fLabels, aliases: []string{"--node-labels"}, kind: listFlag, meta: "k=v ...", help: "Kubernetes node labels, space- or comma-separated"},
	{long: fEKSTaints, kind: listFlag, meta: "k=v:Effect ...", help: "node taints; Effect is NoSchedule, PreferNoSchedule or NoExecute (or NO_SCHEDULE ...); the value may be left out"},
	{long: fDryRun, kind: boolFlag, help: "show what the approval request would say (plan, rule, approvers), to you only; nothing is stored or sent to AWS"},
	flagsBySpelling[fAll],
	flagsBySpelling[fSince],
}

// ngFlags are the flags every node-group command takes to name its node group.
var ngFlags = []string{fRegion, fName, fClusterName, fNodegroupName}

// sizeFlags are the flags that set a node group's sizes.
var sizeFlags = []string{fDesiredSize, fMinSize, fMaxSize, fScalingConfig}

var eksSpecList = []*spec{
	{
		kind:    KindHelp,
		usage:   []string{"help [COMMAND]"},
		summary: "this overview, or help for one command",
		about: "Shows the list of commands, or the usage, flags and examples of one command. " +
			"`/eks COMMAND --help` does the same.",
		examples: []string{"help", "help nodegroup", "help nodegroup scale"},
	},
	{
		kind:    KindEKSList,
		words:   "list",
		aliases: []alias{{words: "list-clusters"}},
		flags:   []string{fRegion},
		notes:   map[string]string{fRegion: "AWS region, e.g. eu-west-1 (default: every configured region)"},
		usage:   []string{"list [--region REGION]"},
		summary: "list the EKS clusters of a region, or of every configured one",
		about: "Lists the EKS clusters with their Kubernetes version, status and platform version: " +
			"in one region, or in every region the bot is configured for. eksctl's `get cluster` works too.",
		examples: []string{"list", "list --region eu-west-1"},
		build:    buildEKSList,
	},
	{
		kind:     KindEKSDescribe,
		words:    "describe",
		aliases:  []alias{{words: "describe-cluster"}, {words: "get cluster", all: KindEKSList}},
		args:     []string{slotCluster},
		flags:    []string{fRegion, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"describe CLUSTER [--region REGION]"},
		summary:  "show a cluster and its node groups",
		about:    "Shows a cluster's Kubernetes and platform version, status and endpoint, and its managed node groups.",
		examples: []string{"describe web-prod", "describe-cluster --name web-prod --region eu-west-1"},
		build:    eksCluster,
	},
	{
		kind:     KindEKSNodegroupList,
		words:    "nodegroup list",
		aliases:  []alias{{words: "list-nodegroups"}},
		args:     []string{slotCluster},
		flags:    []string{fRegion, fClusterName},
		usage:    []string{"nodegroup list CLUSTER [--region REGION]"},
		summary:  "list a cluster's managed node groups",
		about:    "Lists the managed node groups of a cluster with their status, sizes, instance types and versions. eksctl's `get nodegroup --cluster CLUSTER` works too.",
		examples: []string{"nodegroup list web-prod", "list-nodegroups --cluster-name web-prod --region eu-west-1"},
		build:    eksCluster,
	},
	{
		kind:     KindEKSNodegroupDescribe,
		words:    "nodegroup describe",
		aliases:  []alias{{words: "describe-nodegroup"}, {words: "get nodegroup", all: KindEKSNodegroupList}},
		args:     []string{slotCluster, slotNodegroup},
		flags:    ngFlags,
		nameSlot: slotNodegroup,
		usage:    []string{"nodegroup describe CLUSTER NODEGROUP [--region REGION]"},
		summary:  "show one managed node group",
		about:    "Shows a node group's status, sizes, instance types, AMI, versions, labels, taints and health issues.",
		examples: []string{"nodegroup describe web-prod ng-web", "describe-nodegroup --cluster-name web-prod --nodegroup-name ng-web", "get nodegroup --cluster web-prod --name ng-web"},
		build:    eksNodegroup,
	},
	{
		kind:    KindEKSNodegroupCreate,
		words:   "nodegroup create",
		aliases: []alias{{words: "create-nodegroup"}, {words: "create nodegroup"}},
		args:    []string{slotCluster, slotNodegroup},
		flags: append(append([]string{fNodeRole, fSubnets, fInstanceTypes}, sizeFlags...),
			append([]string{fCapacityType, fAMIType, fK8sVersion, fReleaseVersion, fLabels, fEKSTaints}, ngFlags...)...),
		nameSlot: slotNodegroup,
		usage: []string{"nodegroup create CLUSTER NODEGROUP [--node-role ARN] [--subnets ID ...] [--instance-types TYPE ...] " +
			"[--desired-size N --min-size N --max-size N] [--capacity-type ON_DEMAND|SPOT] [--ami-type TYPE] " +
			"[--kubernetes-version V] [--release-version V] [--labels k=v ...] [--taints k=v:Effect ...] [--region REGION]"},
		summary: "create a managed node group",
		about: "Creates a managed node group, as a job (it may need approval). Without --node-role or --subnets, the " +
			"cluster's from aws.clusters in the configuration apply. Give the three sizes together or none of them " +
			"(EKS then makes 2 nodes, min 1, max 2).",
		examples: []string{
			"nodegroup create web-prod ng-batch --instance-types m6i.large --desired-size 2 --min-size 1 --max-size 4",
			"nodegroup create web-prod ng-gpu --capacity-type SPOT --taints gpu=true:NoSchedule --labels team=ml",
			"create-nodegroup --cluster-name web-prod --nodegroup-name ng-arm --ami-type AL2023_ARM_64_STANDARD --instance-types m7g.large,m6g.large",
		},
		build: buildNodegroupCreate,
	},
	{
		kind:     KindEKSNodegroupScale,
		words:    "nodegroup scale",
		aliases:  []alias{{words: "update-nodegroup-config"}, {words: "scale nodegroup"}},
		args:     []string{slotCluster, slotNodegroup},
		flags:    append(append([]string(nil), sizeFlags...), ngFlags...),
		nameSlot: slotNodegroup,
		usage: []string{
			"nodegroup scale CLUSTER NODEGROUP --desired-size N [--min-size N] [--max-size N] [--region REGION]",
			"nodegroup scale CLUSTER NODEGROUP --scaling-config minSize=N,maxSize=N,desiredSize=N [--region REGION]",
		},
		summary: "set a node group's desired, min or max size",
		about: "Sets the desired size of a node group, its min and max, or both, as a job (adding nodes may need approval). " +
			"Give at least one; EKS keeps min <= desired <= max, and max at least 1. With the cluster autoscaler on, " +
			"set --min-size and --max-size and leave the desired size to it.",
		examples: []string{
			"nodegroup scale web-prod ng-web --desired-size 5",
			"update-nodegroup-config --cluster-name web-prod --nodegroup-name ng-web --scaling-config minSize=2,maxSize=10,desiredSize=5",
			"scale nodegroup --cluster web-prod --name ng-web --nodes 3",
		},
		misplaced: map[string]string{
			fK8sVersion: "to change the version use /eks nodegroup upgrade CLUSTER NODEGROUP --kubernetes-version V",
			fLabels:     "labels and taints are set when a node group is created",
			fEKSTaints:  "labels and taints are set when a node group is created",
		},
		build: buildNodegroupScale,
	},
	{
		kind:     KindEKSNodegroupUpgrade,
		words:    "nodegroup upgrade",
		aliases:  []alias{{words: "update-nodegroup-version"}, {words: "upgrade nodegroup"}},
		args:     []string{slotCluster, slotNodegroup},
		flags:    append([]string{fK8sVersion, fReleaseVersion, fForce}, ngFlags...),
		nameSlot: slotNodegroup,
		usage:    []string{"nodegroup upgrade CLUSTER NODEGROUP [--kubernetes-version V | --release-version V] [--force] [--region REGION]"},
		summary:  "upgrade a node group's Kubernetes version or AMI release",
		about: "Upgrades a node group, as a job: to a Kubernetes version (at most the control plane's), or to an AMI release " +
			"of the version it runs; with neither, to the control plane's version and the latest AMI release. Give at most one of the two.",
		examples: []string{
			"nodegroup upgrade web-prod ng-web",
			"nodegroup upgrade web-prod ng-web --kubernetes-version 1.31",
			"update-nodegroup-version --cluster-name web-prod --nodegroup-name ng-web --release-version 1.31.7-20250620 --force",
		},
		misplaced: map[string]string{
			fDesiredSize: "to change the size use /eks nodegroup scale CLUSTER NODEGROUP --desired-size N",
		},
		build: buildNodegroupUpgrade,
	},
	{
		kind:     KindEKSNodegroupDelete,
		words:    "nodegroup delete",
		aliases:  []alias{{words: "delete-nodegroup"}, {words: "delete nodegroup"}},
		args:     []string{slotCluster, slotNodegroup},
		flags:    ngFlags,
		nameSlot: slotNodegroup,
		usage:    []string{"nodegroup delete CLUSTER NODEGROUP [--region REGION]"},
		summary:  "delete a managed node group",
		about:    "Deletes a managed node group and its nodes, as a job (it may need approval). EKS drains the pods off each node before it ends it.",
		examples: []string{"nodegroup delete web-prod ng-batch"},
		build:    nodegroupOp(aks.OpNodegroupDelete),
	},
	sharedSpec(KindJobs, ""),
	sharedSpec(KindJob, ""),
	sharedSpec(KindCancel, "Cancels a job that is waiting for approval or queued behind another operation on its cluster. "+
		"A job already sent to EKS cannot be cancelled, and EKS cannot abort a node-group update."),
	sharedSpec(KindPending, ""),
	sharedSpec(KindApprove, ""),
	sharedSpec(KindDeny, ""),
	sharedSpec(KindWhoami, ""),
	{
		kind:     KindPolicy,
		optional: []string{slotCluster},
		flags:    []string{fRegion, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"policy [CLUSTER] [--region REGION]"},
		summary:  specs[KindPolicy].summary,
		about:    specs[KindPolicy].about,
		examples: []string{"policy", "policy web-prod --region eu-west-1"},
		build:    eksOptionalCluster,
	},
	{
		kind:     KindAudit,
		optional: []string{slotCluster},
		flags:    []string{fRegion, fName, fClusterName, fSince},
		nameSlot: slotCluster,
		usage:    []string{"audit [CLUSTER] [--region REGION] [--since DURATION]"},
		summary:  specs[KindAudit].summary,
		about:    specs[KindAudit].about,
		examples: []string{"audit", "audit web-prod --since 7d"},
		build:    withSince(eksOptionalCluster),
	},
}

// sharedSpec is an /aks command that /eks has too, as it is (about "") or with its own words.
// None of these take a flag that differs between the two.
func sharedSpec(k Kind, about string) *spec {
	s := *specs[k]
	s.flags = append([]string(nil), s.flags...)
	if about != "" {
		s.about = about
	}
	return &s
}

var eksGrammar = newGrammar(&grammar{
	slash: "/eks",
	group: "nodegroup",
	list:  eksSpecList,
	synonyms: map[string]string{
		"ng":         "nodegroup", // eksctl
		"nodegroups": "nodegroup",
		"clusters":   "cluster",
	},
	suggestSub: true,
	foreignFlags: map[string]string{
		fNodeCount:     "/eks says --desired-size N",
		"-c":           "/eks says --desired-size N",
		fMinCount:      "/eks says --min-size N",
		fMaxCount:      "/eks says --max-size N",
		fPoolName:      "/eks says --nodegroup-name NODEGROUP",
		fTaints:        "/eks says --taints",
		fResourceGroup: "EKS clusters have no resource group: they are found by --region",
		"-g":           "EKS clusters have no resource group: they are found by --region",
		fLocation:      "/eks says --region",
		"-l":           "/eks says --region",
	},
	elsewhere: map[string]string{
		"show":     "did you mean describe?",
		"nodepool": "did you mean nodegroup?",
		"abort":    "EKS cannot abort a node-group update: /eks cancel ID stops a job before it reaches EKS",
	},
	intro: "*aksbot* runs Amazon EKS managed node-group operations. Changes become jobs: some wait for an approver, and each reports progress in a thread.",
	outro: "Commands take `--region REGION`; without it the first configured region is used (`list`: every configured one). " +
		"Commands that change something take `--dry-run`: you alone see what the approval request would say, and nothing is stored or sent to AWS. " +
		"The AWS CLI's spellings (`describe-cluster`, `update-nodegroup-config`, `--cluster-name`, `--nodegroup-name`, `--scaling-config`) " +
		"and eksctl's (`get nodegroup`, `scale nodegroup`, `--cluster`, `--nodes`) work too. " +
		"`/eks help COMMAND` or `/eks COMMAND --help` shows a command's flags and examples.",
	groupIntro: "*Node group commands*: manage the managed node groups of an EKS cluster. NODEGROUP names are 1-63 letters, digits, '-' and '_'.",
}, eksFlagDefs)

// ParseEKS parses the text after "/eks". Bad input returns *UsageError; it never panics. Empty
// text asks for the help overview. Mutating commands get Op with an EKS target: its region is
// Region ("" = the configured default), its Pool the node group; the bot fills the account.
func ParseEKS(text string) (Command, error) {
	sp, rest, c, err := eksGrammar.start(text)
	if sp == nil {
		return c, err
	}
	c, in, err := sp.parseArgs(rest)
	if err != nil || in == nil {
		return c, err
	}
	if c.Op != nil {
		c.Op.Target = aks.Target{Provider: aks.ProviderEKS, Region: c.Region, Cluster: c.Cluster, Pool: c.Nodegroup}
	}
	return c, nil
}

// HelpEKS is Help for /eks: the overview (topic ""), the node-group commands ("nodegroup"), or
// one command, by its words or an alias ("describe-cluster").
func HelpEKS(topic string) (string, error) {
	return eksGrammar.help(topic)
}
