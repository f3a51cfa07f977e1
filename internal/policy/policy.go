// Package policy decides who may request and approve AKS and EKS operations, where, how many
// approvals an operation needs, and which requests are refused outright (guardrails). It
// implements jobs.Policy from the configuration file's policy section: scoped rules matched by
// cloud, subscription or AWS account and region, resource group, cluster and pool (first match
// wins), with the top-level keys as the default rule.
//
// Approvers and requesters may be Slack user groups; their members come from a Groups source
// (Slack's usergroups.users.list, cached). When membership cannot be resolved, decisions fail
// closed. The package does no other I/O.
package policy

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/jobs"
)

// Policy is an immutable set of rules, safe for concurrent use. Build a new one to change the
// rules: the engine asks again at every step, so waiting jobs see the new rules.
type Policy struct {
	rules  []rule // the configured rules in order, then the default rule, which matches anything
	groups Groups // nil: every group lookup fails (closed)
	// subs names the subscriptions, so that rules may match them by name or ID.
	subs aks.Subscriptions
}

// rule is one RuleFile with the defaults filled in from the top-level keys.
type rule struct {
	name     string
	currency string // of the cost limits: prices.currency
	path     string // key path for hints: "policy.rules[0]", or "policy" for the default rule

	// providers are the clouds the rule can match (config.MatchFile.MatchedProviders).
	providers []string
	// Lowercase glob patterns; empty = any. Subscriptions and resource groups are only ever set
	// on AKS rules, accounts and regions on EKS ones.
	subscriptions, resourceGroups, accounts, regions, clusters, pools []string

	channels, requesters, approvers []string // empty channels/requesters = any/anyone
	channelsPath, requestersPath    string   // where the list is configured, for hints
	approversPath                   string

	approvals  int
	timeout    time.Duration
	requireFor []aks.OpKind
	scaleUp    *config.ScaleUpFile
	guard      config.GuardrailsFile
}

var _ jobs.Policy = (*Policy)(nil)

// Check reports the problems of a policy section that New would refuse, each naming its key
// path and the reason. config.Parse already calls it, so a loaded file passes.
func Check(f config.PolicyFile) error { return f.Check() }

// New builds the policy of a configuration file's policy section. groups resolves the user
// groups named as approvers or requesters; New caches it for f.GroupCacheTTL (pass the raw
// source, not a cache). groups may be nil when no group is named; a named group then fails
// closed.
func New(f config.PolicyFile, groups Groups) (*Policy, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	timeout := f.ApprovalTimeout.Duration
	if timeout == 0 {
		timeout = config.DefaultApprovalTimeout
	}
	ttl := f.GroupCacheTTL.Duration
	if ttl == 0 {
		ttl = config.DefaultGroupCacheTTL
	}
	p := &Policy{groups: groups}
	switch groups.(type) {
	case nil, StaticGroups, *cachedGroups:
	default:
		p.groups = NewCachedGroups(groups, ttl, time.Now)
	}

	for i, rf := range f.Rules {
		r := rule{
			name:           rf.Name,
			path:           fmt.Sprintf("policy.rules[%d]", i),
			providers:      rf.Match.MatchedProviders(),
			subscriptions:  lower(rf.Match.Subscriptions),
			resourceGroups: lower(rf.Match.ResourceGroups),
			accounts:       lower(rf.Match.Accounts),
			regions:        lower(rf.Match.Regions),
			clusters:       lower(rf.Match.Clusters),
			pools:          lower(rf.Match.Pools),
			approvals:      1,
			timeout:        timeout,
			requireFor:     requireFor(f, i),
			guard:          copyGuardrails(rf.Guardrails),
			currency:       "USD",
		}
		if s := rf.AutoApprove.ScaleUp; s != nil {
			copied := *s
			r.scaleUp = &copied
		}
		r.channels, r.channelsPath = inherit(rf.Channels, r.path+".channels", f.Channels, "policy.channels")
		r.requesters, r.requestersPath = inherit(rf.Requesters, r.path+".requesters", f.Requesters, "policy.requesters")
		r.approvers, r.approversPath = inherit(rf.Approvers, r.path+".approvers", f.Approvers, "policy.approvers")
		if rf.Approvals != nil {
			r.approvals = *rf.Approvals
		}
		if rf.ApprovalTimeout != nil {
			r.timeout = rf.ApprovalTimeout.Duration
		}
		p.rules = append(p.rules, r)
	}
	p.rules = append(p.rules, rule{
		name:      config.DefaultRuleName,
		path:      "policy",
		providers: allProviders,
		channels:  dedupe(f.Channels), channelsPath: "policy.channels",
		requesters: dedupe(f.Requesters), requestersPath: "policy.requesters",
		approvers: dedupe(f.Approvers), approversPath: "policy.approvers",
		approvals:  1,
		timeout:    timeout,
		requireFor: requireFor(f, -1),
		currency:   "USD",
	})
	return p, nil
}

