package telemetry

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// ARMPolicy returns an azcore pipeline policy that records every request it
// passes on in m (aksbot_arm_requests_total, aksbot_arm_throttled_total).
// Placed in ClientOptions.PerCallPolicies it counts each logical call once
// with its final status; placed in PerRetryPolicies it counts every attempt,
// so each 429 that azcore retries is seen. It reads only the method and the
// status, never headers, so tokens cannot reach the metrics.
func ARMPolicy(m *Metrics) policy.Policy {
	return armPolicy{m: m}
}

type armPolicy struct{ m *Metrics }

func (p armPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	p.m.ARMRequest(req.Raw().Method, status, err)
	return resp, err
}
