package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	// checkTimeout bounds each readiness check so a hung dependency makes
	// /readyz fail rather than hang the prober.
	checkTimeout = 2 * time.Second
	// shutdownTimeout bounds how long Run waits for scrapes in flight.
	shutdownTimeout = 5 * time.Second
)

// Check reports whether one dependency is usable; nil means ready. Its error
// text is shown on /readyz, so it must not contain secrets.
type Check func(ctx context.Context) error

// Server serves /healthz, /readyz and /metrics.
type Server struct {
	addr    string
	metrics *Metrics
	checks  map[string]Check
	log     *slog.Logger

	// bound receives the listening address once Run has bound it; tests use
	// it to serve on port 0.
	bound chan net.Addr
}

// NewServer returns a server that will listen on addr. ready names the
// checks /readyz runs; a nil log uses slog.Default.
func NewServer(addr string, m *Metrics, ready map[string]Check, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		addr:    addr,
		metrics: m,
		checks:  maps.Clone(ready),
		log:     log,
		bound:   make(chan net.Addr, 1),
	}
}

// Handler returns the HTTP handler for the three endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	// promhttp negotiates the format with the scraper (Prometheus text without an Accept
	// header) and, should a collector fail, still serves the others and logs why.
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// healthz answers while the process can serve HTTP at all; dependencies
// belong to /readyz so a broken Slack connection does not get the pod killed.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

type checkResult struct {
	name string
	err  error
}

// readyz runs every check concurrently and reports each one by name.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := s.runChecks(r.Context())
	var body strings.Builder
	failed := 0
	for _, res := range results {
		if res.err != nil {
			failed++
			s.log.WarnContext(r.Context(), "readiness check failed", "check", res.name, "err", res.err)
			fmt.Fprintf(&body, "%s: failed: %v\n", res.name, singleLine(res.err.Error()))
			continue
		}
		fmt.Fprintf(&body, "%s: ok\n", res.name)
	}
	if len(results) == 0 {
		body.WriteString("ok\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if failed > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(body.String()))
}

// runChecks returns one result per check, sorted by name.
func (s *Server) runChecks(ctx context.Context) []checkResult {
	names := slices.Sorted(maps.Keys(s.checks))
	results := make([]checkResult, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			results[i] = checkResult{name: name, err: runCheck(ctx, s.checks[name])}
		})
	}
	wg.Wait()
	return results
}

// runCheck runs c with a timeout and gives up when the timeout passes even if
// c ignores its context; c then finishes in the background and its result
// is dropped.
func runCheck(ctx context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", checkTimeout, ctx.Err())
	}
}

func singleLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Run serves until ctx is done, then shuts down, waiting up to 5s for
// requests in flight. It returns nil after a shutdown caused by ctx.
func (s *Server) Run(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen for telemetry on %s: %w", s.addr, err)
	}
	select {
	case s.bound <- ln.Addr():
	default: // an earlier Run already reported its address
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.InfoContext(ctx, "telemetry server listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve telemetry: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down telemetry server: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve telemetry: %w", err)
	}
	return nil
}

// WriteProbe adapts a function that performs a small real write (for example
// a bbolt Update of a health key) into a Check. write takes no context, as
// store methods often do not; the check still answers within its timeout
// when write blocks, such as on a held file lock.
func WriteProbe(write func() error) Check {
	return func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- write() }()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("write probe: %w", err)
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("write probe did not finish: %w", ctx.Err())
		}
	}
}
