package commands

import (
	"fmt"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

type flagKind int

const (
	boolFlag  flagKind = iota
	valueFlag          // one value: "--node-count 3" or "--node-count=3"
	listFlag           // values until the next flag: "--zones 1 2 3"
)

// flagDef is one flag, known by its long name; short is its one-letter alias, if any, and
// aliases are other spellings (those of another CLI: eksctl's --nodes for --desired-size).
type flagDef struct {
	long    string
	short   string
	aliases []string
	kind    flagKind
	meta    string // the value's placeholder in usage lines
	help    string // one line for the flags list of a command's help
	// slot is the positional argument the flag names instead ("" for ordinary flags); --name
	// fills the command's nameSlot instead.
	slot string
}

// spellings lists every way of writing the flag.
func (f *flagDef) spellings() []string {
	out := []string{f.long}
	if f.short != "" {
		out = append(out, f.short)
	}
	return append(out, f.aliases...)
}

// Slots that positional arguments and the name flags fill.
const (
	slotCluster   = "CLUSTER"
	slotPool      = "POOL"
	slotNodegroup = "NODEGROUP"
	slotID        = "ID"
	slotReason    = "REASON"
)

// Flag long names, used as keys everywhere.
const (
	fResourceGroup = "--resource-group"
	fLocation      = "--location"
	fName          = "--name"
	fClusterName   = "--cluster-name"
	fPoolName      = "--nodepool-name"
	fNodeCount     = "--node-count"
	fVMSize        = "--node-vm-size"
	fK8sVersion    = "--kubernetes-version"
	fEnableAS      = "--enable-cluster-autoscaler"
	fUpdateAS      = "--update-cluster-autoscaler"
	fDisableAS     = "--disable-cluster-autoscaler"
	fMinCount      = "--min-count"
	fMaxCount      = "--max-count"
	fZones         = "--zones"
	fTags          = "--tags"
	fLabels        = "--labels"
	fTaints        = "--node-taints"
	fControlPlane  = "--control-plane-only"
	fNodeImage     = "--node-image-only"
	fMode          = "--mode"
	fOSType        = "--os-type"
	fAll           = "--all"
	fSince         = "--since"
	fDryRun        = "--dry-run"
	fSubscription  = "--subscription"
	fAllSubs       = "--all-subscriptions"
	fCron          = "--cron"
	fTZ            = "--tz"
)

var flagDefs = []*flagDef{
	{long: fResourceGroup, short: "-g", kind: valueFlag, meta: "RG", help: "resource group (default: the configured one)"},
	{long: fLocation, short: "-l", kind: valueFlag, meta: "LOC", help: "Azure region, e.g. westeurope (default: the configured one)"},
	{long: fName, short: "-n", kind: valueFlag}, // meaning and help depend on the command
	{long: fClusterName, kind: valueFlag, slot: slotCluster},
	{long: fPoolName, kind: valueFlag, slot: slotPool},
	{long: fNodeCount, short: "-c", kind: valueFlag, meta: "N", help: "number of nodes"},
	{long: fVMSize, short: "-s", kind: valueFlag, meta: "SIZE", help: "VM size, e.g. Standard_D4s_v5"},
	{long: fK8sVersion, short: "-k", kind: valueFlag, meta: "V", help: "Kubernetes version, e.g. 1.30 or 1.30.4"},
	{long: fEnableAS, kind: boolFlag, help: "turn the cluster autoscaler on (needs --min-count and --max-count)"},
	{long: fUpdateAS, kind: boolFlag, help: "change the autoscaler's limits (needs --min-count and --max-count)"},
	{long: fDisableAS, kind: boolFlag, help: "turn the cluster autoscaler off"},
	{long: fMinCount, kind: valueFlag, meta: "N", help: "autoscaler minimum node count"},
	{long: fMaxCount, kind: valueFlag, meta: "N", help: "autoscaler maximum node count (at most 1000)"},
	{long: fZones, kind: listFlag, meta: "1 2 3", help: "availability zones, any of 1 2 3"},
	{long: fTags, kind: listFlag, meta: "k=v ...", help: "Azure tags"},
	{long: fLabels, kind: listFlag, meta: "k=v ...", help: "Kubernetes node labels"},
	{long: fTaints, kind: listFlag, meta: "k=v:Effect ...", help: "node taints; Effect is NoSchedule, PreferNoSchedule or NoExecute"},
	{long: fControlPlane, kind: boolFlag, help: "upgrade only the control plane, not the node pools"},
	{long: fNodeImage, kind: boolFlag, help: "upgrade only the node image, keeping the Kubernetes version"},
	{long: fMode, kind: valueFlag, meta: "User|System", help: "pool mode (default User)"},
	{long: fOSType, kind: valueFlag, meta: "Linux|Windows", help: "node OS (default Linux)"},
	{long: fAll, kind: boolFlag, help: "include finished jobs"},
	{long: fDryRun, kind: boolFlag, help: "show what the approval request would say (plan, cost, quota, ETA, rule, approvers), to you only; nothing is stored or sent to Azure"},
	{long: fSubscription, kind: valueFlag, meta: "NAME|ID", help: "the subscription, by its configured name or ID (default: the configured one)"},
	{long: fAllSubs, kind: boolFlag, help: "list the clusters of every configured subscription"},
	{long: fCron, kind: valueFlag, meta: "EXPR", help: "when it runs: five cron fields (minute hour day-of-month month day-of-week), quoted, or @hourly, @daily, @weekly, @monthly, @every 30m"},
	{long: fTZ, kind: valueFlag, meta: "ZONE", help: "IANA time zone of the cron fields, e.g. Europe/Amsterdam (default UTC)"},
	{long: fSince, kind: valueFlag, meta: "DURATION", help: "how far back to look, e.g. 2h, 90m or 7d (default 24h, at most 90d)"},
}

// flagsBySpelling finds an /aks flag by its long name or short alias.
var flagsBySpelling = aksGrammar.flags

// spec describes one command: its words, arguments, flags and help.
type spec struct {
	g     *grammar // the slash command it belongs to, set by newGrammar
	kind  Kind
	words string // what is typed: "nodegroup scale"; "" = the kind's words
	// aliases are other ways of typing the command, such as the AWS CLI's "describe-cluster".
	aliases []alias
	// notes say what a flag means in this command when it differs from the flag's own help.
	notes    map[string]string
	args     []string // positional slots, all required
	optional []string // positional slots after args that may be left out
	reason   string   // slot that takes the rest of the line after args as free text ("" = none)
	flags    []string // long names of the flags it takes
	nameSlot string   // the slot --name/-n fills ("" when the command has no --name)
	usage    []string // usage lines without "/aks "
	summary  string   // one line for the overview
	about    string   // what it does, for the command's help
	examples []string // without "/aks "
	// extraHint says what to do instead when there are more positional arguments than slots.
	extraHint string
	// misplaced says what to do instead when a flag of another command is used here.
	misplaced map[string]string
	build     func(in *input) (Command, string)
}

var specList = []*spec{
	{
		kind:    KindHelp,
		usage:   []string{"help [COMMAND]"},
		summary: "this overview, or help for one command",
		about: "Shows the list of commands, or the usage, flags and examples of one command. " +
			"`/aks COMMAND --help` does the same.",
		examples: []string{"help", "help nodepool", "help nodepool scale"},
	},
	{
		kind:     KindList,
		flags:    []string{fResourceGroup, fAllSubs},
		usage:    []string{"list [-g RG] [--all-subscriptions]"},
		summary:  "list the clusters in a resource group",
		about:    "Lists the AKS clusters of a resource group with their version, state and node count.",
		examples: []string{"list", "list -g rg-prod --subscription prod", "list --all-subscriptions"},
		build:    buildList,
	},
	{
		kind:     KindShow,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"show CLUSTER [-g RG]"},
		summary:  "show a cluster and its node pools",
		about:    "Shows a cluster's version, state, FQDN and node pools.",
		examples: []string{"show demo", "show demo -g rg-prod"},
		build:    clusterCommand,
	},
	{
		kind: KindCreate,
		args: []string{slotCluster},
		flags: []string{fResourceGroup, fLocation, fName, fClusterName, fNodeCount, fVMSize, fK8sVersion,
			fEnableAS, fMinCount, fMaxCount, fZones, fTags},
		nameSlot: slotCluster,
		usage: []string{"create CLUSTER [-g RG] [-l LOC] [--node-count N] [--node-vm-size SIZE] [--kubernetes-version V] " +
			"[--enable-cluster-autoscaler --min-count N --max-count N] [--zones 1 2 3] [--tags k=v ...]"},
		summary: "create a cluster",
		about: "Creates a cluster with one System node pool, as a job (it may need approval). " +
			"The System pool needs at least 1 node.",
		examples: []string{
			"create demo -l westeurope --node-count 3",
			"create demo -g rg-dev -k 1.30 --enable-cluster-autoscaler --min-count 1 --max-count 5 --zones 1 2 3",
			"create demo --tags team=payments env=dev",
		},
		build: buildCreate,
	},
	{
		kind:     KindDelete,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"delete CLUSTER [-g RG]"},
		summary:  "delete a cluster",
		about:    "Deletes a cluster and all its node pools, as a job (it may need approval).",
		examples: []string{"delete demo", "delete demo -g rg-dev"},
		build:    clusterOp(aks.OpClusterDelete),
	},
	{
		kind:     KindScale,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName, fNodeCount, fPoolName},
		nameSlot: slotCluster,
		usage:    []string{"scale CLUSTER --node-count N [--nodepool-name POOL] [-g RG]"},
		summary:  "set the node count of a cluster's node pool",
		about: "Sets the node count (0-1000) of one node pool. Without --nodepool-name the cluster must have " +
			"exactly one pool. A System pool needs at least 1 node, and a pool with the autoscaler on cannot be " +
			"scaled by hand.",
		examples: []string{"scale demo --node-count 3", "scale demo -c 5 --nodepool-name np2 -g rg-prod"},
		misplaced: map[string]string{
			fMinCount: "to change autoscaler limits use /aks nodepool update CLUSTER POOL --update-cluster-autoscaler",
			fMaxCount: "to change autoscaler limits use /aks nodepool update CLUSTER POOL --update-cluster-autoscaler",
		},
		build: buildScale,
	},
	{
		kind:     KindUpgrade,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName, fK8sVersion, fControlPlane},
		nameSlot: slotCluster,
		usage:    []string{"upgrade CLUSTER --kubernetes-version V [--control-plane-only] [-g RG]"},
		summary:  "upgrade a cluster's Kubernetes version",
		about: "Upgrades the control plane and, unless --control-plane-only, every node pool to the version. " +
			"Minor versions cannot be skipped; see `/aks get-upgrades CLUSTER`.",
		examples: []string{"upgrade demo --kubernetes-version 1.31.2", "upgrade demo -k 1.31 --control-plane-only"},
		misplaced: map[string]string{
			fNodeImage: "to upgrade only a pool's node image use /aks nodepool upgrade CLUSTER POOL --node-image-only",
		},
		build: buildUpgrade,
	},
	{
		kind:     KindStart,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"start CLUSTER [-g RG]"},
		summary:  "start a stopped cluster",
		about:    "Starts a stopped cluster, as a job.",
		examples: []string{"start demo"},
		build:    clusterOp(aks.OpClusterStart),
	},
	{
		kind:     KindStop,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"stop CLUSTER [-g RG]"},
		summary:  "stop a cluster (its nodes are deallocated)",
		about:    "Stops a running cluster, as a job: the control plane and all nodes are stopped until `/aks start`.",
		examples: []string{"stop demo -g rg-dev"},
		build:    clusterOp(aks.OpClusterStop),
	},
	{
		kind:     KindGetVersions,
		flags:    []string{fLocation},
		usage:    []string{"get-versions [-l LOC]"},
		summary:  "list the Kubernetes versions offered in a region",
		about:    "Lists the Kubernetes versions AKS offers in a region, and what each can upgrade to.",
		examples: []string{"get-versions", "get-versions -l eastus2"},
		build:    buildGetVersions,
	},
	{
		kind:     KindGetUpgrades,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"get-upgrades CLUSTER [-g RG]"},
		summary:  "list the versions a cluster can upgrade to",
		about:    "Shows the versions the control plane and each node pool can be upgraded to, and the latest node image.",
		examples: []string{"get-upgrades demo"},
		build:    clusterCommand,
	},
	{
		kind:     KindNodepoolList,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fClusterName},
		usage:    []string{"nodepool list CLUSTER [-g RG]"},
		summary:  "list a cluster's node pools",
		about:    "Lists the node pools of a cluster with their mode, size, count, autoscaler and version.",
		examples: []string{"nodepool list demo"},
		build:    clusterCommand,
	},
	{
		kind: KindNodepoolAdd,
		args: []string{slotCluster, slotPool},
		flags: []string{fResourceGroup, fName, fClusterName, fPoolName, fNodeCount, fVMSize, fMode, fOSType,
			fEnableAS, fMinCount, fMaxCount, fLabels, fTaints, fZones},
		nameSlot: slotPool,
		usage: []string{"nodepool add CLUSTER POOL [--node-count N] [--node-vm-size SIZE] [--mode User|System] " +
			"[--os-type Linux|Windows] [--enable-cluster-autoscaler --min-count N --max-count N] [--labels k=v ...] " +
			"[--node-taints k=v:Effect ...] [--zones 1 2 3] [-g RG]"},
		summary: "add a node pool",
		about: "Adds a node pool, as a job. Pool names are 1-12 lowercase letters and digits starting with a letter " +
			"(Windows: at most 6). User pools take 0-1000 nodes, System pools 1-1000 and must run Linux.",
		examples: []string{
			"nodepool add demo np2 --node-count 3 --node-vm-size Standard_D4s_v5",
			"nodepool add demo gpu --enable-cluster-autoscaler --min-count 0 --max-count 4 --node-taints sku=gpu:NoSchedule",
			"nodepool add demo win1 --os-type Windows -c 1",
		},
		build: buildPoolAdd,
	},
	{
		kind:     KindNodepoolScale,
		args:     []string{slotCluster, slotPool},
		flags:    []string{fResourceGroup, fName, fClusterName, fPoolName, fNodeCount},
		nameSlot: slotPool,
		usage:    []string{"nodepool scale CLUSTER POOL --node-count N [-g RG]"},
		summary:  "set a node pool's node count",
		about: "Sets the node count of a pool (0-1000; a System pool needs at least 1). A pool with the " +
			"autoscaler on cannot be scaled by hand: use `/aks nodepool update`.",
		examples: []string{"nodepool scale demo np2 --node-count 3", "nodepool scale --cluster-name demo -n np2 -c 0"},
		misplaced: map[string]string{
			fMinCount: "to change autoscaler limits use /aks nodepool update CLUSTER POOL --update-cluster-autoscaler",
			fMaxCount: "to change autoscaler limits use /aks nodepool update CLUSTER POOL --update-cluster-autoscaler",
		},
		build: buildPoolScale,
	},
	{
		kind:     KindNodepoolUpdate,
		args:     []string{slotCluster, slotPool},
		flags:    []string{fResourceGroup, fName, fClusterName, fPoolName, fEnableAS, fUpdateAS, fDisableAS, fMinCount, fMaxCount},
		nameSlot: slotPool,
		usage: []string{
			"nodepool update CLUSTER POOL (--enable-cluster-autoscaler | --update-cluster-autoscaler) --min-count N --max-count N [-g RG]",
			"nodepool update CLUSTER POOL --disable-cluster-autoscaler [-g RG]",
		},
		summary: "turn a pool's autoscaler on or off, or change its limits",
		about: "Turns the cluster autoscaler of a pool on, changes its limits, or turns it off. " +
			"Limits: 0 <= min <= max <= 1000 (min >= 1 for a System pool).",
		examples: []string{
			"nodepool update demo np2 --enable-cluster-autoscaler --min-count 1 --max-count 5",
			"nodepool update demo np2 --update-cluster-autoscaler --min-count 2 --max-count 10",
			"nodepool update demo np2 --disable-cluster-autoscaler",
		},
		misplaced: map[string]string{
			fNodeCount: "to set the node count use /aks nodepool scale CLUSTER POOL --node-count N",
		},
		build: buildPoolUpdate,
	},
	{
		kind:     KindNodepoolDelete,
		args:     []string{slotCluster, slotPool},
		flags:    []string{fResourceGroup, fName, fClusterName, fPoolName},
		nameSlot: slotPool,
		usage:    []string{"nodepool delete CLUSTER POOL [-g RG]"},
		summary:  "delete a node pool",
		about:    "Deletes a node pool, as a job. The last System pool of a cluster cannot be deleted.",
		examples: []string{"nodepool delete demo np2"},
		build:    buildPoolDelete,
	},
	{
		kind:     KindNodepoolUpgrade,
		args:     []string{slotCluster, slotPool},
		flags:    []string{fResourceGroup, fName, fClusterName, fPoolName, fK8sVersion, fNodeImage},
		nameSlot: slotPool,
		usage:    []string{"nodepool upgrade CLUSTER POOL (--kubernetes-version V | --node-image-only) [-g RG]"},
		summary:  "upgrade a node pool's Kubernetes version or node image",
		about: "Upgrades one pool to a Kubernetes version (at most the control plane's), or only its node " +
			"image to the latest. Give exactly one of the two.",
		examples: []string{"nodepool upgrade demo np2 --kubernetes-version 1.31.2", "nodepool upgrade demo np2 --node-image-only"},
		build:    buildPoolUpgrade,
	},
	{
		kind:     KindJobs,
		flags:    []string{fAll},
		usage:    []string{"jobs [--all]"},
		summary:  "list the jobs in progress (--all: recent jobs too)",
		about:    "Lists the jobs waiting for approval, queued or running; with --all also recent finished ones.",
		examples: []string{"jobs", "jobs --all"},
		build:    buildJobs,
	},
	{
		kind:     KindJob,
		args:     []string{slotID},
		usage:    []string{"job ID"},
		summary:  "show one job and its history",
		about:    "Shows a job's operation, plan, state and every event, with who did what and when.",
		examples: []string{"job 42"},
		build:    buildJobID,
	},
	{
		kind:    KindCancel,
		args:    []string{slotID},
		usage:   []string{"cancel ID"},
		summary: "cancel a job waiting for approval or queued",
		about: "Cancels a job that is waiting for approval or queued behind another operation on its cluster. " +
			"A job already sent to Azure cannot be cancelled: see `/aks abort`.",
		examples: []string{"cancel 42"},
		build:    buildJobID,
	},
	{
		kind:    KindPending,
		usage:   []string{"pending"},
		summary: "list the jobs waiting for an approval you could give",
		about: "Lists the jobs waiting for approval that you may approve or deny: not your own requests, " +
			"and only where the policy makes you an approver.",
		examples: []string{"pending"},
		build:    buildNothing,
	},
	{
		kind:     KindApprove,
		args:     []string{slotID},
		usage:    []string{"approve ID"},
		summary:  "approve a job waiting for approval",
		about:    "Approves a job, as the Approve button in its thread does. Jobs that need several approvals start after the last one. You cannot approve your own request.",
		examples: []string{"approve 42"},
		build:    buildJobID,
	},
	{
		kind:    KindDeny,
		args:    []string{slotID},
		reason:  slotReason,
		usage:   []string{"deny ID [REASON...]"},
		summary: "deny a job waiting for approval, with a reason",
		about: "Denies a job, as the Deny button in its thread does. The rest of the line after the ID is the " +
			"reason shown to the requester (quotes optional, at most 500 characters).",
		examples: []string{"deny 42", "deny 42 not during the release freeze"},
	},
	{
		kind:     KindWhoami,
		usage:    []string{"whoami"},
		summary:  "show what you may request and approve, and where",
		about:    "Shows which operations you may request and which you may approve, on which clusters and in which channels, as the policy says.",
		examples: []string{"whoami"},
		build:    buildNothing,
	},
	{
		kind:     KindPolicy,
		optional: []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"policy [CLUSTER] [-g RG]"},
		summary:  "show what needs approval on a cluster, who approves, and the guardrails",
		about: "Shows the rules that apply to a cluster: which operations need approval and how many, " +
			"who may approve, and the guardrails that refuse a request. Without CLUSTER it shows the defaults.",
		examples: []string{"policy", "policy prod-weu -g rg-prod"},
		build:    buildOptionalCluster,
	},
	{
		kind:     KindAudit,
		optional: []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName, fSince},
		nameSlot: slotCluster,
		usage:    []string{"audit [CLUSTER] [-g RG] [--since DURATION]"},
		summary:  "show the recent audit trail (approvers only)",
		about: "Shows who requested, approved, denied, cancelled and aborted what, and what was refused, " +
			"newest first, for one cluster or all. Only approvers may read it. --since takes Go durations " +
			"(90m, 12h) and days (7d); the default is 24h and the limit 90d.",
		examples: []string{"audit", "audit demo --since 7d", "audit -g rg-prod --since 2h"},
		build:    withSince(buildOptionalCluster),
	},
	{
		kind:     KindCost,
		optional: []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName},
		nameSlot: slotCluster,
		usage:    []string{"cost [CLUSTER] [-g RG]"},
		summary:  "show what a cluster (or every cluster of a resource group) costs now, at list prices",
		about: "Shows the current run rate at Azure list prices (pay-as-you-go, from the Retail Prices API): " +
			"per node pool and in total, per hour and per month (730 hours), with the control-plane tier. " +
			"Without CLUSTER it shows every cluster of the resource group.",
		examples: []string{"cost demo", "cost -g rg-prod"},
		build:    buildOptionalCluster,
	},
	{
		kind:  KindSchedule,
		flags: []string{fResourceGroup, fCron, fTZ, fNodeCount, fMinCount, fMaxCount},
		usage: []string{
			"schedule add NAME CLUSTER stop|start --cron EXPR [--tz ZONE] [-g RG]",
			"schedule add NAME CLUSTER nodepool scale POOL --node-count N --cron EXPR [--tz ZONE] [-g RG]",
			"schedule add NAME CLUSTER nodepool update POOL --min-count N --max-count N --cron EXPR [--tz ZONE] [-g RG]",
			"schedule list [CLUSTER] [-g RG]",
			"schedule show|pause|resume|delete NAME",
		},
		summary: "run stop, start, scale or autoscaler changes on a schedule",
		about: "Runs an operation at the times of a cron expression in a time zone (daylight saving included). " +
			"Adding, pausing, resuming or deleting a schedule needs the approvals its operation needs; " +
			"that approval covers every run. Each run is a job in the channel, checked against the policy again when it runs. " +
			"show lists the next five runs.",
		examples: []string{
			`schedule add evening-stop demo stop --cron "0 19 * * 1-5" --tz Europe/Amsterdam`,
			"schedule show evening-stop",
			"schedule list demo",
		},
	},
	{
		kind:     KindAbort,
		args:     []string{slotCluster},
		flags:    []string{fResourceGroup, fName, fClusterName, fPoolName},
		nameSlot: slotCluster,
		usage:    []string{"abort CLUSTER [--nodepool-name POOL] [-g RG]"},
		summary:  "abort the operation running on a cluster or node pool",
		about: "Asks Azure to abort the latest operation on the cluster, or on one node pool with --nodepool-name, " +
			"for an operation already sent to Azure (`/aks cancel` stops a job before that). Azure stops the " +
			"operation where it is: what it already changed stays changed.",
		examples:  []string{"abort demo", "abort demo --nodepool-name np2 -g rg-prod"},
		extraHint: "to abort a node pool's operation use --nodepool-name POOL",
		build:     buildAbort,
	},
}

