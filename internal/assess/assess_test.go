package assess

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

type fakePrices map[string]float64

func (f fakePrices) VM(_ context.Context, _, size, os string) (aks.Price, error) {
	if os == "" {
		os = "Linux"
	}
	p, ok := f[size+"/"+os]
	if !ok {
		return aks.Price{}, &aks.Error{Code: aks.ENotFound, Message: "no price for " + size}
	}
	return aks.Price{Hourly: p, Currency: "USD", Meter: "pay-as-you-go, " + os}, nil
}

func (f fakePrices) ControlPlane(_ context.Context, _, tier string) (aks.Price, error) {
	return aks.Price{Hourly: f["tier/"+tier], Currency: "USD"}, nil
}

func (fakePrices) Currency() string { return "USD" }

func costOf(t *testing.T, c *aks.Capacity) *aks.Cost {
	t.Helper()
	a := &Assessor{Prices: fakePrices{"Standard_D4s_v5/Linux": 0.192, "Standard_D4s_v5/Windows": 0.376, "tier/Standard": 0.10}}
	cost, quota, err := a.Assess(context.Background(), aks.Plan{Capacity: c})
	if err != nil || quota == nil && c.AddsVCPUs() {
		t.Fatalf("assess: %v, quota %+v", err, quota)
	}
	return cost
}

func TestCostLines(t *testing.T) {
	// The example: 4 more D4s_v5 in eastus.
	c := costOf(t, &aks.Capacity{Location: "eastus", TierFrom: "Free", TierTo: "Free", Nodes: []aks.NodeChange{
		{Pool: "np", VMSize: "Standard_D4s_v5", OSType: "Linux", FromMin: 2, FromMax: 2, ToMin: 6, ToMax: 6, Running: 2}}})
	if len(c.Lines) != 1 || c.Lines[0] != "+4 x Standard_D4s_v5 in eastus: +$561/month ($0.192/h per node, pay-as-you-go, Linux)" {
		t.Fatalf("lines = %q", c.Lines)
	}
	if got := c.Summary(); got != "$280 -> $841/month (+$561/month, list prices)" {
		t.Fatalf("summary = %q", got)
	}

	// Autoscaled: min to max.
	c = costOf(t, &aks.Capacity{Location: "eastus", Nodes: []aks.NodeChange{
		{Pool: "np", VMSize: "Standard_D4s_v5", OSType: "Windows", FromMin: 1, FromMax: 3, ToMin: 1, ToMax: 10, Running: 2}}})
	if !strings.HasPrefix(c.Lines[0], "np 1-3 -> 1-10 x Standard_D4s_v5 in eastus: +$0 to +$1,921/month") || !strings.Contains(c.Lines[0], "$0.376/h per node, pay-as-you-go, Windows") {
		t.Fatalf("autoscaled line = %q", c.Lines[0])
	}
	if got := c.Summary(); got != "$274-$823 -> $274-$2,745/month (+$0 to +$1,921/month, list prices)" {
		t.Fatalf("autoscaled summary = %q", got)
	}

	// A cluster delete saves its nodes and its Standard tier.
	c = costOf(t, &aks.Capacity{Location: "eastus", TierFrom: "Standard", Nodes: []aks.NodeChange{
		{Pool: "sys", VMSize: "Standard_D4s_v5", FromMin: 3, FromMax: 3, Running: 3}}})
	if c.MonthlyIncrease() >= 0 || !strings.Contains(c.Summary(), "(-$493/month") || !strings.Contains(strings.Join(c.Lines, "\n"), "control plane, Standard tier: -$73/month ($0.100/h per cluster)") {
		t.Fatalf("delete: %q %q", c.Summary(), c.Lines)
	}

	// A price that cannot be had makes the cost unknown, not an error.
	a := &Assessor{Prices: fakePrices{}}
	cost, _, err := a.Assess(context.Background(), aks.Plan{Capacity: &aks.Capacity{Location: "eastus", Nodes: []aks.NodeChange{{Pool: "np", VMSize: "Standard_X", ToMin: 1, ToMax: 1}}}})
	if err != nil || cost.Known() || cost.Summary() != "cost unknown (no price for Standard_X)" {
		t.Fatalf("unknown price: %+v %v", cost, err)
	}
}

type deniedCompute struct{}

func (deniedCompute) VMSize(context.Context, string, string) (aks.VMSize, error) {
	return aks.VMSize{}, &aks.Error{Code: aks.EUnauthorized, Message: "no"}
}
func (deniedCompute) Usages(context.Context, string) ([]aks.Usage, error) {
	return nil, &aks.Error{Code: aks.EUnauthorized, Message: "no"}
}

func TestQuotaNotCheckedWithoutRights(t *testing.T) {
	a := &Assessor{Compute: deniedCompute{}}
	_, q, err := a.Assess(context.Background(), aks.Plan{Capacity: &aks.Capacity{Location: "eastus", Nodes: []aks.NodeChange{
		{Pool: "np", VMSize: "Standard_D4s_v5", FromMin: 1, FromMax: 1, ToMin: 3, ToMax: 3, Running: 1}}}})
	if err != nil || q == nil || q.Summary() != "quota not checked (the identity may not read VM sizes: grant it Reader on the subscription)" {
		t.Fatalf("quota = %+v, err %v", q, err)
	}
}
