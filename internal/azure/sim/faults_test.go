package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

const demoPath = "/subscriptions/" + SubscriptionID + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/demo"

// faultRun sends the same requests to a fresh cloud with faults f and returns the statuses.
func faultRun(t *testing.T, f Faults) ([]int, FaultCounts) {
	t.Helper()
	e := newEnv(t, Options{RetryAfter: 5 * time.Millisecond})
	e.db.NoSync = true // hundreds of requests; durability is not under test here
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	e.cloud.SetFaults(f)
	var statuses []int
	for i := range 25 {
		r := e.do(http.MethodGet, demoPath, nil)
		statuses = append(statuses, r.status)
		if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After")
		}
		// Deleting a pool that does not exist is a mutation Azure accepts (204) and applies nothing.
		r = e.do(http.MethodDelete, fmt.Sprintf("%s/agentPools/gone%d", demoPath, i), nil)
		statuses = append(statuses, r.status)
	}
	return statuses, e.cloud.Faults()
}

func TestFaultsAreDeterministicPerSeed(t *testing.T) {
	f := Faults{Seed: 7, Throttle: 0.2, ServerError: 0.2, LostResponse: 0.3}
	a, ca := faultRun(t, f)
	b, cb := faultRun(t, f)
	if !reflect.DeepEqual(a, b) || ca != cb {
		t.Fatalf("same seed, different faults:\n%v %+v\n%v %+v", a, ca, b, cb)
	}
	if ca.Throttle == 0 || ca.ServerError == 0 || ca.LostResponse == 0 {
		t.Fatalf("50 requests at these rates injected %+v", ca)
	}
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	if count[http.StatusTooManyRequests] != ca.Throttle || count[http.StatusInternalServerError] != ca.ServerError+ca.LostResponse {
		t.Fatalf("statuses %v do not match counts %+v", count, ca)
	}
	if c, _ := faultRun(t, Faults{Seed: 8, Throttle: 0.2, ServerError: 0.2, LostResponse: 0.3}); reflect.DeepEqual(a, c) {
		t.Fatal("another seed gave the same faults")
	}
}

// A server error does nothing; a lost response does everything but answer.
func TestServerErrorAndLostResponse(t *testing.T) {
	e := newEnv(t, Options{RetryAfter: 5 * time.Millisecond})
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	body, err := json.Marshal(armcontainerservice.AgentPool{Properties: &armcontainerservice.ManagedClusterAgentPoolProfileProperties{Count: to.Ptr[int32](3)}})
	if err != nil {
		t.Fatal(err)
	}

	e.cloud.SetFaults(Faults{Seed: 1, ServerError: 1})
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "PUT with a server error", http.StatusInternalServerError)
	e.cloud.SetFaults(Faults{})
	if got := deref(e.getPool("rg", "demo", "np1").Properties.ProvisioningState); got != "Succeeded" {
		t.Fatalf("after a server error the pool is %s, want untouched", got)
	}

	e.cloud.SetFaults(Faults{Seed: 1, LostResponse: 1})
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "PUT with a lost response", http.StatusInternalServerError)
	// GETs are no mutations: they are answered.
	e.do(http.MethodGet, demoPath, nil).expect(t, "GET", http.StatusOK)
	// A refused mutation is answered as refused, not lost.
	e.do(http.MethodPut, demoPath+"/agentPools/np1", body).expect(t, "PUT while busy", http.StatusConflict)
	if got := e.cloud.Faults(); got != (FaultCounts{LostResponse: 1}) {
		t.Fatalf("counts = %+v", got)
	}
	e.cloud.SetFaults(Faults{})
	p := e.getPool("rg", "demo", "np1")
	if deref(p.Properties.ProvisioningState) != "Scaling" || deref(p.Properties.Count) != 3 {
		t.Fatalf("after a lost response the pool is %s with %d nodes, want Scaling to 3", deref(p.Properties.ProvisioningState), deref(p.Properties.Count))
	}
}

func TestStartExternal(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.seed("rg", "demo", SeedPool{Name: "system", Mode: "System", Count: 1}, SeedPool{Name: "np1", Mode: "User", Count: 1})
	if err := e.cloud.StartExternal("rg", "nope", time.Minute); err == nil {
		t.Fatal("StartExternal on a missing cluster succeeded")
	}
	if err := e.cloud.StartExternal("RG", "Demo", time.Minute); err != nil {
		t.Fatalf("StartExternal: %v", err)
	}
	if err := e.cloud.StartExternal("rg", "demo", time.Minute); err == nil {
		t.Fatal("StartExternal on a busy cluster succeeded")
	}
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Updating" {
		t.Fatalf("state during the external operation = %s", got)
	}
	pool := e.getPool("rg", "demo", "np1")
	pool.Properties.Count = to.Ptr[int32](2)
	_, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil)
	if code, status := errorCode(t, err); code != "OperationNotAllowed" || status != http.StatusConflict {
		t.Fatalf("PUT during the external operation: %s %d", code, status)
	}
	e.clock.Advance(time.Minute)
	if got := deref(e.getCluster("rg", "demo").Properties.ProvisioningState); got != "Succeeded" {
		t.Fatalf("state after the external operation = %s", got)
	}
	if _, err := e.pools.BeginCreateOrUpdate(ctx, "rg", "demo", "np1", pool, nil); err != nil {
		t.Fatalf("PUT after the external operation: %v", err)
	}
}

func TestEnsureEachFaultHappensAtLeastOnce(t *testing.T) {
	// Fractions so small that 50 requests would draw none of them.
	rare := Faults{Seed: 3, Throttle: 1e-12, ServerError: 1e-12, LostResponse: 1e-12, Conflict: 1e-12}
	if _, n := faultRun(t, rare); n != (FaultCounts{}) {
		t.Fatalf("without EnsureEach the rare faults happened: %+v", n)
	}
	rare.EnsureEach = true
	_, n := faultRun(t, rare)
	if n.Throttle != 1 || n.ServerError != 1 || n.LostResponse != 1 || n.Conflict != 1 {
		t.Errorf("with EnsureEach: %+v, want exactly one of each kind", n)
	}
	// A kind not asked for is not forced.
	_, n = faultRun(t, Faults{Seed: 3, Throttle: 1e-12, EnsureEach: true})
	if n != (FaultCounts{Throttle: 1}) {
		t.Errorf("only throttling asked for: %+v, want one throttle and nothing else", n)
	}
}
