package jobs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/store"
)

// rulePolicy is a jobs.Policy whose answers the test sets: who approves, how many approvals
// scale-ups need, and for how long they may wait. The real rules live in internal/policy and
// are tested there; here the engine's side of the contract is under test.
type rulePolicy struct {
	mu        sync.Mutex
	approvers []string
	approvals int
	timeout   time.Duration
	refuse    string // users whose requests are refused
}

func (p *rulePolicy) set(f func(*rulePolicy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *rulePolicy) CanRequest(_ context.Context, user aks.User, _ string, _ aks.Operation) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user.ID == p.refuse {
		return &aks.Error{Code: aks.EUnauthorized, Message: "you are not allowed to request AKS operations"}
	}
	return nil
}

func (p *rulePolicy) Evaluate(_ context.Context, _ aks.User, _ string, _ aks.Operation, plan aks.Plan) (jobs.Requirement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !plan.ScaleUp {
		return jobs.Requirement{Rule: "test"}, nil
	}
	var who []string
	for _, id := range p.approvers {
		who = append(who, "<@"+id+">")
	}
	return jobs.Requirement{Rule: "test", Approvals: p.approvals, Approvers: who, Timeout: p.timeout}, nil
}

func (p *rulePolicy) CanApprove(_ context.Context, user aks.User, job aks.Job) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user.ID == job.Requester.ID || !slices.Contains(p.approvers, user.ID) {
		return &aks.Error{Code: aks.EUnauthorized, Message: "only an approver can approve this request"}
	}
	return nil
}

// auditRecorder is a jobs.AuditLog that keeps what it was given.
type auditRecorder struct {
	mu   sync.Mutex
	recs []aks.AuditRecord
}

func (a *auditRecorder) AppendAudit(_ context.Context, rec aks.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, rec)
	return nil
}

func (a *auditRecorder) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.recs {
		out = append(out, string(r.Action)+":"+r.User.ID)
	}
	return out
}

// observed is a jobs.Observer that keeps what it was told.
type observed struct {
	mu          sync.Mutex
	transitions []string
	waits       []aks.JobState
	finished    []aks.JobState
}

func (o *observed) JobTransition(_ aks.OpKind, from, to aks.JobState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.transitions = append(o.transitions, fmt.Sprintf("%s>%s", from, to))
}

func (o *observed) OperationFinished(_ aks.OpKind, outcome aks.JobState, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, outcome)
}

func (o *observed) ApprovalWait(_ aks.OpKind, outcome aks.JobState, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waits = append(o.waits, outcome)
}

func withPolicy(p jobs.Policy, a jobs.AuditLog, o jobs.Observer) func(*jobs.Config) {
	return func(c *jobs.Config) { c.Policy, c.Audit, c.Observer = p, a, o }
}

func (r *recorder) messages(jobID string, kind aks.EventKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		if ev.JobID == jobID && ev.Kind == kind {
			out = append(out, ev.Message)
		}
	}
	return out
}

func TestTwoDistinctApprovalsAreNeeded(t *testing.T) {
	pol := &rulePolicy{approvers: []string{bob.ID, carol.ID}, approvals: 2}
	obs, audit := &observed{}, &auditRecorder{}
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast(), withPolicy(pol, audit, obs))
	h.seed()
	ctx := context.Background()
	job := h.submit(scale("np2", 3), alice)
	if job.ApprovalsNeeded != 2 || len(job.Approvers) != 2 || job.Rule != "test" || job.ExpiresAt.IsZero() {
		t.Fatalf("job carries approvals %d, approvers %v, rule %q, expiry %v", job.ApprovalsNeeded, job.Approvers, job.Rule, job.ExpiresAt)
	}
	if got, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil || got.State != aks.StateAwaitingApproval {
		t.Fatalf("first approval: state %s, err %v; want still awaiting approval", got.State, err)
	}
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); aks.ErrorCode(err) != aks.EConflict || !strings.Contains(err.Error(), "counts once") {
		t.Errorf("the same approver again: %v, want a conflict saying each approver counts once", err)
	}
	if n := h.sim.CountMutations("agentPools"); n != 0 {
		t.Fatalf("%d mutations after one of two approvals", n)
	}
	if _, err := h.engine.Decide(ctx, job.ID, carol, true, ""); err != nil {
		t.Fatalf("second approval: %v", err)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	approved := h.rec.messages(job.ID, aks.EventApproved)
	if len(approved) != 2 || !strings.Contains(approved[0], "1 of 2") || !strings.Contains(approved[1], "<@bob> and <@carol>") {
		t.Errorf("approval messages %q: want progress \"1 of 2\", then both approvers", approved)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{">awaiting_approval", "awaiting_approval>queued", "queued>running", "running>succeeded"}
	if fmt.Sprint(obs.transitions) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", obs.transitions, want)
	}
	if fmt.Sprint(obs.waits) != "[queued]" || fmt.Sprint(obs.finished) != "[succeeded]" {
		t.Errorf("approval waits %v and operations %v observed", obs.waits, obs.finished)
	}
	if got := audit.actions(); fmt.Sprint(got) != "[decision_refused:bob]" {
		t.Errorf("audit records from the engine: %v, want the refused repeat click", got)
	}
}