// allProviders are the clouds a rule without constraints matches.
var allProviders = []string{aks.ProviderAKS, aks.ProviderEKS}

// requireFor is what rule i asks approval for on every cloud, whichever it can match: an
// operation whose kind and target disagree is then still asked about (fail closed).
func requireFor(f config.PolicyFile, i int) []aks.OpKind {
	return append(f.RequireApprovalFor(i, aks.ProviderAKS), f.RequireApprovalFor(i, aks.ProviderEKS)...)
}

// Demo is the console demo's policy: the given user (a console name such as "bob") approves,
// anyone may request anywhere, and approvals are required, so the demo shows the approval flow.
func Demo(approver string) *Policy {
	return &Policy{rules: []rule{{
		name: config.DefaultRuleName, path: "policy", providers: allProviders,
		channelsPath: "policy.channels", requestersPath: "policy.requesters",
		approvers: []string{approver}, approversPath: "policy.approvers",
		approvals:  1,
		timeout:    config.DefaultApprovalTimeout,
		requireFor: slices.Concat(config.DefaultRequireApprovalFor, config.DefaultEKSRequireApprovalFor),
		currency:   "USD",
	}}}
}

// NeedsApproval reports whether the planned operation must wait for approvers under the rule that
// matches its cluster, before auto-approval is considered.
func (p *Policy) NeedsApproval(op aks.Operation, plan aks.Plan) bool {
	return p.ruleFor(plannedTarget(op, plan)).needsApproval(op, plan)
}

// plannedTarget is the operation's target with the pool the plan resolved (`/aks scale`
// without --nodepool-name names none), so that rules naming pools apply to it.
func plannedTarget(op aks.Operation, plan aks.Plan) aks.Target {
	t := op.Target
	if t.Pool == "" && op.Kind.OnPool() {
		t.Pool = plan.Pool
	}
	return t
}

// Approvers returns who can approve op under the rule that matches its cluster, as Slack shows
// them ("<@U1>", "<!subteam^S1>"), in configuration order.
func (p *Policy) Approvers(op aks.Operation) []string {
	return display(p.ruleFor(op.Target).approvers)
}

func copyGuardrails(g config.GuardrailsFile) config.GuardrailsFile {
	g.VMSizes = slices.Clone(g.VMSizes)
	g.Locations = slices.Clone(g.Locations)
	g.InstanceTypes = slices.Clone(g.InstanceTypes)
	g.Regions = slices.Clone(g.Regions)
	g.KubernetesVersions = slices.Clone(g.KubernetesVersions)
	return g
}

func inherit(own []string, ownPath string, def []string, defPath string) ([]string, string) {
	if own != nil {
		return dedupe(own), ownPath
	}
	return dedupe(def), defPath
}

// ruleFor returns the first rule whose match selects the target's cluster (and pool). The
// default rule is last and matches anything, so there always is one.
func (p *Policy) ruleFor(t aks.Target) *rule {
	for i := range p.rules {
		if r := &p.rules[i]; p.matchesCluster(r, t) && r.matchesPool(t.Pool) {
			return r
		}
	}
	return &p.rules[len(p.rules)-1]
}

// matchesCluster reports whether the rule selects the target's cluster: its cloud, then the
// keys of that cloud (a rule naming AWS accounts or regions is never an AKS rule, one naming
// subscriptions or resource groups never an EKS rule: MatchedProviders says so), then the name.
func (p *Policy) matchesCluster(r *rule, t aks.Target) bool {
	if !slices.Contains(r.providers, providerOf(t)) || !globAny(r.clusters, t.Cluster) {
		return false
	}
	if t.IsEKS() {
		return globAny(r.accounts, t.Account) && globAny(r.regions, t.Region)
	}
	return p.subscriptionMatches(r.subscriptions, t) && globAny(r.resourceGroups, t.ResourceGroup)
}

