package azure

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aksbot/aksbot/internal/azure/sim"
)

// Every ARM request of a client with ReplicaPolicy names the replica; the simulated cloud's log
// shows it.
func TestReplicaPolicyNamesTheReplica(t *testing.T) {
	e := newSimEnv(t)
	c, err := New(Config{SubscriptionID: sim.SubscriptionID, Credential: e.cloud.Credential(), Transport: e.cloud.Transport(),
		Policies: []policy.Policy{ReplicaPolicy("r2")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListClusters(context.Background(), testRG); err != nil {
		t.Fatal(err)
	}
	reqs := e.cloud.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request logged")
	}
	if got := reqs[len(reqs)-1].Header.Get(ReplicaHeader); got != "r2" {
		t.Errorf("%s = %q, want r2", ReplicaHeader, got)
	}
	if _, err := e.c.ListClusters(context.Background(), testRG); err != nil {
		t.Fatal(err)
	}
	reqs = e.cloud.Requests()
	if got := reqs[len(reqs)-1].Header.Get(ReplicaHeader); got != "" {
		t.Errorf("a client without the policy sends %s = %q", ReplicaHeader, got)
	}
}