// alias is another way of typing a command; all, when set, is the command meant when the
// last positional argument is left out (eksctl: `get nodegroup --cluster C` lists them).
type alias struct {
	words string
	all   Kind
}

// name is what is typed for the command, without the slash command: "nodepool scale".
func (s *spec) name() string {
	if s.words != "" {
		return s.words
	}
	return string(s.kind)
}

// specs finds an /aks command by its kind.
var specs = aksGrammar.byKind

// aksGrammar is /aks. Every mutating command takes --dry-run, and every command that reaches
// into Azure (by resource group or location) takes --subscription, as az does.
var aksGrammar = newGrammar(&grammar{
	slash: "/aks",
	group: "nodepool",
	list: func() []*spec {
		for _, s := range specList {
			if (Command{Kind: s.kind}).Mutating() {
				s.flags = append(s.flags, fDryRun)
			}
			for _, f := range s.flags {
				if f == fResourceGroup || f == fLocation {
					s.flags = append(s.flags, fSubscription)
					break
				}
			}
		}
		return specList
	}(),
	intro: "*aksbot* runs Azure Kubernetes Service operations. Changes become jobs: some wait for an approver, and each reports progress in a thread.",
	outro: "Commands that name a cluster take `-g RG`; without it the configured resource group is used. " +
		"Commands that change something take `--dry-run`: you alone see what the approval request would say (cost, quota, ETA), and nothing is stored or sent to Azure. " +
		"`/aks help COMMAND` or `/aks COMMAND --help` shows a command's flags and examples.",
	groupIntro: "*Node pool commands*: manage the node pools (agent pools) of a cluster. POOL names are 1-12 lowercase letters and digits.",
}, flagDefs)

