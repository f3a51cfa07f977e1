package jobs

import (
	"context"

	"github.com/aksbot/aksbot/internal/aks"
)

// assess fills the plan's cost, quota and ETA. It returns an *aks.Error when the plan cannot
// run (over quota, a VM size the region does not offer): the request is refused at once, or a
// job about to run fails, before anything is sent to Azure.
func (e *Engine) assess(ctx context.Context, op aks.Operation, plan *aks.Plan) error {
	if e.cfg.Assessor != nil {
		cost, quota, err := e.cfg.Assessor.Assess(ctx, *plan)
		if err != nil {
			return err
		}
		plan.Cost, plan.Quota = cost, quota
	}
	plan.ETA = e.estimate(ctx, op, *plan)
	return nil
}
