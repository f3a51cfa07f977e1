// Package slacktest is a small fake Slack that the real slack-go client talks to: the Web API
// methods aksbot uses and a socket mode WebSocket. Tests drive it (slash commands, clicks,
// disconnects, rate limits) and inspect what the bot posted.
package slacktest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Limits the fake enforces, as Slack does, so that a bot exceeding them fails in tests.
const (
	maxBlocks     = 50
	maxTextObject = 3000
	maxText       = 40000
)

// Option configures a Server.
type Option func(*Server)

// WithPingInterval sets how often the server sends WebSocket PING frames (default 1s).
func WithPingInterval(d time.Duration) Option {
	return func(s *Server) { s.pingInterval = d }
}

// WithAppToken makes apps.connections.open accept only this app-level token (default: any
// token starting with "xapp-").
func WithAppToken(token string) Option {
	return func(s *Server) { s.appToken = token }
}

// WithBotToken makes the Web API accept only this bot token (default: any token starting
// with "xoxb-").
func WithBotToken(token string) Option {
	return func(s *Server) { s.botToken = token }
}

// Message is a message as the fake stores it: its current state after updates.
type Message struct {
	TS       string
	ThreadTS string // empty for a top-level message
	Channel  string
	Text     string
	Blocks   json.RawMessage
	Updates  int             // how many times chat.update changed it
	Metadata json.RawMessage // the message metadata it was posted with, if any
}

// Slash is a slash command typed by a user.
type Slash struct {
	User, UserName, Channel, Text string
	Command                       string // "" = /aks
}

// Click is a click on a Block Kit button.
type Click struct{ User, Channel, MessageTS, ThreadTS, ActionID, BlockID, Value string }

// Ack is a client's acknowledgement of an envelope.
type Ack struct {
	Payload    json.RawMessage // nil when the ack carried no payload
	Latency    time.Duration   // from writing the envelope to reading the ack
	EnvelopeID string
}

type ephemeral struct {
	Message
	user string
}

type rateLimit struct {
	n          int
	retryAfter time.Duration
}

type wsConn struct {
	c    *websocket.Conn
	wmu  sync.Mutex // gorilla allows one concurrent writer of data frames
	done chan struct{}
}

func (w *wsConn) writeJSON(v any) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.c.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	return w.c.WriteJSON(v)
}

type ackWait struct {
	ch   chan Ack
	sent time.Time
	conn *wsConn // the connection the envelope went to last
	raw  []byte  // the envelope, for a retry on another connection
	// retries counts redeliveries to other connections after the first one closed unacked.
	retries int
}

// Server is a fake Slack. Its zero value is not usable: call NewServer.
type Server struct {
	redeliveries int // envelopes sent again after their connection closed unacked
	http         *httptest.Server
	pingInterval time.Duration
	appToken     string
	botToken     string
	upgrader     websocket.Upgrader

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every change, for WaitFor
	seq         int64
	messages    []*Message // every stored message, in post order
	byTS        map[string]*Message
	ephemerals  []ephemeral
	calls       map[string]int
	limits      map[string]*rateLimit
	groups      map[string][]string
	live        []*wsConn // connections that got their hello, oldest first: envelopes go to one of them
	turn        int       // which of live gets the next envelope
	conns       map[*wsConn]bool
	connections int
	pongs       int
	envelopes   map[string][]byte
	pending     map[string]*ackWait
	closed      bool
	faults      faults // outages, per-channel limits and call log: faults.go
}

// NewServer starts a fake Slack on a local port. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		pingInterval: time.Second,
		changed:      make(chan struct{}),
		byTS:         map[string]*Message{},
		calls:        map[string]int{},
		limits:       map[string]*rateLimit{},
		groups:       map[string][]string{},
		conns:        map[*wsConn]bool{},
		envelopes:    map[string][]byte{},
		pending:      map[string]*ackWait{},
	}
	// slack-go dials with Origin https://api.slack.com, which is not this host.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	for _, opt := range opts {
		opt(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("/link/", s.serveSocket)
	s.http = httptest.NewServer(mux)
	return s
}

// APIURL is the base URL for slack.OptionAPIURL; it ends in "/".
func (s *Server) APIURL() string { return s.http.URL + "/api/" }

// Close drops every socket and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.c.Close()
	}
	s.http.Close()
}

