package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// metrics records what the bot reports.
type metrics struct {
	mu         sync.Mutex
	calls      map[string][]string // method -> results
	acks       []time.Duration
	reconnects int
}

func newMetrics() *metrics { return &metrics{calls: map[string][]string{}} }

func (m *metrics) SlackCall(method, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[method] = append(m.calls[method], result)
}

func (m *metrics) SlackAck(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks = append(m.acks, d)
}

func (m *metrics) SocketReconnect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reconnects++
}

func (m *metrics) OutboxDepth(int) {}

func (m *metrics) snapshot() (calls map[string][]string, acks []time.Duration, reconnects int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	calls = map[string][]string{}
	for k, v := range m.calls {
		calls[k] = slices.Clone(v)
	}
	return calls, append([]time.Duration(nil), m.acks...), m.reconnects
}

// proxy stands in front of a fake Slack's Web API and answers chosen methods with a Slack
// error instead, as the real Slack does for a revoked token or a missing scope.
type proxy struct {
	URL string // Web API base URL, ending in "/"

	mu     sync.Mutex
	refuse map[string]string // method -> error code
	status map[string]int    // method -> HTTP status to answer once
}

func newProxy(t testing.TB, srv *slacktest.Server) *proxy {
	t.Helper()
	target, err := url.Parse(srv.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{refuse: map[string]string{}, status: map[string]int{}}
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		p.mu.Lock()
		code, status := p.refuse[method], p.status[method]
		delete(p.status, method)
		p.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if code == "" {
			forward.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q,"needed":"usergroups:read","provided":"commands,chat:write"}`, code)
	}))
	t.Cleanup(hs.Close)
	p.URL = hs.URL + "/api/"
	return p
}

// failOnce makes the next call of method answer with HTTP status.
func (p *proxy) failOnce(method string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[method] = status
}

func (p *proxy) set(method, code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse[method] = code
}

func TestReconnectAfterDropAndDisconnectIsCounted(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "pong"} }}
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	m := newMetrics()
	x := startOn(t, srv.APIURL(), srv, h, m)

	srv.Drop() // a network failure: no disconnect message
	if err := srv.WaitFor(ctx, func() bool { return srv.Connections() == 2 }); err != nil {
		t.Fatal(err)
	}
	srv.Disconnect("refresh_requested")
	if err := srv.WaitFor(ctx, func() bool { return srv.Connections() == 3 }); err != nil {
		t.Fatal(err)
	}
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "ping"}); err != nil {
		t.Fatalf("command after reconnects: %v", err)
	}
	if err := srv.WaitFor(ctx, func() bool { return len(srv.Ephemerals("C1", "U1")) == 1 }); err != nil {
		t.Fatal(err)
	}
	x.stop()
	calls, acks, reconnects := m.snapshot()
	if reconnects != 2 {
		t.Errorf("reconnects counted = %d, want 2 (one drop, one disconnect; the first connection is not one)", reconnects)
	}
	if len(acks) != 1 || acks[0] <= 0 {
		t.Errorf("ack latencies = %v, want one positive latency", acks)
	}
	if got := calls["chat.postEphemeral"]; !slices.Equal(got, []string{ResultOK}) {
		t.Errorf("chat.postEphemeral calls = %v, want one success", got)
	}
}

// When socket mode gives up (here: apps.connections.open answers 404, which slack-go does not
// retry), Run waits its backoff and connects again.
func TestRunRetriesWhenSocketModeGivesUp(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	p := newProxy(t, srv)
	p.failOnce("apps.connections.open", http.StatusNotFound)
	log, logs := logger(t)
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: p.URL, Logger: log}, &handler{}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bot.Run(runCtx) }()
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after its context ended, want nil", err)
	}
	if !strings.Contains(logs.String(), "slack socket mode stopped; reconnecting") {
		t.Errorf("logs lack the reconnect warning:\n%s", logs)
	}
}

func TestFatalAuthCodesEndRun(t *testing.T) {
	for _, code := range []string{"invalid_auth", "token_revoked", "account_inactive", "not_authed"} {
		for _, method := range []string{"auth.test", "apps.connections.open"} {
			t.Run(code+"/"+method, func(t *testing.T) {
				ctx := testCtx(t)
				srv := slacktest.NewServer()
				t.Cleanup(srv.Close)
				p := newProxy(t, srv)
				p.set(method, code)
				log, _ := logger(t)
				bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: p.URL, Logger: log}, &handler{}, newRefs())
				if err != nil {
					t.Fatal(err)
				}
				err = runUntilReturn(ctx, t, bot)
				checkAuthError(t, err, code, method)
			})
		}
	}
}

// A token revoked while the bot runs ends Run at the next reconnect.
func TestTokenRevokedWhileConnectedEndsRun(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	p := newProxy(t, srv)
	log, _ := logger(t)
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: p.URL, Logger: log}, &handler{}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	p.set("apps.connections.open", "token_revoked")
	srv.Disconnect("warning")
	select {
	case err := <-done:
		checkAuthError(t, err, "token_revoked", "apps.connections.open")
	case <-ctx.Done():
		t.Fatal("Run kept going after the app-level token was revoked")
	}
	if bot.Connected() {
		t.Error("Connected() is true after Run returned")
	}
}

func runUntilReturn(ctx context.Context, t *testing.T, bot *Bot) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatal("Run kept going with a refused token")
		return nil
	}
}

func checkAuthError(t *testing.T, err error, code, method string) {
	t.Helper()
	if err == nil {
		t.Fatal("Run returned nil, want an error")
	}
	msg := err.Error()
	env := "SLACK_APP_TOKEN"
	if method == "auth.test" {
		env = "SLACK_BOT_TOKEN"
	}
	if !errors.Is(err, ErrTokenRefused) || !strings.Contains(msg, code) || !strings.Contains(msg, env) || !strings.Contains(msg, "slack refused") {
		t.Errorf("Run = %q, want a fatal auth error naming %s and %s", msg, code, env)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error shows a token: %v", err)
	}
}

func TestRedeliveredTriggerHandledOnce(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "ok"} }}
	x := start(t, h)

	slash, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "create demo"})
	if err != nil {
		t.Fatal(err)
	}
	click, err := x.srv.Click(ctx, slacktest.Click{User: "U2", Channel: "C1", MessageTS: "1.2", ActionID: ActionApprove,
		BlockID: approvalBlockID("1"), Value: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// Slack retries under new envelope IDs with the same trigger IDs: acked, not handled.
	for _, id := range []string{slash.EnvelopeID, click.EnvelopeID} {
		ack, err := x.srv.Redeliver(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ack.EnvelopeID == id {
			t.Fatalf("redelivery kept envelope ID %s", id)
		}
	}
	// A different command afterwards is still handled.
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "create demo"}); err != nil {
		t.Fatal(err)
	}
	x.stop()
	cmds, ds := h.calls()
	if len(cmds) != 2 {
		t.Errorf("commands handled = %d, want 2 (the retry skipped): %+v", len(cmds), cmds)
	}
	want := decision{jobID: "1", user: aks.User{ID: "U2", Name: "U2"}, approve: true}
	if len(ds) != 1 || ds[0] != want {
		t.Errorf("decisions = %+v, want only %+v", ds, want)
	}
}

func TestMetricsCountWebAPICalls(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	p := newProxy(t, srv)
	m := newMetrics()
	h := &handler{}
	x := startOn(t, p.URL, srv, h, m)
	srv.SetUserGroup("S1", "U1")

	if _, err := x.bot.Members(ctx, "S1"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.bot.Members(ctx, "S404"); err == nil {
		t.Fatal("Members of an unknown group: no error")
	}
	if _, err := srv.Click(ctx, denyClick("UBOB", "2")); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func() bool { return len(srv.Views()) == 1 }); err != nil {
		t.Fatal(err)
	}
	p.set("views.open", "expired_trigger_id")
	if _, err := srv.Click(ctx, denyClick("UBOB", "3")); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func() bool { return len(srv.Ephemerals("C1", "UBOB")) == 1 }); err != nil {
		t.Fatal(err)
	}
	x.stop()
	calls, acks, _ := m.snapshot()
	ok := func(results []string, wantOK, wantFailed int) bool {
		var okN, failedN int
		for _, r := range results {
			switch r {
			case ResultOK:
				okN++
			case ResultError:
				failedN++
			}
		}
		return okN == wantOK && failedN == wantFailed && len(results) == wantOK+wantFailed
	}
	for method, want := range map[string][2]int{
		"usergroups.users.list": {1, 1},
		"views.open":            {1, 1},
		"chat.postEphemeral":    {1, 0},
	} {
		if !ok(calls[method], want[0], want[1]) {
			t.Errorf("%s calls = %v, want %d ok and %d failed", method, calls[method], want[0], want[1])
		}
	}
	if len(acks) != 2 {
		t.Errorf("acks counted = %d, want 2", len(acks))
	}
}
