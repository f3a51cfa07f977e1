package azure

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// begin plans op, begins it and returns the operation and the one mutation it sent.
func begin(t *testing.T, f *fakeARM, op aks.Operation) (jobs.Operation, call) {
	t.Helper()
	c := f.client(t)
	ctx := context.Background()
	plan, err := c.Plan(ctx, op)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	o, err := c.Begin(ctx, op, plan, "")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	sent := f.sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d mutations, want 1: %+v", len(sent), sent)
	}
	return o, sent[0]
}

// sameJSON fails the test unless got and want serialise to the same ARM body.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(gv, wv) {
		t.Errorf("%s body:\n got %s\nwant %s", what, g, w)
	}
}

// finish polls the operation to its end and checks that it succeeded.
func finish(t *testing.T, o jobs.Operation) {
	t.Helper()
	tok, err := o.ResumeToken()
	if err != nil || tok == "" {
		t.Fatalf("ResumeToken = %q, %v", tok, err)
	}
	pollToEnd(t, o)
	if err := o.Result(context.Background()); err != nil {
		t.Fatalf("Result: %v", err)
	}
	if tok, err := o.ResumeToken(); tok != "" || err != nil {
		t.Errorf("an ended operation gives resume token %q, %v", tok, err)
	}
}

func TestBeginPoolScale(t *testing.T) {
	f := standardFake()
	before, _ := f.pool(testRG, "demo", "np2")
	o, c := begin(t, f, aks.Operation{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)})
	if c.method != "PUT pool" || c.target != "rg-aks/demo/np2" || c.ifMatch != "pool-etag-np2" || c.ifNoneMatch != "" {
		t.Errorf("call = %+v", c)
	}
	want := before
	want.Properties.Count = ptr(int32(3))
	sameJSON(t, "scale", c.pool, want)
	finish(t, o)
}

func TestBeginScaleResolvesOnlyPool(t *testing.T) {
	f := newFakeARM()
	f.addCluster(testRG, "solo", "1.30.5", poolSpec{name: "pool1", mode: "System", vmSize: systemSize, count: 2})
	_, c := begin(t, f, aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: testRG, Cluster: "solo"}, NodeCount: intp(5)})
	if c.target != "rg-aks/solo/pool1" || *c.pool.Properties.Count != 5 {
		t.Errorf("call = %+v", c)
	}
}

func TestBeginAutoscaler(t *testing.T) {
	f := standardFake()
	before, _ := f.pool(testRG, "demo", "np2")
	o, c := begin(t, f, aks.Operation{Kind: aks.OpPoolAutoscale, Target: target("np2"), Autoscaler: &aks.Autoscaler{Min: 1, Max: 6}})
	if c.ifMatch != "pool-etag-np2" {
		t.Errorf("If-Match = %q", c.ifMatch)
	}
	want := before
	want.Properties.EnableAutoScaling = ptr(true)
	want.Properties.MinCount = ptr(int32(1))
	want.Properties.MaxCount = ptr(int32(6))
	// The count is the GET's: a manual count never travels with an autoscaler change.
	sameJSON(t, "enable", c.pool, want)
	finish(t, o)

	f = newFakeARM()
	f.addCluster(testRG, "auto", "1.30.5", poolSpec{name: "sys", mode: "System", vmSize: systemSize, count: 3, min: 2, max: 5})
	before, _ = f.pool(testRG, "auto", "sys")
	_, c = begin(t, f, aks.Operation{Kind: aks.OpPoolAutoscale, Target: aks.Target{ResourceGroup: testRG, Cluster: "auto", Pool: "sys"}, DisableAutoscaler: true})
	want = before
	want.Properties.EnableAutoScaling = ptr(false)
	want.Properties.MinCount, want.Properties.MaxCount = nil, nil
	sameJSON(t, "disable", c.pool, want)
}

