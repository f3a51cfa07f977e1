// Package storetest is the contract every backend of the store ports (package aks) must keep:
// the bbolt file (package store) and etcd (package etcdstore) run the same cases, so that the
// engine may use either without knowing which.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// Backend is one opened store, as the ports it implements.
type Backend struct {
	Jobs   aks.JobStore
	Audit  aks.AuditStore
	Claims aks.Claims
	Cache  aks.Cache
	Watch  aks.JobWatcher
	// Outbox, when set, runs the outbox cases; nil skips them (a backend without an outbox yet).
	Outbox aks.OutboxStore
	// Schedules keeps the schedules. Required.
	Schedules aks.ScheduleStore

	// Fences, when set, says the backend checks fences and runs the fence cases with these
	// keys; nil says the backend ignores fences (one process), which the suite checks too.
	Fences Fences
	// Replica, when set, opens another handle on the same data with its own connection, as a
	// second replica would; changes written through it must reach WatchJobs of the first.
	Replica func(t *testing.T) Backend
	// NewerSchema makes the data look written by a newer aksbot and returns the error of
	// opening it again, which must match aks.ErrNewerSchema. Required.
	NewerSchema func(t *testing.T) error
	// ClaimTTL is the claim lifetime the claim case uses: short, but one the backend honours
	// (etcd leases count whole seconds). Zero means 200ms.
	ClaimTTL time.Duration
}

// Fences creates and removes fence keys, for the fence cases.
type Fences interface {
	// Acquire creates key (relative to the backend's prefix) and returns the fence it gives.
	Acquire(t *testing.T, key string) aks.Fence
	// Delete removes key.
	Delete(t *testing.T, key string)
}

// Run runs the contract on backends made by open, one fresh (empty) backend per case.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"DenseIDsUnderConcurrency", testDenseIDs},
		{"CompareAndSwap", testCAS},
		{"Fences", testFences},
		{"OrderAndLimit", testOrderAndLimit},
		{"Filters", testFilters},
		{"Events", testEvents},
		{"Refs", testRefs},
		{"Audit", testAudit},
		{"Outbox", testOutbox},
		{"OutboxAtomicEnqueue", testOutboxAtomic},
		{"Claims", testClaims},
		{"Schedules", testSchedules},
		{"Cache", testCache},
		{"WatchJobs", testWatch},
		{"NewerSchema", testNewerSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newJob is a queued job on cluster rg/name asked for by user.
func newJob(cluster, user string) aks.Job {
	rg, name, _ := cut(cluster)
	now := time.Now().UTC().Truncate(time.Millisecond)
	return aks.Job{
		State:     aks.StateQueued,
		Op:        aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: rg, Cluster: name, Pool: "np1"}},
		Plan:      aks.Plan{Summary: "np1: 1 -> 2 nodes", Subscription: "sub-1"},
		Requester: aks.User{ID: user, Name: user + "-name"},
		Channel:   "C1",
		CreatedAt: now,
		UpdatedAt: now,
		Rule:      "rule-1",
	}
}

func cut(cluster string) (string, string, bool) {
	for i := range len(cluster) {
		if cluster[i] == '/' {
			return cluster[:i], cluster[i+1:], true
		}
	}
	return cluster, cluster, false
}

func created(msg string) aks.Event {
	return aks.Event{At: time.Now().UTC(), Kind: aks.EventCreated, To: aks.StateQueued, Message: msg}
}

