package views

import (
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// An EKS dry run names the cloud, account, region and node group, and no Azure subscription.
func TestDryRunOfAnEKSJob(t *testing.T) {
	five := 5
	j := aks.Job{State: aks.StateAwaitingApproval, NeedsApproval: true, ApprovalsNeeded: 1, Approvers: []string{"<@U2>"}, Rule: "prod",
		Op: aks.Operation{Kind: aks.OpNodegroupScale, Nodegroup: &aks.NodegroupSpec{DesiredSize: &five},
			Target: aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Account: "111122223333", Cluster: "web-prod", Pool: "ng-web"}},
		Plan: aks.Plan{Summary: "ng-web: 2 -> 5 nodes, min 1, max 10", VMSize: "m6i.large"}}
	got := DryRun(j, "")
	for _, want := range []string{
		"nothing was stored or sent to EKS",
		"*scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes*",
		"Account 111122223333 · region eu-west-1 · cluster web-prod · node group ng-web · instance types m6i.large",
		"ng-web: 2 -&gt; 5 nodes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q:\n%s", want, got)
		}
	}
	for _, foreign := range []string{"Azure", "Subscription", "resource group"} {
		if strings.Contains(got, foreign) {
			t.Errorf("dry run speaks of %s:\n%s", foreign, got)
		}
	}
	j.Op.Target.Account = ""
	if got := DryRun(j, ""); !strings.Contains(got, "\nRegion eu-west-1 · cluster web-prod") {
		t.Errorf("without an account:\n%s", got)
	}
}
