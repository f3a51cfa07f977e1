package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

const (
	appToken = "xapp-1-A0TEST-fake"
	botToken = "xoxb-fake-bot"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client connects a real slack-go socket mode client to srv and returns it with the channel its
// events arrive on (every event is forwarded; the test decides what to ack).
func client(t *testing.T, srv *Server, opts ...socketmode.Option) (*socketmode.Client, <-chan socketmode.Event) {
	t.Helper()
	sm, events, _ := stoppableClient(t, srv, opts...)
	return sm, events
}

// stoppableClient is client with a function that closes the client's socket for good.
func stoppableClient(t *testing.T, srv *Server, opts ...socketmode.Option) (*socketmode.Client, <-chan socketmode.Event, func()) {
	t.Helper()
	api := slack.New(botToken, slack.OptionAppLevelToken(appToken), slack.OptionAPIURL(srv.APIURL()))
	sm := socketmode.New(api, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	events := make(chan socketmode.Event, 100)
	go func() {
		defer close(done)
		_ = sm.RunContext(ctx)
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				select {
				case events <- evt:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return sm, events, stop
}

// next returns the next event of type typ, skipping the client's own connection events.
func next(t *testing.T, ctx context.Context, events <-chan socketmode.Event, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		select {
		case evt := <-events:
			if evt.Type == typ {
				return evt
			}
		case <-ctx.Done():
			t.Fatalf("no %s event: %v", typ, ctx.Err())
		}
	}
}

func TestSlashCommandRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	sm, events := client(t, srv)
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}

	type result struct {
		ack Ack
		err error
	}
	res := make(chan result, 1)
	go func() {
		a, err := srv.SendSlash(ctx, Slash{User: "U1", UserName: "ann", Channel: "C1", Text: "help"})
		res <- result{a, err}
	}()
	evt := next(t, ctx, events, socketmode.EventTypeSlashCommand)
	cmd, ok := evt.Data.(slack.SlashCommand)
	if !ok {
		t.Fatalf("event data is %T, want slack.SlashCommand", evt.Data)
	}
	if cmd.UserID != "U1" || cmd.UserName != "ann" || cmd.ChannelID != "C1" || cmd.Text != "help" || cmd.Command != "/aks" {
		t.Errorf("slash command = %+v", cmd)
	}
	if cmd.TriggerID == "" || evt.Request.EnvelopeID == "" {
		t.Errorf("trigger_id %q / envelope_id %q must be set", cmd.TriggerID, evt.Request.EnvelopeID)
	}
	if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.ack.EnvelopeID != evt.Request.EnvelopeID {
		t.Errorf("ack envelope %q, want %q", r.ack.EnvelopeID, evt.Request.EnvelopeID)
	}
	var p struct{ Text string }
	if err := json.Unmarshal(r.ack.Payload, &p); err != nil || p.Text != "hi" {
		t.Errorf("ack payload %s (%v), want text hi", r.ack.Payload, err)
	}

	// Redelivery keeps the envelope ID.
	go func() {
		a, err := srv.Resend(ctx, evt.Request.EnvelopeID)
		res <- result{a, err}
	}()
	again := next(t, ctx, events, socketmode.EventTypeSlashCommand)
	if again.Request.EnvelopeID != evt.Request.EnvelopeID {
		t.Errorf("resent envelope %q, want %q", again.Request.EnvelopeID, evt.Request.EnvelopeID)
	}
	if err := sm.AckCtx(ctx, again.Request.EnvelopeID, nil); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil || r.ack.Payload != nil {
		t.Errorf("resend ack = %+v, %v; want no payload", r.ack, r.err)
	}
}

func TestClickCarriesBlockAction(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	sm, events := client(t, srv)
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := srv.Click(ctx, Click{User: "U2", Channel: "C1", MessageTS: "1.2", ThreadTS: "1.1", ActionID: "go", Value: "42"})
		errc <- err
	}()
	evt := next(t, ctx, events, socketmode.EventTypeInteractive)
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok {
		t.Fatalf("event data is %T", evt.Data)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != "U2" || cb.Channel.ID != "C1" || cb.Container.ThreadTs != "1.1" {
		t.Errorf("callback = type %q user %q channel %q thread %q", cb.Type, cb.User.ID, cb.Channel.ID, cb.Container.ThreadTs)
	}
	if len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("block actions = %d, want 1 (attachment actions %d)", len(cb.ActionCallback.BlockActions), len(cb.ActionCallback.AttachmentActions))
	}
	if a := cb.ActionCallback.BlockActions[0]; a.ActionID != "go" || a.Value != "42" || a.BlockID == "" {
		t.Errorf("action = %+v", a)
	}
	if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestPingsKeepConnectionAlive(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer(WithPingInterval(25 * time.Millisecond))
	defer srv.Close()
	// The client gives up on a socket after 500ms without a ping.
	client(t, srv, socketmode.OptionPingInterval(500*time.Millisecond))
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	// 60 pongs take at least 1.5s of pings: three times the client's patience.
	if err := srv.WaitFor(ctx, func() bool { return srv.Pongs() >= 60 }); err != nil {
		t.Fatal(err)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("connections = %d, want 1: the client reconnected despite pings", n)
	}
}

func TestDisconnectMakesClientReconnect(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	client(t, srv)
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Disconnect("refresh_requested")
	if err := srv.WaitFor(ctx, func() bool { return srv.Connections() == 2 }); err != nil {
		t.Fatal(err)
	}
	if err := srv.Connected(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAppTokenChecked(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer(WithAppToken("xapp-right"))
	defer srv.Close()
	api := slack.New(botToken, slack.OptionAppLevelToken("xapp-wrong"), slack.OptionAPIURL(srv.APIURL()))
	_, _, err := api.StartSocketModeContext(ctx)
	if err == nil || err.Error() != "invalid_auth" {
		t.Fatalf("wrong app token: err = %v, want invalid_auth", err)
	}
	api = slack.New(botToken, slack.OptionAppLevelToken("xapp-right"), slack.OptionAPIURL(srv.APIURL()))
	_, url, err := api.StartSocketModeContext(ctx)
	if err != nil || !strings.HasPrefix(url, "ws://") {
		t.Fatalf("right app token: url %q, err %v", url, err)
	}
	// The bot token is not an app token.
	api = slack.New(botToken, slack.OptionAppLevelToken(botToken), slack.OptionAPIURL(srv.APIURL()))
	if _, _, err := api.StartSocketModeContext(ctx); err == nil {
		t.Fatal("bot token accepted by apps.connections.open")
	}
}

func TestPostUpdateEphemeral(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer(WithBotToken(botToken))
	defer srv.Close()
	api := slack.New(botToken, slack.OptionAPIURL(srv.APIURL()))

	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Fatalf("auth.test: %v", err)
	}
	ch, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("parent", false))
	if err != nil || ch != "C1" {
		t.Fatalf("post parent: %q %v", ch, err)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	if reply <= parent {
		t.Errorf("ts %q not after %q", reply, parent)
	}
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*new*", false, false), nil, nil))
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", parent, slack.MsgOptionText("parent v2", false), blocks); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}

	msgs := srv.Messages("C1")
	if len(msgs) != 2 || msgs[0].TS != parent || msgs[0].Text != "parent v2" || msgs[0].Updates != 1 || !strings.Contains(string(msgs[0].Blocks), "*new*") {
		t.Errorf("messages = %+v", msgs)
	}
	if th := srv.Thread("C1", parent); len(th) != 1 || th[0].Text != "reply" || th[0].ThreadTS != parent {
		t.Errorf("thread = %+v", th)
	}
	if e := srv.Ephemerals("C1", "U1"); len(e) != 1 || e[0].Text != "only you" {
		t.Errorf("ephemerals = %+v", e)
	}
	if e := srv.Ephemerals("C1", "U2"); len(e) != 0 {
		t.Errorf("ephemerals of another user = %+v", e)
	}
	if srv.Calls("chat.postMessage") != 2 || srv.Calls("chat.update") != 1 || srv.Calls("chat.postEphemeral") != 1 {
		t.Errorf("calls: post %d update %d ephemeral %d", srv.Calls("chat.postMessage"), srv.Calls("chat.update"), srv.Calls("chat.postEphemeral"))
	}

	// Errors as Slack gives them.
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", "9.9", slack.MsgOptionText("x", false)); err == nil || err.Error() != "message_not_found" {
		t.Errorf("update unknown ts: %v", err)
	}
	long := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", 3001), false, false), nil, nil))
	if _, _, err := api.PostMessageContext(ctx, "C1", long); err == nil || err.Error() != "invalid_blocks" {
		t.Errorf("over-long text object: %v", err)
	}
	bad := slack.New("xoxb-other", slack.OptionAPIURL(srv.APIURL()))
	if _, _, err := bad.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("wrong bot token: %v", err)
	}
}

