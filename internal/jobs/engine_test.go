package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/policy"
	"github.com/aksbot/aksbot/internal/store"
)

// The engine is tested against the real pieces around it: a bbolt file, the Azure SDK client,
// and the simulated cloud speaking ARM in process. Only the reporter is a recorder.

var (
	alice = aks.User{ID: "alice"}
	bob   = aks.User{ID: "bob"}
	carol = aks.User{ID: "carol"}
)

// recorder is a jobs.Reporter that keeps what it was told and can be made to fail.
type recorder struct {
	mu     sync.Mutex
	events []aks.Event
	states []aks.JobState
	fail   bool
}

func (r *recorder) Report(_ context.Context, job aks.Job, ev aks.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("transport down")
	}
	r.events = append(r.events, ev)
	r.states = append(r.states, job.State)
	return nil
}

func (r *recorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

// kinds returns the kinds of events reported for a job, in order, leaving out progress.
func (r *recorder) kinds(jobID string) []aks.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []aks.EventKind
	for _, ev := range r.events {
		if ev.JobID == jobID && ev.Kind != aks.EventProgress {
			out = append(out, ev.Kind)
		}
	}
	return out
}

func (r *recorder) count(jobID string, kind aks.EventKind) int {
	n := 0
	for _, k := range r.kinds(jobID) {
		if k == kind {
			n++
		}
	}
	return n
}

// harness is one bot process: store, simulated cloud and engine on a data file.
type harness struct {
	t      *testing.T
	path   string
	store  *store.Store
	sim    *sim.Cloud
	cloud  *azure.Client // the default subscription's
	clouds *azure.Clouds
	rec    *recorder
	engine *jobs.Engine
	cancel context.CancelFunc
	done   chan error
}

func fast() sim.Durations {
	d := 600 * time.Millisecond
	return sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}
}

func start(t *testing.T, path string, rec *recorder, durations sim.Durations, opts ...func(*jobs.Config)) *harness {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	cloud, err := sim.New(sim.Options{DB: st.DB(), Durations: durations, RetryAfter: -1})
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	client, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: cloud.Credential(),
		Endpoint: "https://management.sim.test", Transport: cloud.Transport()})
	if err != nil {
		t.Fatalf("azure client: %v", err)
	}
	// The simulated cloud hosts a second subscription; the engine serves both, dev by default.
	prod, err := azure.New(azure.Config{SubscriptionID: sim.ProdSubscriptionID, Credential: cloud.Credential(),
		Endpoint: "https://management.sim.test", Transport: cloud.Transport()})
	if err != nil {
		t.Fatalf("azure client: %v", err)
	}
	clouds, err := azure.NewClouds(sim.SubscriptionID, client, prod)
	if err != nil {
		t.Fatalf("azure clouds: %v", err)
	}
	h := &harness{t: t, path: path, store: st, sim: cloud, cloud: client, clouds: clouds, rec: rec}
	h.run(jobs.Config{Cloud: clouds, DefaultSubscription: sim.SubscriptionID, Policy: policy.Demo(bob.ID)}, opts...)
	return h
}

// run starts the engine of cfg on the harness's store and reporter, with the test timings.
func (h *harness) run(cfg jobs.Config, opts ...func(*jobs.Config)) {
	h.t.Helper()
	cfg.Store, cfg.Reporter = h.store, h.rec
	cfg.PollInterval, cfg.ProgressInterval, cfg.RetryDelay = 50*time.Millisecond, 200*time.Millisecond, 50*time.Millisecond
	cfg.BusyTimeout = 5 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	e, err := jobs.New(cfg)
	if err != nil {
		h.t.Fatalf("engine: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.engine, h.cancel, h.done = e, cancel, make(chan error, 1)
	go func() { h.done <- e.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

// stop ends the engine (as a crash would: nothing more is written after ctx is done) and
// closes the file.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("engine Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Error("engine did not stop within 10s")
	}
	_ = h.store.Close()
}

func newHarness(t *testing.T) *harness {
	return start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast())
}

func (h *harness) seed(pools ...sim.SeedPool) {
	h.t.Helper()
	if len(pools) == 0 {
		pools = []sim.SeedPool{{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2}, {Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1}}
	}
	if err := h.sim.Seed(context.Background(), "rg-aks", "demo", "westeurope", pools...); err != nil {
		h.t.Fatalf("seed: %v", err)
	}
}

func (h *harness) submit(op aks.Operation, user aks.User) aks.Job {
	h.t.Helper()
	job, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: op, Requester: user, Channel: "C1"})
	if err != nil {
		h.t.Fatalf("submit %s: %v", op.Describe(), err)
	}
	return job
}

