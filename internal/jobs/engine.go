// Package jobs is aksbot's job engine: it turns a validated operation into a stored job, waits for
// approval, runs it in Azure one operation at a time per cluster, follows it to its end, and
// reports every step through a Reporter. It derives what to do from the stored job and what Azure
// says now, so every step is safe to repeat after a crash.
package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// DefaultSubscription is the ID given to targets that name no subscription, so that their
	// lane key matches that of jobs naming it (and of jobs migrated from before subscriptions
	// were named); "" leaves them as they are.
	DefaultSubscription string

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

	// Coordinator shares the lanes and the bot-wide work with other replicas; nil = this process
	// is the only one (SingleReplica).
	Coordinator aks.Coordinator
	// Watcher tells of jobs stored by other replicas, so that a job queued through one reaches
	// the lane owner on another; nil = this process stores every job itself.
	Watcher aks.JobWatcher
	// LeaderTasks run while this replica is elected for bot-wide work (the Slack outbox's one
	// deliverer, the jobs gauge). Each gets a context that ends when the leadership does, and
	// carries its fence.
	LeaderTasks []func(ctx context.Context)

	// Schedules keeps the schedules; nil = `/aks schedule` is not offered and nothing runs on
	// a schedule. Claims is then required: an occurrence is claimed before its job is stored,
	// so that it runs at most once across restarts and replicas.
	Schedules aks.ScheduleStore
	Claims    aks.Claims
	// CatchUp is how old a missed occurrence may be and still run (the bot was down at its
	// time); older ones are skipped and the schedule's channel is told. Zero means 15 minutes.
	CatchUp time.Duration
	// ScheduleInterval is how often the elected replica looks for due occurrences. Zero means
	// 15 seconds.
	ScheduleInterval time.Duration
}

// Engine runs jobs. Create it with New, then call Run.
type Engine struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	coord aks.Coordinator

	mu     sync.Mutex
	runCtx context.Context // set by Run; lanes live as long as it
	lanes  map[string]*lane
	// reporting holds the jobs whose end this process is reporting (finishReport).
	reporting map[string]bool
	wg        sync.WaitGroup
	stopping  bool
}

