package views

import (
	"fmt"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// CostReport renders what clusters cost now at list prices (`/aks cost`): per pool and in
// total, per hour and per month (730 hours). scope names what was asked for ("rg-aks/demo",
// "resource group rg-aks").
func CostReport(scope string, rates []aks.RunRate) string {
	if len(rates) == 0 {
		return fmt.Sprintf("No clusters in %s, so nothing to pay for them.", scope)
	}
	var b strings.Builder
	cur := ""
	for _, r := range rates {
		if r.Currency != "" {
			cur = r.Currency
		}
	}
	fmt.Fprintf(&b, "*Run rate of %s* (list prices, pay-as-you-go, %s; a month is %d hours)\n", scope, orDash(cur), aks.HoursPerMonth)
	t := table{header: []string{"CLUSTER", "POOL", "NODES", "VM SIZE", "PER NODE", "PER HOUR", "PER MONTH"}}
	var total float64
	var unknown []string
	for _, r := range rates {
		for _, p := range r.Pools {
			perNode, hour, month := "unknown", "unknown", "unknown"
			if p.Known {
				h := p.PerNode * float64(p.Nodes)
				perNode, hour, month = hourly(p.PerNode, r.Currency)+"/h", hourly(h, r.Currency), aks.Money(h*aks.HoursPerMonth, r.Currency)
			}
			t.rows = append(t.rows, []string{r.Cluster, p.Pool, fmt.Sprint(p.Nodes), p.VMSize, perNode, hour, month})
		}
		tier := r.Tier + " tier"
		t.rows = append(t.rows, []string{r.Cluster, "(control plane)", "", tier, "", hourly(r.TierRate, r.Currency), aks.Money(r.TierRate*aks.HoursPerMonth, r.Currency)})
		if len(rates) > 1 {
			t.rows = append(t.rows, []string{r.Cluster, "(total)", "", "", "", hourly(r.Hourly, r.Currency), aks.Money(r.Hourly*aks.HoursPerMonth, r.Currency)})
		}
		total += r.Hourly
		if r.Stopped {
			unknown = append(unknown, r.Cluster+" is stopped: its nodes cost nothing until it is started")
		}
		for _, u := range r.Unknown {
			unknown = append(unknown, r.Cluster+": "+u)
		}
	}
	b.WriteString(t.render(Limit/2, func(n int) string { return fmt.Sprintf("… and %d more rows", n) }))
	fmt.Fprintf(&b, "\n*Total:* %s/h, %s/month", hourly(total, cur), aks.Money(total*aks.HoursPerMonth, cur))
	if len(unknown) > 0 {
		b.WriteString(" (known prices only)")
		for _, u := range fitLines(unknown, Limit/4, func(n int) string { return fmt.Sprintf("… and %d more", n) }) {
			b.WriteString("\n• " + escape(u))
		}
	}
	return clip(b.String())
}

// DryRun renders what the approval request for a job would show, for `--dry-run`: the target,
// every from -> to, cost, quota and ETA, the rule, and who must approve. message is the engine's
// first event for the job, which says who must approve and by when.
func DryRun(j aks.Job, message string) string {
	var b strings.Builder
	t := j.Op.Target
	fmt.Fprintf(&b, "*Dry run:* nothing was stored or sent to %s. The request would show:\n", t.CloudName())
	fmt.Fprintf(&b, "*%s*\n", escape(j.Op.Describe()))
	if t.IsEKS() {
		b.WriteString(eksWhere(t, j.Plan))
	} else {
		sub := j.Plan.Subscription
		if sub == "" {
			sub = "(the bot's default)"
		}
		if t.SubscriptionName != "" {
			sub = t.SubscriptionName + " (" + sub + ")"
		}
		fmt.Fprintf(&b, "Subscription %s · resource group %s · cluster %s", escape(sub), escape(t.ResourceGroup), escape(t.Cluster))
		if pool := cmpOr(t.Pool, j.Plan.Pool); pool != "" {
			b.WriteString(" · pool " + escape(pool))
		}
		if j.Plan.VMSize != "" {
			b.WriteString(" · VM size " + escape(j.Plan.VMSize))
		}
	}
	b.WriteString("\n*Plan:* " + escape(j.Plan.Summary))
	for _, c := range j.Plan.Changes {
		b.WriteString("\n• " + escape(c.String()))
	}
	for _, l := range j.Plan.Assessment() {
		b.WriteString("\n" + escape(l))
	}
	rule := cmpOr(j.Rule, "default")
	switch {
	case j.NeedsApproval:
		fmt.Fprintf(&b, "\n*Rule* %s: its guardrails pass; it needs %s from %s (never the requester)",
			escape(rule), plural(max(j.ApprovalsNeeded, 1), "1 approval", fmt.Sprintf("%d different approvals", j.ApprovalsNeeded)),
			strings.Join(j.Approvers, " or "))
		if !j.ExpiresAt.IsZero() {
			b.WriteString(", within " + Elapsed(j.ExpiresAt.Sub(j.CreatedAt)))
		}
		b.WriteString(".")
	default:
		fmt.Fprintf(&b, "\n*Rule* %s: its guardrails pass; it needs no approval and would be queued at once.", escape(rule))
	}
	if note := lastSentence(message); note != "" && !j.NeedsApproval {
		b.WriteString(" " + escape(note))
	}
	b.WriteString("\nRun the same command without `--dry-run` to ask for it.")
	return clip(b.String())
}

// eksWhere says where an EKS job acts, as DryRun's line for AKS does: "account 111122223333 ·
// region eu-west-1 · cluster web-prod · node group ng-web · instance types m6i.large".
func eksWhere(t aks.Target, p aks.Plan) string {
	var parts []string
	if t.Account != "" {
		parts = append(parts, "account "+escape(t.Account))
	}
	parts = append(parts, "region "+escape(t.Region), "cluster "+escape(t.Cluster))
	if ng := cmpOr(t.Pool, p.Pool); ng != "" {
		parts = append(parts, "node group "+escape(ng))
	}
	if p.VMSize != "" {
		parts = append(parts, "instance types "+escape(p.VMSize))
	}
	s := strings.Join(parts, " · ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// lastSentence is what the engine's message says after the plan: the auto-approval note.
func lastSentence(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	last := lines[len(lines)-1]
	if strings.HasPrefix(last, "Auto-approved") || strings.HasPrefix(last, "No approval") {
		return last
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hourly shows an hourly amount with three decimals: "$0.192".
func hourly(v float64, currency string) string {
	s := fmt.Sprintf("%.3f", v)
	if v >= 100 {
		s = fmt.Sprintf("%.2f", v)
	}
	if currency == "" || currency == "USD" {
		return "$" + s
	}
	return currency + " " + s
}