func TestBeginPoolUpgrade(t *testing.T) {
	f := standardFake()
	f.clusters[key(testRG, "demo")].Properties.CurrentKubernetesVersion = ptr("1.30.7")
	before, _ := f.pool(testRG, "demo", "np1")
	o, c := begin(t, f, aks.Operation{Kind: aks.OpPoolUpgrade, Target: target("np1"), KubernetesVersion: "1.30.7"})
	if c.method != "PUT pool" || c.ifMatch != "pool-etag-np1" {
		t.Errorf("call = %+v", c)
	}
	want := before
	want.Properties.OrchestratorVersion = ptr("1.30.7")
	sameJSON(t, "pool upgrade", c.pool, want)
	finish(t, o)

	o, c = begin(t, standardFake(), aks.Operation{Kind: aks.OpPoolUpgrade, Target: target("np1"), NodeImageOnly: true})
	if c.method != "POST upgradeNodeImageVersion" || c.target != "rg-aks/demo/np1" {
		t.Errorf("node image call = %+v", c)
	}
	finish(t, o)
}

func TestBeginPoolAdd(t *testing.T) {
	op := aks.Operation{Kind: aks.OpPoolAdd, Target: target("gpu"), NodeCount: intp(2), Zones: []string{"1", "2"},
		Labels: map[string]string{"gpu": "a100"}, Taints: []string{"sku=gpu:NoSchedule"}, Autoscaler: &aks.Autoscaler{Min: 1, Max: 4}}
	o, c := begin(t, standardFake(), op)
	if c.method != "PUT pool" || c.target != "rg-aks/demo/gpu" || c.ifNoneMatch != "*" || c.ifMatch != "" {
		t.Errorf("call = %+v", c)
	}
	want := armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Count:             ptr(int32(2)),
		VMSize:            ptr(systemSize),
		OSType:            ptr(armcontainerservice.OSTypeLinux),
		Mode:              ptr(armcontainerservice.AgentPoolModeUser),
		Type:              ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
		EnableAutoScaling: ptr(true),
		MinCount:          ptr(int32(1)),
		MaxCount:          ptr(int32(4)),
		AvailabilityZones: []*string{ptr("1"), ptr("2")},
		NodeLabels:        map[string]*string{"gpu": ptr("a100")},
		NodeTaints:        []*string{ptr("sku=gpu:NoSchedule")},
	}}
	sameJSON(t, "add", c.pool, want)
	finish(t, o)
}

func TestBeginPoolDelete(t *testing.T) {
	o, c := begin(t, standardFake(), aks.Operation{Kind: aks.OpPoolDelete, Target: target("np2")})
	if c.method != "DELETE pool" || c.target != "rg-aks/demo/np2" || c.ifMatch != "pool-etag-np2" {
		t.Errorf("call = %+v", c)
	}
	finish(t, o)
}

func TestBeginClusterUpgrade(t *testing.T) {
	f := standardFake()
	before, _ := f.cluster(testRG, "demo")
	o, c := begin(t, f, aks.Operation{Kind: aks.OpClusterUpgrade, Target: target(""), KubernetesVersion: "1.31.2"})
	if c.method != "PUT cluster" || c.ifMatch != "cluster-etag-1" || c.ifNoneMatch != "" {
		t.Errorf("call = %+v", c)
	}
	want := before
	want.Properties.KubernetesVersion = ptr("1.31.2")
	for _, p := range want.Properties.AgentPoolProfiles {
		p.OrchestratorVersion = ptr("1.31.2")
	}
	sameJSON(t, "upgrade", c.cluster, want)
	finish(t, o)

	f = standardFake()
	before, _ = f.cluster(testRG, "demo")
	_, c = begin(t, f, aks.Operation{Kind: aks.OpClusterUpgrade, Target: target(""), KubernetesVersion: "1.31.2", ControlPlaneOnly: true})
	want = before
	want.Properties.KubernetesVersion = ptr("1.31.2")
	sameJSON(t, "control plane upgrade", c.cluster, want)
}