// lane serialises the mutating jobs of one cluster: AKS allows one operation at a time on a
// cluster and its pools. With several replicas, the lane runs only on the replica that owns it
// (Coordinator.AcquireLane); the others leave its jobs to that one.
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
	if cfg.Schedules != nil && cfg.Claims == nil {
		return nil, errors.New("jobs: Claims is required with Schedules")
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.ScheduleInterval <= 0 {
		cfg.ScheduleInterval = 15 * time.Second
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
	coord := cfg.Coordinator
	if coord == nil {
		coord = &SingleReplica{}
	}
	return &Engine{cfg: cfg, log: log, now: now, coord: coord, lanes: map[string]*lane{}, reporting: map[string]bool{}}, nil
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
	e.wg.Add(3)
	go e.leadLoop(ctx)
	go e.watchLoop(ctx)
	go e.releasedLoop(ctx)

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
	return nil
}

// SubmitRequest is a user's mutating command, already parsed and validated.
type SubmitRequest struct {
	Op        aks.Operation
	Requester aks.User
	Channel   string
	// Schedule, when set, makes the job a change of a schedule that runs Op: it is decided on
	// as Op would be, and changes the schedule, not Azure, when it succeeds.
	Schedule *aks.ScheduleChange
}

// Submit checks the request against policy, plans it against Azure's current state, stores the
// job, reports it, and queues it unless it waits for approval. Nothing is sent to Azure here.
func (e *Engine) Submit(ctx context.Context, req SubmitRequest) (aks.Job, error) {
	req.Op.Target = e.inDefault(req.Op.Target)
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
		Op: req.Op.Kind, Target: req.Op.Target, Subscription: cmp.Or(plan.Subscription, req.Op.Target.Subscription), Plan: plan.Summary, Rule: rule,
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
	// One report of a job's end at a time in this process: the lane that ended the job and the
	// redelivery of unreported ends would otherwise both report it.
	if !e.claimFinalReport(job.ID) {
		return
	}
	defer e.releaseFinalReport(job.ID)
	e.reportFinal(ctx, job, ev)
}

// reportFinal reports a job's end and records the delivery. The caller holds the job's
// claimFinalReport.
func (e *Engine) reportFinal(ctx context.Context, job aks.Job, ev aks.Event) {
	if !e.report(ctx, job, ev) {
		return
	}
	for {
		job.FinalReported = true
		_, err := e.update(ctx, job, nil)
		if !errors.Is(err, ErrConflict) {
			if errors.Is(err, aks.ErrFenced) {
				e.logFor(job).Info("another replica took over; it records the delivered final report")
				return
			}
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
		e.redeliverFinal(ctx, job.ID)
	}
}

// redeliverFinal reports the end of one job unless it was reported since it was listed.
func (e *Engine) redeliverFinal(ctx context.Context, id string) {
	if !e.claimFinalReport(id) {
		return // being reported right now
	}
	defer e.releaseFinalReport(id)
	job, err := e.cfg.Store.Job(ctx, id)
	var evs []aks.Event
	if err == nil {
		evs, err = e.cfg.Store.Events(ctx, id)
	}
	if err != nil || len(evs) == 0 {
		e.log.Warn("read unreported job", "job", id, "err", err)
		return
	}
	if !job.FinalReported {
		e.reportFinal(ctx, job, evs[len(evs)-1])
	}
}

// claimFinalReport reserves the report of a job's end for the caller; false: another goroutine
// of this process is reporting it.
func (e *Engine) claimFinalReport(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reporting[id] {
		return false
	}
	e.reporting[id] = true
	return true
}

func (e *Engine) releaseFinalReport(id string) {
	e.mu.Lock()
	delete(e.reporting, id)
	e.mu.Unlock()
}

// leadLoop runs the bot-wide work while this replica is elected for it, and campaigns again
// when the leadership is lost (a lost etcd session), until ctx ends.
func (e *Engine) leadLoop(ctx context.Context) {
	defer e.wg.Done()
	for ctx.Err() == nil {
		lease, err := e.coord.Lead(ctx)
		if err != nil || lease == nil {
			if ctx.Err() == nil {
				e.log.Warn("campaign for bot-wide work; will try again", "err", err)
				sleep(ctx, e.cfg.RetryDelay)
			}
			continue
		}
		lctx, cancel := leaseContext(ctx, lease)
		e.log.Info("elected for bot-wide work (approval expiry, final reports, Slack delivery)")
		tasks := e.cfg.LeaderTasks
		if e.cfg.Schedules != nil {
			tasks = append(slices.Clone(tasks), e.scheduleLoop)
		}
		var running sync.WaitGroup
		for _, task := range tasks {
			running.Add(1)
			go func() {
				defer running.Done()
				task(lctx)
			}()
		}
		e.redeliverLoop(lctx)
		cancel()
		running.Wait()
		if ctx.Err() == nil {
			e.log.Warn("no longer elected for bot-wide work; campaigning again")
		}
	}
}

// watchLoop kicks the lane of every job another replica queues (or this one: the kick is then
// a no-op), and looks at every unfinished job when the watch may have missed changes.
func (e *Engine) watchLoop(ctx context.Context) {
	defer e.wg.Done()
	if e.cfg.Watcher == nil {
		return
	}
	for ch := range e.cfg.Watcher.WatchJobs(ctx) {
		switch {
		case ch.Resync:
			e.kickUnfinished(ctx)
		case ch.State == aks.StateQueued:
			e.kick(ch.ClusterKey)
		}
	}
}

// releasedLoop kicks the lanes other replicas gave up or lost with their session, so that a
// survivor takes their jobs over.
func (e *Engine) releasedLoop(ctx context.Context) {
	defer e.wg.Done()
	released := e.coord.Released()
	for {
		select {
		case <-ctx.Done():
			return
		case key, ok := <-released:
			if !ok {
				return
			}
			e.kick(key)
		}
	}
}

// kickUnfinished kicks the lane of every cluster with queued or running jobs.
func (e *Engine) kickUnfinished(ctx context.Context) {
	open, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}})
	if err != nil {
		e.log.Warn("list unfinished jobs after a watch restart", "err", err)
		return
	}
	for _, job := range open {
		e.kick(job.Op.Target.ClusterKey())
	}
}

