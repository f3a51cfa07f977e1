package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/views"
)

// drive takes one queued or running job as far as it can: to its end, or until ctx is done.
func (e *Engine) drive(ctx context.Context, job aks.Job) {
	var op Operation
	var ok bool
	// A job just sent waits a poll interval before asking Azure; one picked up after a restart
	// asks at once: its last poll may be long ago.
	firstPoll := e.cfg.PollInterval
	switch job.State {
	case aks.StateQueued:
		if job.ScheduleChange != nil {
			e.applySchedule(ctx, job)
			return
		}
		job, op, ok = e.start(ctx, job)
	case aks.StateRunning:
		job, op, ok = e.resume(ctx, job)
		firstPoll = 0
	}
	if !ok {
		return
	}
	if op == nil {
		e.followState(ctx, job)
		return
	}
	e.follow(ctx, job, op, firstPoll)
}

// start moves a queued job to running and sends its request. The job is stored as running and
// "sent" before the request leaves, so a crash in between is seen at the next start.
func (e *Engine) start(ctx context.Context, job aks.Job) (aks.Job, Operation, bool) {
	if !e.waitUntilIdle(ctx, &job) {
		return job, nil, false
	}
	job, ok := e.recheck(ctx, job)
	if !ok {
		return job, nil, false
	}
	now := e.now()
	ev := aks.Event{At: now, Kind: aks.EventSending, From: job.State, To: aks.StateRunning, Message: "Sending the request to " + job.Op.Target.CloudName() + "."}
	job.State, job.Sent, job.StartedAt, job.UpdatedAt = aks.StateRunning, true, now, now
	job.Replica = e.coord.ReplicaID()
	// This write is the fence that matters most: it carries the lane's fence, so a replica
	// that lost the lane (paused past its lease, cut off from etcd) cannot store "sending" and
	// therefore never sends. Once it is stored, the request may leave; a new owner finds the
	// job as sent and reconciles with Azure instead of sending blindly.
	stored, err := e.update(ctx, job, &ev)
	if err != nil {
		// A conflict means the job was cancelled meanwhile; fenced means another replica owns
		// the lane now; other errors mean the store cannot be written, and nothing may go to
		// Azure that the bot could not track.
		if errors.Is(err, aks.ErrFenced) {
			e.logFor(job).Warn("lost the lane before sending; the new owner runs the job")
			return job, nil, false
		}
		if !errors.Is(err, ErrConflict) {
			e.logFor(job).Error("could not store job start; not sending it to Azure", "err", err)
			sleep(ctx, e.cfg.RetryDelay)
		}
		return job, nil, false
	}
	e.transition(stored, aks.StateQueued)
	return e.begin(ctx, stored)
}