// matchesPool reports whether the rule applies to operations on the pool ("" for cluster-wide
// ones): a rule naming pools applies only to pools it names.
func (r *rule) matchesPool(pool string) bool {
	return len(r.pools) == 0 || (pool != "" && globAny(r.pools, pool))
}

// providerOf is the target's cloud: "eks", or "aks" for targets stored before there were two.
func providerOf(t aks.Target) string {
	if t.IsEKS() {
		return aks.ProviderEKS
	}
	return aks.ProviderAKS
}

// subscriptionMatches reports whether the target's subscription (the default one when it names
// none) matches one of the patterns by its ID or its configured name. No patterns match any.
func (p *Policy) subscriptionMatches(patterns []string, t aks.Target) bool {
	if len(patterns) == 0 {
		return true
	}
	id := t.Subscription
	if id == "" {
		id = p.subs.Default
	}
	name := p.subs.Name(id)
	if name == "" {
		name = t.SubscriptionName
	}
	return (id != "" && globAny(patterns, id)) || (name != "" && globAny(patterns, name))
}

// SetSubscriptions tells the policy the configured subscriptions, so that rules match them by
// name; call it before the policy is used.
func (p *Policy) SetSubscriptions(s aks.Subscriptions) { p.subs = s }

// CanRequest returns nil, or an *aks.Error (EUnauthorized) saying why the user may not ask for op
// in that channel under the rule that matches the target's cluster. Resolving a requester group
// may fail: then an *aks.Error (EUnavailable).
func (p *Policy) CanRequest(ctx context.Context, user aks.User, channel string, op aks.Operation) error {
	if user.ID == "" {
		return unauthorized("you cannot request operations: your user is not known", "")
	}
	return p.canRequestUnder(ctx, p.ruleFor(op.Target), user, channel, op)
}

// canRequestUnder is CanRequest under the given rule.
func (p *Policy) canRequestUnder(ctx context.Context, r *rule, user aks.User, channel string, op aks.Operation) error {
	if len(r.channels) > 0 && !slices.Contains(r.channels, channel) {
		return unauthorized(fmt.Sprintf("operations on %s cannot be requested in this channel (rule %s); use %s",
			clusterName(op.Target), r.name, orList(channelMentions(r.channels))), "")
	}
	if len(r.requesters) == 0 {
		return nil
	}
	ok, err := p.member(ctx, user.ID, r.requesters, "so the request was not accepted")
	if err != nil {
		return err
	}
	if !ok {
		return unauthorized(fmt.Sprintf("you are not allowed to request operations on %s (rule %s): only %s can",
			clusterName(op.Target), r.name, orList(display(r.requesters))),
			"ask an administrator to add you (or your user group) to "+r.requestersPath)
	}
	return nil
}

// Evaluate decides on a planned request under the rule that matches its cluster: it refuses
// guardrail violations (EInvalid, naming the rule and the limit), and says how many approvals
// are needed and from whom, or why none are. A request that needs more approvals than there
// are approvers other than the requester is refused (EUnauthorized): it could never run.
func (p *Policy) Evaluate(ctx context.Context, user aks.User, channel string, op aks.Operation, plan aks.Plan) (jobs.Requirement, error) {
	r := p.ruleFor(plannedTarget(op, plan))
	req := jobs.Requirement{Rule: r.name, Timeout: r.timeout}
	if r != p.ruleFor(op.Target) {
		// The pool became known with the plan, and a rule for it applies: CanRequest checked
		// the requester and channel under the cluster's rule, so check them under this one.
		if err := p.canRequestUnder(ctx, r, user, channel, op); err != nil {
			return req, err
		}
	}
	if err := r.checkGuardrails(op, plan); err != nil {
		return req, err
	}
	if !r.needsApproval(op, plan) {
		return req, nil
	}
	if note, ok := r.autoApprove(op, plan); ok {
		req.Note = note
		return req, nil
	} else if note != "" {
		req.Note = note // why a scale-up the rule would let through needs approval after all
	}
	// With user IDs only, the count of possible approvers is known without Slack.
	if allUsers(r.approvers) {
		others := slices.DeleteFunc(slices.Clone(r.approvers), func(id string) bool { return id == user.ID })
		if len(others) < r.approvals {
			msg := fmt.Sprintf("%s needs %s under rule %s, and nobody but you can give it", op.Describe(), approvalCount(r.approvals), r.name)
			switch {
			case len(r.approvers) == 0:
				msg = fmt.Sprintf("%s needs %s under rule %s, but the rule lists no approvers", op.Describe(), approvalCount(r.approvals), r.name)
			case len(others) > 0:
				msg = fmt.Sprintf("%s needs %s under rule %s, but only %s can give it besides you",
					op.Describe(), approvalCount(r.approvals), r.name, orList(display(others)))
			}
			return req, unauthorized(msg, "ask an administrator to add approvers to "+r.approversPath)
		}
	}
	req.Approvals = r.approvals
	req.Approvers = display(r.approvers)
	return req, nil
}

