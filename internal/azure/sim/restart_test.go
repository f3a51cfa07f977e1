package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

// A poller resumed from its token on a new simulator over the same data file finishes the
// operation the first one started, without sending it again.
func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	poller, err := e.clusters.BeginCreateOrUpdate(ctx, "rg", "demo", minimalCluster("westeurope", 1), nil)
	if err != nil {
		t.Fatalf("begin create: %v", err)
	}
	token, err := poller.ResumeToken()
	if err != nil {
		t.Fatalf("resume token: %v", err)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := poller.Poll(ctx); err != nil || poller.Done() {
		t.Fatalf("first poll: done=%v err=%v", poller.Done(), err)
	}

	// "Restart": close the file, reopen it, and build a new simulator and new clients on it.
	if err := e.db.Close(); err != nil {
		t.Fatalf("close db: %v", err)
	}
	db := openDB(t, e.dbPath)
	t.Cleanup(func() { _ = db.Close() })
	restarted := mustNew(t, Options{DB: db, Now: e.clock.Now})
	clusters, _ := sdkClients(t, restarted)

	resumed, err := clusters.BeginCreateOrUpdate(ctx, "", "", armcontainerservice.ManagedCluster{}, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: token})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := resumed.Poll(ctx); err != nil || resumed.Done() {
		t.Fatalf("poll before the end: done=%v err=%v", resumed.Done(), err)
	}
	e.clock.Advance(DefaultDurations.Create)
	if _, err := resumed.Poll(ctx); err != nil || !resumed.Done() {
		t.Fatalf("poll after the end: done=%v err=%v", resumed.Done(), err)
	}
	res, err := resumed.Result(ctx)
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	if deref(res.Name) != "demo" || deref(res.Properties.ProvisioningState) != "Succeeded" {
		t.Fatalf("resumed result: %s %s", deref(res.Name), deref(res.Properties.ProvisioningState))
	}
	if n := restarted.CountMutations("managedclusters"); n != 0 {
		t.Fatalf("resuming sent %d mutations, want 0", n)
	}
}

func TestInjectedFaults(t *testing.T) {
	e := newEnv(t, Options{RetryAfter: 5 * time.Millisecond})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})

	// Throttling: the pipeline retries after Retry-After and gets through.
	e.cloud.InjectStatus("/managedClusters/demo", http.StatusTooManyRequests, "Throttled", 2)
	before := len(e.cloud.Requests())
	if _, err := e.clusters.Get(ctx, "rg", "demo", nil); err != nil {
		t.Fatalf("get through throttling: %v", err)
	}
	if n := len(e.cloud.Requests()) - before; n != 3 {
		t.Fatalf("requests for one throttled GET = %d, want 3", n)
	}

	// A 500 on the first try and all three retries surfaces as a ResponseError; the injection
	// is then used up and the next request goes through.
	e.cloud.InjectStatus("/managedClusters/demo", http.StatusInternalServerError, "InternalServerError", 4)
	_, err := e.clusters.Get(ctx, "rg", "demo", nil)
	if code, status := errorCode(t, err); code != "InternalServerError" || status != http.StatusInternalServerError {
		t.Fatalf("injected 500: %s %d", code, status)
	}
	if _, err := e.clusters.Get(ctx, "rg", "demo", nil); err != nil {
		t.Fatalf("get after the injection ran out: %v", err)
	}

	// An operation made to fail ends Failed with that error, and leaves the pool Failed but usable.
	e.cloud.FailNextOperation("agentPools/np1", "QuotaExceeded", "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota.")
	pool := e.getPool("rg", "demo", "np1")
	pool.Properties.Count = to.Ptr[int32](50)
	poller, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil)
	if err != nil {
		t.Fatalf("begin scale: %v", err)
	}
	_, err = pollUntilDone(t, e, poller, 5*time.Second, 10)
	if code, _ := errorCode(t, err); code != "QuotaExceeded" {
		t.Fatalf("failed operation code = %s (%v)", code, err)
	}
	if got := deref(e.getPool("rg", "demo", "np1").Properties.ProvisioningState); got != "Failed" {
		t.Fatalf("pool state after failure = %s, want Failed", got)
	}
	// Only the next matching operation fails.
	pool = e.getPool("rg", "demo", "np1")
	pool.Properties.Count = to.Ptr[int32](2)
	poller, err = e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil)
	if err != nil {
		t.Fatalf("begin retry: %v", err)
	}
	if _, err := pollUntilDone(t, e, poller, 5*time.Second, 10); err != nil {
		t.Fatalf("retried operation: %v", err)
	}
}

