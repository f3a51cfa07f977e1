package slack

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

const (
	testAppToken = "xapp-1-A0TEST-123-secretappvalue"
	testBotToken = "xoxb-123-456-secretbotvalue"
)

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// handler is a chatops.Handler whose answers the test chooses; it records every call.
type handler struct {
	command func(ctx context.Context, req chatops.Request) chatops.Reply
	decide  func(ctx context.Context, jobID string, user aks.User, approve bool) chatops.Reply
	// mayDecide answers CanDecide; nil allows everyone.
	mayDecide func(ctx context.Context, jobID string, user aks.User) chatops.Reply

	mu        sync.Mutex
	commands  []chatops.Request
	decisions []decision
}

type decision struct {
	jobID   string
	user    aks.User
	approve bool
	reason  string
}

func (h *handler) Command(ctx context.Context, req chatops.Request) chatops.Reply {
	h.mu.Lock()
	h.commands = append(h.commands, req)
	h.mu.Unlock()
	if h.command == nil {
		return chatops.Reply{}
	}
	return h.command(ctx, req)
}

func (h *handler) Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) chatops.Reply {
	h.mu.Lock()
	h.decisions = append(h.decisions, decision{jobID, user, approve, reason})
	h.mu.Unlock()
	if h.decide == nil {
		return chatops.Reply{}
	}
	return h.decide(ctx, jobID, user, approve)
}

func (h *handler) CanDecide(ctx context.Context, jobID string, user aks.User) chatops.Reply {
	if h.mayDecide == nil {
		return chatops.Reply{}
	}
	return h.mayDecide(ctx, jobID, user)
}

func (h *handler) calls() ([]chatops.Request, []decision) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]chatops.Request(nil), h.commands...), append([]decision(nil), h.decisions...)
}

// refs is an in-memory RefStore; setHook, when set, runs before each SetRef.
type refs struct {
	mu      sync.Mutex
	m       map[string]map[string]string
	setHook func(jobID, name string) error
}

func newRefs() *refs { return &refs{m: map[string]map[string]string{}} }

func (r *refs) SetRef(_ context.Context, jobID, name, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.setHook != nil {
		if err := r.setHook(jobID, name); err != nil {
			return err
		}
	}
	if r.m[jobID] == nil {
		r.m[jobID] = map[string]string{}
	}
	r.m[jobID][name] = value
	return nil
}

func (r *refs) Refs(_ context.Context, jobID string) (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.m[jobID] {
		out[k] = v
	}
	return out, nil
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logger captures debug-level logs and fails the test if a token shows up in them.
func logger(t testing.TB) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		out := buf.String()
		for _, secret := range []string{testAppToken, testBotToken, "secretappvalue", "secretbotvalue"} {
			if strings.Contains(out, secret) {
				t.Errorf("a token appears in the logs:\n%s", out)
			}
		}
	})
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

type harness struct {
	srv  *slacktest.Server
	bot  *Bot
	h    *handler
	refs *refs
	logs *syncBuffer
	stop func() // stops Run and waits for it and its handlers
}

// start runs a Bot against a fake Slack and waits until it is connected.
func start(t testing.TB, h *handler, opts ...slacktest.Option) *harness {
	t.Helper()
	srv := slacktest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return startOn(t, srv.APIURL(), srv, h, nil)
}

// startOn runs a Bot whose Web API base URL is apiURL (srv's, or a proxy in front of it)
// and waits until it is connected to srv.
func startOn(t testing.TB, apiURL string, srv *slacktest.Server, h *handler, m Metrics) *harness {
	t.Helper()
	return startWith(t, srv, h, Config{APIURL: apiURL, Metrics: m})
}

