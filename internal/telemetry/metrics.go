// Package telemetry gives the bot health, readiness and Prometheus metrics.
//
// Metrics are kept in a prometheus/client_golang Registry and served with promhttp. The bot
// used to write the text format itself; with several replicas the Go runtime and process
// metrics (memory, GC, goroutines, open files) matter for telling replicas apart, and the
// exposition format, its content negotiation and its escaping are better maintained upstream
// than by us. The package knows no other external system: the Slack transport and the Azure
// client classify their own results and call the methods of Metrics through interfaces they
// define.
package telemetry

import (
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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
	nameLanesOwned       = "aksbot_lanes_owned"
	nameLeader           = "aksbot_leader"
	nameStoreOperation   = "aksbot_store_operation_seconds"
	nameSessionLosses    = "aksbot_store_session_losses_total"
)

// Bucket upper bounds in seconds. AKS operations take minutes to a couple of
// hours, approvals minutes to a day, Slack wants an ack within 3s, and a store
// operation (an etcd round trip) takes milliseconds unless something is wrong,
// so each histogram gets bounds around the values that matter for it.
var (
	operationBuckets = []float64{30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200}
	approvalBuckets  = []float64{10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400}
	ackBuckets       = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3}
	storeBuckets     = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
)

// Metrics holds everything the bot records, in its own registry together
// with the Go runtime and process collectors. Its methods match the ports of
// the packages that record (jobs.Observer, slack.Metrics, azure.Metrics and
// the multi-replica ones); this package imports none of them. It is safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	jobTransitions *prometheus.CounterVec // op, from, to
	slackCalls     *prometheus.CounterVec // method, result
	armRequests    *prometheus.CounterVec // method, code

	armThrottled     prometheus.Counter
	socketReconnects prometheus.Counter
	outboxDepth      prometheus.Gauge

	operations   *prometheus.HistogramVec // op, outcome
	approvalWait *prometheus.HistogramVec // op, outcome
	slackAck     prometheus.Histogram

	lanesOwned    prometheus.Gauge
	leader        prometheus.Gauge
	storeOps      *prometheus.HistogramVec // op
	sessionLosses prometheus.Counter

	jobs *jobsCollector
}

// NewMetrics returns an empty set of metrics in a registry of its own, so two
// Metrics (two bots in one test process) never share a series.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: nameJobTransitions,
			Help: "Job state transitions by operation, old state (empty for a new job) and new state."},
			[]string{"op", "from", "to"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: nameSlackCalls,
			Help: "Slack Web API calls by method and result (ok, error, ratelimited)."},
			[]string{"method", "result"}),
		armRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: nameARMRequests,
			Help: "Azure Resource Manager HTTP requests by method and status code (error: no response)."},
			[]string{"method", "code"}),
		armThrottled: prometheus.NewCounter(prometheus.CounterOpts{Name: nameARMThrottled,
			Help: "Azure Resource Manager requests answered 429 (throttled)."}),
		socketReconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: nameSocketReconnects,
			Help: "Reconnections of the Slack socket-mode connection."}),
		outboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: nameOutboxDepth,
			Help: "Messages stored in the outbox and not yet delivered to Slack."}),
		operations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: nameOperationSeconds,
			Help:    "Duration of Azure operations, from the request to its end, by operation and outcome.",
			Buckets: operationBuckets}, []string{"op", "outcome"}),
		approvalWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: nameApprovalWait,
			Help:    "Time jobs waited for their approvals, by operation and outcome: the state the decision moved the job to (queued when approved, denied, expired).",
			Buckets: approvalBuckets}, []string{"op", "outcome"}),
		slackAck: prometheus.NewHistogram(prometheus.HistogramOpts{Name: nameSlackAck,
			Help:    "Time from reading a Slack socket-mode envelope to acknowledging it.",
			Buckets: ackBuckets}),
		lanesOwned: prometheus.NewGauge(prometheus.GaugeOpts{Name: nameLanesOwned,
			Help: "Cluster lanes this replica owns: clusters whose jobs it runs."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: nameLeader,
			Help: "1 while this replica is the elected one for bot-wide work, else 0."}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: nameStoreOperation,
			Help:    "Latency of store operations by operation (create_job, update_job, jobs, outbox, ...).",
			Buckets: storeBuckets}, []string{"op"}),
		sessionLosses: prometheus.NewCounter(prometheus.CounterOpts{Name: nameSessionLosses,
			Help: "Losses of this replica's etcd session: its leases, and the lanes and leadership they held, lapsed."}),
		jobs: &jobsCollector{
			desc:    prometheus.NewDesc(nameJobs, "Jobs by operation and state.", []string{"op", "state"}, nil),
			publish: true,
		},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.jobTransitions, m.slackCalls, m.armRequests, m.armThrottled, m.socketReconnects,
		m.outboxDepth, m.operations, m.approvalWait, m.slackAck,
		m.lanesOwned, m.leader, m.storeOps, m.sessionLosses, m.jobs,
	)
	return m
}

