package slack

import (
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// With several subscriptions the card title and the approval message name the job's; with one,
// they read as before.
func TestCardNamesTheSubscriptionWhenSeveral(t *testing.T) {
	n := 3
	job := aks.Job{ID: "7", State: aks.StateAwaitingApproval,
		Op:   aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2", Subscription: "sub-1234"}, NodeCount: &n},
		Plan: aks.Plan{Subscription: "sub-1234"}}
	if got, want := title(job), "*Job 7* · scale pool np2 of rg-aks/demo to 3 nodes"; got != want {
		t.Errorf("one subscription: title %q, want %q", got, want)
	}
	if got := target(job); !strings.HasPrefix(got, "*Subscription:* sub-1234 · *Resource group:* rg-aks · *Cluster:* demo") {
		t.Errorf("one subscription: target %q", got)
	}
	job.Op.Target.SubscriptionName = "prod"
	if got, want := title(job), "*Job 7* · scale pool np2 of prod · rg-aks/demo to 3 nodes"; got != want {
		t.Errorf("two subscriptions: title %q, want %q", got, want)
	}
	if got := target(job); !strings.HasPrefix(got, "*Subscription:* prod (sub-1234) · *Resource group:* rg-aks · *Cluster:* demo") {
		t.Errorf("two subscriptions: target %q", got)
	}
}