// startWith runs a Bot with cfg (tokens and logger filled in) against srv and waits until
// srv has one more connection.
func startWith(t testing.TB, srv *slacktest.Server, h *handler, cfg Config) *harness {
	t.Helper()
	log, buf := logger(t)
	r := newRefs()
	cfg.AppToken, cfg.BotToken, cfg.Logger = testAppToken, testBotToken, log
	if cfg.APIURL == "" {
		cfg.APIURL = srv.APIURL()
	}
	before := srv.OpenConnections()
	bot, err := New(cfg, h, r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v after its context ended, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	if err := srv.WaitFor(testCtx(t), func() bool { return srv.OpenConnections() > before }); err != nil {
		t.Fatal(err)
	}
	return &harness{srv: srv, bot: bot, h: h, refs: r, logs: buf, stop: stop}
}

func TestCommandReplyIsEphemeralToRequester(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(_ context.Context, req chatops.Request) chatops.Reply {
		return chatops.Reply{Text: "*Usage:* `/aks " + req.Text + " ...`"}
	}}
	x := start(t, h)

	ack, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", UserName: "ann", Channel: "C1", Text: "help"})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Payload != nil {
		t.Errorf("ack payload = %s, want none (the reply goes out as an ephemeral)", ack.Payload)
	}
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "U1")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if got := x.srv.Ephemerals("C1", "U1")[0].Text; got != "*Usage:* `/aks help ...`" {
		t.Errorf("ephemeral text = %q", got)
	}
	if m := x.srv.Messages("C1"); len(m) != 0 {
		t.Errorf("a help reply was posted to the channel: %+v", m)
	}
	cmds, _ := h.calls()
	want := chatops.Request{User: aks.User{ID: "U1", Name: "ann"}, Channel: "C1", Text: "help"}
	if len(cmds) != 1 || cmds[0] != want {
		t.Errorf("handler got %+v, want %+v", cmds, want)
	}
}

func TestEmptyReplyPostsNothing(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{}
	x := start(t, h)
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "scale demo"}); err != nil {
		t.Fatal(err)
	}
	x.stop() // waits for the command's goroutine
	if cmds, _ := h.calls(); len(cmds) != 1 {
		t.Fatalf("commands handled = %d, want 1", len(cmds))
	}
	if n := x.srv.Calls("chat.postEphemeral"); n != 0 {
		t.Errorf("chat.postEphemeral called %d times for an empty reply", n)
	}
}

func TestAcksDoNotWaitForSlowHandler(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	h := &handler{command: func(ctx context.Context, _ chatops.Request) chatops.Reply {
		select { // a handler stuck on Azure until the test ends
		case <-release:
		case <-ctx.Done():
		}
		return chatops.Reply{}
	}}
	x := start(t, h)

	const n = 100
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		slowest  time.Duration
		failures []error
	)
	for i := range n {
		wg.Go(func() {
			// Slack shows the user an error when the ack takes more than 3s.
			actx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			ack, err := x.srv.SendSlash(actx, slacktest.Slash{User: "U1", Channel: "C1", Text: "list " + string(rune('a'+i%26))})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
			}
			slowest = max(slowest, ack.Latency)
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d slash commands not acked while the handler blocks; first: %v", len(failures), n, failures[0])
	}
	t.Logf("slowest ack of %d: %v", n, slowest)
	// While the handlers block, only maxActiveHandlers of them run; the others wait their turn.
	waitCalls := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if cmds, _ := h.calls(); len(cmds) == want {
				return
			}
			if time.Now().After(deadline) {
				cmds, _ := h.calls()
				t.Fatalf("handler calls = %d, want %d", len(cmds), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCalls(maxActiveHandlers)
	time.Sleep(50 * time.Millisecond) // a handler started beyond the bound would show up here
	if cmds, _ := h.calls(); len(cmds) != maxActiveHandlers {
		t.Fatalf("%d handlers running at once, want at most %d", len(cmds), maxActiveHandlers)
	}
	close(release)
	waitCalls(n) // and every command is handled in the end
}

func TestClickPassesClickerFromPayload(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{}
	x := start(t, h)

	clicks := []slacktest.Click{
		{User: "UAPPROVER", Channel: "C1", MessageTS: "1700000000.000200", ThreadTS: "1700000000.000100",
			ActionID: ActionApprove, BlockID: approvalBlockID("42"), Value: "42"},
		// The value names another user: it must never be taken as the clicker.
		{User: "UAPPROVER2", Channel: "C1", MessageTS: "1700000000.000200", ActionID: ActionApprove, BlockID: approvalBlockID("U0BOSS"), Value: "U0BOSS"},
		{User: "UOTHER", Channel: "C1", MessageTS: "1700000000.000200", ActionID: "something_else", Value: "99"},
	}
	for _, c := range clicks {
		if _, err := x.srv.Click(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	x.stop()
	_, ds := h.calls()
	want := map[string]decision{
		"42":     {jobID: "42", user: aks.User{ID: "UAPPROVER", Name: "UAPPROVER"}, approve: true},
		"U0BOSS": {jobID: "U0BOSS", user: aks.User{ID: "UAPPROVER2", Name: "UAPPROVER2"}, approve: true},
	}
	if len(ds) != len(want) {
		t.Fatalf("decisions = %+v, want %d (unknown actions ignored)", ds, len(want))
	}
	for _, d := range ds {
		if w, ok := want[d.jobID]; !ok || d != w {
			t.Errorf("decision %+v, want %+v", d, w)
		}
	}
	if n := x.srv.Calls("chat.postEphemeral"); n != 0 {
		t.Errorf("%d ephemerals for accepted clicks with no reply text", n)
	}
}

func TestRefusedClickGetsEphemeralInThread(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{decide: func(_ context.Context, jobID string, user aks.User, _ bool) chatops.Reply {
		return chatops.Reply{Text: "<@" + user.ID + ">, you may not approve job " + jobID + ": you asked for it.", Error: true}
	}}
	x := start(t, h)
	if _, err := x.srv.Click(ctx, slacktest.Click{User: "U1", Channel: "C1", MessageTS: "1.2", ThreadTS: "1.1",
		ActionID: ActionApprove, BlockID: approvalBlockID("5"), Value: "5"}); err != nil {
		t.Fatal(err)
	}
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "U1")) == 1 }); err != nil {
		t.Fatal(err)
	}
	e := x.srv.Ephemerals("C1", "U1")[0]
	if e.Text != "<@U1>, you may not approve job 5: you asked for it." || e.ThreadTS != "1.1" {
		t.Errorf("ephemeral = %+v, want the refusal in thread 1.1", e)
	}
}

