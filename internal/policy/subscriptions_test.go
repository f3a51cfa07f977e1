package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

const (
	devSub  = "11111111-1111-1111-1111-111111111111"
	prodSub = "22222222-2222-2222-2222-222222222222"
)

// A rule matching only prod applies to rg-aks/demo there, and not to rg-aks/demo in dev; rules
// match subscriptions by name or ID, and a target without one is in the default subscription.
func TestRuleMatchesSubscription(t *testing.T) {
	two := 2
	f := config.PolicyFile{
		Approvers: []string{"U0LEAD"},
		Rules: []config.RuleFile{
			{Name: "prod", Match: config.MatchFile{Subscriptions: []string{"prod"}}, Approvers: []string{"U0A1", "U0A2"}, Approvals: &two},
			{Name: "dev-by-id", Match: config.MatchFile{Subscriptions: []string{"1111*"}, Clusters: []string{"lab-*"}}, RequireApprovalFor: []string{}},
		},
	}
	p := mustNew(t, f)
	subs := aks.NewSubscriptions(map[string]string{"dev": devSub, "prod": prodSub}, "dev")
	p.SetSubscriptions(subs)
	demo := aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np1"}
	inProd := subs.In(demo, aks.Subscription{Name: "prod", ID: prodSub})
	inDev := subs.In(demo, aks.Subscription{Name: "dev", ID: devSub})
	lab := aks.Target{ResourceGroup: "rg-aks", Cluster: "lab-1", Pool: "np1"} // no subscription: the default, dev
	for _, c := range []struct {
		target aks.Target
		want   string
	}{
		{inProd, "needs 2 from <@U0A1> <@U0A2> (rule prod"},
		{inDev, "needs 1 from <@U0LEAD> (rule default"},
		{demo, "needs 1 from <@U0LEAD> (rule default"},
		{lab, "free (rule dev-by-id"},
		{subs.In(lab, aks.Subscription{Name: "prod", ID: prodSub}), "needs 2 from <@U0A1> <@U0A2> (rule prod"},
	} {
		if got := decide(p, coder, "C0ANY", scaleReq(c.target, 1, 3)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s in %q: %s, want %s...", c.target, c.target.Subscription, got, c.want)
		}
	}
	d := p.Describe(context.Background(), inProd)
	if !strings.HasPrefix(d, "*Policy for prod · rg-aks/demo*: rule *prod* (subscriptions prod)") {
		t.Errorf("Describe in prod:\n%s", d)
	}
	if d := p.Describe(context.Background(), inDev); !strings.HasPrefix(d, "*Policy for dev · rg-aks/demo*: rule *default*") {
		t.Errorf("Describe in dev:\n%s", d)
	}
}