// CanApprove returns nil, or an *aks.Error (EUnauthorized) saying why the user may not approve or
// deny the job, and who can. The rule is looked up again, so a changed policy applies to waiting
// jobs. The requester never may approve, even when they are an approver.
func (p *Policy) CanApprove(ctx context.Context, user aks.User, job aks.Job) error {
	if user.ID == "" {
		return unauthorized("you cannot approve requests: your user is not known", "")
	}
	r := p.ruleFor(plannedTarget(job.Op, job.Plan))
	if len(r.approvers) == 0 {
		return unauthorized(fmt.Sprintf("nobody can approve this request: rule %s lists no approvers", r.name),
			"add approvers to "+r.approversPath)
	}
	if user.ID == job.Requester.ID {
		others := slices.DeleteFunc(slices.Clone(r.approvers), func(id string) bool { return id == user.ID })
		hint := "ask " + orList(display(others)) + " to approve it"
		if len(others) == 0 {
			hint = "no other approver is listed: add one to " + r.approversPath
		}
		return unauthorized("you cannot approve your own request", hint)
	}
	ok, err := p.member(ctx, user.ID, r.approvers, "so nothing was approved")
	if err != nil {
		return err
	}
	if !ok {
		return unauthorized(fmt.Sprintf("only %s can approve this request (rule %s)", orList(display(r.approvers)), r.name), "")
	}
	return nil
}

// IsApprover reports whether the user may approve under any rule (used to show the audit trail
// to approvers only). It fails closed (EUnavailable) when a group that might list the user
// cannot be resolved.
func (p *Policy) IsApprover(ctx context.Context, user aks.User) (bool, error) {
	if user.ID == "" {
		return false, nil
	}
	var all []string
	for _, r := range p.rules {
		all = append(all, r.approvers...)
	}
	return p.member(ctx, user.ID, dedupe(all), "so approver rights could not be checked")
}

// member reports whether userID is one of ids or in one of the groups among them. Users are
// checked first and groups only as needed; a group that cannot be resolved makes the answer an
// *aks.Error (EUnavailable) unless another list entry already says yes.
func (p *Policy) member(ctx context.Context, userID string, ids []string, consequence string) (bool, error) {
	if slices.Contains(ids, userID) {
		return true, nil
	}
	var failed string
	var cause error
	for _, id := range ids {
		if !config.ValidGroupID(id) {
			continue
		}
		if p.groups == nil {
			failed, cause = id, fmt.Errorf("no user group source is configured")
			continue
		}
		members, err := p.groups.Members(ctx, id)
		if err != nil {
			if failed == "" {
				failed, cause = id, err
			}
			continue
		}
		if slices.Contains(members, userID) {
			return true, nil
		}
	}
	if failed != "" {
		return false, &aks.Error{
			Code:    aks.EUnavailable,
			Message: fmt.Sprintf("could not check membership of %s with Slack, %s", groupMention(failed), consequence),
			Hint:    "try again in a minute; if it keeps failing, check that the bot has the usergroups:read scope and that the group exists",
			Err:     fmt.Errorf("resolve user group %s: %w", failed, cause),
		}
	}
	return false, nil
}

// needsApproval reports whether the rule asks for approval of this planned operation. The
// scaling kinds need it only when they add capacity; disabling the autoscaler never does. A new
// EKS node group always adds capacity (its max size is at least 1).
func (r *rule) needsApproval(op aks.Operation, plan aks.Plan) bool {
	if !op.Kind.Valid() {
		return len(r.requireFor) > 0 // an operation this policy does not know: fail closed
	}
	if !slices.Contains(r.requireFor, op.Kind) {
		return false
	}
	switch op.Kind {
	case aks.OpPoolAutoscale:
		return !op.DisableAutoscaler && plan.ScaleUp // a raised max
	case aks.OpPoolScale, aks.OpPoolAdd, aks.OpNodegroupScale:
		return addsCapacity(op, plan)
	}
	return true
}

