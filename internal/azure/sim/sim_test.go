package sim

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	bolt "go.etcd.io/bbolt"
)

// fakeClock is the simulated cloud's clock in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t        *testing.T
	cloud    *Cloud
	clock    *fakeClock
	db       *bolt.DB
	dbPath   string
	clusters *armcontainerservice.ManagedClustersClient
	pools    *armcontainerservice.AgentPoolsClient
}

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open bbolt: %v", err)
	}
	return db
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sim.db")
	db := openDB(t, path)
	t.Cleanup(func() { _ = db.Close() })
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	opts.DB = db
	opts.Now = clock.Now
	e := &env{t: t, clock: clock, db: db, dbPath: path}
	e.cloud = mustNew(t, opts)
	e.clusters, e.pools = sdkClients(t, e.cloud)
	return e
}

func mustNew(t *testing.T, opts Options) *Cloud {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// sdkClients are the real armcontainerservice clients, served in process by the sim. Retries
// are quick so injected 429/500 answers do not slow the tests.
func sdkClients(t *testing.T, c *Cloud) (*armcontainerservice.ManagedClustersClient, *armcontainerservice.AgentPoolsClient) {
	t.Helper()
	f, err := armcontainerservice.NewClientFactory(SubscriptionID, c.Credential(), &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Transport: c.Transport(),
			Retry:     policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 20 * time.Millisecond},
		},
	})
	if err != nil {
		t.Fatalf("client factory: %v", err)
	}
	return f.NewManagedClustersClient(), f.NewAgentPoolsClient()
}

// pollUntilDone polls step by step, moving the fake clock by step before each poll, and fails
// the test if the operation has not finished within limit polls.
func pollUntilDone[T any](t *testing.T, e *env, p *runtime.Poller[T], step time.Duration, limit int) (T, error) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < limit && !p.Done(); i++ {
		e.clock.Advance(step)
		if _, err := p.Poll(ctx); err != nil {
			t.Fatalf("poll: %v", err)
		}
	}
	if !p.Done() {
		t.Fatalf("operation not done after %d polls of %s", limit, step)
	}
	return p.Result(ctx)
}

func errorCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want *azcore.ResponseError, got %T: %v", err, err)
	}
	return re.ErrorCode, re.StatusCode
}

func minimalCluster(location string, count int32) armcontainerservice.ManagedCluster {
	return armcontainerservice.ManagedCluster{
		Location: to.Ptr(location),
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix: to.Ptr("demo"),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{{
				Name: to.Ptr("system"), Count: to.Ptr(count), VMSize: to.Ptr("Standard_D2s_v5"),
				OSType: to.Ptr(armcontainerservice.OSTypeLinux), Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem),
			}},
		},
	}
}

func (e *env) seed(rg, name string, pools ...SeedPool) {
	e.t.Helper()
	if err := e.cloud.Seed(context.Background(), rg, name, "westeurope", pools...); err != nil {
		e.t.Fatalf("seed: %v", err)
	}
}

func (e *env) getPool(rg, cluster, pool string) armcontainerservice.AgentPool {
	e.t.Helper()
	resp, err := e.pools.Get(context.Background(), rg, cluster, pool, nil)
	if err != nil {
		e.t.Fatalf("get pool %s: %v", pool, err)
	}
	return resp.AgentPool
}

func (e *env) getCluster(rg, name string) armcontainerservice.ManagedCluster {
	e.t.Helper()
	resp, err := e.clusters.Get(context.Background(), rg, name, nil)
	if err != nil {
		e.t.Fatalf("get cluster %s: %v", name, err)
	}
	return resp.ManagedCluster
}

