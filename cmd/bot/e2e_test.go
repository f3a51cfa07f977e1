package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"go.etcd.io/bbolt"
)

// End-to-end: the real bot (main's wiring, the slack-go socket-mode client, the Azure SDK
// client) against a fake Slack and the simulated cloud behind an HTTPS ARM endpoint.

const (
	requester = "UREQ0001"
	approver  = "UAPP0001"
	outsider  = "UOUT0001"
	channel   = "C0DEMO01"
	appToken  = "xapp-1-A0TEST-0000-e2e"
	botToken  = "xoxb-0000-e2e-secret"
)

type world struct {
	t      *testing.T
	clock  *offsetClock // nil: the bot uses the real clock
	slack  *slacktest.Server
	sim    *sim.Cloud
	arm    *httptest.Server
	dbPath string
	logs   *syncBuffer
	// httpAddr is where a spawned bot serves health and metrics.
	httpAddr string
	// config is the bot's YAML file; "" writes the default one (approver decides everything).
	config string
	// extraEnv is added to the bot's environment (a spawned bot's process environment).
	extraEnv map[string]string
	cancel   context.CancelFunc
	done     chan error
}

// offsetClock is the real clock plus an offset a test can move forward.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// simDB opens the simulated cloud's own bbolt file (apart from the bot's: here it plays Azure).
func simDB(t *testing.T) *bbolt.DB {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "azure.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newWorld(t *testing.T, durations sim.Durations) *world {
	t.Helper()
	return newWorldWithConfig(t, durations, "")
}

// newWorldWithConfig is newWorld with the bot's YAML file given ("" = the default one).
func newWorldWithConfig(t *testing.T, durations sim.Durations, configYAML string) *world {
	t.Helper()
	cloud, err := sim.New(sim.Options{DB: simDB(t), Durations: durations, RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	arm := newTLS(t, cloud)
	sl := newSlack(t)
	if err := cloud.Seed(context.Background(), "rg-aks", "demo", "westeurope",
		sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2},
		sim.SeedPool{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1}); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, slack: sl, sim: cloud, arm: arm, dbPath: filepath.Join(t.TempDir(), "aksbot.db"), logs: &syncBuffer{}, config: configYAML, clock: &offsetClock{}}
	w.start()
	return w
}

func newTLS(t *testing.T, cloud *sim.Cloud) *httptest.Server {
	srv := httptest.NewTLSServer(cloud.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func newSlack(t *testing.T) *slacktest.Server {
	sl := slacktest.NewServer(slacktest.WithAppToken(appToken), slacktest.WithBotToken(botToken))
	t.Cleanup(sl.Close)
	return sl
}

func (w *world) env() map[string]string {
	dir := filepath.Dir(w.dbPath)
	cfgFile := filepath.Join(dir, "aksbot.yaml")
	yaml := fmt.Sprintf("azure:\n  resourceGroup: rg-aks\n  location: westeurope\npolicy:\n  approvers: [%s]\njobs:\n  pollInterval: 1s\n  progressInterval: 10s\n", approver)
	if w.config != "" {
		yaml = w.config
	}
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		w.t.Fatal(err)
	}
	env := map[string]string{
		"SLACK_APP_TOKEN":       appToken,
		"SLACK_BOT_TOKEN":       botToken,
		"SLACK_API_URL":         w.slack.APIURL(),
		"AZURE_SUBSCRIPTION_ID": sim.SubscriptionID,
		"AKSBOT_ARM_ENDPOINT":   w.arm.URL,
		"AKSBOT_CONFIG":         cfgFile,
		"AKSBOT_DB":             w.dbPath,
		"AKSBOT_HTTP_ADDR":      "off",
	}
	maps.Copy(env, w.extraEnv)
	return env
}

// start runs the bot in this process, as main does, with the ARM server's TLS trust and
// credential handed in (the process-wide SSL_CERT_FILE cannot be set per test).
func (w *world) start() {
	env := w.env()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		w.t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan error, 1)
	go func() {
		ov := overrides{armTransport: w.arm.Client(), armCredential: w.sim.Credential()}
		if w.clock != nil {
			ov.clock, ov.retryDelay = w.clock.now, 100*time.Millisecond
		}
		w.done <- serve(ctx, cfg, log, strings.NewReader(""), &bytes.Buffer{}, ov)
	}()
	w.t.Cleanup(w.stop)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := w.slack.Connected(cctx); err != nil {
		w.t.Fatalf("bot did not connect to Slack: %v", err)
	}
}

func (w *world) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("bot stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		w.t.Error("bot did not stop within 10 s of SIGTERM")
	}
	for _, secret := range []string{appToken, botToken} {
		if strings.Contains(w.logs.String(), secret) {
			w.t.Errorf("a Slack token appears in the logs")
		}
	}
}

func (w *world) slash(user, text string) slacktest.Ack {
	w.t.Helper()
	return w.slashCommand("/aks", user, text)
}