func TestBeginCreate(t *testing.T) {
	op := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "New_One"}, Location: "westeurope",
		Tags: map[string]string{"env": "dev"}, Zones: []string{"3"}}
	o, c := begin(t, standardFake(), op)
	if c.method != "PUT cluster" || c.target != "rg-aks/New_One" || c.ifNoneMatch != "*" || c.ifMatch != "" {
		t.Errorf("call = %+v", c)
	}
	want := armcontainerservice.ManagedCluster{
		Location: ptr("westeurope"),
		Tags:     map[string]*string{"env": ptr("dev")},
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix:         ptr("new-one"),
			KubernetesVersion: ptr("1.31.2"),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{{
				Name:              ptr("nodepool1"),
				Count:             ptr(int32(3)),
				VMSize:            ptr("Standard_DS2_v2"),
				OSType:            ptr(armcontainerservice.OSTypeLinux),
				Mode:              ptr(armcontainerservice.AgentPoolModeSystem),
				Type:              ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
				AvailabilityZones: []*string{ptr("3")},
			}},
		},
	}
	sameJSON(t, "create", c.cluster, want)
	finish(t, o)
}

// An approved plan's version is the one created, even if the location's default moved since.
func TestBeginCreateUsesPlannedVersion(t *testing.T) {
	f := standardFake()
	c := f.client(t)
	op := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "later"}, Location: "westeurope"}
	plan, err := c.Plan(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.versions[1].IsDefault = nil
	f.versions[2].IsDefault = ptr(true)
	f.mu.Unlock()
	if _, err := c.Begin(context.Background(), op, plan, ""); err != nil {
		t.Fatal(err)
	}
	if got := str(f.sent()[0].cluster.Properties.KubernetesVersion); got != "1.31.2" {
		t.Errorf("created with %q, the plan said 1.31.2", got)
	}
}

func TestBeginClusterDeleteStartStop(t *testing.T) {
	o, c := begin(t, standardFake(), aks.Operation{Kind: aks.OpClusterDelete, Target: target("")})
	if c.method != "DELETE cluster" || c.target != "rg-aks/demo" || c.ifMatch != "cluster-etag-1" {
		t.Errorf("delete call = %+v", c)
	}
	finish(t, o)

	o, c = begin(t, standardFake(), aks.Operation{Kind: aks.OpClusterStop, Target: target("")})
	if c.method != "POST stop" || c.target != "rg-aks/demo" {
		t.Errorf("stop call = %+v", c)
	}
	finish(t, o)

	f := standardFake()
	f.clusters[key(testRG, "demo")].Properties.PowerState.Code = ptr(armcontainerservice.CodeStopped)
	o, c = begin(t, f, aks.Operation{Kind: aks.OpClusterStart, Target: target("")})
	if c.method != "POST start" {
		t.Errorf("start call = %+v", c)
	}
	finish(t, o)
}

// A resource that changed after the plan is not touched: the approval was for the old state.
func TestBeginStalePlan(t *testing.T) {
	for _, op := range []aks.Operation{
		{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)},
		{Kind: aks.OpClusterDelete, Target: target("")},
	} {
		f := standardFake()
		c := f.client(t)
		plan, err := c.Plan(context.Background(), op)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		mc := f.clusters[key(testRG, "demo")]
		mc.ETag = ptr("cluster-etag-2")
		mc.Properties.AgentPoolProfiles[1].ETag = ptr("pool-etag-np2-v2")
		f.mu.Unlock()
		_, err = c.Begin(context.Background(), op, plan, "")
		refused(t, err, aks.EConflict, "changed since the plan was made", "ask again")
		if len(f.sent()) != 0 {
			t.Errorf("%s: sent %+v", op.Kind, f.sent())
		}
	}
}

func TestBeginRefusedByAzure(t *testing.T) {
	f := standardFake()
	f.beginErr, f.beginErrCode = 409, "OperationNotAllowed"
	c := f.client(t)
	op := aks.Operation{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)}
	plan, err := c.Plan(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Begin(context.Background(), op, plan, "")
	var az *aks.AzureError
	if !errors.As(err, &az) || az.StatusCode != 409 || az.Code != "OperationNotAllowed" {
		t.Fatalf("err = %v, want AzureError 409 OperationNotAllowed", err)
	}
	// The SDK's error stays in the chain for logs.
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("the cause is lost: %v", err)
	}
}

