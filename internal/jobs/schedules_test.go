package jobs_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/policy"
)

// clock is a movable clock for the engine and its scheduler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// switchPolicy is the demo policy whose Evaluate can be made to refuse, as an edited policy
// file would.
type switchPolicy struct {
	*policy.Policy
	mu     sync.Mutex
	refuse string
}

func (p *switchPolicy) Evaluate(ctx context.Context, u aks.User, ch string, op aks.Operation, plan aks.Plan) (jobs.Requirement, error) {
	p.mu.Lock()
	refuse := p.refuse
	p.mu.Unlock()
	if refuse != "" {
		return jobs.Requirement{Rule: "default"}, aks.Errorf(aks.EInvalid, "%s", refuse)
	}
	return p.Policy.Evaluate(ctx, u, ch, op, plan)
}

type schedHarness struct {
	*harness
	clock *clock
	pol   *switchPolicy
}

func startSched(t *testing.T, path string, c *clock) *schedHarness {
	pol := &switchPolicy{Policy: policy.Demo(bob.ID)}
	h := start(t, path, &recorder{}, fast(), func(cfg *jobs.Config) {
		cfg.Now, cfg.Policy = c.Now, pol
		cfg.Schedules, cfg.Claims = cfgStore(cfg), cfgStore(cfg)
		cfg.ScheduleInterval = time.Hour // the tests look for due runs themselves
	})
	return &schedHarness{harness: h, clock: c, pol: pol}
}

// cfgStore is the harness's store, which implements every port.
func cfgStore(cfg *jobs.Config) interface {
	aks.ScheduleStore
	aks.Claims
} {
	return cfg.Store.(interface {
		aks.ScheduleStore
		aks.Claims
	})
}

// addSchedule asks for a schedule as alice, has bob approve it when it needs approval, and
// waits until it is active.
func (h *schedHarness) addSchedule(name string, op aks.Operation, cron, tz string) aks.Schedule {
	h.t.Helper()
	ctx := context.Background()
	job, err := h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.ScheduleAdd, Requester: alice, Channel: "C1",
		Schedule: aks.Schedule{Name: name, Op: op, Cron: cron, TimeZone: tz}})
	if err != nil {
		h.t.Fatalf("add schedule: %v", err)
	}
	if job.State == aks.StateAwaitingApproval {
		if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil {
			h.t.Fatalf("approve: %v", err)
		}
	}
	h.waitState(job.ID, aks.StateSucceeded)
	s, err := h.store.Schedule(ctx, name)
	if err != nil {
		h.t.Fatalf("schedule %s not stored after its job succeeded: %v", name, err)
	}
	return s
}