// usageText is the command's usage, one "/aks ..." line per form.
func (s *spec) usageText() string {
	lines := make([]string, len(s.usage))
	for i, u := range s.usage {
		lines[i] = s.g.slash + " " + u
	}
	return strings.Join(lines, "\n")
}

func (s *spec) usageError(format string, args ...any) *UsageError {
	return &UsageError{Message: fmt.Sprintf(format, args...), Usage: s.usageText()}
}

// positionals lists the slots positional arguments fill, in order: required, then optional.
func (s *spec) positionals() []string {
	if len(s.optional) == 0 {
		return s.args
	}
	return append(append([]string(nil), s.args...), s.optional...)
}

func (s *spec) takes(long string) bool {
	for _, f := range s.flags {
		if f == long {
			return true
		}
	}
	return false
}

// slotOf says which slot a name flag fills in this command ("" for ordinary flags).
func (s *spec) slotOf(long string) string {
	if long == fName {
		return s.nameSlot
	}
	if f := s.g.flags[long]; f != nil {
		return f.slot
	}
	return ""
}

// metaOf is the placeholder for the flag's value in this command.
func (s *spec) metaOf(f *flagDef) string {
	if slot := s.slotOf(f.long); slot != "" {
		return slot
	}
	return f.meta
}

// spellings lists every way of writing the command's flags, for suggestions.
func (s *spec) spellings() []string {
	var out []string
	for _, long := range s.flags {
		out = append(out, s.g.flags[long].spellings()...)
	}
	return out
}