// Gatherer returns the registry /metrics is served from, for tests that
// read the metrics with prometheus/testutil.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// JobTransition counts a job of operation op going from one state to
// another; from is "" for a job just made (jobs.Observer).
func (m *Metrics) JobTransition(op aks.OpKind, from, to aks.JobState) {
	m.jobTransitions.WithLabelValues(string(op), string(from), string(to)).Inc()
}

// OperationFinished records how long an Azure operation took, from the
// request to Azure to its end with outcome succeeded, failed or cancelled
// (jobs.Observer).
func (m *Metrics) OperationFinished(op aks.OpKind, outcome aks.JobState, d time.Duration) {
	m.operations.WithLabelValues(string(op), string(outcome)).Observe(d.Seconds())
}

// ApprovalWait records how long a job waited for its approvals until the
// decision that approved, denied or expired it; outcome is the state the job
// went to (jobs.Observer).
func (m *Metrics) ApprovalWait(op aks.OpKind, outcome aks.JobState, d time.Duration) {
	m.approvalWait.WithLabelValues(string(op), string(outcome)).Observe(d.Seconds())
}

// SetJobsByState replaces the aksbot_jobs gauge with counts keyed by
// {op, state}; label sets absent from counts disappear from the output, so
// a state nobody is in any more does not linger with a stale value.
func (m *Metrics) SetJobsByState(counts map[[2]string]int) {
	m.jobs.set(maps.Clone(counts))
}

// PublishJobs switches the aksbot_jobs gauge on or off; it is on in a new
// Metrics. Every replica sees the same jobs in the shared store, so if each
// published them, sum(aksbot_jobs) would count every job once per replica:
// only the elected replica publishes. Turning it off also forgets the
// counts, so a replica elected again shows nothing until its next
// SetJobsByState rather than numbers from its last term. Leader does not
// call this; whoever handles the election calls both.
func (m *Metrics) PublishJobs(on bool) { m.jobs.setPublish(on) }

// SlackCall counts one Slack Web API call of method by its result: "ok",
// "error", or "ratelimited" for a call Slack refused with 429. The Slack
// transport decides which (slack.Metrics).
func (m *Metrics) SlackCall(method, result string) {
	m.slackCalls.WithLabelValues(method, result).Inc()
}

// SlackAck records the time from reading a socket-mode envelope to writing
// its ack (slack.Metrics).
func (m *Metrics) SlackAck(latency time.Duration) { m.slackAck.Observe(latency.Seconds()) }

// SocketReconnect counts one reconnection of the Slack socket-mode
// connection (slack.Metrics).
func (m *Metrics) SocketReconnect() { m.socketReconnects.Inc() }

// OutboxDepth sets how many messages are stored and not yet delivered to
// Slack (slack.Metrics).
func (m *Metrics) OutboxDepth(n int) { m.outboxDepth.Set(float64(n)) }

// ARMRequest counts one ARM HTTP request by HTTP method and status code; a
// request that got no response is counted with status 0, shown as code
// "error" (azure.Metrics).
func (m *Metrics) ARMRequest(method string, status int) {
	code := "error"
	if status > 0 {
		code = statusText(status)
	}
	m.armRequests.WithLabelValues(method, code).Inc()
}

// ARMThrottled counts one ARM request that Azure throttled (a 429); it is
// also counted by ARMRequest (azure.Metrics).
func (m *Metrics) ARMThrottled() { m.armThrottled.Inc() }

// LanesOwned sets aksbot_lanes_owned: how many cluster lanes this replica
// owns now, that is, whose jobs it runs.
func (m *Metrics) LanesOwned(n int) { m.lanesOwned.Set(float64(n)) }

// Leader sets aksbot_leader to 1 while this replica is the elected one for
// bot-wide work and to 0 when it is not (any more). See PublishJobs.
func (m *Metrics) Leader(elected bool) {
	v := 0.0
	if elected {
		v = 1
	}
	m.leader.Set(v)
}

// StoreOperation records in aksbot_store_operation_seconds{op} how long one
// store operation took; op names it, such as "create_job", "update_job",
// "jobs" or "outbox". Keep the set of names small: each is a series.
func (m *Metrics) StoreOperation(op string, d time.Duration) {
	m.storeOps.WithLabelValues(op).Observe(d.Seconds())
}

// SessionLost counts one loss of this replica's etcd session in
// aksbot_store_session_losses_total.
func (m *Metrics) SessionLost() { m.sessionLosses.Inc() }

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

// jobsCollector publishes aksbot_jobs from the last counts it was given. A
// GaugeVec would need a Reset before each refresh, and a scrape between the
// Reset and the Sets would see some states missing; replacing the whole map
// under a lock makes each refresh atomic.
type jobsCollector struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	publish bool
	counts  map[[2]string]int // op, state
}

func (c *jobsCollector) set(counts map[[2]string]int) {
	c.mu.Lock()
	c.counts = counts
	c.mu.Unlock()
}

func (c *jobsCollector) setPublish(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publish = on
	if !on {
		c.counts = nil
	}
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	counts := c.counts
	if !c.publish {
		counts = nil
	}
	c.mu.Unlock()
	// counts is never changed after set, only replaced, so it is read without the lock.
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v), k[0], k[1])
	}
}