func TestUnansweredApprovalExpires(t *testing.T) {
	pol := &rulePolicy{approvers: []string{bob.ID}, approvals: 1, timeout: 300 * time.Millisecond}
	audit, obs := &auditRecorder{}, &observed{}
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast(), withPolicy(pol, audit, obs))
	h.seed()
	job := h.submit(scale("np2", 3), alice)
	h.waitState(job.ID, aks.StateExpired)
	if msgs := h.rec.messages(job.ID, aks.EventExpired); len(msgs) != 1 || !strings.Contains(msgs[0], "expired") || !strings.Contains(msgs[0], "0 of 1") {
		t.Errorf("expiry reported as %q, want one message saying it expired with 0 of 1 approvals", msgs)
	}
	if _, err := h.engine.Decide(context.Background(), job.ID, bob, true, ""); aks.ErrorCode(err) != aks.EConflict {
		t.Errorf("a late approval: %v, want a conflict", err)
	}
	if n := h.sim.CountMutations("agentPools"); n != 0 {
		t.Errorf("%d mutations for an expired job", n)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if fmt.Sprint(obs.waits) != "[expired]" {
		t.Errorf("approval waits observed: %v", obs.waits)
	}
}

// An approval is given to a plan: when Azure changed before the job could run (the pool was
// scaled elsewhere), the job does not run and says the plan is stale.
func TestStalePlanDoesNotRun(t *testing.T) {
	h := newHarness(t)
	h.seed()
	ctx := context.Background()
	job := h.submit(scale("np2", 3), alice)

	outside := scale("np2", 2)
	plan, err := h.cloud.Plan(ctx, outside)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cloud.Begin(ctx, outside, plan, ""); err != nil {
		t.Fatalf("scale elsewhere: %v", err)
	}
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil {
		t.Fatalf("approve: %v", err)
	}
	failed := h.waitState(job.ID, aks.StateFailed)
	if failed.Error == nil || failed.Error.Code != "PlanStale" || !strings.Contains(failed.Error.Message, "stale") ||
		!strings.Contains(failed.Error.Hint, "ask again") {
		t.Fatalf("job error %+v, want a stale plan with how to ask again", failed.Error)
	}
	if n := h.sim.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("%d changes of np2, want only the one made elsewhere", n)
	}
}

// Approvals are checked again just before the job runs: an approver removed from the policy
// while the job waited in its cluster's queue no longer counts.
func TestApprovalsAreCheckedAgainBeforeRunning(t *testing.T) {
	pol := &rulePolicy{approvers: []string{bob.ID}, approvals: 1}
	slow := fast()
	slow.Scale = 1500 * time.Millisecond
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, slow, withPolicy(pol, nil, nil))
	h.seed()
	ctx := context.Background()
	outside := scale("sys", 3) // keeps the cluster busy while the job waits
	plan, err := h.cloud.Plan(ctx, outside)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cloud.Begin(ctx, outside, plan, ""); err != nil {
		t.Fatal(err)
	}
	job := h.submit(scale("np2", 3), alice)
	if _, err := h.engine.Decide(ctx, job.ID, bob, true, ""); err != nil {
		t.Fatalf("approve: %v", err)
	}
	pol.set(func(p *rulePolicy) { p.approvers = []string{carol.ID} })
	failed := h.waitState(job.ID, aks.StateFailed)
	if failed.Error == nil || failed.Error.Code != "ApprovalsNoLongerValid" {
		t.Fatalf("job error %+v, want approvals no longer valid", failed.Error)
	}
	if n := h.sim.CountMutations("agentPools/np2"); n != 0 {
		t.Errorf("%d changes of np2 sent", n)
	}
}

func TestRefusedRequestIsAuditedAndStoresNothing(t *testing.T) {
	audit := &auditRecorder{}
	pol := &rulePolicy{approvers: []string{bob.ID}, approvals: 1, refuse: carol.ID}
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast(), withPolicy(pol, audit, nil))
	h.seed()
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("np2", 3), Requester: carol, Channel: "C1"})
	if aks.ErrorCode(err) != aks.EUnauthorized {
		t.Fatalf("refused requester: %v", err)
	}
	if all, _ := h.store.Jobs(context.Background(), jobs.Filter{}); len(all) != 0 {
		t.Errorf("%d jobs stored for a refused request", len(all))
	}
	audit.mu.Lock()
	defer audit.mu.Unlock()
	if len(audit.recs) != 1 || audit.recs[0].Action != aks.AuditRefused || audit.recs[0].Channel != "C1" ||
		audit.recs[0].Target.Pool != "np2" || !strings.Contains(audit.recs[0].Detail, "not allowed") {
		t.Errorf("audit records %+v, want one refusal with channel, target and reason", audit.recs)
	}
}

