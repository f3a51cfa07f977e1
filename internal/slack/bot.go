// Package slack is aksbot's Slack transport: it receives slash commands and button clicks over
// socket mode, hands them to a chatops.Handler, and reports job progress as a status card with
// a thread under it.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
)

// Action IDs of the approval buttons; the button's value is the job ID.
const (
	ActionApprove = "aksbot_approve"
	ActionDeny    = "aksbot_deny"
)

const (
	// ackTimeout bounds an ack while the socket is down; Slack gives up after 3s anyway.
	ackTimeout = 2 * time.Second
	// handleTimeout bounds one command or click, Web API replies included.
	handleTimeout = 2 * time.Minute
	// shutdownGrace is how long Run waits for commands in flight when it is stopped.
	// It is half of the 10 s a replica has from SIGTERM to exit: the engine and the release of
	// its lanes in etcd come after it.
	shutdownGrace = 5 * time.Second
	// Reconnect backoff when socket mode stops for a reason that is not fatal.
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// Config says how to reach Slack.
type Config struct {
	AppToken, BotToken string // xapp-, xoxb-
	APIURL             string // "" = Slack; tests: slacktest URL
	Logger             *slog.Logger
	Metrics            Metrics // nil = none
	// Outbox keeps undelivered messages; it may be shared by several replicas. nil = the
	// RefStore, when it is an aks.OutboxStore too (store.Store is).
	Outbox aks.OutboxStore
	// Claims de-duplicates envelopes and trigger IDs over all replicas sharing it. nil = a
	// memory of this process only (enough for one replica).
	Claims aks.Claims
}

// RefStore keeps the Slack message references of a job (jobs.Store satisfies it).
type RefStore interface {
	SetRef(ctx context.Context, jobID, name, value string) error
	Refs(ctx context.Context, jobID string) (map[string]string, error)
}

// Bot is the Slack side of aksbot. Run receives commands and clicks; Report posts job progress
// and can be used without Run.
type Bot struct {
	api  *slack.Client
	sm   *socketmode.Client
	h    chatops.Handler
	refs RefStore
	log  *slog.Logger
	now  func() time.Time
	out  *outbox // messages for jobs, stored until Slack has them

	metrics Metrics
	// ackFn writes an envelope's ack; socket mode's AckCtx, replaced in tests that dispatch
	// envelopes without a socket.
	ackFn func(ctx context.Context, envelopeID string, payload any) error

	connected     atomic.Bool
	everConnected atomic.Bool  // a later connection is a reconnect
	connects      atomic.Int64 // connections made, to reset the reconnect backoff
	claims        aks.Claims   // envelope IDs and trigger IDs already handled, by any replica; nil = seen
	seen          *envelopeSet // the same, in this process: without claims, or while they fail
	handlers      sync.WaitGroup
	active        chan struct{} // a slot per running handler (maxActiveHandlers)
}

// New checks cfg and builds a Bot. It does not contact Slack.
func New(cfg Config, h chatops.Handler, refs RefStore) (*Bot, error) {
	// Token values are never put in errors or logs: only what is wrong with them.
	if !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, errors.New("slack app-level token must start with xapp-")
	}
	if !strings.HasPrefix(cfg.BotToken, "xoxb-") {
		return nil, errors.New("slack bot token must start with xoxb-")
	}
	if h == nil || refs == nil {
		return nil, errors.New("slack bot needs a chat handler and a reference store")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	retry := slack.DefaultRetryConfig()
	retry.MaxRetries = 3
	retry.RetryAfterJitter = 250 * time.Millisecond
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionRetryConfig(retry)}
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	// socketmode.New copies the client, so every option must be set before it.
	api := slack.New(cfg.BotToken, opts...)
	metrics := cfg.Metrics
	if metrics == nil {
		metrics = noMetrics{}
	}
	b := &Bot{
		out:     newOutboxFor(cfg, refs, log),
		api:     api,
		sm:      socketmode.New(api),
		h:       h,
		refs:    refs,
		log:     log.With("component", "slack"),
		now:     time.Now,
		metrics: metrics,
		claims:  cfg.Claims,
		seen:    newEnvelopeSet(2048, claimTTL),
		active:  make(chan struct{}, maxActiveHandlers),
	}
	b.ackFn = b.sm.AckCtx
	return b, nil
}

// Connected reports whether the socket mode connection is up now.
func (b *Bot) Connected() bool { return b.connected.Load() }