// input is a command's words sorted into slots and flags, before validation.
type input struct {
	slots map[string]string   // CLUSTER, POOL, ID: from positionals or name flags
	vals  map[string][]string // flag long name -> values (none for bool flags)
	used  map[string]string   // flag long name or slot -> how the user wrote it, for messages
}

func (in *input) has(long string) bool {
	_, ok := in.vals[long]
	return ok
}

func (in *input) value(long string) string {
	if v := in.vals[long]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// scan sorts the words after the command into positional slots and flags. It checks what can
// be checked without knowing the command's rules: known flags, values present, nothing twice,
// the right number of positional arguments.
func scan(sp *spec, toks []token) (*input, error) {
	in := &input{slots: map[string]string{}, vals: map[string][]string{}, used: map[string]string{}}
	var positional []string
	swallower := "" // the last list flag that took more than one value, for a hint
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.isFlag() {
			positional = append(positional, t.text)
			continue
		}
		spelling, inline, hasInline := strings.Cut(t.text, "=")
		f, err := sp.lookupFlag(spelling)
		if err != nil {
			return nil, err
		}
		var vals []string
		switch f.kind {
		case boolFlag:
			if hasInline {
				return nil, sp.usageError("%s takes no value", spelling)
			}
		case valueFlag:
			switch {
			case hasInline:
				vals = []string{inline}
			case i+1 < len(toks) && !toks[i+1].isFlag():
				i++
				vals = []string{toks[i].text}
			default:
				return nil, sp.usageError("%s needs a value (%s)", spelling, sp.metaOf(f))
			}
		case listFlag:
			if hasInline {
				vals = append(vals, inline)
			}
			for i+1 < len(toks) && !toks[i+1].isFlag() {
				i++
				vals = append(vals, toks[i].text)
			}
			if len(vals) == 0 {
				return nil, sp.usageError("%s needs a value (%s)", spelling, sp.metaOf(f))
			}
			if len(vals) > 1 {
				swallower = spelling
			}
		}
		if slot := sp.slotOf(f.long); slot != "" {
			if prev, ok := in.used[slot]; ok {
				return nil, sp.usageError("%s is given twice (%s and %s)", slotWords(slot), prev, spelling)
			}
			in.used[slot] = spelling
			in.slots[slot] = vals[0]
			continue
		}
		if prev, ok := in.used[f.long]; ok {
			if prev == spelling {
				return nil, sp.usageError("%s is given twice", spelling)
			}
			return nil, sp.usageError("%s is given twice (%s and %s)", f.long, prev, spelling)
		}
		in.used[f.long] = spelling
		in.vals[f.long] = vals
	}
	for _, p := range positional {
		filled := false
		for _, slot := range sp.positionals() {
			if _, ok := in.slots[slot]; !ok {
				in.slots[slot] = p
				filled = true
				break
			}
		}
		if !filled {
			msg := fmt.Sprintf("unexpected argument %s", quoteWord(p))
			for _, slot := range sp.positionals() {
				if by, ok := in.used[slot]; ok {
					msg += fmt.Sprintf(" (%s is already given by %s)", slotWords(slot), by)
					break
				}
			}
			if sp.extraHint != "" {
				msg += "; " + sp.extraHint
			}
			return nil, sp.usageError("%s", msg)
		}
	}
	for _, slot := range sp.args {
		if _, ok := in.slots[slot]; !ok {
			msg := "missing " + slotWords(slot)
			if swallower != "" {
				msg += fmt.Sprintf(" (%s takes every word up to the next flag: put %s before it)", swallower, slot)
			}
			return nil, sp.usageError("%s", msg)
		}
	}
	return in, nil
}

