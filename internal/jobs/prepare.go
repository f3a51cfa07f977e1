package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// prepare checks a request against policy, plans it against Azure's current state, assesses
// the plan (cost, quota, VM size, ETA) and makes the job and its first event, without storing
// anything or sending anything to Azure. Submit stores what it returns; DryRun shows it. Refusals
// are recorded in the audit log unless dry.
func (e *Engine) prepare(ctx context.Context, req SubmitRequest, dry bool) (aks.Job, aks.Event, error) {
	refuse := func(plan aks.Plan, rule string, err error) (aks.Job, aks.Event, error) {
		if dry {
			return aks.Job{}, aks.Event{}, err
		}
		return aks.Job{}, aks.Event{}, e.refuseRequest(ctx, req, plan, rule, err)
	}
	if err := e.cfg.Policy.CanRequest(ctx, req.Requester, req.Channel, req.Op); err != nil {
		return refuse(aks.Plan{}, "", err)
	}
	plan, err := e.cfg.Cloud.Plan(ctx, req.Op)
	if err != nil && req.Schedule != nil && aks.ErrorCode(err) == aks.EInvalid {
		// A schedule is decided on for what its runs will do, and a run may start from another
		// state than now ("stop" while it is stopped): nothing to change now is no refusal.
		plan, err = schedulePlan(req.Op, err), nil
	}
	if err != nil {
		return aks.Job{}, aks.Event{}, fmt.Errorf("plan %s: %w", req.Op.Describe(), err)
	}
	if req.Schedule != nil && req.Op.Kind == aks.OpClusterStart {
		plan.ScaleUp = true // every run of a start schedule adds the cluster's nodes back
	}
	op := req.Op
	if op.Kind.OnPool() && op.Target.Pool == "" {
		op.Target.Pool = plan.Pool
	}
	req.Op = op
	if err := e.assess(ctx, op, &plan); err != nil {
		return refuse(plan, "", err)
	}
	reqmt, err := e.cfg.Policy.Evaluate(ctx, req.Requester, req.Channel, op, plan)
	if err != nil {
		return refuse(plan, reqmt.Rule, err)
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
		Rule:          reqmt.Rule,
		State:         aks.StateQueued,
	}
	if req.Schedule != nil {
		change := *req.Schedule
		change.Schedule.Op = op
		job.ScheduleChange = &change
	}
	ev := aks.Event{At: now, Kind: aks.EventCreated, Actor: req.Requester, To: aks.StateQueued, Replica: e.coord.ReplicaID()}
	asked := fmt.Sprintf("<@%s> asked to %s. Plan: %s.", req.Requester.ID, op.Describe(), plan.Summary)
	if c := job.ScheduleChange; c != nil {
		asked = fmt.Sprintf("<@%s> asked to %s schedule %s: %s. Plan now: %s.", req.Requester.ID, c.Action, c.Schedule.Name, describeSchedule(c.Schedule), plan.Summary)
	}
	if lines := plan.Assessment(); len(lines) > 0 {
		asked += "\n" + strings.Join(lines, "\n") + "\n"
	} else {
		asked += " "
	}
	if job.NeedsApproval {
		timeout := reqmt.Timeout
		if timeout <= 0 {
			timeout = e.cfg.ApprovalTimeout
		}
		job.ApprovalsNeeded, job.Approvers, job.ExpiresAt = reqmt.Approvals, reqmt.Approvers, now.Add(timeout)
		job.State, ev.To = aks.StateAwaitingApproval, aks.StateAwaitingApproval
		who := orList(job.Approvers)
		if job.ApprovalsNeeded > 1 {
			who = fmt.Sprintf("%d different people among %s", job.ApprovalsNeeded, andList(job.Approvers))
		}
		ev.Message = fmt.Sprintf("%sNeeds approval from %s by %s.", asked, who, job.ExpiresAt.UTC().Format("15:04 MST"))
		if reqmt.Note != "" {
			ev.Message += " " + capitalise(reqmt.Note) + "."
		}
	} else {
		note := "No approval needed"
		if reqmt.Note != "" {
			note = capitalise(reqmt.Note)
		}
		ev.Message = fmt.Sprintf("%s%s: queued; it starts when no other operation runs on %s.", asked, note, op.Target.Cluster)
		if job.ScheduleChange != nil {
			ev.Message = fmt.Sprintf("%s%s: it takes effect in a moment.", asked, note)
		}
	}
	return job, ev, nil
}