// addsCapacity reports whether a scale or an added pool adds nodes. The planner says so in
// plan.ScaleUp (for a node group: a higher desired or max size); the node counts are checked as
// well so that unknown counts (-1) fail closed.
func addsCapacity(op aks.Operation, plan aks.Plan) bool {
	if plan.ScaleUp {
		return true
	}
	if op.Kind == aks.OpPoolScale || op.Kind == aks.OpNodegroupScale {
		return plan.FromNodes < 0 || plan.ToNodes < 0 || plan.ToNodes > plan.FromNodes
	}
	// A new pool adds capacity unless it starts (and may grow) with no nodes at all.
	return plan.ToNodes != 0 ||
		(op.NodeCount != nil && *op.NodeCount > 0) ||
		(op.Autoscaler != nil && op.Autoscaler.Max > 0)
}

// growth returns how many nodes a scaling operation adds and how many the pool may have after
// it (for the autoscaler: its max). ok is false when the plan does not say.
func growth(op aks.Operation, plan aks.Plan) (added, after int, ok bool) {
	switch op.Kind {
	case aks.OpPoolScale:
		if plan.FromNodes < 0 || plan.ToNodes < 0 {
			return 0, 0, false
		}
		return plan.ToNodes - plan.FromNodes, plan.ToNodes, true
	case aks.OpPoolAdd:
		after := plan.ToNodes
		if after < 0 {
			return 0, 0, false
		}
		if op.Autoscaler != nil {
			after = max(after, op.Autoscaler.Max)
		}
		return after, after, true
	case aks.OpPoolAutoscale:
		if op.DisableAutoscaler || op.Autoscaler == nil {
			return 0, 0, false
		}
		// Only a change of an existing max says by how much; enabling the autoscaler does not
		// (the current count is not in the plan), so it is not auto-approved.
		if from, to, ok := changedCount(plan, " autoscaler max"); ok && from >= 0 {
			return to - from, to, true
		}
	case aks.OpNodegroupScale:
		if plan.FromNodes < 0 || plan.ToNodes < 0 {
			return 0, 0, false
		}
		added, after := plan.ToNodes-plan.FromNodes, plan.ToNodes
		// A raised max size is room the group may grow into (the cluster autoscaler): it counts
		// like an autoscaler max, and when its old value is unknown, nothing is auto-approved.
		if from, to, ok := nodegroupMax(op, plan); ok {
			if from < 0 {
				return 0, 0, false
			}
			added, after = max(added, to-from), max(after, to)
		}
		return added, after, true
	case aks.OpNodegroupCreate:
		if after := poolSizeAfter(op, plan); after >= 0 {
			return after, after, true
		}
	}
	return 0, 0, false
}

// changedCount finds the plan's change whose What ends with suffix and reads its counts; from is
// -1 when the thing is new. ok is false when there is no such change or it is not a count.
func changedCount(plan aks.Plan, suffix string) (from, to int, ok bool) {
	for _, c := range plan.Changes {
		if !strings.HasSuffix(c.What, suffix) {
			continue
		}
		from = -1
		if c.From != "" {
			if _, err := fmt.Sscan(c.From, &from); err != nil {
				return 0, 0, false
			}
		}
		if _, err := fmt.Sscan(c.To, &to); err != nil {
			return 0, 0, false
		}
		return from, to, true
	}
	return 0, 0, false
}

// nodegroupMax returns the max size an EKS node-group request changes: the plan's change of it
// (from -1 on a create). A plan without changes (the offline checker's) does not say, so the
// size the operation asks for counts, its old value unknown. ok is false when the max stays.
func nodegroupMax(op aks.Operation, plan aks.Plan) (from, to int, ok bool) {
	if op.Kind.Provider() != aks.ProviderEKS {
		return 0, 0, false
	}
	if from, to, ok := changedCount(plan, " max size"); ok || len(plan.Changes) > 0 {
		return from, to, ok
	}
	if op.Nodegroup != nil && op.Nodegroup.MaxSize != nil {
		return -1, *op.Nodegroup.MaxSize, true
	}
	return 0, 0, false
}

