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

// Cloud is what the engine needs from Azure: read the current state to make a plan, send a
// mutation, and follow a long-running operation, also after a restart.
type Cloud interface {
	// Plan reads the target's current state, checks that the operation is possible now (the pool
	// exists, the version is an allowed upgrade, the last system pool is not deleted, ...), fills
	// defaults (the pool of `/aks scale`), and returns the plan. Errors are *aks.Error for users.
	Plan(ctx context.Context, op aks.Operation) (aks.Plan, error)
	// Begin sends the mutation (GET, change, PUT with If-Match for updates) and returns the
	// operation to follow. An error from Azure is an *aks.AzureError (wrapped).
	Begin(ctx context.Context, op aks.Operation, plan aks.Plan) (Operation, error)
	// Resume rebuilds an operation from its resume token; it sends nothing.
	Resume(ctx context.Context, op aks.Operation, token string) (Operation, error)
	// ProvisioningState returns the provisioning state of the target resource (the pool when
	// t.Pool is set, else the cluster, or a busy pool of an otherwise idle cluster); "NotFound"
	// when it does not exist.
	ProvisioningState(ctx context.Context, t aks.Target) (string, error)
	// Applied reports whether Azure already shows what op asks for (the count, the version, the
	// pool exists or is gone). After a crash between sending a request and storing its token,
	// it tells a request that arrived and finished from one that never arrived.
	Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error)
	// Abort asks Azure to abort the latest operation on the target (the pool when t.Pool is
	// set, else the cluster) and returns once Azure accepted; the operation then ends Canceled.
	Abort(ctx context.Context, t aks.Target) error
}

// Operation is one long-running Azure operation.
type Operation interface {
	// ResumeToken returns the token to store. Call it before polling.
	ResumeToken() (string, error)
	// OperationID returns Azure's ID of the operation (for support and the audit log), or "".
	OperationID() string
	// FirstPollAfter is how long Azure asked to wait before the first status poll (its answer's
	// Retry-After), or 0 when it did not say.
	FirstPollAfter() time.Duration
	// Poll sends one status request. It returns whether the operation has ended and how long the
	// service asked the caller to wait before the next poll (0 if it did not say).
	Poll(ctx context.Context) (done bool, retryAfter time.Duration, err error)
	// Result returns nil when the ended operation succeeded, or an error wrapping
	// *aks.AzureError saying why it failed.
	Result(ctx context.Context) error
}

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
