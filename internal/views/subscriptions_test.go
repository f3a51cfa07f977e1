package views

import (
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

const prodID = "22222222-2222-2222-2222-222222222222"

// With one subscription the texts are as they always were; with several, each names it.
func TestTextsWithOneAndTwoSubscriptions(t *testing.T) {
	one := aks.NewSubscriptions(map[string]string{prodID: prodID}, prodID)
	two := aks.NewSubscriptions(map[string]string{"prod": prodID, "dev": "11111111-1111-1111-1111-111111111111"}, "dev")
	sub := aks.Subscription{Name: "prod", ID: prodID}

	j := scaleJob("7", aks.StateRunning, now.Add(-3*time.Minute-20*time.Second))
	j.Op.Target = one.In(j.Op.Target, aks.Subscription{Name: prodID, ID: prodID})
	j.Plan.Subscription = prodID
	diff(t, JobLine(j, now), "#7 running · nodepool.scale rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U1> · 3m ago")
	if got := j.Op.Describe(); got != "scale pool np2 of rg-aks/demo to 3 nodes" {
		t.Errorf("one subscription: Describe() = %q", got)
	}
	if got := DryRun(j, ""); !strings.Contains(got, "Subscription "+prodID+" · resource group rg-aks · cluster demo") {
		t.Errorf("one subscription: dry run:\n%s", got)
	}

	j.Op.Target = two.In(j.Op.Target, sub)
	diff(t, JobLine(j, now), "#7 running · nodepool.scale prod · rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U1> · 3m ago")
	if got := j.Op.Describe(); got != "scale pool np2 of prod · rg-aks/demo to 3 nodes" {
		t.Errorf("two subscriptions: Describe() = %q", got)
	}
	if got := DryRun(j, ""); !strings.Contains(got, "*scale pool np2 of prod · rg-aks/demo to 3 nodes*") ||
		!strings.Contains(got, "Subscription prod ("+prodID+") · resource group rg-aks · cluster demo") {
		t.Errorf("two subscriptions: dry run:\n%s", got)
	}

	c := aks.Cluster{Name: "demo", ResourceGroup: "rg-aks", Location: "westeurope", KubernetesVersion: "1.31.4", ProvisioningState: "Succeeded",
		Pools: []aks.Pool{{Name: "nodepool1", Count: 2}}}
	list := ClusterList("rg-aks", []aks.Cluster{c})
	if strings.Contains(list, "SUBSCRIPTION") || !strings.Contains(list, "NAME  RESOURCE GROUP") {
		t.Errorf("one subscription: list names it:\n%s", list)
	}
	if d := ClusterDetail(c); !strings.HasPrefix(d, "*Cluster demo* in resource group rg-aks\n") {
		t.Errorf("one subscription: detail:\n%s", d)
	}
	dev := c
	c.Subscription, dev.Subscription = "prod", "dev"
	list = ClusterList("rg-aks", []aks.Cluster{c, dev})
	for _, want := range []string{"SUBSCRIPTION  NAME  RESOURCE GROUP", "\ndev           demo  rg-aks", "\nprod          demo  rg-aks"} {
		if !strings.Contains(list, want) {
			t.Errorf("two subscriptions: list lacks %q:\n%s", want, list)
		}
	}
	if d := ClusterDetail(c); !strings.HasPrefix(d, "*Cluster demo* in resource group rg-aks, subscription prod\n") {
		t.Errorf("two subscriptions: detail:\n%s", d)
	}
}
