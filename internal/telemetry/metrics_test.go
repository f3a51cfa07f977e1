package telemetry

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/aksbot/aksbot/internal/aks"
)

// gather returns the families m serves, by name.
func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// compare fails unless the families named in want's TYPE lines are exactly as in want (the
// text format; series may come in any order, label pairs in alphabetical order as client_golang
// serves them).
func compare(t *testing.T, m *Metrics, want string) {
	t.Helper()
	var names []string
	for line := range strings.Lines(want) {
		if f := strings.Fields(line); len(f) == 4 && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// histogramCount returns the sample count and sum of one series of a histogram vector.
func histogramCount(t *testing.T, h prometheus.Observer) (uint64, float64) {
	t.Helper()
	var pb dto.Metric
	if err := h.(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount(), pb.GetHistogram().GetSampleSum()
}

// The names, types and label names dashboards rely on, spelled out so a renamed constant or a
// changed label fails here; and every family has HELP text.
func TestFamilies(t *testing.T) {
	m := NewMetrics()
	m.JobTransition(aks.OpPoolScale, "", aks.StateAwaitingApproval)
	m.SetJobsByState(map[[2]string]int{{"nodepool.scale", "running"}: 1})
	m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, time.Minute)
	m.ApprovalWait(aks.OpPoolScale, aks.StateQueued, time.Minute)
	m.SlackCall("chat.postMessage", "ok")
	m.ARMRequest("GET", 200)
	m.StoreOperation("update_job", time.Millisecond)

	want := map[string]struct {
		typ    dto.MetricType
		labels string
	}{
		"aksbot_job_transitions_total":         {dto.MetricType_COUNTER, "from,op,to"},
		"aksbot_jobs":                          {dto.MetricType_GAUGE, "op,state"},
		"aksbot_operation_duration_seconds":    {dto.MetricType_HISTOGRAM, "op,outcome"},
		"aksbot_approval_wait_seconds":         {dto.MetricType_HISTOGRAM, "op,outcome"},
		"aksbot_slack_api_calls_total":         {dto.MetricType_COUNTER, "method,result"},
		"aksbot_slack_ack_latency_seconds":     {dto.MetricType_HISTOGRAM, ""},
		"aksbot_slack_socket_reconnects_total": {dto.MetricType_COUNTER, ""},
		"aksbot_slack_outbox_depth":            {dto.MetricType_GAUGE, ""},
		"aksbot_arm_requests_total":            {dto.MetricType_COUNTER, "code,method"},
		"aksbot_arm_throttled_total":           {dto.MetricType_COUNTER, ""},
		"aksbot_lanes_owned":                   {dto.MetricType_GAUGE, ""},
		"aksbot_leader":                        {dto.MetricType_GAUGE, ""},
		"aksbot_store_operation_seconds":       {dto.MetricType_HISTOGRAM, "op"},
		"aksbot_store_session_losses_total":    {dto.MetricType_COUNTER, ""},
	}
	fams := gather(t, m)
	for name, w := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("no family %s", name)
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		if f.GetType() != w.typ || strings.Join(labels, ",") != w.labels || f.GetHelp() == "" {
			t.Errorf("%s: type %v labels %v help %q, want type %v labels %s and a help text", name, f.GetType(), labels, f.GetHelp(), w.typ, w.labels)
		}
	}
	// Everything else served comes from the Go runtime and process collectors.
	for name := range fams {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("unexpected family %s", name)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("no family %s", name)
		}
	}
}

