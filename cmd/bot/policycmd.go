package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/policy"
)

const policyCheckHelp = `Validates a configuration file without starting the bot: the same strict checks the bot runs
at start (unknown keys, malformed IDs and patterns, contradictory rules). FILE defaults to
$AKSBOT_CONFIG, else aksbot.yaml.

Prints every problem with its key path and exits 1, or prints the rules in the order they are
tried, with their match patterns and approvals, and exits 0. Only the file is checked, not the
environment (aksbot doctor checks both).

Examples:
  aksbot policy check
  aksbot policy check deploy/aksbot.yaml`

const policyExplainHelp = `Says what the policy in FILE decides for one request, and which rule decides, without Slack or
Azure: refused (and why), allowed after approvals (how many, from whom), auto-approved, or
allowed without approval. Exit code 0 whatever the decision; 1 when FILE is invalid.

There is no Slack here to list the members of user groups (S...): give them with --group, once
per group. A group the rule names that is not given is treated as unresolvable, as the bot does
when Slack cannot list its members: decisions that depend on it fail closed (refused), and the
output says which groups were not given.

--from and --to are node counts (for nodepool.update: the autoscaler's old and new max; for EKS
node groups: the desired size); --to is needed for nodepool.scale, nodepool.add, nodepool.update,
cluster.create, eks.nodegroup.scale and eks.nodegroup.create. Without --from the current size is
unknown, and a scale is treated as one that adds nodes (fail closed). Without --channel the
channel is not checked and the output lists the channels the rule accepts.

EKS: an eks.nodegroup.* --op means --provider eks; --pool names the node group, --region defaults
to the file's first aws.regions and --account to aws.account (without one, rules naming accounts
do not match, as in the bot before STS answered). --max-size is the max size a create or scale
sets; a scale's old max is not known here, so a scale that sets it is never auto-approved.

Examples:
  aksbot policy explain aksbot.yaml --user U0PLAT1 --cluster prod-1 -g rg-prod-weu \
      --op nodepool.scale --from 3 --to 10 --channel C0PRODOPS --group S0PLATFORM=U0PLAT1
  aksbot policy explain aksbot.yaml --user U0DEV --cluster dev-1 --op nodepool.scale --from 3 --to 5
  aksbot policy explain aksbot.yaml --user U0DEV --cluster demo --subscription prod --op nodepool.scale --from 3 --to 5
  aksbot policy explain aksbot.yaml --user U0PLAT1 --cluster prod-9 -g rg-prod-weu --op cluster.create \
      --to 3 --vm-size Standard_D4s_v5 --location westeurope --version 1.31.2 --group S0PLATFORM=U0PLAT1
  aksbot policy explain aksbot.yaml --user U0PLAT1 --cluster web-prod --region eu-west-1 \
      --op eks.nodegroup.scale --pool ng-web --from 3 --to 5 --group S0PLATFORM=U0PLAT1`

// readConfigFile reads and validates a configuration file as the bot does.
func readConfigFile(name string) (config.File, error) {
	fh, err := os.Open(name)
	if err != nil {
		return config.File{}, err
	}
	defer fh.Close()
	// config.Parse refuses files over 1 MiB; one byte more lets it say so.
	data, err := io.ReadAll(io.LimitReader(fh, 1<<20+1))
	if err != nil {
		return config.File{}, fmt.Errorf("read %s: %w", name, err)
	}
	return config.Parse(data)
}

// reportConfigProblems prints the problems of an invalid configuration file, one per line, and
// returns the exit code.
func reportConfigProblems(inv *invocation, name string, err error) int {
	var problems []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			problems = append(problems, line)
		}
	}
	if len(problems) == 1 {
		fmt.Fprintf(inv.stdout, "%s: 1 problem:\n", name)
	} else {
		fmt.Fprintf(inv.stdout, "%s: %d problems:\n", name, len(problems))
	}
	for _, p := range problems {
		fmt.Fprintf(inv.stdout, "  %s\n", p)
	}
	return exitFailure
}

