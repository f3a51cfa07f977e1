package azure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// armCounts records what MetricsPolicy reports, keyed "METHOD status" ("GET 200").
type armCounts struct {
	mu        sync.Mutex
	requests  map[string]int
	throttled int
}

func (c *armCounts) ARMRequest(method string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests == nil {
		c.requests = map[string]int{}
	}
	c.requests[method+" "+strconv.Itoa(status)]++
}

func (c *armCounts) ARMThrottled() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttled++
}

func (c *armCounts) check(t *testing.T, want map[string]int, throttled int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.requests) != len(want) {
		t.Errorf("requests = %v, want %v", c.requests, want)
	}
	for k, n := range want {
		if c.requests[k] != n {
			t.Errorf("%q counted %d times, want %d (all: %v)", k, c.requests[k], n, c.requests)
		}
	}
	if c.throttled != throttled {
		t.Errorf("throttled = %d, want %d", c.throttled, throttled)
	}
}

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

func TestMetricsPolicyPerCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/throttled" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	m := &armCounts{}
	pl := runtime.NewPipeline("metricstest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerCallPolicies: []policy.Policy{MetricsPolicy(m)},
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
	m.check(t, map[string]int{"GET 200": 2, "PUT 429": 1}, 1)
}

func TestMetricsPolicyPerRetrySeesEachAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests) // no Retry-After: azcore uses RetryDelay
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	m := &armCounts{}
	pl := runtime.NewPipeline("metricstest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerRetryPolicies: []policy.Policy{MetricsPolicy(m)},
		Retry:            policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		Transport:        srv.Client(),
	})
	if code, err := doARM(t, pl, http.MethodGet, srv.URL+"/cluster"); err != nil || code != 200 {
		t.Fatalf("GET = %d, %v; want 200 after one retry", code, err)
	}
	m.check(t, map[string]int{"GET 429": 1, "GET 200": 1}, 1)
}

func TestMetricsPolicyCountsTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more

	m := &armCounts{}
	pl := runtime.NewPipeline("metricstest", "v0.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		PerCallPolicies: []policy.Policy{MetricsPolicy(m)},
		Retry:           policy.RetryOptions{MaxRetries: -1},
	})
	if _, err := doARM(t, pl, http.MethodDelete, url+"/pool"); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	m.check(t, map[string]int{"DELETE 0": 1}, 0) // 0: no response
}
