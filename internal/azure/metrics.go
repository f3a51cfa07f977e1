package azure

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Metrics is told about every ARM request, for /metrics. Calls must be cheap and never block.
type Metrics interface {
	// ARMRequest: one HTTP request to ARM ended with status, or with 0 when no response came
	// (a connection or TLS error, a timeout).
	ARMRequest(method string, status int)
	// ARMThrottled: ARM answered 429; the request is also counted by ARMRequest.
	ARMThrottled()
}

// MetricsPolicy returns an azcore pipeline policy that tells m about every request it passes
// on. Placed in ClientOptions.PerCallPolicies it counts each logical call once with its final
// status; placed in PerRetryPolicies (Config.Policies) it counts every attempt, so each 429
// that azcore retries is seen. It reads only the method and the status, never headers, so
// tokens cannot reach the metrics.
func MetricsPolicy(m Metrics) policy.Policy {
	return metricsPolicy{m: m}
}

type metricsPolicy struct{ m Metrics }

func (p metricsPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	p.m.ARMRequest(req.Raw().Method, status)
	if status == http.StatusTooManyRequests {
		p.m.ARMThrottled()
	}
	return resp, err
}
