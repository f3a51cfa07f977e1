package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aksbot/aksbot/internal/telemetry"
)

// Wiring in main: one Metrics shared by the job engine, the Slack transport and the Azure
// client (azure.MetricsPolicy in its per-try policies), and the server run alongside the bot
// with srv.Run(ctx). Here its handler is asked directly, as a prober and a scraper would.
func ExampleNewServer() {
	m := telemetry.NewMetrics()
	m.SlackCall("chat.postMessage", "ok")
	m.SlackCall("chat.postMessage", "ratelimited")
	m.OutboxDepth(3)

	storeWritable := telemetry.WriteProbe(func() error { return nil }) // e.g. a bbolt Update of a health key
	slackConnected := func(context.Context) error { return errors.New("socket mode is not connected") }
	srv := telemetry.NewServer("127.0.0.1:0", m,
		map[string]telemetry.Check{"store": storeWritable, "slack": slackConnected}, slog.New(slog.DiscardHandler))

	fmt.Print(scrape(srv.Handler(), "/readyz", ""))
	fmt.Print(scrape(srv.Handler(), "/metrics", "aksbot_slack_api", "aksbot_slack_outbox"))
	// Output:
	// GET /readyz: 503
	// slack: failed: socket mode is not connected
	// store: ok
	// GET /metrics: 200
	// aksbot_slack_api_calls_total{method="chat.postMessage",result="ok"} 1
	// aksbot_slack_api_calls_total{method="chat.postMessage",result="ratelimited"} 1
	// aksbot_slack_outbox_depth 3
}

// With several replicas, each publishes its own lanes and whether it is the elected one, but
// only the elected one publishes the jobs gauge, which counts every replica's jobs.
func ExampleMetrics_PublishJobs() {
	m := telemetry.NewMetrics()
	srv := telemetry.NewServer("127.0.0.1:0", m, nil, slog.New(slog.DiscardHandler))
	m.SetJobsByState(map[[2]string]int{{"nodepool.scale", "running"}: 2})

	// This replica lost the election.
	m.Leader(false)
	m.PublishJobs(false)
	m.LanesOwned(3)
	fmt.Print(scrape(srv.Handler(), "/metrics", "aksbot_jobs", "aksbot_leader", "aksbot_lanes"))

	// It won the next one; the jobs gauge returns with the next refresh.
	m.Leader(true)
	m.PublishJobs(true)
	m.SetJobsByState(map[[2]string]int{{"nodepool.scale", "running"}: 1})
	fmt.Print(scrape(srv.Handler(), "/metrics", "aksbot_jobs", "aksbot_leader"))
	// Output:
	// GET /metrics: 200
	// aksbot_lanes_owned 3
	// aksbot_leader 0
	// GET /metrics: 200
	// aksbot_jobs{op="nodepool.scale",state="running"} 1
	// aksbot_leader 1
}

// scrape GETs path from h and returns the status and the body lines that start with one of
// prefixes (all of them without prefixes).
func scrape(h http.Handler, path string, prefixes ...string) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	out := fmt.Sprintf("GET %s: %d\n", path, rec.Code)
	for line := range strings.Lines(rec.Body.String()) {
		keep := len(prefixes) == 0
		for _, p := range prefixes {
			keep = keep || strings.HasPrefix(line, p)
		}
		if keep {
			out += line
		}
	}
	return out
}