// recheck is the last look before a job runs, because time passes between request, approval
// and start: the requester must still be allowed to ask for it, its approvals must still come
// from people who may give them, and Azure must still look as it did when the plan was made (an
// approval is given to a plan, not to an operation). It returns ok=false when the job ended or
// must be looked at again later.
func (e *Engine) recheck(ctx context.Context, job aks.Job) (aks.Job, bool) {
	later := func(what string, err error) (aks.Job, bool) {
		e.logFor(job).Warn("cannot check the job before it runs; will try again", "step", what, "err", err)
		sleep(ctx, e.cfg.RetryDelay)
		return job, false
	}
	if err := e.cfg.Policy.CanRequest(ctx, job.Requester, job.Channel, job.Op); err != nil {
		if aks.ErrorCode(err) == aks.EUnavailable {
			return later("policy", err)
		}
		e.end(ctx, job, aks.StateCancelled, aks.EventCancelled, nil,
			fmt.Sprintf("Job %s cancelled before it started: the requester may no longer run it (%s). Nothing was sent to %s.", job.ID, userMessage(err), job.Op.Target.CloudName()))
		return job, false
	}
	// A schedule's run is cancelled, not failed, when the policy no longer allows it: the
	// schedule stays, and the next run is checked again.
	refusedRun := func(why string) (aks.Job, bool) {
		e.end(ctx, job, aks.StateCancelled, aks.EventCancelled, nil,
			fmt.Sprintf("Run %s of schedule %s cancelled: %s. Nothing was sent to %s.", job.ID, job.ScheduleRun.Name, why, job.Op.Target.CloudName()))
		return job, false
	}
	plan, err := e.cfg.Cloud.Plan(ctx, job.Op)
	if err != nil {
		if ctx.Err() != nil {
			return job, false
		}
		if code := aks.ErrorCode(err); code == aks.EUnavailable || code == aks.EInternal {
			return later("plan", err)
		}
		if applied, aerr := e.cfg.Cloud.Applied(ctx, job.Op, job.Plan); aerr == nil && applied && job.ScheduleRun != nil {
			e.end(ctx, job, aks.StateSucceeded, aks.EventSucceeded, nil,
				fmt.Sprintf("Job %s succeeded, nothing to change: %s already shows %s (%s). Nothing was sent to it.", job.ID, job.Op.Target.CloudName(), job.Op.Describe(), userMessage(err)))
			return job, false
		} else if aerr == nil && applied {
			// Another job (or someone outside the bot) already made this very change.
			e.end(ctx, job, aks.StateSucceeded, aks.EventSucceeded, nil,
				fmt.Sprintf("Job %s succeeded without a request: %s already shows %s (%s).", job.ID, job.Op.Target.CloudName(), job.Op.Describe(), userMessage(err)))
			return job, false
		}
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "PlanStale",
			Message: "it is no longer possible: " + userMessage(err),
			Hint:    "check /aks show " + job.Op.Target.Cluster + " and ask again if it is still needed"}, "")
		return job, false
	}
	if err := e.assess(ctx, job.Op, &plan); err != nil {
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "PreflightRefused",
			Message: job.Op.Target.CloudName() + " cannot run it now: " + userMessage(err) + ". Nothing was sent to it", Hint: hintOf(err)}, "")
		return job, false
	}
	job.Plan.ETA = plan.ETA
	reqmt, err := e.cfg.Policy.Evaluate(ctx, job.Requester, job.Channel, job.Op, plan)
	if err != nil {
		if aks.ErrorCode(err) == aks.EUnavailable {
			return later("policy", err)
		}
		if job.ScheduleRun != nil {
			return refusedRun("the policy refuses it now: " + userMessage(err))
		}
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "PolicyRefused",
			Message: "the policy refuses it now: " + userMessage(err), Hint: "see /aks policy " + job.Op.Target.Cluster}, "")
		return job, false
	}
	stale := func(why string) (aks.Job, bool) {
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "PlanStale",
			Message: fmt.Sprintf("the plan is stale: %s. Nothing was sent to %s", why, job.Op.Target.CloudName()),
			Hint:    "ask again with the same command for a new plan and approval"}, "")
		return job, false
	}
	if !job.NeedsApproval {
		if reqmt.Approvals > 0 && job.ScheduleRun != nil {
			return refusedRun(fmt.Sprintf("the policy now asks %d approval(s) for it (rule %s), and the schedule was made without", reqmt.Approvals, reqmt.Rule))
		}
		if reqmt.Approvals > 0 {
			return stale(fmt.Sprintf("%s changed since the request (now: %s) and now needs approval", job.Op.Target, plan.Summary))
		}
		job.Plan = plan // nobody approved the old plan: run what is true now
		return job, true
	}
	if job.ScheduleRun == nil {
		if why := planChange(job.Op.Target.CloudName(), job.Plan, plan); why != "" {
			return stale(why)
		}
	}
	valid := 0
	for _, d := range job.Approvals() {
		err := e.cfg.Policy.CanApprove(ctx, d.By, job)
		if aks.ErrorCode(err) == aks.EUnavailable {
			return later("approvers", err)
		}
		if err == nil {
			valid++
		}
	}
	if want := max(reqmt.Approvals, needed(job)); valid < want {
		if job.ScheduleRun != nil {
			return refusedRun(fmt.Sprintf("only %d of the %d approvals it needs still count under the policy", valid, want))
		}
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "ApprovalsNoLongerValid",
			Message: fmt.Sprintf("only %d of the %d approvals it needs still count under the policy (approvers changed since they approved). Nothing was sent to %s", valid, want, job.Op.Target.CloudName()),
			Hint:    "ask again with the same command"}, "")
		return job, false
	}
	if job.ScheduleRun != nil {
		// The schedule's approval covers its runs whatever the state they start from; the
		// request is made from the plan of now.
		eta := job.Plan.ETA
		job.Plan = plan
		job.Plan.ETA = eta
	}
	return job, true
}

