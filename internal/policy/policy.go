// Package policy decides who may request and approve AKS operations, where, how many approvals
// an operation needs, and which requests are refused outright (guardrails). It implements
// jobs.Policy from the configuration file's policy section: scoped rules matched by resource
// group and cluster (first match wins), with the top-level keys as the default rule.
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

	subscriptions, resourceGroups, clusters []string // lowercase glob patterns; empty = any

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
			subscriptions:  lower(rf.Match.Subscriptions),
			resourceGroups: lower(rf.Match.ResourceGroups),
			clusters:       lower(rf.Match.Clusters),
			approvals:      1,
			timeout:        timeout,
			requireFor:     f.RuleRequireApprovalFor(i),
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
		name:     config.DefaultRuleName,
		path:     "policy",
		channels: dedupe(f.Channels), channelsPath: "policy.channels",
		requesters: dedupe(f.Requesters), requestersPath: "policy.requesters",
		approvers: dedupe(f.Approvers), approversPath: "policy.approvers",
		approvals:  1,
		timeout:    timeout,
		requireFor: f.RuleRequireApprovalFor(-1),
		currency:   "USD",
	})
	return p, nil
}

// Demo is the console demo's policy: the given user (a console name such as "bob") approves,
// anyone may request anywhere, and approvals are required, so the demo shows the approval flow.
func Demo(approver string) *Policy {
	return &Policy{rules: []rule{{
		name: config.DefaultRuleName, path: "policy",
		channelsPath: "policy.channels", requestersPath: "policy.requesters",
		approvers: []string{approver}, approversPath: "policy.approvers",
		approvals:  1,
		timeout:    config.DefaultApprovalTimeout,
		requireFor: config.DefaultRequireApprovalFor,
		currency:   "USD",
	}}}
}

// NeedsApproval reports whether the planned operation must wait for approvers under the rule that
// matches its cluster, before auto-approval is considered.
func (p *Policy) NeedsApproval(op aks.Operation, plan aks.Plan) bool {
	return p.ruleFor(op.Target).needsApproval(op, plan)
}

// Approvers returns who can approve op under the rule that matches its cluster, as Slack shows
// them ("<@U1>", "<!subteam^S1>"), in configuration order.
func (p *Policy) Approvers(op aks.Operation) []string {
	return display(p.ruleFor(op.Target).approvers)
}

func copyGuardrails(g config.GuardrailsFile) config.GuardrailsFile {
	g.VMSizes = slices.Clone(g.VMSizes)
	g.Locations = slices.Clone(g.Locations)
	g.KubernetesVersions = slices.Clone(g.KubernetesVersions)
	return g
}

func inherit(own []string, ownPath string, def []string, defPath string) ([]string, string) {
	if own != nil {
		return dedupe(own), ownPath
	}
	return dedupe(def), defPath
}

// ruleFor returns the first rule whose match selects the target's cluster. The default rule
// is last and matches anything, so there always is one.
func (p *Policy) ruleFor(t aks.Target) *rule {
	for i := range p.rules {
		r := &p.rules[i]
		if p.subscriptionMatches(r.subscriptions, t) && globAny(r.resourceGroups, t.ResourceGroup) && globAny(r.clusters, t.Cluster) {
			return r
		}
	}
	return &p.rules[len(p.rules)-1]
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
	r := p.ruleFor(op.Target)
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
func (p *Policy) Evaluate(_ context.Context, user aks.User, _ string, op aks.Operation, plan aks.Plan) (jobs.Requirement, error) {
	r := p.ruleFor(op.Target)
	req := jobs.Requirement{Rule: r.name, Timeout: r.timeout}
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
	r := p.ruleFor(job.Op.Target)
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
// scaling kinds need it only when they add capacity; disabling the autoscaler never does.
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
	case aks.OpPoolScale, aks.OpPoolAdd:
		return addsCapacity(op, plan)
	}
	return true
}

