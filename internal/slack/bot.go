// Package slack is aksbot's Slack transport: it receives slash commands and button clicks over
// socket mode, hands them to a chatops.Handler, and reports job progress as a status card with
// a thread under it.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	bolt "go.etcd.io/bbolt"

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
	shutdownGrace = 10 * time.Second
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
	// Outbox is the bbolt file the outbox keeps undelivered messages in; nil = the RefStore's
	// own file when it has a DB() method (store.Store does).
	Outbox *bolt.DB
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

	connected atomic.Bool
	seen      *envelopeSet
	handlers  sync.WaitGroup

	jobsMu sync.Mutex
	jobs   map[string]*jobLock
}

type jobLock struct {
	mu   sync.Mutex
	refs int // goroutines holding or waiting for mu; the entry is dropped at zero
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
	out, err := newOutboxFor(cfg, refs, log)
	if err != nil {
		return nil, err
	}
	return &Bot{
		out:  out,
		api:  api,
		sm:   socketmode.New(api),
		h:    h,
		refs: refs,
		log:  log.With("component", "slack"),
		now:  time.Now,
		seen: newEnvelopeSet(1024, 15*time.Minute),
		jobs: map[string]*jobLock{},
	}, nil
}

// Connected reports whether the socket mode connection is up now.
func (b *Bot) Connected() bool { return b.connected.Load() }

// Run serves socket mode until ctx is done (it returns nil) or Slack refuses the tokens (it
// returns that error). Other failures reconnect. Call it once.
func (b *Bot) Run(ctx context.Context) error {
	defer b.connected.Store(false)
	outboxCtx, stopOutbox := context.WithCancel(ctx)
	outboxDone := make(chan error, 1)
	go func() { outboxDone <- b.RunOutbox(outboxCtx) }()
	defer func() { stopOutbox(); <-outboxDone }()
	auth, err := b.api.AuthTestContext(ctx)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil && fatalAuth(err):
		return fmt.Errorf("slack bot token check: %w", err)
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
		err := b.sm.RunContext(ctx)
		b.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if fatalAuth(err) {
			return fmt.Errorf("slack socket mode: %w", err)
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
	if err == nil {
		return false
	}
	code := err.Error()
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		code = se.Err
	}
	switch code {
	case "invalid_auth", "token_revoked", "not_authed", "account_inactive":
		return true
	}
	return false
}

// loop consumes socket mode events. It never waits on a handler: work goes to goroutines so
// that one slow command cannot delay the acks of others or starve pings.
// Handlers run with handlerCtx, which outlives ctx by the shutdown grace period.
func (b *Bot) loop(ctx, handlerCtx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-b.sm.Events:
			b.dispatch(ctx, handlerCtx, evt)
		}
	}
}

func (b *Bot) dispatch(ctx, handlerCtx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.connected.Store(false)
		return
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if !b.connected.Swap(true) {
			b.log.Info("slack socket mode connected")
		}
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
	id := evt.Request.EnvelopeID
	b.ack(ctx, id)
	if !b.seen.add(id, b.now()) {
		b.log.Debug("slack envelope already handled", "envelope", id)
		return
	}
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return
		}
		b.spawn(handlerCtx, func(ctx context.Context) { b.handleSlash(ctx, cmd) })
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || cb.Type != slack.InteractionTypeBlockActions {
			return
		}
		b.spawn(handlerCtx, func(ctx context.Context) { b.handleClick(ctx, cb) })
	}
}

// ack acknowledges an envelope with an empty payload: answers go out through the Web API.
func (b *Bot) ack(ctx context.Context, envelopeID string) {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := b.sm.AckCtx(ctx, envelopeID, nil); err != nil {
		b.log.Warn("slack ack failed", "envelope", envelopeID, "err", err)
	}
}

func (b *Bot) spawn(ctx context.Context, f func(context.Context)) {
	b.handlers.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, handleTimeout)
		defer cancel()
		f(ctx)
	})
}

func (b *Bot) handleSlash(ctx context.Context, cmd slack.SlashCommand) {
	req := chatops.Request{
		User:    aks.User{ID: cmd.UserID, Name: cmd.UserName},
		Channel: cmd.ChannelID,
		Text:    cmd.Text,
	}
	reply := b.h.Command(ctx, req)
	b.log.Debug("slack command handled", "user", cmd.UserID, "channel", cmd.ChannelID, "job", reply.JobID, "refused", reply.Error)
	if reply.Text == "" {
		return
	}
	if err := b.ephemeral(ctx, cmd.ChannelID, cmd.UserID, "", reply.Text); err != nil {
		b.log.Warn("slack command reply not delivered", "user", cmd.UserID, "channel", cmd.ChannelID, "err", err)
	}
}

func (b *Bot) handleClick(ctx context.Context, cb slack.InteractionCallback) {
	for _, a := range cb.ActionCallback.BlockActions {
		var approve bool
		switch a.ActionID {
		case ActionApprove:
			approve = true
		case ActionDeny:
		default:
			continue
		}
		// Who clicked comes from Slack's signed-in user, never from the button's value.
		user := aks.User{ID: cb.User.ID, Name: cb.User.Name}
		reply := b.h.Decide(ctx, a.Value, user, approve, "")
		b.log.Debug("slack click handled", "user", user.ID, "job", a.Value, "approve", approve, "refused", reply.Error)
		text := reply.Text
		if text == "" && reply.Error {
			text = "Your decision on job " + a.Value + " was not recorded."
		}
		if text == "" {
			continue
		}
		thread := cb.Container.ThreadTs
		if thread == "" {
			thread = cb.Message.ThreadTimestamp
		}
		if err := b.ephemeral(ctx, cb.Channel.ID, user.ID, thread, text); err != nil {
			b.log.Warn("slack click reply not delivered", "user", user.ID, "channel", cb.Channel.ID, "err", err)
		}
	}
}

func (b *Bot) ephemeral(ctx context.Context, channel, user, thread, text string) error {
	opts := []slack.MsgOption{slack.MsgOptionText(truncate(text, maxText), false)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	if _, err := b.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
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