// planChange says how Azure's state moved away from an approved plan, or "" when it did not.
func planChange(cloud string, approved, now aks.Plan) string {
	if approved.FromNodes != now.FromNodes && approved.FromNodes >= 0 && now.FromNodes >= 0 {
		return fmt.Sprintf("it was approved to go from %d to %d nodes, but there are %d nodes now", approved.FromNodes, approved.ToNodes, now.FromNodes)
	}
	for i, c := range approved.Changes {
		if i < len(now.Changes) && now.Changes[i].What == c.What && now.Changes[i].From != c.From {
			return fmt.Sprintf("it was approved for %s, but %s shows %s now", c, cloud, now.Changes[i].From)
		}
	}
	if approved.ETag != "" && now.ETag != "" && approved.ETag != now.ETag {
		return "the resource was changed in " + cloud + " after it was approved (its ETag differs)"
	}
	return ""
}

// waitUntilIdle holds a job while its cluster is busy with an operation started outside the
// bot (AKS refuses a second one). It reports once in the thread, and fails the job after
// BusyTimeout. It returns false when the job did not get to run.
func (e *Engine) waitUntilIdle(ctx context.Context, job *aks.Job) bool {
	deadline := e.now().Add(e.cfg.BusyTimeout)
	told := false
	wait := e.busyBackoff()
	for {
		state, err := e.cfg.Cloud.ProvisioningState(ctx, job.Op.Target.ClusterOnly())
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			e.logFor(*job).Warn("read cluster state before start", "err", err)
		} else if !aks.InProgress(state) {
			return true
		} else if e.now().After(deadline) {
			e.end(ctx, *job, aks.StateFailed, aks.EventFailed, &aks.JobError{
				Code:    "ClusterBusy",
				Message: fmt.Sprintf("the cluster stayed busy (%s) for %s", state, views.Elapsed(e.cfg.BusyTimeout)),
				Hint:    "see what is running with " + job.Op.Target.ShowCommand() + ", then ask again",
			}, "")
			return false
		} else if !told {
			told = true
			e.report(ctx, *job, aks.Event{JobID: job.ID, At: e.now(), Kind: aks.EventBusy,
				Message: fmt.Sprintf("Waiting: %s is busy in %s (%s), probably with an operation started outside the bot. Trying again until %s.",
					job.Op.Target.Cluster, job.Op.Target.CloudName(), state, deadline.UTC().Format("15:04 MST"))})
		}
		if !sleep(ctx, wait.next()) {
			return false
		}
	}
}

// backoff is a wait that grows by half each time, up to a ceiling: an operation started
// outside the bot may take minutes, and asking Azure every few seconds meanwhile helps nobody.
type backoff struct{ wait, most time.Duration }

func (b *backoff) next() time.Duration {
	d := b.wait
	b.wait = min(b.wait*3/2, b.most)
	return d
}

// busyBackoff is how a job waits for a cluster that is busy: from the poll interval up to two
// minutes (or the poll interval, when that is longer).
func (e *Engine) busyBackoff() *backoff {
	return &backoff{wait: e.cfg.PollInterval, most: max(2*time.Minute, e.cfg.PollInterval)}
}

// begin sends the job's request to Azure and stores the resume token. It returns ok=false when
// the job ended (Azure refused it) or ctx is done.
func (e *Engine) begin(ctx context.Context, job aks.Job) (aks.Job, Operation, bool) {
	deadline := e.now().Add(e.cfg.BusyTimeout)
	told := false
	wait := e.busyBackoff()
	for {
		var ok bool
		if job, ok = e.holdLane(ctx, job); !ok {
			return job, nil, false
		}
		op, err := e.cfg.Cloud.Begin(ctx, job.Op, job.Plan, aks.RequestToken(job))
		if err == nil {
			return e.started(ctx, job, op)
		}
		if ctx.Err() != nil {
			return job, nil, false // stored as sent: the next start reconciles with Azure
		}
		var az *aks.AzureError
		switch {
		case errors.As(err, &az) && busy(err, az) && e.now().Before(deadline):
			if !told {
				told = true
				e.report(ctx, job, aks.Event{JobID: job.ID, At: e.now(), Kind: aks.EventBusy,
					Message: fmt.Sprintf("%s says another operation is in progress on %s (%s). Trying again until %s.",
						job.Op.Target.CloudName(), job.Op.Target.Cluster, az.Message, deadline.UTC().Format("15:04 MST"))})
			}
			if !sleep(ctx, wait.next()) {
				return job, nil, false
			}
		case errors.As(err, &az) && !retryable(az) && !lostCreate(job, err, az),
			!errors.As(err, &az) && aks.ErrorCode(err) != aks.EInternal:
			e.fail(ctx, job, err)
			return job, nil, false
		default:
			// Throttled, a server error, a create that Azure says exists already (the SDK
			// retried a create whose answer was lost), or no answer at all: the request may or
			// may not have been applied.
			// Look at the resource instead of guessing, the same way a restart does.
			e.logFor(job).Warn("Azure request outcome unknown; reconciling", "err", err)
			if !sleep(ctx, e.cfg.RetryDelay) {
				return job, nil, false
			}
			return e.reconcile(ctx, job)
		}
	}
}

