package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// ErrOutcomeUnknown means Begin cannot tell whether Azure applied the mutation: a try of it got
// a server error or no answer (the response may have been lost after Azure acted), and the
// pipeline's retry was then refused or failed too. A create retried after a lost response, for
// example, gets 412 because its own first try made the cluster.
//
// Begin returns it wrapped in a plain error, with no *aks.AzureError and no *aks.Error in the
// chain (aks.ErrorCode says EInternal), so that the caller looks at the resource instead of
// trusting the last answer: jobs.Engine.begin then reconciles by provisioning state.
//
// When the engine then sends the request again and the change turns out to be in place already
// (the resource moved on from the plan's ETag but is at rest exactly as asked), Begin sends
// nothing and returns an operation that has succeeded.
var ErrOutcomeUnknown = errors.New("it is not known whether Azure applied the request")

// tries records how each try of a Begin's mutation went. The retry policy hides all but the
// last answer; the earlier ones say whether a refusal may be an echo of the bot's own request.
type tries struct {
	mu        sync.Mutex
	ambiguous string // what made the outcome unknown: "HTTP 500", "no answer"; "" if nothing
	// retryAfter is what the last successful answer asked for before the next request: for the
	// answer that started an operation, how long to wait before its first poll.
	retryAfter time.Duration
}

type triesKey struct{}

func withTries(ctx context.Context) (context.Context, *tries) {
	t := &tries{}
	return context.WithValue(ctx, triesKey{}, t), t
}

func (t *tries) record(resp *http.Response, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if resp != nil && resp.StatusCode/100 == 2 {
		t.retryAfter = retryAfter(resp)
	}
	if t.ambiguous != "" {
		return
	}
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &re):
		// The SDK's fake transport answers with errors rather than responses.
		if maybeApplied(re.StatusCode) {
			t.ambiguous = fmt.Sprintf("HTTP %d", re.StatusCode)
		}
	case err != nil && !ctxErr(err):
		t.ambiguous = "no answer (" + err.Error() + ")"
	case resp != nil && maybeApplied(resp.StatusCode):
		t.ambiguous = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
}

func (t *tries) unknown() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ambiguous
}

// maybeApplied reports whether a request answered with this status may still have been carried
// out: server errors and timeouts may come after the work was done. 429 is a refusal before any
// work.
func maybeApplied(code int) bool {
	return code == http.StatusRequestTimeout || code >= 500
}

// triesPolicy is a per-try policy that tells the Begin in the request's context how each try of
// a mutation went.
type triesPolicy struct{}

func (triesPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	raw := req.Raw()
	if t, ok := raw.Context().Value(triesKey{}).(*tries); ok && raw.Method != http.MethodGet && raw.Method != http.MethodHead {
		t.record(resp, err)
	}
	return resp, err
}

// outcome turns a Begin error into ErrOutcomeUnknown when a try may have been applied.
func outcome(err error, t *tries, what string) error {
	if err == nil || ctxErr(err) {
		return err
	}
	why := t.unknown()
	if why == "" {
		return err
	}
	// %v, not %w: the last answer (a 412, a 409) must not be taken for Azure's verdict.
	return fmt.Errorf("%s: %w: a try got %s, and then: %v", what, ErrOutcomeUnknown, why, err)
}

// createConflict is the error for a create refused because the resource exists (412 on
// If-None-Match "*"), or nil when err is another error. Unless Begin finds that a try of its own
// may have made it (ErrOutcomeUnknown wins), someone else did.
func createConflict(err error, what string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusPreconditionFailed {
		return nil
	}
	return &aks.Error{Code: aks.EConflict, Message: what + " exists now: it was created since the plan was made",
		Hint: "see what it is with `/aks show`; pick another name to create a new one", Err: err}
}

// errAlreadyApplied: the resource changed since the plan was made, but it is at rest in exactly
// the state the operation asks for, so there is nothing left to send.
var errAlreadyApplied = errors.New("the change is already in place")

// appliedOperation is an operation that has already succeeded: Begin found the change in place.
type appliedOperation struct{}

var _ aks.CloudOperation = appliedOperation{}

func (appliedOperation) ResumeToken() (string, error) { return "", nil }
func (appliedOperation) Poll(context.Context) (bool, time.Duration, error) {
	return true, 0, nil
}
func (appliedOperation) Result(context.Context) error  { return nil }
func (appliedOperation) OperationID() string           { return "" }
func (appliedOperation) FirstPollAfter() time.Duration { return 0 }

func (t *tries) firstPollAfter() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.retryAfter
}

// startedOperation is an operation Begin started, with the wait Azure asked for before its
// first poll (the Retry-After of the answer that accepted it).
type startedOperation struct {
	aks.CloudOperation
	firstPoll time.Duration
}

func (o startedOperation) FirstPollAfter() time.Duration { return o.firstPoll }

// poolApplied reports whether pool ap is at rest and already as op asks. Node image upgrades
// cannot be told from the pool alone, so they never count as applied.
func poolApplied(op aks.Operation, ap armcontainerservice.AgentPool) bool {
	p := ap.Properties
	if p == nil || str(p.ProvisioningState) != "Succeeded" {
		return false
	}
	autoscaled := p.EnableAutoScaling != nil && *p.EnableAutoScaling
	switch op.Kind {
	case aks.OpPoolScale:
		return op.NodeCount != nil && !autoscaled && p.Count != nil && int(*p.Count) == *op.NodeCount
	case aks.OpPoolAutoscale:
		if op.DisableAutoscaler {
			return !autoscaled
		}
		a := op.Autoscaler
		return a != nil && autoscaled && p.MinCount != nil && p.MaxCount != nil &&
			int(*p.MinCount) == a.Min && int(*p.MaxCount) == a.Max
	case aks.OpPoolUpgrade:
		return !op.NodeImageOnly && op.KubernetesVersion != "" &&
			str(p.OrchestratorVersion) == op.KubernetesVersion && str(p.CurrentOrchestratorVersion) == op.KubernetesVersion
	}
	return false
}

// clusterApplied reports whether cluster mc is at rest and already as op asks.
func clusterApplied(op aks.Operation, mc armcontainerservice.ManagedCluster) bool {
	p := mc.Properties
	if p == nil || str(p.ProvisioningState) != "Succeeded" {
		return false
	}
	power := ""
	if p.PowerState != nil && p.PowerState.Code != nil {
		power = string(*p.PowerState.Code)
	}
	switch op.Kind {
	case aks.OpClusterStart:
		return power == string(armcontainerservice.CodeRunning)
	case aks.OpClusterStop:
		return power == string(armcontainerservice.CodeStopped)
	case aks.OpClusterUpgrade:
		if op.KubernetesVersion == "" || str(p.CurrentKubernetesVersion) != op.KubernetesVersion {
			return false
		}
		if op.ControlPlaneOnly {
			return true
		}
		for _, ap := range p.AgentPoolProfiles {
			if ap != nil && str(ap.CurrentOrchestratorVersion) != op.KubernetesVersion {
				return false
			}
		}
		return true
	}
	return false
}
