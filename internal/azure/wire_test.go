package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aksbot/aksbot/internal/aks"
)

// The SDK's fakes neither retry nor carry error messages or Retry-After, so these tests run the
// client against an HTTPS server speaking the ARM wire protocol.

const wireToken = "secret-token-value"

// scopeCred hands out a fixed token and records the scopes it was asked for.
type scopeCred struct {
	mu     sync.Mutex
	scopes []string
}

func (c *scopeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	return azcore.AccessToken{Token: wireToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// wireARM is a small ARM: counts requests per path and answers from handlers.
type wireARM struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

const poolPath = "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/demo/agentPools/np2"

func newWireARM(t *testing.T) *wireARM {
	w := &wireARM{t: t, hits: map[string]int{}}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *wireARM) hit(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hits[key]++
	return w.hits[key]
}

func (w *wireARM) count(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[key]
}

func writeJSON(rw http.ResponseWriter, status int, body any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(body)
}

func armError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

func (w *wireARM) serve(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+wireToken {
		writeJSON(rw, http.StatusUnauthorized, armError("AuthenticationFailed", "no token"))
		return
	}
	path := r.URL.Path
	base := "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/"
	switch {
	case r.Method == http.MethodGet && path == base+"throttled":
		// Throttled once, then fine: azcore's retry policy must wait as asked and retry.
		if w.hit("throttled") == 1 {
			rw.Header().Set("Retry-After-Ms", "5")
			writeJSON(rw, http.StatusTooManyRequests, armError("Throttled", "Too many requests"))
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"id": base + "throttled", "name": "throttled", "location": "westeurope",
			"properties": map[string]any{"provisioningState": "Succeeded", "kubernetesVersion": "1.30.5"}})
	case r.Method == http.MethodGet && path == base+"busy":
		w.hit("busy")
		writeJSON(rw, http.StatusConflict, armError("OperationNotAllowed",
			"Another operation (Updating) is in progress, please wait for it to finish before starting a new operation."))
	case r.Method == http.MethodGet && path == base+"missing":
		w.hit("missing")
		writeJSON(rw, http.StatusNotFound, armError("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/missing' under resource group 'rg' was not found."))
	case r.Method == http.MethodGet && path == poolPath:
		writeJSON(rw, http.StatusOK, w.pool("Succeeded", 1))
	case r.Method == http.MethodPut && path == poolPath:
		w.hit("put")
		rw.Header().Set("Azure-AsyncOperation", w.srv.URL+"/operations/op1?api-version=2025-02-01")
		writeJSON(rw, http.StatusOK, w.pool("Scaling", 30))
	case r.Method == http.MethodGet && path == base+"quick/agentPools/np2":
		writeJSON(rw, http.StatusOK, w.pool("Succeeded", 1))
	case r.Method == http.MethodPut && path == base+"quick/agentPools/np2":
		// Done at once: no status monitor, the body's provisioningState is final.
		w.hit("quick")
		writeJSON(rw, http.StatusOK, w.pool("Succeeded", 2))
	case r.Method == http.MethodGet && path == "/operations/op1":
		if w.hit("status") == 1 {
			rw.Header().Set("Retry-After", "7")
			writeJSON(rw, http.StatusOK, map[string]any{"status": "InProgress"})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"status": "Failed", "error": armError("QuotaExceeded",
			"Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota.")["error"]})
	default:
		w.t.Errorf("unexpected %s %s", r.Method, path)
		writeJSON(rw, http.StatusBadRequest, armError("Unexpected", r.Method+" "+path))
	}
}

func (w *wireARM) pool(state string, count int) map[string]any {
	return map[string]any{"id": poolPath, "name": "np2", "properties": map[string]any{
		"provisioningState": state, "count": count, "vmSize": "Standard_DS2_v2", "mode": "User", "osType": "Linux",
		"enableAutoScaling": false, "eTag": "etag-np2",
	}}
}