func TestDuplicateEnvelopeHandledOnce(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "ok"} }}
	x := start(t, h)
	ack, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "nodepool scale demo np2 --node-count 3"})
	if err != nil {
		t.Fatal(err)
	}
	// The redelivered envelope is acked too, or Slack would keep sending it.
	if _, err := x.srv.Resend(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "list"}); err != nil {
		t.Fatal(err)
	}
	x.stop()
	cmds, _ := h.calls()
	if len(cmds) != 2 {
		t.Fatalf("commands handled = %d, want 2 (the duplicate skipped): %+v", len(cmds), cmds)
	}
	if n := len(x.srv.Ephemerals("C1", "U1")); n != 2 {
		t.Errorf("ephemerals = %d, want 2", n)
	}
}

func TestReconnectAfterDisconnect(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "pong"} }}
	x := start(t, h)
	waitConnected(t, ctx, x.bot, true)

	x.srv.Disconnect("refresh_requested")
	if err := x.srv.WaitFor(ctx, func() bool { return x.srv.Connections() == 2 }); err != nil {
		t.Fatal(err)
	}
	if err := x.srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, ctx, x.bot, true)
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "ping"}); err != nil {
		t.Fatalf("command after reconnect: %v", err)
	}
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "U1")) == 1 }); err != nil {
		t.Fatal(err)
	}
	x.stop()
	if x.bot.Connected() {
		t.Error("Connected() is true after Run returned")
	}
}

func waitConnected(t *testing.T, ctx context.Context, bot *Bot, want bool) {
	t.Helper()
	for bot.Connected() != want {
		select {
		case <-ctx.Done():
			t.Fatalf("Connected() never became %v", want)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestFatalAuthEndsRun(t *testing.T) {
	cases := map[string][]slacktest.Option{
		"app token refused": {slacktest.WithAppToken("xapp-1-another")},
		"bot token refused": {slacktest.WithBotToken("xoxb-another")},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := slacktest.NewServer(opts...)
			defer srv.Close()
			log, _ := logger(t)
			bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: srv.APIURL(), Logger: log}, &handler{}, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- bot.Run(ctx) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
					t.Fatalf("Run = %v, want an invalid_auth error", err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows a token: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Run kept going with refused tokens")
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{AppToken: testAppToken, BotToken: testBotToken}
	bad := []Config{
		{AppToken: testBotToken, BotToken: testBotToken},
		{AppToken: testAppToken, BotToken: testAppToken},
		{AppToken: "", BotToken: testBotToken},
	}
	for _, cfg := range bad {
		_, err := New(cfg, &handler{}, newRefs())
		if err == nil {
			t.Errorf("New accepted tokens with the wrong kinds")
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows a token: %v", err)
		}
	}
	if _, err := New(good, nil, newRefs()); err == nil {
		t.Error("New accepted a nil handler")
	}
	if _, err := New(good, &handler{}, newRefs()); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}

func TestEnvelopeSetForgetsOldest(t *testing.T) {
	s := newEnvelopeSet(2, time.Minute)
	now := time.Unix(1700000000, 0)
	if !s.add("a", now) || s.add("a", now) {
		t.Fatal("first add must be new, second a duplicate")
	}
	s.add("b", now)
	s.add("c", now) // evicts a: the set holds two
	if !s.add("a", now) {
		t.Error("a still remembered beyond the size bound")
	}
	if s.add("c", now.Add(30*time.Second)) {
		t.Error("c forgotten within its TTL")
	}
	if !s.add("c", now.Add(2*time.Minute)) {
		t.Error("c remembered after its TTL")
	}
}

func BenchmarkAck(b *testing.B) {
	h := &handler{}
	x := start(b, h)
	ctx := testCtx(b)
	var total time.Duration
	for b.Loop() {
		ack, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "list"})
		if err != nil {
			b.Fatal(err)
		}
		total += ack.Latency
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/ack")
}

// The engine's ports are what the bot is wired to.
var (
	_ jobs.Reporter = (*Bot)(nil)
	_ RefStore      = jobs.Store(nil)
)

func TestStopLetsCommandsInFlightReply(t *testing.T) {
	ctx := testCtx(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply {
		close(entered)
		<-release
		return chatops.Reply{Text: "job 3 created"}
	}}
	x := start(t, h)
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "cluster stop demo"}); err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan struct{})
	go func() {
		x.stop()
		close(stopped)
	}()
	close(release)
	<-stopped
	if e := x.srv.Ephemerals("C1", "U1"); len(e) != 1 || e[0].Text != "job 3 created" {
		t.Errorf("ephemerals after stop = %+v, want the reply of the command in flight", e)
	}
}

