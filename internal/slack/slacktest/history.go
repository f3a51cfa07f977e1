package slacktest

import (
	"net/http"
	"strconv"
)

// readOptions are the paging and filter parameters shared by conversations.history and
// conversations.replies. Timestamps compare as strings: the fake keeps them one width.
type readOptions struct {
	oldest, latest string
	inclusive      bool
	limit          int
	metadata       bool
}

func readParams(r *http.Request) readOptions {
	o := readOptions{
		oldest:    r.PostForm.Get("oldest"),
		latest:    r.PostForm.Get("latest"),
		inclusive: r.PostForm.Get("inclusive") == "1" || r.PostForm.Get("inclusive") == "true",
		metadata:  r.PostForm.Get("include_all_metadata") == "1" || r.PostForm.Get("include_all_metadata") == "true",
		limit:     100,
	}
	if n, err := strconv.Atoi(r.PostForm.Get("limit")); err == nil && n > 0 {
		o.limit = min(n, 1000)
	}
	return o
}

func (o readOptions) in(ts string) bool {
	if o.oldest != "" && (ts < o.oldest || !o.inclusive && ts == o.oldest) {
		return false
	}
	if o.latest != "" && (ts > o.latest || !o.inclusive && ts == o.latest) {
		return false
	}
	return true
}

func (o readOptions) json(m *Message) map[string]any {
	out := messageJSON(m)
	if o.metadata && len(m.Metadata) > 0 {
		out["metadata"] = m.Metadata
	}
	return out
}

// history answers conversations.history: top-level messages of a channel, newest first.
// Thread replies are left out, as Slack does.
func (s *Server) history(r *http.Request) (map[string]any, error) {
	channel := r.PostForm.Get("channel")
	if channel == "" {
		return nil, apiError("channel_not_found")
	}
	o := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := []map[string]any{}
	hasMore := false
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Channel != channel || m.ThreadTS != "" || !o.in(m.TS) {
			continue
		}
		if len(msgs) == o.limit {
			hasMore = true
			break
		}
		msgs = append(msgs, o.json(m))
	}
	return map[string]any{"messages": msgs, "has_more": hasMore}, nil
}

// replies answers conversations.replies: the parent and its replies, oldest first.
func (s *Server) replies(r *http.Request) (map[string]any, error) {
	channel, ts := r.PostForm.Get("channel"), r.PostForm.Get("ts")
	if channel == "" {
		return nil, apiError("channel_not_found")
	}
	o := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, ok := s.byTS[ts]
	if !ok || parent.Channel != channel {
		return nil, apiError("thread_not_found")
	}
	if parent.ThreadTS != "" {
		ts = parent.ThreadTS
	}
	msgs := []map[string]any{}
	hasMore := false
	for _, m := range s.messages {
		if m.Channel != channel || (m.TS != ts && m.ThreadTS != ts) || !o.in(m.TS) {
			continue
		}
		if len(msgs) == o.limit {
			hasMore = true
			break
		}
		msgs = append(msgs, o.json(m))
	}
	return map[string]any{"messages": msgs, "has_more": hasMore}, nil
}