func TestCreateClusterPollsToDone(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	poller, err := e.clusters.BeginCreateOrUpdate(ctx, "rg-aks", "demo", minimalCluster("westeurope", 2), nil)
	if err != nil {
		t.Fatalf("begin create: %v", err)
	}
	if poller.Done() {
		t.Fatal("create finished at once; want a running operation")
	}
	mc := e.getCluster("rg-aks", "demo")
	if got := deref(mc.Properties.ProvisioningState); got != "Creating" {
		t.Fatalf("provisioningState while creating = %q, want Creating", got)
	}
	// Polling before the time is up must not finish it.
	e.clock.Advance(DefaultDurations.Create / 2)
	if _, err := poller.Poll(ctx); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if poller.Done() {
		t.Fatal("create done half way through its duration")
	}
	res, err := pollUntilDone(t, e, poller, 10*time.Second, 10)
	if err != nil {
		t.Fatalf("create result: %v", err)
	}
	got := res.ManagedCluster
	if deref(got.Properties.ProvisioningState) != "Succeeded" {
		t.Fatalf("provisioningState = %q, want Succeeded", deref(got.Properties.ProvisioningState))
	}
	if !strings.Contains(deref(got.ID), "/resourcegroups/rg-aks/") {
		t.Errorf("id %q lacks lower-case resourcegroups", deref(got.ID))
	}
	if want, _ := resolveVersion(""); deref(got.Properties.CurrentKubernetesVersion) != want {
		t.Errorf("currentKubernetesVersion = %q, want default %q", deref(got.Properties.CurrentKubernetesVersion), want)
	}
	if deref(got.ETag) == "" || deref(got.Properties.Fqdn) == "" {
		t.Errorf("eTag %q / fqdn %q missing", deref(got.ETag), deref(got.Properties.Fqdn))
	}
	if code := got.Properties.PowerState.Code; code == nil || *code != armcontainerservice.CodeRunning {
		t.Errorf("powerState = %v, want Running", code)
	}
	if len(got.Properties.AgentPoolProfiles) != 1 || deref(got.Properties.AgentPoolProfiles[0].Count) != 2 ||
		deref(got.Properties.AgentPoolProfiles[0].ProvisioningState) != "Succeeded" {
		t.Errorf("agentPoolProfiles = %+v", got.Properties.AgentPoolProfiles)
	}
	pool := e.getPool("rg-aks", "demo", "system")
	if deref(pool.Properties.Count) != 2 || deref(pool.Properties.ETag) == "" {
		t.Errorf("pool = %+v", pool.Properties)
	}

	// Listing by resource group and by subscription both show it.
	for _, pager := range []interface {
		More() bool
	}{e.clusters.NewListByResourceGroupPager("RG-AKS", nil), e.clusters.NewListPager(nil)} {
		n := 0
		switch p := pager.(type) {
		case *runtime.Pager[armcontainerservice.ManagedClustersClientListByResourceGroupResponse]:
			for p.More() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("list by rg: %v", err)
				}
				n += len(page.Value)
			}
		case *runtime.Pager[armcontainerservice.ManagedClustersClientListResponse]:
			for p.More() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				n += len(page.Value)
			}
		}
		if n != 1 {
			t.Errorf("list returned %d clusters, want 1", n)
		}
	}
}

func TestScalePoolAndConflict(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np2", Mode: "User", Count: 1})

	pool := e.getPool("rg", "demo", "np2")
	etag := deref(pool.Properties.ETag)
	pool.Properties.Count = to.Ptr[int32](3)
	poller, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np2", pool, &armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfMatch: &etag})
	if err != nil {
		t.Fatalf("begin scale: %v", err)
	}
	during := e.getPool("rg", "demo", "np2")
	if deref(during.Properties.ProvisioningState) != "Scaling" {
		t.Fatalf("provisioningState = %q, want Scaling", deref(during.Properties.ProvisioningState))
	}
	if deref(during.Properties.ETag) == etag {
		t.Error("eTag unchanged by the update")
	}

	// Any other mutation on the cluster or its pools is refused while it runs.
	other := e.getPool("rg", "demo", "system")
	other.Properties.Count = to.Ptr[int32](2)
	_, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", other, nil)
	code, status := errorCode(t, err)
	if code != "OperationNotAllowed" || status != http.StatusConflict {
		t.Fatalf("concurrent PUT: %s %d, want OperationNotAllowed 409", code, status)
	}
	if !strings.Contains(err.Error(), "Another operation (Scaling) is in progress") {
		t.Errorf("conflict message: %v", err)
	}
	_, err = e.clusters.BeginStop(ctx, "rg", "demo", nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusConflict {
		t.Fatalf("concurrent stop: %s %d", code, status)
	}

	res, err := pollUntilDone(t, e, poller, 5*time.Second, 10)
	if err != nil {
		t.Fatalf("scale result: %v", err)
	}
	if deref(res.Properties.Count) != 3 || deref(res.Properties.ProvisioningState) != "Succeeded" {
		t.Fatalf("after scale: count %d state %q", deref(res.Properties.Count), deref(res.Properties.ProvisioningState))
	}
	mc := e.getCluster("rg", "demo")
	for _, p := range mc.Properties.AgentPoolProfiles {
		if deref(p.Name) == "np2" && deref(p.Count) != 3 {
			t.Errorf("cluster profile np2 count = %d, want 3", deref(p.Count))
		}
	}
	// The cluster is free again.
	if _, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", other, nil); err != nil {
		t.Fatalf("PUT after the scale finished: %v", err)
	}
}

