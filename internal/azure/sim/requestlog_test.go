package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

// The request log says how each request was answered, and which requests the cloud acted on,
// lost answers included: that is what a test needs to prove no mutation was applied twice.
func TestRequestLogRecordsStatusAndLostAnswers(t *testing.T) {
	e := newEnv(t, Options{RetryAfter: 5 * time.Millisecond})
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	body, err := json.Marshal(armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{Count: to.Ptr[int32](3)}})
	if err != nil {
		t.Fatal(err)
	}
	e.cloud.InjectStatus("agentPools/np1", http.StatusTooManyRequests, "TooManyRequests", 1)
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "injected 429", http.StatusTooManyRequests)
	e.cloud.SetFaults(Faults{Seed: 1, ServerError: 1})
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "server error", http.StatusInternalServerError)
	e.cloud.SetFaults(Faults{Seed: 1, LostResponse: 1})
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "lost response", http.StatusInternalServerError)
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "PUT while busy", http.StatusConflict)
	e.cloud.SetFaults(Faults{})
	e.do(http.MethodGet, demoPath, nil).expect(t, "GET", http.StatusOK)

	want := []struct {
		method         string
		status, served int
		lost           bool
		accepted       bool
	}{
		{http.MethodPut, http.StatusTooManyRequests, http.StatusTooManyRequests, false, false},
		{http.MethodPut, http.StatusInternalServerError, http.StatusInternalServerError, false, false},
		{http.MethodPut, http.StatusInternalServerError, http.StatusOK, true, true},
		{http.MethodPut, http.StatusConflict, http.StatusConflict, false, false},
		{http.MethodGet, http.StatusOK, http.StatusOK, false, true},
	}
	reqs := e.cloud.Requests()
	if len(reqs) < len(want) {
		t.Fatalf("%d requests logged, want at least %d", len(reqs), len(want))
	}
	reqs = reqs[len(reqs)-len(want):]
	for i, w := range want {
		r := reqs[i]
		if r.Method != w.method || r.Status != w.status || r.Served != w.served || r.Lost != w.lost || r.Accepted() != w.accepted {
			t.Errorf("request %d: %s %s status %d served %d lost %v accepted %v; want %s status %d served %d lost %v accepted %v",
				i, r.Method, r.Path, r.Status, r.Served, r.Lost, r.Accepted(), w.method, w.status, w.served, w.lost, w.accepted)
		}
	}
}

// An injected conflict refuses a mutation as a busy cluster would, and changes nothing; reads
// are never refused that way.
func TestConflictFault(t *testing.T) {
	e := newEnv(t, Options{})
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	body, err := json.Marshal(armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{Count: to.Ptr[int32](3)}})
	if err != nil {
		t.Fatal(err)
	}
	e.cloud.SetFaults(Faults{Seed: 3, Conflict: 1})
	e.do(http.MethodGet, demoPath, nil).expect(t, "GET", http.StatusOK)
	r := e.do(http.MethodPut, demoPath+"/agentPools/np1", body)
	r.expect(t, "PUT with a conflict", http.StatusConflict)
	if got := r.header.Get("x-ms-error-code"); got != "OperationNotAllowed" {
		t.Errorf("error code %q, want OperationNotAllowed", got)
	}
	if got := e.cloud.Faults(); got != (FaultCounts{Conflict: 1}) {
		t.Fatalf("counts = %+v", got)
	}
	if last := e.cloud.Requests(); last[len(last)-1].Accepted() {
		t.Error("the refused PUT is logged as accepted")
	}
	e.cloud.SetFaults(Faults{})
	p := e.getPool("rg", "demo", "np1")
	if deref(p.Properties.ProvisioningState) != "Succeeded" || deref(p.Properties.Count) != 1 {
		t.Fatalf("after a conflict the pool is %s with %d nodes, want untouched", deref(p.Properties.ProvisioningState), deref(p.Properties.Count))
	}
}

// The log keeps who sent a request (its headers, without the token) and when its answer was
// decided, so that a test with several clients can tell whose requests overlapped.
func TestRequestLogKeepsHeadersAndDone(t *testing.T) {
	e := newEnv(t, Options{})
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1})
	req := httptest.NewRequest(http.MethodGet, "https://management.azure.com"+demoPath+"?api-version=2025-02-01", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("User-Agent", "aksbot-test")
	req.Header.Set("X-Aksbot-Replica", "r2")
	e.clock.Advance(time.Second)
	rec := httptest.NewRecorder()
	e.cloud.Handler().ServeHTTP(rec, req)
	reqs := e.cloud.Requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get("x-aksbot-replica") != "r2" || last.Header.Get("User-Agent") != "aksbot-test" {
		t.Errorf("headers not kept: %v", last.Header)
	}
	if last.Header.Get("Authorization") != "" {
		t.Error("the request log keeps the bearer token")
	}
	if last.Done.IsZero() || last.Done.Before(last.At) {
		t.Errorf("Done %v, At %v: want Done at or after At", last.Done, last.At)
	}
}
