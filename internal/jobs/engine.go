// Package jobs is aksbot's job engine: it turns a validated operation into a stored job, waits for
// approval, runs it in Azure one operation at a time per cluster, follows it to its end, and
// reports every step through a Reporter. It derives what to do from the stored job and what Azure
// says now, so every step is safe to repeat after a crash.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// Config wires an Engine.
type Config struct {
	Store    Store
	Cloud    Cloud
	Reporter Reporter
	Policy   Policy
	Assessor Assessor // nil = plans show no cost or quota (they still show an ETA)
	Audit    AuditLog // nil = refusals are only logged
	Observer Observer // nil = none
	Logger   *slog.Logger
	Now      func() time.Time // nil = time.Now

	// PollInterval is the least time between two status polls of one operation. Azure's AKS
	// resource provider throttles status reads, so 15 s is the floor for real Azure; the
	// simulated cloud allows less. Retry-After from Azure can only lengthen it.
	PollInterval time.Duration
	// ProgressInterval is how often a running job's status card is refreshed (about once a minute
	// keeps a busy channel within Slack's chat.update limits).
	ProgressInterval time.Duration
	// BusyTimeout bounds how long a job waits while Azure refuses it because another operation is
	// running on the cluster (started outside the bot). Zero means 30 minutes.
	BusyTimeout time.Duration
	// RetryDelay is the pause after a failed poll or report before trying again. Zero means 5 s.
	// Expired approvals are looked for at the same rate.
	RetryDelay time.Duration
	// ApprovalTimeout is how long a job waits for approvals when the policy does not say.
	// Zero means DefaultApprovalTimeout.
	ApprovalTimeout time.Duration
	// SlowAfter says, per operation kind, after how long a running job is flagged in its thread
	// as slower than usual (it is not failed). Kinds not listed use DefaultSlowAfter.
	SlowAfter map[aks.OpKind]time.Duration
}

// Engine runs jobs. Create it with New, then call Run.
type Engine struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	runCtx   context.Context // set by Run; lanes live as long as it
	lanes    map[string]*lane
	wg       sync.WaitGroup
	stopping bool
}

// lane serialises the mutating jobs of one cluster: AKS allows one operation at a time on a
// cluster and its pools.
type lane struct {
	dirty bool // jobs changed since the lane last looked
}

// New checks the configuration and makes an Engine.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("jobs: Store is required")
	case cfg.Cloud == nil:
		return nil, errors.New("jobs: Cloud is required")
	case cfg.Reporter == nil:
		return nil, errors.New("jobs: Reporter is required")
	case cfg.Policy == nil:
		return nil, errors.New("jobs: Policy is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 15 * time.Second
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = time.Minute
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 30 * time.Minute
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	if cfg.ApprovalTimeout <= 0 {
		cfg.ApprovalTimeout = DefaultApprovalTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Engine{cfg: cfg, log: log, now: now, lanes: map[string]*lane{}}, nil
}

// Run picks up every unfinished job (resuming Azure operations from their tokens and reporting
// ends not yet reported), then runs jobs until ctx is done. It returns once every lane has
// stopped; jobs still running in Azure stay stored as running and are resumed by the next Run.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.runCtx != nil {
		e.mu.Unlock()
		return errors.New("jobs: Run called twice")
	}
	e.runCtx = ctx
	e.mu.Unlock()

	if err := e.recover(ctx); err != nil {
		e.shutdown()
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing was lost, the next Run recovers
		}
		return err
	}
	e.wg.Add(1)
	go e.redeliverLoop(ctx)

	<-ctx.Done()
	e.shutdown()
	return nil
}

func (e *Engine) shutdown() {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	e.wg.Wait()
}

// recover makes sure every stored job that is not final gets going again.
func (e *Engine) recover(ctx context.Context) error {
	open, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}})
	if err != nil {
		return fmt.Errorf("jobs: list unfinished jobs at start: %w", err)
	}
	keys := map[string]bool{}
	for _, job := range open {
		// The transport may have crashed before the job's first messages were out; reporting the
		// creation again is idempotent on its side (it keeps its message references).
		if job.State != aks.StateRunning {
			if evs, err := e.cfg.Store.Events(ctx, job.ID); err == nil && len(evs) > 0 {
				e.report(ctx, job, evs[0])
			}
		}
		if job.State == aks.StateQueued || job.State == aks.StateRunning {
			keys[job.Op.Target.ClusterKey()] = true
		}
	}
	for key := range keys {
		e.kick(key)
	}
	e.expireDue(ctx)
	e.redeliverFinals(ctx)
	return nil
}