func mustCreate(t *testing.T, b Backend, job aks.Job) aks.Job {
	t.Helper()
	j, err := b.Jobs.CreateJob(ctxFor(t), job, created("made"))
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

// transition moves job to state with an event of kind.
func transition(ctx context.Context, b Backend, job aks.Job, state aks.JobState, kind aks.EventKind) (aks.Job, error) {
	ev := &aks.Event{At: time.Now().UTC(), Kind: kind, From: job.State, To: state, Message: string(kind)}
	job.State = state
	return b.Jobs.UpdateJob(ctx, job, ev)
}

func ids(jobs []aks.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func num(t *testing.T, id string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		t.Fatalf("job ID %q is not a decimal number", id)
	}
	return n
}

func testCreateAndRead(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	in := newJob("rg/demo", "U1")
	j, err := b.Jobs.CreateJob(ctx, in, created("made"))
	if err != nil {
		t.Fatal(err)
	}
	if j.ID == "" || j.Version != 1 {
		t.Fatalf("created job has ID %q version %d, want an ID and version 1", j.ID, j.Version)
	}
	got, err := b.Jobs.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != j.ID || got.Version != 1 || got.State != aks.StateQueued || got.Requester != in.Requester ||
		got.Op.Target != in.Op.Target || !got.CreatedAt.Equal(in.CreatedAt) || got.Plan.Summary != in.Plan.Summary {
		t.Fatalf("read back %+v, stored %+v", got, j)
	}
	if _, err := b.Jobs.Job(ctx, "999999"); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("unknown job: err %v, want ErrNotFound", err)
	}
	if _, err := b.Jobs.Job(ctx, "0"+j.ID); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("non-canonical ID: err %v, want ErrNotFound", err)
	}
}

func testDenseIDs(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	const workers, each = 8, 5
	var mu sync.Mutex
	var got []uint64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				j, err := b.Jobs.CreateJob(ctx, newJob("rg/c"+strconv.Itoa(w%3), "U"+strconv.Itoa(i)), created("made"))
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.ParseUint(j.ID, 10, 64)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent CreateJob: %v", err)
	}
	slices.Sort(got)
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("IDs are not dense and unique: %v", got)
		}
	}
	all, err := b.Jobs.Jobs(ctx, aks.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != workers*each {
		t.Fatalf("Jobs returned %d jobs, want %d", len(all), workers*each)
	}
	for i := 1; i < len(all); i++ {
		if num(t, all[i].ID) <= num(t, all[i-1].ID) {
			t.Fatalf("Jobs not oldest first: %v", ids(all))
		}
	}
	// A later job gets a higher ID than every earlier one.
	j := mustCreate(t, b, newJob("rg/demo", "U1"))
	if num(t, j.ID) != got[len(got)-1]+1 {
		t.Fatalf("next job got ID %s after %d", j.ID, got[len(got)-1])
	}
}

func testCAS(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	j := mustCreate(t, b, newJob("rg/demo", "U1"))
	for round := range 5 {
		var wins, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				c := j
				c.ProvisioningState = fmt.Sprintf("writer-%d-%d", round, w)
				_, err := b.Jobs.UpdateJob(ctx, c, &aks.Event{Kind: aks.EventProgress, Message: c.ProvisioningState})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, aks.ErrConflict):
					conflicts++
				default:
					t.Errorf("UpdateJob: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: two writers of version %d: %d won, %d conflicted; want exactly one each", round, j.Version, wins, conflicts)
		}
		var err error
		if j, err = b.Jobs.Job(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if j.Version != int64(round)+2 {
			t.Fatalf("version %d after %d updates", j.Version, round+1)
		}
	}
	evs, err := b.Jobs.Events(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 {
		t.Fatalf("%d events after 1 create and 5 won updates, want 6 (a lost write must store no event)", len(evs))
	}
	stale := j
	stale.Version--
	if _, err := b.Jobs.UpdateJob(ctx, stale, nil); !errors.Is(err, aks.ErrConflict) {
		t.Fatalf("stale version: err %v, want ErrConflict", err)
	}
	ghost := j
	ghost.ID = "999999"
	if _, err := b.Jobs.UpdateJob(ctx, ghost, nil); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("unknown job: err %v, want ErrNotFound", err)
	}
}