// notify wakes WaitFor callers. Call with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor returns nil once cond is true, re-evaluating it on every change of the server's
// state, or ctx's error. cond must not block; it may call the Server's methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for condition: %w", ctx.Err())
		}
	}
}

// Connected waits until a client socket is connected.
func (s *Server) Connected(ctx context.Context) error {
	return s.WaitFor(ctx, func() bool { return s.OpenConnections() > 0 })
}

// OpenConnections returns how many sockets are connected now. An app may hold several (Slack
// allows 10, one per replica of a bot): each envelope goes to one of them.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// Connections returns how many sockets clients have opened so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Pongs returns how many PONG frames clients have answered pings with.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// Calls returns how many Web API calls of method were received, including refused ones.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Messages returns the messages in channel (top-level and thread replies), in post order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Thread returns the replies under parentTS in channel, in post order; the parent is not included.
func (s *Server) Thread(channel, parentTS string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == parentTS && m.TS != parentTS {
			out = append(out, *m)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages shown to user in channel, in post order.
func (s *Server) Ephemerals(channel, user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, e := range s.ephemerals {
		if e.Channel == channel && e.user == user {
			out = append(out, e.Message)
		}
	}
	return out
}

// RateLimit makes the next n calls of method answer 429 with Retry-After (whole seconds,
// rounded up).
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = &rateLimit{n: n, retryAfter: retryAfter}
}

// SetUserGroup sets the members usergroups.users.list returns for groupID.
func (s *Server) SetUserGroup(groupID string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[groupID] = append([]string(nil), users...)
	s.notify()
}

// Disconnect asks every connected client to reconnect, as Slack does before it rotates a
// socket, and then drops their sockets.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	live := s.live
	s.live = nil
	s.notify()
	s.mu.Unlock()
	for _, c := range live {
		_ = c.writeJSON(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "slacktest"}})
		_ = c.c.Close()
	}
}

// pick returns the connection the next envelope goes to, nil when none is open. Slack picks
// at random; the fake takes them in turn, so that tests are repeatable and every connection
// gets envelopes. Call with s.mu held.
func (s *Server) pick() *wsConn {
	if len(s.live) == 0 {
		return nil
	}
	s.turn = (s.turn + 1) % len(s.live)
	return s.live[s.turn]
}

// nextTS returns a fresh message timestamp; call with s.mu held. Timestamps increase and
// keep their width, so they also sort as strings.
func (s *Server) nextTS() string {
	s.seq++
	n := s.seq + 99
	return fmt.Sprintf("%d.%06d", 1700000000+n/1000000, n%1000000)
}

// nextID returns a fresh identifier with prefix; call with s.mu held.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%d", prefix, s.seq)
}

// SendSlash delivers a slash command envelope to one connected client and waits for its ack.
func (s *Server) SendSlash(ctx context.Context, c Slash) (Ack, error) {
	s.mu.Lock()
	id := s.nextID("env-")
	trigger := s.nextID("trig-")
	s.mu.Unlock()
	payload := map[string]any{
		"token":        "verification-token-unused",
		"team_id":      "T0TEST",
		"team_domain":  "slacktest",
		"channel_id":   c.Channel,
		"channel_name": "chan-" + c.Channel,
		"user_id":      c.User,
		"user_name":    c.UserName,
		"command":      cmp.Or(c.Command, "/aks"),
		"text":         c.Text,
		"api_app_id":   "A0TEST",
		"response_url": s.http.URL + "/response/" + id,
		"trigger_id":   trigger,
	}
	return s.send(ctx, id, map[string]any{
		"envelope_id":              id,
		"type":                     "slash_commands",
		"accepts_response_payload": true,
		"payload":                  payload,
	})
}

