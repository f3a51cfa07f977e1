package slack

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestCallResult(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ResultOK},
		{errors.New("channel_not_found"), ResultError},
		{&slack.RateLimitedError{RetryAfter: time.Second}, ResultRateLimited},
		{fmt.Errorf("update message: %w", &slack.RateLimitedError{}), ResultRateLimited},
		{slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, ResultError}, // retryable, but not a rate limit
	}
	for _, c := range cases {
		if got := callResult(c.err); got != c.want {
			t.Errorf("callResult(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