func testFences(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	j := mustCreate(t, b, newJob("rg/demo", "U1"))
	if b.Fences == nil {
		// One process: a fence names nothing that could be lost, and is ignored.
		fctx := aks.WithFence(ctx, aks.Fence{Key: "lanes/rg/demo", Revision: 12345})
		if _, err := transition(fctx, b, j, aks.StateRunning, aks.EventSending); err != nil {
			t.Fatalf("a backend that ignores fences refused a fenced write: %v", err)
		}
		return
	}
	key := "lanes/rg/demo"
	f := b.Fences.Acquire(t, key)
	fctx := aks.WithFence(ctx, f)
	j, err := transition(fctx, b, j, aks.StateRunning, aks.EventSending)
	if err != nil {
		t.Fatalf("write under a fence that holds: %v", err)
	}
	// A stale version under a fence that holds is a conflict, not a lost fence.
	stale := j
	stale.Version--
	if _, err := b.Jobs.UpdateJob(fctx, stale, nil); !errors.Is(err, aks.ErrConflict) || errors.Is(err, aks.ErrFenced) {
		t.Fatalf("stale version under a holding fence: err %v, want ErrConflict", err)
	}

	b.Fences.Delete(t, key)
	if _, err := transition(fctx, b, j, aks.StateSucceeded, aks.EventSucceeded); !errors.Is(err, aks.ErrFenced) {
		t.Fatalf("write after the fence key was deleted: err %v, want ErrFenced", err)
	}
	f2 := b.Fences.Acquire(t, key) // recreated: another owner, a new creation revision
	if f2.Revision == f.Revision {
		t.Fatalf("recreated fence key has the same revision %d", f.Revision)
	}
	if _, err := transition(fctx, b, j, aks.StateSucceeded, aks.EventSucceeded); !errors.Is(err, aks.ErrFenced) {
		t.Fatalf("write after the fence key was recreated: err %v, want ErrFenced", err)
	}
	got, err := b.Jobs.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != j.Version || got.State != aks.StateRunning {
		t.Fatalf("a fenced write changed the job: %+v", got)
	}
	evs, err := b.Jobs.Events(ctx, j.ID)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events after refused writes: %d, %v; want 2", len(evs), err)
	}
	if _, err := transition(aks.WithFence(ctx, f2), b, j, aks.StateSucceeded, aks.EventSucceeded); err != nil {
		t.Fatalf("write under the new owner's fence: %v", err)
	}
	if b.Outbox != nil {
		err := b.Outbox.UpdateOutbox(fctx, j.ID, func(tx aks.OutboxTx) error {
			tx.SetState([]byte("x"))
			return nil
		})
		if !errors.Is(err, aks.ErrFenced) {
			t.Fatalf("outbox write under a lost fence: err %v, want ErrFenced", err)
		}
		if st, _, err := b.Outbox.OutboxState(ctx, j.ID); err != nil || st != nil {
			t.Fatalf("a fenced outbox write stored state %q (%v)", st, err)
		}
	}
}

