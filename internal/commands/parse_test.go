package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

func intp(n int) *int { return &n }

// op builds the expected Operation for a test; Parse copies the resource group and cluster into
// the target, so the tests do too.
func op(kind aks.OpKind, rg, cluster, pool string, f func(*aks.Operation)) *aks.Operation {
	o := &aks.Operation{Kind: kind, Target: aks.Target{ResourceGroup: rg, Cluster: cluster, Pool: pool}}
	if f != nil {
		f(o)
	}
	return o
}

var acceptCases = []struct {
	name string
	in   string
	want Command
}{
	// help
	{"empty is the overview", "", Command{Kind: KindHelp}},
	{"only spaces", "  \u00a0 ", Command{Kind: KindHelp}},
	{"help", "help", Command{Kind: KindHelp}},
	{"help topic is canonical", "  HELP   nodepool   Scale ", Command{Kind: KindHelp, Topic: "nodepool scale"}},
	{"help nodepool", "help nodepool", Command{Kind: KindHelp, Topic: "nodepool"}},
	{"help help", "help help", Command{Kind: KindHelp, Topic: "help"}},
	{"--help alone", "--help", Command{Kind: KindHelp}},
	{"-h alone", "-h", Command{Kind: KindHelp}},
	{"command --help", "scale demo --node-cout 3 --help", Command{Kind: KindHelp, Topic: "scale"}},
	{"nodepool -h", "nodepool -h", Command{Kind: KindHelp, Topic: "nodepool"}},
	{"nodepool add --help", "nodepool add --help", Command{Kind: KindHelp, Topic: "nodepool add"}},
	{"leading /aks", "/aks list", Command{Kind: KindList}},

	// schedule
	{"schedule add stop", `schedule add evening-stop demo stop --cron "0 19 * * 1-5" --tz Europe/Amsterdam`, Command{Kind: KindSchedule, Cluster: "demo",
		Schedule: &ScheduleCommand{Action: "add", Name: "evening-stop", Cron: "0 19 * * 1-5", TimeZone: "Europe/Amsterdam",
			Op: &aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{Cluster: "demo"}}}}},
	{"schedule add start with -g and a descriptor", "schedule add morning demo start --cron @daily -g rg-aks", Command{Kind: KindSchedule, Cluster: "demo", ResourceGroup: "rg-aks",
		Schedule: &ScheduleCommand{Action: "add", Name: "morning", Cron: "@daily",
			Op: &aks.Operation{Kind: aks.OpClusterStart, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo"}}}}},
	{"schedule add nodepool scale, spaces squeezed", `schedule add night demo nodepool scale np2 --node-count 0 --cron "0  22 * * *"`, Command{Kind: KindSchedule, Cluster: "demo",
		Schedule: &ScheduleCommand{Action: "add", Name: "night", Cron: "0 22 * * *",
			Op: &aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{Cluster: "demo", Pool: "np2"}, NodeCount: intp(0)}}}},
	{"schedule add nodepool update", `schedule add day demo nodepool update np2 --min-count 2 --max-count 5 --cron "@every 30m"`, Command{Kind: KindSchedule, Cluster: "demo",
		Schedule: &ScheduleCommand{Action: "add", Name: "day", Cron: "@every 30m",
			Op: &aks.Operation{Kind: aks.OpPoolAutoscale, Target: aks.Target{Cluster: "demo", Pool: "np2"}, Autoscaler: &aks.Autoscaler{Min: 2, Max: 5}}}}},
	{"schedule list", "schedule list", Command{Kind: KindSchedule, Schedule: &ScheduleCommand{Action: "list"}}},
	{"schedule list cluster", "schedule LIST demo -g rg", Command{Kind: KindSchedule, Cluster: "demo", ResourceGroup: "rg", Schedule: &ScheduleCommand{Action: "list"}}},
	{"schedule show", "schedule show evening-stop", Command{Kind: KindSchedule, Schedule: &ScheduleCommand{Action: "show", Name: "evening-stop"}}},
	{"schedule pause", "schedule pause evening-stop", Command{Kind: KindSchedule, Schedule: &ScheduleCommand{Action: "pause", Name: "evening-stop"}}},
	{"schedule resume", "schedule resume evening-stop", Command{Kind: KindSchedule, Schedule: &ScheduleCommand{Action: "resume", Name: "evening-stop"}}},
	{"schedule delete", "schedule delete evening-stop", Command{Kind: KindSchedule, Schedule: &ScheduleCommand{Action: "delete", Name: "evening-stop"}}},
	{"schedule --help", "schedule add --help", Command{Kind: KindHelp, Topic: "schedule"}},

	// list
	{"list", "list", Command{Kind: KindList}},
	{"list capitalised by a phone", "List", Command{Kind: KindList}},
	{"list -g", "list -g rg-prod", Command{Kind: KindList, ResourceGroup: "rg-prod"}},
	{"list --resource-group=", "list --resource-group=rg.prod(1)", Command{Kind: KindList, ResourceGroup: "rg.prod(1)"}},
	{"list unicode resource group", "list -g rgé_1", Command{Kind: KindList, ResourceGroup: "rgé_1"}},
	{"list quoted group starting with -", `list -g "-rg"`, Command{Kind: KindList, ResourceGroup: "-rg"}},
	{"list 90 character group", "list -g " + strings.Repeat("r", 90), Command{Kind: KindList, ResourceGroup: strings.Repeat("r", 90)}},
	{"flag names are case-insensitive", "list --Resource-Group rg", Command{Kind: KindList, ResourceGroup: "rg"}},

	// show, get-upgrades
	{"show", "show demo", Command{Kind: KindShow, Cluster: "demo"}},
	{"show -n", "show -n demo -g rg", Command{Kind: KindShow, Cluster: "demo", ResourceGroup: "rg"}},
	{"show --name=", "show --name=demo", Command{Kind: KindShow, Cluster: "demo"}},
	{"show --cluster-name", "show --cluster-name demo", Command{Kind: KindShow, Cluster: "demo"}},
	{"one character cluster", "show a", Command{Kind: KindShow, Cluster: "a"}},
	{"63 character cluster", "show " + "a" + strings.Repeat("-_", 30) + "z1", Command{Kind: KindShow, Cluster: "a" + strings.Repeat("-_", 30) + "z1"}},
	{"get-upgrades", "get-upgrades demo -g rg", Command{Kind: KindGetUpgrades, Cluster: "demo", ResourceGroup: "rg"}},

	// create
	{"create minimal", "create demo", Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", nil)}},
	{"create full", "create demo -g rg -l westeurope --node-count 3 --node-vm-size Standard_D4s_v5 --kubernetes-version 1.30.4 " +
		"--enable-cluster-autoscaler --min-count 1 --max-count 5 --zones 1 2 3 --tags team=pay env=dev",
		Command{Kind: KindCreate, Cluster: "demo", ResourceGroup: "rg", Location: "westeurope",
			Op: op(aks.OpClusterCreate, "rg", "demo", "", func(o *aks.Operation) {
				o.Location = "westeurope"
				o.NodeCount = intp(3)
				o.VMSize = "Standard_D4s_v5"
				o.KubernetesVersion = "1.30.4"
				o.Autoscaler = &aks.Autoscaler{Min: 1, Max: 5}
				o.Zones = []string{"1", "2", "3"}
				o.Tags = map[string]string{"team": "pay", "env": "dev"}
			})}},
	{"create short aliases", "create -n demo -c 2 -s Standard_B2s -k 1.31 --location=EastUS2 --resource-group rg",
		Command{Kind: KindCreate, Cluster: "demo", ResourceGroup: "rg", Location: "eastus2",
			Op: op(aks.OpClusterCreate, "rg", "demo", "", func(o *aks.Operation) {
				o.Location = "eastus2"
				o.NodeCount = intp(2)
				o.VMSize = "Standard_B2s"
				o.KubernetesVersion = "1.31"
			})}},
	{"create location display name", `create demo -l "West Europe"`,
		Command{Kind: KindCreate, Cluster: "demo", Location: "westeurope",
			Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Location = "westeurope" })}},
	{"create zones with commas and =", "create demo --zones=1,3",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Zones = []string{"1", "3"} })}},
	{"create zones before a positional flag end", "create --zones 2 --name demo",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Zones = []string{"2"} })}},
	{"create quoted tag value", `create demo --tags owner="Jane Doe" "cost center=42" empty=`,
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) {
			o.Tags = map[string]string{"owner": "Jane Doe", "cost center": "42", "empty": ""}
		})}},
	{"create apostrophe inside a word", "create demo --tags owner=O'Brien",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) {
			o.Tags = map[string]string{"owner": "O'Brien"}
		})}},
	{"create escaped quote", `create demo --tags "say=\"hi\" \\o/"`,
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) {
			o.Tags = map[string]string{"say": `"hi" \o/`}
		})}},
	{"create count within autoscaler", "create demo -c 3 --enable-cluster-autoscaler --min-count 3 --max-count 3",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) {
			o.NodeCount = intp(3)
			o.Autoscaler = &aks.Autoscaler{Min: 3, Max: 3}
		})}},
	{"create max 1000", "create demo -c 1000",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.NodeCount = intp(1000) })}},

	// delete, start, stop
	{"delete", "delete demo -g rg", Command{Kind: KindDelete, Cluster: "demo", ResourceGroup: "rg", Op: op(aks.OpClusterDelete, "rg", "demo", "", nil)}},
	{"start", "start --name demo", Command{Kind: KindStart, Cluster: "demo", Op: op(aks.OpClusterStart, "", "demo", "", nil)}},
	{"stop", "stop demo", Command{Kind: KindStop, Cluster: "demo", Op: op(aks.OpClusterStop, "", "demo", "", nil)}},

	// scale
	{"scale to 0", "scale demo --node-count 0",
		Command{Kind: KindScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "", func(o *aks.Operation) { o.NodeCount = intp(0) })}},
	{"scale a named pool", "scale demo -c 5 --nodepool-name np2 -g rg",
		Command{Kind: KindScale, Cluster: "demo", ResourceGroup: "rg", Op: op(aks.OpPoolScale, "rg", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(5) })}},
	{"scale --name is the cluster", "scale --name demo --node-count=7",
		Command{Kind: KindScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "", func(o *aks.Operation) { o.NodeCount = intp(7) })}},
	{"scale flags first", "scale -c 2 demo",
		Command{Kind: KindScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "", func(o *aks.Operation) { o.NodeCount = intp(2) })}},

	// upgrade
	{"upgrade", "upgrade demo --kubernetes-version 1.31.2",
		Command{Kind: KindUpgrade, Cluster: "demo", Op: op(aks.OpClusterUpgrade, "", "demo", "", func(o *aks.Operation) { o.KubernetesVersion = "1.31.2" })}},
	{"upgrade control plane only", "upgrade demo -k 1.31 --control-plane-only",
		Command{Kind: KindUpgrade, Cluster: "demo", Op: op(aks.OpClusterUpgrade, "", "demo", "", func(o *aks.Operation) {
			o.KubernetesVersion = "1.31"
			o.ControlPlaneOnly = true
		})}},

	// get-versions
	{"get-versions", "get-versions", Command{Kind: KindGetVersions}},
	{"get-versions -l", "get-versions -l westeurope", Command{Kind: KindGetVersions, Location: "westeurope"}},
	{"get-versions --location display name", `get-versions --location "East US 2"`, Command{Kind: KindGetVersions, Location: "eastus2"}},

	// nodepool list
	{"nodepool list", "nodepool list demo", Command{Kind: KindNodepoolList, Cluster: "demo"}},
	{"nodepool list --cluster-name", "NodePool List --cluster-name demo -g rg", Command{Kind: KindNodepoolList, Cluster: "demo", ResourceGroup: "rg"}},

	// nodepool add
	{"nodepool add minimal", "nodepool add demo np2", Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", nil)}},
	{"nodepool add user pool of 0 nodes", "nodepool add demo np2 -c 0",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(0) })}},
	{"nodepool add full", "nodepool add demo gpu1 --node-count 2 --node-vm-size Standard_NC6s_v3 --mode system --os-type LINUX " +
		"--enable-cluster-autoscaler --min-count 1 --max-count 4 --labels example.com/gpu=true tier=a.b-c_d empty= " +
		"--node-taints sku=gpu:noschedule sku=gpu:NoExecute dedicated=:preferNoSchedule --zones 1 2 -g rg",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", ResourceGroup: "rg", Op: op(aks.OpPoolAdd, "rg", "demo", "gpu1", func(o *aks.Operation) {
			o.NodeCount = intp(2)
			o.VMSize = "Standard_NC6s_v3"
			o.Mode = "System"
			o.OSType = "Linux"
			o.Autoscaler = &aks.Autoscaler{Min: 1, Max: 4}
			o.Labels = map[string]string{"example.com/gpu": "true", "tier": "a.b-c_d", "empty": ""}
			o.Taints = []string{"sku=gpu:NoSchedule", "sku=gpu:NoExecute", "dedicated=:PreferNoSchedule"}
			o.Zones = []string{"1", "2"}
		})}},
	{"nodepool add user autoscaler from 0", "nodepool add demo np2 --enable-cluster-autoscaler --min-count 0 --max-count 1000",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", func(o *aks.Operation) { o.Autoscaler = &aks.Autoscaler{Min: 0, Max: 1000} })}},
	{"nodepool add windows 6 characters", "nodepool add demo win123 --os-type windows",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "win123", func(o *aks.Operation) { o.OSType = "Windows" })}},
	{"nodepool add 12 character pool", "nodepool add demo abcdefghij12",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "abcdefghij12", nil)}},
	{"nodepool add az names", "nodepool add --cluster-name demo --name np2",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", nil)}},
	{"nodepool add --nodepool-name", "nodepool add demo --nodepool-name np2",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", nil)}},
	{"nodepool add -n then positional cluster", "nodepool add -n np2 demo",
		Command{Kind: KindNodepoolAdd, Cluster: "demo", Op: op(aks.OpPoolAdd, "", "demo", "np2", nil)}},

	// nodepool scale
	{"nodepool scale", "nodepool scale demo np2 --node-count 3",
		Command{Kind: KindNodepoolScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(3) })}},
	{"nodepool scale az style to 0", "nodepool scale --cluster-name demo -n np2 -c 0 -g rg",
		Command{Kind: KindNodepoolScale, Cluster: "demo", ResourceGroup: "rg", Op: op(aks.OpPoolScale, "rg", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(0) })}},

	{"nodepool scale --dry-run", "nodepool scale demo nodepool1 --node-count 40 --dry-run",
		Command{Kind: KindNodepoolScale, Cluster: "demo", DryRun: true, Op: op(aks.OpPoolScale, "", "demo", "nodepool1", func(o *aks.Operation) { o.NodeCount = intp(40) })}},
	{"--dry-run first, any case", "nodepool scale --DRY-RUN demo np2 -c 3",
		Command{Kind: KindNodepoolScale, Cluster: "demo", DryRun: true, Op: op(aks.OpPoolScale, "", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(3) })}},
	{"create --dry-run", "create demo --dry-run -l eastus",
		Command{Kind: KindCreate, Cluster: "demo", Location: "eastus", DryRun: true, Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Location = "eastus" })}},
	{"delete --dry-run", "delete demo -g rg --dry-run",
		Command{Kind: KindDelete, Cluster: "demo", ResourceGroup: "rg", DryRun: true, Op: op(aks.OpClusterDelete, "rg", "demo", "", nil)}},
	{"stop --dry-run", "stop demo --dry-run",
		Command{Kind: KindStop, Cluster: "demo", DryRun: true, Op: op(aks.OpClusterStop, "", "demo", "", nil)}},

	// subscriptions: the parser keeps what was typed; the bot resolves it
	{"list --subscription", "list --subscription prod", Command{Kind: KindList, Subscription: "prod"}},
	{"list --all-subscriptions", "list --all-subscriptions -g rg", Command{Kind: KindList, ResourceGroup: "rg", AllSubscriptions: true}},
	{"--subscription=ID", "show demo --subscription=22222222-2222-2222-2222-22222222abcd",
		Command{Kind: KindShow, Cluster: "demo", Subscription: "22222222-2222-2222-2222-22222222abcd"}},
	{"nodepool scale --subscription", "nodepool scale demo np2 -c 3 --subscription dev",
		Command{Kind: KindNodepoolScale, Cluster: "demo", Subscription: "dev", Op: op(aks.OpPoolScale, "", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(3) })}},
	{"get-versions --subscription", "get-versions -l westeurope --subscription prod", Command{Kind: KindGetVersions, Location: "westeurope", Subscription: "prod"}},

	// cost
	{"cost of the resource group", "cost", Command{Kind: KindCost}},
	{"cost of a cluster", "cost demo -g rg", Command{Kind: KindCost, Cluster: "demo", ResourceGroup: "rg"}},
	{"cost --name", "cost --name demo", Command{Kind: KindCost, Cluster: "demo"}},
	{"cost of another resource group", "cost -g rg-prod", Command{Kind: KindCost, ResourceGroup: "rg-prod"}},

	// nodepool update
	{"nodepool update enable", "nodepool update demo np2 --enable-cluster-autoscaler --min-count 1 --max-count 5",
		Command{Kind: KindNodepoolUpdate, Cluster: "demo", Op: op(aks.OpPoolAutoscale, "", "demo", "np2", func(o *aks.Operation) { o.Autoscaler = &aks.Autoscaler{Min: 1, Max: 5} })}},
	{"nodepool update update from 0", "nodepool update demo np2 --update-cluster-autoscaler --min-count=0 --max-count=10",
		Command{Kind: KindNodepoolUpdate, Cluster: "demo", Op: op(aks.OpPoolAutoscale, "", "demo", "np2", func(o *aks.Operation) { o.Autoscaler = &aks.Autoscaler{Min: 0, Max: 10} })}},
	{"nodepool update disable", "nodepool update demo np2 --disable-cluster-autoscaler",
		Command{Kind: KindNodepoolUpdate, Cluster: "demo", Op: op(aks.OpPoolAutoscale, "", "demo", "np2", func(o *aks.Operation) { o.DisableAutoscaler = true })}},

	// nodepool delete, upgrade
	{"nodepool delete", "nodepool delete demo np2 -g rg",
		Command{Kind: KindNodepoolDelete, Cluster: "demo", ResourceGroup: "rg", Op: op(aks.OpPoolDelete, "rg", "demo", "np2", nil)}},
	{"nodepool upgrade version", "nodepool upgrade demo np2 -k 1.31.2",
		Command{Kind: KindNodepoolUpgrade, Cluster: "demo", Op: op(aks.OpPoolUpgrade, "", "demo", "np2", func(o *aks.Operation) { o.KubernetesVersion = "1.31.2" })}},
	{"nodepool upgrade node image", "nodepool upgrade demo np2 --node-image-only",
		Command{Kind: KindNodepoolUpgrade, Cluster: "demo", Op: op(aks.OpPoolUpgrade, "", "demo", "np2", func(o *aks.Operation) { o.NodeImageOnly = true })}},

	// jobs
	{"jobs", "jobs", Command{Kind: KindJobs}},
	{"jobs --all", "jobs --all", Command{Kind: KindJobs, All: true}},
	{"job", "job 42", Command{Kind: KindJob, JobID: "42"}},
	{"job leading zeros", "job 007", Command{Kind: KindJob, JobID: "7"}},
	{"cancel", "cancel 3", Command{Kind: KindCancel, JobID: "3"}},

	// approvals and the approver's commands
	{"pending", "pending", Command{Kind: KindPending}},
	{"whoami", "WhoAmI", Command{Kind: KindWhoami}},
	{"approve", "approve 42", Command{Kind: KindApprove, JobID: "42"}},
	{"approve leading zeros", "approve 0042", Command{Kind: KindApprove, JobID: "42"}},
	{"deny without reason", "deny 7", Command{Kind: KindDeny, JobID: "7"}},
	{"deny reason is the rest of the line", "deny 7 not during the freeze", Command{Kind: KindDeny, JobID: "7", Reason: "not during the freeze"}},
	{"deny quoted reason", `deny 7 "too risky"`, Command{Kind: KindDeny, JobID: "7", Reason: "too risky"}},
	{"deny single-quoted reason trimmed", `deny 7 '  too risky  '`, Command{Kind: KindDeny, JobID: "7", Reason: "too risky"}},
	{"deny smart-quoted reason", "deny 7 \u201ctoo risky\u201d", Command{Kind: KindDeny, JobID: "7", Reason: "too risky"}},
	{"deny reason with inner quotes kept", `deny 7 it's "partly" quoted`, Command{Kind: KindDeny, JobID: "7", Reason: `it's "partly" quoted`}},
	{"deny reason with unclosed quote", `deny 7 he said "wait`, Command{Kind: KindDeny, JobID: "7", Reason: `he said "wait`}},
	{"deny reason with flags and dashes", "deny 7 -- use -g rg-test --node-count 2 \u2014 not prod", Command{Kind: KindDeny, JobID: "7", Reason: "-- use -g rg-test --node-count 2 \u2014 not prod"}},
	{"deny reason keeps inner spacing", "deny 7  wait\tfor   Monday ", Command{Kind: KindDeny, JobID: "7", Reason: "wait for   Monday"}},
	{"deny reason with slack entities", "deny 7 a &amp; b &lt;3", Command{Kind: KindDeny, JobID: "7", Reason: "a & b <3"}},
	{"deny reason that is a quote", `deny 7 '"no"'`, Command{Kind: KindDeny, JobID: "7", Reason: `"no"`}},
	{"deny quoted --help is a reason", `deny 7 "--help"`, Command{Kind: KindDeny, JobID: "7", Reason: "--help"}},
	{"deny reason of 500 characters", "deny 7 " + strings.Repeat("é", 500), Command{Kind: KindDeny, JobID: "7", Reason: strings.Repeat("é", 500)}},
	{"deny --help", "deny --help", Command{Kind: KindHelp, Topic: "deny"}},
	{"deny ID -h", "deny 7 -h", Command{Kind: KindHelp, Topic: "deny"}},
	{"approve --help", "approve -h", Command{Kind: KindHelp, Topic: "approve"}},
	{"policy defaults", "policy", Command{Kind: KindPolicy}},
	{"policy of a cluster", "policy demo -g rg", Command{Kind: KindPolicy, Cluster: "demo", ResourceGroup: "rg"}},
	{"policy --name", "policy --name demo", Command{Kind: KindPolicy, Cluster: "demo"}},
	{"policy of a resource group", "policy -g rg", Command{Kind: KindPolicy, ResourceGroup: "rg"}},
	{"audit defaults to a day", "audit", Command{Kind: KindAudit, Since: 24 * time.Hour}},
	{"audit days", "audit demo --since 7d", Command{Kind: KindAudit, Cluster: "demo", Since: 7 * 24 * time.Hour}},
	{"audit Go duration", "audit --since=90m", Command{Kind: KindAudit, Since: 90 * time.Minute}},
	{"audit days and hours", "audit -g rg --since 1d12h", Command{Kind: KindAudit, ResourceGroup: "rg", Since: 36 * time.Hour}},
	{"audit fraction", "audit --since 1.5h", Command{Kind: KindAudit, Since: 90 * time.Minute}},
	{"audit 90 days", "audit --since 90d", Command{Kind: KindAudit, Since: 90 * 24 * time.Hour}},
	{"audit 2160 hours", "audit --since 2160h", Command{Kind: KindAudit, Since: 90 * 24 * time.Hour}},
	{"audit --cluster-name", "audit --cluster-name demo", Command{Kind: KindAudit, Cluster: "demo", Since: 24 * time.Hour}},
	{"abort cluster", "abort demo", Command{Kind: KindAbort, Cluster: "demo"}},
	{"abort pool", "abort demo --nodepool-name np2 -g rg", Command{Kind: KindAbort, Cluster: "demo", ResourceGroup: "rg", Pool: "np2"}},
	{"abort -n is the cluster", "abort -n demo", Command{Kind: KindAbort, Cluster: "demo"}},

	// what Slack and phones do to text
	{"em dash for --", "scale demo \u2014node-count 3",
		Command{Kind: KindScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "", func(o *aks.Operation) { o.NodeCount = intp(3) })}},
	{"en dash for --", "upgrade demo \u2013kubernetes-version 1.30",
		Command{Kind: KindUpgrade, Cluster: "demo", Op: op(aks.OpClusterUpgrade, "", "demo", "", func(o *aks.Operation) { o.KubernetesVersion = "1.30" })}},
	{"en dash short flag", "list \u2013g rg", Command{Kind: KindList, ResourceGroup: "rg"}},
	{"non-breaking and thin spaces", "nodepool\u00a0scale\u202fdemo\u2009np2 --node-count\u00a03",
		Command{Kind: KindNodepoolScale, Cluster: "demo", Op: op(aks.OpPoolScale, "", "demo", "np2", func(o *aks.Operation) { o.NodeCount = intp(3) })}},
	{"tabs and newlines", "list\t-g\nrg", Command{Kind: KindList, ResourceGroup: "rg"}},
	{"smart double quotes", "create demo --tags owner=\u201cJane Doe\u201d",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Tags = map[string]string{"owner": "Jane Doe"} })}},
	{"smart single quotes", "get-versions -l \u2018West Europe\u2019", Command{Kind: KindGetVersions, Location: "westeurope"}},
	{"zero-width space", "show de\u200bmo", Command{Kind: KindShow, Cluster: "demo"}},
	{"non-breaking hyphen in a name", "show my\u2011cluster", Command{Kind: KindShow, Cluster: "my-cluster"}},
	{"slack entities", "create demo --tags note=a&amp;b&lt;c&gt;",
		Command{Kind: KindCreate, Cluster: "demo", Op: op(aks.OpClusterCreate, "", "demo", "", func(o *aks.Operation) { o.Tags = map[string]string{"note": "a&b<c>"} })}},
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tc.in, describe(got), describe(tc.want))
			}
			if got.Mutating() != (got.Op != nil) {
				t.Errorf("Mutating() = %v but Op = %v", got.Mutating(), got.Op)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("re-parse of %q\n got %#v\nwant %#v", got.String(), describe(again), describe(got))
			}
		})
	}
}

