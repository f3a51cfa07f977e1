// Package telemetry gives the bot health, readiness and Prometheus metrics
// without a metrics dependency: it keeps its own counters, gauges and
// histograms and writes the Prometheus text exposition format (0.0.4).
package telemetry

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// Metric names are part of the public interface: dashboards and alerts use them.
const (
	nameJobTransitions   = "aksbot_job_transitions_total"
	nameJobs             = "aksbot_jobs"
	nameOperationSeconds = "aksbot_operation_duration_seconds"
	nameApprovalWait     = "aksbot_approval_wait_seconds"
	nameSlackCalls       = "aksbot_slack_api_calls_total"
	nameSlackAck         = "aksbot_slack_ack_latency_seconds"
	nameSocketReconnects = "aksbot_slack_socket_reconnects_total"
	nameOutboxDepth      = "aksbot_slack_outbox_depth"
	nameARMRequests      = "aksbot_arm_requests_total"
	nameARMThrottled     = "aksbot_arm_throttled_total"
)

// Results of a Slack Web API call, the result label of aksbot_slack_api_calls_total.
const (
	slackOK          = "ok"
	slackError       = "error"
	slackRateLimited = "ratelimited"
)

// Bucket upper bounds in seconds. AKS operations take minutes to a couple of
// hours, approvals minutes to a day, and Slack wants an ack within 3s, so each
// histogram gets bounds around the values that matter for it.
var (
	operationBuckets = []float64{30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200}
	approvalBuckets  = []float64{10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400}
	ackBuckets       = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3}
)

// Metrics holds everything the bot records. It is the job engine's
// jobs.Observer and the Slack transport's slack.Metrics (its methods match
// those interfaces; this package imports neither). It is safe for concurrent
// use; recording an already-seen label set takes a read lock and atomic adds
// and does not allocate.
type Metrics struct {
	jobTransitions *counterVec // op, from, to
	slackCalls     *counterVec // method, result
	armRequests    *counterVec // method, code

	armThrottled     atomic.Uint64
	socketReconnects atomic.Uint64
	outboxDepth      atomic.Int64

	jobsMu sync.Mutex
	jobs   map[[2]string]int // op, state

	operations   *histogramVec // op, outcome
	approvalWait *histogramVec // op, outcome
	slackAck     *histogram
}

// NewMetrics returns an empty set of metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		jobTransitions: newCounterVec(),
		slackCalls:     newCounterVec(),
		armRequests:    newCounterVec(),
		jobs:           map[[2]string]int{},
		operations:     newHistogramVec(operationBuckets),
		approvalWait:   newHistogramVec(approvalBuckets),
		slackAck:       newHistogram(ackBuckets),
	}
}

// JobTransition counts a job of operation op going from one state to
// another; from is "" for a job just made (jobs.Observer).
func (m *Metrics) JobTransition(op aks.OpKind, from, to aks.JobState) {
	m.jobTransitions.inc(labels3(string(op), string(from), string(to)))
}

// OperationFinished records how long an Azure operation took, from the
// request to Azure to its end with outcome succeeded, failed or cancelled
// (jobs.Observer).
func (m *Metrics) OperationFinished(op aks.OpKind, outcome aks.JobState, d time.Duration) {
	m.operations.get(labels3(string(op), string(outcome), "")).observe(d.Seconds())
}

// ApprovalWait records how long a job waited for its approvals until the
// decision that approved, denied or expired it; outcome is the state the job
// went to (jobs.Observer).
func (m *Metrics) ApprovalWait(op aks.OpKind, outcome aks.JobState, d time.Duration) {
	m.approvalWait.get(labels3(string(op), string(outcome), "")).observe(d.Seconds())
}

// SetJobsByState replaces the aksbot_jobs gauge with counts keyed by
// {op, state}; label sets absent from counts disappear from the output, so
// a state nobody is in any more does not linger with a stale value.
func (m *Metrics) SetJobsByState(counts map[[2]string]int) {
	next := make(map[[2]string]int, len(counts))
	for k, v := range counts {
		next[k] = v
	}
	m.jobsMu.Lock()
	m.jobs = next
	m.jobsMu.Unlock()
}

// SlackCall counts one Slack Web API call of method by its result: ok, error,
// or ratelimited when err is (or wraps) slack-go's *slack.RateLimitedError,
// which is what a 429 turns into (slack.Metrics).
func (m *Metrics) SlackCall(method string, err error) {
	m.slackCalls.inc(labels3(method, slackResult(err), ""))
}

