package azure

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

const (
	testRG     = "rg-aks"
	oldImage   = "AKSUbuntu-2204gen2containerd-202501.01.0"
	latestImg  = "AKSUbuntu-2204gen2containerd-202502.01.0"
	systemSize = "Standard_D4s_v5"
)

func intp(n int) *int { return &n }

// standardFake is a fake with cluster rg-aks/demo on Kubernetes 1.30.5: System pool np1
// (3 x Standard_D4s_v5) and User pool np2 (1 x Standard_D8s_v5); upgrades to 1.30.7 and 1.31.2;
// westeurope offers 1.30.x, 1.31.x (default) and 1.32.0 (preview).
func standardFake() *fakeARM {
	f := newFakeARM()
	f.addCluster(testRG, "demo", "1.30.5",
		poolSpec{name: "np1", mode: "System", vmSize: systemSize, count: 3, image: oldImage},
		poolSpec{name: "np2", mode: "User", vmSize: "Standard_D8s_v5", count: 1, image: oldImage},
	)
	up := func(vs ...string) []*armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem {
		var out []*armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem
		for _, v := range vs {
			out = append(out, &armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem{KubernetesVersion: ptr(v)})
		}
		return out
	}
	f.upgrades[key(testRG, "demo")] = armcontainerservice.ManagedClusterUpgradeProfile{Properties: &armcontainerservice.ManagedClusterUpgradeProfileProperties{
		ControlPlaneProfile: &armcontainerservice.ManagedClusterPoolUpgradeProfile{KubernetesVersion: ptr("1.30.5"), Upgrades: up("1.31.2", "1.30.7")},
		AgentPoolProfiles: []*armcontainerservice.ManagedClusterPoolUpgradeProfile{
			{Name: ptr("np1"), KubernetesVersion: ptr("1.30.5"), Upgrades: up("1.30.7", "1.31.2")},
			{Name: ptr("np2"), KubernetesVersion: ptr("1.30.5"), Upgrades: up("1.30.7", "1.31.2")},
		},
	}}
	for _, p := range []string{"np1", "np2"} {
		f.poolUpgrades[key(testRG, "demo", p)] = armcontainerservice.AgentPoolUpgradeProfile{Properties: &armcontainerservice.AgentPoolUpgradeProfileProperties{
			KubernetesVersion:      ptr("1.30.5"),
			LatestNodeImageVersion: ptr(latestImg),
			Upgrades: []*armcontainerservice.AgentPoolUpgradeProfilePropertiesUpgradesItem{
				{KubernetesVersion: ptr("1.30.7")}, {KubernetesVersion: ptr("1.31.2")},
			},
		}}
	}
	patches := func(vs ...string) map[string]*armcontainerservice.KubernetesPatchVersion {
		m := map[string]*armcontainerservice.KubernetesPatchVersion{}
		for _, v := range vs {
			m[v] = &armcontainerservice.KubernetesPatchVersion{}
		}
		return m
	}
	f.versions = []*armcontainerservice.KubernetesVersion{
		{Version: ptr("1.30"), PatchVersions: patches("1.30.5", "1.30.7")},
		{Version: ptr("1.31"), IsDefault: ptr(true), PatchVersions: patches("1.31.1", "1.31.2")},
		{Version: ptr("1.32"), IsPreview: ptr(true), PatchVersions: patches("1.32.0")},
	}
	return f
}

func target(pool string) aks.Target {
	return aks.Target{ResourceGroup: testRG, Cluster: "demo", Pool: pool}
}

// refused checks that err is an *aks.Error with the code, and that its message and hint say
// the given things.
func refused(t *testing.T, err error, code, inMessage, inHint string) {
	t.Helper()
	var e *aks.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *aks.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q (%s)", e.Code, code, e.Message)
	}
	if !strings.Contains(e.Message, inMessage) {
		t.Errorf("message %q does not say %q", e.Message, inMessage)
	}
	if !strings.Contains(e.Hint, inHint) {
		t.Errorf("hint %q does not say %q", e.Hint, inHint)
	}
}

