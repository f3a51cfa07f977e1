package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// The crash-window tests kill the bot at one precise point and start a new one on the same data
// file. A process that dies does nothing more: from the crash point on, the dying engine's
// writes, Azure calls and reports all fail, exactly as if the process were gone, and then the
// engine is stopped without any chance to clean up. The new process must take every job to one
// final state, report that end once, and never send an Azure mutation twice.

var errDead = errors.New("the process is dead")

// crashPoint decides when the process dies, and is then dead for good.
type crashPoint struct {
	dead atomic.Bool
	// after is called after each successful store write ("create" or "update"); returning true
	// kills the process right after that write.
	after func(what string, job aks.Job, ev *aks.Event) bool
	// afterBegin kills the process right after Azure accepted a request, before anything else.
	afterBegin bool
	// afterDone kills the process when a poll says the operation ended, before the engine hears.
	afterDone bool
	// onDeath, when set, runs as the process dies (a test stops the cloud's clock there).
	onDeath func()
}

func (c *crashPoint) die() {
	if !c.dead.Swap(true) && c.onDeath != nil {
		c.onDeath()
	}
}

// waitDead waits until the process reached its crash point.
func (c *crashPoint) waitDead(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !c.dead.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the crash point was never reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *crashPoint) check() error {
	if c.dead.Load() {
		return errDead
	}
	return nil
}

type dyingStore struct {
	jobs.Store
	c *crashPoint
}

func (s dyingStore) CreateJob(ctx context.Context, job aks.Job, ev aks.Event) (aks.Job, error) {
	if err := s.c.check(); err != nil {
		return aks.Job{}, err
	}
	stored, err := s.Store.CreateJob(ctx, job, ev)
	if err == nil && s.c.after != nil && s.c.after("create", stored, &ev) {
		s.c.die()
	}
	return stored, err
}

func (s dyingStore) UpdateJob(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	if err := s.c.check(); err != nil {
		return aks.Job{}, err
	}
	stored, err := s.Store.UpdateJob(ctx, job, ev)
	if err == nil && s.c.after != nil && s.c.after("update", stored, ev) {
		s.c.die()
	}
	return stored, err
}

func (s dyingStore) SetRef(ctx context.Context, jobID, name, value string) error {
	if err := s.c.check(); err != nil {
		return err
	}
	return s.Store.SetRef(ctx, jobID, name, value)
}

type dyingCloud struct {
	jobs.Cloud
	c *crashPoint
}

func (d dyingCloud) Plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	if err := d.c.check(); err != nil {
		return aks.Plan{}, err
	}
	return d.Cloud.Plan(ctx, op)
}

func (d dyingCloud) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, token string) (jobs.Operation, error) {
	if err := d.c.check(); err != nil {
		return nil, err
	}
	o, err := d.Cloud.Begin(ctx, op, plan, token)
	if err == nil && d.c.afterBegin {
		d.c.die()
		return nil, errDead
	}
	return dyingOp{o, d.c}, err
}

func (d dyingCloud) Resume(ctx context.Context, op aks.Operation, token string) (jobs.Operation, error) {
	if err := d.c.check(); err != nil {
		return nil, err
	}
	o, err := d.Cloud.Resume(ctx, op, token)
	return dyingOp{o, d.c}, err
}

func (d dyingCloud) ProvisioningState(ctx context.Context, t aks.Target) (string, error) {
	if err := d.c.check(); err != nil {
		return "", err
	}
	return d.Cloud.ProvisioningState(ctx, t)
}

func (d dyingCloud) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	if err := d.c.check(); err != nil {
		return false, err
	}
	return d.Cloud.Applied(ctx, op, plan)
}

// Replays passes the cloud's answer on, so that a dying EKS adapter still replays.
func (d dyingCloud) Replays(op aks.Operation) bool {
	r, ok := d.Cloud.(aks.Replayer)
	return ok && r.Replays(op)
}

type dyingOp struct {
	jobs.Operation
	c *crashPoint
}

func (o dyingOp) Poll(ctx context.Context) (bool, time.Duration, error) {
	if err := o.c.check(); err != nil {
		return false, 0, err
	}
	done, ra, err := o.Operation.Poll(ctx)
	if done && o.c.afterDone {
		o.c.die()
		return false, 0, errDead
	}
	return done, ra, err
}

func (o dyingOp) Result(ctx context.Context) error {
	if err := o.c.check(); err != nil {
		return err
	}
	return o.Operation.Result(ctx)
}

type dyingReporter struct {
	jobs.Reporter
	c *crashPoint
}

func (r dyingReporter) Report(ctx context.Context, job aks.Job, ev aks.Event) error {
	if err := r.c.check(); err != nil {
		return err
	}
	return r.Reporter.Report(ctx, job, ev)
}

func dying(c *crashPoint) func(*jobs.Config) {
	return func(cfg *jobs.Config) {
		cfg.Store = dyingStore{cfg.Store, c}
		cfg.Cloud = dyingCloud{cfg.Cloud, c}
		cfg.Reporter = dyingReporter{cfg.Reporter, c}
	}
}

func onEvent(kind aks.EventKind) func(string, aks.Job, *aks.Event) bool {
	return func(_ string, _ aks.Job, ev *aks.Event) bool { return ev != nil && ev.Kind == kind }
}