// waitState waits until the stored job is in state (and, for final states, its end reported).
func (h *harness) waitState(id string, state aks.JobState) aks.Job {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var job aks.Job
	for time.Now().Before(deadline) {
		var err error
		job, err = h.store.Job(context.Background(), id)
		if err != nil {
			h.t.Fatalf("job %s: %v", id, err)
		}
		if job.State == state && (!state.Final() || job.FinalReported) {
			return job
		}
		if job.State.Final() && job.State != state {
			h.t.Fatalf("job %s ended %s (%+v), want %s", id, job.State, job.Error, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("job %s is %s after 20s, want %s", id, job.State, state)
	return job
}

func scale(pool string, n int) aks.Operation {
	return aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: pool}, NodeCount: &n}
}

func TestScaleUpWaitsForApprovalThenRuns(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("np2", 3), alice)
	if job.State != aks.StateAwaitingApproval || !job.NeedsApproval {
		t.Fatalf("scale-up: state %s needsApproval %v, want awaiting approval", job.State, job.NeedsApproval)
	}
	if job.Plan.Summary != "np2: 1 -> 3 nodes" {
		t.Errorf("plan summary %q", job.Plan.Summary)
	}
	if n := h.sim.CountMutations("agentPools"); n != 0 {
		t.Fatalf("%d mutations sent before approval", n)
	}

	ctx := context.Background()
	if _, err := h.engine.Decide(ctx, job.ID, alice, true, ""); aks.ErrorCode(err) != aks.EUnauthorized {
		t.Errorf("self-approval: err %v, want unauthorized", err)
	}
	if _, err := h.engine.Decide(ctx, job.ID, carol, true, ""); aks.ErrorCode(err) != aks.EUnauthorized {
		t.Errorf("approval by a non-approver: err %v, want unauthorized", err)
	}
	if j, _ := h.store.Job(ctx, job.ID); j.State != aks.StateAwaitingApproval {
		t.Fatalf("refused approvals changed the job to %s", j.State)
	}
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); aks.ErrorCode(err) != aks.EConflict {
		t.Errorf("second click: err %v, want conflict", err)
	}

	done := h.waitState(job.ID, aks.StateSucceeded)
	pool, err := h.cloud.GetCluster(ctx, "rg-aks", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := pool.Pool("np2"); p.Count != 3 {
		t.Errorf("np2 has %d nodes after the job, want 3", p.Count)
	}
	if n := h.sim.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("%d mutations of np2 sent, want exactly 1", n)
	}
	if done.ResumeToken == "" || done.StartedAt.IsZero() || done.FinishedAt.IsZero() {
		t.Errorf("finished job lacks token or times: %+v", done)
	}
	want := []aks.EventKind{aks.EventCreated, aks.EventApproved, aks.EventStarted, aks.EventSucceeded}
	if got := h.rec.kinds(job.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reported %v, want %v", got, want)
	}
	evs, err := h.store.Events(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored []aks.EventKind
	for _, ev := range evs {
		stored = append(stored, ev.Kind)
	}
	if fmt.Sprint(stored) != fmt.Sprint([]aks.EventKind{aks.EventCreated, aks.EventApproved, aks.EventSending, aks.EventStarted, aks.EventSucceeded}) {
		t.Errorf("stored events %v", stored)
	}
	if evs[1].Actor.ID != bob.ID {
		t.Errorf("approval stored with actor %q", evs[1].Actor.ID)
	}
}

func TestScaleDownRunsWithoutApproval(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("sys", 1), alice)
	if job.State != aks.StateQueued || job.NeedsApproval {
		t.Fatalf("scale-down is %s (needs approval %v), want queued without approval", job.State, job.NeedsApproval)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	c, _ := h.cloud.GetCluster(context.Background(), "rg-aks", "demo")
	if p, _ := c.Pool("sys"); p.Count != 1 {
		t.Errorf("sys has %d nodes, want 1", p.Count)
	}
}