func planOf(t *testing.T, f *fakeARM, op aks.Operation) aks.Plan {
	t.Helper()
	plan, err := f.client(t).Plan(context.Background(), op)
	if err != nil {
		t.Fatalf("Plan(%s): %v", op.Describe(), err)
	}
	return plan
}

func planErr(t *testing.T, f *fakeARM, op aks.Operation) error {
	t.Helper()
	plan, err := f.client(t).Plan(context.Background(), op)
	if err == nil {
		t.Fatalf("Plan(%s) = %+v, want a refusal", op.Describe(), plan)
	}
	if len(f.sent()) != 0 {
		t.Errorf("Plan sent mutations: %+v", f.sent())
	}
	return err
}

func TestPlanCreate(t *testing.T) {
	create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new1"}, Location: "westeurope"}

	plan := planOf(t, standardFake(), create)
	if plan.Summary != "new cluster new1: 3 x Standard_DS2_v2 nodes, Kubernetes 1.31.2 (default)" {
		t.Errorf("summary = %q", plan.Summary)
	}
	if !plan.ScaleUp || plan.FromNodes != 0 || plan.ToNodes != 3 || plan.VMSize != "Standard_DS2_v2" || plan.ETag != "" {
		t.Errorf("plan = %+v", plan)
	}
	if planChange(plan, changeVersion) != "1.31.2" {
		t.Errorf("changes = %v", plan.Changes)
	}

	given := create
	given.NodeCount, given.VMSize, given.KubernetesVersion = intp(5), "Standard_D2s_v5", "1.30"
	plan = planOf(t, standardFake(), given)
	// A minor means its newest patch.
	if plan.Summary != "new cluster new1: 5 x Standard_D2s_v5 nodes, Kubernetes 1.30.7" || plan.ToNodes != 5 {
		t.Errorf("given: %+v", plan)
	}

	scaled := create
	scaled.Autoscaler = &aks.Autoscaler{Min: 5, Max: 10}
	if plan = planOf(t, standardFake(), scaled); plan.ToNodes != 5 || !strings.Contains(plan.Summary, "autoscaler 5-10") {
		t.Errorf("autoscaled create starts at the minimum: %+v", plan)
	}

	bad := create
	bad.KubernetesVersion = "1.29.9"
	refused(t, planErr(t, standardFake(), bad), aks.EInvalid, "Kubernetes 1.29.9 is not offered in westeurope", "1.31.2")

	exists := create
	exists.Target.Cluster = "DEMO"
	refused(t, planErr(t, standardFake(), exists), aks.EInvalid, "already exists", "another name")

	noLoc := create
	noLoc.Location = ""
	refused(t, planErr(t, standardFake(), noLoc), aks.EInvalid, "location", "--location")

	outside := create
	outside.NodeCount, outside.Autoscaler = intp(2), &aks.Autoscaler{Min: 3, Max: 5}
	refused(t, planErr(t, standardFake(), outside), aks.EInvalid, "outside", "--min-count")
}

func TestPlanDelete(t *testing.T) {
	plan := planOf(t, standardFake(), aks.Operation{Kind: aks.OpClusterDelete, Target: target("")})
	if len(plan.Changes) != 1 || plan.Changes[0].String() != "cluster: 4 nodes in 2 pools -> none" {
		t.Errorf("changes = %v", plan.Changes)
	}
	if plan.ETag != "cluster-etag-1" || plan.FromNodes != 4 || plan.ToNodes != 0 || plan.ScaleUp {
		t.Errorf("plan = %+v", plan)
	}

	missing := aks.Operation{Kind: aks.OpClusterDelete, Target: aks.Target{ResourceGroup: testRG, Cluster: "gone"}}
	err := planErr(t, standardFake(), missing)
	refused(t, err, aks.ENotFound, "cluster rg-aks/gone not found", "")
	if err.(*aks.Error).Message != "cluster rg-aks/gone not found" {
		t.Errorf("message = %q", err.(*aks.Error).Message)
	}
}

