package assess

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// usedCompute is a subscription with n vCPUs of 100 in use, in family "standardDSv5Family".
type usedCompute int

func (usedCompute) VMSize(context.Context, string, string) (aks.VMSize, error) {
	return aks.VMSize{Name: "Standard_D4s_v5", Family: "standardDSv5Family", VCPUs: 4}, nil
}

func (n usedCompute) Usages(context.Context, string) ([]aks.Usage, error) {
	return []aks.Usage{{Name: "cores", Label: "Total Regional vCPUs", Used: int(n), Limit: 100}}, nil
}

// The quota is that of the subscription the plan was made in.
func TestQuotaOfThePlansSubscription(t *testing.T) {
	const prod = "22222222-2222-2222-2222-222222222222"
	a := &Assessor{Compute: usedCompute(10), ComputeIn: func(sub string) (Compute, error) {
		if sub == prod {
			return usedCompute(90), nil
		}
		return usedCompute(10), nil
	}}
	plan := aks.Plan{Capacity: &aks.Capacity{Location: "eastus", Nodes: []aks.NodeChange{
		{Pool: "np", VMSize: "Standard_D4s_v5", FromMin: 1, FromMax: 1, ToMin: 3, ToMax: 3, Running: 1}}}}
	_, q, err := a.Assess(context.Background(), plan)
	if err != nil || q == nil || !strings.Contains(strings.Join(q.Lines, ";"), "Total Regional vCPUs 10 -> 18 of 100") {
		t.Fatalf("default subscription: quota %+v, err %v", q, err)
	}
	plan.Subscription = prod
	_, q, err = a.Assess(context.Background(), plan)
	if err != nil || q == nil || !strings.Contains(strings.Join(q.Lines, ";"), "Total Regional vCPUs 90 -> 98 of 100") {
		t.Fatalf("prod: quota %+v, err %v", q, err)
	}
}
