package slack

import (
	"errors"
	"time"

	"github.com/slack-go/slack"
)

// Metrics is told what the Slack transport does, for /metrics. Calls must be cheap and never
// block. A nil Config.Metrics discards everything.
type Metrics interface {
	// SlackCall: one Web API call ended with result ResultOK, ResultError or ResultRateLimited.
	SlackCall(method, result string)
	// SlackAck: the time from reading an envelope off the socket to writing its ack.
	SlackAck(latency time.Duration)
	// SocketReconnect: socket mode connected again after a drop or a disconnect message.
	SocketReconnect()
	// OutboxDepth: messages stored and not yet delivered to Slack.
	OutboxDepth(n int)
}

// Results of a Web API call as SlackCall reports them (the result label of
// aksbot_slack_api_calls_total).
const (
	ResultOK          = "ok"
	ResultError       = "error"
	ResultRateLimited = "ratelimited"
)

// callResult classifies the error of a Web API call for SlackCall: slack-go turns a 429 into a
// *slack.RateLimitedError, which may arrive wrapped.
func callResult(err error) string {
	if err == nil {
		return ResultOK
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return ResultRateLimited
	}
	return ResultError
}

type noMetrics struct{}

func (noMetrics) SlackCall(string, string) {}
func (noMetrics) SlackAck(time.Duration)   {}
func (noMetrics) SocketReconnect()         {}
func (noMetrics) OutboxDepth(int)          {}
