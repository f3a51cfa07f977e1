package jobs

import (
	"context"

	"github.com/aksbot/aksbot/internal/aks"
)

// DryRun answers what Submit would do with a request, without storing anything or sending
// anything to Azure (it reads Azure to plan, as Submit does): the job it would make (plan with
// cost, quota and ETA, rule, approvals needed and from whom) and the message the approval
// request would show. Refusals are the same errors Submit returns, not recorded in the audit
// log: a dry run leaves no trace.
func (e *Engine) DryRun(ctx context.Context, req SubmitRequest) (aks.Job, aks.Event, error) {
	return e.prepare(ctx, req, true)
}

// startETA says when a started job should end: "ETA 12:47 UTC (median 6 min of 14 similar
// jobs here; ...)", or AKS's usual range and the end of it.
func startETA(job aks.Job) string {
	est := job.Plan.ETA
	if est == nil {
		return "AKS usually needs " + typicalDuration(job.Op.Kind) + " for this"
	}
	if !est.FromHistory() {
		return "AKS usually needs " + typicalDuration(job.Op.Kind) + " for this (" + est.ETA(job.StartedAt) + ")"
	}
	return est.ETA(job.StartedAt)
}

// expectedEnd is the progress line's expectation: "ETA 12:47 UTC" from history, else AKS's usual
// range ("usually 2-5 minutes").
func expectedEnd(job aks.Job) string {
	if est := job.Plan.ETA; est.FromHistory() && !job.StartedAt.IsZero() {
		return "ETA " + job.StartedAt.Add(est.Median).UTC().Format("15:04 MST")
	}
	return "usually " + typicalDuration(job.Op.Kind)
}