// lookupFlag finds a flag the command takes, or explains why the spelling is wrong.
func (sp *spec) lookupFlag(spelling string) (*flagDef, error) {
	key := strings.ToLower(spelling)
	f, ok := sp.g.flags[key]
	if !ok && len(key) == 3 && strings.HasPrefix(key, "--") {
		// A chat client turned "-g" into "–g", which reads back as "--g".
		f, ok = sp.g.flags[key[1:]]
	}
	if !ok {
		msg := "unknown flag " + clip(spelling)
		if hint, ok := sp.g.foreignFlags[key]; ok {
			msg += "; " + hint
		} else if s := suggestFlag(key, sp.spellings()); s != "" {
			msg += "; did you mean " + s + "?"
		}
		return nil, sp.usageError("%s", msg)
	}
	if !sp.takes(f.long) {
		msg := fmt.Sprintf("%s is not a flag of %s %s", spelling, sp.g.slash, sp.name())
		if hint := sp.misplaced[f.long]; hint != "" {
			msg += "; " + hint
		}
		return nil, sp.usageError("%s", msg)
	}
	return f, nil
}

func slotWords(slot string) string {
	switch slot {
	case slotCluster:
		return "the cluster name (CLUSTER)"
	case slotPool:
		return "the node pool name (POOL)"
	case slotNodegroup:
		return "the node group name (NODEGROUP)"
	case slotID:
		return "the job ID (ID)"
	}
	return slot
}