// Run serves socket mode until ctx is done (it returns nil) or Slack refuses a token (it
// returns an error wrapping ErrTokenRefused that names the token and what to do). Dropped
// sockets and disconnect messages reconnect, with a backoff when connecting fails. Call it once.
//
// When ctx ends (SIGTERM), Run first closes the socket, so that Slack sends what comes next to
// the app's other connections (other replicas), and takes no envelope after that; then it
// waits up to shutdownGrace for the commands and clicks in flight to finish and reply, and
// returns. Run does not deliver the outbox: the caller runs RunOutbox (on one replica).
func (b *Bot) Run(ctx context.Context) error {
	defer b.connected.Store(false)
	auth, err := b.api.AuthTestContext(ctx)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil && fatalAuth(err):
		return authError("bot token (SLACK_BOT_TOKEN)", err)
	case err != nil:
		// Slack may be briefly unreachable; socket mode below retries on its own.
		b.log.Warn("slack auth.test failed", "err", err)
	default:
		b.log.Info("slack bot authenticated", "team", auth.Team, "bot_user", auth.UserID)
	}

	// Commands and clicks in flight when ctx ends get a grace period to finish and reply: they
	// were acked, so Slack will not send them again.
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		b.loop(loopCtx, handlerCtx)
	}()
	defer func() {
		stopLoop()
		<-loopDone
		finished := make(chan struct{})
		go func() {
			b.handlers.Wait()
			close(finished)
		}()
		grace := time.NewTimer(shutdownGrace)
		defer grace.Stop()
		select {
		case <-finished:
		case <-grace.C:
			b.log.Warn("slack handlers still running at shutdown; cancelling them")
		}
		cancelHandlers()
		<-finished
	}()

	backoff := minBackoff
	for {
		connectsBefore := b.connects.Load()
		err := b.sm.RunContext(ctx)
		b.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if fatalAuth(err) {
			return authError("app-level token (SLACK_APP_TOKEN)", err)
		}
		if b.connects.Load() > connectsBefore {
			backoff = minBackoff // it worked for a while: this is a new outage
		}
		b.log.Warn("slack socket mode stopped; reconnecting", "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// fatalAuth reports whether err means the tokens are not accepted, so retrying is pointless.
func fatalAuth(err error) bool {
	switch authCode(err) {
	case "invalid_auth", "token_revoked", "not_authed", "account_inactive":
		return true
	}
	return false
}

// authCode returns Slack's error code in err: socket mode returns bare codes, the Web API
// a SlackErrorResponse.
func authCode(err error) string {
	if err == nil {
		return ""
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return se.Err
	}
	return err.Error()
}

// authError explains a refused token (which names it) and what to do; it never shows the token.
func authError(which string, err error) error {
	code := authCode(err)
	var fix string
	switch code {
	case "invalid_auth":
		fix = "the token is not valid for any workspace: copy it again from the Slack app's settings"
	case "token_revoked":
		fix = "the token was revoked: reinstall the Slack app (or make a new app-level token) and set the new token"
	case "account_inactive":
		fix = "the app or the workspace account behind the token is deactivated: reinstall the Slack app and set the new token"
	case "not_authed":
		fix = "no token reached Slack: set the token"
	}
	return fmt.Errorf("slack refused the %s (%s): %s; aksbot stops: %w", which, code, fix, ErrTokenRefused)
}

// ErrTokenRefused is wrapped by the error Run returns when Slack refuses a token: retrying
// cannot help until someone sets a valid token.
var ErrTokenRefused = errors.New("slack authentication failed")

// loop consumes socket mode events. It never waits on a handler: work goes to goroutines so
// that one slow command cannot delay the acks of others or starve pings.
// Handlers run with handlerCtx, which outlives ctx by the shutdown grace period.
func (b *Bot) loop(ctx, handlerCtx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-b.sm.Events:
			if ctx.Err() != nil {
				return // the socket is closing: what it still had is not acked, nor handled
			}
			b.dispatch(ctx, handlerCtx, evt)
		}
	}
}

