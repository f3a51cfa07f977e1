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
	RetryDelay time.Duration
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
	if err := e.cfg.Policy.CanRequest(ctx, req.Requester, req.Channel, req.Op); err != nil {
		return aks.Job{}, err
	}
	plan, err := e.cfg.Cloud.Plan(ctx, req.Op)
	if err != nil {
		return aks.Job{}, fmt.Errorf("plan %s: %w", req.Op.Describe(), err)
	}
	op := req.Op
	if op.Kind.OnPool() && op.Target.Pool == "" {
		op.Target.Pool = plan.Pool
	}
	reqmt, err := e.cfg.Policy.Evaluate(ctx, req.Requester, req.Channel, op, plan)
	if err != nil {
		return aks.Job{}, err
	}
	now := e.now()
	job := aks.Job{
		Op:            op,
		Plan:          plan,
		Requester:     req.Requester,
		Channel:       req.Channel,
		CreatedAt:     now,
		UpdatedAt:     now,
		NeedsApproval: reqmt.Approvals > 0,
		State:         aks.StateQueued,
	}
	if job.NeedsApproval {
		job.ApprovalsNeeded, job.Approvers, job.Rule = reqmt.Approvals, reqmt.Approvers, reqmt.Rule
	}
	ev := aks.Event{At: now, Kind: aks.EventCreated, Actor: req.Requester, To: aks.StateQueued}
	if job.NeedsApproval {
		job.State = aks.StateAwaitingApproval
		ev.To = aks.StateAwaitingApproval
		ev.Message = fmt.Sprintf("<@%s> asked to %s. Plan: %s. Needs approval from %s.",
			req.Requester.ID, op.Describe(), plan.Summary, orList(job.Approvers))
	} else {
		ev.Message = fmt.Sprintf("<@%s> asked to %s. Plan: %s. No approval needed: queued; it starts when no other operation runs on %s.",
			req.Requester.ID, op.Describe(), plan.Summary, op.Target.Cluster)
	}
	job, err = e.cfg.Store.CreateJob(ctx, job, ev)
	if err != nil {
		return aks.Job{}, &aks.Error{Code: aks.EUnavailable, Message: "could not save the job, so nothing was sent to Azure", Hint: "try again; if it persists, tell whoever runs the bot (the data file may be full or read-only)", Err: err}
	}
	ev.JobID, ev.Seq = job.ID, 1
	e.log.Info("job created", "job", job.ID, "op", job.Op.Kind, "cluster", job.Op.Target.String(), "channel", job.Channel, "state", job.State)
	// Report before queueing, so that the transport's parent message exists before the lane
	// posts anything in its thread.
	e.report(ctx, job, ev)
	if job.State == aks.StateQueued {
		e.kick(job.Op.Target.ClusterKey())
	}
	return job, nil
}

// Decide records an approval or a denial by user. Only a job awaiting approval can be decided,
// and only by someone the policy allows (never the requester).
func (e *Engine) Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) (aks.Job, error) {
	for {
		job, err := e.job(ctx, jobID)
		if err != nil {
			return aks.Job{}, err
		}
		if job.State != aks.StateAwaitingApproval {
			return job, aks.Errorf(aks.EConflict, "job %s is already %s; nothing changed", job.ID, job.State.Words())
		}
		if err := e.cfg.Policy.CanApprove(ctx, user, job); err != nil {
			return job, err
		}
		for _, d := range job.Decisions {
			if d.By.ID == user.ID {
				return job, aks.Errorf(aks.EConflict, "you already answered job %s", job.ID)
			}
		}
		now := e.now()
		job.Decisions = append(job.Decisions, aks.Decision{By: user, At: now, Approve: approve, Reason: reason})
		job.UpdatedAt = now
		ev := aks.Event{At: now, Actor: user, From: job.State}
		if approve {
			job.State = aks.StateQueued
			ev.Kind = aks.EventApproved
			ev.Message = fmt.Sprintf("Approved by <@%s>. Queued: it starts when no other operation runs on %s.", user.ID, job.Op.Target.Cluster)
		} else {
			job.State = aks.StateDenied
			job.FinishedAt = now
			ev.Kind = aks.EventDenied
			ev.Message = fmt.Sprintf("Job %s denied by <@%s>.", job.ID, user.ID)
			if reason != "" {
				ev.Message += " Reason: " + reason
			}
		}
		ev.To = job.State
		stored, err := e.cfg.Store.UpdateJob(ctx, job, &ev)
		if errors.Is(err, ErrConflict) {
			continue // someone else changed it: look again
		}
		if err != nil {
			return job, storeFailure(err)
		}
		e.log.Info("job decided", "job", stored.ID, "by", user.ID, "approve", approve, "cluster", stored.Op.Target.String(), "channel", stored.Channel)
		if stored.State.Final() {
			e.finishReport(ctx, stored, ev)
		} else {
			e.report(ctx, stored, ev)
			e.kick(stored.Op.Target.ClusterKey())
		}
		return stored, nil
	}
}

// Cancel ends a job that has not started in Azure. The requester or an approver may cancel.
func (e *Engine) Cancel(ctx context.Context, jobID string, user aks.User) (aks.Job, error) {
	for {
		job, err := e.job(ctx, jobID)
		if err != nil {
			return aks.Job{}, err
		}
		switch job.State {
		case aks.StateAwaitingApproval, aks.StateQueued:
		case aks.StateRunning:
			return job, aks.Errorf(aks.EConflict, "job %s is already running in Azure and cannot be cancelled", job.ID)
		default:
			return job, aks.Errorf(aks.EConflict, "job %s is already %s; nothing changed", job.ID, job.State.Words())
		}
		if user.ID != job.Requester.ID {
			if err := e.cfg.Policy.CanApprove(ctx, user, job); err != nil {
				return job, aks.Errorf(aks.EUnauthorized, "only the requester <@%s> or an approver can cancel job %s", job.Requester.ID, job.ID)
			}
		}
		now := e.now()
		ev := aks.Event{At: now, Kind: aks.EventCancelled, Actor: user, From: job.State, To: aks.StateCancelled,
			Message: fmt.Sprintf("Job %s cancelled by <@%s> before it started; nothing was sent to Azure.", job.ID, user.ID)}
		job.State, job.UpdatedAt, job.FinishedAt = aks.StateCancelled, now, now
		stored, err := e.cfg.Store.UpdateJob(ctx, job, &ev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return job, storeFailure(err)
		}
		e.finishReport(ctx, stored, ev)
		return stored, nil
	}
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
		e.log.Warn("report failed", "job", job.ID, "event", ev.Kind, "cluster", job.Op.Target.String(), "channel", job.Channel, "err", err)
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
				e.log.Error("could not record that the final report was delivered", "job", job.ID, "err", err)
			}
			return
		}
		fresh, err := e.cfg.Store.Job(ctx, job.ID)
		if err != nil {
			e.log.Error("could not reload job", "job", job.ID, "err", err)
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
			e.log.Warn("read events of unreported job", "job", job.ID, "err", err)
			continue
		}
		e.finishReport(ctx, job, evs[len(evs)-1])
	}
}

func (e *Engine) redeliverLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.RetryDelay * 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.redeliverFinals(ctx)
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
