package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/aksbot/aksbot/internal/aks"
)

// operation follows one long-running ARM operation, one poll at a time, so that the job engine
// decides when to poll and can store progress in between.
type operation[T any] struct {
	c      *Client
	poller *runtime.Poller[T]
	what   string
	// id is Azure's async operation ID, read from the resume token when the operation started.
	id string
	// failed is a final error the service answered a poll with: polling again cannot help.
	failed error
}

var _ aks.CloudOperation = (*operation[struct{}])(nil)

// started wraps the poller a Begin call returned, or maps its error.
func started[T any](c *Client, p *runtime.Poller[T], err error, what string) (aks.CloudOperation, error) {
	if err != nil {
		return nil, c.mapErr(err, what, "")
	}
	o := &operation[T]{c: c, poller: p, what: what}
	if !p.Done() {
		// The token is only available before the end; an operation Azure finished at once has
		// no ID worth keeping.
		if tk, err := p.ResumeToken(); err == nil {
			o.id = operationID(tk)
		}
	}
	c.log.Debug("operation started", "what", what, "operationId", o.id)
	return o, nil
}

// resumed wraps a poller rebuilt from a resume token.
func resumed[T any](c *Client, p *runtime.Poller[T], err error, what, token string) (aks.CloudOperation, error) {
	if err != nil {
		// A token that does not parse or belongs to another method is a bug or corrupt data.
		return nil, fmt.Errorf("resume %s: %w", what, err)
	}
	return &operation[T]{c: c, poller: p, what: what, id: operationID(token)}, nil
}

// OperationID returns Azure's ID of the async operation (the last path segment of its
// Azure-AsyncOperation URL, else of its Location URL), for the audit trail and for matching the
// Azure activity log; "" when Azure gave none (an operation that ended at once, or one followed
// through the resource's own URL).
func (o *operation[T]) OperationID() string { return o.id }

// FirstPollAfter is 0: Begin wraps what it starts with the wait Azure asked for, and a resumed
// operation is polled at once.
func (o *operation[T]) FirstPollAfter() time.Duration { return 0 }

// operationID reads the operation ID from an azcore resume token. Tokens are
// {"type": ..., "token": {poller fields}}; the fields that carry the operation's URL are
// asyncURL (Azure-AsyncOperation), oplocURL (Operation-Location), locURL (Location) and, for
// the Location poller (type "loc"), pollURL. The body poller's pollURL is the resource itself,
// and the SDK fake's fakeURL is no operation, so neither gives an ID.
func operationID(token string) string {
	var wrapper struct {
		Token struct {
			Type     string `json:"type"`
			AsyncURL string `json:"asyncURL"`
			OpLocURL string `json:"oplocURL"`
			LocURL   string `json:"locURL"`
			PollURL  string `json:"pollURL"`
		} `json:"token"`
	}
	if json.Unmarshal([]byte(token), &wrapper) != nil {
		return ""
	}
	tk := wrapper.Token
	candidates := []string{tk.AsyncURL, tk.OpLocURL, tk.LocURL}
	if tk.Type == "loc" {
		candidates = append(candidates, tk.PollURL)
	}
	for _, raw := range candidates {
		if id := lastSegment(raw); id != "" {
			return id
		}
	}
	return ""
}

// lastSegment is the last segment of a URL's path, without the query.
func lastSegment(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := strings.TrimRight(u.Path, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[i+1:]
	}
	return p
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
		var re *azcore.ResponseError
		if errors.As(err, &re) && transientStatus(re.StatusCode) {
			// Reading the result (the final GET) was throttled or hit a server error after the
			// pipeline's retries: the operation's outcome is not known yet, and the poller keeps
			// no such error, so the caller may simply ask again later.
			return &aks.Error{Code: aks.EUnavailable, Message: "cannot read the result of " + o.what + " from Azure now",
				Hint: "the bot asks again", Err: err}
		}
		return o.c.mapErr(err, o.what, "")
	}
	return nil
}

// transientStatus reports whether an HTTP status says "not now" rather than "no": the ones
// azcore's retry policy and poller treat as non-terminal (408, 429, 500, 502, 503, 504).
func transientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
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
