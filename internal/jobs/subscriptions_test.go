package jobs_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
)

// Two subscriptions may both hold rg-aks/demo: they are two clusters, so their jobs run in two
// lanes at once, each in its own subscription.
func TestSameClusterNameInTwoSubscriptionsRunsInParallel(t *testing.T) {
	h2 := newHarness(t)
	clouds := h2.clouds
	ctx := context.Background()
	for _, sub := range []string{sim.SubscriptionID, sim.ProdSubscriptionID} {
		if err := h2.sim.SeedIn(ctx, sub, "rg-aks", "demo", "westeurope", sim.SeedPool{Name: "sys", Mode: "System", Count: 3}); err != nil {
			t.Fatal(err)
		}
	}
	dev := scale("sys", 2) // no subscription: the default one (dev)
	prod := scale("sys", 1)
	prod.Target.Subscription = sim.ProdSubscriptionID
	a := h2.submit(dev, alice)
	b := h2.submit(prod, alice)
	if a.State != aks.StateQueued || b.State != aks.StateQueued {
		t.Fatalf("states %s, %s: want both queued (scale-downs need no approval)", a.State, b.State)
	}
	if a.Op.Target.Subscription != sim.SubscriptionID || a.Op.Target.ClusterKey() == b.Op.Target.ClusterKey() {
		t.Fatalf("targets %+v and %+v: want the default subscription filled in, and two lane keys", a.Op.Target, b.Op.Target)
	}
	a = h2.waitState(a.ID, aks.StateSucceeded)
	b = h2.waitState(b.ID, aks.StateSucceeded)
	if !b.StartedAt.Before(a.FinishedAt) || !a.StartedAt.Before(b.FinishedAt) {
		t.Errorf("the jobs ran one after the other (dev %v-%v, prod %v-%v): want parallel lanes", a.StartedAt, a.FinishedAt, b.StartedAt, b.FinishedAt)
	}
	if a.Plan.Subscription != sim.SubscriptionID || b.Plan.Subscription != sim.ProdSubscriptionID {
		t.Errorf("plans made in %s and %s", a.Plan.Subscription, b.Plan.Subscription)
	}
	// Each change reached its own subscription only.
	for sub, want := range map[string]int{sim.SubscriptionID: 2, sim.ProdSubscriptionID: 1} {
		c, err := clouds.In(sub)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := c.GetCluster(ctx, "rg-aks", "demo")
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.NodeCount(); got != want {
			t.Errorf("subscription %s: %d nodes, want %d", sub, got, want)
		}
	}
}

// A job in the second subscription looks at its own cluster before it starts: busy there with an
// operation started outside the bot, it waits (and says so) instead of sending a request Azure
// refuses. The default subscription has no such cluster, so a look there would find nothing busy.
func TestJobWaitsForItsOwnSubscriptionsCluster(t *testing.T) {
	d := fast()
	d.Scale = 1500 * time.Millisecond
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, d)
	ctx := context.Background()
	if err := h.sim.SeedIn(ctx, sim.ProdSubscriptionID, "rg-aks", "demo", "westeurope",
		sim.SeedPool{Name: "sys", Mode: "System", Count: 3}, sim.SeedPool{Name: "np2", Mode: "User", Count: 2}); err != nil {
		t.Fatal(err)
	}
	prod, err := h.clouds.In(sim.ProdSubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	outside := scale("np2", 1)
	outside.Target.Subscription = sim.ProdSubscriptionID
	plan, err := prod.Plan(ctx, outside)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.Begin(ctx, outside, plan, ""); err != nil {
		t.Fatalf("start the outside operation: %v", err)
	}
	op := scale("sys", 2)
	op.Target.Subscription = sim.ProdSubscriptionID
	job := h.submit(op, alice)
	h.waitState(job.ID, aks.StateSucceeded)
	if msgs := h.rec.messages(job.ID, aks.EventBusy); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "Waiting: demo is busy in Azure") {
		t.Errorf("busy messages %q, want one saying the job waits for its cluster", msgs)
	}
	if n := h.sim.CountMutations("agentPools/sys"); n != 1 {
		t.Errorf("%d requests to change sys, want 1 (none refused while busy)", n)
	}
}