// configFileArg opens the file a policy command names, or reports why it cannot (exit 1).
func configFileArg(inv *invocation, name string) (config.File, int, bool) {
	f, err := readConfigFile(name)
	var pathErr *os.PathError
	switch {
	case err == nil:
		return f, exitOK, true
	case errors.As(err, &pathErr):
		fmt.Fprintf(inv.stderr, "aksbot %s: cannot read %s: %v\n", inv.cmd.Name, name, pathErr.Err)
		return f, exitFailure, false
	}
	return f, reportConfigProblems(inv, name, err), false
}

func policyCheckSetup(fs *flag.FlagSet) runFunc {
	return func(_ context.Context, inv *invocation, args []string) int {
		args, code, ok := parseInterspersed(inv, fs, args)
		if !ok {
			return code
		}
		if len(args) > 1 {
			return inv.usageError("one FILE at most, got %d arguments", len(args))
		}
		name := strings.TrimSpace(inv.getenv(config.EnvConfigFile))
		if len(args) == 1 {
			name = args[0]
		} else if name == "" {
			name = config.DefaultConfigFile
		}
		f, code, ok := configFileArg(inv, name)
		if !ok {
			return code
		}
		// Parse ran the policy checks; New is what the bot builds from them.
		if _, err := policy.New(f.Policy, nil); err != nil {
			return reportConfigProblems(inv, name, err)
		}
		writePolicySummary(inv.stdout, name, f)
		return exitOK
	}
}

// writePolicySummary prints the rules of a valid file in the order they are tried.
func writePolicySummary(w io.Writer, name string, f config.File) {
	p := f.Policy
	fmt.Fprintf(w, "%s: valid\n", name)
	fmt.Fprintf(w, "Defaults: resource group %s, location %s\n", f.Azure.ResourceGroup, f.Azure.Location)
	if a := f.AWS; a.Enabled() {
		fmt.Fprintf(w, "EKS: %s\n", awsSummary(a))
	}
	fmt.Fprintf(w, "Rules, in the order they are tried (the first whose match selects the cluster decides):\n")
	var notes []string
	for i, r := range p.Rules {
		var match []string
		for _, k := range []struct {
			what     string
			patterns []string
		}{
			{"providers", r.Match.Providers}, {"subscriptions", r.Match.Subscriptions}, {"resource groups", r.Match.ResourceGroups},
			{"AWS accounts", r.Match.Accounts}, {"AWS regions", r.Match.Regions}, {"clusters", r.Match.Clusters}, {"pools", r.Match.Pools},
		} {
			if len(k.patterns) > 0 {
				match = append(match, k.what+" "+strings.Join(k.patterns, ", "))
			}
		}
		if len(match) == 0 {
			match = []string{"every cluster"}
		}
		providers := r.Match.MatchedProviders()
		if len(r.RequireApprovalFor) > 0 && slices.Contains(providers, aks.ProviderEKS) && len(r.ListedKinds(aks.ProviderEKS)) == 0 {
			notes = append(notes, fmt.Sprintf("rule %s matches EKS clusters and its requireApprovalFor lists no eks.nodegroup.* kind, "+
				"so EKS operations under it need approval as by default (%s); list the EKS kinds that should, or add providers: [aks] to its match",
				r.Name, kindList(p.RequireApprovalFor(i, aks.ProviderEKS))))
		}
		approvers := r.Approvers
		if approvers == nil {
			approvers = p.Approvers
		}
		approvals := 1
		if r.Approvals != nil {
			approvals = *r.Approvals
		}
		fmt.Fprintf(w, "  %d. %s: %s\n", i+1, r.Name, strings.Join(match, "; "))
		fmt.Fprintf(w, "     %s\n", approvalLine(p.ApprovalKinds(i), approvals, approvers))
		if s := r.AutoApprove.ScaleUp; s != nil {
			cost := ""
			if s.MaxMonthlyCostIncrease > 0 {
				cost = ", costing at most " + aks.Money(s.MaxMonthlyCostIncrease, f.Prices.Currency) + "/month more"
			}
			fmt.Fprintf(w, "     auto-approved: scale-ups adding at most %d nodes, leaving at most %d in the pool%s\n", s.MaxAddedNodes, s.MaxPoolNodes, cost)
		}
		if c := r.Guardrails.MaxMonthlyCostIncrease; c > 0 {
			fmt.Fprintf(w, "     cost limit: at most %s/month more per request, at list prices (refused when the price list cannot be read)\n", aks.Money(c, f.Prices.Currency))
		}
	}
	fmt.Fprintf(w, "  %s: clusters no rule matches\n", config.DefaultRuleName)
	fmt.Fprintf(w, "     %s\n", approvalLine(p.ApprovalKinds(-1), 1, p.Approvers))
	if len(p.Approvers) == 0 && p.ApprovalsRequired() {
		fmt.Fprintf(w, "Note: policy.approvers is empty, so the bot refuses this file with Slack (the console then uses its demo policy)\n")
	}
	for _, n := range notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}

