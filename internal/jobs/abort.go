package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/aksbot/aksbot/internal/aks"
)

// Abort asks Azure to abort the operation of the job running on t's cluster. The requester of
// that job or anyone who may approve it may abort. The job keeps following the operation and
// ends "cancelled" once Azure confirms the abort (or "succeeded" if the operation finished
// first: Azure's word is final).
func (e *Engine) Abort(ctx context.Context, t aks.Target, user aks.User) (aks.Job, error) {
	t = e.inDefault(t)
	key := t.ClusterKey()
	running, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateRunning}, ClusterKey: key})
	if err != nil {
		return aks.Job{}, &aks.Error{Code: aks.EUnavailable, Message: "could not read the running jobs", Err: err}
	}
	if len(running) == 0 {
		return aks.Job{}, &aks.Error{Code: aks.EConflict,
			Message: fmt.Sprintf("no job of the bot is running on %s, so there is nothing to abort", t.Cluster),
			Hint:    "/aks jobs shows what is queued (cancel those with /aks cancel ID); an operation started outside the bot can be aborted with `az aks operation-abort`"}
	}
	job := running[0]
	if user.ID != job.Requester.ID {
		if err := e.cfg.Policy.CanApprove(ctx, user, job); err != nil {
			return job, e.refuseDecision(ctx, job, user, &aks.Error{Code: aks.EUnauthorized,
				Message: fmt.Sprintf("only the requester <@%s> or an approver can abort job %s", job.Requester.ID, job.ID), Err: err})
		}
	}
	if job.AbortedBy != nil {
		return job, aks.Errorf(aks.EConflict, "<@%s> already asked Azure to abort job %s; it ends once Azure confirms", job.AbortedBy.ID, job.ID)
	}
	if !job.Sent {
		return job, aks.Errorf(aks.EConflict, "job %s is about to be sent to Azure; try again in a moment", job.ID)
	}
	// Azure first: an abort stored but never sent would claim something that did not happen.
	if err := e.cfg.Cloud.Abort(ctx, job.Op.Target); err != nil {
		e.logFor(job).Warn("abort refused by Azure", "by", user.ID, "err", err)
		return job, err
	}
	for {
		now := e.now()
		u := user
		job.AbortedBy, job.UpdatedAt = &u, now
		ev := aks.Event{At: now, Kind: aks.EventAbort, Actor: user, From: job.State, To: job.State,
			Message: fmt.Sprintf("<@%s> asked Azure to abort the operation. The job ends once Azure confirms; what was already changed stays changed.", user.ID)}
		stored, err := e.update(ctx, job, &ev)
		if errors.Is(err, ErrConflict) {
			fresh, gerr := e.cfg.Store.Job(ctx, job.ID)
			if gerr != nil || fresh.State != aks.StateRunning {
				return fresh, nil // it ended meanwhile; its end is reported as usual
			}
			job = fresh
			continue
		}
		if err != nil {
			// Azure is aborting anyway; the job's end will say so.
			e.logFor(job).Error("could not store the abort request", "by", user.ID, "err", err)
			return job, nil
		}
		e.logFor(stored).Info("abort requested", "by", user.ID)
		e.report(ctx, stored, ev)
		return stored, nil
	}
}

// canceled reports whether Azure says the operation was aborted.
func canceled(az *aks.AzureError) bool {
	switch az.Code {
	case "Canceled", "Cancelled", "OperationCanceled", "ProvisioningStateCanceled", "ProvisioningStateCancelled":
		return true
	}
	return false
}

// cancelledInAzure ends a job whose Azure operation was aborted.
func (e *Engine) cancelledInAzure(ctx context.Context, job aks.Job) {
	by := "someone outside the bot"
	if fresh, err := e.cfg.Store.Job(ctx, job.ID); err == nil {
		job = fresh
	}
	if job.AbortedBy != nil {
		by = "<@" + job.AbortedBy.ID + ">"
	}
	job.ProvisioningState = "Canceled"
	e.end(ctx, job, aks.StateCancelled, aks.EventCancelled, nil,
		fmt.Sprintf("Job %s cancelled: Azure aborted the operation, as asked by %s. What Azure changed before the abort stays; check /aks show %s.",
			job.ID, by, job.Op.Target.Cluster))
}