func TestAutoscalerEnableAndManualCountRefused(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 2})

	pool := e.getPool("rg", "demo", "system")
	pool.Properties.EnableAutoScaling = to.Ptr(true)
	pool.Properties.MinCount, pool.Properties.MaxCount = to.Ptr[int32](1), to.Ptr[int32](5)
	poller, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", pool, nil)
	if err != nil {
		t.Fatalf("enable autoscaler: %v", err)
	}
	if got := deref(e.getPool("rg", "demo", "system").Properties.ProvisioningState); got != "Updating" {
		t.Errorf("provisioningState = %q, want Updating", got)
	}
	res, err := pollUntilDone(t, e, poller, 5*time.Second, 10)
	if err != nil {
		t.Fatalf("autoscaler result: %v", err)
	}
	if !deref(res.Properties.EnableAutoScaling) || deref(res.Properties.MinCount) != 1 || deref(res.Properties.MaxCount) != 5 {
		t.Fatalf("autoscaler not applied: %+v", res.Properties)
	}

	manual := e.getPool("rg", "demo", "system")
	manual.Properties.Count = to.Ptr[int32](4)
	_, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", manual, nil)
	if code, status := errorCode(t, err); code != "InvalidParameter" || status != http.StatusBadRequest {
		t.Fatalf("manual count with autoscaler: %s %d", code, status)
	}

	// Disabling it and scaling in the same PUT is allowed; min/max go away.
	off := e.getPool("rg", "demo", "system")
	off.Properties.EnableAutoScaling = to.Ptr(false)
	off.Properties.Count = to.Ptr[int32](4)
	poller2, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", off, nil)
	if err != nil {
		t.Fatalf("disable autoscaler: %v", err)
	}
	res2, err := pollUntilDone(t, e, poller2, 5*time.Second, 10)
	if err != nil {
		t.Fatalf("disable result: %v", err)
	}
	if deref(res2.Properties.EnableAutoScaling) || res2.Properties.MinCount != nil || deref(res2.Properties.Count) != 4 {
		t.Fatalf("after disable: %+v", res2.Properties)
	}
}

func TestDeleteCluster(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo")
	poller, err := e.clusters.BeginDelete(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("begin delete: %v", err)
	}
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Deleting" {
		t.Fatalf("provisioningState = %q, want Deleting", got)
	}
	if _, err := pollUntilDone(t, e, poller, 10*time.Second, 10); err != nil {
		t.Fatalf("delete result: %v", err)
	}
	_, err = e.clusters.Get(ctx, "rg", "demo", nil)
	if code, status := errorCode(t, err); code != "ResourceNotFound" || status != http.StatusNotFound {
		t.Fatalf("get after delete: %s %d", code, status)
	}
	// Deleting what is gone is a no-op (204), and the poller is done at once.
	p2, err := e.clusters.BeginDelete(ctx, "rg", "demo", nil)
	if err != nil || !p2.Done() {
		t.Fatalf("second delete: done=%v err=%v", p2 != nil && p2.Done(), err)
	}
}