func TestSlowJobIsFlaggedOnceAndKeepsRunning(t *testing.T) {
	slow := fast()
	slow.Scale = 1500 * time.Millisecond
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, slow, func(c *jobs.Config) {
		c.SlowAfter = map[aks.OpKind]time.Duration{aks.OpPoolScale: 300 * time.Millisecond}
	})
	h.seed()
	job := h.submit(scale("sys", 1), alice)
	done := h.waitState(job.ID, aks.StateSucceeded)
	if n := h.rec.count(job.ID, aks.EventSlow); n != 1 {
		t.Errorf("slow flagged %d times, want once", n)
	}
	if !done.SlowReported {
		t.Error("the slow flag is not stored, so a restart would flag it again")
	}
}

func TestDenialReasonCannotMentionAnyone(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("np2", 3), alice)
	if _, err := h.engine.Decide(context.Background(), job.ID, bob, false, "<!channel> look & see <@U0CEO>"); err != nil {
		t.Fatal(err)
	}
	h.waitState(job.ID, aks.StateDenied)
	msgs := h.rec.messages(job.ID, aks.EventDenied)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "&lt;!channel&gt; look &amp; see &lt;@U0CEO&gt;") {
		t.Errorf("denial %q: the reason must be escaped", msgs)
	}
}

func TestStartedJobCarriesAzureOperationID(t *testing.T) {
	h := newHarness(t)
	h.seed()
	job := h.submit(scale("sys", 1), alice)
	done := h.waitState(job.ID, aks.StateSucceeded)
	if done.OperationID == "" || strings.ContainsAny(done.OperationID, "/?") {
		t.Errorf("operation ID %q, want Azure's ID of the operation", done.OperationID)
	}
}

func TestAbortEndsRunningJobCancelledOnceAzureConfirms(t *testing.T) {
	slow := fast()
	slow.Scale = 5 * time.Second
	audit := &auditRecorder{}
	h := start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, slow, func(c *jobs.Config) { c.Audit = audit })
	h.seed()
	ctx := context.Background()
	cluster := aks.Target{ResourceGroup: "rg-aks", Cluster: "demo"}
	if _, err := h.engine.Abort(ctx, cluster, bob); aks.ErrorCode(err) != aks.EConflict {
		t.Errorf("abort with nothing running: %v, want a conflict", err)
	}
	job := h.submit(scale("sys", 1), alice)
	for {
		j, _ := h.store.Job(ctx, job.ID)
		if j.ResumeToken != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := h.engine.Abort(ctx, cluster, carol); aks.ErrorCode(err) != aks.EUnauthorized {
		t.Errorf("abort by someone who is neither requester nor approver: %v", err)
	}
	if _, err := h.engine.Abort(ctx, cluster, alice); err != nil {
		t.Fatalf("abort by the requester: %v", err)
	}
	if _, err := h.engine.Abort(ctx, cluster, bob); aks.ErrorCode(err) != aks.EConflict {
		t.Errorf("a second abort: %v, want a conflict", err)
	}
	done := h.waitState(job.ID, aks.StateCancelled)
	if done.AbortedBy == nil || done.AbortedBy.ID != alice.ID {
		t.Errorf("aborted by %+v, want alice", done.AbortedBy)
	}
	msgs := h.rec.messages(job.ID, aks.EventCancelled)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "aborted") || !strings.Contains(msgs[0], "<@alice>") {
		t.Errorf("cancel messages %q", msgs)
	}
	if n := h.rec.count(job.ID, aks.EventAbort); n != 1 {
		t.Errorf("abort request reported %d times", n)
	}
	if got := audit.actions(); fmt.Sprint(got) != "[decision_refused:carol]" {
		t.Errorf("engine audit records %v", got)
	}
}

// The first poll of a new operation waits as long as Azure's answer asked (Retry-After), and a
// resumed one is polled at once.
func TestFirstPollHonoursRetryAfterOfTheStart(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "aksbot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cloud, err := sim.New(sim.Options{DB: st.DB(), Durations: fast(), RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: cloud.Credential(),
		Endpoint: "https://management.sim.test", Transport: cloud.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cloud.Seed(ctx, "rg-aks", "demo", "westeurope", sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2}); err != nil {
		t.Fatal(err)
	}
	op := scale("sys", 3)
	plan, err := client.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	started, err := client.Begin(ctx, op, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := started.FirstPollAfter(); got != 3*time.Second {
		t.Errorf("first poll after %v, want the 3s Azure asked for", got)
	}
	token, err := started.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := client.Resume(ctx, op, token)
	if err != nil {
		t.Fatal(err)
	}
	if got := resumed.FirstPollAfter(); got != 0 {
		t.Errorf("a resumed operation waits %v before its first poll, want 0", got)
	}
}