func testOrderAndLimit(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	var made []string
	for range 5 {
		made = append(made, mustCreate(t, b, newJob("rg/demo", "U1")).ID)
	}
	all, err := b.Jobs.Jobs(ctx, aks.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(all), made) {
		t.Fatalf("Jobs = %v, want oldest first %v", ids(all), made)
	}
	last, err := b.Jobs.Jobs(ctx, aks.Filter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(last), made[3:]) {
		t.Fatalf("Limit 2 = %v, want the newest two oldest first %v", ids(last), made[3:])
	}
	active, err := b.Jobs.Jobs(ctx, aks.Filter{States: []aks.JobState{aks.StateQueued}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(active), made[2:]) {
		t.Fatalf("queued, Limit 3 = %v, want %v", ids(active), made[2:])
	}
	if _, err := b.Jobs.Jobs(ctx, aks.Filter{Limit: -1}); err == nil {
		t.Fatal("a negative limit was accepted")
	}
}

func testFilters(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	a1 := mustCreate(t, b, newJob("rg/a", "U1"))
	a2 := mustCreate(t, b, newJob("RG/A", "U2")) // cluster keys are case-insensitive
	b1 := mustCreate(t, b, newJob("rg/b", "U1"))
	b2 := mustCreate(t, b, newJob("rg/b", "U2"))
	a2, err := transition(ctx, b, a2, aks.StateRunning, aks.EventSending)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transition(ctx, b, b2, aks.StateSucceeded, aks.EventSucceeded); err != nil {
		t.Fatal(err)
	}
	unfinished := []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}
	for _, c := range []struct {
		f    aks.Filter
		want []string
	}{
		{aks.Filter{States: unfinished}, []string{a1.ID, a2.ID, b1.ID}},
		{aks.Filter{States: unfinished, ClusterKey: "rg/a"}, []string{a1.ID, a2.ID}},
		{aks.Filter{States: unfinished, ClusterKey: "rg/b"}, []string{b1.ID}},
		{aks.Filter{States: []aks.JobState{aks.StateRunning}}, []string{a2.ID}},
		{aks.Filter{States: []aks.JobState{aks.StateSucceeded}}, []string{b2.ID}},
		{aks.Filter{ClusterKey: "rg/b"}, []string{b1.ID, b2.ID}},
		{aks.Filter{Requester: "U1"}, []string{a1.ID, b1.ID}},
		{aks.Filter{States: unfinished, Requester: "U2"}, []string{a2.ID}},
		{aks.Filter{States: []aks.JobState{aks.StateQueued, aks.StateSucceeded}}, []string{a1.ID, b1.ID, b2.ID}},
		{aks.Filter{ClusterKey: "rg/none"}, nil},
	} {
		got, err := b.Jobs.Jobs(ctx, c.f)
		if err != nil {
			t.Fatalf("Jobs(%+v): %v", c.f, err)
		}
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("Jobs(%+v) = %v, want %v", c.f, ids(got), c.want)
		}
	}
	// A job that ends leaves the unfinished jobs.
	if _, err := transition(ctx, b, a2, aks.StateFailed, aks.EventFailed); err != nil {
		t.Fatal(err)
	}
	got, err := b.Jobs.Jobs(ctx, aks.Filter{States: unfinished, ClusterKey: "rg/a"})
	if err != nil || !slices.Equal(ids(got), []string{a1.ID}) {
		t.Fatalf("unfinished on rg/a after a2 failed: %v, %v; want [%s]", ids(got), err, a1.ID)
	}
}

func testEvents(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	j := mustCreate(t, b, newJob("rg/demo", "U1"))
	ev := &aks.Event{At: time.Now().UTC(), Kind: aks.EventSending, From: aks.StateQueued, To: aks.StateRunning, Message: "sending"}
	j.State = aks.StateRunning
	j, err := b.Jobs.UpdateJob(ctx, j, ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 2 || ev.JobID != j.ID {
		t.Fatalf("UpdateJob set the event's seq %d, job %q; want 2, %s", ev.Seq, ev.JobID, j.ID)
	}
	j.ResumeToken = "tok"
	if j, err = b.Jobs.UpdateJob(ctx, j, nil); err != nil { // no event
		t.Fatal(err)
	}
	if j, err = transition(ctx, b, j, aks.StateSucceeded, aks.EventSucceeded); err != nil {
		t.Fatal(err)
	}
	if j.Version != 4 {
		t.Fatalf("version %d after 3 updates", j.Version)
	}
	evs, err := b.Jobs.Events(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []aks.EventKind
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.JobID != j.ID {
			t.Fatalf("event %d has seq %d job %q", i, e.Seq, e.JobID)
		}
		kinds = append(kinds, e.Kind)
	}
	if want := []aks.EventKind{aks.EventCreated, aks.EventSending, aks.EventSucceeded}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if _, err := b.Jobs.Events(ctx, "999999"); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("events of an unknown job: err %v, want ErrNotFound", err)
	}
}