// autoApprove returns the note for a scale-up small enough to need no approval.
func (r *rule) autoApprove(op aks.Operation, plan aks.Plan) (string, bool) {
	s := r.scaleUp
	if s == nil {
		return "", false
	}
	added, after, ok := growth(op, plan)
	if !ok || added > s.MaxAddedNodes || after > s.MaxPoolNodes {
		return "", false
	}
	if limit := s.MaxMonthlyCostIncrease; limit > 0 {
		cur := r.currency
		switch {
		case !plan.Cost.Known():
			return fmt.Sprintf("not auto-approved: rule %s auto-approves scale-ups adding at most %s/month, and the %s",
				r.name, aks.Money(limit, cur), unknownCost(plan)), false
		case plan.Cost.MonthlyIncrease() > limit:
			return "", false
		}
		return fmt.Sprintf("auto-approved by rule %s: +%s, %d in the %s, %s/month (the rule allows up to +%d, at most %d in the %s and %s/month)",
			r.name, nodes(added), after, poolWord(op), aks.SignedMoney(plan.Cost.MonthlyIncrease(), cur), s.MaxAddedNodes, s.MaxPoolNodes, poolWord(op), aks.SignedMoney(limit, cur)), true
	}
	return fmt.Sprintf("auto-approved by rule %s: +%s, %d in the %s (the rule allows up to +%d and at most %d in the %s)",
		r.name, nodes(added), after, poolWord(op), s.MaxAddedNodes, s.MaxPoolNodes, poolWord(op)), true
}

// SetCurrency names the currency of the cost limits (prices.currency; default USD), for
// messages and /aks policy.
func (p *Policy) SetCurrency(currency string) {
	for i := range p.rules {
		p.rules[i].currency = currency
	}
}

// unknownCost says why the plan's cost is unknown: "cost unknown (why)".
func unknownCost(plan aks.Plan) string {
	if plan.Cost == nil {
		return "cost is unknown (no price list was consulted)"
	}
	return "cost is unknown (" + plan.Cost.Unknown + ")"
}

// checkCost refuses a request that raises the monthly cost by more than the guardrail allows,
// and, failing closed, one whose cost is unknown.
func (r *rule) checkCost(op aks.Operation, plan aks.Plan) error {
	limit := r.guard.MaxMonthlyCostIncrease
	if limit <= 0 || !(growsCapacity(op, plan) || op.Kind == aks.OpClusterStart) {
		return nil
	}
	cur := r.currency
	if op.Target.IsEKS() {
		// aksbot has no EKS price list: no EKS plan ever has a known cost, so the limit can only
		// refuse. Fail closed, and say how to scope the limit to AKS.
		return r.refuse(
			fmt.Sprintf("rule %s allows at most %s/month more, and aksbot does not price EKS node groups, so it is refused", r.name, aks.SignedMoney(limit, cur)),
			"an admin can scope the cost limit to AKS (match.providers: [aks]) and give EKS a rule of its own")
	}
	if !plan.Cost.Known() {
		return r.refuse(
			fmt.Sprintf("rule %s allows at most %s/month more, and the %s, so it is refused", r.name, aks.SignedMoney(limit, cur), unknownCost(plan)),
			"ask again when the price list can be read")
	}
	if d := plan.Cost.MonthlyIncrease(); d > limit {
		return r.refuse(
			fmt.Sprintf("rule %s allows at most %s/month more; this adds %s/month", r.name, aks.SignedMoney(limit, cur), aks.SignedMoney(d, cur)),
			"ask for fewer or smaller nodes")
	}
	return nil
}

