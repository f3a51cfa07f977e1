package views

import (
	"strconv"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// now is the fixed clock of every test.
var now = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

func intp(n int) *int { return &n }

// azureExampleCluster mirrors ManagedClustersGet.json from the AKS REST API examples: the
// fields Azure returned there, and nothing it did not (no SKU tier, power state or pool mode).
func azureExampleCluster() aks.Cluster {
	return aks.Cluster{
		Name:              "clustername1",
		ResourceGroup:     "rg1",
		Location:          "location1",
		KubernetesVersion: "1.9.6",
		FQDN:              "dnsprefix1-abcd1234.hcp.eastus.azmk8s.io",
		ProvisioningState: "Succeeded",
		ETag:              "beywbwei",
		Tags:              map[string]string{"archv2": "", "tier": "production"},
		Pools: []aks.Pool{{
			Name:                "nodepool1",
			Count:               3,
			VMSize:              "Standard_DS1_v2",
			OSType:              "Linux",
			OrchestratorVersion: "1.9.6",
			NodeImageVersion:    "AKSUbuntu:1604:2020.03.11",
			ProvisioningState:   "Succeeded",
			Zones:               []string{"1", "2", "3"},
			ETag:                "nvewbvoi",
		}},
	}
}

// demoCluster has a manual system pool, an autoscaled user pool and a Windows pool.
func demoCluster() aks.Cluster {
	return aks.Cluster{
		Name:              "demo",
		ResourceGroup:     "rg-aks",
		Location:          "westeurope",
		KubernetesVersion: "1.30.4",
		FQDN:              "demo-rg-aks-1a2b3c-x7k2p9.hcp.westeurope.azmk8s.io",
		Tier:              "Standard",
		PowerState:        "Running",
		ProvisioningState: "Succeeded",
		Tags:              map[string]string{"team": "platform", "env": "staging"},
		Pools: []aks.Pool{
			{
				Name: "system", Mode: "System", Count: 3, VMSize: "Standard_D4s_v5", OSType: "Linux",
				OrchestratorVersion: "1.30.4", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.03.0",
				ProvisioningState: "Succeeded", PowerState: "Running", Zones: []string{"1", "2", "3"},
			},
			{
				Name: "np2", Mode: "User", Count: 4, VMSize: "Standard_D8s_v5", OSType: "Linux",
				OrchestratorVersion: "1.30.4", Autoscaling: true, MinCount: 2, MaxCount: 10,
				ProvisioningState: "Scaling", PowerState: "Running",
				Labels: map[string]string{"workload": "batch"},
				Taints: []string{"batch=true:NoSchedule"},
			},
			{
				Name: "win1", Mode: "User", Count: 2, VMSize: "Standard_D4s_v5", OSType: "Windows",
				OrchestratorVersion: "1.29.7", ProvisioningState: "Succeeded", PowerState: "Running",
			},
		},
	}
}

// stoppedCluster is a Free-tier cluster that has been stopped.
func stoppedCluster() aks.Cluster {
	return aks.Cluster{
		Name: "old-lab", ResourceGroup: "rg-lab", Location: "eastus", KubernetesVersion: "1.29.7",
		Tier: "Free", PowerState: "Stopped", ProvisioningState: "Succeeded",
		Pools: []aks.Pool{{
			Name: "nodepool1", Mode: "System", Count: 0, VMSize: "Standard_B2s", OSType: "Linux",
			OrchestratorVersion: "1.29.7", ProvisioningState: "Succeeded", PowerState: "Stopped",
		}},
	}
}

// failedJob is a scale that Azure refused for lack of quota, after an approval.
func failedJob() aks.Job {
	created := now.Add(-12 * time.Minute)
	return aks.Job{
		ID:    "7",
		State: aks.StateFailed,
		Op: aks.Operation{
			Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2"},
			NodeCount: intp(30),
		},
		Plan: aks.Plan{
			Summary: "np2: 4 -> 30 nodes", ScaleUp: true, FromNodes: 4, ToNodes: 30, VMSize: "Standard_D8s_v5",
			Changes: []aks.Change{{What: "np2 nodes", From: "4", To: "30"}},
		},
		Requester:     aks.User{ID: "U01ALICE", Name: "alice"},
		Channel:       "C0OPS",
		CreatedAt:     created,
		UpdatedAt:     created.Add(9 * time.Minute),
		NeedsApproval: true,
		Decisions: []aks.Decision{{
			By: aks.User{ID: "U02BOB", Name: "bob"}, At: created.Add(2 * time.Minute), Approve: true,
			Reason: "for the <!channel> load test & more",
		}},
		Sent:              true,
		ResumeToken:       "opaque",
		ProvisioningState: "Failed",
		StartedAt:         created.Add(2*time.Minute + 5*time.Second),
		FinishedAt:        created.Add(6*time.Minute + 17*time.Second),
		Error: &aks.JobError{
			Code:    "QuotaExceeded",
			Message: "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Current Limit: 100, Current Usage: 40, Additional Required: 208.",
			Hint:    "Ask for a quota increase for standardDSv5Family in westeurope, or scale to fewer nodes.",
		},
	}
}

func failedJobEvents() []aks.Event {
	j := failedJob()
	c := j.CreatedAt
	return []aks.Event{
		{JobID: "7", Seq: 1, At: c, Kind: aks.EventCreated, Actor: j.Requester, To: aks.StateAwaitingApproval,
			Message: "<@U01ALICE> asked to scale pool np2 of rg-aks/demo to 30 nodes; waiting for approval"},
		{JobID: "7", Seq: 2, At: c.Add(2 * time.Minute), Kind: aks.EventApproved, Actor: aks.User{ID: "U02BOB"},
			From: aks.StateAwaitingApproval, To: aks.StateQueued, Message: "approved by <@U02BOB>"},
		{JobID: "7", Seq: 3, At: c.Add(2*time.Minute + 5*time.Second), Kind: aks.EventStarted,
			From: aks.StateQueued, To: aks.StateRunning, Message: "Azure accepted the request"},
		{JobID: "7", Seq: 4, At: c.Add(4*time.Minute + 5*time.Second), Kind: aks.EventProgress,
			Message: "Azure: Scaling (2m 0s)"},
		{JobID: "7", Seq: 5, At: c.Add(6*time.Minute + 17*time.Second), Kind: aks.EventFailed,
			From: aks.StateRunning, To: aks.StateFailed, Message: "failed: QuotaExceeded"},
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
