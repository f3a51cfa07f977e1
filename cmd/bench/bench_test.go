package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/config"
)

// TestMain lets the test binary play the world process, as the bench binary does.
func TestMain(m *testing.M) {
	if os.Getenv(worldEnv) != "" {
		os.Exit(serveWorldFromEnv())
	}
	os.Exit(m.Run())
}

// The quick mode runs every benchmark end to end; each must produce its figures. Whether the
// figures meet their targets depends on the machine and is not checked here.
func TestQuickRunProducesEveryFigure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"-quick", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench -quick -json exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	var out struct {
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if len(out.Results) != len(benchmarks) {
		t.Fatalf("%d results, want %d", len(out.Results), len(benchmarks))
	}
	for i, r := range out.Results {
		if r.ID != i+1 || r.Err != "" {
			t.Errorf("result %d: id %d, error %q", i+1, r.ID, r.Err)
		}
		targets := 0
		for _, m := range r.Metrics {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				t.Errorf("benchmark %d: %s is %v", r.ID, m.Name, m.Value)
			}
			if m.Target != "" {
				targets++
				if m.Pass == nil {
					t.Errorf("benchmark %d: %s has a target but no verdict", r.ID, m.Name)
				}
			}
		}
		if targets == 0 {
			t.Errorf("benchmark %d (%s) measured nothing against a target: %+v", r.ID, r.Name, r.Metrics)
		}
	}
	// Every target of the issue is there.
	for _, want := range []string{"aksbot ack p99", "p99 aksbot / bare", "resident memory", "CPU while polling (of one core",
		"polls per operation vs minimum", "Web API calls for one job", "429 answers during the burst",
		"every job polled Azure again", "transitions per second"} {
		if !hasMetric(out.Results, want) {
			t.Errorf("no figure %q in the results", want)
		}
	}
}

func hasMetric(results []Result, prefix string) bool {
	for _, r := range results {
		for _, m := range r.Metrics {
			if strings.HasPrefix(m.Name, prefix) {
				return true
			}
		}
	}
	return false
}

func TestOnlyRunsOneAndRejectsUnknown(t *testing.T) {
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"-only", "10"}, &stdout, &stderr); code != 2 {
		t.Errorf("-only 10 exited %d, want 2", code)
	}
	stdout.Reset()
	if code := run(ctx, []string{"-quick", "-only", "5"}, &stdout, &stderr); code != 0 {
		t.Fatalf("-quick -only 5 exited %d: %s", code, stderr.String())
	}
	text := stdout.String()
	if !strings.Contains(text, "5. Job state transitions") || strings.Contains(text, "1. Ack latency") {
		t.Errorf("-only 5 printed:\n%s", text)
	}
	if !strings.Contains(text, "PASS") && !strings.Contains(text, "MISS") {
		t.Errorf("no verdict in:\n%s", text)
	}
}

// The rate limiter refuses calls beyond a channel's rate with 429 and Retry-After, per channel.
func TestRateLimiterPerChannel(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer backend.Close()
	l, err := newRateLimiter(backend.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(l)
	defer proxy.Close()
	post := func(channel string) *http.Response {
		resp, err := http.Post(proxy.URL+"/api/chat.postMessage", "application/x-www-form-urlencoded", strings.NewReader("channel="+channel+"&text=hi"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	burst := int(slackLimits["chat.postMessage"].burst)
	for i := range burst {
		if resp := post("C1"); resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d within the burst got %d", i+1, resp.StatusCode)
		}
	}
	resp := post("C1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("call beyond the burst got %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post("C2"); resp.StatusCode != http.StatusOK {
		t.Errorf("another channel got %d", resp.StatusCode)
	}
	calls, limited := l.counts()
	if calls["chat.postMessage"] != burst+2 || limited["chat.postMessage"] != 1 {
		t.Errorf("counted %v calls, %v limited", calls, limited)
	}
}

func TestPercentileAndStatusURLs(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(d, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if id, ok := statusOperationID("GET", "/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/operations/ABC"); !ok || id != "abc" {
		t.Errorf("status URL: %q %v", id, ok)
	}
	if _, ok := statusOperationID("GET", "/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/operationresults/abc"); ok {
		t.Error("a result URL counted as a status poll")
	}
}

// The replicas of benchmarks 6-9 read replicaConfig; the bot refuses to start on a file it
// rejects (an etcd prefix without its leading "/" once stopped every replica).
func TestReplicaConfigIsValid(t *testing.T) {
	f, err := config.Parse([]byte(replicaConfig()))
	if err != nil {
		t.Fatalf("the replicas' configuration is rejected: %v\n%s", err, replicaConfig())
	}
	if f.Store.Etcd.Prefix != "/aksbot-bench/" || f.Store.Etcd.LeaseTTL.Duration != replicaLeaseTTL {
		t.Errorf("store.etcd read as %+v", f.Store.Etcd)
	}
}