// Click delivers a block_actions envelope for a button click and waits for its ack. An empty
// BlockID is replaced by a fixed one: Slack always sends one, and slack-go needs it.
func (s *Server) Click(ctx context.Context, c Click) (Ack, error) {
	s.mu.Lock()
	id := s.nextID("env-")
	trigger := s.nextID("trig-")
	actionTS := s.nextTS()
	s.mu.Unlock()
	blockID := c.BlockID
	if blockID == "" {
		blockID = "slacktest_block"
	}
	container := map[string]any{
		"type":         "message",
		"message_ts":   c.MessageTS,
		"channel_id":   c.Channel,
		"is_ephemeral": false,
	}
	message := map[string]any{"type": "message", "ts": c.MessageTS}
	if c.ThreadTS != "" {
		container["thread_ts"] = c.ThreadTS
		message["thread_ts"] = c.ThreadTS
	}
	payload := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": "T0TEST", "domain": "slacktest"},
		"user":         map[string]any{"id": c.User, "username": c.User, "name": c.User, "team_id": "T0TEST"},
		"api_app_id":   "A0TEST",
		"trigger_id":   trigger,
		"channel":      map[string]any{"id": c.Channel, "name": "chan-" + c.Channel},
		"container":    container,
		"message":      message,
		"response_url": s.http.URL + "/response/" + id,
		"actions": []map[string]any{{
			"type":      "button",
			"action_id": c.ActionID,
			"block_id":  blockID,
			"value":     c.Value,
			"text":      map[string]any{"type": "plain_text", "text": c.ActionID},
			"action_ts": actionTS,
		}},
	}
	return s.send(ctx, id, map[string]any{
		"envelope_id":              id,
		"type":                     "interactive",
		"accepts_response_payload": false,
		"payload":                  payload,
	})
}

// Resend delivers an envelope sent before again, with the same envelope_id, as Slack does
// when it believes a delivery failed, and waits for its ack.
func (s *Server) Resend(ctx context.Context, envelopeID string) (Ack, error) {
	s.mu.Lock()
	raw, ok := s.envelopes[envelopeID]
	s.mu.Unlock()
	if !ok {
		return Ack{}, fmt.Errorf("resend %s: no such envelope", envelopeID)
	}
	return s.send(ctx, envelopeID, json.RawMessage(raw))
}

func (s *Server) send(ctx context.Context, id string, envelope any) (Ack, error) {
	raw, err := json.Marshal(envelope)
	if err != nil {
		return Ack{}, fmt.Errorf("encode envelope %s: %w", id, err)
	}
	w := &ackWait{ch: make(chan Ack, 1)}
	s.mu.Lock()
	c := s.pick()
	if c == nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("send envelope %s: no client connected", id)
	}
	s.envelopes[id] = raw
	s.pending[id] = w
	w.sent, w.conn, w.raw = time.Now(), c, raw
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.pending[id] == w {
			delete(s.pending, id)
		}
		s.mu.Unlock()
	}()
	if err := c.writeJSON(json.RawMessage(raw)); err != nil {
		return Ack{}, fmt.Errorf("send envelope %s: %w", id, err)
	}
	select {
	case a := <-w.ch:
		return a, nil
	case <-ctx.Done():
		return Ack{}, fmt.Errorf("waiting for ack of %s: %w", id, ctx.Err())
	}
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already answered the client
	}
	c := &wsConn{c: conn, done: make(chan struct{})}
	conn.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs++
		s.notify()
		s.mu.Unlock()
		return nil
	})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.conns[c] = true
	s.mu.Unlock()

	s.mu.Lock()
	n := len(s.live) + 1
	s.mu.Unlock()
	hello := map[string]any{
		"type":            "hello",
		"num_connections": n,
		"connection_info": map[string]any{"app_id": "A0TEST"},
		"debug_info":      map[string]any{"host": "slacktest", "approximate_connection_time": 3600},
	}
	if err := c.writeJSON(hello); err != nil {
		s.drop(c)
		return
	}
	s.mu.Lock()
	if !s.conns[c] { // dropped meanwhile (Disconnect, Close)
		s.mu.Unlock()
		return
	}
	s.live = append(s.live, c)
	s.connections++
	s.notify()
	s.mu.Unlock()

	go s.ping(c)
	s.readAcks(c)
	s.drop(c)
}