func TestPlanScale(t *testing.T) {
	scale := func(pool string, n int) aks.Operation {
		return aks.Operation{Kind: aks.OpPoolScale, Target: target(pool), NodeCount: intp(n)}
	}

	plan := planOf(t, standardFake(), scale("np2", 3))
	if plan.Summary != "np2: 1 -> 3 nodes" || !plan.ScaleUp || plan.FromNodes != 1 || plan.ToNodes != 3 {
		t.Errorf("up: %+v", plan)
	}
	if plan.Pool != "np2" || plan.ETag != "pool-etag-np2" || plan.VMSize != "Standard_D8s_v5" {
		t.Errorf("up: pool %q etag %q vm %q", plan.Pool, plan.ETag, plan.VMSize)
	}

	// Pool names are case-insensitive; the plan names the pool as Azure does.
	plan = planOf(t, standardFake(), scale("NP1", 2))
	if plan.Summary != "np1: 3 -> 2 nodes" || plan.ScaleUp || plan.Pool != "np1" {
		t.Errorf("down: %+v", plan)
	}

	// `/aks scale` without a pool: the only pool, or a refusal naming the pools.
	single := standardFake()
	single.addCluster(testRG, "solo", "1.30.5", poolSpec{name: "pool1", mode: "System", vmSize: systemSize, count: 2})
	solo := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: testRG, Cluster: "solo"}, NodeCount: intp(4)}
	if plan = planOf(t, single, solo); plan.Pool != "pool1" || plan.Summary != "pool1: 2 -> 4 nodes" {
		t.Errorf("only pool: %+v", plan)
	}
	refused(t, planErr(t, standardFake(), scale("", 4)), aks.EInvalid, "np1, np2", "--nodepool-name")

	refused(t, planErr(t, standardFake(), scale("np9", 4)), aks.ENotFound, "pool np9", "np1, np2")
	refused(t, planErr(t, standardFake(), scale("np2", 1)), aks.EInvalid, "already has 1 nodes", "")
	refused(t, planErr(t, standardFake(), scale("np1", 0)), aks.EInvalid, "System pool", "at least 1")
	if plan = planOf(t, standardFake(), scale("np2", 0)); plan.ToNodes != 0 {
		t.Errorf("a User pool can go to 0: %+v", plan)
	}

	auto := standardFake()
	auto.addCluster(testRG, "auto", "1.30.5",
		poolSpec{name: "sys", mode: "System", vmSize: systemSize, count: 3, min: 1, max: 5})
	op := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: testRG, Cluster: "auto", Pool: "sys"}, NodeCount: intp(4)}
	refused(t, planErr(t, auto, op), aks.EInvalid, "autoscaled", "--update-cluster-autoscaler")

	big := standardFake()
	big.addCluster(testRG, "big", "1.30.5",
		poolSpec{name: "a", mode: "System", vmSize: systemSize, count: 1000},
		poolSpec{name: "b", mode: "User", vmSize: systemSize, count: 1000},
		poolSpec{name: "c", mode: "User", vmSize: systemSize, count: 1000},
		poolSpec{name: "d", mode: "User", vmSize: systemSize, count: 1000},
		poolSpec{name: "e", mode: "User", vmSize: systemSize, count: 500},
		poolSpec{name: "f", mode: "User", vmSize: systemSize, count: 400})
	op = aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: testRG, Cluster: "big", Pool: "f"}, NodeCount: intp(600)}
	refused(t, planErr(t, big, op), aks.EInvalid, "5100 nodes, over AKS's limit of 5000", "at most 500")
	op.NodeCount = intp(500)
	if plan = planOf(t, big, op); plan.ToNodes != 500 {
		t.Errorf("up to the limit: %+v", plan)
	}

	refused(t, planErr(t, standardFake(), aks.Operation{Kind: aks.OpPoolScale, Target: target("np2")}), aks.EInvalid, "how many", "--node-count")
}

