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
	req.Op.Target = e.inDefault(req.Op.Target)
	return e.prepare(ctx, req, true)
}