// holdLane proves, right before a request goes to Azure, that this replica still owns the job's
// lane: it stores the job again (only its time changes) with the lane's fence. A replica that
// lost the lane while it slept between tries, or was paused past its lease, is refused here and
// sends nothing; the new owner reconciles with Azure instead. What remains is the time between
// this write and the request leaving the process (a pause of exactly there can still send one
// request the new owner also sends; Azure's If-Match on the plan's ETag then refuses one of the
// two updates, and a create carries If-None-Match). With one process there is no fence and
// nothing to prove.
func (e *Engine) holdLane(ctx context.Context, job aks.Job) (aks.Job, bool) {
	if _, fenced := aks.FenceFrom(ctx); !fenced {
		return job, true
	}
	job.UpdatedAt = e.now()
	stored, err := e.saveRunning(ctx, job, nil)
	if errors.Is(err, aks.ErrFenced) {
		e.logFor(job).Warn("lost the lane before sending to Azure; the new owner takes the job over")
		return job, false
	}
	if err != nil {
		e.logFor(job).Error("could not confirm the lane before sending to Azure; not sending", "err", err)
		sleep(ctx, e.cfg.RetryDelay)
		return job, false
	}
	return stored, true
}

// started stores the resume token right after Azure accepted the operation and reports it.
func (e *Engine) started(ctx context.Context, job aks.Job, op Operation) (aks.Job, Operation, bool) {
	token, err := op.ResumeToken()
	if err != nil {
		e.logFor(job).Warn("operation has no resume token; following the resource state instead", "err", err)
	}
	state, _ := e.cfg.Cloud.ProvisioningState(ctx, job.Op.Target)
	now := e.now()
	job.ResumeToken, job.ProvisioningState, job.UpdatedAt = token, state, now
	job.OperationID = op.OperationID()
	ev := aks.Event{At: now, Kind: aks.EventStarted, From: aks.StateRunning, To: aks.StateRunning,
		Message: fmt.Sprintf("Started in %s (provisioning state: %s). %s; the status above refreshes about every %s.",
			job.Op.Target.CloudName(), orUnknown(state), startETA(job), views.Elapsed(e.cfg.ProgressInterval))}
	stored, err := e.saveRunning(ctx, job, &ev)
	if errors.Is(err, aks.ErrFenced) {
		e.logFor(job).Warn("lost the lane after sending; the new owner follows the operation")
		return job, nil, false
	}
	if err != nil {
		e.logFor(job).Error("could not store resume token; following the operation in memory", "err", err)
		stored = job
	}
	ev.JobID = stored.ID
	e.report(ctx, stored, ev)
	if token == "" {
		return stored, nil, true
	}
	return stored, op, true
}

