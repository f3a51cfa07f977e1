package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestClassifySlackErrors(t *testing.T) {
	cases := []struct {
		err  error
		want outcome
	}{
		{nil, delivered},
		{fmt.Errorf("chat.postMessage: %w", &slack.RateLimitedError{RetryAfter: time.Second}), retryNotSent},
		{slack.SlackErrorResponse{Err: "channel_not_found"}, permanent},
		{slack.SlackErrorResponse{Err: "not_in_channel"}, permanent},
		{slack.SlackErrorResponse{Err: "invalid_blocks"}, permanent},
		{slack.SlackErrorResponse{Err: "msg_too_long"}, permanent},
		{slack.SlackErrorResponse{Err: "invalid_auth"}, retryNotSent},
		{slack.SlackErrorResponse{Err: "internal_error"}, retryMaybeSent},
		{slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, retryMaybeSent},
		{slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, permanent},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, retryMaybeSent},
		{context.DeadlineExceeded, retryMaybeSent},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// An outage of hours: the worker keeps retrying, at most maxBackoff (plus jitter) apart, and
// honours Retry-After even when it is longer.
func TestBackoffNeverGivesUp(t *testing.T) {
	l := defaultOutboxLimits()
	p := newPacer(l)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var total time.Duration
	for i := range 200 {
		d := p.retry("1", errors.New("connection refused"), now)
		if d <= 0 || d > l.maxBackoff+l.maxBackoff/5 {
			t.Fatalf("retry %d waits %v, want within (0, %v]", i, d, l.maxBackoff*6/5)
		}
		total += d
		now = now.Add(d)
	}
	if total < 2*time.Hour {
		t.Errorf("200 retries span %v; the outbox must keep trying through long outages", total)
	}
	if d := p.retry("1", &slack.RateLimitedError{RetryAfter: 3 * time.Minute}, now); d < 3*time.Minute {
		t.Errorf("retry after a Retry-After of 3m waits %v", d)
	}
	p.ok("1")
	if d := p.retry("1", errors.New("boom"), now); d > l.minBackoff*6/5 {
		t.Errorf("first retry after a success waits %v, want about %v", d, l.minBackoff)
	}
}