// redeliverLoop expires approvals that ran out of time and, less often, redelivers final
// reports that did not go out. It runs on the elected replica only.
func (e *Engine) redeliverLoop(ctx context.Context) {
	e.expireDue(ctx)
	e.redeliverFinals(ctx)
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

// runLane runs the queued and running jobs of one cluster, one at a time, oldest first, while
// this replica owns the lane and there are jobs left.
func (e *Engine) runLane(ctx context.Context, key string, l *lane) {
	defer e.wg.Done()
	for {
		e.ownLane(ctx, key, l)
		e.mu.Lock()
		if !l.dirty || ctx.Err() != nil {
			delete(e.lanes, key)
			e.mu.Unlock()
			return
		}
		l.dirty = false // kicked while giving the lane up: look again
		e.mu.Unlock()
	}
}

// ownLane acquires the lane and works through its jobs until none is left, then gives the lane
// up so that the next job may run on any replica. It returns at once when another replica owns
// the lane (that one runs the jobs), and as soon as the lane is lost: every store write made for
// the lane carries its fence, so a replica that lost it cannot store (and so cannot send)
// anything more for its jobs.
func (e *Engine) ownLane(ctx context.Context, key string, l *lane) {
	// A lane with nothing to run is not worth owning: taking it and giving it up again would
	// tell every replica it was released, and each would look again, for ever.
	if work, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}, ClusterKey: key, Limit: 1}); err == nil && len(work) == 0 {
		return
	}
	lease, err := e.coord.AcquireLane(ctx, key)
	for err != nil {
		e.log.Warn("acquire the lane of a cluster; will try again", "cluster", key, "err", err)
		if !sleep(ctx, e.cfg.RetryDelay) {
			return
		}
		lease, err = e.coord.AcquireLane(ctx, key)
	}
	if lease == nil {
		return
	}
	lctx, cancel := leaseContext(ctx, lease)
	defer cancel()
	for lctx.Err() == nil {
		e.mu.Lock()
		l.dirty = false
		e.mu.Unlock()

		jobs, err := e.cfg.Store.Jobs(lctx, Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}, ClusterKey: key})
		if err != nil {
			e.log.Error("list jobs of cluster", "cluster", key, "err", err)
			if !sleep(lctx, e.cfg.RetryDelay) {
				break
			}
			continue
		}
		if next, ok := nextJob(jobs); ok {
			e.drive(lctx, next)
			continue
		}
		e.mu.Lock()
		dirty := l.dirty
		e.mu.Unlock()
		if !dirty {
			break
		}
	}
	if lctx.Err() != nil {
		if ctx.Err() == nil {
			e.log.Warn("lost the lane of a cluster to another replica; stopped working on it", "cluster", key)
		}
		return
	}
	if err := lease.Release(ctx); err != nil {
		e.log.Warn("give up the lane of a cluster", "cluster", key, "err", err)
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

// update stores a job and its event (UpdateJob), stamping both with this replica.
func (e *Engine) update(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	if ev != nil {
		ev.Replica = e.coord.ReplicaID()
	}
	return e.cfg.Store.UpdateJob(ctx, job, ev)
}

// ReplicaID names the replica this engine runs on.
func (e *Engine) ReplicaID() string { return e.coord.ReplicaID() }

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

// inDefault puts a target that names no subscription in the default one.
func (e *Engine) inDefault(t aks.Target) aks.Target {
	if t.Subscription == "" {
		t.Subscription = e.cfg.DefaultSubscription
	}
	return t
}