func TestDenyEndsJobAndSendsNothing(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("np2", 5), alice)
	got, err := h.engine.Decide(context.Background(), job.ID, bob, false, "not during the freeze")
	if err != nil {
		t.Fatalf("deny: %v", err)
	}
	if got.State != aks.StateDenied {
		t.Fatalf("state %s, want denied", got.State)
	}
	h.waitState(job.ID, aks.StateDenied)
	if n := h.sim.CountMutations("managedClusters"); n != 0 {
		t.Errorf("%d mutations sent for a denied job", n)
	}
	h.rec.mu.Lock()
	last := h.rec.events[len(h.rec.events)-1]
	h.rec.mu.Unlock()
	if !strings.Contains(last.Message, "denied") || !strings.Contains(last.Message, "not during the freeze") {
		t.Errorf("denial message %q lacks the word or the reason", last.Message)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("np2", 4), alice)
	if _, err := h.engine.Cancel(context.Background(), job.ID, carol); aks.ErrorCode(err) != aks.EUnauthorized {
		t.Errorf("cancel by a stranger: %v, want unauthorized", err)
	}
	if _, err := h.engine.Cancel(context.Background(), job.ID, alice); err != nil {
		t.Fatalf("cancel by requester: %v", err)
	}
	h.waitState(job.ID, aks.StateCancelled)
	if _, err := h.engine.Decide(context.Background(), job.ID, bob, true, ""); aks.ErrorCode(err) != aks.EConflict {
		t.Errorf("approving a cancelled job: %v, want conflict", err)
	}
	if n := h.sim.CountMutations("managedClusters"); n != 0 {
		t.Errorf("%d mutations sent for a cancelled job", n)
	}
}

func TestJobsOnOneClusterRunOneAtATime(t *testing.T) {
	h := newHarness(t)
	h.seed()
	first := h.submit(scale("sys", 1), alice)
	second := h.submit(aks.Operation{Kind: aks.OpPoolAutoscale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2"}, Autoscaler: &aks.Autoscaler{Min: 1, Max: 1}}, alice)
	if second.State != aks.StateQueued {
		t.Fatalf("second job %s, want queued", second.State)
	}
	a := h.waitState(first.ID, aks.StateSucceeded)
	b := h.waitState(second.ID, aks.StateSucceeded)
	if b.StartedAt.Before(a.FinishedAt) {
		t.Errorf("second job started at %v, before the first ended at %v", b.StartedAt, a.FinishedAt)
	}
}

func TestAzureFailureIsReportedWithCodeAndHint(t *testing.T) {
	h := newHarness(t)
	h.seed()
	h.sim.FailNextOperation("agentPools/sys", "QuotaExceeded", "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota.")
	job := h.submit(scale("sys", 1), alice)
	failed := h.waitState(job.ID, aks.StateFailed)
	if failed.Error == nil || failed.Error.Code != "QuotaExceeded" || !strings.Contains(failed.Error.Message, "quota") {
		t.Fatalf("job error %+v, want Azure's QuotaExceeded with its message", failed.Error)
	}
	if !strings.Contains(failed.Error.Hint, "quota") {
		t.Errorf("hint %q does not say what to do", failed.Error.Hint)
	}
	h.rec.mu.Lock()
	last := h.rec.events[len(h.rec.events)-1]
	h.rec.mu.Unlock()
	if last.Kind != aks.EventFailed || !strings.Contains(last.Message, "failed") || !strings.Contains(last.Message, "QuotaExceeded") {
		t.Errorf("final message %q", last.Message)
	}
}

func TestPlanErrorsReachTheUserAndStoreNothing(t *testing.T) {
	h := newHarness(t)
	h.seed()
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("nope", 3), Requester: alice, Channel: "C1"})
	if aks.ErrorCode(err) != aks.ENotFound {
		t.Fatalf("scaling a missing pool: %v, want not found", err)
	}
	all, _ := h.store.Jobs(context.Background(), jobs.Filter{})
	if len(all) != 0 {
		t.Errorf("%d jobs stored for a refused command", len(all))
	}
}

func slowScale() sim.Durations {
	d := fast()
	d.Scale = 2 * time.Second
	return d
}