func TestStartStop(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "user", Mode: "User", Count: 1})

	stop, err := e.clusters.BeginStop(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("begin stop: %v", err)
	}
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Stopping" {
		t.Errorf("provisioningState = %q, want Stopping", got)
	}
	if _, err := pollUntilDone(t, e, stop, 5*time.Second, 10); err != nil {
		t.Fatalf("stop result: %v", err)
	}
	mc := e.getCluster("rg", "demo")
	if code := mc.Properties.PowerState.Code; *code != armcontainerservice.CodeStopped {
		t.Fatalf("powerState = %s, want Stopped", *code)
	}
	if code := e.getPool("rg", "demo", "user").Properties.PowerState.Code; *code != armcontainerservice.CodeStopped {
		t.Errorf("pool powerState = %s, want Stopped", *code)
	}

	// A stopped cluster refuses pool changes and a second stop.
	pool := e.getPool("rg", "demo", "user")
	pool.Properties.Count = to.Ptr[int32](2)
	_, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "user", pool, nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusBadRequest {
		t.Fatalf("scale stopped cluster: %s %d", code, status)
	}
	_, err = e.clusters.BeginStop(ctx, "rg", "demo", nil)
	if code, _ := errorCode(t, err); code != "OperationNotAllowed" {
		t.Fatalf("stop stopped cluster: %s", code)
	}

	start, err := e.clusters.BeginStart(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("begin start: %v", err)
	}
	if _, err := pollUntilDone(t, e, start, 5*time.Second, 10); err != nil {
		t.Fatalf("start result: %v", err)
	}
	if code := e.getCluster("rg", "demo").Properties.PowerState.Code; *code != armcontainerservice.CodeRunning {
		t.Fatalf("powerState after start = %s", *code)
	}
}

func TestUpgrade(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1})

	prof, err := e.clusters.GetUpgradeProfile(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("upgrade profile: %v", err)
	}
	cp := prof.Properties.ControlPlaneProfile
	var ups []string
	for _, u := range cp.Upgrades {
		ups = append(ups, deref(u.KubernetesVersion))
	}
	if deref(cp.KubernetesVersion) != seedVersion || len(ups) == 0 {
		t.Fatalf("control plane profile %s upgrades %v", deref(cp.KubernetesVersion), ups)
	}
	for _, u := range ups {
		if minorNumber(u) > minorNumber(seedVersion)+1 || compareVersions(u, seedVersion) <= 0 {
			t.Errorf("offered upgrade %s from %s skips a minor or goes back", u, seedVersion)
		}
	}

	// Skipping a minor is refused with AKS's code.
	mc := e.getCluster("rg", "demo")
	mc.Properties.KubernetesVersion = to.Ptr("1.32.0")
	_, err = e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusBadRequest {
		t.Fatalf("skip minor: %s %d", code, status)
	}
	mc.Properties.KubernetesVersion = to.Ptr("1.31.99")
	_, err = e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, nil)
	if code, _ := errorCode(t, err); code != "K8sVersionNotSupported" {
		t.Fatalf("unknown version: %s", code)
	}

	// Control plane only: the pool stays where it is and can then follow on its own.
	target := ups[len(ups)-1]
	mc = e.getCluster("rg", "demo")
	mc.Properties.KubernetesVersion = to.Ptr(target)
	poller, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, nil)
	if err != nil {
		t.Fatalf("begin upgrade: %v", err)
	}
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Upgrading" {
		t.Errorf("provisioningState = %q, want Upgrading", got)
	}
	res, err := pollUntilDone(t, e, poller, 10*time.Second, 10)
	if err != nil {
		t.Fatalf("upgrade result: %v", err)
	}
	if deref(res.Properties.CurrentKubernetesVersion) != target {
		t.Fatalf("currentKubernetesVersion = %s, want %s", deref(res.Properties.CurrentKubernetesVersion), target)
	}
	pool := e.getPool("rg", "demo", "system")
	if deref(pool.Properties.CurrentOrchestratorVersion) != seedVersion {
		t.Fatalf("pool moved with a control-plane-only upgrade: %s", deref(pool.Properties.CurrentOrchestratorVersion))
	}
	pprof, err := e.pools.GetUpgradeProfile(ctx, "rg", "demo", "system", nil)
	if err != nil {
		t.Fatalf("pool upgrade profile: %v", err)
	}
	found := false
	for _, u := range pprof.Properties.Upgrades {
		if compareVersions(deref(u.KubernetesVersion), target) > 0 {
			t.Errorf("pool offered %s beyond control plane %s", deref(u.KubernetesVersion), target)
		}
		found = found || deref(u.KubernetesVersion) == target
	}
	if !found {
		t.Fatalf("pool upgrades do not offer %s", target)
	}
	pool.Properties.OrchestratorVersion = to.Ptr(target)
	pp, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "system", pool, nil)
	if err != nil {
		t.Fatalf("begin pool upgrade: %v", err)
	}
	pres, err := pollUntilDone(t, e, pp, 10*time.Second, 10)
	if err != nil {
		t.Fatalf("pool upgrade result: %v", err)
	}
	if deref(pres.Properties.CurrentOrchestratorVersion) != target || deref(pres.Properties.NodeImageVersion) != linuxNodeImage {
		t.Fatalf("pool after upgrade: version %s image %s", deref(pres.Properties.CurrentOrchestratorVersion), deref(pres.Properties.NodeImageVersion))
	}

	// Node image only.
	e.seed("rg", "other")
	ni, err := e.pools.BeginUpgradeNodeImageVersion(ctx, "rg", "other", "nodepool1", nil)
	if err != nil {
		t.Fatalf("begin node image upgrade: %v", err)
	}
	if _, err := pollUntilDone(t, e, ni, 10*time.Second, 10); err != nil {
		t.Fatalf("node image result: %v", err)
	}
	if got := deref(e.getPool("rg", "other", "nodepool1").Properties.NodeImageVersion); got != linuxNodeImage {
		t.Fatalf("node image = %s, want %s", got, linuxNodeImage)
	}
}