func (w *wireARM) client(t *testing.T, logs *bytes.Buffer) (*Client, *scopeCred) {
	t.Helper()
	cred := &scopeCred{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(Config{SubscriptionID: testSub, Credential: cred, Endpoint: w.srv.URL, Audience: "https://management.example.test/",
		Transport: w.srv.Client(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return c, cred
}

func TestWireThrottlingIsRetried(t *testing.T) {
	w := newWireARM(t)
	var logs bytes.Buffer
	c, cred := w.client(t, &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := c.GetCluster(ctx, "rg", "throttled")
	if err != nil {
		t.Fatalf("GetCluster: %v", err)
	}
	if cl.Name != "throttled" || cl.ResourceGroup != "rg" || cl.KubernetesVersion != "1.30.5" {
		t.Errorf("cluster = %+v", cl)
	}
	if n := w.count("throttled"); n != 2 {
		t.Errorf("%d requests, want one throttled and one retried", n)
	}
	// The token was asked for the configured audience.
	if len(cred.scopes) == 0 || cred.scopes[0] != "https://management.example.test//.default" {
		t.Errorf("scopes = %v", cred.scopes)
	}
	out := logs.String()
	if !strings.Contains(out, "ARM request") || !strings.Contains(out, "status=429") || !strings.Contains(out, "status=200") {
		t.Errorf("debug log misses the attempts:\n%s", out)
	}
	if strings.Contains(out, wireToken) || strings.Contains(strings.ToLower(out), "authorization") {
		t.Errorf("the log shows the token or the Authorization header:\n%s", out)
	}
}

func TestWireErrorCodeAndMessage(t *testing.T) {
	w := newWireARM(t)
	var logs bytes.Buffer
	c, _ := w.client(t, &logs)
	ctx := context.Background()

	_, err := c.GetCluster(ctx, "rg", "busy")
	var az *aks.AzureError
	if !errors.As(err, &az) {
		t.Fatalf("err = %v, want an AzureError", err)
	}
	want := aks.AzureError{StatusCode: 409, Code: "OperationNotAllowed",
		Message: "Another operation (Updating) is in progress, please wait for it to finish before starting a new operation."}
	if *az != want {
		t.Errorf("AzureError = %+v, want %+v", *az, want)
	}
	if strings.Contains(err.Error(), wireToken) {
		t.Errorf("the error shows the token: %v", err)
	}

	_, err = c.GetCluster(ctx, "rg", "missing")
	var e *aks.Error
	if !errors.As(err, &e) || e.Code != aks.ENotFound || e.Message != "cluster rg/missing not found" {
		t.Errorf("404: %v", err)
	}
	if strings.Contains(logs.String(), wireToken) {
		t.Error("the log shows the token")
	}
}

func TestWireFailedOperation(t *testing.T) {
	w := newWireARM(t)
	var logs bytes.Buffer
	c, _ := w.client(t, &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	op := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: "demo", Pool: "np2"}, NodeCount: intp(30)}
	o, err := c.Begin(ctx, op, aks.Plan{Pool: "np2", ETag: "etag-np2"}, "")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if tok, err := o.ResumeToken(); err != nil || tok == "" {
		t.Fatalf("ResumeToken = %q, %v", tok, err)
	}
	done, wait, err := o.Poll(ctx)
	if err != nil || done {
		t.Fatalf("first poll = %v, %v", done, err)
	}
	if wait != 7*time.Second {
		t.Errorf("retryAfter = %v, want the service's 7s", wait)
	}
	done, _, err = o.Poll(ctx)
	if err != nil || !done {
		t.Fatalf("second poll = %v, %v", done, err)
	}
	err = o.Result(ctx)
	var az *aks.AzureError
	if !errors.As(err, &az) {
		t.Fatalf("Result = %v, want an AzureError", err)
	}
	if az.Code != "QuotaExceeded" || az.Message != "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota." {
		t.Errorf("AzureError = %+v", *az)
	}
	if n := w.count("put"); n != 1 {
		t.Errorf("%d PUTs", n)
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	for h, want := range map[[2]string]time.Duration{
		{"Retry-After-Ms", "1500"}:     1500 * time.Millisecond,
		{"x-ms-retry-after-ms", "250"}: 250 * time.Millisecond,
		{"Retry-After", "30"}:          30 * time.Second,
		{"Retry-After", "soon"}:        0,
		{"Other", "5"}:                 0,
	} {
		resp := &http.Response{Header: http.Header{}}
		resp.Header.Set(h[0], h[1])
		if got := retryAfter(resp); got != want {
			t.Errorf("%s: %s -> %v, want %v", h[0], h[1], got, want)
		}
	}
	resp := &http.Response{Header: http.Header{}}
	resp.Header.Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if got := retryAfter(resp); got < 59*time.Minute || got > time.Hour {
		t.Errorf("HTTP date: %v", got)
	}
	if retryAfter(nil) != 0 {
		t.Error("nil response")
	}
}

func TestNewConfig(t *testing.T) {
	cred := &scopeCred{}
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{SubscriptionID: testSub, Credential: cred}, true},
		{Config{SubscriptionID: testSub, Credential: cred, Endpoint: "https://management.usgovcloudapi.net"}, true},
		{Config{SubscriptionID: testSub, Credential: cred, Endpoint: "http://127.0.0.1:8080"}, true},
		// A token in clear text only to this machine.
		{Config{SubscriptionID: testSub, Credential: cred, Endpoint: "http://arm.example.com"}, false},
		{Config{SubscriptionID: testSub, Credential: cred, Endpoint: "::"}, false},
		{Config{Credential: cred}, false},
		{Config{SubscriptionID: testSub}, false},
	} {
		_, err := New(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("New(%+v) = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

// Azure may answer a mutation with a final response: the operation has ended at once and there
// is no token to store.
func TestWireImmediateResult(t *testing.T) {
	w := newWireARM(t)
	var logs bytes.Buffer
	c, _ := w.client(t, &logs)
	ctx := context.Background()
	op := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: "quick", Pool: "np2"}, NodeCount: intp(2)}
	o, err := c.Begin(ctx, op, aks.Plan{Pool: "np2"}, "")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if tok, err := o.ResumeToken(); tok != "" || err != nil {
		t.Errorf("ResumeToken = %q, %v", tok, err)
	}
	if done, _, err := o.Poll(ctx); !done || err != nil {
		t.Errorf("Poll = %v, %v", done, err)
	}
	if err := o.Result(ctx); err != nil {
		t.Errorf("Result: %v", err)
	}
	if n := w.count("quick"); n != 1 {
		t.Errorf("%d PUTs", n)
	}
}