// addsCapacity reports whether a scale or an added pool adds nodes. The planner says so in
// plan.ScaleUp; the node counts are checked as well so that unknown counts (-1) fail closed.
func addsCapacity(op aks.Operation, plan aks.Plan) bool {
	if plan.ScaleUp {
		return true
	}
	if op.Kind == aks.OpPoolScale {
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
		for _, c := range plan.Changes {
			if strings.HasSuffix(c.What, " autoscaler max") && c.From != "" {
				var from, to int
				if _, err := fmt.Sscan(c.From, &from); err != nil {
					return 0, 0, false
				}
				if _, err := fmt.Sscan(c.To, &to); err != nil {
					return 0, 0, false
				}
				return to - from, to, true
			}
		}
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
		return fmt.Sprintf("auto-approved by rule %s: +%s, %d in the pool, %s/month (the rule allows up to +%d, at most %d in the pool and %s/month)",
			r.name, nodes(added), after, aks.SignedMoney(plan.Cost.MonthlyIncrease(), cur), s.MaxAddedNodes, s.MaxPoolNodes, aks.SignedMoney(limit, cur)), true
	}
	return fmt.Sprintf("auto-approved by rule %s: +%s, %d in the pool (the rule allows up to +%d and at most %d in the pool)",
		r.name, nodes(added), after, s.MaxAddedNodes, s.MaxPoolNodes), true
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
// add capacity (shrinking an oversized pool stays possible); VM sizes to new pools and clusters;
// locations to creates and growth; versions to creates and upgrades.
func (r *rule) checkGuardrails(op aks.Operation, plan aks.Plan) error {
	g := r.guard
	grows := growsCapacity(op, plan)
	if g.MaxNodesPerPool > 0 && grows {
		if n := poolSizeAfter(op, plan); n > g.MaxNodesPerPool {
			return r.refuse(
				fmt.Sprintf("rule %s allows at most %d nodes per pool; this asks for %d", r.name, g.MaxNodesPerPool, n),
				fmt.Sprintf("ask for at most %d nodes", g.MaxNodesPerPool))
		}
	}
	if g.MaxNodesPerCluster > 0 && grows {
		n := plan.ClusterNodes
		if op.Kind == aks.OpClusterCreate && n <= 0 {
			n = poolSizeAfter(op, plan)
		}
		if n > g.MaxNodesPerCluster {
			return r.refuse(
				fmt.Sprintf("rule %s allows at most %d nodes per cluster; this would make %d", r.name, g.MaxNodesPerCluster, n),
				"scale another pool down first, or ask for fewer nodes")
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
	if len(g.Locations) > 0 && (op.Kind == aks.OpClusterCreate || grows) {
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
	if err := r.checkCost(op, plan); err != nil {
		return err
	}
	if len(g.KubernetesVersions) > 0 && setsVersion(op) {
		v := cmp.Or(op.KubernetesVersion, plannedVersion(plan))
		if v == "" || !globAny(lower(g.KubernetesVersions), v) {
			return r.refuse(
				fmt.Sprintf("rule %s allows only the Kubernetes versions %s; this asks for %s", r.name, strings.Join(g.KubernetesVersions, ", "), cmp.Or(v, "an unknown version")),
				"pick an allowed one with --kubernetes-version")
		}
	}
	return nil
}

func (r *rule) refuse(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EInvalid, Message: msg,
		Hint: hint + "; the limits are in " + r.path + ".guardrails of the bot's configuration"}
}

// growsCapacity reports whether the request may end with more nodes than now.
func growsCapacity(op aks.Operation, plan aks.Plan) bool {
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpPoolAdd:
		return true
	case aks.OpPoolScale:
		return addsCapacity(op, plan)
	case aks.OpPoolAutoscale:
		return !op.DisableAutoscaler && plan.ScaleUp
	}
	return false
}

// poolSizeAfter is the largest size the pool may reach: the node count, or the autoscaler max.
func poolSizeAfter(op aks.Operation, plan aks.Plan) int {
	n := plan.ToNodes
	if n < 0 && op.NodeCount != nil {
		n = *op.NodeCount
	}
	if op.Autoscaler != nil && !op.DisableAutoscaler {
		n = max(n, op.Autoscaler.Max)
	}
	return n
}

func setsVersion(op aks.Operation) bool {
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterUpgrade:
		return true
	case aks.OpPoolUpgrade:
		return !op.NodeImageOnly
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