func TestPlanAutoscaler(t *testing.T) {
	f := func() *fakeARM {
		f := standardFake()
		f.addCluster(testRG, "auto", "1.30.5",
			poolSpec{name: "sys", mode: "System", vmSize: systemSize, count: 3, min: 2, max: 5},
			poolSpec{name: "usr", mode: "User", vmSize: systemSize, count: 4})
		return f
	}
	at := func(pool string) aks.Target { return aks.Target{ResourceGroup: testRG, Cluster: "auto", Pool: pool} }
	set := func(pool string, lo, hi int) aks.Operation {
		return aks.Operation{Kind: aks.OpPoolAutoscale, Target: at(pool), Autoscaler: &aks.Autoscaler{Min: lo, Max: hi}}
	}
	disable := func(pool string) aks.Operation {
		return aks.Operation{Kind: aks.OpPoolAutoscale, Target: at(pool), DisableAutoscaler: true}
	}

	// Enable on a manual pool: the count must lie in the range.
	plan := planOf(t, f(), set("usr", 1, 10))
	if !plan.ScaleUp || plan.Pool != "usr" || plan.ETag != "pool-etag-usr" || plan.FromNodes != -1 || plan.ToNodes != -1 {
		t.Errorf("enable: %+v", plan)
	}
	if len(plan.Changes) != 2 || plan.Changes[0].String() != "usr autoscaler min: none -> 1" || plan.Changes[1].String() != "usr autoscaler max: none -> 10" {
		t.Errorf("enable changes: %v", plan.Changes)
	}
	if plan = planOf(t, f(), set("usr", 2, 4)); plan.ScaleUp {
		t.Errorf("a max equal to the current count adds nothing: %+v", plan)
	}
	refused(t, planErr(t, f(), set("usr", 5, 8)), aks.EInvalid, "has 4 nodes, outside the range 5-8", "scale it first")

	// Update an autoscaled pool.
	plan = planOf(t, f(), set("sys", 2, 8))
	if !plan.ScaleUp || plan.Summary != "sys: autoscaler 2-5 -> 2-8 nodes" {
		t.Errorf("raise max: %+v", plan)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].String() != "sys autoscaler max: 5 -> 8" {
		t.Errorf("raise max changes: %v", plan.Changes)
	}
	if plan = planOf(t, f(), set("sys", 1, 4)); plan.ScaleUp || len(plan.Changes) != 2 {
		t.Errorf("lower both: %+v", plan)
	}
	refused(t, planErr(t, f(), set("sys", 2, 5)), aks.EInvalid, "already autoscaled between 2 and 5", "")
	refused(t, planErr(t, f(), set("sys", 0, 5)), aks.EInvalid, "System pool", "--min-count 1")
	refused(t, planErr(t, f(), set("usr", 6, 5)), aks.EInvalid, "below", "")

	// Disable.
	plan = planOf(t, f(), disable("sys"))
	if plan.ScaleUp || len(plan.Changes) != 1 || plan.Changes[0].String() != "sys autoscaler: 2-5 -> off" {
		t.Errorf("disable: %+v", plan)
	}
	refused(t, planErr(t, f(), disable("usr")), aks.EInvalid, "not enabled", "nodepool scale")
}

func TestPlanPoolAdd(t *testing.T) {
	add := aks.Operation{Kind: aks.OpPoolAdd, Target: target("gpu")}
	plan := planOf(t, standardFake(), add)
	// Defaults: 3 nodes, User, Linux, the System pool's VM size.
	if plan.Summary != "new pool gpu: 3 x Standard_D4s_v5 nodes (User, Linux)" {
		t.Errorf("summary = %q", plan.Summary)
	}
	if !plan.ScaleUp || plan.FromNodes != 0 || plan.ToNodes != 3 || plan.VMSize != systemSize || plan.Pool != "gpu" {
		t.Errorf("plan = %+v", plan)
	}

	empty := add
	empty.NodeCount = intp(0)
	if plan = planOf(t, standardFake(), empty); plan.ScaleUp {
		t.Errorf("an empty pool adds no capacity: %+v", plan)
	}

	exists := add
	exists.Target.Pool = "NP2"
	refused(t, planErr(t, standardFake(), exists), aks.EInvalid, "already exists", "")

	full := standardFake()
	var pools []poolSpec
	for i := range MaxPools {
		mode := "User"
		if i == 0 {
			mode = "System"
		}
		pools = append(pools, poolSpec{name: "p" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)), mode: mode, vmSize: systemSize, count: 1})
	}
	full.addCluster(testRG, "full", "1.30.5", pools...)
	op := aks.Operation{Kind: aks.OpPoolAdd, Target: aks.Target{ResourceGroup: testRG, Cluster: "full", Pool: "more"}}
	refused(t, planErr(t, full, op), aks.EInvalid, "100 pools", "delete a pool")

	sys0 := add
	sys0.Mode, sys0.NodeCount = "System", intp(0)
	refused(t, planErr(t, standardFake(), sys0), aks.EInvalid, "System pool can have 1 to 1000", "")
}

