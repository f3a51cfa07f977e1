// Package policy decides who may request and approve AKS operations, where, and which
// operations wait for an approver. It implements jobs.Policy from the configuration file's
// policy section.
package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/jobs"
)

// Policy is an immutable set of rules, safe for concurrent use. Build a new one to change the
// rules: the engine asks again at every step, so waiting jobs see the new rules.
type Policy struct {
	// requireApproval false turns approvals off for every operation.
	requireApproval bool
	// approvers may approve any operation, in the order the configuration lists them.
	approvers []string
	// requesters may request operations; nil means anyone.
	requesters map[string]bool
	// channels are where operations may be requested, in configuration order; nil means anywhere.
	channels []string
}

var _ jobs.Policy = (*Policy)(nil)

// New builds the policy of a configuration file's policy section. Duplicate IDs are dropped.
func New(f config.PolicyFile) *Policy {
	p := &Policy{
		requireApproval: f.ApprovalsRequired(),
		approvers:       dedupe(f.Approvers),
		channels:        dedupe(f.Channels),
	}
	if len(f.Requesters) > 0 {
		p.requesters = make(map[string]bool, len(f.Requesters))
		for _, id := range f.Requesters {
			p.requesters[id] = true
		}
	}
	return p
}

// Demo is the console demo's policy: the given user approves, anyone may request anywhere,
// and approvals are required, so the demo shows the approval flow.
func Demo(approver string) *Policy {
	return New(config.PolicyFile{Approvers: []string{approver}})
}

// CanRequest returns nil, or an *aks.Error (EUnauthorized) saying why the user may not ask for op
// in that channel.
func (p *Policy) CanRequest(_ context.Context, user aks.User, channel string, op aks.Operation) error {
	if user.ID == "" {
		return unauthorized("you cannot request operations: your user is not known", "")
	}
	if p.requesters != nil && !p.requesters[user.ID] {
		return unauthorized("you are not allowed to request AKS operations",
			"ask an administrator to add your user ID to policy.requesters")
	}
	if p.channels != nil && !slices.Contains(p.channels, channel) {
		return unauthorized("AKS operations cannot be requested in this channel; use "+orList(channelMentions(p.channels)),
			"")
	}
	return nil
}

// CanApprove returns nil, or an *aks.Error (EUnauthorized) saying why the user may not approve or
// deny the job. The requester never may, even when they are an approver.
func (p *Policy) CanApprove(_ context.Context, user aks.User, job aks.Job) error {
	approvers := p.approversFor(job.Op)
	if user.ID == "" {
		return unauthorized("you cannot approve requests: your user is not known", "")
	}
	if user.ID == job.Requester.ID {
		others := slices.DeleteFunc(slices.Clone(approvers), func(id string) bool { return id == user.ID })
		hint := "ask " + orList(mentions(others)) + " to approve it"
		if len(others) == 0 {
			hint = "no other approver is configured: add one to policy.approvers"
		}
		return unauthorized("you cannot approve your own request", hint)
	}
	if slices.Contains(approvers, user.ID) {
		return nil
	}
	if len(approvers) == 0 {
		return unauthorized("nobody can approve this request: no approvers are configured",
			"add approvers to policy.approvers")
	}
	return unauthorized("only "+orList(mentions(approvers))+" can approve this request", "")
}

// Evaluate says how many approvals the planned operation needs (one, from the configured
// approvers, when NeedsApproval says so) and from whom.
func (p *Policy) Evaluate(_ context.Context, _ aks.User, _ string, op aks.Operation, plan aks.Plan) (jobs.Requirement, error) {
	if !p.NeedsApproval(op, plan) {
		return jobs.Requirement{Rule: "default"}, nil
	}
	return jobs.Requirement{Rule: "default", Approvals: 1, Approvers: p.Approvers(op)}, nil
}

// NeedsApproval reports whether the planned operation must wait for an approver: everything that
// creates, deletes or upgrades, and every plan that adds capacity. Scale-downs, start, stop and
// disabling the autoscaler go ahead, unless approvals are off altogether.
func (p *Policy) NeedsApproval(op aks.Operation, plan aks.Plan) bool {
	if !p.requireApproval {
		return false
	}
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterDelete, aks.OpClusterUpgrade, aks.OpPoolDelete, aks.OpPoolUpgrade:
		return true
	case aks.OpClusterStart, aks.OpClusterStop:
		return false // starting brings back the nodes the cluster already had
	case aks.OpPoolAutoscale:
		return !op.DisableAutoscaler && plan.ScaleUp // a raised max
	case aks.OpPoolScale, aks.OpPoolAdd:
		return addsCapacity(op, plan)
	}
	return true // an operation this policy does not know: fail closed
}

// addsCapacity reports whether a scale or an added pool adds nodes. The planner says so in plan.ScaleUp; the node
// counts are checked as well so that a plan with unknown counts (-1) fails closed.
func addsCapacity(op aks.Operation, plan aks.Plan) bool {
	if plan.ScaleUp {
		return true
	}
	if op.Kind == aks.OpPoolScale {
		return plan.FromNodes < 0 || plan.ToNodes < 0 || plan.ToNodes > plan.FromNodes
	}
	// A new pool adds capacity unless it starts (and may grow) with no nodes at all.
	return plan.ToNodes != 0 ||
		(op.NodeCount != nil && *op.NodeCount > 0) ||
		(op.Autoscaler != nil && op.Autoscaler.Max > 0)
}

// Approvers returns who can approve op, as Slack mentions ("<@U123>"), in configuration order.
func (p *Policy) Approvers(op aks.Operation) []string {
	return mentions(p.approversFor(op))
}

// IsApprover reports whether the user may approve operations (other people's).
func (p *Policy) IsApprover(userID string) bool {
	return userID != "" && slices.Contains(p.approvers, userID)
}

// approversFor is the one place that decides who approves an operation, so that per-cluster
// approvers and user groups can be added here.
func (p *Policy) approversFor(aks.Operation) []string {
	return p.approvers
}

func unauthorized(msg, hint string) *aks.Error {
	return &aks.Error{Code: aks.EUnauthorized, Message: msg, Hint: hint}
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func mentions(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "<@" + id + ">"
	}
	return out
}

func channelMentions(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "<#" + id + ">"
	}
	return out
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