func TestETagPreconditions(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo")

	mc := e.getCluster("rg", "demo")
	_, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr("stale-etag")})
	if code, status := errorCode(t, err); code != "PreconditionFailed" || status != http.StatusPreconditionFailed {
		t.Fatalf("If-Match mismatch: %s %d", code, status)
	}
	_, err = e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")})
	if code, status := errorCode(t, err); code != "PreconditionFailed" || status != http.StatusPreconditionFailed {
		t.Fatalf("If-None-Match * on existing: %s %d", code, status)
	}
	pool := e.getPool("rg", "demo", "nodepool1")
	_, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "nodepool1", pool, &armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr("stale-etag")})
	if code, _ := errorCode(t, err); code != "PreconditionFailed" {
		t.Fatalf("pool If-Match mismatch: %s", code)
	}
	// The matching eTag goes through.
	if _, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", mc, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfMatch: mc.ETag}); err != nil {
		t.Fatalf("If-Match with the current eTag: %v", err)
	}
	if e.cloud.CountMutations("/managedclusters/demo") != 4 {
		t.Errorf("CountMutations = %d, want 4", e.cloud.CountMutations("/managedclusters/demo"))
	}
}

func TestValidationErrors(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "user", Mode: "User", Count: 1})

	putPool := func(name string, mutate func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties)) error {
		p := armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
			Count: to.Ptr[int32](1), VMSize: to.Ptr("Standard_D2s_v5"), Mode: to.Ptr(armcontainerservice.AgentPoolModeUser),
		}}
		if _, existing := e.getClusterRec("rg", "demo").pool(name); existing != nil {
			p = e.getPool("rg", "demo", name)
		}
		mutate(p.Properties)
		_, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", name, p, nil)
		return err
	}
	cases := []struct {
		name string
		err  func() error
		code string
	}{
		{"bad pool name", func() error {
			return putPool("Bad_Name", func(*armcontainerservice.ManagedClusterAgentPoolProfileProperties) {})
		}, "InvalidParameter"},
		{"long windows pool name", func() error {
			return putPool("win1234", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.OSType = to.Ptr(armcontainerservice.OSTypeWindows)
			})
		}, "InvalidParameter"},
		{"count over 1000", func() error {
			return putPool("big", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) { p.Count = to.Ptr[int32](1001) })
		}, "InvalidParameter"},
		{"system pool with 0 nodes", func() error {
			return putPool("system", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) { p.Count = to.Ptr[int32](0) })
		}, "InvalidParameter"},
		{"autoscaler min over max", func() error {
			return putPool("user", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.EnableAutoScaling, p.MinCount, p.MaxCount = to.Ptr(true), to.Ptr[int32](5), to.Ptr[int32](2)
			})
		}, "InvalidParameter"},
		{"autoscaler count outside range", func() error {
			return putPool("user", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.EnableAutoScaling, p.MinCount, p.MaxCount = to.Ptr(true), to.Ptr[int32](3), to.Ptr[int32](5)
			})
		}, "InvalidParameter"},
		{"vm size change", func() error {
			return putPool("user", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.VMSize = to.Ptr("Standard_D8s_v5")
			})
		}, "PropertyChangeNotAllowed"},
		{"unknown vm size", func() error {
			return putPool("newpool", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.VMSize = to.Ptr("Standard_Bogus_v9")
			})
		}, "BadRequest"},
		{"pool ahead of control plane", func() error {
			return putPool("newpool", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.OrchestratorVersion = to.Ptr("1.31.4")
			})
		}, "NodePoolMcVersionIncompatible"},
		{"last system pool to user", func() error {
			return putPool("system", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
				p.Mode = to.Ptr(armcontainerservice.AgentPoolModeUser)
			})
		}, "OperationNotAllowed"},
		{"delete last system pool", func() error {
			_, err := e.pools.BeginDelete(ctx, "rg", "demo", "system", nil)
			return err
		}, "OperationNotAllowed"},
		{"bad cluster name", func() error {
			_, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "-bad-", minimalCluster("westeurope", 1), nil)
			return err
		}, "InvalidParameter"},
		{"unknown version on create", func() error {
			mc := minimalCluster("westeurope", 1)
			mc.Properties.KubernetesVersion = to.Ptr("1.27.3")
			_, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "new", mc, nil)
			return err
		}, "K8sVersionNotSupported"},
		{"pool on missing cluster", func() error {
			_, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "nosuch", "np", armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{Count: to.Ptr[int32](1)}}, nil)
			return err
		}, "ParentResourceNotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("accepted; want an error")
			}
			if code, _ := errorCode(t, err); code != tc.code {
				t.Fatalf("code = %s, want %s (%v)", code, tc.code, err)
			}
		})
	}
	// None of the refused requests started anything: the cluster is free.
	if rec := e.getClusterRec("rg", "demo"); rec.ActiveOp != "" {
		t.Fatalf("a refused request left operation %s running", rec.ActiveOp)
	}
}