// SubmitRequest is a user's mutating command, already parsed and validated.
type SubmitRequest struct {
	Op        aks.Operation
	Requester aks.User
	Channel   string
}

// Submit checks the request against policy, plans it against Azure's current state, stores the
// job, reports it, and queues it unless it waits for approval. Nothing is sent to Azure here.
func (e *Engine) Submit(ctx context.Context, req SubmitRequest) (aks.Job, error) {
	job, ev, err := e.prepare(ctx, req, false)
	if err != nil {
		return aks.Job{}, err
	}
	op := job.Op
	job, err = e.cfg.Store.CreateJob(ctx, job, ev)
	if err != nil {
		e.log.Error("could not store a new job; nothing was sent to Azure", "cluster", op.Target.String(), "channel", req.Channel, "user", req.Requester.ID, "err", err)
		return aks.Job{}, &aks.Error{Code: aks.EUnavailable, Message: "could not save the job, so nothing was sent to Azure", Hint: "try again; if it persists, tell whoever runs the bot (the data file may be full or read-only)", Err: err}
	}
	ev.JobID, ev.Seq = job.ID, 1
	e.logFor(job).Info("job created", "op", job.Op.Kind, "state", job.State, "rule", job.Rule)
	e.transition(job, "")
	// Report before queueing, so that the transport's parent message exists before the lane
	// posts anything in its thread.
	e.report(ctx, job, ev)
	if job.State == aks.StateQueued {
		e.kick(job.Op.Target.ClusterKey())
	}
	return job, nil
}

// refuseRequest records a refused request in the audit log and returns err for the user.
func (e *Engine) refuseRequest(ctx context.Context, req SubmitRequest, plan aks.Plan, rule string, err error) error {
	e.log.Info("request refused by policy", "user", req.Requester.ID, "channel", req.Channel, "op", req.Op.Kind, "cluster", req.Op.Target.String(), "err", err)
	e.audit(ctx, aks.AuditRecord{At: e.now(), Action: aks.AuditRefused, User: req.Requester, Channel: req.Channel,
		Op: req.Op.Kind, Target: req.Op.Target, Subscription: plan.Subscription, Plan: plan.Summary, Rule: rule,
		Detail: userMessage(err)})
	return err
}

func (e *Engine) job(ctx context.Context, id string) (aks.Job, error) {
	job, err := e.cfg.Store.Job(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return aks.Job{}, &aks.Error{Code: aks.ENotFound, Message: fmt.Sprintf("there is no job %s", id), Hint: "see /aks jobs", Err: err}
	}
	if err != nil {
		return aks.Job{}, &aks.Error{Code: aks.EUnavailable, Message: "could not read the job", Err: err}
	}
	return job, nil
}

func storeFailure(err error) error {
	return &aks.Error{Code: aks.EUnavailable, Message: "could not save the change, so nothing changed", Hint: "try again; if it persists, tell whoever runs the bot", Err: err}
}

// report hands one event to the transport. A failed report of a non-final event is logged and
// dropped: the status card catches up at the next event.
func (e *Engine) report(ctx context.Context, job aks.Job, ev aks.Event) bool {
	if err := e.cfg.Reporter.Report(ctx, job, ev); err != nil {
		e.logFor(job).Warn("report failed", "event", ev.Kind, "cluster", job.Op.Target.String(), "channel", job.Channel, "err", err)
		return false
	}
	return true
}

// finishReport reports a final event and records that it was delivered, so that the end of a
// job is reported exactly once: when delivery fails, redeliverLoop tries again.
func (e *Engine) finishReport(ctx context.Context, job aks.Job, ev aks.Event) {
	if !e.report(ctx, job, ev) {
		return
	}
	for {
		job.FinalReported = true
		_, err := e.cfg.Store.UpdateJob(ctx, job, nil)
		if !errors.Is(err, ErrConflict) {
			if err != nil {
				e.logFor(job).Error("could not record that the final report was delivered", "err", err)
			}
			return
		}
		fresh, err := e.cfg.Store.Job(ctx, job.ID)
		if err != nil {
			e.logFor(job).Error("could not reload job", "err", err)
			return
		}
		job = fresh
	}
}