func TestPlanPoolDelete(t *testing.T) {
	del := func(pool string) aks.Operation { return aks.Operation{Kind: aks.OpPoolDelete, Target: target(pool)} }
	plan := planOf(t, standardFake(), del("np2"))
	if plan.Summary != "delete pool np2 (1 x Standard_D8s_v5 nodes)" || plan.ETag != "pool-etag-np2" || plan.FromNodes != 1 || plan.ToNodes != 0 {
		t.Errorf("plan = %+v", plan)
	}
	refused(t, planErr(t, standardFake(), del("np1")), aks.EInvalid, "last System pool", "add another System pool")

	two := standardFake()
	two.addCluster(testRG, "two", "1.30.5",
		poolSpec{name: "s1", mode: "System", vmSize: systemSize, count: 1},
		poolSpec{name: "s2", mode: "System", vmSize: systemSize, count: 1})
	if plan = planOf(t, two, aks.Operation{Kind: aks.OpPoolDelete, Target: aks.Target{ResourceGroup: testRG, Cluster: "two", Pool: "s1"}}); plan.Pool != "s1" {
		t.Errorf("one of two System pools: %+v", plan)
	}
	refused(t, planErr(t, standardFake(), del("nope")), aks.ENotFound, "pool nope", "")
}

func TestPlanClusterUpgrade(t *testing.T) {
	up := aks.Operation{Kind: aks.OpClusterUpgrade, Target: target(""), KubernetesVersion: "1.31.2"}
	plan := planOf(t, standardFake(), up)
	if plan.Summary != "Kubernetes 1.30.5 -> 1.31.2 (control plane and all pools)" || plan.ETag != "cluster-etag-1" {
		t.Errorf("plan = %+v", plan)
	}
	if len(plan.Changes) != 3 || plan.Changes[2].String() != "np2 Kubernetes version: 1.30.5 -> 1.31.2" {
		t.Errorf("changes = %v", plan.Changes)
	}
	cp := up
	cp.ControlPlaneOnly = true
	if plan = planOf(t, standardFake(), cp); plan.Summary != "Kubernetes 1.30.5 -> 1.31.2 (control plane only)" || len(plan.Changes) != 1 {
		t.Errorf("control plane only: %+v", plan)
	}
	bad := up
	bad.KubernetesVersion = "1.32.0"
	refused(t, planErr(t, standardFake(), bad), aks.EInvalid, "cannot be upgraded to 1.32.0", "possible: 1.30.7, 1.31.2")
}

func TestPlanPoolUpgrade(t *testing.T) {
	// The control plane is on 1.30.7 and the pools are still on 1.30.5.
	mixed := func() *fakeARM {
		f := standardFake()
		mc := f.clusters[key(testRG, "demo")]
		mc.Properties.CurrentKubernetesVersion = ptr("1.30.7")
		return f
	}
	up := aks.Operation{Kind: aks.OpPoolUpgrade, Target: target("np2"), KubernetesVersion: "1.30.7"}
	plan := planOf(t, mixed(), up)
	if plan.Summary != "np2: Kubernetes 1.30.5 -> 1.30.7" || plan.ETag != "pool-etag-np2" {
		t.Errorf("plan = %+v", plan)
	}
	// 1.31.2 is among the pool's upgrades but above the control plane (1.30.5).
	above := up
	above.KubernetesVersion = "1.31.2"
	refused(t, planErr(t, mixed(), above), aks.EInvalid, "newer Kubernetes (1.31.2) than the control plane (1.30.7)", "--control-plane-only")
	bad := up
	bad.KubernetesVersion = "1.29.0"
	refused(t, planErr(t, standardFake(), bad), aks.EInvalid, "cannot be upgraded to 1.29.0", "possible: 1.30.7, 1.31.2")

	image := aks.Operation{Kind: aks.OpPoolUpgrade, Target: target("np1"), NodeImageOnly: true}
	if plan = planOf(t, standardFake(), image); plan.Summary != "np1: node image "+oldImage+" -> "+latestImg {
		t.Errorf("node image: %q", plan.Summary)
	}
	current := standardFake()
	current.addCluster(testRG, "fresh", "1.30.5", poolSpec{name: "np1", mode: "System", vmSize: systemSize, count: 1, image: latestImg})
	current.poolUpgrades[key(testRG, "fresh", "np1")] = current.poolUpgrades[key(testRG, "demo", "np1")]
	image.Target.Cluster = "fresh"
	refused(t, planErr(t, current, image), aks.EInvalid, "already runs the latest node image", "")
}

