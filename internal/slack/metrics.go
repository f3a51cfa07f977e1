package slack

import "time"

// Metrics is told what the Slack transport does, for /metrics. Calls must be cheap and never
// block. A nil Config.Metrics discards everything.
type Metrics interface {
	// SlackCall: one Web API call ended; err is nil, a *slack.RateLimitedError for a 429, or another error.
	SlackCall(method string, err error)
	// SlackAck: the time from reading an envelope off the socket to writing its ack.
	SlackAck(latency time.Duration)
	// SocketReconnect: socket mode connected again after a drop or a disconnect message.
	SocketReconnect()
	// OutboxDepth: messages stored and not yet delivered to Slack.
	OutboxDepth(n int)
}

type noMetrics struct{}

func (noMetrics) SlackCall(string, error) {}
func (noMetrics) SlackAck(time.Duration)  {}
func (noMetrics) SocketReconnect()        {}
func (noMetrics) OutboxDepth(int)         {}