// dispatch handles one socket mode event: connection state, or an envelope to ack and handle.
func (b *Bot) dispatch(ctx, handlerCtx context.Context, evt socketmode.Event) {
	received := time.Now()
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.connected.Store(false)
		return
	case socketmode.EventTypeConnected:
		b.connects.Add(1)
		if b.everConnected.Swap(true) {
			b.metrics.SocketReconnect()
		}
		b.markConnected()
		return
	case socketmode.EventTypeHello:
		b.markConnected()
		return
	case socketmode.EventTypeConnectionError:
		b.connected.Store(false)
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			b.log.Warn("slack connection failed", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
		return
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		// Only the cause is logged: the message itself may carry user content.
		var cause error
		switch d := evt.Data.(type) {
		case *slack.IncomingEventError:
			cause = d.ErrorObj
		case *socketmode.ErrorBadMessage:
			cause = d.Cause
		case *socketmode.ErrorWriteFailed:
			cause = d.Cause
		}
		b.log.Warn("slack socket mode error", "type", string(evt.Type), "err", cause)
		return
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	b.handleEnvelope(handlerCtx, evt, func(payload any) {
		b.ack(ctx, evt.Request.EnvelopeID, payload)
		b.metrics.SlackAck(time.Since(received))
	})
}

func (b *Bot) markConnected() {
	if !b.connected.Swap(true) {
		b.log.Info("slack socket mode connected")
	}
}

// handleEnvelope acks a decoded envelope (once, through ack) and starts its work in a goroutine
// with handlerCtx. Work is skipped for an envelope seen before, by envelope ID or by trigger
// ID: Slack may retry a delivery under a new envelope ID, but the trigger ID stays.
func (b *Bot) handleEnvelope(handlerCtx context.Context, evt socketmode.Event, ack func(payload any)) {
	var (
		trigger string
		payload any // the ack's payload; nil for an empty ack
		work    func(context.Context)
	)
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		if cmd, ok := evt.Data.(slack.SlashCommand); ok {
			trigger = cmd.TriggerID
			work = func(ctx context.Context) { b.handleSlash(ctx, cmd) }
		}
	case socketmode.EventTypeInteractive:
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			trigger = cb.TriggerID
			switch cb.Type {
			case slack.InteractionTypeBlockActions:
				work = func(ctx context.Context) { b.handleClick(ctx, cb) }
			case slack.InteractionTypeViewSubmission:
				payload, work = b.viewSubmission(cb)
			}
		}
	}
	// Duplicates are acked too, or Slack would keep sending them.
	ack(payload)
	if work == nil {
		return
	}
	id := evt.Request.EnvelopeID
	// The claims are a store round trip: they are made in the handler's goroutine, so that
	// they never delay the acks of the envelopes behind this one.
	b.spawn(handlerCtx, func(ctx context.Context) {
		if !b.first(ctx, "envelope", id) {
			b.log.Debug("slack envelope already handled", "envelope", id)
			return
		}
		if trigger != "" && !b.first(ctx, "trigger", trigger) {
			b.log.Debug("slack envelope repeats a trigger already handled", "envelope", id)
			return
		}
		work(ctx)
	})
}

const (
	// claimTTL is how long an envelope or trigger ID is remembered: Slack's retries come
	// within minutes, and a trigger ID is useless after 3 s anyway.
	claimTTL = 10 * time.Minute
	// claimTimeout bounds a claim, so that a store outage delays a command by little.
	claimTimeout = 2 * time.Second
)