// resume picks a running job up after a restart: from its resume token when it has one, else by
// looking at what Azure shows.
func (e *Engine) resume(ctx context.Context, job aks.Job) (aks.Job, Operation, bool) {
	// Store that this replica picked the job up before anything else: the write carries the
	// lane's fence, so of two replicas that both believe they own the lane only one gets past
	// it, and the job's events say who followed it from here.
	now := e.now()
	ev := aks.Event{At: now, Kind: aks.EventResumed, From: aks.StateRunning, To: aks.StateRunning}
	switch {
	case !job.Sent:
		ev.Message = "Picked up again after the bot restarted; the request had not been sent yet, so it is sent now."
	case job.ResumeToken == "":
		ev.Message = "Picked up again after the bot restarted; looking at " + job.Op.Target.CloudName() + " to see whether the request arrived before following it."
	default:
		ev.Message = "Picked up again after the bot restarted; still following the " + job.Op.Target.CloudName() + " operation."
	}
	job.UpdatedAt, job.Replica = now, e.coord.ReplicaID()
	stored, err := e.saveRunning(ctx, job, &ev)
	if errors.Is(err, aks.ErrFenced) {
		e.logFor(job).Warn("lost the lane while resuming; the new owner follows the operation")
		return job, nil, false
	}
	if err != nil {
		e.logFor(job).Error("could not store resume", "err", err)
		stored = job
	}
	ev.JobID = stored.ID
	e.report(ctx, stored, ev)

	switch {
	case !stored.Sent:
		return e.begin(ctx, stored)
	case stored.ResumeToken == "":
		return e.reconcile(ctx, stored)
	}
	op, err := e.cfg.Cloud.Resume(ctx, stored.Op, stored.ResumeToken)
	if err != nil {
		e.logFor(stored).Warn("could not resume from token; following the resource state", "err", err)
		op = nil
	}
	return stored, op, true
}

// reconcile decides what to do with a job whose request may have been sent but whose token was
// not stored (a crash, or a request whose answer was lost). It looks at Azure instead of
// guessing: an operation in progress is followed; a resource at rest that already shows what
// the job asks for means the request arrived and finished; one that does not means the request
// never arrived, and only then is it sent again. So a create or a scale is never applied twice.
func (e *Engine) reconcile(ctx context.Context, job aks.Job) (aks.Job, Operation, bool) {
	for {
		state, err := e.cfg.Cloud.ProvisioningState(ctx, job.Op.Target)
		if err == nil && aks.InProgress(state) {
			return e.replay(ctx, job) // or followState takes it from here
		}
		var applied bool
		if err == nil {
			applied, err = e.cfg.Cloud.Applied(ctx, job.Op, job.Plan)
		}
		if err != nil {
			e.logFor(job).Warn("reconcile with Azure; will try again", "err", err)
			if !sleep(ctx, e.cfg.RetryDelay) {
				return job, nil, false
			}
			continue
		}
		switch {
		case applied:
			e.logFor(job).Info("reconciled: Azure already shows the change", "state", state)
			return job, nil, true // followState sees the resource at rest and ends the job
		case state == "Failed" || state == "Canceled":
			return job, nil, true // the request arrived and did not succeed: followState says so
		default:
			e.logFor(job).Info("reconciled: Azure never got the request; sending it", "state", state)
			return e.begin(ctx, job)
		}
	}
}

// replay sends a busy target's job request again, with the job's request token, to a cloud that
// answers a request it has seen with the operation that request started (aks.Replayer): the job
// then follows its operation by ID. If the cloud refuses (another operation runs, or it forgot
// the token), or cannot replay, the job follows the target's state as with any cloud.
func (e *Engine) replay(ctx context.Context, job aks.Job) (aks.Job, Operation, bool) {
	r, ok := e.cfg.Cloud.(aks.Replayer)
	if !ok || !r.Replays(job.Op) {
		return job, nil, true
	}
	if job, ok = e.holdLane(ctx, job); !ok {
		return job, nil, false
	}
	op, err := e.cfg.Cloud.Begin(ctx, job.Op, job.Plan, aks.RequestToken(job))
	if err != nil {
		if ctx.Err() != nil {
			return job, nil, false
		}
		e.logFor(job).Info("reconciled: the target is busy and the request was not taken as the job's own; following the target's state", "err", err)
		return job, nil, true
	}
	e.logFor(job).Info("reconciled: the cloud answered the repeated request with the job's operation", "operation", op.OperationID())
	return e.started(ctx, job, op)
}

