package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

func costRule(t *testing.T) *Policy {
	t.Helper()
	f, err := config.Parse([]byte(`
prices: {currency: EUR}
policy:
  approvers: [U0LEAD]
  rules:
    - name: dev
      autoApprove:
        scaleUp: {maxAddedNodes: 2, maxPoolNodes: 10, maxMonthlyCostIncrease: 500}
      guardrails:
        maxMonthlyCostIncrease: 3000
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(f.Policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetCurrency(f.Prices.Currency)
	return p
}

func TestCostLimits(t *testing.T) {
	p := costRule(t)
	ctx := context.Background()
	desc := p.Describe(ctx, aks.Target{ResourceGroup: "rg", Cluster: "c"})
	for _, want := range []string{"costing at most EUR 500/month more (list prices)", "at most EUR 3,000/month more per request (list prices; refused when the cost is unknown)"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}
	n := 3
	op := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: "c", Pool: "np"}, NodeCount: &n}
	plan := func(cost *aks.Cost) aks.Plan {
		return aks.Plan{ScaleUp: true, FromNodes: 1, ToNodes: 3, ClusterNodes: 3, Cost: cost}
	}
	user := aks.User{ID: "U0DEV"}
	cheap := &aks.Cost{Currency: "EUR", BeforeHigh: 100, AfterHigh: 400}
	if r, err := p.Evaluate(ctx, user, "", op, plan(cheap)); err != nil || r.Approvals != 0 || !strings.Contains(r.Note, "+EUR 300/month") {
		t.Fatalf("cheap scale-up: %+v %v", r, err)
	}
	dear := &aks.Cost{Currency: "EUR", BeforeHigh: 100, AfterHigh: 900}
	if r, err := p.Evaluate(ctx, user, "", op, plan(dear)); err != nil || r.Approvals != 1 {
		t.Fatalf("scale-up above the auto-approval's cost: %+v %v", r, err)
	}
	if _, err := p.Evaluate(ctx, user, "", op, plan(&aks.Cost{Currency: "EUR", AfterHigh: 3100})); err == nil ||
		!strings.Contains(err.Error(), "rule dev allows at most +EUR 3,000/month more; this adds +EUR 3,100/month") {
		t.Fatalf("over the guardrail: %v", err)
	}
	unknown := &aks.Cost{Unknown: "the Azure price list could not be read (HTTP 503)"}
	if _, err := p.Evaluate(ctx, user, "", op, plan(unknown)); err == nil || !strings.Contains(err.Error(), "and the cost is unknown (the Azure price list could not be read (HTTP 503)), so it is refused") {
		t.Fatalf("unknown cost under a guardrail: %v", err)
	}
	// EKS has no price list in aksbot: a cost limit refuses its growth and says how to scope it.
	ng := aks.Operation{Kind: aks.OpNodegroupScale, Target: aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Cluster: "c", Pool: "ng"},
		Nodegroup: &aks.NodegroupSpec{DesiredSize: &n}}
	var refused *aks.Error
	if _, err := p.Evaluate(ctx, user, "", ng, plan(nil)); !errors.As(err, &refused) || !strings.Contains(refused.Message, "aksbot does not price EKS node groups") ||
		!strings.Contains(refused.Hint, "match.providers: [aks]") {
		t.Fatalf("EKS scale-up under a cost limit: %v", err)
	}
	down := 0
	shrink := aks.Operation{Kind: aks.OpPoolScale, Target: op.Target, NodeCount: &down}
	if _, err := p.Evaluate(ctx, user, "", shrink, aks.Plan{FromNodes: 3, ToNodes: 0, Cost: unknown}); err != nil {
		t.Fatalf("a scale-down is refused for an unknown cost: %v", err)
	}
}

func TestCostLimitsValidated(t *testing.T) {
	for yaml, want := range map[string]string{
		"policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: a\n      guardrails: {maxMonthlyCostIncrease: -1}\n":                                                                                                  "guardrails.maxMonthlyCostIncrease: -1",
		"policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: a\n      guardrails: {maxMonthlyCostIncrease: 0}\n":                                                                                                   "0 would refuse every scale-up",
		"policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: a\n      autoApprove: {scaleUp: {maxAddedNodes: 1, maxPoolNodes: 2, maxMonthlyCostIncrease: 900}}\n      guardrails: {maxMonthlyCostIncrease: 800}\n": "is above guardrails.maxMonthlyCostIncrease (800)",
		"prices: {currency: euro}\n": `prices.currency: "euro" is not a currency code`,
	} {
		_, err := config.Parse([]byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", yaml, err, want)
		}
	}
}