// startScaleDown seeds the cluster, submits a scale-down and waits until Azure has accepted it
// and its resume token is stored.
func (h *harness) startScaleDown() (aks.Job, aks.Job) {
	h.t.Helper()
	h.seed()
	job := h.submit(scale("sys", 1), alice)
	deadline := time.Now().Add(10 * time.Second)
	for {
		running, _ := h.store.Job(context.Background(), job.ID)
		if running.ResumeToken != "" {
			return job, running
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no resume token stored; job is %s", running.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A restart while Azure runs the operation: the new process resumes from the stored token,
// sends no second request, and reports the end once.
func TestResumeAfterRestart(t *testing.T) {
	path, rec, slow := filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, slowScale()
	h := start(t, path, rec, slow)
	job, _ := h.startScaleDown()
	h.stop()

	h2 := start(t, path, rec, slow)
	done := h2.waitState(job.ID, aks.StateSucceeded)
	if n := h2.sim.CountMutations("agentPools"); n != 0 {
		t.Errorf("the restarted bot sent %d mutations, want none", n)
	}
	if n := rec.count(job.ID, aks.EventSucceeded); n != 1 {
		t.Errorf("success reported %d times, want once", n)
	}
	if n := rec.count(job.ID, aks.EventResumed); n != 1 {
		t.Errorf("resume reported %d times, want once", n)
	}
	if !done.FinalReported {
		t.Error("final report not recorded")
	}
}

// The request went out but the process died before the token was stored: the new process finds
// the operation running in Azure and follows it instead of sending it again.
func TestRestartWithoutTokenAdoptsRunningOperation(t *testing.T) {
	path, rec, slow := filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, slowScale()
	h := start(t, path, rec, slow)
	job, running := h.startScaleDown()
	h.stop()

	// Forget the token, as if the crash came right after the PUT.
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	running.ResumeToken = ""
	if _, err := st.UpdateJob(context.Background(), running, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	h2 := start(t, path, rec, slow)
	h2.waitState(job.ID, aks.StateSucceeded)
	if n := h2.sim.CountMutations("agentPools"); n != 0 {
		t.Errorf("the restarted bot sent %d mutations, want none (the operation was running)", n)
	}
	if n := rec.count(job.ID, aks.EventSucceeded); n != 1 {
		t.Errorf("success reported %d times, want once", n)
	}
}

// When the transport cannot deliver the end of a job, it is delivered later, once.
func TestFinalReportIsRedelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	rec := &recorder{}
	h := start(t, path, rec, fast())
	h.seed()
	job := h.submit(scale("sys", 1), alice)
	// Let the job start, then take the transport away before it ends.
	h.waitState(job.ID, aks.StateRunning)
	rec.setFail(true)
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, _ := h.store.Job(context.Background(), job.ID)
		if j.State == aks.StateSucceeded {
			if j.FinalReported {
				t.Fatal("final report recorded as delivered while the transport was down")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("job did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.stop()
	rec.setFail(false)

	h2 := start(t, path, rec, fast())
	h2.waitState(job.ID, aks.StateSucceeded)
	if n := rec.count(job.ID, aks.EventSucceeded); n != 1 {
		t.Errorf("success reported %d times, want once", n)
	}
}

// An operation started outside the bot (portal, CLI) keeps the cluster busy: the job says so in
// its thread, waits, and runs once the cluster is free, without a refused request to Azure.
func TestWaitsForOperationStartedOutsideTheBot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	rec := &recorder{}
	slow := fast()
	slow.Scale = 1500 * time.Millisecond
	h := start(t, path, rec, slow)
	h.seed()
	ctx := context.Background()
	outside := scale("np2", 2)
	plan, err := h.cloud.Plan(ctx, outside)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cloud.Begin(ctx, outside, plan, ""); err != nil {
		t.Fatalf("start the outside operation: %v", err)
	}
	job := h.submit(scale("sys", 1), alice)
	h.waitState(job.ID, aks.StateSucceeded)
	if n := rec.count(job.ID, aks.EventBusy); n != 1 {
		t.Errorf("busy reported %d times, want once", n)
	}
	if n := h.sim.CountMutations("agentPools/sys"); n != 1 {
		t.Errorf("%d requests to change sys, want 1 (none refused while busy)", n)
	}
}