func TestLogsCarryNoToken(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "hello"} }}
	x := start(t, h)
	// A reply Slack refuses (no channel) is logged with Slack's error; logger() fails the test
	// at cleanup if either token shows up anywhere in the output.
	if _, err := x.srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "", Text: "help"}); err != nil {
		t.Fatal(err)
	}
	x.srv.Disconnect("warning")
	if err := x.srv.WaitFor(ctx, func() bool { return x.srv.Connections() == 2 }); err != nil {
		t.Fatal(err)
	}
	x.stop()
	logs := x.logs.String()
	for _, want := range []string{"slack bot authenticated", "slack socket mode connected", "slack command reply not delivered", "channel_not_found"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// /eks reaches the handler as /eks; /aks stays the default; another command of the app is
// answered politely, to its typer only, and reaches nothing.
func TestSlashCommandsByName(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{command: func(_ context.Context, req chatops.Request) chatops.Reply {
		return chatops.Reply{Text: "answer to " + req.Command + " " + req.Text}
	}}
	x := start(t, h)

	for _, s := range []slacktest.Slash{
		{User: "U1", Channel: "C1", Command: "/eks", Text: "nodegroup scale web-prod ng-web --nodes 3"},
		{User: "U1", Channel: "C1", Command: "/aks", Text: "list"},
		{User: "U2", Channel: "C1", Command: "/k8s", Text: "get pods"},
	} {
		if _, err := x.srv.SendSlash(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.srv.WaitFor(ctx, func() bool {
		return len(x.srv.Ephemerals("C1", "U1")) == 2 && len(x.srv.Ephemerals("C1", "U2")) == 1
	}); err != nil {
		t.Fatal(err)
	}
	cmds, _ := h.calls()
	want := []chatops.Request{
		{User: aks.User{ID: "U1"}, Channel: "C1", Command: "/eks", Text: "nodegroup scale web-prod ng-web --nodes 3"},
		{User: aks.User{ID: "U1"}, Channel: "C1", Text: "list"},
	}
	if len(cmds) != len(want) {
		t.Fatalf("handler got %+v, want %+v", cmds, want)
	}
	for _, w := range want {
		found := false
		for _, c := range cmds {
			found = found || c == w
		}
		if !found {
			t.Errorf("handler did not get %+v; got %+v", w, cmds)
		}
	}
	var texts []string
	for _, m := range x.srv.Ephemerals("C1", "U1") {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, "\n"); !strings.Contains(got, "answer to /eks nodegroup scale") || !strings.Contains(got, "answer to  list") {
		t.Errorf("replies to U1:\n%s", got)
	}
	polite := x.srv.Ephemerals("C1", "U2")[0].Text
	if !strings.Contains(polite, "`/aks` and `/eks` only") || !strings.Contains(polite, `"/k8s"`) {
		t.Errorf("reply to an unknown command: %q", polite)
	}
	if m := x.srv.Messages("C1"); len(m) != 0 {
		t.Errorf("something was posted to the channel: %+v", m)
	}
}