func TestCrashWindows(t *testing.T) {
	create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "fresh"}, Location: "westeurope", NodeCount: new(2)}
	cases := []struct {
		name  string
		crash *crashPoint
		op    aks.Operation
		// settle: let Azure finish the operation before the new process starts, so that it
		// finds the resource at rest rather than busy.
		settle bool
	}{
		{name: "1 stored, not yet sent (queued)", op: scale("sys", 1),
			crash: &crashPoint{after: func(what string, _ aks.Job, _ *aks.Event) bool { return what == "create" }}},
		{name: "1 stored as sending, request not sent", op: scale("sys", 1), crash: &crashPoint{after: onEvent(aks.EventSending)}},
		{name: "2 sent, token not stored, Azure still busy", op: scale("sys", 1), crash: &crashPoint{afterBegin: true}},
		{name: "2 sent, token not stored, Azure done", op: scale("sys", 1), crash: &crashPoint{afterBegin: true}, settle: true},
		{name: "2 create sent, token not stored", op: create, crash: &crashPoint{afterBegin: true}},
		{name: "2 create sent, token not stored, Azure done", op: create, crash: &crashPoint{afterBegin: true}, settle: true},
		{name: "3 polling", op: scale("sys", 1), crash: &crashPoint{after: onEvent(aks.EventStarted)}},
		{name: "4 Azure finished, end not stored", op: scale("sys", 1), crash: &crashPoint{afterDone: true}},
		{name: "4 end stored, not reported", op: scale("sys", 1), crash: &crashPoint{after: onEvent(aks.EventSucceeded)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, rec := filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}
			crash := tc.crash
			h := start(t, path, rec, slowScale(), dying(crash))
			h.seed()
			job := h.submit(tc.op, alice)
			if job.State == aks.StateAwaitingApproval {
				if _, err := h.engine.Decide(context.Background(), job.ID, bob, true, ""); err != nil {
					t.Fatalf("approve: %v", err)
				}
			}
			crash.waitDead(t)
			deadline := time.Now().Add(15 * time.Second)
			if tc.settle {
				for time.Now().Before(deadline) {
					state, err := h.cloud.ProvisioningState(context.Background(), tc.op.Target)
					if err == nil && !aks.InProgress(state) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			sent := h.sim.CountMutations("/resourceGroups/")
			h.stop()

			h2 := start(t, path, rec, slowScale())
			done := h2.waitState(job.ID, aks.StateSucceeded)
			if total := sent + h2.sim.CountMutations("/resourceGroups/"); total != 1 {
				t.Errorf("%d Azure mutations in total (%d before the crash), want exactly 1", total, sent)
			}
			if n := rec.count(job.ID, aks.EventSucceeded); n != 1 {
				t.Errorf("the end was reported %d times, want once", n)
			}
			if !done.FinalReported {
				t.Error("the final report is not recorded as delivered")
			}
			c, err := h2.cloud.GetCluster(context.Background(), "rg-aks", tc.op.Target.Cluster)
			if err != nil {
				t.Fatalf("read the cluster after the job: %v", err)
			}
			if tc.op.Kind == aks.OpPoolScale {
				if p, _ := c.Pool("sys"); p.Count != 1 {
					t.Errorf("sys has %d nodes, want 1", p.Count)
				}
			}
		})
	}
}

// readOnlyStore is a data file that can be read but no longer written (disk full, read-only).
type readOnlyStore struct{ jobs.Store }

func (readOnlyStore) CreateJob(context.Context, aks.Job, aks.Event) (aks.Job, error) {
	return aks.Job{}, errors.New("write aksbot.db: no space left on device")
}

func TestUnwritableDataFileRefusesTheCommand(t *testing.T) {
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast(), func(c *jobs.Config) {
		c.Store = readOnlyStore{c.Store}
	})
	h.seed()
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("sys", 1), Requester: alice, Channel: "C1"})
	var ae *aks.Error
	if !errors.As(err, &ae) || ae.Code != aks.EUnavailable || !strings.Contains(ae.Message, "nothing was sent to Azure") || !strings.Contains(ae.Hint, "data file") {
		t.Fatalf("submit with an unwritable data file: %v, want a clear refusal", err)
	}
	time.Sleep(200 * time.Millisecond) // give a wrongly started lane the time to send something
	if n := h.sim.CountMutations("/resourceGroups/"); n != 0 {
		t.Errorf("%d Azure mutations for a job that could not be stored", n)
	}
}

func TestBusyBackoffGrowsToItsCeiling(t *testing.T) {
	b := jobs.NewBackoffForTest(10*time.Second, 30*time.Second)
	var got []time.Duration
	for range 5 {
		got = append(got, b())
	}
	want := []time.Duration{10 * time.Second, 15 * time.Second, 22500 * time.Millisecond, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
}

// A queued job whose change another job already made ends succeeded, without a request.
func TestQueuedJobAlreadyDoneSucceedsWithoutARequest(t *testing.T) {
	h := newHarness(t)
	h.seed()
	first := h.submit(scale("sys", 1), alice)
	second := h.submit(scale("sys", 1), alice)
	h.waitState(first.ID, aks.StateSucceeded)
	done := h.waitState(second.ID, aks.StateSucceeded)
	if n := h.sim.CountMutations("agentPools/sys"); n != 1 {
		t.Errorf("%d changes of sys sent, want 1", n)
	}
	if !done.StartedAt.IsZero() || done.Sent {
		t.Errorf("the second job was sent to Azure: %+v", done)
	}
	if msgs := h.rec.messages(second.ID, aks.EventSucceeded); len(msgs) != 1 || !strings.Contains(msgs[0], "without a request") {
		t.Errorf("second job's end: %q", msgs)
	}
}