// Each recording lands in the series of its labels, and histograms put observations in the
// buckets around their values.
func TestRecording(t *testing.T) {
	m := NewMetrics()
	m.JobTransition(aks.OpPoolScale, "", aks.StateAwaitingApproval)
	m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
	m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
	m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, 45*time.Second)
	m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, 3*time.Hour)
	m.ApprovalWait(aks.OpClusterDelete, aks.StateExpired, 25*time.Hour)
	m.SlackCall("chat.postMessage", "ok")
	m.SlackCall("chat.postMessage", "ratelimited")
	m.SlackCall("chat.update", "error")
	m.ARMRequest("PUT", 201)
	m.ARMRequest("GET", 429)
	m.ARMThrottled()
	m.ARMRequest("GET", 0)
	m.ARMRequest("GET", 418) // not in the table of common codes
	m.SlackAck(3 * time.Millisecond)
	m.SlackAck(7 * time.Second)
	m.SocketReconnect()
	m.OutboxDepth(4)

	compare(t, m, `
# HELP aksbot_job_transitions_total Job state transitions by operation, old state (empty for a new job) and new state.
# TYPE aksbot_job_transitions_total counter
aksbot_job_transitions_total{from="",op="nodepool.scale",to="awaiting_approval"} 1
aksbot_job_transitions_total{from="queued",op="nodepool.scale",to="running"} 2
# HELP aksbot_operation_duration_seconds Duration of Azure operations, from the request to its end, by operation and outcome.
# TYPE aksbot_operation_duration_seconds histogram
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="30"} 0
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="60"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="120"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="300"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="600"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="900"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="1200"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="1800"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="2700"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="3600"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="5400"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="7200"} 1
aksbot_operation_duration_seconds_bucket{op="nodepool.scale",outcome="succeeded",le="+Inf"} 2
aksbot_operation_duration_seconds_sum{op="nodepool.scale",outcome="succeeded"} 10845
aksbot_operation_duration_seconds_count{op="nodepool.scale",outcome="succeeded"} 2
# HELP aksbot_approval_wait_seconds Time jobs waited for their approvals, by operation and outcome: the state the decision moved the job to (queued when approved, denied, expired).
# TYPE aksbot_approval_wait_seconds histogram
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="10"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="30"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="60"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="300"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="600"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="1800"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="3600"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="7200"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="14400"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="28800"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="86400"} 0
aksbot_approval_wait_seconds_bucket{op="cluster.delete",outcome="expired",le="+Inf"} 1
aksbot_approval_wait_seconds_sum{op="cluster.delete",outcome="expired"} 90000
aksbot_approval_wait_seconds_count{op="cluster.delete",outcome="expired"} 1
# HELP aksbot_slack_api_calls_total Slack Web API calls by method and result (ok, error, ratelimited).
# TYPE aksbot_slack_api_calls_total counter
aksbot_slack_api_calls_total{method="chat.postMessage",result="ok"} 1
aksbot_slack_api_calls_total{method="chat.postMessage",result="ratelimited"} 1
aksbot_slack_api_calls_total{method="chat.update",result="error"} 1
# HELP aksbot_arm_requests_total Azure Resource Manager HTTP requests by method and status code (error: no response).
# TYPE aksbot_arm_requests_total counter
aksbot_arm_requests_total{code="201",method="PUT"} 1
aksbot_arm_requests_total{code="429",method="GET"} 1
aksbot_arm_requests_total{code="error",method="GET"} 1
aksbot_arm_requests_total{code="418",method="GET"} 1
# HELP aksbot_arm_throttled_total Azure Resource Manager requests answered 429 (throttled).
# TYPE aksbot_arm_throttled_total counter
aksbot_arm_throttled_total 1
# HELP aksbot_slack_ack_latency_seconds Time from reading a Slack socket-mode envelope to acknowledging it.
# TYPE aksbot_slack_ack_latency_seconds histogram
aksbot_slack_ack_latency_seconds_bucket{le="0.001"} 0
aksbot_slack_ack_latency_seconds_bucket{le="0.0025"} 0
aksbot_slack_ack_latency_seconds_bucket{le="0.005"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.01"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.025"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.05"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.1"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.25"} 1
aksbot_slack_ack_latency_seconds_bucket{le="0.5"} 1
aksbot_slack_ack_latency_seconds_bucket{le="1"} 1
aksbot_slack_ack_latency_seconds_bucket{le="2"} 1
aksbot_slack_ack_latency_seconds_bucket{le="3"} 1
aksbot_slack_ack_latency_seconds_bucket{le="+Inf"} 2
aksbot_slack_ack_latency_seconds_sum 7.003
aksbot_slack_ack_latency_seconds_count 2
# HELP aksbot_slack_socket_reconnects_total Reconnections of the Slack socket-mode connection.
# TYPE aksbot_slack_socket_reconnects_total counter
aksbot_slack_socket_reconnects_total 1
# HELP aksbot_slack_outbox_depth Messages stored in the outbox and not yet delivered to Slack.
# TYPE aksbot_slack_outbox_depth gauge
aksbot_slack_outbox_depth 4
`)
}

