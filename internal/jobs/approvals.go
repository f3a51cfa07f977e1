package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// DefaultApprovalTimeout is how long a job waits for its approvals when the policy does not say.
const DefaultApprovalTimeout = time.Hour

// Decide records an approval or a denial by user. Only a job awaiting approval can be decided,
// only by someone the policy allows (never the requester), and each person counts once. A job
// that needs N approvals stays waiting until N different approvers have approved; one denial
// ends it.
func (e *Engine) Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) (aks.Job, error) {
	for {
		job, err := e.job(ctx, jobID)
		if err != nil {
			return aks.Job{}, err
		}
		if job.State != aks.StateAwaitingApproval {
			return job, e.refuseDecision(ctx, job, user, aks.Errorf(aks.EConflict, "job %s is already %s; nothing changed", job.ID, job.State.Words()))
		}
		now := e.now()
		if expired(job, now) {
			e.expire(ctx, job)
			return job, e.refuseDecision(ctx, job, user, aks.Errorf(aks.EConflict, "job %s expired at %s before it was approved; nothing changed", job.ID, job.ExpiresAt.UTC().Format("15:04 MST")))
		}
		if err := e.cfg.Policy.CanApprove(ctx, user, job); err != nil {
			return job, e.refuseDecision(ctx, job, user, err)
		}
		for _, d := range job.Decisions {
			if d.By.ID == user.ID {
				return job, e.refuseDecision(ctx, job, user, aks.Errorf(aks.EConflict, "you already approved job %s; each approver counts once", job.ID))
			}
		}
		job.Decisions = append(job.Decisions, aks.Decision{By: user, At: now, Approve: approve, Reason: reason})
		job.UpdatedAt = now
		ev := aks.Event{At: now, Actor: user, From: job.State}
		switch {
		case !approve:
			job.State, job.FinishedAt = aks.StateDenied, now
			ev.Kind = aks.EventDenied
			ev.Message = fmt.Sprintf("Job %s denied by <@%s>.", job.ID, user.ID)
			if reason != "" {
				// The reason is typed by a person: escaped, it cannot mention @channel or a user.
				ev.Message += " Reason: " + mrkdwnEscaper.Replace(reason)
			}
		case len(job.Approvals()) < needed(job):
			ev.Kind = aks.EventApproved
			ev.Message = fmt.Sprintf("Approved by <@%s> (%d of %d). Waiting for %d more from %s.",
				user.ID, len(job.Approvals()), needed(job), needed(job)-len(job.Approvals()), orList(job.Approvers))
		default:
			job.State = aks.StateQueued
			ev.Kind = aks.EventApproved
			ev.Message = fmt.Sprintf("Approved by %s. Queued: it starts when no other operation runs on %s.",
				approverList(job), job.Op.Target.Cluster)
		}
		ev.To = job.State
		stored, err := e.update(ctx, job, &ev)
		if errors.Is(err, ErrConflict) {
			continue // someone else changed it: look again
		}
		if err != nil {
			return job, storeFailure(err)
		}
		e.logFor(stored).Info("job decided", "by", user.ID, "approve", approve, "state", stored.State)
		if stored.State != aks.StateAwaitingApproval {
			e.transition(stored, aks.StateAwaitingApproval)
			e.observer().ApprovalWait(stored.Op.Kind, stored.State, now.Sub(stored.CreatedAt))
		}
		if stored.State.Final() {
			e.finishReport(ctx, stored, ev)
		} else {
			e.report(ctx, stored, ev)
			if stored.State == aks.StateQueued {
				e.kick(stored.Op.Target.ClusterKey())
			}
		}
		return stored, nil
	}
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// needed is how many approvals a job needs; jobs stored before N approvals existed need one.
func needed(job aks.Job) int {
	if !job.NeedsApproval {
		return 0
	}
	return max(job.ApprovalsNeeded, 1)
}

// approverList names who approved a job: "<@U1>" or "<@U1> and <@U2>".
func approverList(job aks.Job) string {
	var ids []string
	for _, d := range job.Approvals() {
		ids = append(ids, "<@"+d.By.ID+">")
	}
	return andList(ids)
}

func expired(job aks.Job, now time.Time) bool {
	return job.State == aks.StateAwaitingApproval && !job.ExpiresAt.IsZero() && !now.Before(job.ExpiresAt)
}

// refuseDecision records a refused decision in the audit log and returns err for the user.
func (e *Engine) refuseDecision(ctx context.Context, job aks.Job, user aks.User, err error) error {
	e.audit(ctx, aks.AuditRecord{At: e.now(), Action: aks.AuditDecisionRefused, User: user, Channel: job.Channel,
		JobID: job.ID, Op: job.Op.Kind, Target: job.Op.Target, Subscription: cmp.Or(job.Plan.Subscription, job.Op.Target.Subscription),
		Plan: job.Plan.Summary, Rule: job.Rule, Detail: userMessage(err), State: job.State})
	return err
}

// audit appends a record that has no job event (the store records those itself).
func (e *Engine) audit(ctx context.Context, rec aks.AuditRecord) {
	if e.cfg.Audit == nil {
		return
	}
	if err := e.cfg.Audit.AppendAudit(ctx, rec); err != nil {
		e.log.Error("could not append to the audit log", "action", rec.Action, "job", rec.JobID, "user", rec.User.ID, "err", err)
	}
}

// Cancel ends a job that has not started in Azure: one waiting for approval or in its cluster's
// queue. The requester or an approver may cancel.
func (e *Engine) Cancel(ctx context.Context, jobID string, user aks.User) (aks.Job, error) {
	for {
		job, err := e.job(ctx, jobID)
		if err != nil {
			return aks.Job{}, err
		}
		switch job.State {
		case aks.StateAwaitingApproval, aks.StateQueued:
		case aks.StateRunning:
			return job, e.refuseDecision(ctx, job, user, &aks.Error{Code: aks.EConflict,
				Message: fmt.Sprintf("job %s is already running in %s and cannot be cancelled", job.ID, job.Op.Target.CloudName()),
				Hint:    stopHint(job)})
		default:
			return job, e.refuseDecision(ctx, job, user, aks.Errorf(aks.EConflict, "job %s is already %s; nothing changed", job.ID, job.State.Words()))
		}
		if user.ID != job.Requester.ID {
			if err := e.cfg.Policy.CanApprove(ctx, user, job); err != nil {
				return job, e.refuseDecision(ctx, job, user, aks.Errorf(aks.EUnauthorized, "only the requester <@%s> or an approver can cancel job %s", job.Requester.ID, job.ID))
			}
		}
		now := e.now()
		from := job.State
		ev := aks.Event{At: now, Kind: aks.EventCancelled, Actor: user, From: job.State, To: aks.StateCancelled,
			Message: fmt.Sprintf("Job %s cancelled by <@%s> before it started; nothing was sent to %s.", job.ID, user.ID, job.Op.Target.CloudName())}
		job.State, job.UpdatedAt, job.FinishedAt = aks.StateCancelled, now, now
		stored, err := e.update(ctx, job, &ev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return job, storeFailure(err)
		}
		e.logFor(stored).Info("job cancelled", "by", user.ID)
		e.transition(stored, from)
		e.finishReport(ctx, stored, ev)
		return stored, nil
	}
}

// expire ends a job whose approvals did not come in time.
func (e *Engine) expire(ctx context.Context, job aks.Job) {
	for {
		now := e.now()
		if !expired(job, now) {
			return
		}
		msg := fmt.Sprintf("Job %s expired: it waited for approval until %s and got %d of %d. Nothing was sent to %s; ask again if it is still needed.",
			job.ID, job.ExpiresAt.UTC().Format("15:04 MST"), len(job.Approvals()), needed(job), job.Op.Target.CloudName())
		ev := aks.Event{At: now, Kind: aks.EventExpired, From: job.State, To: aks.StateExpired, Message: msg}
		final := job
		final.State, final.UpdatedAt, final.FinishedAt = aks.StateExpired, now, now
		stored, err := e.update(ctx, final, &ev)
		if errors.Is(err, ErrConflict) {
			fresh, gerr := e.cfg.Store.Job(ctx, job.ID)
			if gerr != nil {
				return
			}
			job = fresh
			continue
		}
		if err != nil {
			e.logFor(job).Error("could not store that the job expired; will try again", "err", err)
			return
		}
		e.logFor(stored).Info("job expired")
		e.transition(stored, aks.StateAwaitingApproval)
		e.observer().ApprovalWait(stored.Op.Kind, aks.StateExpired, now.Sub(stored.CreatedAt))
		e.finishReport(ctx, stored, ev)
		return
	}
}

// expireDue ends every job whose approval time is over.
func (e *Engine) expireDue(ctx context.Context) {
	waiting, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateAwaitingApproval}})
	if err != nil {
		e.log.Warn("list jobs awaiting approval", "err", err)
		return
	}
	now := e.now()
	for _, job := range waiting {
		if expired(job, now) && ctx.Err() == nil {
			e.expire(ctx, job)
		}
	}
}

// stopHint says how to stop a job that is running already: AKS operations can be aborted;
// EKS node-group updates cannot, so the way back is another change.
func stopHint(job aks.Job) string {
	if job.Op.Target.IsEKS() {
		return "EKS cannot abort a node-group update; wait for it to end, then ask for the change that undoes it"
	}
	return "to stop the Azure operation, use /aks abort " + job.Op.Target.Cluster
}