func TestPoolAndNodeLimits(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	big := []SeedPool{{Name: "system", Mode: "System", Count: 1000}}
	for i := range 4 {
		big = append(big, SeedPool{Name: "user" + string(rune('a'+i)), Mode: "User", Count: 1000})
	}
	e.seed("rg", "big", big...)
	p := armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{Count: to.Ptr[int32](1), VMSize: to.Ptr("Standard_D2s_v5")}}
	_, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "big", "extra", p, nil)
	if code, _ := errorCode(t, err); code != "InvalidParameter" || !strings.Contains(err.Error(), "5000") {
		t.Fatalf("node limit: %s: %v", code, err)
	}

	many := []SeedPool{{Name: "system", Mode: "System", Count: 1}}
	for i := 1; len(many) < maxPools; i++ {
		many = append(many, SeedPool{Name: "u" + strconv.Itoa(i), Mode: "User", Count: 0})
	}
	e.seed("rg", "many", many...)
	_, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "many", "extra", p, nil)
	if code, _ := errorCode(t, err); code != "OperationNotAllowed" || !strings.Contains(err.Error(), "100") {
		t.Fatalf("pool limit: %s: %v", code, err)
	}
}

func (e *env) getClusterRec(rg, name string) *clusterRec {
	e.t.Helper()
	var rec *clusterRec
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = loadCluster(tx, clusterKey(SubscriptionID, rg, name))
		return err
	})
	if err != nil || rec == nil {
		e.t.Fatalf("load cluster %s: %v", name, err)
	}
	return rec
}