// runs returns the jobs a schedule requested (runs and skip notices), oldest first.
func (h *schedHarness) runs(name string) []aks.Job {
	h.t.Helper()
	all, err := h.store.Jobs(context.Background(), aks.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []aks.Job
	for _, j := range all {
		if j.ScheduleRun != nil && j.ScheduleRun.Name == name {
			out = append(out, j)
		}
	}
	return out
}

func (h *schedHarness) lastMessage(id string) string {
	evs, err := h.store.Events(context.Background(), id)
	if err != nil || len(evs) == 0 {
		h.t.Fatalf("events of %s: %v", id, err)
	}
	return evs[len(evs)-1].Message
}

func stopDemo() aks.Operation {
	return aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo"}}
}

// TestScheduleFiresOnceAcrossDaylightSaving: a weekday 19:00 stop in Amsterdam runs at 18:00
// UTC on the Monday after the clocks went back (17:00 UTC the Friday before), once.
func TestScheduleFiresOnceAcrossDaylightSaving(t *testing.T) {
	c := &clock{t: time.Date(2026, 10, 23, 17, 10, 0, 0, time.UTC)} // Friday 19:10 CEST, after that day's run
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	s := h.addSchedule("evening-stop", stopDemo(), "0 19 * * 1-5", "Europe/Amsterdam")
	if len(s.Approvals) != 0 || s.Requester != alice || s.Channel != "C1" {
		t.Fatalf("stored schedule %+v", s)
	}
	ctx := context.Background()
	c.set(time.Date(2026, 10, 26, 17, 30, 0, 0, time.UTC)) // Monday 18:30 CET: 19:00 CEST would have been 17:00 UTC
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("evening-stop")); n != 0 {
		t.Fatalf("%d runs before 19:00 Amsterdam time, want 0", n)
	}
	c.set(time.Date(2026, 10, 26, 17, 59, 59, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("evening-stop")); n != 0 {
		t.Fatalf("%d runs a second before 19:00, want 0", n)
	}
	c.set(time.Date(2026, 10, 26, 18, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	c.set(time.Date(2026, 10, 26, 18, 0, 30, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	runs := h.runs("evening-stop")
	if len(runs) != 1 {
		t.Fatalf("%d runs at 19:00 CET, want 1", len(runs))
	}
	if got := runs[0].ScheduleRun.Occurrence.UTC(); !got.Equal(time.Date(2026, 10, 26, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("occurrence %v, want 18:00 UTC", got)
	}
	h.waitState(runs[0].ID, aks.StateSucceeded)
	if cl, err := h.cloud.GetCluster(ctx, "rg-aks", "demo"); err != nil || cl.PowerState != "Stopped" {
		t.Fatalf("cluster after the run: %+v, %v", cl.PowerState, err)
	}
	evs, _ := h.store.Events(ctx, runs[0].ID)
	if !strings.Contains(evs[0].Message, "Requested by schedule evening-stop") || !strings.Contains(evs[0].Message, "CET (18:00 UTC)") {
		t.Fatalf("first event of the run: %q", evs[0].Message)
	}
}

// TestScheduleRunNotTwiceAcrossRestart: the bot stores a run's job and dies before it records
// that the schedule was checked; the restarted bot looks again and finds the claim.
func TestScheduleRunNotTwiceAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	c := &clock{t: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)}
	h := startSched(t, path, c)
	h.seed()
	s := h.addSchedule("hourly", stopDemo(), "0 * * * *", "")
	ctx := context.Background()
	c.set(time.Date(2026, 12, 4, 11, 0, 5, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("hourly")); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	// As if the process died between storing the run and storing Checked.
	stored, err := h.store.Schedule(ctx, "hourly")
	if err != nil {
		t.Fatal(err)
	}
	stored.Checked = s.Checked
	if _, err := h.store.PutSchedule(ctx, stored); err != nil {
		t.Fatal(err)
	}
	h.stop()

	h2 := startSched(t, path, c)
	h2.engine.CheckSchedules(ctx)
	h2.engine.CheckSchedules(ctx)
	runs := h2.runs("hourly")
	if len(runs) != 1 {
		t.Fatalf("%d runs after the restart, want 1", len(runs))
	}
	h2.waitState(runs[0].ID, aks.StateSucceeded)
	after, _ := h2.store.Schedule(ctx, "hourly")
	if !after.Checked.Equal(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("checked up to %v after the restart, want 11:00", after.Checked)
	}
}

// TestScheduleCatchUp: a run missed by less than catchUp runs late; older ones are skipped and
// the channel is told which. The second stop has nothing to do and ends without an Azure request.
func TestScheduleCatchUp(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)}
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	h.addSchedule("hourly", stopDemo(), "0 * * * *", "")
	ctx := context.Background()

	c.set(time.Date(2026, 12, 4, 11, 10, 0, 0, time.UTC)) // down at 11:00, back 10 minutes later
	h.engine.CheckSchedules(ctx)
	runs := h.runs("hourly")
	if len(runs) != 1 || !runs[0].ScheduleRun.Occurrence.Equal(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("runs after a 10-minute outage: %+v", runs)
	}
	h.waitState(runs[0].ID, aks.StateSucceeded)

	c.set(time.Date(2026, 12, 4, 13, 20, 0, 0, time.UTC)) // down from before 12:00 until 13:20
	h.engine.CheckSchedules(ctx)
	runs = h.runs("hourly")
	if len(runs) != 2 || runs[1].State != aks.StateCancelled {
		t.Fatalf("runs after a long outage: %d, want the first run and a skip notice", len(runs))
	}
	msg := h.lastMessage(runs[1].ID)
	for _, want := range []string{"skipped", "2026-12-04 12:00 UTC", "2026-12-04 13:00 UTC", "schedules.catchUp"} {
		if !strings.Contains(msg, want) {
			t.Errorf("skip notice %q does not say %q", msg, want)
		}
	}

	c.set(time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	runs = h.runs("hourly")
	if len(runs) != 3 {
		t.Fatalf("%d jobs, want a third for 14:00", len(runs))
	}
	mutations := h.sim.CountMutations("demo")
	job := h.waitState(runs[2].ID, aks.StateSucceeded)
	if msg := h.lastMessage(job.ID); !strings.Contains(msg, "nothing to change") || job.Sent {
		t.Fatalf("stopping a stopped cluster: %q (sent %v)", msg, job.Sent)
	}
	if n := h.sim.CountMutations("demo") - mutations; n != 0 {
		t.Errorf("a run with nothing to do sent %d requests that change Azure", n)
	}
}

// TestPausedScheduleDoesNotFire; resuming does not run what fell due while paused.
func TestPausedScheduleDoesNotFire(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)}
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	h.addSchedule("hourly", stopDemo(), "0 * * * *", "")
	ctx := context.Background()
	job, err := h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.SchedulePause, Requester: alice, Channel: "C1", Schedule: aks.Schedule{Name: "hourly"}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	c.set(time.Date(2026, 12, 4, 11, 0, 1, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("hourly")); n != 0 {
		t.Fatalf("a paused schedule made %d jobs", n)
	}
	job, err = h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.ScheduleResume, Requester: alice, Channel: "C1", Schedule: aks.Schedule{Name: "hourly"}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("hourly")); n != 0 {
		t.Fatalf("resuming ran %d missed runs", n)
	}
	c.set(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("hourly")); n != 1 {
		t.Fatalf("the resumed schedule made %d jobs at 12:00, want 1", n)
	}
	job, err = h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.ScheduleDelete, Requester: alice, Channel: "C1", Schedule: aks.Schedule{Name: "hourly"}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	if _, err := h.store.Schedule(ctx, "hourly"); err == nil {
		t.Fatal("the schedule is still stored after its delete succeeded")
	}
	c.set(time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	if n := len(h.runs("hourly")); n != 1 {
		t.Fatalf("a deleted schedule made %d jobs, want still 1", n)
	}
	if _, err := h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.SchedulePause, Requester: alice, Channel: "C1", Schedule: aks.Schedule{Name: "hourly"}}); aks.ErrorCode(err) != aks.ENotFound {
		t.Fatalf("pausing a deleted schedule: %v, want not found", err)
	}
}

// TestScheduleRunCancelledWhenPolicyChanged: the run is checked again when it starts.
func TestScheduleRunCancelledWhenPolicyChanged(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)}
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	h.addSchedule("hourly", stopDemo(), "0 * * * *", "")
	h.pol.mu.Lock()
	h.pol.refuse = "guardrail: demo may not be stopped during the release week"
	h.pol.mu.Unlock()
	c.set(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(context.Background())
	runs := h.runs("hourly")
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	job := h.waitState(runs[0].ID, aks.StateCancelled)
	msg := h.lastMessage(job.ID)
	if !strings.Contains(msg, "the policy refuses it now") || !strings.Contains(msg, "release week") || job.Sent {
		t.Fatalf("cancelled run says %q (sent %v)", msg, job.Sent)
	}
	if cl, _ := h.cloud.GetCluster(context.Background(), "rg-aks", "demo"); cl.PowerState != "Running" {
		t.Fatalf("cluster is %s, want Running", cl.PowerState)
	}
}

