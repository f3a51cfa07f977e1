package slacktest

import (
	"net/http"
	"time"
)

// Outage is how the fake fails every Web API call while it lasts.
type Outage int

const (
	OutageNone Outage = iota
	// Outage5xx answers 503 Service Unavailable.
	Outage5xx
	// OutageDrop closes the connection without an answer, like a network failure.
	OutageDrop
)

// Call is one Web API call as the fake received it.
type Call struct {
	Method  string
	Channel string
	At      time.Time // when the fake received it
	Status  int       // HTTP status of the answer: 200 (ok or not), 429, 503, or 0 when dropped
}

type rateLimited struct{ retryAfter time.Duration }

func (rateLimited) Error() string { return "ratelimited" }

// faults is the part of the Server's state that makes it misbehave on purpose and records calls.
// Guarded by Server.mu.
type faults struct {
	outage      Outage
	postEvery   time.Duration        // per-channel chat.postMessage limit; 0 = none
	lastPost    map[string]time.Time // channel -> last accepted post
	loseAnswers map[string]int       // method -> calls whose answer is lost after they took effect
	refused     map[string]string    // channel -> error every post there gets
	log         []Call
}

// WithChannelPostInterval makes chat.postMessage answer 429 (Retry-After 1) when a post in
// a channel arrives less than d after the previous accepted post there, as Slack's
// one-message-per-second-per-channel limit does (without its tolerance for bursts).
func WithChannelPostInterval(d time.Duration) Option {
	return func(s *Server) { s.faults.postEvery = d }
}

// SetOutage makes every Web API call fail in the given way until SetOutage(OutageNone).
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.outage = o
	s.notify()
}

// LoseAnswers makes the next n calls of method take effect (a post is stored) and then
// drops the connection without an answer: the client cannot know the call succeeded.
func (s *Server) LoseAnswers(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.loseAnswers == nil {
		s.faults.loseAnswers = map[string]int{}
	}
	s.faults.loseAnswers[method] = n
}

// RefuseChannel makes every chat.postMessage in channel fail with the Slack error code
// (say "channel_not_found" or "not_in_channel"), as when the bot was removed from it.
func (s *Server) RefuseChannel(channel, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.refused == nil {
		s.faults.refused = map[string]string{}
	}
	s.faults.refused[channel] = code
}

// CallLog returns the calls of method received so far, in order of arrival.
func (s *Server) CallLog(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.faults.log {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Throttled returns how many calls of method were answered 429.
func (s *Server) Throttled(method string) int {
	n := 0
	for _, c := range s.CallLog(method) {
		if c.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

func (s *Server) logCall(method string, r *http.Request, status int) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.log = append(s.faults.log, Call{Method: method, Channel: r.PostForm.Get("channel"), At: time.Now(), Status: status})
	s.notify()
}

// outage fails the call if an outage is on. Call with s.mu held; it is released when the
// call was handled (true) and kept otherwise.
func (s *Server) outage(w http.ResponseWriter, r *http.Request, method string) bool {
	o := s.faults.outage
	if o == OutageNone {
		return false
	}
	s.mu.Unlock()
	switch o {
	case Outage5xx:
		s.logCall(method, r, http.StatusServiceUnavailable)
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
	default:
		s.logCall(method, r, 0)
		dropConn(w)
	}
	return true
}

// loseAnswer drops the connection instead of answering if method's answers are to be lost.
func (s *Server) loseAnswer(w http.ResponseWriter, method string) bool {
	s.mu.Lock()
	lose := s.faults.loseAnswers[method] > 0
	if lose {
		s.faults.loseAnswers[method]--
	}
	s.mu.Unlock()
	if lose {
		dropConn(w)
	}
	return lose
}

func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("slacktest: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// channelPostAllowed applies RefuseChannel and the per-channel post limit. Call with s.mu held.
func (s *Server) channelPostAllowed(channel string) error {
	if code := s.faults.refused[channel]; code != "" {
		return apiError(code)
	}
	if s.faults.postEvery <= 0 {
		return nil
	}
	now := time.Now()
	if last, ok := s.faults.lastPost[channel]; ok && now.Sub(last) < s.faults.postEvery {
		return rateLimited{retryAfter: time.Second}
	}
	if s.faults.lastPost == nil {
		s.faults.lastPost = map[string]time.Time{}
	}
	s.faults.lastPost[channel] = now
	return nil
}