// slashCommand types text as user after the slash command command ("/aks" or "/eks").
func (w *world) slashCommand(command, user, text string) slacktest.Ack {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := w.slack.SendSlash(ctx, slacktest.Slash{User: user, UserName: strings.ToLower(user), Channel: channel, Text: text, Command: command})
	if err != nil {
		w.t.Fatalf("%s %s: %v", command, text, err)
	}
	return ack
}

// waitFor waits until cond holds, failing with what describes the state after 30 s.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.slack.WaitFor(ctx, cond); err != nil {
		w.t.Fatalf("waiting for %s: %v\nchannel: %s", what, err, w.dump())
	}
}

func (w *world) dump() string {
	var b strings.Builder
	for _, m := range w.slack.Messages(channel) {
		fmt.Fprintf(&b, "\n  [%s thread=%s updates=%d] %s", m.TS, m.ThreadTS, m.Updates, m.Text)
	}
	return b.String()
}

// parents returns the top-level messages in the channel.
func (w *world) parents() []slacktest.Message {
	var out []slacktest.Message
	for _, m := range w.slack.Messages(channel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

func (w *world) ephemeralsTo(user string) []slacktest.Message {
	return w.slack.Ephemerals(channel, user)
}

// lastEphemeral waits for a new ephemeral message to user (beyond the n already seen).
func (w *world) nextEphemeral(user string, n int) slacktest.Message {
	w.t.Helper()
	w.waitFor("an ephemeral reply to "+user, func() bool { return len(w.ephemeralsTo(user)) > n })
	return w.ephemeralsTo(user)[n]
}

// job waits for the parent message of the newest job and returns it.
func (w *world) newParent(n int) slacktest.Message {
	w.t.Helper()
	w.waitFor("a job message in the channel", func() bool { return len(w.parents()) > n })
	return w.parents()[n]
}

func (w *world) thread(parent slacktest.Message) []slacktest.Message {
	return w.slack.Thread(channel, parent.TS)
}

// approval waits for the message in the thread that carries the buttons.
func (w *world) approval(parent slacktest.Message) slacktest.Message {
	w.t.Helper()
	var found slacktest.Message
	w.waitFor("the approval message", func() bool {
		for _, m := range w.thread(parent) {
			if bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func (w *world) click(user string, parent, msg slacktest.Message, action, jobID string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.slack.Click(ctx, slacktest.Click{User: user, Channel: channel, MessageTS: msg.TS, ThreadTS: parent.TS,
		ActionID: action, BlockID: "aksbot_approval_" + jobID, Value: jobID}); err != nil {
		w.t.Fatalf("click %s: %v", action, err)
	}
}

// waitThreadEnds waits until the job's last thread message carries a final word.
func (w *world) waitThreadEnds(parent slacktest.Message, word string) []slacktest.Message {
	w.t.Helper()
	w.waitFor("the job to end "+word, func() bool {
		th := w.thread(parent)
		return len(th) > 0 && strings.Contains(th[len(th)-1].Text, word)
	})
	return w.thread(parent)
}

func countContaining(msgs []slacktest.Message, word string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, word) {
			n++
		}
	}
	return n
}

func fastAzure() sim.Durations {
	d := 1500 * time.Millisecond
	return sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}
}

func TestHelpAnswersOnlyTheRequester(t *testing.T) {
	w := newWorld(t, fastAzure())
	ack := w.slash(requester, "help")
	if len(ack.Payload) > 20*1024 {
		t.Errorf("ack payload of %d bytes; Slack refuses acks over 20 KB", len(ack.Payload))
	}
	reply := w.nextEphemeral(requester, 0)
	if !strings.Contains(reply.Text, "/aks nodepool scale") {
		t.Errorf("help reply does not list the commands: %q", reply.Text)
	}
	if len(w.slack.Messages(channel)) != 0 {
		t.Errorf("help posted in the channel: %s", w.dump())
	}
}

func TestBadCommandGetsUsageAndStartsNothing(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "nodepool scale demo np2 --node-cout 3")
	reply := w.nextEphemeral(requester, 0)
	for _, want := range []string{"--node-cout", "--node-count", "Usage"} {
		if !strings.Contains(reply.Text, want) {
			t.Errorf("error reply %q lacks %q", reply.Text, want)
		}
	}
	w.slash(requester, "nodepool scale demo np2 --node-count 5000")
	reply = w.nextEphemeral(requester, 1)
	if !strings.Contains(reply.Text, "1000") {
		t.Errorf("out-of-range count reply %q does not give the limit", reply.Text)
	}
	if len(w.slack.Messages(channel)) != 0 || w.sim.CountMutations("") != 0 {
		t.Errorf("a bad command posted or mutated: %s", w.dump())
	}
}

func TestCreateWithApproval(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "create demo2 --node-count 3")
	parent := w.newParent(0)
	if !strings.Contains(parent.Text, "approval") {
		t.Errorf("parent text %q does not say it awaits approval", parent.Text)
	}
	appr := w.approval(parent)
	if !strings.Contains(string(appr.Blocks), "Approve") || !strings.Contains(string(appr.Blocks), "Deny") {
		t.Errorf("approval message lacks Approve/Deny buttons: %s", appr.Blocks)
	}
	if w.sim.CountMutations("managedClusters/demo2") != 0 {
		t.Fatal("the cluster was created before approval")
	}
	w.click(approver, parent, appr, "aksbot_approve", "1")
	th := w.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d thread messages say succeeded, want 1", n)
	}
	if countContaining(th, "Approved by") != 1 || countContaining(th, "Started in Azure") != 1 {
		t.Errorf("thread lacks the milestones: %s", w.dump())
	}
	if ps := w.parents(); len(ps) != 1 {
		t.Fatalf("%d messages in the channel, want one parent: %s", len(ps), w.dump())
	}
	w.waitFor("the status card to say succeeded", func() bool {
		return strings.Contains(w.parents()[0].Text, "succeeded")
	})
	// The buttons are gone once decided.
	for _, m := range w.thread(parent) {
		if m.TS == appr.TS && bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) {
			t.Error("the Approve button is still there after the decision")
		}
	}
	if n := w.sim.CountMutations("managedClusters/demo2"); n != 1 {
		t.Errorf("%d mutations of the cluster, want 1", n)
	}
}