// TestScaleUpScheduleNeedsApproval: a schedule that scales up waits for a scale-up's approval,
// and that approval covers its run.
func TestScaleUpScheduleNeedsApproval(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)}
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	ctx := context.Background()
	job, err := h.engine.ChangeSchedule(ctx, jobs.ScheduleRequest{Action: aks.ScheduleAdd, Requester: alice, Channel: "C1",
		Schedule: aks.Schedule{Name: "morning", Op: scale("np2", 3), Cron: "0 7 * * 1-5", TimeZone: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	if job.State != aks.StateAwaitingApproval || job.ScheduleChange == nil {
		t.Fatalf("scale-up schedule is %s, want awaiting approval", job.State)
	}
	if _, err := h.store.Schedule(ctx, "morning"); err == nil {
		t.Fatal("the schedule is active before it was approved")
	}
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil {
		t.Fatal(err)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	s, err := h.store.Schedule(ctx, "morning")
	if err != nil || len(s.Approvals) != 1 || s.Approvals[0].By.ID != bob.ID || s.JobID != job.ID {
		t.Fatalf("stored schedule %+v, %v", s, err)
	}
	c.set(time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC))
	h.engine.CheckSchedules(ctx)
	runs := h.runs("morning")
	if len(runs) != 1 || runs[0].State != aks.StateQueued || runs[0].ScheduleRun.Approvals[0].By.ID != bob.ID {
		t.Fatalf("runs %+v", runs)
	}
	h.waitState(runs[0].ID, aks.StateSucceeded)
	cl, err := h.cloud.GetCluster(ctx, "rg-aks", "demo")
	if p, _ := cl.Pool("np2"); err != nil || p.Count != 3 {
		t.Fatalf("np2 has %d nodes (%v), want 3", p.Count, err)
	}
}

// TestScheduleRunOnceAcrossReplicas: two engines on one store (as two replicas that both
// believe they lead, for a moment) look at the same due occurrence at once; one run is stored.
func TestScheduleRunOnceAcrossReplicas(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC)}
	h := startSched(t, filepath.Join(t.TempDir(), "aksbot.db"), c)
	h.seed()
	h.addSchedule("hourly", stopDemo(), "0 * * * *", "")
	other, err := jobs.New(jobs.Config{Store: h.store, Cloud: h.cloud, Reporter: &recorder{}, Policy: h.pol,
		Now: c.Now, Schedules: h.store, Claims: h.store})
	if err != nil {
		t.Fatal(err)
	}
	c.set(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	for _, e := range []*jobs.Engine{h.engine, other, h.engine, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.CheckSchedules(context.Background())
		}()
	}
	wg.Wait()
	runs := h.runs("hourly")
	if len(runs) != 1 {
		t.Fatalf("%d runs of one occurrence, want 1", len(runs))
	}
	// The run may have been stored by the engine that is not running (its lane then starts
	// when a watch tells a running replica); that it was stored once is the point here.
	if runs[0].State != aks.StateQueued && runs[0].State != aks.StateRunning && runs[0].State != aks.StateSucceeded {
		t.Fatalf("run is %s", runs[0].State)
	}
}