func TestOperationFailed(t *testing.T) {
	f := standardFake()
	f.failWith = "QuotaExceeded"
	o, _ := begin(t, f, aks.Operation{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(30)})
	pollToEnd(t, o)
	err := o.Result(context.Background())
	var az *aks.AzureError
	if !errors.As(err, &az) || az.Code != "QuotaExceeded" || az.Message == "" {
		t.Fatalf("Result = %v, want AzureError QuotaExceeded", err)
	}
	// Polling an ended operation stays ended and sends nothing more.
	if done, _, err := o.Poll(context.Background()); !done || err != nil {
		t.Errorf("Poll after the end = %v, %v", done, err)
	}
}

// A bot restarted mid-operation rebuilds it from the stored token and follows it to the end,
// without sending the mutation again.
func TestResume(t *testing.T) {
	ctx := context.Background()
	for _, op := range []aks.Operation{
		{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)},
		{Kind: aks.OpClusterDelete, Target: target("")},
		{Kind: aks.OpPoolUpgrade, Target: target("np1"), NodeImageOnly: true},
		{Kind: aks.OpClusterStop, Target: target("")},
	} {
		f := standardFake()
		f.nonTerminal = 2
		first, _ := begin(t, f, op)
		tok, err := first.ResumeToken()
		if err != nil {
			t.Fatal(err)
		}
		second := f.client(t)
		o, err := second.Resume(ctx, op, tok)
		if err != nil {
			t.Fatalf("%s: Resume: %v", op.Kind, err)
		}
		pollToEnd(t, o)
		if err := o.Result(ctx); err != nil {
			t.Errorf("%s: Result: %v", op.Kind, err)
		}
		if n := len(f.sent()); n != 1 {
			t.Errorf("%s: %d mutations sent, want the first only", op.Kind, n)
		}
	}

	// Tokens are checked per method: a scale's token does not resume a pool delete.
	f := standardFake()
	o, _ := begin(t, f, aks.Operation{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)})
	tok, _ := o.ResumeToken()
	if _, err := f.client(t).Resume(ctx, aks.Operation{Kind: aks.OpPoolDelete, Target: target("np2")}, tok); err == nil {
		t.Error("a scale token resumed a pool delete")
	}
}