// The multi-replica metrics: lanes, leadership, store latency and session losses.
func TestReplicaMetrics(t *testing.T) {
	m := NewMetrics()
	// Unlabelled ones are served at 0 from the start, so rate() and alerts on them work from the
	// first scrape; the store histogram has no series until an operation is recorded.
	compare(t, m, `
# HELP aksbot_lanes_owned Cluster lanes this replica owns: clusters whose jobs it runs.
# TYPE aksbot_lanes_owned gauge
aksbot_lanes_owned 0
# HELP aksbot_leader 1 while this replica is the elected one for bot-wide work, else 0.
# TYPE aksbot_leader gauge
aksbot_leader 0
# HELP aksbot_store_session_losses_total Losses of this replica's etcd session: its leases, and the lanes and leadership they held, lapsed.
# TYPE aksbot_store_session_losses_total counter
aksbot_store_session_losses_total 0
`)
	if n, err := testutil.GatherAndCount(m.Gatherer(), nameStoreOperation); err != nil || n != 0 {
		t.Errorf("store operation series before any operation = %d (%v), want 0", n, err)
	}

	m.LanesOwned(5)
	m.LanesOwned(3)
	m.Leader(true)
	m.SessionLost()
	m.SessionLost()
	m.StoreOperation("update_job", 2*time.Millisecond)
	m.StoreOperation("update_job", 30*time.Millisecond)
	m.StoreOperation("jobs", 4*time.Second)
	if got := testutil.ToFloat64(m.lanesOwned); got != 3 {
		t.Errorf("lanes owned = %v, want 3 (the last value set)", got)
	}
	if got := testutil.ToFloat64(m.leader); got != 1 {
		t.Errorf("leader = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.sessionLosses); got != 2 {
		t.Errorf("session losses = %v, want 2", got)
	}
	compare(t, m, `
# HELP aksbot_store_operation_seconds Latency of store operations by operation (create_job, update_job, jobs, outbox, ...).
# TYPE aksbot_store_operation_seconds histogram
aksbot_store_operation_seconds_bucket{op="jobs",le="0.001"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.0025"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.005"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.01"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.025"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.05"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.1"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.25"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="0.5"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="1"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="2.5"} 0
aksbot_store_operation_seconds_bucket{op="jobs",le="5"} 1
aksbot_store_operation_seconds_bucket{op="jobs",le="+Inf"} 1
aksbot_store_operation_seconds_sum{op="jobs"} 4
aksbot_store_operation_seconds_count{op="jobs"} 1
aksbot_store_operation_seconds_bucket{op="update_job",le="0.001"} 0
aksbot_store_operation_seconds_bucket{op="update_job",le="0.0025"} 1
aksbot_store_operation_seconds_bucket{op="update_job",le="0.005"} 1
aksbot_store_operation_seconds_bucket{op="update_job",le="0.01"} 1
aksbot_store_operation_seconds_bucket{op="update_job",le="0.025"} 1
aksbot_store_operation_seconds_bucket{op="update_job",le="0.05"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="0.1"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="0.25"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="0.5"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="1"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="2.5"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="5"} 2
aksbot_store_operation_seconds_bucket{op="update_job",le="+Inf"} 2
aksbot_store_operation_seconds_sum{op="update_job"} 0.032
aksbot_store_operation_seconds_count{op="update_job"} 2
`)

	m.Leader(false)
	if got := testutil.ToFloat64(m.leader); got != 0 {
		t.Errorf("leader after losing the election = %v, want 0", got)
	}
}

// TestValuesChange: a second round of recording moves every family's values.
func TestValuesChange(t *testing.T) {
	m := NewMetrics()
	record := func(depth int) {
		m.JobTransition(aks.OpClusterStop, aks.StateQueued, aks.StateRunning)
		m.OperationFinished(aks.OpClusterStop, aks.StateCancelled, 20*time.Minute)
		m.ApprovalWait(aks.OpClusterStop, aks.StateQueued, time.Hour)
		m.SlackCall("conversations.replies", "ok")
		m.SlackAck(time.Millisecond)
		m.SocketReconnect()
		m.OutboxDepth(depth)
		m.ARMRequest("POST", 429)
		m.ARMThrottled()
	}
	type values struct {
		transitions, opCount, opSum, waitCount, slack, ackCount, reconnects, depth, arm, throttled float64
	}
	read := func() values {
		opN, opSum := histogramCount(t, m.operations.WithLabelValues("cluster.stop", "cancelled"))
		waitN, _ := histogramCount(t, m.approvalWait.WithLabelValues("cluster.stop", "queued"))
		ackN, _ := histogramCount(t, m.slackAck)
		return values{
			transitions: testutil.ToFloat64(m.jobTransitions.WithLabelValues("cluster.stop", "queued", "running")),
			opCount:     float64(opN), opSum: opSum, waitCount: float64(waitN),
			slack:      testutil.ToFloat64(m.slackCalls.WithLabelValues("conversations.replies", "ok")),
			ackCount:   float64(ackN),
			reconnects: testutil.ToFloat64(m.socketReconnects),
			depth:      testutil.ToFloat64(m.outboxDepth),
			arm:        testutil.ToFloat64(m.armRequests.WithLabelValues("POST", "429")),
			throttled:  testutil.ToFloat64(m.armThrottled),
		}
	}
	record(7)
	if got, want := read(), (values{1, 1, 1200, 1, 1, 1, 1, 7, 1, 1}); got != want {
		t.Errorf("after one round:\n got %+v\nwant %+v", got, want)
	}
	record(2)
	if got, want := read(), (values{2, 2, 2400, 2, 2, 2, 2, 2, 2, 2}); got != want {
		t.Errorf("after two rounds:\n got %+v\nwant %+v", got, want)
	}
}

func TestEmptyMetricsServeOnlyUnlabelled(t *testing.T) {
	m := NewMetrics()
	for _, name := range []string{nameARMThrottled, nameSocketReconnects, nameOutboxDepth, nameSlackAck,
		nameLanesOwned, nameLeader, nameSessionLosses} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v), want 1 from the start", name, n, err)
		}
	}
	for _, name := range []string{nameJobTransitions, nameJobs, nameSlackCalls, nameARMRequests,
		nameOperationSeconds, nameApprovalWait, nameStoreOperation} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); err != nil || n != 0 {
			t.Errorf("%s: %d series (%v) before anything was recorded", name, n, err)
		}
	}
}

