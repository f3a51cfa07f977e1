package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// An EKS job's card and approval message name the cloud, account, region and node group, and no
// Azure subscription or resource group.
func TestCardOfAnEKSJob(t *testing.T) {
	five := 5
	job := aks.Job{ID: "8", State: aks.StateRunning, ProvisioningState: "Updating", Requester: aks.User{ID: "U1"},
		Op: aks.Operation{Kind: aks.OpNodegroupScale, Nodegroup: &aks.NodegroupSpec{DesiredSize: &five},
			Target: aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Account: "111122223333", Cluster: "web-prod", Pool: "ng-web"}},
		Plan: aks.Plan{Summary: "ng-web: 2 -> 5 nodes, min 1, max 10", VMSize: "m6i.large"}}
	got := target(job)
	want := "*Account:* 111122223333 · *Region:* eu-west-1 · *Cluster:* web-prod · *Node group:* ng-web\n" +
		"*Operation:* scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes · *Instance types:* m6i.large"
	if got != want {
		t.Errorf("target:\n got %q\nwant %q", got, want)
	}
	raw, err := json.Marshal(card(job, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	texts := blockTexts(t, raw)
	if !strings.Contains(texts, "· EKS: Updating") || strings.Contains(texts, "Azure") {
		t.Errorf("card:\n%s", texts)
	}
	job.Op.Target.Account = ""
	if got := target(job); !strings.HasPrefix(got, "*Region:* eu-west-1 · *Cluster:* web-prod") {
		t.Errorf("without an account: %q", got)
	}
}