// checkGuardrails refuses what the rule's guardrails forbid. Node limits apply to requests that
// add capacity (shrinking an oversized pool stays possible); VM sizes to new AKS pools and
// clusters, instance types to new node groups; locations (AKS) and regions (EKS) to creates and
// growth; versions to creates and upgrades.
func (r *rule) checkGuardrails(op aks.Operation, plan aks.Plan) error {
	g := r.guard
	grows := growsCapacity(op, plan)
	eks := op.Kind.Provider() == aks.ProviderEKS
	if g.MaxNodesPerPool > 0 && grows {
		if n := poolSizeAfter(op, plan); n > g.MaxNodesPerPool {
			return r.refuse(
				fmt.Sprintf("rule %s allows at most %d nodes per %s; this asks for %d", r.name, g.MaxNodesPerPool, poolWord(op), n),
				fmt.Sprintf("ask for at most %d nodes", g.MaxNodesPerPool))
		}
	}
	if g.MaxNodesPerCluster > 0 && grows {
		n := plan.ClusterNodes
		if op.Kind == aks.OpClusterCreate && n <= 0 {
			n = poolSizeAfter(op, plan)
		}
		if eks && n >= 0 && plan.ToNodes >= 0 {
			// The EKS planner counts every group at its desired size; this one may reach its max.
			n += poolSizeAfter(op, plan) - plan.ToNodes
		}
		if n > g.MaxNodesPerCluster {
			return r.refuse(
				fmt.Sprintf("rule %s allows at most %d nodes per cluster; this would make %d", r.name, g.MaxNodesPerCluster, n),
				fmt.Sprintf("scale another %s down first, or ask for fewer nodes", poolWord(op)))
		}
	}
	if len(g.VMSizes) > 0 && (op.Kind == aks.OpClusterCreate || op.Kind == aks.OpPoolAdd) {
		size := cmp.Or(op.VMSize, plan.VMSize)
		if size == "" || !globAny(lower(g.VMSizes), size) {
			return r.refuse(
				fmt.Sprintf("rule %s allows only the VM sizes %s; this asks for %s", r.name, strings.Join(g.VMSizes, ", "), cmp.Or(size, "an unknown size")),
				"pick one of them with --node-vm-size")
		}
	}
	if len(g.InstanceTypes) > 0 && op.Kind == aks.OpNodegroupCreate {
		if err := r.checkInstanceTypes(op, plan); err != nil {
			return err
		}
	}
	if len(g.Locations) > 0 && !eks && (op.Kind == aks.OpClusterCreate || grows) {
		loc := plan.Location
		if op.Kind == aks.OpClusterCreate {
			loc = cmp.Or(op.Location, plan.Location)
		}
		// An existing cluster whose location the plan does not give is not refused: the
		// location cannot change after creation, so it was checked then.
		if (loc != "" || op.Kind == aks.OpClusterCreate) && !globAny(lower(g.Locations), loc) {
			return r.refuse(
				fmt.Sprintf("rule %s allows only the locations %s; this asks for %s", r.name, strings.Join(g.Locations, ", "), cmp.Or(loc, "an unknown location")),
				"pick one of them with --location")
		}
	}
	if len(g.Regions) > 0 && eks && grows {
		// Every EKS target names its region, so an unknown one is refused (fail closed).
		if region := cmp.Or(plan.Location, op.Target.Region); region == "" || !globAny(lower(g.Regions), region) {
			return r.refuse(
				fmt.Sprintf("rule %s lets EKS clusters grow only in the regions %s; this asks for %s", r.name, strings.Join(g.Regions, ", "), cmp.Or(region, "an unknown region")),
				"ask in one of those regions")
		}
	}
	if err := r.checkCost(op, plan); err != nil {
		return err
	}
	if len(g.KubernetesVersions) > 0 && setsVersion(op, plan) {
		v := cmp.Or(op.KubernetesVersion, plannedVersion(plan))
		if v == "" || !versionAllowed(lower(g.KubernetesVersions), v, eks) {
			return r.refuse(
				fmt.Sprintf("rule %s allows only the Kubernetes versions %s; this asks for %s", r.name, strings.Join(g.KubernetesVersions, ", "), cmp.Or(v, "an unknown version")),
				"pick an allowed one with --kubernetes-version")
		}
	}
	return nil
}

// checkInstanceTypes refuses a new node group with an instance type the rule does not allow:
// the node group may run on any of its types, so every one must be allowed.
func (r *rule) checkInstanceTypes(op aks.Operation, plan aks.Plan) error {
	var types []string
	if op.Nodegroup != nil {
		types = op.Nodegroup.InstanceTypes
	}
	if len(types) == 0 && plan.VMSize != "" {
		types = strings.Split(plan.VMSize, ",")
	}
	allowed := lower(r.guard.InstanceTypes)
	bad := slices.DeleteFunc(slices.Clone(types), func(t string) bool { return globAny(allowed, strings.TrimSpace(t)) })
	if len(types) > 0 && len(bad) == 0 {
		return nil
	}
	asked := "an unknown instance type"
	switch {
	case len(types) == 1:
		asked = types[0]
	case len(types) > 1:
		asked = fmt.Sprintf("%s (of %s)", strings.Join(bad, ", "), strings.Join(types, ", "))
	}
	return r.refuse(
		fmt.Sprintf("rule %s allows only the instance types %s; this asks for %s", r.name, strings.Join(r.guard.InstanceTypes, ", "), asked),
		"pick only allowed ones with --instance-types")
}

