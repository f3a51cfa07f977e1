package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// Describe says, for `/aks policy CLUSTER` (or `/eks policy`), which rule applies to the
// target's cluster and what it means for operations of its cloud: where and by whom operations
// may be requested, what needs approval from whom and how many, what is auto-approved, and the
// guardrails. The first line names the cluster as ClusterName does ("eks · eu-west-1 · web"), so
// it names the cloud of EKS clusters. Slack mrkdwn.
func (p *Policy) Describe(_ context.Context, t aks.Target) string {
	r := p.ruleFor(t)
	provider := providerOf(t)
	pool := "pool"
	if provider == aks.ProviderEKS {
		pool = "node group"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Policy for %s*: rule *%s*%s\n", clusterName(t), r.name, r.scope())
	fmt.Fprintf(&b, "• Requests: by %s, in %s\n", r.whoRequests(), r.where())
	switch kinds := r.approvalKinds(provider); {
	case kinds == "":
		b.WriteString("• Approval: not needed for any operation\n")
	case len(r.approvers) == 0:
		fmt.Fprintf(&b, "• Approval: needed for %s, but nobody can give it: add approvers to %s\n", kinds, r.approversPath)
	default:
		fmt.Fprintf(&b, "• Approval: %s from %s (never the requester's own), for %s; pending requests expire after %s\n",
			approvalCount(r.approvals), orList(display(r.approvers)), kinds, shortDuration(r.timeout))
		if free := r.freeKinds(provider); free != "" {
			fmt.Fprintf(&b, "• No approval: %s\n", free)
		}
	}
	if s := r.scaleUp; s != nil {
		fmt.Fprintf(&b, "• Auto-approved: scale-ups adding at most %s and leaving at most %d in the %s", nodes(s.MaxAddedNodes), s.MaxPoolNodes, pool)
		if s.MaxMonthlyCostIncrease > 0 {
			fmt.Fprintf(&b, ", costing at most %s/month more (list prices)", aks.Money(s.MaxMonthlyCostIncrease, r.currency))
		}
		b.WriteString("\n")
	}
	if g := r.guardrails(provider); g != "" {
		fmt.Fprintf(&b, "• Guardrails: %s\n", g)
	}
	if t.Pool == "" {
		// Rules for some pools of this cluster come first for operations on those pools.
		for i := range p.rules {
			o := &p.rules[i]
			if o == r {
				break
			}
			if len(o.pools) > 0 && p.matchesCluster(o, t) {
				fmt.Fprintf(&b, "• For %ss %s: rule *%s* instead\n", pool, strings.Join(o.pools, ", "), o.name)
			}
		}
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

// isCatchAllShadowed reports whether earlier rules match every cluster of every cloud the rule
// could match.
func (r *rule) isCatchAllShadowed(before []rule) bool {
	return !slices.ContainsFunc(r.providers, func(provider string) bool {
		return !slices.ContainsFunc(before, func(o rule) bool {
			return o.matchesEveryCluster() && slices.Contains(o.providers, provider)
		})
	})
}

// matchesEveryCluster reports whether the rule selects every cluster of its clouds.
func (r *rule) matchesEveryCluster() bool {
	return len(r.subscriptions) == 0 && len(r.resourceGroups) == 0 && len(r.accounts) == 0 &&
		len(r.regions) == 0 && len(r.clusters) == 0 && len(r.pools) == 0
}

// Query is one hypothetical request for Explain, as the command line gives it. From and To are
// node counts (for scale, add, create and delete; for EKS node groups the desired size) or, for
// nodepool.update, the autoscaler's old and new max; From -1 means unknown.
type Query struct {
	User     aks.User
	Channel  string // "" = not checked
	Target   aks.Target
	Op       aks.OpKind
	From, To int
	// MaxSize is the max size an EKS node-group create or scale sets; 0 = not given. A scale's
	// old max is not known here, so one that sets it is never auto-approved.
	MaxSize int
	// VMSize is the VM size on AKS; on EKS, the instance types joined by ",", as plans hold them.
	VMSize   string
	Location string // on EKS: the region, when it is not the target's
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
	provider := providerOf(q.Target)
	if !q.Op.Valid() {
		fmt.Fprintf(&b, "Decision: refused: %q is not an operation kind (known: %s)", q.Op, kindNames(provider))
		return b.String()
	}
	if q.Op.Provider() != provider {
		fmt.Fprintf(&b, "Decision: refused: %s is an operation on %s, and %s is an %s cluster (known kinds: %s)",
			q.Op, strings.ToUpper(q.Op.Provider()), clusterName(q.Target), strings.ToUpper(provider), kindNames(provider))
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
	case aks.OpClusterDelete, aks.OpPoolDelete, aks.OpNodegroupDelete:
		plan.FromNodes, plan.ToNodes = q.From, 0
	case aks.OpNodegroupScale, aks.OpNodegroupCreate:
		op.Nodegroup = &aks.NodegroupSpec{DesiredSize: &to}
		if q.VMSize != "" && q.Op == aks.OpNodegroupCreate {
			op.Nodegroup.InstanceTypes = strings.Split(q.VMSize, ",")
		}
		plan.FromNodes, plan.ToNodes = q.From, q.To
		plan.ScaleUp = q.From >= 0 && q.To > q.From
		if q.Op == aks.OpNodegroupCreate {
			plan.FromNodes, plan.ScaleUp = 0, true
		}
		if q.MaxSize > 0 {
			maxSize := q.MaxSize
			op.Nodegroup.MaxSize = &maxSize
			// Its old value is not known: the change says so (From ""), and a scale that sets
			// it counts as one that may add nodes.
			plan.Changes = append(plan.Changes, aks.Change{What: q.Target.Pool + " max size", To: fmt.Sprint(maxSize)})
			plan.ScaleUp = true
		}
	}
	if q.Op.Provider() == aks.ProviderEKS {
		plan.Location = cmp.Or(q.Location, q.Target.Region)
	}
	return op, plan
}

// scope says which clusters a rule matches: " (resource groups rg-prod-*, clusters prod-*)", or
// for EKS " (EKS; AWS regions eu-*; clusters web-*; node groups gpu-*)".
func (r *rule) scope() string {
	var parts []string
	if len(r.providers) == 1 && len(r.subscriptions)+len(r.resourceGroups)+len(r.accounts)+len(r.regions) == 0 {
		parts = append(parts, strings.ToUpper(r.providers[0])) // the keys below would not say which cloud
	}
	for _, k := range []struct {
		what     string
		patterns []string
	}{
		{"subscriptions", r.subscriptions}, {"resource groups", r.resourceGroups},
		{"AWS accounts", r.accounts}, {"AWS regions", r.regions},
		{"clusters", r.clusters}, {r.poolsWord(), r.pools},
	} {
		if len(k.patterns) > 0 {
			parts = append(parts, k.what+" "+strings.Join(k.patterns, ", "))
		}
	}
	if len(parts) == 0 {
		if r.path == "policy" {
			return " (clusters no other rule matches)"
		}
		return " (every cluster)"
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// poolsWord names the pools of the clouds the rule matches.
func (r *rule) poolsWord() string {
	switch {
	case len(r.providers) != 1:
		return "node pools and groups"
	case r.providers[0] == aks.ProviderEKS:
		return "node groups"
	}
	return "node pools"
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

// approvalKinds lists what needs approval on the provider's clusters, noting that scaling needs
// it only when it adds nodes.
func (r *rule) approvalKinds(provider string) string {
	var always, growing []string
	for _, k := range aks.OpKinds {
		if k.Provider() != provider || !slices.Contains(r.requireFor, k) {
			continue
		}
		if conditional(k) {
			growing = append(growing, string(k))
		} else {
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

// conditional reports whether the kind needs approval only when it adds nodes.
func conditional(k aks.OpKind) bool {
	switch k {
	case aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolAutoscale, aks.OpNodegroupScale:
		return true
	}
	return false
}

// freeKinds lists what needs no approval on the provider's clusters.
func (r *rule) freeKinds(provider string) string {
	var free []string
	for _, k := range aks.OpKinds {
		if k.Provider() == provider && !slices.Contains(r.requireFor, k) {
			free = append(free, string(k))
		}
	}
	if slices.ContainsFunc(r.requireFor, func(k aks.OpKind) bool { return k.Provider() == provider && conditional(k) }) {
		free = append(free, "scale-downs")
		if provider == aks.ProviderAKS {
			free = append(free, "disabling the autoscaler")
		}
	}
	return strings.Join(free, ", ")
}

// guardrails lists the limits that apply to the provider's clusters.
func (r *rule) guardrails(provider string) string {
	g := r.guard
	eks := provider == aks.ProviderEKS
	pool := "pool"
	if eks {
		pool = "node group"
	}
	var parts []string
	if g.MaxNodesPerPool > 0 {
		parts = append(parts, fmt.Sprintf("at most %d nodes per %s", g.MaxNodesPerPool, pool))
	}
	if g.MaxNodesPerCluster > 0 {
		parts = append(parts, fmt.Sprintf("at most %d nodes per cluster", g.MaxNodesPerCluster))
	}
	if len(g.VMSizes) > 0 && !eks {
		parts = append(parts, "VM sizes "+strings.Join(g.VMSizes, ", "))
	}
	if len(g.Locations) > 0 && !eks {
		parts = append(parts, "locations "+strings.Join(g.Locations, ", "))
	}
	if len(g.InstanceTypes) > 0 && eks {
		parts = append(parts, "instance types "+strings.Join(g.InstanceTypes, ", "))
	}
	if len(g.Regions) > 0 && eks {
		parts = append(parts, "regions "+strings.Join(g.Regions, ", "))
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

// kindNames lists the operation kinds of the provider's clusters.
func kindNames(provider string) string {
	var s []string
	for _, k := range aks.OpKinds {
		if k.Provider() == provider {
			s = append(s, string(k))
		}
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