func TestSetJobsByStateReplaces(t *testing.T) {
	m := NewMetrics()
	counts := map[[2]string]int{{"scale", "running"}: 3}
	m.SetJobsByState(counts)
	counts[[2]string{"scale", "running"}] = 99 // the caller's map is not kept
	compare(t, m, `
# HELP aksbot_jobs Jobs by operation and state.
# TYPE aksbot_jobs gauge
aksbot_jobs{op="scale",state="running"} 3
`)
	m.SetJobsByState(map[[2]string]int{{"upgrade", "waiting"}: 1})
	m.SetJobsByState(map[[2]string]int{{"upgrade", "waiting"}: 2, {"delete", "failed"}: 0})
	compare(t, m, `
# HELP aksbot_jobs Jobs by operation and state.
# TYPE aksbot_jobs gauge
aksbot_jobs{op="delete",state="failed"} 0
aksbot_jobs{op="upgrade",state="waiting"} 2
`)
}

// Only the elected replica publishes aksbot_jobs; one that is not leaves it out entirely, so
// sum(aksbot_jobs) over replicas counts each job once.
func TestPublishJobs(t *testing.T) {
	m := NewMetrics()
	count := func() int {
		t.Helper()
		n, err := testutil.GatherAndCount(m.Gatherer(), nameJobs)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	m.SetJobsByState(map[[2]string]int{{"scale", "running"}: 1, {"upgrade", "queued"}: 2})
	if n := count(); n != 2 {
		t.Fatalf("a new Metrics publishes %d job series, want 2: publishing is on by default", n)
	}
	m.PublishJobs(false)
	if n := count(); n != 0 {
		t.Errorf("%d job series with publishing off, want 0", n)
	}
	m.SetJobsByState(map[[2]string]int{{"scale", "running"}: 4}) // the refresh may keep running
	if n := count(); n != 0 {
		t.Errorf("%d job series after a refresh with publishing off, want 0", n)
	}
	m.PublishJobs(false)
	m.PublishJobs(true)
	if n := count(); n != 0 {
		t.Errorf("%d job series right after publishing resumed, want 0 until the next refresh", n)
	}
	m.SetJobsByState(map[[2]string]int{{"scale", "running"}: 5})
	compare(t, m, `
# HELP aksbot_jobs Jobs by operation and state.
# TYPE aksbot_jobs gauge
aksbot_jobs{op="scale",state="running"} 5
`)
}

func TestConcurrentRecording(t *testing.T) {
	m := NewMetrics()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			method := fmt.Sprintf("m%d", w%2)
			for i := range each {
				result := "ok"
				if i%5 == 0 {
					result = "ratelimited"
				}
				m.SlackCall(method, result)
				m.SlackAck(time.Duration(i) * time.Millisecond)
				m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, time.Minute)
				m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
				m.ARMRequest("GET", 200)
				m.OutboxDepth(i)
				m.SocketReconnect()
				m.SetJobsByState(map[[2]string]int{{"scale", "running"}: i})
				m.PublishJobs(i%7 != 0)
				m.Leader(i%2 == 0)
				m.LanesOwned(i)
				m.StoreOperation("update_job", time.Millisecond)
			}
		})
	}
	// Scrapes run alongside the writers so -race sees reads and writes together.
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				if _, err := m.Gatherer().Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-scraped

	total := float64(workers * each)
	sumSlack := func(result string) float64 {
		return testutil.ToFloat64(m.slackCalls.WithLabelValues("m0", result)) +
			testutil.ToFloat64(m.slackCalls.WithLabelValues("m1", result))
	}
	if ok, rl := sumSlack("ok"), sumSlack("ratelimited"); ok != total*4/5 || rl != total/5 {
		t.Errorf("slack calls ok=%v ratelimited=%v, want %v and %v", ok, rl, total*4/5, total/5)
	}
	if got := testutil.ToFloat64(m.jobTransitions.WithLabelValues("nodepool.scale", "queued", "running")); got != total {
		t.Errorf("transitions = %v, want %v", got, total)
	}
	if got := testutil.ToFloat64(m.armRequests.WithLabelValues("GET", "200")); got != total {
		t.Errorf("arm requests = %v, want %v", got, total)
	}
	if got := testutil.ToFloat64(m.socketReconnects); got != total {
		t.Errorf("reconnects = %v, want %v", got, total)
	}
	if c, _ := histogramCount(t, m.slackAck); float64(c) != total {
		t.Errorf("ack count = %v, want %v", c, total)
	}
	if c, s := histogramCount(t, m.operations.WithLabelValues("nodepool.scale", "succeeded")); float64(c) != total || s != total*60 {
		t.Errorf("operation count=%v sum=%v, want %v and %v", c, s, total, total*60)
	}
	if c, _ := histogramCount(t, m.storeOps.WithLabelValues("update_job")); float64(c) != total {
		t.Errorf("store operation count = %v, want %v", c, total)
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	m := NewMetrics()
	hot := map[string]func(){
		"JobTransition":     func() { m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning) },
		"OperationFinished": func() { m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, time.Minute) },
		"ApprovalWait":      func() { m.ApprovalWait(aks.OpPoolScale, aks.StateQueued, time.Minute) },
		"SlackCall":         func() { m.SlackCall("chat.postMessage", "ratelimited") },
		"SlackAck":          func() { m.SlackAck(2 * time.Millisecond) },
		"SocketReconnect":   func() { m.SocketReconnect() },
		"OutboxDepth":       func() { m.OutboxDepth(3) },
		"ARMRequest":        func() { m.ARMRequest("GET", 200) },
		"ARMThrottled":      func() { m.ARMThrottled() },
		"StoreOperation":    func() { m.StoreOperation("update_job", time.Millisecond) },
		"LanesOwned":        func() { m.LanesOwned(2) },
		"Leader":            func() { m.Leader(true) },
		"SessionLost":       func() { m.SessionLost() },
	}
	for _, f := range hot {
		f() // first use creates the series
	}
	for name, f := range hot {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

// The hot calls, from many goroutines at once as the engine and the Slack transport make them:
// go test -run '^$' -bench . -benchmem ./internal/telemetry
func BenchmarkJobTransition(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
		}
	})
}

func BenchmarkOperationFinished(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, 7*time.Minute)
		}
	})
}

func BenchmarkSlackAck(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.SlackAck(4 * time.Millisecond)
		}
	})
}

func BenchmarkStoreOperation(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.StoreOperation("update_job", 3*time.Millisecond)
		}
	})
}

func BenchmarkGather(b *testing.B) {
	m := NewMetrics()
	ops := []aks.OpKind{aks.OpClusterCreate, aks.OpClusterUpgrade, aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolDelete}
	for i := range 20 {
		m.SlackCall(fmt.Sprintf("method%d", i), "ok")
		m.OperationFinished(ops[i%5], aks.StateSucceeded, time.Duration(i)*time.Minute)
		m.ApprovalWait(ops[i%5], aks.StateQueued, time.Duration(i)*time.Minute)
		m.JobTransition(ops[i%5], aks.StateQueued, aks.StateRunning)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Gatherer().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