func (s *Server) ping(c *wsConn) {
	t := time.NewTicker(s.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.c.WriteControl(websocket.PingMessage, []byte("slacktest"), time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}
}

// readAcks reads the client's acks until the socket fails.
func (s *Server) readAcks(c *wsConn) {
	for {
		_, data, err := c.c.ReadMessage()
		if err != nil {
			return
		}
		got := time.Now()
		var msg struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		w := s.pending[msg.EnvelopeID]
		delete(s.pending, msg.EnvelopeID)
		s.notify()
		s.mu.Unlock()
		if w == nil {
			continue
		}
		payload := msg.Payload
		if string(payload) == "null" {
			payload = nil
		}
		w.ch <- Ack{Payload: payload, Latency: got.Sub(w.sent), EnvelopeID: msg.EnvelopeID}
	}
}

func (s *Server) drop(c *wsConn) {
	_ = c.c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.conns[c] {
		return
	}
	delete(s.conns, c)
	close(c.done)
	for i, l := range s.live {
		if l == c {
			s.live = append(s.live[:i:i], s.live[i+1:]...)
			break
		}
	}
	// Slack retries an envelope that was not acknowledged on another of the app's connections
	// (retry_attempt counts up); a replica closing its socket loses no command that way.
	for _, w := range s.pending {
		if w.conn != c {
			continue
		}
		next := s.pick()
		if next == nil {
			continue // no connection left: the sender times out, as with Slack
		}
		w.conn = next
		w.retries++
		s.redeliveries++
		go func(raw []byte) { _ = next.writeJSON(json.RawMessage(raw)) }(w.raw)
	}
	s.notify()
}

// Redeliveries returns how many envelopes were sent again on another connection because the
// one they went to closed before acknowledging them.
func (s *Server) Redeliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.redeliveries
}

// apiError is a Slack Web API error answer: HTTP 200 with ok=false.
type apiError string

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	s.mu.Lock()
	s.calls[method]++
	s.notify()
	if s.outage(w, r, method) { // releases s.mu
		return
	}
	if rl := s.limits[method]; rl != nil && rl.n > 0 {
		rl.n--
		s.mu.Unlock()
		s.logCall(method, r, http.StatusTooManyRequests)
		writeRateLimited(w, rl.retryAfter)
		return
	}
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_request"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	var (
		resp map[string]any
		err  error
	)
	if method == "apps.connections.open" {
		resp, err = s.connectionsOpen(r)
	} else if err = s.checkBotToken(r); err == nil {
		switch method {
		case "auth.test":
			resp = map[string]any{"url": "https://slacktest.slack.com/", "team": "slacktest", "user": "aksbot",
				"team_id": "T0TEST", "user_id": "U0BOT", "bot_id": "B0BOT"}
		case "chat.postMessage":
			resp, err = s.postMessage(r)
		case "chat.update":
			resp, err = s.update(r)
		case "chat.postEphemeral":
			resp, err = s.postEphemeral(r)
		case "usergroups.users.list":
			resp, err = s.userGroupUsers(r)
		case "views.open":
			resp, err = s.viewsOpen(r)
		case "conversations.history":
			resp, err = s.history(r)
		case "conversations.replies":
			resp, err = s.replies(r)
		default:
			err = apiError("unknown_method")
		}
	}
	if rl, ok := errors.AsType[rateLimited](err); ok {
		s.logCall(method, r, http.StatusTooManyRequests)
		writeRateLimited(w, rl.retryAfter)
		return
	}
	if err != nil {
		s.logCall(method, r, http.StatusOK)
		var ae apiError
		if !errors.As(err, &ae) {
			ae = "internal_error"
		}
		writeJSON(w, map[string]any{"ok": false, "error": string(ae)})
		return
	}
	resp["ok"] = true
	s.logCall(method, r, http.StatusOK)
	if s.loseAnswer(w, method) {
		return
	}
	writeJSON(w, resp)
}

func (e apiError) Error() string { return string(e) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return t
	}
	return ""
}

func (s *Server) connectionsOpen(r *http.Request) (map[string]any, error) {
	tok := bearer(r)
	switch {
	case tok == "":
		return nil, apiError("not_authed")
	case !strings.HasPrefix(tok, "xapp-"), s.appToken != "" && tok != s.appToken:
		return nil, apiError("invalid_auth")
	}
	s.mu.Lock()
	ticket := s.nextID("ticket-")
	s.mu.Unlock()
	url := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/link/?ticket=" + ticket + "&app_id=A0TEST"
	return map[string]any{"url": url}, nil
}

func (s *Server) checkBotToken(r *http.Request) error {
	tok := r.PostForm.Get("token")
	if tok == "" {
		tok = bearer(r)
	}
	switch {
	case tok == "":
		return apiError("not_authed")
	case !strings.HasPrefix(tok, "xoxb-"), s.botToken != "" && tok != s.botToken:
		return apiError("invalid_auth")
	}
	return nil
}