func TestReadSide(t *testing.T) {
	f := standardFake()
	f.addCluster("rg-b", "zeta", "1.30.5", poolSpec{name: "np1", mode: "System", vmSize: systemSize, count: 1})
	f.addCluster("RG-A", "alpha", "1.30.5", poolSpec{name: "np1", mode: "System", vmSize: systemSize, count: 1})
	c := f.client(t)
	ctx := context.Background()

	all, err := c.ListClusters(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cl := range all {
		names = append(names, cl.ResourceGroup+"/"+cl.Name)
	}
	if !reflect.DeepEqual(names, []string{"RG-A/alpha", "rg-aks/demo", "rg-b/zeta"}) {
		t.Errorf("ListClusters = %v", names)
	}
	in, err := c.ListClusters(ctx, "rg-b")
	if err != nil || len(in) != 1 || in[0].Name != "zeta" {
		t.Errorf("ListClusters(rg-b) = %v, %v", in, err)
	}

	cl, err := c.GetCluster(ctx, testRG, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Tier != "Standard" || cl.PowerState != "Running" || cl.NodeCount() != 4 || len(cl.Pools) != 2 || cl.Pools[1].Mode != "User" {
		t.Errorf("GetCluster = %+v", cl)
	}
	_, err = c.GetCluster(ctx, testRG, "nope")
	refused(t, err, aks.ENotFound, "cluster rg-aks/nope not found", "")

	pools, err := c.ListPools(ctx, testRG, "demo")
	if err != nil || len(pools) != 2 || pools[0].Name != "np1" || pools[0].ETag != "pool-etag-np1" || pools[1].Count != 1 {
		t.Errorf("ListPools = %+v, %v", pools, err)
	}
	_, err = c.ListPools(ctx, testRG, "nope")
	refused(t, err, aks.ENotFound, "cluster rg-aks/nope not found", "")

	vs, err := c.GetVersions(ctx, "westeurope")
	if err != nil || len(vs) != 5 || vs[3].Version != "1.31.2" || !vs[3].IsDefault || !vs[4].Preview {
		t.Errorf("GetVersions = %+v, %v", vs, err)
	}

	u, err := c.GetUpgrades(ctx, testRG, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if u.ControlPlaneVersion != "1.30.5" || !reflect.DeepEqual(u.ControlPlane, []string{"1.30.7", "1.31.2"}) || len(u.Pools) != 2 || u.Pools[1].LatestNodeImage != latestImg {
		t.Errorf("GetUpgrades = %+v", u)
	}
}

func TestProvisioningState(t *testing.T) {
	f := standardFake()
	f.clusters[key(testRG, "demo")].Properties.AgentPoolProfiles[1].ProvisioningState = ptr("Scaling")
	c := f.client(t)
	ctx := context.Background()
	if got, err := standardFake().client(t).ProvisioningState(ctx, target("")); err != nil || got != "Succeeded" {
		t.Errorf("ProvisioningState of an idle cluster = %q, %v; want Succeeded", got, err)
	}
	for tgt, want := range map[aks.Target]string{
		target(""):                               "Scaling", // a busy pool makes the cluster busy
		target("np2"):                            "Scaling",
		target("gone"):                           "NotFound",
		{ResourceGroup: testRG, Cluster: "gone"}: "NotFound",
	} {
		got, err := c.ProvisioningState(ctx, tgt)
		if err != nil || got != want {
			t.Errorf("ProvisioningState(%s) = %q, %v; want %q", tgt, got, err, want)
		}
	}
}

// OperationID reads Azure's operation ID from the resume token's polling URLs.
func TestOperationIDFromTokens(t *testing.T) {
	f := standardFake()
	op := aks.Operation{Kind: aks.OpPoolScale, Target: target("np2"), NodeCount: intp(3)}
	o, _ := begin(t, f, op)
	// The SDK fake polls a made-up URL on the resource itself: no operation ID.
	if id := o.(interface{ OperationID() string }).OperationID(); id != "" {
		t.Errorf("OperationID of a faked poller = %q, want none", id)
	}
	tok, err := o.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	var wrapper struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(tok), &wrapper); err != nil || wrapper.Type == "" {
		t.Fatalf("token %s: %v", tok, err)
	}
	const ops = "https://management.azure.com/subscriptions/" + testSub + "/providers/Microsoft.ContainerService/locations/westeurope/"
	const pool = "https://management.azure.com/subscriptions/" + testSub + "/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/demo/agentPools/np2?api-version=2025-02-01"
	for inner, want := range map[string]string{
		// Azure-AsyncOperation wins over Location.
		`{"asyncURL":"` + ops + `operations/3f2a-01?api-version=2025-02-01","locURL":"` + ops + `operationresults/other?api-version=2025-02-01","origURL":"` + pool + `","method":"PUT","finalState":"","state":"InProgress"}`: "3f2a-01",
		`{"asyncURL":"` + ops + `operations/3f2a-02/","locURL":"","origURL":"` + pool + `","method":"PUT","finalState":"","state":"InProgress"}`:                                                                               "3f2a-02",
		`{"type":"loc","pollURL":"` + ops + `operationresults/3f2a-03?api-version=2025-02-01","state":"InProgress"}`:                                                                                                           "3f2a-03",
		`{"type":"body","pollURL":"` + pool + `","state":"InProgress"}`:                                                                                                                                                        "",
	} {
		token := `{"type":"` + wrapper.Type + `","token":` + inner + `}`
		resumed, err := f.client(t).Resume(context.Background(), op, token)
		if err != nil {
			t.Fatalf("Resume(%s): %v", token, err)
		}
		if got := resumed.(interface{ OperationID() string }).OperationID(); got != want {
			t.Errorf("OperationID from %s = %q, want %q", inner, got, want)
		}
	}
	if got := operationID("not json"); got != "" {
		t.Errorf("OperationID of a broken token = %q", got)
	}
}
