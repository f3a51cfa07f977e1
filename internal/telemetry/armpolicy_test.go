package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

func doARM(t *testing.T, pl runtime.Pipeline, method, url string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := runtime.NewRequest(ctx, method, url)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestARMPolicyPerCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/throttled" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	m := NewMetrics()
	pl := runtime.NewPipeline("telemetrytest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerCallPolicies: []policy.Policy{ARMPolicy(m)},
		Retry:           policy.RetryOptions{MaxRetries: -1}, // one attempt per call
		Transport:       srv.Client(),
	})
	for range 2 {
		if code, err := doARM(t, pl, http.MethodGet, srv.URL+"/ok"); err != nil || code != 200 {
			t.Fatalf("GET /ok = %d, %v", code, err)
		}
	}
	if code, err := doARM(t, pl, http.MethodPut, srv.URL+"/throttled"); err != nil || code != 429 {
		t.Fatalf("PUT /throttled = %d, %v", code, err)
	}

	_, e := scrape(t, m)
	if got := e.find(t, nameARMRequests, map[string]string{"method": "GET", "code": "200"}); got != 2 {
		t.Errorf("GET 200 = %v, want 2", got)
	}
	if got := e.find(t, nameARMRequests, map[string]string{"method": "PUT", "code": "429"}); got != 1 {
		t.Errorf("PUT 429 = %v, want 1", got)
	}
	if got := e.find(t, nameARMThrottled, map[string]string{}); got != 1 {
		t.Errorf("throttled = %v, want 1", got)
	}
}

func TestARMPolicyPerRetrySeesEachAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests) // no Retry-After: azcore uses RetryDelay
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	m := NewMetrics()
	pl := runtime.NewPipeline("telemetrytest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerRetryPolicies: []policy.Policy{ARMPolicy(m)},
		Retry:            policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		Transport:        srv.Client(),
	})
	if code, err := doARM(t, pl, http.MethodGet, srv.URL+"/cluster"); err != nil || code != 200 {
		t.Fatalf("GET = %d, %v; want 200 after one retry", code, err)
	}

	_, e := scrape(t, m)
	if got := e.find(t, nameARMRequests, map[string]string{"method": "GET", "code": "429"}); got != 1 {
		t.Errorf("GET 429 = %v, want 1", got)
	}
	if got := e.find(t, nameARMRequests, map[string]string{"method": "GET", "code": "200"}); got != 1 {
		t.Errorf("GET 200 = %v, want 1", got)
	}
	if got := e.find(t, nameARMThrottled, map[string]string{}); got != 1 {
		t.Errorf("throttled = %v, want 1", got)
	}
}

func TestARMPolicyCountsTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more

	m := NewMetrics()
	pl := runtime.NewPipeline("telemetrytest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerCallPolicies: []policy.Policy{ARMPolicy(m)},
		Retry:           policy.RetryOptions{MaxRetries: -1},
	})
	if _, err := doARM(t, pl, http.MethodDelete, url+"/pool"); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	_, e := scrape(t, m)
	if got := e.find(t, nameARMRequests, map[string]string{"method": "DELETE", "code": "error"}); got != 1 {
		t.Errorf("DELETE error = %v, want 1", got)
	}
	if got := e.find(t, nameARMThrottled, map[string]string{}); got != 0 {
		t.Errorf("throttled = %v, want 0", got)
	}
}
