package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/aksbot/aksbot/internal/jobs"
)

// operation follows one long-running ARM operation, one poll at a time, so that the job engine
// decides when to poll and can store progress in between.
type operation[T any] struct {
	c      *Client
	poller *runtime.Poller[T]
	what   string
	// failed is a final error the service answered a poll with: polling again cannot help.
	failed error
}

var _ jobs.Operation = (*operation[struct{}])(nil)

// started wraps the poller a Begin call returned, or maps its error.
func started[T any](c *Client, p *runtime.Poller[T], err error, what string) (jobs.Operation, error) {
	if err != nil {
		return nil, c.mapErr(err, what, "")
	}
	c.log.Debug("operation started", "what", what)
	return &operation[T]{c: c, poller: p, what: what}, nil
}

// resumed wraps a poller rebuilt from a resume token.
func resumed[T any](c *Client, p *runtime.Poller[T], err error, what string) (jobs.Operation, error) {
	if err != nil {
		// A token that does not parse or belongs to another method is a bug or corrupt data.
		return nil, fmt.Errorf("resume %s: %w", what, err)
	}
	return &operation[T]{c: c, poller: p, what: what}, nil
}

// ResumeToken returns the token from which Resume rebuilds this operation. It is "" once the
// operation has ended (Azure may answer a Begin with a final response): there is nothing to
// resume then, and Poll and Result give the outcome.
func (o *operation[T]) ResumeToken() (string, error) {
	if o.failed != nil || o.poller.Done() {
		return "", nil
	}
	tk, err := o.poller.ResumeToken()
	if err != nil {
		return "", fmt.Errorf("resume token of %s: %w", o.what, err)
	}
	return tk, nil
}

// Poll sends one status request. retryAfter is what the service asked for (Retry-After-Ms,
// x-ms-retry-after-ms or Retry-After), also on throttling errors.
func (o *operation[T]) Poll(ctx context.Context) (bool, time.Duration, error) {
	if o.failed != nil || o.poller.Done() {
		return true, 0, nil
	}
	resp, err := o.poller.Poll(ctx)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			if finalStatus(re.StatusCode) {
				o.failed = err
				return true, 0, nil
			}
			return false, retryAfter(re.RawResponse), o.c.mapErr(err, "poll "+o.what, "")
		}
		return false, 0, o.c.mapErr(err, "poll "+o.what, "")
	}
	return o.poller.Done(), retryAfter(resp), nil
}

// Result says how the ended operation went: nil, or an error wrapping *aks.AzureError.
func (o *operation[T]) Result(ctx context.Context) error {
	if o.failed != nil {
		return o.c.mapErr(o.failed, o.what, "")
	}
	if !o.poller.Done() {
		return fmt.Errorf("%s: the operation has not ended yet", o.what)
	}
	if _, err := o.poller.Result(ctx); err != nil {
		return o.c.mapErr(err, o.what, "")
	}
	return nil
}

// finalStatus reports whether an error status on a poll means the operation is over (it failed
// or is gone) rather than a passing problem that the next poll may not have.
func finalStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code < 500
}

// retryAfter reads how long the service asked the caller to wait.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := resp.Header.Get(h); v != "" {
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
	}
	return 0
}