// describe shows a Command with its Operation spelled out, for readable failures.
func describe(c Command) any {
	type shown struct {
		C  Command
		Op aks.Operation
		N  any
	}
	s := shown{C: c}
	if c.Op != nil {
		s.Op = *c.Op
		s.C.Op = nil
		if c.Op.NodeCount != nil {
			s.N = *c.Op.NodeCount
		}
	}
	return s
}

var refuseCases = []struct {
	name  string
	in    string
	usage string   // expected in Usage
	want  []string // expected in Message
}{
	// schedule
	{"schedule alone", "schedule", "/aks schedule add", []string{"missing what to do"}},
	{"schedule unknown action", "schedule ad x demo stop --cron @daily", "/aks schedule add", []string{"unknown schedule action ad", "did you mean add?"}},
	{"schedule bad cron", `schedule add x demo stop --cron "0 25 * * *"`, "/aks schedule add", []string{"invalid cron expression", "five fields"}},
	{"schedule unquoted cron", "schedule add x demo stop --cron 0 19 * * 1-5", "/aks schedule add", []string{"unexpected argument 19"}},
	{"schedule one-field cron", "schedule add x demo stop --cron 0", "/aks schedule add", []string{"invalid cron expression", "in quotes"}},
	{"schedule bad tz", "schedule add x demo stop --cron @daily --tz Europe/Amsterdan", "/aks schedule add", []string{"unknown time zone", "IANA"}},
	{"schedule Local tz", "schedule add x demo stop --cron @daily --tz Local", "/aks schedule add", []string{"not allowed"}},
	{"schedule too often", `schedule add x demo stop --cron "@every 10s"`, "/aks schedule add", []string{"at least 1m"}},
	{"schedule missing cron", "schedule add x demo stop", "/aks schedule add", []string{"missing --cron"}},
	{"schedule missing op", "schedule add x demo --cron @daily", "/aks schedule add", []string{"missing the operation"}},
	{"schedule unknown op", "schedule add x demo upgrade --cron @daily", "/aks schedule add", []string{"unknown operation upgrade"}},
	{"schedule scale without count", "schedule add x demo nodepool scale np2 --cron @daily", "/aks schedule add", []string{"missing --node-count"}},
	{"schedule update inverted", "schedule add x demo nodepool update np2 --min-count 5 --max-count 2 --cron @daily", "/aks schedule add", []string{"--min-count 5 is more than --max-count 2"}},
	{"schedule count on stop", "schedule add x demo stop --node-count 2 --cron @daily", "/aks schedule add", []string{"--node-count does not apply to stop"}},
	{"schedule bad name", "schedule show Evening_Stop", "/aks schedule add", []string{"invalid schedule name"}},
	{"schedule show without name", "schedule show", "/aks schedule add", []string{"missing the schedule's NAME"}},
	{"schedule show takes no cron", "schedule show x --cron @daily", "/aks schedule add", []string{"schedule show takes no --cron"}},
	{"schedule unknown flag", "schedule add x demo stop --cron @daily --zt UTC", "/aks schedule add", []string{"--zt"}},

	// commands
	{"unknown command with suggestion", "sacle demo", "/aks COMMAND", []string{"unknown command sacle", "did you mean scale?"}},
	{"nodepool subcommand at top level", "add demo np2", "/aks COMMAND", []string{"unknown command add", "did you mean nodepool add?"}},
	{"unknown command without suggestion", "frobnicate", "/aks COMMAND", []string{"unknown command frobnicate"}},
	{"flag before command", "--node-count 3", "/aks COMMAND", []string{"missing command", "--node-count"}},
	{"nodepool alone", "nodepool", "/aks nodepool scale CLUSTER POOL", []string{"missing nodepool subcommand"}},
	{"nodepool then a flag", "nodepool -g rg", "/aks nodepool list", []string{"missing nodepool subcommand", "-g"}},
	{"--subscription without a value", "list --subscription", "/aks list", []string{"--subscription"}},
	{"--subscription not a word", "list --subscription 'my prod'", "/aks list", []string{`invalid subscription "my prod"`}},
	{"--subscription and --all-subscriptions", "list --subscription prod --all-subscriptions", "/aks list", []string{"either --subscription or --all-subscriptions"}},
	{"--all-subscriptions only on list", "show demo --all-subscriptions", "/aks show", []string{"--all-subscriptions"}},
	{"--subscription not on jobs", "jobs --subscription prod", "/aks jobs", []string{"--subscription"}},
	{"unknown nodepool subcommand", "nodepool sclae demo np2", "/aks nodepool scale", []string{"unknown nodepool subcommand sclae", "did you mean nodepool scale?"}},
	{"help of an unknown topic", "help sacle", "/aks help [COMMAND]", []string{"no help for sacle", "did you mean scale?"}},
	{"help of an unknown nodepool topic", "help nodepool ad", "/aks help", []string{"did you mean nodepool add?"}},
	{"unclosed quote", `create demo --tags a="b`, "/aks COMMAND", []string{"quote is not closed"}},
	{"too long", "list " + strings.Repeat("x", maxInput), "/aks COMMAND", []string{"too long"}},

	// flags
	{"unknown flag with suggestion", "scale demo --node-cout 3", "/aks scale CLUSTER", []string{"unknown flag --node-cout", "did you mean --node-count?"}},
	{"unknown flag suffix suggestion", "scale demo --count 3", "/aks scale", []string{"unknown flag --count", "did you mean --node-count?"}},
	{"unknown flag prefix suggestion", "nodepool update demo np2 --enable-cluster-autoscaler --min 1 --max-count 3", "/aks nodepool update", []string{"unknown flag --min", "did you mean --min-count?"}},
	{"unknown short flag", "list -x rg", "/aks list", []string{"unknown flag -x"}},
	{"flag of another command", "show demo --zones 1", "/aks show CLUSTER", []string{"--zones is not a flag of /aks show"}},
	{"-n in nodepool list", "nodepool list -n demo", "/aks nodepool list", []string{"-n is not a flag of /aks nodepool list"}},
	{"-g on get-versions", "get-versions -g rg", "/aks get-versions", []string{"-g is not a flag of /aks get-versions"}},
	{"node count with nodepool update", "nodepool update demo np2 --node-count 3", "/aks nodepool update", []string{"--node-count is not a flag of /aks nodepool update", "nodepool scale"}},
	{"autoscaler limits on scale", "scale demo --min-count 1", "/aks scale", []string{"--min-count is not a flag of /aks scale", "--update-cluster-autoscaler"}},
	{"flag given twice", "scale demo -c 3 -c 4", "/aks scale", []string{"-c is given twice"}},
	{"flag given twice by alias", "scale demo -c 3 --node-count 4", "/aks scale", []string{"--node-count is given twice", "-c and --node-count"}},
	{"list flag given twice", "create demo --zones 1 --zones 2", "/aks create", []string{"--zones is given twice"}},
	{"cluster given twice by flags", "show -n a --cluster-name b", "/aks show", []string{"cluster", "given twice", "-n and --cluster-name"}},
	{"pool given twice by flags", "nodepool delete demo -n a --nodepool-name b", "/aks nodepool delete", []string{"node pool", "given twice"}},
	{"value missing at end", "list -g", "/aks list", []string{"-g needs a value (RG)"}},
	{"name value missing", "nodepool scale demo -c 3 -n", "/aks nodepool scale", []string{"-n needs a value (POOL)"}},
	{"value missing before flag", "nodepool scale demo np2 -c --all", "/aks nodepool scale", []string{"-c needs a value"}},
	{"list flag without values", "create demo --zones", "/aks create", []string{"--zones needs a value"}},
	{"list flag without values before flag", "create demo --tags -g rg", "/aks create", []string{"--tags needs a value"}},
	{"bool flag with value", "jobs --all=true", "/aks jobs", []string{"--all takes no value"}},

	// positional arguments
	{"missing cluster", "show", "/aks show", []string{"missing the cluster"}},
	{"missing pool", "nodepool scale demo -c 3", "/aks nodepool scale", []string{"missing the node pool"}},
	{"missing job ID", "job", "/aks job ID", []string{"missing the job ID"}},
	{"extra argument", "show demo extra", "/aks show", []string{"unexpected argument extra"}},
	{"extra argument after name flag", "show demo -n demo", "/aks show", []string{"unexpected argument demo", "already given by -n"}},
	{"extra argument to jobs", "jobs all", "/aks jobs", []string{"unexpected argument all"}},
	{"extra argument to job", "job 1 2", "/aks job", []string{"unexpected argument 2"}},

	// names
	{"cluster with bad character", "show bad!", "/aks show", []string{`invalid cluster name "bad!"`}},
	{"cluster ending in _", "delete demo_", "/aks delete", []string{`invalid cluster name "demo_"`}},
	{"cluster starting with -", `show "-demo"`, "/aks show", []string{`invalid cluster name "-demo"`}},
	{"cluster of 64 characters", "show " + strings.Repeat("a", 64), "/aks show", []string{"invalid cluster name"}},
	{"empty cluster", `show ""`, "/aks show", []string{`invalid cluster name ""`}},
	{"pool with capitals", "nodepool delete demo NP2", "/aks nodepool delete", []string{`invalid node pool name "NP2"`}},
	{"pool starting with a digit", "nodepool delete demo 1np", "/aks nodepool delete", []string{`invalid node pool name "1np"`}},
	{"pool with a dash", "nodepool scale demo np-2 -c 1", "/aks nodepool scale", []string{`invalid node pool name "np-2"`}},
	{"pool of 13 characters", "nodepool add demo abcdefghij123", "/aks nodepool add", []string{`invalid node pool name "abcdefghij123"`}},
	{"scale pool name", "scale demo -c 3 --nodepool-name NP", "/aks scale", []string{`invalid node pool name "NP"`}},
	{"windows pool of 7 characters", "nodepool add demo win1234 --os-type Windows", "/aks nodepool add", []string{`"win1234"`, "at most 6"}},
	{"windows system pool", "nodepool add demo win1 --os-type Windows --mode System", "/aks nodepool add", []string{"System pool must run Linux"}},
	{"resource group ending in .", "list -g rg.", "/aks list", []string{`invalid resource group name "rg."`}},
	{"resource group with /", "show demo -g rg/x", "/aks show", []string{`invalid resource group name "rg/x"`}},
	{"resource group of 91 characters", "list -g " + strings.Repeat("r", 91), "/aks list", []string{"invalid resource group name"}},
	{"empty resource group", `list -g ""`, "/aks list", []string{`invalid resource group name ""`}},
	{"bad location", "get-versions -l west-europe", "/aks get-versions", []string{`invalid location "west-europe"`}},
	{"bad VM size", `create demo -s "Standard D2"`, "/aks create", []string{`invalid VM size "Standard D2"`}},

	// counts
	{"count not a number", "scale demo -c abc", "/aks scale", []string{`-c "abc" is not a whole number`}},
	{"count a fraction", "nodepool scale demo np2 --node-count 1.5", "/aks nodepool scale", []string{`--node-count "1.5" is not a whole number`}},
	{"count over 1000", "scale demo --node-count 1001", "/aks scale", []string{"--node-count 1001 is out of range 0-1000"}},
	{"count negative", "nodepool scale demo np2 -c -1", "/aks nodepool scale", []string{"-c -1 is out of range"}},
	{"count overflows", "scale demo -c 99999999999999999999", "/aks scale", []string{"out of range"}},
	{"create with 0 nodes", "create demo -c 0", "/aks create", []string{"-c 0 is out of range 1-1000", "System pool"}},
	{"system pool with 0 nodes", "nodepool add demo np2 --mode System -c 0", "/aks nodepool add", []string{"-c 0 is out of range 1-1000"}},
	{"missing scale count", "scale demo", "/aks scale", []string{"missing --node-count"}},
	{"missing nodepool scale count", "nodepool scale demo np2", "/aks nodepool scale", []string{"missing --node-count"}},

	// autoscaler
	{"autoscaler without limits", "create demo --enable-cluster-autoscaler", "/aks create", []string{"--enable-cluster-autoscaler needs --min-count and --max-count"}},
	{"autoscaler without max", "nodepool add demo np2 --enable-cluster-autoscaler --min-count 1", "/aks nodepool add", []string{"needs --max-count"}},
	{"autoscaler without min", "nodepool add demo np2 --enable-cluster-autoscaler --max-count 1", "/aks nodepool add", []string{"needs --min-count"}},
	{"autoscaler min over max", "create demo --enable-cluster-autoscaler --min-count 5 --max-count 3", "/aks create", []string{"--min-count 5 is more than --max-count 3"}},
	{"autoscaler max over 1000", "nodepool add demo np2 --enable-cluster-autoscaler --min-count 1 --max-count 1001", "/aks nodepool add", []string{"--max-count 1001 is out of range"}},
	{"autoscaler negative min", "nodepool add demo np2 --enable-cluster-autoscaler --min-count -1 --max-count 3", "/aks nodepool add", []string{"--min-count -1 is out of range"}},
	{"system autoscaler from 0", "create demo --enable-cluster-autoscaler --min-count 0 --max-count 3", "/aks create", []string{"--min-count 0 is out of range 1-1000"}},
	{"limits without autoscaler", "create demo --min-count 1 --max-count 3", "/aks create", []string{"--min-count needs --enable-cluster-autoscaler"}},
	{"max without autoscaler", "nodepool add demo np2 --max-count 3", "/aks nodepool add", []string{"--max-count needs --enable-cluster-autoscaler"}},
	{"count outside limits", "create demo -c 10 --enable-cluster-autoscaler --min-count 1 --max-count 5", "/aks create", []string{"--node-count 10 is outside the autoscaler's limits 1-5"}},
	{"count below limits", "nodepool add demo np2 -c 0 --enable-cluster-autoscaler --min-count 1 --max-count 5", "/aks nodepool add", []string{"outside the autoscaler's limits"}},
	{"nodepool update without action", "nodepool update demo np2", "/aks nodepool update", []string{"needs one of --enable-cluster-autoscaler, --update-cluster-autoscaler or --disable-cluster-autoscaler"}},
	{"nodepool update two actions", "nodepool update demo np2 --enable-cluster-autoscaler --disable-cluster-autoscaler", "/aks nodepool update", []string{"only one of --enable-cluster-autoscaler and --disable-cluster-autoscaler"}},
	{"nodepool update disable with limits", "nodepool update demo np2 --disable-cluster-autoscaler --max-count 3", "/aks nodepool update", []string{"--max-count cannot be used with --disable-cluster-autoscaler"}},
	{"nodepool update update without limits", "nodepool update demo np2 --update-cluster-autoscaler", "/aks nodepool update", []string{"--update-cluster-autoscaler needs --min-count and --max-count"}},
	{"nodepool update min over max", "nodepool update demo np2 --update-cluster-autoscaler --min-count 4 --max-count 2", "/aks nodepool update", []string{"--min-count 4 is more than --max-count 2"}},

	// upgrades and versions
	{"upgrade without version", "upgrade demo", "/aks upgrade", []string{"missing --kubernetes-version"}},
	{"version with v", "upgrade demo -k v1.30", "/aks upgrade", []string{`invalid Kubernetes version "v1.30"`}},
	{"version too short", "create demo -k 1", "/aks create", []string{`invalid Kubernetes version "1"`}},
	{"version too long", "nodepool upgrade demo np2 -k 1.30.4.5", "/aks nodepool upgrade", []string{`invalid Kubernetes version "1.30.4.5"`}},
	{"nodepool upgrade both", "nodepool upgrade demo np2 -k 1.30 --node-image-only", "/aks nodepool upgrade", []string{"only one of -k and --node-image-only"}},
	{"nodepool upgrade neither", "nodepool upgrade demo np2", "/aks nodepool upgrade", []string{"needs --kubernetes-version V or --node-image-only"}},
	{"node image only on cluster upgrade", "upgrade demo --node-image-only", "/aks upgrade", []string{"--node-image-only is not a flag of /aks upgrade", "nodepool upgrade"}},

	// zones, tags, labels, taints, mode, os
	{"zone 4", "create demo --zones 1 4", "/aks create", []string{`invalid zone "4"`}},
	{"zone 0 in a list", "nodepool add demo np2 --zones 0,1", "/aks nodepool add", []string{`invalid zone "0"`}},
	{"zone twice", "create demo --zones 1 2 1", "/aks create", []string{"zone 1 is given twice"}},
	{"positionals swallowed by zones", "nodepool add --zones 1 demo np2", "/aks nodepool add", []string{"missing the cluster", "--zones takes every word up to the next flag"}},
	{"pool swallowed by zones", "nodepool add demo --zones 1 np2", "/aks nodepool add", []string{"missing the node pool", "--zones takes every word"}},
	{"single zone does not hint", "nodepool add demo --zones 1", "/aks nodepool add", []string{"missing the node pool"}},
	{"tag without =", "create demo --tags novalue", "/aks create", []string{`invalid tag "novalue"`, "key=value"}},
	{"tag name with /", "create demo --tags a/b=c", "/aks create", []string{`invalid tag name "a/b"`}},
	{"empty tag name", "create demo --tags =x", "/aks create", []string{`invalid tag name ""`}},
	{"tag twice in other case", "create demo --tags Env=a env=b", "/aks create", []string{`tag "env" is given twice`}},
	{"tag value too long", "create demo --tags k=" + strings.Repeat("v", 257), "/aks create", []string{`invalid value for tag "k"`}},
	{"tag name too long", "create demo --tags " + strings.Repeat("k", 513) + "=v", "/aks create", []string{"invalid tag name"}},
	{"label without =", "nodepool add demo np2 --labels bad", "/aks nodepool add", []string{`invalid label "bad"`}},
	{"label key starting with _", "nodepool add demo np2 --labels _x=1", "/aks nodepool add", []string{`invalid label key "_x"`}},
	{"label key with bad prefix", "nodepool add demo np2 --labels Example.com/x=1", "/aks nodepool add", []string{`invalid label key "Example.com/x"`}},
	{"label value with space", `nodepool add demo np2 --labels "a=b c"`, "/aks nodepool add", []string{`invalid value for label "a"`}},
	{"label value too long", "nodepool add demo np2 --labels a=" + strings.Repeat("v", 64), "/aks nodepool add", []string{`invalid value for label "a"`}},
	{"label twice", "nodepool add demo np2 --labels a=1 a=2", "/aks nodepool add", []string{`label "a" is given twice`}},
	{"taint without effect", "nodepool add demo np2 --node-taints a=b", "/aks nodepool add", []string{`invalid taint "a=b"`, "key=value:Effect"}},
	{"taint without value", "nodepool add demo np2 --node-taints a:NoSchedule", "/aks nodepool add", []string{`invalid taint "a:NoSchedule"`}},
	{"taint bad effect", "nodepool add demo np2 --node-taints a=b:Never", "/aks nodepool add", []string{`invalid taint effect "Never"`, "NoSchedule, PreferNoSchedule, NoExecute"}},
	{"taint starting with - is a flag", "nodepool add demo np2 --node-taints -a=b:NoSchedule", "/aks nodepool add", []string{"--node-taints needs a value"}},
	{"taint bad quoted key", `nodepool add demo np2 --node-taints "-a=b:NoSchedule"`, "/aks nodepool add", []string{`invalid taint key "-a"`}},
	{"taint twice", "nodepool add demo np2 --node-taints a=b:NoSchedule a=c:noschedule", "/aks nodepool add", []string{"taint a:NoSchedule is given twice"}},
	{"bad mode", "nodepool add demo np2 --mode Spot", "/aks nodepool add", []string{`invalid --mode "Spot"`, "User or System"}},
	{"bad os", "nodepool add demo np2 --os-type Mac", "/aks nodepool add", []string{`invalid --os-type "Mac"`, "Linux or Windows"}},

	// job IDs
	{"job 0", "job 0", "/aks job ID", []string{`invalid job ID "0"`}},
	{"job negative", "cancel -1", "/aks cancel ID", []string{`invalid job ID "-1"`}},
	{"job not a number", "job abc", "/aks job ID", []string{`invalid job ID "abc"`}},
	{"job with sign", "job +5", "/aks job ID", []string{`invalid job ID "+5"`}},

	// approvals and the approver's commands
	{"whoami typo", "whomai", "/aks COMMAND", []string{"unknown command whomai", "did you mean whoami?"}},
	{"approve typo", "aprove 5", "/aks COMMAND", []string{"did you mean approve?"}},
	{"deny typo", "deyn 5", "/aks COMMAND", []string{"did you mean deny?"}},
	{"pending typo", "pendign", "/aks COMMAND", []string{"did you mean pending?"}},
	{"policy typo", "polcy demo", "/aks COMMAND", []string{"did you mean policy?"}},
	{"audit typo", "audti", "/aks COMMAND", []string{"did you mean audit?"}},
	{"abort typo", "abrot demo", "/aks COMMAND", []string{"did you mean abort?"}},
	{"whoami with an argument", "whoami alice", "/aks whoami", []string{"unexpected argument alice"}},
	{"pending with a flag", "pending -g rg", "/aks pending", []string{"-g is not a flag of /aks pending"}},
	{"approve without ID", "approve", "/aks approve ID", []string{"missing the job ID"}},
	{"approve bad ID", "approve 0", "/aks approve ID", []string{`invalid job ID "0"`}},
	{"approve with a comment", "approve 5 lgtm", "/aks approve ID", []string{"unexpected argument lgtm"}},
	{"deny without ID", "deny", "/aks deny ID [REASON...]", []string{"missing the job ID"}},
	{"deny bad ID", "deny abc too risky", "/aks deny", []string{`invalid job ID "abc"`}},
	{"deny flag before ID", "deny -g rg 5", "/aks deny", []string{"-g is not a flag of /aks deny"}},
	{"deny unknown flag", "deny --reason x 5", "/aks deny", []string{"unknown flag --reason"}},
	{"deny reason too long", "deny 5 " + strings.Repeat("x", 501), "/aks deny", []string{"the reason is 501 characters long", "keep it to 500"}},
	{"deny reason with control character", "deny 5 bad\x01char", "/aks deny", []string{"control character"}},
	{"deny unclosed quote in the ID", `deny "5 reason`, "/aks COMMAND", []string{"quote is not closed"}},
	{"unclosed quote elsewhere", `approve 5 "x`, "/aks COMMAND", []string{"quote is not closed"}},
	{"dry-run on a read-only command", "show demo --dry-run", "/aks show", []string{"--dry-run is not a flag of /aks show"}},
	{"dry-run on approve", "jobs --dry-run", "/aks jobs", []string{"--dry-run is not a flag of /aks jobs"}},
	{"dry-run with a value", "delete demo --dry-run=yes", "/aks delete", []string{"--dry-run"}},
	{"cost two clusters", "cost a b", "/aks cost [CLUSTER]", []string{"unexpected argument b"}},
	{"cost bad cluster", "cost bad!", "/aks cost", []string{`invalid cluster name "bad!"`}},
	{"cost typo", "cots demo", "/aks COMMAND", []string{"did you mean cost?"}},
	{"policy two clusters", "policy a b", "/aks policy [CLUSTER]", []string{"unexpected argument b"}},
	{"policy bad cluster", "policy bad!", "/aks policy", []string{`invalid cluster name "bad!"`}},
	{"policy bad resource group", "policy -g rg.", "/aks policy", []string{"invalid resource group name"}},
	{"audit since typo", "audit --snice 7d", "/aks audit", []string{"unknown flag --snice", "did you mean --since?"}},
	{"audit since without value", "audit --since", "/aks audit", []string{"--since needs a value (DURATION)"}},
	{"audit since zero", "audit --since 0s", "/aks audit", []string{"--since 0s is not a positive duration"}},
	{"audit since zero days", "audit --since 0d", "/aks audit", []string{"not a positive duration"}},
	{"audit since negative", "audit --since -2h", "/aks audit", []string{"--since -2h is not a positive duration"}},
	{"audit since over 90 days", "audit --since 91d", "/aks audit", []string{"--since 91d is too far back", "90d"}},
	{"audit since over 90 days in hours", "audit --since 2161h", "/aks audit", []string{"too far back"}},
	{"audit since 90 days and a second", "audit --since 90d1s", "/aks audit", []string{"too far back"}},
	{"audit since a million days", "audit --since 999999d", "/aks audit", []string{"too far back"}},
	{"audit since huge extra", "audit --since 1d2000000h", "/aks audit", []string{"too far back"}},
	{"audit since without unit", "audit --since 7", "/aks audit", []string{`invalid --since "7"`, "2h, 90m or 7d"}},
	{"audit since words", "audit --since yesterday", "/aks audit", []string{`invalid --since "yesterday"`}},
	{"audit since negative extra", "audit --since 1d-2h", "/aks audit", []string{`invalid --since "1d-2h"`}},
	{"audit since overflow", "audit --since 9999999999h", "/aks audit", []string{"invalid --since"}},
	{"audit since twice", "audit --since 1h --since 2h", "/aks audit", []string{"--since is given twice"}},
	{"abort without cluster", "abort", "/aks abort CLUSTER", []string{"missing the cluster name"}},
	{"abort pool as positional", "abort demo np2", "/aks abort", []string{"unexpected argument np2", "use --nodepool-name POOL"}},
	{"abort bad pool", "abort demo --nodepool-name NP2", "/aks abort", []string{`invalid node pool name "NP2"`}},
	{"abort with a job flag", "abort demo --all", "/aks abort", []string{"--all is not a flag of /aks abort"}},
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range refuseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			checkRefusal(t, tc.in, err, tc.want, tc.usage)
			if !reflect.DeepEqual(got, Command{}) {
				t.Errorf("refused parse returned %#v, want the zero Command", describe(got))
			}
		})
	}
}

