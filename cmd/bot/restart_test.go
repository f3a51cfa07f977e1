package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aksbot/aksbot/internal/azure/aadtest"
	"github.com/aksbot/aksbot/internal/azure/sim"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// botBinary builds the bot once per test run.
func botBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aksbot-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "aksbot")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// process is the bot running as its own OS process, configured only through the environment,
// the way it runs in production: real azidentity against a fake Entra ID, TLS trust from
// SSL_CERT_FILE.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func (w *world) spawn(t *testing.T, aad *aadtest.Server) *process {
	t.Helper()
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.arm.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	env := w.env()
	env["AZURE_AUTHORITY_HOST"] = aad.URL
	env["AZURE_TENANT_ID"] = "00000000-0000-0000-0000-00000000beef"
	env["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-00000000c1d0"
	env["AZURE_CLIENT_SECRET"] = "e2e-client-secret"
	env["SSL_CERT_FILE"] = certFile
	env["AKSBOT_LOG_LEVEL"] = "debug"
	env["AKSBOT_HTTP_ADDR"] = w.httpAddr
	return spawnEnv(t, t.TempDir(), env)
}

// newProcessWorld is a world for bots run as their own processes (spawn), none started yet:
// the simulated cloud with cluster rg-aks/demo (pools sys and np2) behind HTTPS, the fake Slack,
// and the fake Entra ID the bots get their tokens from.
func newProcessWorld(t *testing.T, durations sim.Durations) (*world, *aadtest.Server) {
	t.Helper()
	cloud, err := sim.New(sim.Options{DB: simDB(t), Durations: durations, RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sim: cloud, dbPath: filepath.Join(t.TempDir(), "aksbot.db"), logs: &syncBuffer{}, httpAddr: "off"}
	w.arm = newTLS(t, cloud)
	w.slack = newSlack(t)
	if err := cloud.Seed(context.Background(), "rg-aks", "demo", "westeurope",
		sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2},
		sim.SeedPool{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1}); err != nil {
		t.Fatal(err)
	}
	aad := aadtest.NewServer()
	t.Cleanup(aad.Close)
	return w, aad
}

// kill ends the process with SIGKILL: no graceful shutdown, nothing flushed.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func TestKilledMidOperationResumesWithOneFinalMessageAndNoSecondPUT(t *testing.T) {
	durations := fastAzure()
	durations.Scale = 6 * time.Second
	w, aad := newProcessWorld(t, durations)
	cloud := w.sim
	w.httpAddr = freeAddr(t)
	first := w.spawn(t, aad)
	waitConnected(t, w, first, 1)
	waitReady(t, w.httpAddr)
	w.slash(requester, "nodepool scale demo np2 --node-count 3")
	parent := w.newParent(0)
	appr := w.approval(parent)
	w.click(approver, parent, appr, "aksbot_approve", "1")
	w.waitFor("the operation to start in Azure", func() bool { return countContaining(w.thread(parent), "Started in Azure") == 1 })
	first.kill()

	if n := cloud.CountMutations("agentPools/np2"); n != 1 {
		t.Fatalf("%d PUTs of np2 before the restart, want 1", n)
	}
	if aad.Tokens() == 0 {
		t.Error("the bot did not get its token from the identity endpoint")
	}
	if c := countContaining(w.thread(parent), "succeeded"); c != 0 {
		t.Fatalf("the job ended before the kill (make the simulated scale slower): %s", w.dump())
	}

	second := w.spawn(t, aad)
	waitConnected(t, w, second, 2)
	th := w.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d thread messages say succeeded, want 1: %s", n, w.dump())
	}
	if n := countContaining(th, "restarted"); n != 1 {
		t.Errorf("%d messages say the job was picked up again, want 1: %s", n, w.dump())
	}
	if n := cloud.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("%d PUTs of np2 in all, want 1: the restarted bot must resume, not resend", n)
	}
	if ps := w.parents(); len(ps) != 1 {
		t.Errorf("%d parent messages, want 1: %s", len(ps), w.dump())
	}
	w.waitFor("the status card to say succeeded", func() bool { return strings.Contains(w.parents()[0].Text, "succeeded") })
	waitReady(t, w.httpAddr)
	fams, text := scrapeMetrics(t, w.httpAddr)
	if v := counterValue(fams, "aksbot_arm_requests_total", map[string]string{"method": "GET", "code": "200"}); v < 1 {
		t.Errorf("/metrics does not count ARM requests:\n%s", text)
	}
	// What this process saw of the job: it resumed it and ran it to its end, and it talked to Slack.
	for _, c := range []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
		want   string
	}{
		{"aksbot_job_transitions_total", map[string]string{"op": "nodepool.scale", "from": "running", "to": "succeeded"}, eq(1), "1"},
		{"aksbot_operation_duration_seconds", map[string]string{"op": "nodepool.scale", "outcome": "succeeded"}, eq(1), "1 observation"},
		{"aksbot_slack_api_calls_total", map[string]string{"method": "chat.postMessage", "result": "ok"}, atLeast(1), "at least 1"},
		{"aksbot_slack_ack_latency_seconds", map[string]string{}, atLeast(0), "a series"},
		{"aksbot_slack_outbox_depth", map[string]string{}, atLeast(0), "a series"},
	} {
		if v := counterValue(fams, c.name, c.labels); !c.ok(v) {
			t.Errorf("/metrics: %s%v = %v, want %s:\n%s", c.name, c.labels, v, c.want, text)
		}
	}

	// A graceful stop: SIGTERM exits 0 well within 10 s.
	start := time.Now()
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
		if code := second.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code %d after SIGINT, want 0\n%s", code, second.logs.String())
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v to stop", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("still running 10 s after SIGINT")
	}
	for _, secret := range []string{appToken, botToken, "e2e-client-secret", aadtest.Token} {
		if strings.Contains(first.logs.String()+second.logs.String(), secret) {
			t.Errorf("a secret appears in the bot's logs")
		}
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeMetrics reads /metrics of the bot at addr with the Prometheus text parser and returns
// the families by name, and the text for failure messages.
func scrapeMetrics(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d (%v):\n%s", resp.StatusCode, err, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}
	return fams, string(body)
}

// counterValue returns the value of the series of family name with exactly labels: a counter's
// or a gauge's value, a histogram's number of observations; -1 when there is no such series.
func counterValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

// waitReady waits until /readyz answers 200 with every check ok (the socket connected, the
// data file writable).
func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "slack: ok") && strings.Contains(string(body), "datafile: ok") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitConnected(t *testing.T, w *world, p *process, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for w.slack.Connections() < n {
		select {
		case <-p.done:
			t.Fatalf("bot exited: %s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot did not connect: %s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
