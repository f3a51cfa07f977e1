package aks

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Cloud is what the job engine needs from a cloud (Azure for AKS, AWS for EKS): read the current
// state to make a plan, send a mutation, and follow a long-running operation, also after a
// restart. Adapters (internal/azure, internal/eks) implement it; they import only this package.
type Cloud interface {
	// Plan reads the target's current state, checks that the operation is possible now (the pool
	// exists, the version is an allowed upgrade, the last system pool is not deleted, ...), fills
	// defaults (the pool of `/aks scale`), and returns the plan. Errors are *Error for users.
	Plan(ctx context.Context, op Operation) (Plan, error)
	// Begin sends the mutation and returns the operation to follow. requestToken is the same for
	// every request of one job (RequestToken): a cloud with idempotent requests (EKS's
	// clientRequestToken) passes it on, so that a request sent again after a crash is the same
	// request; Azure's updates rely on If-Match instead and ignore it. A refusal is an
	// *AzureError (wrapped); ErrBusy when another operation runs on the target.
	Begin(ctx context.Context, op Operation, plan Plan, requestToken string) (CloudOperation, error)
	// Resume rebuilds an operation from its resume token; it sends nothing.
	Resume(ctx context.Context, op Operation, token string) (CloudOperation, error)
	// ProvisioningState returns the provisioning state of the target resource (the pool when
	// t.Pool is set, else the cluster, or a busy pool of an otherwise idle cluster); "NotFound"
	// when it does not exist. The vocabulary is Azure's (InProgress knows it); other clouds map
	// theirs to it.
	ProvisioningState(ctx context.Context, t Target) (string, error)
	// Applied reports whether the cloud already shows what op asks for (the count, the version,
	// the pool exists or is gone). After a crash between sending a request and storing its
	// token, it tells a request that arrived and finished from one that never arrived.
	Applied(ctx context.Context, op Operation, plan Plan) (bool, error)
	// Abort asks the cloud to abort the latest operation on the target (the pool when t.Pool is
	// set, else the cluster) and returns once it accepted; the operation then ends Canceled. A
	// cloud without aborts answers an *Error (EInvalid) saying so.
	Abort(ctx context.Context, t Target) error
}

// Replayer is a Cloud whose requests carry the request token to the cloud, which answers a
// request it has seen with the operation that request started (EKS's clientRequestToken). After
// a crash between sending a request and storing its resume token, the engine sends the request
// again while the target is busy, to follow that operation by its ID (and report the cloud's own
// error if it fails) instead of the target's state alone. Replays reports whether op's request
// is such; a cloud that also refuses a change while another one runs cannot start a second.
type Replayer interface {
	Replays(op Operation) bool
}

// CloudOperation is one long-running operation in a cloud.
type CloudOperation interface {
	// ResumeToken returns the token to store. Call it before polling.
	ResumeToken() (string, error)
	// OperationID returns the cloud's ID of the operation (for support and the audit log), or "".
	OperationID() string
	// FirstPollAfter is how long the cloud asked to wait before the first status poll (its
	// answer's Retry-After), or 0 when it did not say.
	FirstPollAfter() time.Duration
	// Poll sends one status request. It returns whether the operation has ended and how long the
	// service asked the caller to wait before the next poll (0 if it did not say).
	Poll(ctx context.Context) (done bool, retryAfter time.Duration, err error)
	// Result returns nil when the ended operation succeeded, or an error wrapping *AzureError
	// saying why it failed.
	Result(ctx context.Context) error
}

var (
	// ErrBusy: the cloud refused a change because another operation runs on the target
	// (EKS's ResourceInUseException). Nothing was started; the same request may be sent again
	// once the target is at rest. Adapters wrap it next to their *AzureError.
	ErrBusy = errors.New("another operation is in progress on the target")
	// ErrExists: a create was refused because the resource exists. After a crash or a lost
	// answer this is usually the job's own earlier request, so the engine reconciles.
	ErrExists = errors.New("the resource exists already")
)

// RequestToken is the idempotency token of a job's requests: "aksbot-42-m3x9k2p1". The job's
// creation time makes it differ between two bots (or two data files) that both have a job 42.
func RequestToken(job Job) string {
	return "aksbot-" + job.ID + "-" + strconv.FormatInt(job.CreatedAt.UnixMilli(), 36)
}