// content checks and returns the text and blocks of a chat call; blocks is nil when the call
// did not set them.
func content(r *http.Request, needOne bool) (text string, blocks json.RawMessage, err error) {
	text = r.PostForm.Get("text")
	if len([]rune(text)) > maxText {
		return "", nil, apiError("msg_too_long")
	}
	if _, ok := r.PostForm["blocks"]; ok {
		raw := r.PostForm.Get("blocks")
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return "", nil, apiError("invalid_blocks_format")
		}
		if len(list) > maxBlocks {
			return "", nil, apiError("invalid_blocks")
		}
		if tooLong(json.RawMessage(raw)) {
			return "", nil, apiError("invalid_blocks")
		}
		blocks = json.RawMessage(raw)
	}
	if needOne && text == "" && len(blocks) == 0 {
		return "", nil, apiError("no_text")
	}
	return text, blocks, nil
}

// tooLong reports whether any "text" string inside the blocks exceeds Slack's text object limit.
func tooLong(raw json.RawMessage) bool {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return true
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if str, ok := e.(string); ok && k == "text" && len([]rune(str)) > maxTextObject {
					return true
				}
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(retryAfter.Seconds()))))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
}

func messageJSON(m *Message) map[string]any {
	out := map[string]any{"type": "message", "user": "U0BOT", "bot_id": "B0BOT", "text": m.Text, "ts": m.TS}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	return out
}

func (s *Server) postMessage(r *http.Request) (map[string]any, error) {
	channel := r.PostForm.Get("channel")
	if channel == "" {
		return nil, apiError("channel_not_found")
	}
	text, blocks, err := content(r, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	threadTS := r.PostForm.Get("thread_ts")
	if threadTS != "" {
		parent, ok := s.byTS[threadTS]
		if !ok || parent.Channel != channel {
			return nil, apiError("thread_not_found")
		}
		// A reply to a reply lands in the parent's thread.
		if parent.ThreadTS != "" {
			threadTS = parent.ThreadTS
		}
	}
	if err := s.channelPostAllowed(channel); err != nil {
		return nil, err
	}
	m := &Message{TS: s.nextTS(), ThreadTS: threadTS, Channel: channel, Text: text, Blocks: blocks}
	if meta := r.PostForm.Get("metadata"); meta != "" {
		m.Metadata = json.RawMessage(meta)
	}
	s.messages = append(s.messages, m)
	s.byTS[m.TS] = m
	s.notify()
	return map[string]any{"channel": channel, "ts": m.TS, "message": messageJSON(m)}, nil
}

func (s *Server) update(r *http.Request) (map[string]any, error) {
	channel, ts := r.PostForm.Get("channel"), r.PostForm.Get("ts")
	if channel == "" {
		return nil, apiError("channel_not_found")
	}
	text, blocks, err := content(r, false)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byTS[ts]
	if !ok || m.Channel != channel {
		return nil, apiError("message_not_found")
	}
	if _, ok := r.PostForm["text"]; ok {
		m.Text = text
	}
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Updates++
	s.notify()
	return map[string]any{"channel": channel, "ts": m.TS, "text": m.Text, "message": messageJSON(m)}, nil
}

func (s *Server) postEphemeral(r *http.Request) (map[string]any, error) {
	channel, user := r.PostForm.Get("channel"), r.PostForm.Get("user")
	if channel == "" {
		return nil, apiError("channel_not_found")
	}
	if user == "" {
		return nil, apiError("user_not_found")
	}
	text, blocks, err := content(r, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := Message{TS: s.nextTS(), ThreadTS: r.PostForm.Get("thread_ts"), Channel: channel, Text: text, Blocks: blocks}
	s.ephemerals = append(s.ephemerals, ephemeral{Message: m, user: user})
	s.notify()
	return map[string]any{"message_ts": m.TS}, nil
}

func (s *Server) userGroupUsers(r *http.Request) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users, ok := s.groups[r.PostForm.Get("usergroup")]
	if !ok {
		return nil, apiError("no_such_subteam")
	}
	return map[string]any{"users": append([]string{}, users...)}, nil
}