// versionAllowed reports whether the version matches one of the lowercase patterns. EKS versions
// are major.minor ("1.31"), so for them a pattern written for AKS patch versions ("1.31.*")
// counts as well.
func versionAllowed(patterns []string, v string, eks bool) bool {
	return globAny(patterns, v) || (eks && strings.Count(v, ".") == 1 && globAny(patterns, v+".0"))
}

// poolWord names what the operation's pool is, for messages.
func poolWord(op aks.Operation) string {
	if op.Kind.Provider() == aks.ProviderEKS {
		return "node group"
	}
	return "pool"
}

func (r *rule) refuse(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EInvalid, Message: msg,
		Hint: hint + "; the limits are in " + r.path + ".guardrails of the bot's configuration"}
}

// growsCapacity reports whether the request may end with more nodes than now.
func growsCapacity(op aks.Operation, plan aks.Plan) bool {
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpPoolAdd, aks.OpNodegroupCreate:
		return true
	case aks.OpPoolScale, aks.OpNodegroupScale:
		return addsCapacity(op, plan)
	case aks.OpPoolAutoscale:
		return !op.DisableAutoscaler && plan.ScaleUp
	}
	return false
}

// poolSizeAfter is the largest size the pool may reach: the node count, or the autoscaler max;
// for an EKS node group, the desired size, or the max size the request sets.
func poolSizeAfter(op aks.Operation, plan aks.Plan) int {
	n := plan.ToNodes
	if n < 0 && op.NodeCount != nil {
		n = *op.NodeCount
	}
	if n < 0 && op.Nodegroup != nil && op.Nodegroup.DesiredSize != nil {
		n = *op.Nodegroup.DesiredSize
	}
	if op.Autoscaler != nil && !op.DisableAutoscaler {
		n = max(n, op.Autoscaler.Max)
	}
	if _, to, ok := nodegroupMax(op, plan); ok {
		n = max(n, to)
	}
	return n
}

// setsVersion reports whether the request chooses a Kubernetes version. A node-group upgrade
// that only moves to a newer AMI release of its version does not.
func setsVersion(op aks.Operation, plan aks.Plan) bool {
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterUpgrade, aks.OpNodegroupCreate:
		return true
	case aks.OpPoolUpgrade:
		return !op.NodeImageOnly
	case aks.OpNodegroupUpgrade:
		return op.KubernetesVersion != "" || plannedVersion(plan) != ""
	}
	return false
}

// plannedVersion is the Kubernetes version a plan goes to, when the operation left it to the
// default (create without --kubernetes-version).
func plannedVersion(plan aks.Plan) string {
	for _, c := range plan.Changes {
		if strings.HasSuffix(c.What, "Kubernetes version") && c.To != "" {
			return c.To
		}
	}
	return ""
}

func unauthorized(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EUnauthorized, Message: msg, Hint: hint}
}

// globAny reports whether value matches one of the lowercase patterns, ignoring case. No
// patterns match anything.
func globAny(patterns []string, value string) bool {
	if len(patterns) == 0 {
		return true
	}
	v := strings.ToLower(value)
	for _, pat := range patterns {
		if ok, err := path.Match(pat, v); err == nil && ok {
			return true
		}
	}
	return false
}

func lower(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func allUsers(ids []string) bool {
	return !slices.ContainsFunc(ids, config.ValidGroupID)
}

// display renders IDs as Slack shows them: "<@U1>" for users, "<!subteam^S1>" for groups.
func display(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if config.ValidGroupID(id) {
			out[i] = groupMention(id)
		} else {
			out[i] = "<@" + id + ">"
		}
	}
	return out
}

func groupMention(id string) string { return "<!subteam^" + id + ">" }

func channelMentions(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "<#" + id + ">"
	}
	return out
}

func clusterName(t aks.Target) string { return t.ClusterName() }

func approvalCount(n int) string {
	if n == 1 {
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals", n)
}

func nodes(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