// redeliverFinals reports the end of jobs whose final report did not go out (the transport was
// down, or the process died between storing the end and reporting it).
func (e *Engine) redeliverFinals(ctx context.Context) {
	done, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateSucceeded, aks.StateFailed, aks.StateDenied, aks.StateCancelled, aks.StateExpired}, Limit: 500})
	if err != nil {
		e.log.Warn("list finished jobs", "err", err)
		return
	}
	for _, job := range done {
		if job.FinalReported || ctx.Err() != nil {
			continue
		}
		evs, err := e.cfg.Store.Events(ctx, job.ID)
		if err != nil || len(evs) == 0 {
			e.logFor(job).Warn("read events of unreported job", "err", err)
			continue
		}
		e.finishReport(ctx, job, evs[len(evs)-1])
	}
}

// redeliverLoop expires approvals that ran out of time and, less often, redelivers final
// reports that did not go out.
func (e *Engine) redeliverLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.RetryDelay)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.expireDue(ctx)
			if tick%6 == 0 {
				e.redeliverFinals(ctx)
			}
		}
	}
}

// kick makes sure the lane of a cluster looks at its jobs again.
func (e *Engine) kick(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runCtx == nil || e.stopping {
		return // Run picks queued jobs up when it starts
	}
	if l, ok := e.lanes[key]; ok {
		l.dirty = true
		return
	}
	l := &lane{}
	e.lanes[key] = l
	e.wg.Add(1)
	go e.runLane(e.runCtx, key, l)
}

// runLane runs the queued and running jobs of one cluster, one at a time, oldest first, until
// there are none left.
func (e *Engine) runLane(ctx context.Context, key string, l *lane) {
	defer e.wg.Done()
	for ctx.Err() == nil {
		e.mu.Lock()
		l.dirty = false
		e.mu.Unlock()

		jobs, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}, ClusterKey: key})
		if err != nil {
			e.log.Error("list jobs of cluster", "cluster", key, "err", err)
			if !sleep(ctx, e.cfg.RetryDelay) {
				return
			}
			continue
		}
		if next, ok := nextJob(jobs); ok {
			e.drive(ctx, next)
			continue
		}
		e.mu.Lock()
		if !l.dirty {
			delete(e.lanes, key)
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
	}
}

// nextJob picks the job a lane works on: one already running (there is at most one), else the
// oldest queued one.
func nextJob(jobs []aks.Job) (aks.Job, bool) {
	for _, j := range jobs {
		if j.State == aks.StateRunning {
			return j, true
		}
	}
	for _, j := range jobs {
		if j.State == aks.StateQueued {
			return j, true
		}
	}
	return aks.Job{}, false
}

// sleep waits for d or until ctx is done; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logFor is the engine's logger for lines about one job: each carries the job, its cluster and
// its channel, so that one grep follows a job.
func (e *Engine) logFor(job aks.Job) *slog.Logger {
	return e.log.With("job", job.ID, "cluster", job.Op.Target.String(), "channel", job.Channel)
}

// transition tells the observer that a stored job changed state.
func (e *Engine) transition(job aks.Job, from aks.JobState) {
	if from != job.State {
		e.observer().JobTransition(job.Op.Kind, from, job.State)
	}
}

func (e *Engine) observer() Observer {
	if e.cfg.Observer == nil {
		return noObserver{}
	}
	return e.cfg.Observer
}

type noObserver struct{}

func (noObserver) JobTransition(aks.OpKind, aks.JobState, aks.JobState)      {}
func (noObserver) OperationFinished(aks.OpKind, aks.JobState, time.Duration) {}
func (noObserver) ApprovalWait(aks.OpKind, aks.JobState, time.Duration)      {}

// andList joins mentions as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// orList joins mentions as "a, b or c"; "an approver" when there are none.
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "an approver"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