// follow polls an Azure operation until it ends, refreshing the status card at a calm rate.
func (e *Engine) follow(ctx context.Context, job aks.Job, op Operation, firstPoll time.Duration) {
	lastProgress := e.now()
	var retryAfter time.Duration
	for polls := 0; ; polls++ {
		wait := max(e.cfg.PollInterval, retryAfter)
		if polls == 0 {
			wait = firstPoll
			if firstPoll > 0 {
				wait = max(firstPoll, op.FirstPollAfter())
			}
		}
		if !sleep(ctx, wait) {
			return
		}
		done, ra, err := op.Poll(ctx)
		retryAfter = ra
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var az *aks.AzureError
			if errors.As(err, &az) && !retryable(az) {
				e.fail(ctx, job, err)
				return
			}
			e.logFor(job).Warn("poll failed; will poll again", "err", err)
			continue
		}
		if done {
			break
		}
		if e.now().Sub(lastProgress) >= e.cfg.ProgressInterval {
			job = e.progress(ctx, job)
			lastProgress = e.now()
		}
		job = e.flagSlow(ctx, job)
	}
	for {
		err := op.Result(ctx)
		if ctx.Err() != nil {
			return
		}
		var az *aks.AzureError
		if err == nil || errors.As(err, &az) {
			if err == nil {
				e.succeed(ctx, job)
			} else {
				e.fail(ctx, job, err)
			}
			return
		}
		e.logFor(job).Warn("read operation result; will retry", "err", err)
		if !sleep(ctx, e.cfg.RetryDelay) {
			return
		}
	}
}

// followState follows a job by the resource's provisioning state alone, for operations the bot
// has no poller for (adopted after a crash before the token was stored).
func (e *Engine) followState(ctx context.Context, job aks.Job) {
	lastProgress := e.now()
	for {
		state, err := e.cfg.Cloud.ProvisioningState(ctx, job.Op.Target)
		if ctx.Err() != nil {
			return
		}
		if err == nil && !aks.InProgress(state) {
			switch {
			case state == "Succeeded",
				state == "NotFound" && (job.Op.Kind == aks.OpClusterDelete || job.Op.Kind == aks.OpPoolDelete || job.Op.Kind == aks.OpNodegroupDelete):
				e.succeed(ctx, job)
			default:
				e.fail(ctx, job, &aks.AzureError{Code: "ProvisioningState" + state,
					Message: fmt.Sprintf("%s shows the resource as %s after the operation", job.Op.Target.CloudName(), state)})
			}
			return
		}
		if e.now().Sub(lastProgress) >= e.cfg.ProgressInterval {
			job = e.progress(ctx, job)
			lastProgress = e.now()
		}
		job = e.flagSlow(ctx, job)
		if !sleep(ctx, e.cfg.PollInterval) {
			return
		}
	}
}

// progress reads the provisioning state, keeps it on the job and refreshes the status card.
// Progress is not a transition, so it is reported but not stored as an event.
func (e *Engine) progress(ctx context.Context, job aks.Job) aks.Job {
	state, err := e.cfg.Cloud.ProvisioningState(ctx, job.Op.Target)
	if err != nil {
		return job
	}
	if state != job.ProvisioningState {
		job.ProvisioningState = state
		job.UpdatedAt = e.now()
		if stored, err := e.saveRunning(ctx, job, nil); err == nil {
			job = stored
		}
	}
	e.report(ctx, job, aks.Event{JobID: job.ID, At: e.now(), Kind: aks.EventProgress,
		Message: fmt.Sprintf("%[1]s: %[2]s · %[3]s elapsed · next: waiting for %[1]s to finish (%[4]s).",
			job.Op.Target.CloudName(), orUnknown(state), views.Elapsed(e.now().Sub(job.StartedAt)), expectedEnd(job))})
	return job
}

// DefaultSlowAfter is when a running job of each kind is flagged as slow: about twice what AKS
// usually needs, so that a flag means something is worth a look.
var DefaultSlowAfter = map[aks.OpKind]time.Duration{
	aks.OpClusterCreate:  20 * time.Minute,
	aks.OpClusterDelete:  30 * time.Minute,
	aks.OpClusterUpgrade: 2 * time.Hour,
	aks.OpClusterStart:   20 * time.Minute,
	aks.OpClusterStop:    20 * time.Minute,
	aks.OpPoolAdd:        10 * time.Minute,
	aks.OpPoolScale:      10 * time.Minute,
	aks.OpPoolAutoscale:  10 * time.Minute,
	aks.OpPoolDelete:     30 * time.Minute,
	aks.OpPoolUpgrade:    2 * time.Hour,

	aks.OpNodegroupCreate:  15 * time.Minute,
	aks.OpNodegroupScale:   10 * time.Minute,
	aks.OpNodegroupUpgrade: 2 * time.Hour,
	aks.OpNodegroupDelete:  20 * time.Minute,
}

