package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// Describe says, for `/aks policy CLUSTER`, which rule applies to the target's cluster and what
// it means: where and by whom operations may be requested, what needs approval from whom and how
// many, what is auto-approved, and the guardrails. Slack mrkdwn.
func (p *Policy) Describe(_ context.Context, t aks.Target) string {
	r := p.ruleFor(t)
	var b strings.Builder
	fmt.Fprintf(&b, "*Policy for %s*: rule *%s*%s\n", clusterName(t), r.name, r.scope())
	fmt.Fprintf(&b, "• Requests: by %s, in %s\n", r.whoRequests(), r.where())
	switch {
	case len(r.requireFor) == 0:
		b.WriteString("• Approval: not needed for any operation\n")
	case len(r.approvers) == 0:
		fmt.Fprintf(&b, "• Approval: needed for %s, but nobody can give it: add approvers to %s\n", r.approvalKinds(), r.approversPath)
	default:
		fmt.Fprintf(&b, "• Approval: %s from %s (never the requester's own), for %s; pending requests expire after %s\n",
			approvalCount(r.approvals), orList(display(r.approvers)), r.approvalKinds(), shortDuration(r.timeout))
		if free := r.freeKinds(); free != "" {
			fmt.Fprintf(&b, "• No approval: %s\n", free)
		}
	}
	if s := r.scaleUp; s != nil {
		fmt.Fprintf(&b, "• Auto-approved: scale-ups adding at most %s and leaving at most %d in the pool", nodes(s.MaxAddedNodes), s.MaxPoolNodes)
		if s.MaxMonthlyCostIncrease > 0 {
			fmt.Fprintf(&b, ", costing at most %s/month more (list prices)", aks.Money(s.MaxMonthlyCostIncrease, r.currency))
		}
		b.WriteString("\n")
	}
	if g := r.guardrails(); g != "" {
		fmt.Fprintf(&b, "• Guardrails: %s\n", g)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// WhoAmI says what the user may request and approve, and where, rule by rule. Slack mrkdwn.
// It fails (EUnavailable) when a user group cannot be resolved.
func (p *Policy) WhoAmI(ctx context.Context, user aks.User) (string, error) {
	if user.ID == "" {
		return "", unauthorized("your user is not known", "")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*What <@%s> may do*\n", user.ID)
	for i := range p.rules {
		r := &p.rules[i]
		if i == len(p.rules)-1 && r.isCatchAllShadowed(p.rules[:i]) {
			continue // a catch-all rule before it leaves the default nothing to decide
		}
		canRequest := len(r.requesters) == 0
		if !canRequest {
			ok, err := p.member(ctx, user.ID, r.requesters, "so your rights could not be listed")
			if err != nil {
				return "", err
			}
			canRequest = ok
		}
		canApprove, err := p.member(ctx, user.ID, r.approvers, "so your rights could not be listed")
		if err != nil {
			return "", err
		}
		var parts []string
		if canRequest {
			parts = append(parts, "request in "+r.where())
		} else {
			parts = append(parts, "cannot request (only "+orList(display(r.requesters))+")")
		}
		switch {
		case len(r.requireFor) == 0:
			parts = append(parts, "no approvals needed")
		case canApprove:
			parts = append(parts, fmt.Sprintf("approve others' requests (%s each)", approvalCount(r.approvals)))
		default:
			parts = append(parts, "cannot approve")
		}
		fmt.Fprintf(&b, "• *%s*%s: %s\n", r.name, r.scope(), strings.Join(parts, "; "))
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// isCatchAllShadowed reports whether an earlier rule matches every cluster.
func (r *rule) isCatchAllShadowed(before []rule) bool {
	return slices.ContainsFunc(before, func(o rule) bool {
		return len(o.subscriptions) == 0 && len(o.resourceGroups) == 0 && len(o.clusters) == 0
	})
}

// Query is one hypothetical request for Explain, as the command line gives it. From and To are
// node counts (for scale, add, create and delete) or, for nodepool.update, the autoscaler's old
// and new max; From -1 means unknown.
type Query struct {
	User     aks.User
	Channel  string // "" = not checked
	Target   aks.Target
	Op       aks.OpKind
	From, To int
	VMSize   string
	Location string
	Version  string
}

// Explain says what the policy decides for the query and why: refused (and by which rule and
// check), or allowed with the approvals needed and from whom, auto-approved, or free to go.
func Explain(ctx context.Context, p *Policy, q Query) string {
	op, plan := q.build()
	r := p.ruleFor(q.Target)
	var b strings.Builder
	fmt.Fprintf(&b, "Request: %s asks to %s", userName(q.User), op.Describe())
	if q.Channel != "" {
		fmt.Fprintf(&b, " in %s", q.Channel)
	}
	fmt.Fprintf(&b, "\nRule: %s (%s)%s\n", r.name, r.path, r.scope())
	if !q.Op.Valid() {
		fmt.Fprintf(&b, "Decision: refused: %q is not an operation kind (known: %s)", q.Op, kindNames())
		return b.String()
	}
	checkReq := p.CanRequest
	if q.Channel == "" {
		// The channel is not part of the question: check the requester under every channel
		// the rule accepts.
		r2 := *r
		r2.channels = nil
		tmp := &Policy{rules: []rule{r2}, groups: p.groups}
		checkReq = tmp.CanRequest
	}
	if err := checkReq(ctx, q.User, q.Channel, op); err != nil {
		b.WriteString("Decision: refused: " + errorText(err))
		return b.String()
	}
	req, err := p.Evaluate(ctx, q.User, q.Channel, op, plan)
	switch {
	case err != nil:
		b.WriteString("Decision: refused: " + errorText(err))
	case req.Approvals > 0:
		fmt.Fprintf(&b, "Decision: allowed after %s from %s (not the requester); it expires after %s without them",
			approvalCount(req.Approvals), orList(req.Approvers), shortDuration(req.Timeout))
	case req.Note != "":
		fmt.Fprintf(&b, "Decision: allowed without approval: %s", req.Note)
	default:
		fmt.Fprintf(&b, "Decision: allowed without approval: rule %s needs none for this", req.Rule)
	}
	if q.Channel == "" {
		fmt.Fprintf(&b, "\nChannels: %s (not checked)", r.where())
	}
	return b.String()
}

// build makes the operation and the plan the planner would make for the query.
func (q Query) build() (aks.Operation, aks.Plan) {
	op := aks.Operation{Kind: q.Op, Target: q.Target, VMSize: q.VMSize, Location: q.Location, KubernetesVersion: q.Version}
	plan := aks.Plan{FromNodes: -1, ToNodes: -1, ClusterNodes: -1, VMSize: q.VMSize, Location: q.Location, Pool: q.Target.Pool}
	to := q.To
	switch q.Op {
	case aks.OpPoolScale:
		op.NodeCount = &to
		plan.FromNodes, plan.ToNodes = q.From, q.To
		plan.ScaleUp = q.From >= 0 && q.To > q.From
		plan.Summary = fmt.Sprintf("%s: %d -> %d nodes", q.Target.Pool, q.From, q.To)
	case aks.OpPoolAdd, aks.OpClusterCreate:
		op.NodeCount = &to
		plan.FromNodes, plan.ToNodes, plan.ScaleUp = 0, q.To, q.To > 0
		if q.Op == aks.OpClusterCreate {
			plan.ClusterNodes = q.To
		}
	case aks.OpPoolAutoscale:
		op.Autoscaler = &aks.Autoscaler{Min: min(1, q.To), Max: q.To}
		plan.ScaleUp = q.From < 0 || q.To > q.From
		ch := aks.Change{What: q.Target.Pool + " autoscaler max", To: fmt.Sprint(q.To)}
		if q.From >= 0 {
			ch.From = fmt.Sprint(q.From)
		}
		plan.Changes = []aks.Change{ch}
	case aks.OpClusterDelete, aks.OpPoolDelete:
		plan.FromNodes, plan.ToNodes = q.From, 0
	}
	return op, plan
}

// scope says which clusters a rule matches: " (resource groups rg-prod-*, clusters prod-*)".
func (r *rule) scope() string {
	var parts []string
	if len(r.subscriptions) > 0 {
		parts = append(parts, "subscriptions "+strings.Join(r.subscriptions, ", "))
	}
	if len(r.resourceGroups) > 0 {
		parts = append(parts, "resource groups "+strings.Join(r.resourceGroups, ", "))
	}
	if len(r.clusters) > 0 {
		parts = append(parts, "clusters "+strings.Join(r.clusters, ", "))
	}
	if len(parts) == 0 {
		if r.path == "policy" {
			return " (clusters no other rule matches)"
		}
		return " (every cluster)"
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func (r *rule) whoRequests() string {
	if len(r.requesters) == 0 {
		return "anyone"
	}
	return orList(display(r.requesters))
}

func (r *rule) where() string {
	if len(r.channels) == 0 {
		return "any channel"
	}
	return orList(channelMentions(r.channels))
}

// approvalKinds lists what needs approval, noting that scaling needs it only when it adds nodes.
func (r *rule) approvalKinds() string {
	var always, growing []string
	for _, k := range aks.OpKinds {
		if !slices.Contains(r.requireFor, k) {
			continue
		}
		switch k {
		case aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolAutoscale:
			growing = append(growing, string(k))
		default:
			always = append(always, string(k))
		}
	}
	s := strings.Join(always, ", ")
	if len(growing) > 0 {
		if s != "" {
			s += "; "
		}
		s += strings.Join(growing, ", ") + " when they add nodes"
	}
	return s
}

func (r *rule) freeKinds() string {
	var free []string
	for _, k := range aks.OpKinds {
		if !slices.Contains(r.requireFor, k) {
			free = append(free, string(k))
		}
	}
	if slices.ContainsFunc(r.requireFor, func(k aks.OpKind) bool {
		return k == aks.OpPoolScale || k == aks.OpPoolAdd || k == aks.OpPoolAutoscale
	}) {
		free = append(free, "scale-downs", "disabling the autoscaler")
	}
	return strings.Join(free, ", ")
}

func (r *rule) guardrails() string {
	g := r.guard
	var parts []string
	if g.MaxNodesPerPool > 0 {
		parts = append(parts, fmt.Sprintf("at most %d nodes per pool", g.MaxNodesPerPool))
	}
	if g.MaxNodesPerCluster > 0 {
		parts = append(parts, fmt.Sprintf("at most %d nodes per cluster", g.MaxNodesPerCluster))
	}
	if len(g.VMSizes) > 0 {
		parts = append(parts, "VM sizes "+strings.Join(g.VMSizes, ", "))
	}
	if len(g.Locations) > 0 {
		parts = append(parts, "locations "+strings.Join(g.Locations, ", "))
	}
	if len(g.KubernetesVersions) > 0 {
		parts = append(parts, "Kubernetes "+strings.Join(g.KubernetesVersions, ", "))
	}
	if g.MaxMonthlyCostIncrease > 0 {
		parts = append(parts, fmt.Sprintf("at most %s/month more per request (list prices; refused when the cost is unknown)", aks.Money(g.MaxMonthlyCostIncrease, r.currency)))
	}
	return strings.Join(parts, "; ")
}

func errorText(err error) string {
	var e *aks.Error
	if errors.As(err, &e) {
		if e.Hint != "" {
			return e.Message + " (" + e.Hint + ")"
		}
		return e.Message
	}
	return err.Error()
}

func userName(u aks.User) string {
	if u.Name != "" {
		return fmt.Sprintf("%s (%s)", u.Name, u.ID)
	}
	return u.ID
}

func kindNames() string {
	s := make([]string, len(aks.OpKinds))
	for i, k := range aks.OpKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// shortDuration writes "30m" and "4h" instead of "30m0s" and "4h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