// checkRefusal checks that a refused command got a short *UsageError that mentions every word
// of want and shows usage, and returns it.
func checkRefusal(t *testing.T, in string, err error, want []string, usage string) *UsageError {
	t.Helper()
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("parse %q: error %T %v, want *UsageError", in, err, err)
	}
	for _, w := range want {
		if !strings.Contains(ue.Message, w) {
			t.Errorf("message %q does not mention %q", ue.Message, w)
		}
	}
	if !strings.Contains(ue.Usage, usage) {
		t.Errorf("usage %q does not contain %q", ue.Usage, usage)
	}
	if strings.Contains(ue.Message, "\n") || len(ue.Message) > 300 {
		t.Errorf("message is not short: %q", ue.Message)
	}
	return ue
}

func TestUsageErrorText(t *testing.T) {
	e := &UsageError{Message: "missing --node-count", Usage: "/aks scale CLUSTER --node-count N"}
	if got, want := e.Error(), "missing --node-count\nUsage: /aks scale CLUSTER --node-count N"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// TestEveryKindParses makes sure each kind the chat layer switches on is reachable, and that
// Mutating matches exactly the kinds that carry an Operation.
func TestEveryKindParses(t *testing.T) {
	mutating := map[Kind]aks.OpKind{
		KindCreate: aks.OpClusterCreate, KindDelete: aks.OpClusterDelete, KindScale: aks.OpPoolScale,
		KindUpgrade: aks.OpClusterUpgrade, KindStart: aks.OpClusterStart, KindStop: aks.OpClusterStop,
		KindNodepoolAdd: aks.OpPoolAdd, KindNodepoolScale: aks.OpPoolScale, KindNodepoolUpdate: aks.OpPoolAutoscale,
		KindNodepoolDelete: aks.OpPoolDelete, KindNodepoolUpgrade: aks.OpPoolUpgrade,
	}
	all := []Kind{KindHelp, KindList, KindShow, KindCreate, KindDelete, KindScale, KindUpgrade, KindStart, KindStop,
		KindGetVersions, KindGetUpgrades, KindNodepoolList, KindNodepoolAdd, KindNodepoolScale, KindNodepoolUpdate,
		KindNodepoolDelete, KindNodepoolUpgrade, KindJobs, KindJob, KindCancel,
		KindApprove, KindDeny, KindPending, KindWhoami, KindPolicy, KindAudit, KindAbort}
	seen := map[Kind]bool{}
	for _, tc := range acceptCases {
		c, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		seen[c.Kind] = true
		want, isMutating := mutating[c.Kind]
		if c.Mutating() != isMutating {
			t.Errorf("%s: Mutating() = %v, want %v", c.Kind, c.Mutating(), isMutating)
		}
		if isMutating && (c.Op == nil || c.Op.Kind != want) {
			t.Errorf("%q: Op = %+v, want kind %s", tc.in, c.Op, want)
		}
		if c.Op != nil && (c.Op.Target.ResourceGroup != c.ResourceGroup || c.Op.Target.Cluster != c.Cluster) {
			t.Errorf("%q: target %+v does not match the command's group %q and cluster %q", tc.in, c.Op.Target, c.ResourceGroup, c.Cluster)
		}
	}
	for _, k := range all {
		if !seen[k] {
			t.Errorf("no accepted test case produces kind %q", k)
		}
	}
}

func TestStringIsCanonical(t *testing.T) {
	cases := map[string]string{
		"scale -c 3 --name demo -g rg":                    "scale demo -g rg --node-count 3",
		"nodepool scale --cluster-name demo -n np2 -c 3":  "nodepool scale demo np2 --node-count 3",
		`create demo --tags b=2 a="x y" -l "West Europe"`: `create demo -l westeurope --tags "a=x y" b=2`,
		"help  NODEPOOL":                          "help nodepool",
		"job 0042":                                "job 42",
		"list":                                    "list",
		"audit --since 24h":                       "audit",
		"audit -n demo --since 168h":              "audit demo --since 7d",
		"audit --since 1d12h":                     "audit --since 36h",
		"audit --since 90m":                       "audit --since 1h30m",
		"policy --cluster-name demo -g rg":        "policy demo -g rg",
		"abort -g rg --nodepool-name np2 -n demo": "abort demo -g rg --nodepool-name np2",
		"deny 007 \u201ctoo risky\u201d":          "deny 7 too risky",
		"deny 7 a &amp; b":                        "deny 7 a &amp; b",
		`deny 7 '"no"'`:                           `deny 7 "\"no\""`,
		`deny 7 "--help"`:                         `deny 7 "--help"`,
		"nodepool update demo np2 --update-cluster-autoscaler --max-count 3 --min-count 1": "nodepool update demo np2 --enable-cluster-autoscaler --min-count 1 --max-count 3",
	}
	for in, want := range cases {
		c, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := c.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestTokenize(t *testing.T) {
	cases := []struct {
		in   string
		want []token
	}{
		{`a "b c" d`, []token{{"a", false, 0}, {"b c", true, 0}, {"d", false, 0}}},
		{`k="v w"`, []token{{"k=v w", false, 0}}},
		{`it's`, []token{{"it's", false, 0}}},
		{`'a "b"'`, []token{{`a "b"`, true, 0}}},
		{`"a\"b\\c\d"`, []token{{`a"b\c\d`, true, 0}}},
		{`""`, []token{{"", true, 0}}},
		{"\u2014all", []token{{"--all", false, 0}}},
		{"a\u2014b", []token{{"a\u2014b", false, 0}}},
	}
	for _, tc := range cases {
		got, err := tokenize(tc.in)
		if err != nil {
			t.Fatalf("tokenize(%q): %v", tc.in, err)
		}
		for i := range got {
			got[i].end = 0 // checked by TestTokenizeEnds
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokenize(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`"abc`, `'abc`, `k="v`, `"a\"`} {
		if _, err := tokenize(bad); err == nil {
			t.Errorf("tokenize(%q) succeeded, want an unclosed quote error", bad)
		}
	}
}

// TestTokenizeEnds: each word knows where it ends, and an unclosed quote keeps the words
// before it, which is what lets deny take the rest of a line as typed.
func TestTokenizeEnds(t *testing.T) {
	in := `deny  7 "a b" c`
	toks, err := tokenize(in)
	if err != nil {
		t.Fatal(err)
	}
	wantEnds := []int{4, 7, 13, 15}
	if len(toks) != len(wantEnds) {
		t.Fatalf("tokenize(%q) = %#v", in, toks)
	}
	for i, tok := range toks {
		if tok.end != wantEnds[i] {
			t.Errorf("word %d %q ends at %d, want %d", i, tok.text, tok.end, wantEnds[i])
		}
	}
	toks, err = tokenize(`deny 7 why "not`)
	if !errors.Is(err, errUnterminated) {
		t.Fatalf("error %v, want errUnterminated", err)
	}
	if len(toks) != 3 || toks[2].text != "why" || toks[2].end != 10 {
		t.Errorf("words before the unclosed quote = %#v", toks)
	}
}

func TestQuoteRoundTrips(t *testing.T) {
	values := []string{"plain", "", "-dash", "a b", `say "hi"`, `back\slash`, "O'Brien", "a&b<c>", "&amp;", "\u2014x", "tab\there", "é"}
	for _, v := range values {
		q := quote(v)
		toks, err := tokenize(normalise(q))
		if err != nil {
			t.Fatalf("quote(%q) = %q does not tokenize: %v", v, q, err)
		}
		want := strings.ReplaceAll(v, "\t", " ") // normalise turns tabs into spaces, before quoting too
		if len(toks) != 1 || toks[0].text != want || toks[0].isFlag() {
			t.Errorf("quote(%q) = %q reads back as %#v", v, q, toks)
		}
	}
}

func TestDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"scale", "scale", 0}, {"sacle", "scale", 1}, {"scal", "scale", 1}, {"scalee", "scale", 1},
		{"--node-cout", "--node-count", 1}, {"", "abc", 3}, {"abc", "", 3}, {"list", "stop", 4}, {"ca", "abc", 3},
	}
	for _, tc := range cases {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