// flagSlow tells the thread, once, that a job runs longer than usual. The job is not failed:
// AKS operations do take longer at times, and the bot keeps following it.
func (e *Engine) flagSlow(ctx context.Context, job aks.Job) aks.Job {
	limit := e.slowAfter(job)
	took := e.now().Sub(job.StartedAt)
	if job.SlowReported || limit <= 0 || job.StartedAt.IsZero() || took < limit {
		return job
	}
	job.SlowReported = true
	ev := aks.Event{At: e.now(), Kind: aks.EventSlow, From: job.State, To: job.State,
		Message: fmt.Sprintf("Still running after %s, longer than the %s this usually takes. The bot keeps following it; check %s or %s if it seems stuck.",
			views.Elapsed(took), views.Elapsed(limit), job.Op.Target.ShowCommand(), job.Op.Target.ActivityLog())}
	stored, err := e.saveRunning(ctx, job, &ev)
	if err != nil {
		e.logFor(job).Warn("could not store the slow flag; will try again", "err", err)
		job.SlowReported = false
		return job
	}
	ev.JobID = stored.ID
	e.logFor(stored).Warn("job is slow", "running", took)
	e.report(ctx, stored, ev)
	return stored
}

func (e *Engine) succeed(ctx context.Context, job aks.Job) {
	took := views.Elapsed(e.now().Sub(job.StartedAt))
	job.ProvisioningState = "Succeeded"
	e.end(ctx, job, aks.StateSucceeded, aks.EventSucceeded, nil,
		fmt.Sprintf("Job %s succeeded in %s: %s.", job.ID, took, job.Plan.Summary))
}

func (e *Engine) fail(ctx context.Context, job aks.Job, err error) {
	if az := (*aks.AzureError)(nil); errors.As(err, &az) && canceled(az) && job.Sent {
		e.cancelledInAzure(ctx, job)
		return
	}
	jerr := jobError(job, err)
	msg := fmt.Sprintf("Job %s failed: %s", job.ID, jerr.Message)
	if jerr.Code != "" {
		msg = fmt.Sprintf("Job %s failed: %s said %s: %s", job.ID, job.Op.Target.CloudName(), jerr.Code, jerr.Message)
	}
	if jerr.Hint != "" {
		msg += " Next: " + jerr.Hint
	}
	e.logFor(job).Info("job failed", "err", err)
	e.end(ctx, job, aks.StateFailed, aks.EventFailed, &jerr, msg)
}

// end stores a job's final state (retrying until stored or ctx is done: an outcome Azure gave
// must not be lost) and reports it once.
func (e *Engine) end(ctx context.Context, job aks.Job, state aks.JobState, kind aks.EventKind, jerr *aks.JobError, msg string) {
	if msg == "" && jerr != nil {
		msg = fmt.Sprintf("Job %s failed: %s.", job.ID, strings.TrimSuffix(jerr.Message, "."))
		if jerr.Hint != "" {
			msg += " Next: " + capitalise(jerr.Hint) + "."
		}
	}
	for {
		now := e.now()
		final := job
		final.State, final.Error, final.FinishedAt, final.UpdatedAt = state, jerr, now, now
		ev := aks.Event{At: now, Kind: kind, From: job.State, To: state, Message: msg}
		stored, err := e.update(ctx, final, &ev)
		if err == nil {
			e.logFor(stored).Info("job ended", "state", stored.State)
			e.transition(stored, job.State)
			if job.State == aks.StateRunning && !job.StartedAt.IsZero() {
				e.observer().OperationFinished(job.Op.Kind, state, now.Sub(job.StartedAt))
			}
			e.finishReport(ctx, stored, ev)
			return
		}
		if errors.Is(err, aks.ErrFenced) {
			// The new owner of the lane looks at Azure again and stores the end itself.
			e.logFor(job).Warn("lost the lane before storing the end; the new owner ends the job")
			return
		}
		if errors.Is(err, ErrConflict) {
			fresh, gerr := e.cfg.Store.Job(ctx, job.ID)
			if gerr == nil {
				if fresh.State.Final() {
					return
				}
				job = fresh
				continue
			}
		}
		e.logFor(job).Error("could not store job end; retrying", "err", err)
		if !sleep(ctx, e.cfg.RetryDelay) {
			return
		}
	}
}