func slackResult(err error) string {
	if err == nil {
		return slackOK
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return slackRateLimited
	}
	return slackError
}

// SlackAck records the time from reading a socket-mode envelope to writing
// its ack (slack.Metrics).
func (m *Metrics) SlackAck(latency time.Duration) { m.slackAck.observe(latency.Seconds()) }

// SocketReconnect counts one reconnection of the Slack socket-mode
// connection (slack.Metrics).
func (m *Metrics) SocketReconnect() { m.socketReconnects.Add(1) }

// OutboxDepth sets how many messages are stored and not yet delivered to
// Slack (slack.Metrics).
func (m *Metrics) OutboxDepth(n int) { m.outboxDepth.Store(int64(n)) }

// ARMRequest counts one ARM HTTP request by HTTP method and status code; a
// request that got no response (status 0, usually with err set) is counted
// with code "error". Failures are the 4xx and 5xx codes and "error". A 429
// also counts in aksbot_arm_throttled_total.
func (m *Metrics) ARMRequest(method string, status int, err error) {
	code := "error"
	if status > 0 {
		code = statusText(status)
	}
	m.armRequests.inc(labels3(method, code, ""))
	if status == 429 {
		m.armThrottled.Add(1)
	}
}

// labels3 is a series key; families with fewer labels leave the rest empty.
func labels3(a, b, c string) [3]string { return [3]string{a, b, c} }

// statusCodes holds the text of the status codes ARM returns, so counting a
// request does not format an integer each time.
var statusCodes = func() map[int]string {
	out := map[int]string{}
	for _, c := range []int{200, 201, 202, 204, 400, 401, 403, 404, 409, 412, 429, 500, 502, 503, 504} {
		out[c] = strconv.Itoa(c)
	}
	return out
}()

func statusText(status int) string {
	if s, ok := statusCodes[status]; ok {
		return s
	}
	return strconv.Itoa(status)
}

// counterVec is a counter family keyed by up to three label values.
type counterVec struct {
	mu sync.RWMutex
	m  map[[3]string]*atomic.Uint64
}

func newCounterVec() *counterVec {
	return &counterVec{m: map[[3]string]*atomic.Uint64{}}
}

func (v *counterVec) inc(k [3]string) {
	v.mu.RLock()
	c, ok := v.m[k]
	v.mu.RUnlock()
	if !ok {
		v.mu.Lock()
		if c, ok = v.m[k]; !ok {
			c = new(atomic.Uint64)
			v.m[k] = c
		}
		v.mu.Unlock()
	}
	c.Add(1)
}

// snapshot copies the current values so writing the exposition holds no lock.
func (v *counterVec) snapshot() map[[3]string]uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[[3]string]uint64, len(v.m))
	for k, c := range v.m {
		out[k] = c.Load()
	}
	return out
}

// histogram keeps per-bucket (non-cumulative) counts; the last slot counts
// observations above every bound (+Inf). The total count is derived from the
// buckets when written, so _count always equals the +Inf bucket.
type histogram struct {
	upper   []float64
	counts  []atomic.Uint64
	sumBits atomic.Uint64
}

func newHistogram(upper []float64) *histogram {
	return &histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.upper) && v > h.upper[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

type histogramSnapshot struct {
	upper      []float64
	cumulative []uint64 // one per upper bound, then +Inf
	sum        float64
}

func (h *histogram) snapshot() histogramSnapshot {
	s := histogramSnapshot{upper: h.upper, cumulative: make([]uint64, len(h.counts))}
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		s.cumulative[i] = total
	}
	s.sum = math.Float64frombits(h.sumBits.Load())
	return s
}

type histogramVec struct {
	upper []float64
	mu    sync.RWMutex
	m     map[[3]string]*histogram
}

func newHistogramVec(upper []float64) *histogramVec {
	return &histogramVec{upper: upper, m: map[[3]string]*histogram{}}
}

func (v *histogramVec) get(k [3]string) *histogram {
	v.mu.RLock()
	h, ok := v.m[k]
	v.mu.RUnlock()
	if ok {
		return h
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok = v.m[k]; !ok {
		h = newHistogram(v.upper)
		v.m[k] = h
	}
	return h
}

func (v *histogramVec) snapshot() map[[3]string]histogramSnapshot {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[[3]string]histogramSnapshot, len(v.m))
	for k, h := range v.m {
		out[k] = h.snapshot()
	}
	return out
}