func TestAbortCancelsRunningOperation(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	pool := e.getPool("rg", "demo", "np1")
	pool.Properties.Count = to.Ptr[int32](4)
	scale, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil)
	if err != nil {
		t.Fatalf("begin scale: %v", err)
	}
	abort, err := e.clusters.BeginAbortLatestOperation(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("begin abort: %v", err)
	}
	if _, err := pollUntilDone(t, e, abort, time.Second, 3); err != nil {
		t.Fatalf("abort result: %v", err)
	}
	_, err = pollUntilDone(t, e, scale, time.Second, 3)
	if code, _ := errorCode(t, err); code != "OperationCanceled" {
		t.Fatalf("aborted operation: %s (%v)", code, err)
	}
	if got := deref(e.getPool("rg", "demo", "np1").Properties.ProvisioningState); got != "Canceled" {
		t.Fatalf("pool state = %s, want Canceled", got)
	}
	// Nothing left to abort: 409, as AKS answers when the operation ended first.
	_, err = e.clusters.BeginAbortLatestOperation(ctx, "rg", "demo", nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusConflict {
		t.Fatalf("abort with nothing running: %s %d", code, status)
	}

	// A pool's abort cancels that pool's operation only; a cluster operation ends Canceled and
	// leaves the cluster Canceled.
	pool = e.getPool("rg", "demo", "np1")
	pool.Properties.Count = to.Ptr[int32](2)
	if _, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil); err != nil {
		t.Fatalf("begin scale: %v", err)
	}
	_, err = e.pools.BeginAbortLatestOperation(ctx, "rg", "demo", "system", nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusConflict {
		t.Fatalf("abort on an idle pool of a busy cluster: %s %d", code, status)
	}
	if _, err := e.pools.BeginAbortLatestOperation(ctx, "rg", "demo", "np1", nil); err != nil {
		t.Fatalf("abort the pool's operation: %v", err)
	}
	stop, err := e.clusters.BeginStop(ctx, "rg", "demo", nil)
	if err != nil {
		t.Fatalf("begin stop: %v", err)
	}
	if _, err := e.clusters.BeginAbortLatestOperation(ctx, "rg", "demo", nil); err != nil {
		t.Fatalf("abort stop: %v", err)
	}
	if _, err := pollUntilDone(t, e, stop, time.Second, 3); err == nil {
		t.Fatal("an aborted stop succeeded")
	}
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Canceled" {
		t.Fatalf("cluster state = %s, want Canceled", got)
	}
}

// Through a real TLS server, as the end-to-end tests use it.
func TestOverTLSServer(t *testing.T) {
	e := newEnv(t, Options{})
	srv := httptest.NewTLSServer(e.cloud.Handler())
	defer srv.Close()
	ctx := context.Background()
	f, err := armcontainerservice.NewClientFactory(SubscriptionID, e.cloud.Credential(), &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Transport: srv.Client(),
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: srv.URL + "/",
				Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
					cloud.ResourceManager: {Endpoint: srv.URL, Audience: "https://management.core.windows.net/"},
				},
			},
		},
	})
	if err != nil {
		t.Fatalf("client factory: %v", err)
	}
	clusters := f.NewManagedClustersClient()
	poller, err := clusters.BeginCreateOrUpdate(ctx, "rg", "tls", minimalCluster("eastus", 1), nil)
	if err != nil {
		t.Fatalf("begin create over TLS: %v", err)
	}
	token, err := poller.ResumeToken()
	if err != nil {
		t.Fatalf("resume token: %v", err)
	}
	if !strings.Contains(token, strings.TrimPrefix(srv.URL, "https://")) {
		t.Errorf("polling URL does not point at the server: %s", token)
	}
	res, err := pollUntilDone(t, e, poller, 10*time.Second, 10)
	if err != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	if deref(res.Properties.ProvisioningState) != "Succeeded" {
		t.Fatalf("state = %s", deref(res.Properties.ProvisioningState))
	}
	stop, err := clusters.BeginStop(ctx, "rg", "tls", nil)
	if err != nil {
		t.Fatalf("begin stop over TLS: %v", err)
	}
	if _, err := pollUntilDone(t, e, stop, 10*time.Second, 10); err != nil {
		t.Fatalf("stop over TLS: %v", err)
	}
}