// awsSummary says where the file has the bot work with EKS.
func awsSummary(a config.AWS) string {
	parts := []string{"regions from AWS_REGION or the profile"}
	if len(a.Regions) > 0 {
		parts[0] = fmt.Sprintf("regions %s (default %s)", strings.Join(a.Regions, ", "), a.DefaultRegion())
	}
	if a.Profile != "" {
		parts = append(parts, "profile "+a.Profile)
	}
	if a.Account != "" {
		parts = append(parts, "account "+a.Account)
	} else {
		parts = append(parts, "account from STS at start")
	}
	if len(a.Clusters) > 0 {
		names := make([]string, 0, len(a.Clusters))
		for n := range a.Clusters {
			names = append(names, n)
		}
		sort.Strings(names)
		parts = append(parts, "node-group defaults for "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}

func approvalLine(kinds []aks.OpKind, approvals int, approvers []string) string {
	if len(kinds) == 0 {
		return "approval: needed for nothing"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return fmt.Sprintf("approval: %d from %s, for %s", approvals, strings.Join(approvers, ", "), strings.Join(names, ", "))
}

// groupFlags collects repeated --group S1=U1,U2 flags into the members of user groups.
type groupFlags policy.StaticGroups

func (g groupFlags) String() string {
	ids := make([]string, 0, len(g))
	for id := range g {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		ids[i] = id + "=" + strings.Join(g[id], ",")
	}
	return strings.Join(ids, " ")
}

func (g groupFlags) Set(s string) error {
	id, list, ok := strings.Cut(s, "=")
	if !ok || !config.ValidGroupID(id) {
		return fmt.Errorf("%q: write GROUP=USER,USER with a user group ID (S...), like S0SRE=U0ALICE,U0BOB", s)
	}
	members := g[id]
	if list != "" {
		for _, u := range strings.Split(list, ",") {
			if !config.ValidUserID(u) {
				return fmt.Errorf("%q: %q is not a Slack user ID (U... or W...)", s, u)
			}
			if !slices.Contains(members, u) {
				members = append(members, u)
			}
		}
	}
	if members == nil {
		members = []string{} // given and empty: resolvable, with nobody in it
	}
	g[id] = members
	return nil
}

// opsNeedingTo are the operation kinds whose request names a node count (or the autoscaler max).
var opsNeedingTo = []aks.OpKind{aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolAutoscale, aks.OpClusterCreate,
	aks.OpNodegroupScale, aks.OpNodegroupCreate}

func policyExplainSetup(fs *flag.FlagSet) runFunc {
	user := fs.String("user", "", "the requester's Slack user ID (`U...`); required")
	cluster := fs.String("cluster", "", "the cluster's name; required")
	var rg string
	fs.StringVar(&rg, "g", "", "the cluster's resource group (default the file's azure.resourceGroup)")
	fs.StringVar(&rg, "resource-group", "", "the same as -g")
	op := fs.String("op", "", "the operation kind, like nodepool.scale or eks.nodegroup.scale; required")
	pool := fs.String("pool", "", "the node pool, for nodepool operations (default nodepool1), or the node group, for eks.nodegroup operations (required)")
	provider := fs.String("provider", "", "the cloud: aks or eks (default: the --op kind's)")
	region := fs.String("region", "", "EKS: the cluster's region (default the file's first aws.regions)")
	account := fs.String("account", "", "EKS: the AWS account ID (default the file's aws.account)")
	maxSize := fs.Int("max-size", 0, "EKS: the max size a node-group create or scale sets (default: not set)")
	instanceTypes := fs.String("instance-types", "", "EKS: the instance types of a new node group, like m6i.large,m6i.xlarge")
	from := fs.Int("from", -1, "the current node count (or autoscaler max); -1 = unknown")
	to := fs.Int("to", -1, "the node count (or autoscaler max) asked for")
	channel := fs.String("channel", "", "the Slack channel ID (`C...`) the request is made in (default: not checked)")
	vmSize := fs.String("vm-size", "", "the VM size of a new cluster or pool")
	location := fs.String("location", "", "the location of a new cluster (default the file's azure.location)")
	version := fs.String("version", "", "the Kubernetes version asked for")
	subscription := fs.String("subscription", "", "the cluster's subscription, by its name in azure.subscriptions or its ID (default the file's default)")
	groups := groupFlags{}
	fs.Var(groups, "group", "members of a user group, as `S...=U1,U2`; repeat for each group")

	return func(ctx context.Context, inv *invocation, args []string) int {
		args, code, ok := parseInterspersed(inv, fs, args)
		if !ok {
			return code
		}
		if len(args) != 1 {
			return inv.usageError("give one configuration FILE, got %d arguments", len(args))
		}
		kind := aks.OpKind(*op)
		switch {
		case *user == "":
			return inv.usageError("--user is required")
		case !config.ValidUserID(*user):
			return inv.usageError("--user %q is not a Slack user ID (U... or W...)", *user)
		case *cluster == "":
			return inv.usageError("--cluster is required")
		case *op == "":
			return inv.usageError("--op is required; one of %s", opKindList())
		case !kind.Valid():
			return inv.usageError("--op %q is not an operation kind; use one of %s", *op, opKindList())
		case *channel != "" && !config.ValidChannelID(*channel):
			return inv.usageError("--channel %q is not a Slack channel ID (C..., G... or D...)", *channel)
		case slices.Contains(opsNeedingTo, kind) && *to < 0:
			return inv.usageError("--to is needed for %s: the node count (or autoscaler max) asked for", kind)
		case *from < -1:
			return inv.usageError("--from %d: give a node count, or leave it out when unknown", *from)
		case *maxSize < 0:
			return inv.usageError("--max-size %d: give a node count of at least 1", *maxSize)
		}
		cloud := cmp.Or(strings.ToLower(*provider), kind.Provider())
		switch {
		case cloud != aks.ProviderAKS && cloud != aks.ProviderEKS:
			return inv.usageError("--provider %q: use aks or eks", *provider)
		case kind.Provider() != cloud:
			return inv.usageError("--op %s is an operation on %s, not %s", kind, strings.ToUpper(kind.Provider()), strings.ToUpper(cloud))
		case cloud == aks.ProviderEKS && (rg != "" || *subscription != "" || *location != "" || *vmSize != ""):
			return inv.usageError("-g, --subscription, --location and --vm-size are for AKS; an EKS cluster is named by --region and --account, a node group's instances by --instance-types")
		case cloud == aks.ProviderAKS && (*region != "" || *account != "" || *maxSize != 0 || *instanceTypes != ""):
			return inv.usageError("--region, --account, --max-size and --instance-types are for EKS node groups; an AKS cluster is named by -g and --subscription")
		case cloud == aks.ProviderEKS && *pool == "":
			return inv.usageError("--pool is required for %s: the node group", kind)
		case *region != "" && !config.ValidAWSRegion(*region):
			return inv.usageError("--region %q is not an AWS region (like eu-west-1)", *region)
		case *account != "" && !config.ValidAWSAccount(*account):
			return inv.usageError("--account %q is not an AWS account ID (12 digits)", *account)
		}

		name := args[0]
		f, code, ok := configFileArg(inv, name)
		if !ok {
			return code
		}
		pol, err := policy.New(f.Policy, policy.StaticGroups(groups))
		if err != nil {
			return reportConfigProblems(inv, name, err)
		}
		subs := fileSubscriptions(f)
		sub := aks.Subscription{Name: *subscription, ID: *subscription}
		if len(subs.List) > 0 {
			if sub, err = subs.Resolve(*subscription); err != nil {
				return inv.usageError("--subscription: %v", err)
			}
		}
		pol.SetSubscriptions(subs)
		target := aks.Target{ResourceGroup: rg, Cluster: *cluster, Subscription: sub.ID, SubscriptionName: sub.Name}
		if target.ResourceGroup == "" {
			target.ResourceGroup = f.Azure.ResourceGroup
		}
		if kind.OnPool() {
			target.Pool = cmp.Or(*pool, "nodepool1")
		}
		size := *vmSize
		if cloud == aks.ProviderEKS {
			target = aks.Target{Provider: aks.ProviderEKS, Region: cmp.Or(*region, f.AWS.DefaultRegion()),
				Account: cmp.Or(*account, f.AWS.Account), Cluster: *cluster, Pool: *pool}
			if target.Region == "" {
				return inv.usageError("--region is needed: the file lists no aws.regions")
			}
			size = strings.Join(strings.Fields(strings.ReplaceAll(*instanceTypes, ",", " ")), ",")
		}
		loc := *location
		if loc == "" && kind == aks.OpClusterCreate {
			loc = f.Azure.Location // what the bot does for a create without --location
		}
		q := policy.Query{
			User: aks.User{ID: *user}, Channel: *channel, Target: target, Op: kind,
			From: *from, To: *to, MaxSize: *maxSize, VMSize: size, Location: loc, Version: *version,
		}
		fmt.Fprintln(inv.stdout, policy.Explain(ctx, pol, q))
		if missing := missingGroups(f.Policy, groups); len(missing) > 0 {
			fmt.Fprintf(inv.stdout, "Note: user groups not given with --group are treated as unresolvable "+
				"(decisions that depend on them are refused): %s\n", strings.Join(missing, ", "))
		}
		return exitOK
	}
}

// missingGroups lists the user groups the policy names that --group did not give.
func missingGroups(p config.PolicyFile, given groupFlags) []string {
	lists := [][]string{p.Approvers, p.Requesters}
	for _, r := range p.Rules {
		lists = append(lists, r.Approvers, r.Requesters)
	}
	var out []string
	for _, ids := range lists {
		for _, id := range ids {
			if _, ok := given[id]; !ok && config.ValidGroupID(id) && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out
}

func opKindList() string {
	names := make([]string, len(aks.OpKinds))
	for i, k := range aks.OpKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// parseInterspersed parses flags that come after positional arguments too ("explain FILE
// --user U"): the flag package stops at the first argument that is not a flag. It returns the
// positional arguments, or the exit code when the flags are wrong or help was asked for.
func parseInterspersed(inv *invocation, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var positional []string
	for len(args) > 0 {
		if isHelpFlag(args[0]) {
			writeCommandUsage(inv.stdout, inv.cmd, fs)
			return nil, exitOK, false
		}
		positional = append(positional, args[0])
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeCommandUsage(inv.stdout, inv.cmd, fs)
				return nil, exitOK, false
			}
			return nil, inv.usageError("%v", err), false
		}
		args = fs.Args()
	}
	return positional, exitOK, true
}

// fileSubscriptions are the subscriptions a configuration file names (none when it leaves them
// to AZURE_SUBSCRIPTION_ID).
func fileSubscriptions(f config.File) aks.Subscriptions {
	def := f.Azure.DefaultSubscription
	if def == "" && len(f.Azure.Subscriptions) == 1 {
		for name := range f.Azure.Subscriptions {
			def = name
		}
	}
	return aks.NewSubscriptions(f.Azure.Subscriptions, def)
}

// kindList says operation kinds for people: "eks.nodegroup.create, eks.nodegroup.scale".
func kindList(kinds []aks.OpKind) string {
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = string(k)
	}
	return strings.Join(words, ", ")
}
