package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/policy"
	"github.com/aksbot/aksbot/internal/store"
)

// Two engines on one etcd, as two replicas: each with its own etcd client, store and
// coordinator, and its own SDK client to one simulated cloud.

const replicaPrefix = "/replicas-test/"

type replica struct {
	id     string
	cli    *clientv3.Client
	store  *etcdstore.Store
	coord  *etcdstore.Coordinator
	engine *jobs.Engine
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, endpoints []string, id string, cloud *sim.Cloud) *replica {
	t.Helper()
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := etcdstore.Open(ctx, cli, replicaPrefix, etcdstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	coord, err := etcdstore.NewCoordinator(ctx, cli, replicaPrefix, id, etcdstore.CoordOptions{LeaseTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: cloud.Credential(),
		Endpoint: "https://management.sim.test", Transport: cloud.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := jobs.New(jobs.Config{Store: st, Cloud: client, Reporter: &recorder{}, Policy: policy.Demo(bob.ID),
		Coordinator: coord, Watcher: st,
		PollInterval: 50 * time.Millisecond, ProgressInterval: 200 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	r := &replica{id: id, cli: cli, store: st, coord: coord, engine: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(runCtx) }()
	t.Cleanup(func() {
		r.cancel()
		<-r.done
		_ = coord.Close(context.Background())
		_ = st.Close()
		_ = cli.Close()
	})
	return r
}

func waitStored(t *testing.T, st aks.JobStore, id string, ok func(aks.Job) bool, what string) aks.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		job, err := st.Job(context.Background(), id)
		if err == nil && ok(job) {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %s not seen within 30s (last: %+v, %v)", id, what, job, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicasHandOverALaneAndFenceTheDeposedOwner: a job requested through one replica runs
// on the lane's owner; when the owner's lease is revoked under it (as when it is paused past
// its TTL), the other replica takes the running job over from its resume token, a write the
// old owner makes with its old fence is refused and stores nothing, and the pool is changed
// once.
func TestReplicasHandOverALaneAndFenceTheDeposedOwner(t *testing.T) {
	etcd := etcdtest.Start(t)
	simFile, err := store.Open(filepath.Join(t.TempDir(), "sim.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = simFile.Close() })
	d := 3 * time.Second
	cloud, err := sim.New(sim.Options{DB: simFile.DB(), RetryAfter: -1,
		Durations: sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Seed(context.Background(), "rg-aks", "demo", "westeurope",
		sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2},
		sim.SeedPool{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 3}); err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, etcd.Endpoints(), "r-a", cloud)
	b := startReplica(t, etcd.Endpoints(), "r-b", cloud)
	byID := map[string]*replica{a.id: a, b.id: b}

	// A scale-down needs no approval: it is queued at once, through replica a.
	job, err := a.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("np2", 1), Requester: alice, Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	running := waitStored(t, a.store, job.ID, func(j aks.Job) bool { return j.ResumeToken != "" }, "running with a resume token")
	owner := byID[running.Replica]
	if owner == nil {
		t.Fatalf("running job names replica %q, want one of r-a, r-b", running.Replica)
	}
	other := a
	if owner == a {
		other = b
	}

	// The lane key is what fences the owner's writes: take its fence, then revoke the owner's
	// lease from outside, as etcd does when the owner stops answering for longer than the TTL.
	laneKey := replicaPrefix + "lanes/" + running.Op.Target.ClusterKey()
	resp, err := other.cli.Get(context.Background(), laneKey)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != owner.id {
		t.Fatalf("lane key %s: %+v, %v; want it owned by %s", laneKey, resp, err, owner.id)
	}
	oldFence := aks.Fence{Key: "lanes/" + running.Op.Target.ClusterKey(), Revision: resp.Kvs[0].CreateRevision}
	if _, err := other.cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}

	taken := waitStored(t, other.store, job.ID, func(j aks.Job) bool { return j.Replica == other.id }, "taken over by "+other.id)
	stale := taken
	stale.ProvisioningState = "written by the deposed owner"
	_, err = owner.store.UpdateJob(aks.WithFence(context.Background(), oldFence), stale, &aks.Event{Kind: aks.EventProgress, Message: "stale"})
	if !errors.Is(err, aks.ErrFenced) {
		t.Fatalf("a write with the deposed owner's fence: %v, want aks.ErrFenced", err)
	}

	final := waitStored(t, other.store, job.ID, func(j aks.Job) bool { return j.State.Final() && j.FinalReported }, "ended and reported")
	if final.State != aks.StateSucceeded {
		t.Fatalf("job ended %s (%+v), want succeeded", final.State, final.Error)
	}
	evs, err := other.store.Events(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []aks.EventKind
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
		if ev.Message == "stale" {
			t.Errorf("the deposed owner's event was stored: %+v", ev)
		}
		if ev.Kind == aks.EventSucceeded && ev.Replica != other.id {
			t.Errorf("the end was stored by %q, want the new owner %s", ev.Replica, other.id)
		}
	}
	if got := countKind(evs, aks.EventResumed); got != 1 {
		t.Errorf("events %v: %d resumed, want 1 (the takeover)", kinds, got)
	}
	if got := countKind(evs, aks.EventSucceeded); got != 1 {
		t.Errorf("events %v: %d succeeded, want 1", kinds, got)
	}
	if n := cloud.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("pool np2 was changed %d times in Azure, want once", n)
	}
}

func countKind(evs []aks.Event, k aks.EventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}