func TestPlanStartStop(t *testing.T) {
	start := aks.Operation{Kind: aks.OpClusterStart, Target: target("")}
	stop := aks.Operation{Kind: aks.OpClusterStop, Target: target("")}
	refused(t, planErr(t, standardFake(), start), aks.EInvalid, "it is Running", "stopped")
	plan := planOf(t, standardFake(), stop)
	if plan.Summary != "stop cluster demo (4 nodes in 2 pools)" || plan.ETag != "cluster-etag-1" || plan.Changes[0].String() != "power state: Running -> Stopped" {
		t.Errorf("stop: %+v", plan)
	}

	f := standardFake()
	f.clusters[key(testRG, "demo")].Properties.PowerState.Code = ptr(armcontainerservice.CodeStopped)
	if plan = planOf(t, f, start); !plan.ScaleUp || plan.Changes[0].String() != "power state: Stopped -> Running" {
		t.Errorf("start: %+v", plan)
	}
	refused(t, planErr(t, f, stop), aks.EInvalid, "it is Stopped", "running")
}

// Guardrails read the subscription, the location and the cluster's node count after the change,
// with autoscaled pools at their max.
func TestPlanGuardrailFields(t *testing.T) {
	// "auto": System pool sys autoscaled 2-5 (3 now), User pool usr with 4 nodes: 9 nodes at most.
	f := func() *fakeARM {
		f := standardFake()
		f.addCluster(testRG, "auto", "1.30.5",
			poolSpec{name: "sys", mode: "System", vmSize: systemSize, count: 3, min: 2, max: 5},
			poolSpec{name: "usr", mode: "User", vmSize: systemSize, count: 4})
		// The upgrade profiles are demo's; only their presence matters here.
		f.upgrades[key(testRG, "auto")] = f.upgrades[key(testRG, "demo")]
		for _, p := range []string{"np1", "np2", "usr"} {
			f.poolUpgrades[key(testRG, "auto", p)] = f.poolUpgrades[key(testRG, "demo", "np1")]
		}
		return f
	}
	at := func(pool string) aks.Target { return aks.Target{ResourceGroup: testRG, Cluster: "auto", Pool: pool} }
	cases := []struct {
		name string
		op   aks.Operation
		want int
	}{
		{"scale usr up", aks.Operation{Kind: aks.OpPoolScale, Target: at("usr"), NodeCount: intp(10)}, 15},
		{"scale usr to 0", aks.Operation{Kind: aks.OpPoolScale, Target: at("USR"), NodeCount: intp(0)}, 5},
		{"raise sys max", aks.Operation{Kind: aks.OpPoolAutoscale, Target: at("sys"), Autoscaler: &aks.Autoscaler{Min: 2, Max: 8}}, 12},
		{"autoscale usr", aks.Operation{Kind: aks.OpPoolAutoscale, Target: at("usr"), Autoscaler: &aks.Autoscaler{Min: 1, Max: 20}}, 25},
		{"disable sys autoscaler", aks.Operation{Kind: aks.OpPoolAutoscale, Target: at("sys"), DisableAutoscaler: true}, 7},
		{"add pool", aks.Operation{Kind: aks.OpPoolAdd, Target: at("gpu"), NodeCount: intp(2)}, 11},
		{"add autoscaled pool", aks.Operation{Kind: aks.OpPoolAdd, Target: at("gpu"), NodeCount: intp(2), Autoscaler: &aks.Autoscaler{Min: 1, Max: 6}}, 15},
		{"delete pool", aks.Operation{Kind: aks.OpPoolDelete, Target: at("usr")}, 5},
		{"upgrade pool image", aks.Operation{Kind: aks.OpPoolUpgrade, Target: at("usr"), NodeImageOnly: true}, 9},
		{"upgrade cluster", aks.Operation{Kind: aks.OpClusterUpgrade, Target: at(""), KubernetesVersion: "1.31.2"}, 9},
		{"stop", aks.Operation{Kind: aks.OpClusterStop, Target: at("")}, 0},
		{"delete cluster", aks.Operation{Kind: aks.OpClusterDelete, Target: at("")}, 0},
	}
	for _, tc := range cases {
		plan := planOf(t, f(), tc.op)
		if plan.ClusterNodes != tc.want {
			t.Errorf("%s: ClusterNodes = %d, want %d", tc.name, plan.ClusterNodes, tc.want)
		}
		if plan.Subscription != testSub || plan.Location != "westeurope" {
			t.Errorf("%s: subscription %q, location %q", tc.name, plan.Subscription, plan.Location)
		}
	}

	stopped := f()
	stopped.clusters[key(testRG, "auto")].Properties.PowerState.Code = ptr(armcontainerservice.CodeStopped)
	if plan := planOf(t, stopped, aks.Operation{Kind: aks.OpClusterStart, Target: at("")}); plan.ClusterNodes != 9 {
		t.Errorf("start: ClusterNodes = %d, want 9", plan.ClusterNodes)
	}

	create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new1"}, Location: "West Europe", NodeCount: intp(4)}
	plan := planOf(t, standardFake(), create)
	if plan.ClusterNodes != 4 || plan.Location != "westeurope" || plan.Subscription != testSub {
		t.Errorf("create: %+v", plan)
	}
	create.Autoscaler = &aks.Autoscaler{Min: 2, Max: 7}
	if plan = planOf(t, standardFake(), create); plan.ClusterNodes != 7 || plan.ToNodes != 4 {
		t.Errorf("autoscaled create counts its max: %+v", plan)
	}

	// Without pools in the cluster's answer the count is unknown.
	bare := standardFake()
	bare.addCluster(testRG, "bare", "1.30.5")
	bare.upgrades[key(testRG, "bare")] = bare.upgrades[key(testRG, "demo")]
	for _, p := range []string{"np1", "np2"} {
		bare.poolUpgrades[key(testRG, "bare", p)] = bare.poolUpgrades[key(testRG, "demo", p)]
	}
	if plan = planOf(t, bare, aks.Operation{Kind: aks.OpClusterUpgrade, Target: aks.Target{ResourceGroup: testRG, Cluster: "bare"}, KubernetesVersion: "1.31.2"}); plan.ClusterNodes != -1 {
		t.Errorf("no pools: ClusterNodes = %d, want -1", plan.ClusterNodes)
	}
}

