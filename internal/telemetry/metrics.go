// Package telemetry gives the bot health, readiness and Prometheus metrics
// without a metrics dependency: it keeps its own counters, gauges and
// histograms and writes the Prometheus text exposition format (0.0.4).
package telemetry

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Metric names are part of the public interface: dashboards and alerts use them.
const (
	nameJobTransitions   = "aksbot_job_transitions_total"
	nameJobs             = "aksbot_jobs"
	nameOperationSeconds = "aksbot_operation_duration_seconds"
	nameApprovalWait     = "aksbot_approval_wait_seconds"
	nameSlackCalls       = "aksbot_slack_api_calls_total"
	nameSlackErrors      = "aksbot_slack_api_errors_total"
	nameSlackRateLimited = "aksbot_slack_api_rate_limited_total"
	nameARMRequests      = "aksbot_arm_requests_total"
	nameARMThrottled     = "aksbot_arm_throttled_total"
	nameSocketReconnects = "aksbot_socket_reconnects_total"
	nameAckLatency       = "aksbot_ack_latency_seconds"
	nameOutboxDepth      = "aksbot_outbox_depth"
)

// Bucket upper bounds in seconds. AKS operations take minutes, approvals take
// minutes to hours, and Slack wants an ack within 3s, so each histogram gets
// bounds around the values that matter for it.
var (
	operationBuckets = []float64{30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200}
	approvalBuckets  = []float64{10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400}
	ackBuckets       = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
)

// Metrics holds everything the bot records. It is safe for concurrent use;
// recording an already-seen label set takes a read lock and atomic adds and
// does not allocate.
type Metrics struct {
	jobTransitions *counterVec // op, state
	slackCalls     *counterVec // method
	slackErrors    *counterVec // method
	slackLimited   *counterVec // method
	armRequests    *counterVec // method, code

	armThrottled     atomic.Uint64
	socketReconnects atomic.Uint64
	outboxDepth      atomic.Int64

	jobsMu sync.Mutex
	jobs   map[[2]string]int // op, state

	operations   *histogramVec // op, result
	approvalWait *histogram
	ackLatency   *histogram
}

// NewMetrics returns an empty set of metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		jobTransitions: newCounterVec(),
		slackCalls:     newCounterVec(),
		slackErrors:    newCounterVec(),
		slackLimited:   newCounterVec(),
		armRequests:    newCounterVec(),
		jobs:           map[[2]string]int{},
		operations:     newHistogramVec(operationBuckets),
		approvalWait:   newHistogram(approvalBuckets),
		ackLatency:     newHistogram(ackBuckets),
	}
}

// JobTransition counts a job entering state while running operation op.
func (m *Metrics) JobTransition(op, state string) {
	m.jobTransitions.inc([2]string{op, state})
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

// OperationDone records how long an operation took until it ended with result
// (for example "succeeded", "failed", "canceled").
func (m *Metrics) OperationDone(op, result string, d time.Duration) {
	m.operations.get([2]string{op, result}).observe(d.Seconds())
}

// ApprovalWait records how long a job waited for its approval.
func (m *Metrics) ApprovalWait(d time.Duration) {
	m.approvalWait.observe(d.Seconds())
}

// SlackCall counts one Slack Web API call of method; err and rateLimited
// are counted independently, so a rate-limited call that failed counts in both.
func (m *Metrics) SlackCall(method string, err error, rateLimited bool) {
	k := [2]string{method}
	m.slackCalls.inc(k)
	if err != nil {
		m.slackErrors.inc(k)
	}
	if rateLimited {
		m.slackLimited.inc(k)
	}
}

// ARMRequest counts one ARM HTTP request by HTTP method and status code; a
// request that got no response (status 0, usually with err set) is counted
// with code "error". A 429 also counts in aksbot_arm_throttled_total.
func (m *Metrics) ARMRequest(method string, status int, err error) {
	code := "error"
	if status > 0 {
		code = statusText(status)
	}
	m.armRequests.inc([2]string{method, code})
	if status == 429 {
		m.armThrottled.Add(1)
	}
}

// SocketReconnect counts one reconnection of the Slack socket-mode websocket.
func (m *Metrics) SocketReconnect() { m.socketReconnects.Add(1) }

// AckLatency records the time from receiving a Slack event to acking it.
func (m *Metrics) AckLatency(d time.Duration) { m.ackLatency.observe(d.Seconds()) }

// SetOutboxDepth sets how many messages wait in the outbox to be sent.
func (m *Metrics) SetOutboxDepth(n int) { m.outboxDepth.Store(int64(n)) }

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

// counterVec is a counter family keyed by up to two label values.
type counterVec struct {
	mu sync.RWMutex
	m  map[[2]string]*atomic.Uint64
}

func newCounterVec() *counterVec {
	return &counterVec{m: map[[2]string]*atomic.Uint64{}}
}

func (v *counterVec) inc(k [2]string) {
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
func (v *counterVec) snapshot() map[[2]string]uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[[2]string]uint64, len(v.m))
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
	m     map[[2]string]*histogram
}

func newHistogramVec(upper []float64) *histogramVec {
	return &histogramVec{upper: upper, m: map[[2]string]*histogram{}}
}

func (v *histogramVec) get(k [2]string) *histogram {
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

func (v *histogramVec) snapshot() map[[2]string]histogramSnapshot {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[[2]string]histogramSnapshot, len(v.m))
	for k, h := range v.m {
		out[k] = h.snapshot()
	}
	return out
}
