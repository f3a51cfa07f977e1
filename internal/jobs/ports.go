package jobs

import (
	"context"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// Store is the job store port (see aks.JobStore); Filter and the errors are the domain's too.
type Store = aks.JobStore

// Filter selects jobs (aks.Filter).
type Filter = aks.Filter

var (
	// ErrNotFound: no job with that ID (aks.ErrNotFound).
	ErrNotFound = aks.ErrNotFound
	// ErrConflict: the job changed since it was read (aks.ErrConflict).
	ErrConflict = aks.ErrConflict
)

// Cloud is what the engine needs from a cloud (aks.Cloud): Azure, or AWS for EKS.
type Cloud = aks.Cloud

// Operation is one long-running cloud operation (aks.CloudOperation).
type Operation = aks.CloudOperation

// Assessor works out what a plan costs and whether the subscription can run it, so that
// approvers see it and impossible plans are refused before anyone is asked. The engine asks it
// at request (and for dry runs) and again just before a job runs.
type Assessor interface {
	// Assess returns the monthly cost of plan.Capacity (list prices) and, when the plan adds
	// vCPUs, the regional vCPU quota after it. Prices or quotas that cannot be read are not
	// errors: they are said in Cost.Unknown and Quota.Unchecked, and the job goes on. A plan
	// that cannot run is refused with an *aks.Error (EInvalid) that names what and where to ask:
	// it needs more vCPUs than the quota leaves free, or its VM size is not offered in the
	// region or zones or is restricted for the subscription. Either result may be nil when the
	// plan changes no capacity.
	Assess(ctx context.Context, plan aks.Plan) (*aks.Cost, *aks.Quota, error)
}

// Reporter tells people what happened to a job. Slack and the console implement it. The engine
// calls it after the event is stored; an error means the report was not delivered and the engine
// will report again (for the final event: at the next start, until delivered).
type Reporter interface {
	Report(ctx context.Context, job aks.Job, ev aks.Event) error
}

// Policy decides who may do what. The engine asks it at request, at every decision, and again
// just before a job runs, so a policy change takes effect for waiting jobs too. Group
// memberships may need Slack: when they cannot be resolved, methods fail closed with an
// *aks.Error (EUnavailable) that says so.
type Policy interface {
	// CanRequest returns nil, or an *aks.Error (EUnauthorized) saying why the user may not ask
	// for op in that channel. It is asked before Azure is read, so it looks only at who and where.
	CanRequest(ctx context.Context, user aks.User, channel string, op aks.Operation) error
	// Evaluate decides on a planned request: it refuses guardrail violations (an *aks.Error,
	// EInvalid, naming the rule), and says how many approvals are needed and from whom.
	Evaluate(ctx context.Context, user aks.User, channel string, op aks.Operation, plan aks.Plan) (Requirement, error)
	// CanApprove returns nil, or an *aks.Error (EUnauthorized) saying why the user may not approve
	// or deny the job. The requester never may.
	CanApprove(ctx context.Context, user aks.User, job aks.Job) error
}

// Requirement is the policy's answer for one planned request.
type Requirement struct {
	Rule      string   // the rule that matched, by name
	Approvals int      // distinct approvals needed; 0 = none
	Approvers []string // who may approve, as shown to people ("<@U1>", "<!subteam^S1>")
	// Note says why no approval is needed when a rule would otherwise ask for one (an
	// auto-approval threshold), for the thread: "auto-approved: +1 node, at most 10 in the pool".
	Note string
	// Timeout is how long the job may wait for its approvals before it expires; 0 = the
	// engine's default (1 hour).
	Timeout time.Duration
}

// Observer is told about what jobs do, for metrics. Calls must be cheap and never block.
type Observer interface {
	// JobTransition: a job went from one state to another ("" when it was just made).
	JobTransition(op aks.OpKind, from, to aks.JobState)
	// OperationFinished: an Azure operation ended (outcome succeeded, failed or cancelled) after d
	// (from the request to Azure to its end).
	OperationFinished(op aks.OpKind, outcome aks.JobState, d time.Duration)
	// ApprovalWait: a job waited d for its approvals, from request to the decision that approved,
	// denied or expired it (outcome is the state it went to).
	ApprovalWait(op aks.OpKind, outcome aks.JobState, d time.Duration)
}

// AuditLog is the append-only audit trail. The store records every stored job event itself (in
// the same transaction); the engine appends what has no event: refused requests and decisions.
type AuditLog interface {
	AppendAudit(ctx context.Context, rec aks.AuditRecord) error
}
