package aks

import "testing"

func TestInProgress(t *testing.T) {
	for state, want := range map[string]bool{
		"Succeeded": false, "Failed": false, "Canceled": false, "NotFound": false, "": false,
		"Creating": true, "Updating": true, "Scaling": true, "Upgrading": true, "Deleting": true,
		"Starting": true, "Stopping": true, "Migrating": true, // unknown states count as busy
	} {
		if got := InProgress(state); got != want {
			t.Errorf("InProgress(%q) = %v, want %v", state, got, want)
		}
	}
}

func TestFinalStates(t *testing.T) {
	final := map[JobState]bool{StateSucceeded: true, StateFailed: true, StateDenied: true, StateCancelled: true, StateExpired: true}
	for _, s := range []JobState{StateAwaitingApproval, StateQueued, StateRunning, StateSucceeded, StateFailed, StateDenied, StateCancelled, StateExpired} {
		if s.Final() != final[s] {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}

func TestClusterKeyIgnoresCase(t *testing.T) {
	a := Target{ResourceGroup: "RG-AKS", Cluster: "Demo", Pool: "np1"}
	b := Target{ResourceGroup: "rg-aks", Cluster: "demo"}
	if a.ClusterKey() != b.ClusterKey() {
		t.Errorf("%q != %q: a pool job and a cluster job on one cluster must share a lane", a.ClusterKey(), b.ClusterKey())
	}
}

func TestDescribe(t *testing.T) {
	n := 3
	cases := map[string]Operation{
		"scale pool np2 of rg/demo to 3 nodes":                    {Kind: OpPoolScale, Target: Target{"rg", "demo", "np2"}, NodeCount: &n},
		"scale pool (the only pool) of rg/demo to 3 nodes":        {Kind: OpPoolScale, Target: Target{"rg", "demo", ""}, NodeCount: &n},
		"autoscale pool np2 of rg/demo between 1 and 5 nodes":     {Kind: OpPoolAutoscale, Target: Target{"rg", "demo", "np2"}, Autoscaler: &Autoscaler{Min: 1, Max: 5}},
		"disable the autoscaler on pool np2 of rg/demo":           {Kind: OpPoolAutoscale, Target: Target{"rg", "demo", "np2"}, DisableAutoscaler: true},
		"upgrade the control plane of rg/demo to Kubernetes 1.31": {Kind: OpClusterUpgrade, Target: Target{"rg", "demo", ""}, KubernetesVersion: "1.31", ControlPlaneOnly: true},
		"create cluster rg/demo in westeurope with 3 nodes":       {Kind: OpClusterCreate, Target: Target{"rg", "demo", ""}, Location: "westeurope", NodeCount: &n},
		"upgrade the node image of pool np2 of rg/demo":           {Kind: OpPoolUpgrade, Target: Target{"rg", "demo", "np2"}, NodeImageOnly: true},
	}
	for want, op := range cases {
		if got := op.Describe(); got != want {
			t.Errorf("Describe() = %q, want %q", got, want)
		}
	}
}
