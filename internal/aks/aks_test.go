package aks

import (
	"testing"
	"time"
)

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
		"scale pool np2 of rg/demo to 3 nodes":                    {Kind: OpPoolScale, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: "np2"}, NodeCount: &n},
		"scale pool (the only pool) of rg/demo to 3 nodes":        {Kind: OpPoolScale, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: ""}, NodeCount: &n},
		"autoscale pool np2 of rg/demo between 1 and 5 nodes":     {Kind: OpPoolAutoscale, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: "np2"}, Autoscaler: &Autoscaler{Min: 1, Max: 5}},
		"disable the autoscaler on pool np2 of rg/demo":           {Kind: OpPoolAutoscale, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: "np2"}, DisableAutoscaler: true},
		"upgrade the control plane of rg/demo to Kubernetes 1.31": {Kind: OpClusterUpgrade, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: ""}, KubernetesVersion: "1.31", ControlPlaneOnly: true},
		"create cluster rg/demo in westeurope with 3 nodes":       {Kind: OpClusterCreate, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: ""}, Location: "westeurope", NodeCount: &n},
		"upgrade the node image of pool np2 of rg/demo":           {Kind: OpPoolUpgrade, Target: Target{ResourceGroup: "rg", Cluster: "demo", Pool: "np2"}, NodeImageOnly: true},
	}
	for want, op := range cases {
		if got := op.Describe(); got != want {
			t.Errorf("Describe() = %q, want %q", got, want)
		}
	}
}

func TestClusterKeyNamesTheSubscription(t *testing.T) {
	dev := Target{ResourceGroup: "rg-aks", Cluster: "demo", Subscription: "11111111-1111-1111-1111-111111111111"}
	prod := Target{ResourceGroup: "rg-aks", Cluster: "demo", Subscription: "22222222-2222-2222-2222-222222222222"}
	if dev.ClusterKey() == prod.ClusterKey() {
		t.Errorf("one key %q for two subscriptions: their jobs would share a lane", dev.ClusterKey())
	}
	if got, want := dev.ClusterKey(), "11111111-1111-1111-1111-111111111111/rg-aks/demo"; got != want {
		t.Errorf("ClusterKey() = %q, want %q", got, want)
	}
	if got := (Target{ResourceGroup: "rg-aks", Cluster: "demo"}).ClusterKey(); got != "rg-aks/demo" {
		t.Errorf("without a subscription ClusterKey() = %q, want the old layout rg-aks/demo", got)
	}
}

func TestClusterNameWithSubscriptionName(t *testing.T) {
	n := 3
	one := Operation{Kind: OpPoolScale, Target: Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2", Subscription: "x"}, NodeCount: &n}
	if got, want := one.Describe(), "scale pool np2 of rg-aks/demo to 3 nodes"; got != want {
		t.Errorf("one subscription: Describe() = %q, want %q", got, want)
	}
	two := one
	two.Target.SubscriptionName = "prod"
	if got, want := two.Describe(), "scale pool np2 of prod · rg-aks/demo to 3 nodes"; got != want {
		t.Errorf("two subscriptions: Describe() = %q, want %q", got, want)
	}
	if got, want := two.Target.String(), "prod · rg-aks/demo/np2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestEKSTargetNamesItsCloud(t *testing.T) {
	ng := Target{Provider: ProviderEKS, Region: "eu-west-1", Cluster: "web-prod", Pool: "ng-web"}
	if got, want := ng.String(), "eks · eu-west-1 · web-prod/ng-web"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if ng.ClusterKey() != ng.ClusterOnly().ClusterKey() {
		t.Errorf("a node-group job and a cluster job on one EKS cluster must share a lane")
	}
	// EKS names are case-sensitive, and the same name in two regions is two clusters.
	for _, other := range []Target{
		{Provider: ProviderEKS, Region: "eu-west-1", Cluster: "Web-Prod"},
		{Provider: ProviderEKS, Region: "us-east-1", Cluster: "web-prod"},
		{ResourceGroup: "eu-west-1", Cluster: "web-prod"},
	} {
		if other.ClusterKey() == ng.ClusterKey() {
			t.Errorf("%v and %v share the key %q", other, ng, ng.ClusterKey())
		}
	}
	if ng.CloudName() != "EKS" || (Target{Cluster: "demo"}).CloudName() != "Azure" {
		t.Errorf("CloudName: %q, %q", ng.CloudName(), Target{}.CloudName())
	}
	if !OpNodegroupScale.OnPool() || OpNodegroupScale.Provider() != ProviderEKS || OpPoolScale.Provider() != ProviderAKS {
		t.Errorf("eks.nodegroup.scale: OnPool %v, Provider %q", OpNodegroupScale.OnPool(), OpNodegroupScale.Provider())
	}
}

func TestDescribeEKS(t *testing.T) {
	five, one, ten := 5, 1, 10
	ng := Target{Provider: ProviderEKS, Region: "eu-west-1", Cluster: "web-prod", Pool: "ng-web"}
	cases := map[string]Operation{
		"scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes, min 1, max 10": {Kind: OpNodegroupScale, Target: ng,
			Nodegroup: &NodegroupSpec{DesiredSize: &five, MinSize: &one, MaxSize: &ten}},
		"create node group ng-web in eks · eu-west-1 · web-prod with 5 nodes": {Kind: OpNodegroupCreate, Target: ng,
			Nodegroup: &NodegroupSpec{DesiredSize: &five}},
		"upgrade node group ng-web of eks · eu-west-1 · web-prod to Kubernetes 1.31":                      {Kind: OpNodegroupUpgrade, Target: ng, KubernetesVersion: "1.31"},
		"upgrade node group ng-web of eks · eu-west-1 · web-prod to the cluster's version and latest AMI": {Kind: OpNodegroupUpgrade, Target: ng},
		"upgrade node group ng-web of eks · eu-west-1 · web-prod to AMI release 1.31.7-20250620":          {Kind: OpNodegroupUpgrade, Target: ng, Nodegroup: &NodegroupSpec{ReleaseVersion: "1.31.7-20250620"}},
		"delete node group ng-web of eks · eu-west-1 · web-prod":                                          {Kind: OpNodegroupDelete, Target: ng},
	}
	for want, op := range cases {
		if got := op.Describe(); got != want {
			t.Errorf("Describe() = %q, want %q", got, want)
		}
	}
}

func TestRequestTokenIsStablePerJob(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	a := RequestToken(Job{ID: "42", CreatedAt: at})
	if a != RequestToken(Job{ID: "42", CreatedAt: at, State: StateRunning, Sent: true}) {
		t.Errorf("the token changed with the job's state: a request sent again must be the same request")
	}
	if a == RequestToken(Job{ID: "42", CreatedAt: at.Add(time.Millisecond)}) || a == RequestToken(Job{ID: "43", CreatedAt: at}) {
		t.Errorf("two jobs share the token %q", a)
	}
	if len(a) > 64 {
		t.Errorf("token %q is longer than EKS takes", a)
	}
}