func TestNodesInPoolsPlurals(t *testing.T) {
	for want, in := range map[string][2]int{"2 nodes in 1 pool": {2, 1}, "1 node in 1 pool": {1, 1}, "4 nodes in 2 pools": {4, 2}, "0 nodes in 0 pools": {0, 0}} {
		if got := nodesInPools(in[0], in[1]); got != want {
			t.Errorf("nodesInPools(%d, %d) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// A pool of the same name added by another job, with another size, is not this job's add.
func TestPoolAddAppliedComparesThePool(t *testing.T) {
	two, three := 2, 3
	ap := armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Count: to.Ptr(int32(2)), VMSize: to.Ptr("Standard_DS2_v2"), ProvisioningState: to.Ptr("Succeeded")}}
	add := aks.Operation{Kind: aks.OpPoolAdd, NodeCount: &two, VMSize: "standard_ds2_v2"}
	if !poolAddApplied(add, aks.Plan{ToNodes: -1}, ap) {
		t.Error("the pool asked for exists: want applied")
	}
	add.NodeCount = &three
	if poolAddApplied(add, aks.Plan{ToNodes: -1}, ap) {
		t.Error("a pool of 2 nodes is not the add of 3")
	}
	add.NodeCount, add.VMSize = &two, "Standard_D4s_v5"
	if poolAddApplied(add, aks.Plan{ToNodes: -1}, ap) {
		t.Error("a pool of another VM size is not this add")
	}
}