func testRefs(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	j := mustCreate(t, b, newJob("rg/demo", "U1"))
	refs, err := b.Jobs.Refs(ctx, j.ID)
	if err != nil || len(refs) != 0 {
		t.Fatalf("refs of a new job: %v, %v", refs, err)
	}
	for _, r := range [][2]string{{"parent", "1.1"}, {"status", "2.2"}, {"parent", "3.3"}} {
		if err := b.Jobs.SetRef(ctx, j.ID, r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	refs, err = b.Jobs.Refs(ctx, j.ID)
	if err != nil || len(refs) != 2 || refs["parent"] != "3.3" || refs["status"] != "2.2" {
		t.Fatalf("refs %v, %v; want parent=3.3 status=2.2", refs, err)
	}
	if err := b.Jobs.SetRef(ctx, "999999", "parent", "x"); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("ref of an unknown job: err %v, want ErrNotFound", err)
	}
	if _, err := b.Jobs.Refs(ctx, "999999"); !errors.Is(err, aks.ErrNotFound) {
		t.Fatalf("refs of an unknown job: err %v, want ErrNotFound", err)
	}
}

func testAudit(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	j := mustCreate(t, b, newJob("rg/a", "U1"))
	approver := aks.User{ID: "U9", Name: "boss"}
	ev := &aks.Event{At: time.Now().UTC(), Kind: aks.EventApproved, Actor: approver, Message: "approved"}
	if _, err := b.Jobs.UpdateJob(ctx, j, ev); err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditRefused, User: aks.User{ID: "U3"},
		Target: aks.Target{ResourceGroup: "rg", Cluster: "b"}, Detail: "not allowed"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Audit.AppendAudit(ctx, aks.AuditRecord{}); err == nil {
		t.Fatal("a record without an action was appended")
	}
	all, err := b.Audit.Audit(ctx, aks.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []aks.AuditAction
	for i, r := range all {
		actions = append(actions, r.Action)
		if i > 0 && r.Seq <= all[i-1].Seq {
			t.Fatalf("audit Seq not increasing: %d after %d", r.Seq, all[i-1].Seq)
		}
	}
	if want := []aks.AuditAction{aks.AuditRequested, aks.AuditAction(aks.EventApproved), aks.AuditRefused}; !slices.Equal(actions, want) {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
	req := all[0]
	if req.User != j.Requester || req.JobID != j.ID || req.Target != j.Op.Target || req.Rule != "rule-1" ||
		req.Plan != j.Plan.Summary || req.Subscription != "sub-1" || req.State != aks.StateQueued || req.Channel != "C1" {
		t.Fatalf("requested record %+v does not describe job %+v", req, j)
	}
	if all[1].User != approver || all[1].JobID != j.ID || all[1].Detail != "approved" {
		t.Fatalf("approved record %+v", all[1])
	}
	if all[2].At.IsZero() {
		t.Fatal("AppendAudit left a zero time")
	}

	got, err := b.Audit.Audit(ctx, aks.AuditFilter{ClusterKey: "rg/b"})
	if err != nil || len(got) != 1 || got[0].Action != aks.AuditRefused {
		t.Fatalf("audit of rg/b: %+v, %v", got, err)
	}
	got, err = b.Audit.Audit(ctx, aks.AuditFilter{Limit: 2})
	if err != nil || len(got) != 2 || got[0].Seq != all[1].Seq || got[1].Seq != all[2].Seq {
		t.Fatalf("audit Limit 2: %+v, %v; want the newest two, oldest first", got, err)
	}
	future := time.Now().Add(time.Hour)
	if got, err = b.Audit.Audit(ctx, aks.AuditFilter{Since: future}); err != nil || len(got) != 0 {
		t.Fatalf("audit since an hour ahead: %+v, %v", got, err)
	}
	if err := b.Audit.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditDecisionRefused, At: future.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, err = b.Audit.Audit(ctx, aks.AuditFilter{Since: future}); err != nil || len(got) != 1 || got[0].Action != aks.AuditDecisionRefused {
		t.Fatalf("audit since an hour ahead after a record there: %+v, %v", got, err)
	}
	// Append-only: the earlier records are as they were.
	again, err := b.Audit.Audit(ctx, aks.AuditFilter{})
	if err != nil || len(again) != 4 {
		t.Fatalf("audit after one more: %d records, %v", len(again), err)
	}
	for i := range all {
		if again[i].Seq != all[i].Seq || again[i].Action != all[i].Action || !again[i].At.Equal(all[i].At) {
			t.Fatalf("record %d changed: %+v, was %+v", i, again[i], all[i])
		}
	}
}

func testOutbox(t *testing.T, b Backend) {
	if b.Outbox == nil {
		t.Skip("the backend has no outbox yet")
	}
	ctx := ctxFor(t)
	o := b.Outbox
	enqueue := func(jobID, body string) uint64 {
		t.Helper()
		var id uint64
		err := o.UpdateOutbox(ctx, jobID, func(tx aks.OutboxTx) error {
			var err error
			if id, err = tx.NextID(); err != nil {
				return err
			}
			tx.Put(aks.OutboxEntry{ID: id, Body: []byte(body)})
			tx.SetState([]byte("state-" + jobID))
			return nil
		})
		if err != nil {
			t.Fatalf("enqueue to job %s: %v", jobID, err)
		}
		return id
	}
	a1 := enqueue("1", "a1")
	b1 := enqueue("2", "b1")
	a2 := enqueue("1", "a2")
	if !(a1 < b1 && b1 < a2) {
		t.Fatalf("entry IDs not increasing across jobs: %d %d %d", a1, b1, a2)
	}
	if n, err := o.OutboxLen(ctx); err != nil || n != 3 {
		t.Fatalf("OutboxLen %d, %v; want 3", n, err)
	}
	heads, err := o.OutboxHeads(ctx)
	if err != nil || len(heads) != 2 || heads[0].Entry.ID != a1 || heads[1].Entry.ID != b1 ||
		string(heads[0].State) != "state-1" || string(heads[1].Entry.Body) != "b1" || heads[1].Entry.JobID != "2" {
		t.Fatalf("heads %+v, %v", heads, err)
	}
	// An error from fn stores nothing.
	boom := errors.New("boom")
	if err := o.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
		tx.Delete(a1)
		tx.SetState(nil)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateOutbox returned %v, want fn's error", err)
	}
	// Deliver job 1's head: job 2's entry is now first.
	if err := o.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
		if es := tx.Entries(); len(es) != 2 || es[0].ID != a1 || es[1].ID != a2 {
			return fmt.Errorf("entries in the transaction: %+v", es)
		}
		tx.Delete(a1)
		tx.Delete(12345678) // missing: nothing
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	heads, err = o.OutboxHeads(ctx)
	if err != nil || len(heads) != 2 || heads[0].Entry.ID != b1 || heads[1].Entry.ID != a2 {
		t.Fatalf("heads after delivering %d: %+v, %v", a1, heads, err)
	}
	state, entries, err := o.OutboxState(ctx, "1")
	if err != nil || string(state) != "state-1" || len(entries) != 1 || entries[0].ID != a2 || string(entries[0].Body) != "a2" {
		t.Fatalf("OutboxState(1) = %q %+v %v", state, entries, err)
	}
	state, entries, err = o.OutboxState(ctx, "none")
	if err != nil || state != nil || len(entries) != 0 {
		t.Fatalf("OutboxState of a job without outbox = %q %+v %v", state, entries, err)
	}
}

// testOutboxAtomic: several goroutines enqueue to two jobs at once, each enqueue reading a
// counter from the job's state and adding an entry numbered by it. Without an atomic
// read-modify-write, two enqueuers read the same counter and one update is lost.
func testOutboxAtomic(t *testing.T, b Backend) {
	if b.Outbox == nil {
		t.Skip("the backend has no outbox yet")
	}
	ctx := ctxFor(t)
	const workers, each = 4, 6
	jobs := []string{"7", "8"}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				jobID := jobs[(w+i)%len(jobs)]
				err := b.Outbox.UpdateOutbox(ctx, jobID, func(tx aks.OutboxTx) error {
					n := 0
					if st := tx.State(); st != nil {
						var err error
						if n, err = strconv.Atoi(string(st)); err != nil {
							return err
						}
					}
					n++
					id, err := tx.NextID()
					if err != nil {
						return err
					}
					tx.Put(aks.OutboxEntry{ID: id, Body: []byte(strconv.Itoa(n))})
					tx.SetState([]byte(strconv.Itoa(n)))
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent UpdateOutbox: %v", err)
	}
	total := 0
	for _, jobID := range jobs {
		state, entries, err := b.Outbox.OutboxState(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		total += len(entries)
		if string(state) != strconv.Itoa(len(entries)) {
			t.Fatalf("job %s: state %q but %d entries: an update was lost", jobID, state, len(entries))
		}
		for i, e := range entries {
			if string(e.Body) != strconv.Itoa(i+1) || e.JobID != jobID || (i > 0 && e.ID <= entries[i-1].ID) {
				t.Fatalf("job %s: entry %d is %+v: entries are not in enqueue order by ID", jobID, i, e)
			}
		}
	}
	if total != workers*each {
		t.Fatalf("%d entries stored, want %d", total, workers*each)
	}
	if n, err := b.Outbox.OutboxLen(ctx); err != nil || n != total {
		t.Fatalf("OutboxLen %d, %v; want %d", n, err, total)
	}
}

func testCache(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	ttl := b.ClaimTTL
	if ttl == 0 {
		ttl = 200 * time.Millisecond
	}
	if v, ok, err := b.Cache.CacheGet(ctx, "prices/eastus"); err != nil || ok || v != nil {
		t.Fatalf("get of a key never put: %q, %v, %v; want a miss", v, ok, err)
	}
	if err := b.Cache.CachePut(ctx, "prices/eastus", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Cache.CachePut(ctx, "prices/eastus", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Cache.CacheGet(ctx, "prices/eastus"); err != nil || !ok || string(v) != "v2" {
		t.Fatalf("get after two puts: %q, %v, %v; want the second value", v, ok, err)
	}
	if err := b.Cache.CachePut(ctx, "prices/westeurope", []byte("short"), ttl); err != nil {
		t.Fatal(err)
	}
	if err := b.Cache.CachePut(ctx, "prices/none", []byte("x"), 0); err == nil {
		t.Error("a put without a positive TTL was accepted")
	}
	start := time.Now()
	for {
		_, ok, err := b.Cache.CacheGet(ctx, "prices/westeurope")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Since(start) > ttl+10*time.Second {
			t.Fatalf("cache entry still there %v after its TTL %v", time.Since(start), ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Since(start) < ttl/2 {
		t.Errorf("cache entry gone after %v, before its TTL %v", time.Since(start), ttl)
	}
}

func testClaims(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	ttl := b.ClaimTTL
	if ttl == 0 {
		ttl = 200 * time.Millisecond
	}
	first, err := b.Claims.Claim(ctx, "env/1", ttl)
	if err != nil || !first {
		t.Fatalf("first claim: %v, %v; want true", first, err)
	}
	second, err := b.Claims.Claim(ctx, "env/1", ttl)
	if err != nil || second {
		t.Fatalf("second claim: %v, %v; want false", second, err)
	}
	other, err := b.Claims.Claim(ctx, "env/2", ttl)
	if err != nil || !other {
		t.Fatalf("claim of another key: %v, %v; want true", other, err)
	}
	start := time.Now()
	time.Sleep(ttl)
	for {
		ok, err := b.Claims.Claim(ctx, "env/1", ttl)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Since(start) > ttl+10*time.Second {
			t.Fatalf("claim still held %v after its TTL %v", time.Since(start), ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitChange reads ch until a change of job id in state arrives.
func waitChange(t *testing.T, ch <-chan aks.JobChange, id string, state aks.JobState) aks.JobChange {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed before job %s %s was seen", id, state)
			}
			if c.ID == id && c.State == state {
				return c
			}
		case <-timeout:
			t.Fatalf("job %s %s not seen by the watch", id, state)
		}
	}
}

func testWatch(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	before := mustCreate(t, b, newJob("rg/demo", "U1"))
	wctx, cancel := context.WithCancel(ctx)
	ch := b.Watch.WatchJobs(wctx)
	j := mustCreate(t, b, newJob("rg/Demo", "U1"))
	c := waitChange(t, ch, j.ID, aks.StateQueued)
	if c.ClusterKey != "rg/demo" || c.Resync {
		t.Fatalf("change %+v", c)
	}
	if _, err := transition(ctx, b, before, aks.StateRunning, aks.EventSending); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, before.ID, aks.StateRunning)
	if b.Replica != nil {
		r := b.Replica(t)
		rj, err := r.Jobs.CreateJob(ctx, newJob("rg/other", "U2"), created("from the other replica"))
		if err != nil {
			t.Fatal(err)
		}
		waitChange(t, ch, rj.ID, aks.StateQueued)
		rch := r.Watch.WatchJobs(wctx)
		if _, err := transition(ctx, b, j, aks.StateCancelled, aks.EventCancelled); err != nil {
			t.Fatal(err)
		}
		waitChange(t, rch, j.ID, aks.StateCancelled)
	}
	cancel()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the watch channel was not closed after its context ended")
		}
	}
}

func testNewerSchema(t *testing.T, b Backend) {
	if b.NewerSchema == nil {
		t.Fatal("Backend.NewerSchema is required")
	}
	err := b.NewerSchema(t)
	if !errors.Is(err, aks.ErrNewerSchema) {
		t.Fatalf("opening a store of a newer schema: err %v, want ErrNewerSchema", err)
	}
}

func testSchedules(t *testing.T, b Backend) {
	ctx := ctxFor(t)
	if b.Schedules == nil {
		t.Fatal("the backend has no schedule store")
	}
	if _, err := b.Schedules.Schedule(ctx, "nightly"); !errors.Is(err, aks.ErrScheduleNotFound) {
		t.Fatalf("missing schedule: err = %v, want ErrScheduleNotFound", err)
	}
	sc := aks.Schedule{Name: "Nightly", Cron: "0 19 * * 1-5", TimeZone: "Europe/Amsterdam", Channel: "C1",
		Op: aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg", Cluster: "demo"}}}
	stored, err := b.Schedules.PutSchedule(ctx, sc)
	if err != nil || stored.Version != 1 {
		t.Fatalf("put new: version %d, err %v", stored.Version, err)
	}
	if _, err := b.Schedules.PutSchedule(ctx, sc); !errors.Is(err, aks.ErrConflict) {
		t.Fatalf("second create of the same name: err = %v, want ErrConflict", err)
	}
	got, err := b.Schedules.Schedule(ctx, "nightly") // names are case-insensitive
	if err != nil || got.Cron != sc.Cron || got.Op.Target.Cluster != "demo" || got.Version != 1 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	got.Paused = true
	updated, err := b.Schedules.PutSchedule(ctx, got)
	if err != nil || updated.Version != 2 {
		t.Fatalf("update: version %d, err %v", updated.Version, err)
	}
	if _, err := b.Schedules.PutSchedule(ctx, got); !errors.Is(err, aks.ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	if _, err := b.Schedules.PutSchedule(ctx, aks.Schedule{Name: "another", Cron: "@daily"}); err != nil {
		t.Fatal(err)
	}
	all, err := b.Schedules.Schedules(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "another" || !all[1].Paused {
		t.Fatalf("list: %+v, %v", all, err)
	}
	if err := b.Schedules.DeleteSchedule(ctx, "nightly", 1); !errors.Is(err, aks.ErrConflict) {
		t.Fatalf("stale delete: err = %v, want ErrConflict", err)
	}
	if err := b.Schedules.DeleteSchedule(ctx, "NIGHTLY", 2); err != nil {
		t.Fatal(err)
	}
	if err := b.Schedules.DeleteSchedule(ctx, "nightly", 2); !errors.Is(err, aks.ErrScheduleNotFound) {
		t.Fatalf("delete twice: err = %v, want ErrScheduleNotFound", err)
	}
	if all, _ := b.Schedules.Schedules(ctx); len(all) != 1 {
		t.Fatalf("after delete: %d schedules, want 1", len(all))
	}
}