// first reports whether this is the first delivery of an envelope or trigger ID, over all
// replicas when Claims is set. When the store cannot answer, the delivery is handled anyway
// (checked against this process's memory only): it was acked, Slack will not send it again,
// and handling a rare repeat beats dropping a command.
func (b *Bot) first(ctx context.Context, kind, id string) bool {
	if b.claims == nil {
		return b.seen.add(kind+":"+id, b.now())
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	ok, err := b.claims.Claim(ctx, "slack/"+kind+"/"+id, claimTTL)
	if err != nil {
		b.log.Warn("slack delivery not checked against other replicas (store unavailable); handling it", "kind", kind, "err", err)
		return b.seen.add(kind+":"+id, b.now())
	}
	return ok
}

// ack acknowledges an envelope; payload nil sends an empty ack (answers go out through the Web API).
func (b *Bot) ack(ctx context.Context, envelopeID string, payload any) {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := b.ackFn(ctx, envelopeID, payload); err != nil {
		b.log.Warn("slack ack failed", "envelope", envelopeID, "err", err)
	}
}

// spawn runs a command or click handler after its envelope was acked. At most
// maxActiveHandlers run at once; the rest wait parked, so that a burst of commands (each reads
// Azure and decodes its JSON) cannot starve the loop that acks the next envelopes.
func (b *Bot) spawn(ctx context.Context, f func(context.Context)) {
	b.handlers.Go(func() {
		select {
		case b.active <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-b.active }()
		ctx, cancel := context.WithTimeout(ctx, handleTimeout)
		defer cancel()
		f(ctx)
	})
}

// maxActiveHandlers bounds the handlers running at once: enough to overlap their waits on Azure
// and Slack, few enough to leave the CPU to acks.
var maxActiveHandlers = max(4, 2*runtime.GOMAXPROCS(0))

func (b *Bot) handleSlash(ctx context.Context, cmd slack.SlashCommand) {
	// Slack always names who typed a command; without one there is nobody to act for or answer.
	if cmd.UserID == "" {
		b.log.Warn("slack command without a user ignored", "channel", cmd.ChannelID)
		return
	}
	req := chatops.Request{
		User:    aks.User{ID: cmd.UserID, Name: cmd.UserName},
		Channel: cmd.ChannelID,
		Text:    cmd.Text,
	}
	var reply chatops.Reply
	switch name, known := chatops.SlashCommand(cmd.Command); {
	case !known:
		// The app's manifest may list a command this bot does not serve (an admin added one).
		b.log.Info("slack command aksbot does not answer", "user", cmd.UserID, "channel", cmd.ChannelID, "command", truncate(cmd.Command, 40))
		reply = chatops.UnknownCommand(cmd.Command)
	default:
		if name != chatops.CommandAKS {
			req.Command = name // empty is /aks
		}
		reply = b.h.Command(ctx, req)
	}
	b.log.Debug("slack command handled", "user", cmd.UserID, "channel", cmd.ChannelID, "job", reply.JobID, "refused", reply.Error)
	if reply.Text == "" {
		return
	}
	if err := b.ephemeral(ctx, cmd.ChannelID, cmd.UserID, "", reply.Text); err != nil {
		b.log.Warn("slack command reply not delivered", "user", cmd.UserID, "channel", cmd.ChannelID, "err", err)
	}
}

func (b *Bot) handleClick(ctx context.Context, cb slack.InteractionCallback) {
	// Who clicked comes from Slack's signed-in user, never from the button's value; a click
	// without one decides nothing.
	if cb.User.ID == "" {
		b.log.Warn("slack click without a user ignored")
		return
	}
	user := aks.User{ID: cb.User.ID, Name: cb.User.Name}
	thread := cb.Container.ThreadTs
	if thread == "" {
		thread = cb.Message.ThreadTimestamp
	}
	for _, a := range cb.ActionCallback.BlockActions {
		jobID := a.Value
		var text string
		switch a.ActionID {
		case ActionApprove:
			text, _ = b.decideClick(ctx, jobID, user, true)
		case ActionDeny:
			if may := b.h.CanDecide(ctx, jobID, user); may.Error {
				text = may.Text // refused before anyone types a reason
				break
			}
			err := b.openDenyForm(ctx, cb.TriggerID, jobID, cb.Channel.ID, thread)
			if err == nil {
				continue // the decision comes with the form's submission
			}
			b.log.Warn("slack deny form did not open; denying without a reason", "user", user.ID, "job", jobID, "err", err)
			var refused bool
			text, refused = b.decideClick(ctx, jobID, user, false)
			if !refused {
				text = strings.TrimSpace(text + "\n" + denyHint(jobID))
			}
		default:
			continue
		}
		if text == "" {
			continue
		}
		if err := b.ephemeral(ctx, cb.Channel.ID, user.ID, thread, text); err != nil {
			b.log.Warn("slack click reply not delivered", "user", user.ID, "channel", cb.Channel.ID, "err", err)
		}
	}
}

// decideClick records a decision without a reason and returns the text for the clicker ("" when
// there is none) and whether the decision was refused.
func (b *Bot) decideClick(ctx context.Context, jobID string, user aks.User, approve bool) (text string, refused bool) {
	reply := b.h.Decide(ctx, jobID, user, approve, "")
	b.log.Debug("slack click handled", "user", user.ID, "job", jobID, "approve", approve, "refused", reply.Error)
	if reply.Text == "" && reply.Error {
		return "Your decision on job " + jobID + " was not recorded.", true
	}
	return reply.Text, reply.Error
}

// denyHint tells a denier whose reason form did not open how to give a reason.
func denyHint(jobID string) string {
	return "The form for a reason could not open, so job " + jobID + " was denied without one. To give a reason, type `/aks deny " + jobID + " REASON`."
}

func (b *Bot) ephemeral(ctx context.Context, channel, user, thread, text string) error {
	opts := []slack.MsgOption{slack.MsgOptionText(truncate(text, maxText), false)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
	b.metrics.SlackCall("chat.postEphemeral", callResult(err))
	if err != nil {
		return fmt.Errorf("post ephemeral to %s in %s: %w", user, channel, err)
	}
	return nil
}

// envelopeSet remembers recently seen envelope IDs, bounded in size and age, so a redelivered
// envelope is handled once.
type envelopeSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	at    map[string]time.Time
	order []string // oldest first
}

func newEnvelopeSet(max int, ttl time.Duration) *envelopeSet {
	return &envelopeSet{max: max, ttl: ttl, at: map[string]time.Time{}}
}

// add records id and reports whether it was new.
func (s *envelopeSet) add(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 && now.Sub(s.at[s.order[0]]) >= s.ttl {
		s.drop()
	}
	if _, ok := s.at[id]; ok {
		return false
	}
	for len(s.order) >= s.max {
		s.drop()
	}
	s.at[id] = now
	s.order = append(s.order, id)
	return true
}

// drop forgets the oldest ID. Call with s.mu held.
func (s *envelopeSet) drop() {
	delete(s.at, s.order[0])
	s.order = s.order[1:]
}