// saveRunning stores a running job's progress, re-reading it on a version conflict (the other
// writers of a running job: an abort, and the record that its end was reported). A write refused
// by the lane's fence (aks.ErrFenced) is returned at once: the caller must stop.
func (e *Engine) saveRunning(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	for i := 0; ; i++ {
		stored, err := e.update(ctx, job, ev)
		if !errors.Is(err, ErrConflict) || i == 3 {
			return stored, err
		}
		fresh, gerr := e.cfg.Store.Job(ctx, job.ID)
		if gerr != nil {
			return job, gerr
		}
		fresh.ResumeToken, fresh.ProvisioningState, fresh.UpdatedAt = job.ResumeToken, job.ProvisioningState, job.UpdatedAt
		fresh.OperationID, fresh.SlowReported = job.OperationID, job.SlowReported
		job = fresh
	}
}

// jobError turns an error into what the user sees: Azure's code and message and a next step.
func jobError(job aks.Job, err error) aks.JobError {
	var az *aks.AzureError
	if errors.As(err, &az) {
		return aks.JobError{Code: az.Code, Message: az.Message, Hint: hintFor(job, az)}
	}
	var ae *aks.Error
	if errors.As(err, &ae) {
		return aks.JobError{Message: ae.Message, Hint: ae.Hint}
	}
	return aks.JobError{Message: "an unexpected error: see the bot's logs", Hint: "check " + job.Op.Target.ShowCommand() + " and try again"}
}

func hintFor(job aks.Job, az *aks.AzureError) string {
	show := job.Op.Target.ShowCommand()
	switch {
	case busy(nil, az):
		return "another operation is running on the cluster; check " + show + " and ask again when it has finished"
	case az.Code == "PreconditionFailed" || az.Code == "EtagMismatch":
		return "the resource changed since the plan was made; check " + show + " and ask again"
	case strings.Contains(az.Code, "Quota"):
		return "request a quota increase for this VM family in the region, or use fewer or smaller nodes"
	case job.Op.Target.IsEKS() && (az.StatusCode == 403 || az.Code == "AccessDeniedException"):
		return "the bot's IAM role lacks a permission for this; ask an admin to grant it (see the README's EKS section)"
	case az.StatusCode == 403 || az.Code == "AuthorizationFailed":
		return "the bot's identity lacks a role on this resource group; ask an admin to grant it (see the README)"
	case az.StatusCode == 400:
		if job.Op.Target.IsEKS() {
			return "fix the request as EKS says and ask again (/eks help)"
		}
		return "fix the request as Azure says and ask again (/aks help)"
	}
	return "check " + show + " and " + job.Op.Target.ActivityLog() + ", then ask again"
}

// busy reports whether Azure refused because another operation runs on the cluster.
func busy(err error, az *aks.AzureError) bool {
	return errors.Is(err, aks.ErrBusy) || az.Code == "OperationNotAllowed" || (az.StatusCode == 409 && strings.Contains(az.Message, "in progress"))
}

// lostCreate reports whether Azure refused a create because the resource exists: after a lost
// answer the SDK sends the PUT again, and If-None-Match makes the second one fail.
func lostCreate(job aks.Job, err error, az *aks.AzureError) bool {
	switch job.Op.Kind {
	case aks.OpClusterCreate, aks.OpPoolAdd:
		return az.StatusCode == 412 || az.Code == "PreconditionFailed"
	case aks.OpNodegroupCreate:
		return errors.Is(err, aks.ErrExists)
	}
	return false
}

// retryable reports whether a failed poll may succeed later (throttling, server errors).
func retryable(az *aks.AzureError) bool {
	return az.StatusCode == 0 || az.StatusCode == 408 || az.StatusCode == 429 || az.StatusCode >= 500
}

func typicalDuration(k aks.OpKind) string {
	switch k {
	case aks.OpClusterCreate:
		return "5-10 minutes"
	case aks.OpPoolScale, aks.OpPoolAutoscale, aks.OpPoolAdd, aks.OpNodegroupScale:
		return "2-5 minutes"
	case aks.OpNodegroupCreate:
		return "3-6 minutes"
	case aks.OpNodegroupDelete:
		return "3-10 minutes"
	case aks.OpClusterStart, aks.OpClusterStop:
		return "5-10 minutes"
	case aks.OpClusterDelete, aks.OpPoolDelete:
		return "5-15 minutes"
	default:
		return "10-60 minutes"
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// hintOf is an *aks.Error's hint, or "".
func hintOf(err error) string {
	var ae *aks.Error
	if errors.As(err, &ae) {
		return ae.Hint
	}
	return ""
}

func userMessage(err error) string {
	var ae *aks.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}