func TestRateLimitAndUserGroups(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	srv.SetUserGroup("S1", "U1", "U2")
	srv.RateLimit("usergroups.users.list", 1, 2*time.Second)
	api := slack.New(botToken, slack.OptionAPIURL(srv.APIURL()))

	_, err := api.GetUserGroupMembersContext(ctx, "S1")
	rl, ok := errors.AsType[*slack.RateLimitedError](err)
	if !ok || rl.RetryAfter != 2*time.Second {
		t.Fatalf("first call: %v, want rate limited for 2s", err)
	}
	users, err := api.GetUserGroupMembersContext(ctx, "S1")
	if err != nil || strings.Join(users, ",") != "U1,U2" {
		t.Fatalf("members = %v, %v", users, err)
	}
	if _, err := api.GetUserGroupMembersContext(ctx, "S9"); err == nil {
		t.Error("unknown group: no error")
	}
	if n := srv.Calls("usergroups.users.list"); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}
}

// An app may hold several socket connections (one per replica): each envelope goes to exactly
// one of them, every connection gets some, and when one closes the others get everything.
func TestSeveralConnectionsShareEnvelopes(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	const clients, sends = 3, 12
	var (
		mu       sync.Mutex
		received = map[int]map[string]int{} // client -> envelope ID -> times received
		stops    []func()
	)
	for i := range clients {
		sm, events, stop := stoppableClient(t, srv)
		cctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		stops = append(stops, stop)
		mu.Lock()
		received[i] = map[string]int{}
		mu.Unlock()
		go func() {
			for {
				select {
				case <-cctx.Done():
					return
				case evt := <-events:
					if evt.Type != socketmode.EventTypeSlashCommand {
						continue
					}
					mu.Lock()
					received[i][evt.Request.EnvelopeID]++
					mu.Unlock()
					_ = sm.AckCtx(cctx, evt.Request.EnvelopeID, nil)
				}
			}
		}()
		if err := srv.WaitFor(ctx, func() bool { return srv.OpenConnections() == i+1 }); err != nil {
			t.Fatal(err)
		}
	}
	send := func() string {
		t.Helper()
		a, err := srv.SendSlash(ctx, Slash{User: "U1", Channel: "C1", Text: "help"})
		if err != nil {
			t.Fatal(err)
		}
		return a.EnvelopeID
	}
	for range sends {
		id := send()
		mu.Lock()
		n := 0
		for c := range clients {
			n += received[c][id]
		}
		mu.Unlock()
		if n != 1 {
			t.Errorf("envelope %s reached %d connections, want 1", id, n)
		}
	}
	mu.Lock()
	for c := range clients {
		if len(received[c]) == 0 {
			t.Errorf("connection %d got no envelope of %d", c, sends)
		}
	}
	mu.Unlock()

	// The first client goes away: the others get everything.
	stops[0]()
	if err := srv.WaitFor(ctx, func() bool { return srv.OpenConnections() == clients-1 }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := len(received[0])
	mu.Unlock()
	for range sends {
		send()
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(received[0]); n != before {
		t.Errorf("the closed connection got %d more envelopes", n-before)
	}
}