func TestDeniedRequest(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "delete demo")
	parent := w.newParent(0)
	appr := w.approval(parent)
	w.click(approver, parent, appr, "aksbot_deny", "1")
	// Deny opens a form for an optional reason; the denial comes with its submission.
	w.waitFor("the deny form to open", func() bool { return len(w.slack.Views()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.slack.SubmitView(ctx, slacktest.Submission{ViewID: w.slack.Views()[0].ID}); err != nil {
		t.Fatalf("submit the deny form: %v", err)
	}
	th := w.waitThreadEnds(parent, "denied")
	if countContaining(th, "denied") != 1 {
		t.Errorf("denial reported %d times", countContaining(th, "denied"))
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("a denied job reached Azure")
	}
}

func TestSelfApprovalAndOutsiderRefused(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "nodepool scale demo np2 --node-count 4")
	parent := w.newParent(0)
	appr := w.approval(parent)
	w.nextEphemeral(requester, 0) // the answer to the command itself
	seen := len(w.ephemeralsTo(requester))
	w.click(requester, parent, appr, "aksbot_approve", "1")
	refusal := w.nextEphemeral(requester, seen)
	if !strings.Contains(refusal.Text, "own request") {
		t.Errorf("self-approval refusal says %q", refusal.Text)
	}
	w.click(outsider, parent, appr, "aksbot_approve", "1")
	refusal = w.nextEphemeral(outsider, 0)
	if !strings.Contains(refusal.Text, approver) {
		t.Errorf("outsider refusal %q does not say who can approve", refusal.Text)
	}
	if w.sim.CountMutations("") != 0 {
		t.Fatal("a refused click started the job")
	}
	// The job still waits, and the real approver can still approve it.
	w.click(approver, parent, appr, "aksbot_approve", "1")
	w.waitThreadEnds(parent, "succeeded")
}

func TestNodePoolScaleUpWithApproval(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "nodepool scale demo np2 --node-count 3")
	parent := w.newParent(0)
	// Slack mrkdwn escapes '>' as &gt;; people see the unescaped text.
	var blocks any
	if err := json.Unmarshal(parent.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.UnescapeString(fmt.Sprint(blocks)), "np2: 1 -> 3 nodes") {
		t.Errorf("status card does not show the plan 1 -> 3: %s", parent.Blocks)
	}
	appr := w.approval(parent)
	w.click(approver, parent, appr, "aksbot_approve", "1")
	w.waitThreadEnds(parent, "succeeded")
	w.slash(requester, "nodepool list demo")
	w.waitFor("the pool list", func() bool {
		for _, m := range w.ephemeralsTo(requester) {
			if regexp.MustCompile(`np2\s+User\s+3\s`).MatchString(m.Text) {
				return true
			}
		}
		return false
	})
	if n := w.sim.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("%d PUTs of np2, want 1", n)
	}
}

func TestScaleDownNeedsNoApproval(t *testing.T) {
	w := newWorld(t, fastAzure())
	w.slash(requester, "nodepool scale demo sys --node-count 1")
	parent := w.newParent(0)
	th := w.waitThreadEnds(parent, "succeeded")
	for _, m := range th {
		if bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) {
			t.Error("a scale-down asked for approval")
		}
	}
}

// Acks must reach Slack within 3 s whatever the bot is doing; a burst while jobs are planned
// against Azure must not hold them up.
func TestAcksStayFastUnderABurst(t *testing.T) {
	w := newWorld(t, fastAzure())
	var wg sync.WaitGroup
	lat := make(chan time.Duration, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := "show demo"
			if i%3 == 0 {
				text = "nodepool scale demo np2 --node-count 2"
			}
			ack := w.slash(requester, text)
			lat <- ack.Latency
		}()
	}
	wg.Wait()
	close(lat)
	var worst time.Duration
	for l := range lat {
		worst = max(worst, l)
	}
	if worst > 3*time.Second {
		t.Errorf("slowest ack took %v; Slack shows a timeout after 3 s", worst)
	}
}
