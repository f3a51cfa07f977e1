package telemetry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aksbot/aksbot/internal/aks"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHealthz(t *testing.T) {
	failing := map[string]Check{"store": func(context.Context) error { return errors.New("down") }}
	s := NewServer("127.0.0.1:0", NewMetrics(), failing, quietLog())
	// Liveness does not depend on readiness checks.
	resp, body := get(t, s.Handler(), "/healthz")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
}

func TestReadyz(t *testing.T) {
	var storeErr error
	checks := map[string]Check{
		"slack": func(ctx context.Context) error { return nil },
		"store": func(ctx context.Context) error { return storeErr },
	}
	s := NewServer("127.0.0.1:0", NewMetrics(), checks, quietLog())
	h := s.Handler()

	resp, body := get(t, h, "/readyz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz with passing checks = %d %q", resp.StatusCode, body)
	}
	if want := "slack: ok\nstore: ok\n"; body != want {
		t.Errorf("readyz body = %q, want %q", body, want)
	}

	// The same server turns unready when a check starts failing: not a constant.
	storeErr = errors.New("open aksbot.db: permission denied\nsecond line")
	resp, body = get(t, h, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with failing check = %d, want 503", resp.StatusCode)
	}
	if !strings.Contains(body, "store: failed: open aksbot.db: permission denied second line\n") {
		t.Errorf("body does not name the failing check and its error: %q", body)
	}
	if !strings.Contains(body, "slack: ok") {
		t.Errorf("body does not report the passing check: %q", body)
	}
}

func TestReadyzCheckThatHangs(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	checks := map[string]Check{
		// Ignores its context, as a careless check might.
		"socket": func(context.Context) error { <-release; return nil },
	}
	s := NewServer("127.0.0.1:0", NewMetrics(), checks, quietLog())
	resp, body := get(t, s.Handler(), "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz = %d, want 503", resp.StatusCode)
	}
	if !strings.Contains(body, "socket: failed:") || !strings.Contains(body, context.DeadlineExceeded.Error()) {
		t.Errorf("body = %q, want the socket check reported as timed out", body)
	}
}

func TestReadyzCheckThatPanics(t *testing.T) {
	s := NewServer("127.0.0.1:0", NewMetrics(), map[string]Check{"bad": func(context.Context) error { panic("nil map") }}, quietLog())
	resp, body := get(t, s.Handler(), "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "bad: failed: check panicked: nil map") {
		t.Errorf("readyz = %d %q", resp.StatusCode, body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := NewMetrics()
	m.SocketReconnect()
	m.SocketReconnect()
	m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
	s := NewServer("127.0.0.1:0", m, nil, quietLog())
	resp, body := get(t, s.Handler(), "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics = %d", resp.StatusCode)
	}
	// A scraper that sends no Accept header (curl, an old Prometheus) gets the 0.0.4 text format.
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" || params["version"] != "0.0.4" {
		t.Errorf("content type = %q (%v)", resp.Header.Get("Content-Type"), err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the text format: %v\n%s", err, body)
	}
	if f := fams[nameSocketReconnects]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 2 {
		t.Errorf("reconnects = %v, want 2", f)
	}
	if f := fams[nameJobTransitions]; f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("transitions = %v, want one series at 1", f)
	}
	// The Go runtime and process collectors are served too.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if resp, _ := get(t, s.Handler(), "/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path = %d, want 404", resp.StatusCode)
	}
}

func TestRunServesAndStopsOnCancel(t *testing.T) {
	s := NewServer("127.0.0.1:0", NewMetrics(), nil, quietLog())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var addr net.Addr
	select {
	case addr = <-s.bound:
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start listening")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("healthz over the network: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still accepting connections after Run returned")
	}
}

func TestRunReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewServer(ln.Addr().String(), NewMetrics(), nil, quietLog())
	err = s.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "listen for telemetry") {
		t.Fatalf("Run on a taken port = %v, want a listen error", err)
	}
}

func TestWriteProbe(t *testing.T) {
	diskFull := errors.New("no space left on device")
	err := WriteProbe(func() error { return diskFull })(t.Context())
	if !errors.Is(err, diskFull) || !strings.Contains(err.Error(), "write probe") {
		t.Errorf("failing write = %v", err)
	}
	if err := WriteProbe(func() error { return nil })(t.Context()); err != nil {
		t.Errorf("successful write = %v", err)
	}

	// A write stuck on a lock must not hold the check past its deadline.
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = WriteProbe(func() error { <-release; return nil })(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("blocked write = %v, want context.Canceled", err)
	}
}

func TestReadyzLogsFailingCheck(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := NewServer("127.0.0.1:0", NewMetrics(), map[string]Check{"slack": func(context.Context) error { return errors.New("not connected") }}, log)
	get(t, s.Handler(), "/readyz")
	if !strings.Contains(logs.String(), "check=slack") || !strings.Contains(logs.String(), "not connected") {
		t.Errorf("failed check not logged with its name: %q", logs.String())
	}
}
