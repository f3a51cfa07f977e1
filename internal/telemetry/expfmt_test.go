package telemetry

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// sample is one parsed exposition line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// exposition is a scrape parsed back: family types, HELP texts, samples in
// order and the order in which families appeared.
type exposition struct {
	types   map[string]string
	helps   map[string]string
	order   []string
	samples []sample
}

// parseExposition is a strict reader of the 0.0.4 text format: it fails on
// a sample whose family has no preceding TYPE, on bad escapes and on bad numbers.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	e := exposition{types: map[string]string{}, helps: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok {
				t.Fatalf("HELP without text: %q", line)
			}
			e.helps[name] = help
			e.order = append(e.order, name)
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, ok := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			if !ok {
				t.Fatalf("TYPE without type: %q", line)
			}
			if _, dup := e.types[name]; dup {
				t.Fatalf("family %s typed twice", name)
			}
			if _, helped := e.helps[name]; !helped {
				t.Fatalf("TYPE for %s before its HELP", name)
			}
			e.types[name] = typ
		case line == "" || strings.HasPrefix(line, "#"):
			t.Fatalf("unexpected line %q", line)
		default:
			s, err := parseSample(line)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			if fam := familyOf(s.name, e.types); fam == "" {
				t.Fatalf("sample %s before its TYPE", s.name)
			}
			e.samples = append(e.samples, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// familyOf maps a sample name to its family, stripping histogram suffixes.
func familyOf(name string, types map[string]string) string {
	if _, ok := types[name]; ok {
		return name
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(name, suf)
		if base != name && types[base] == "histogram" {
			return base
		}
	}
	return ""
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, errors.New("no metric name")
	}
	s.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label at %q", rest)
			}
			lname := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' {
					if j+1 == len(rest) {
						return s, errors.New("dangling backslash")
					}
					j++
					switch rest[j] {
					case '\\':
						val.WriteByte('\\')
					case '"':
						val.WriteByte('"')
					case 'n':
						val.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape \\%c", rest[j])
					}
					continue
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				if c == '\n' {
					return s, errors.New("raw newline in label value")
				}
				val.WriteByte(c)
			}
			if !closed {
				return s, errors.New("unterminated label value")
			}
			if _, dup := s.labels[lname]; dup {
				return s, fmt.Errorf("label %s twice", lname)
			}
			s.labels[lname] = val.String()
			rest = strings.TrimPrefix(rest, ",")
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return s, errors.New("no space before value")
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(rest, " "), 64)
	if err != nil {
		return s, fmt.Errorf("value: %w", err)
	}
	s.value = v
	return s, nil
}

// find returns the value of the one sample with exactly these labels.
func (e exposition) find(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, s := range e.samples {
		if s.name == name && maps.Equal(s.labels, labels) {
			found = append(found, s.value)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: found %d samples, want 1", name, labels, len(found))
	}
	return found[0]
}

func (e exposition) has(name string) bool {
	return slices.ContainsFunc(e.samples, func(s sample) bool { return s.name == name })
}

func scrape(t *testing.T, m *Metrics) (string, exposition) {
	t.Helper()
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.String(), parseExposition(t, buf.String())
}

// checkHistogram asserts the invariants of one histogram series: buckets in
// increasing le order with non-decreasing counts, a +Inf bucket equal to
// _count, and a _sum present.
func checkHistogram(t *testing.T, e exposition, name string, labels map[string]string) (buckets map[string]float64, sum, count float64) {
	t.Helper()
	buckets = map[string]float64{}
	prevLE, prevCount := math.Inf(-1), -1.0
	for _, s := range e.samples {
		if s.name != name+"_bucket" {
			continue
		}
		rest := maps.Clone(s.labels)
		le, ok := rest["le"]
		if !ok {
			t.Fatalf("%s bucket without le", name)
		}
		delete(rest, "le")
		if !maps.Equal(rest, labels) {
			continue
		}
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			t.Fatalf("le %q: %v", le, err)
		}
		if bound <= prevLE {
			t.Fatalf("%s: le %v after %v", name, bound, prevLE)
		}
		if s.value < prevCount {
			t.Fatalf("%s: bucket le=%s has %v, fewer than the previous %v", name, le, s.value, prevCount)
		}
		prevLE, prevCount = bound, s.value
		buckets[le] = s.value
	}
	inf, ok := buckets["+Inf"]
	if !ok {
		t.Fatalf("%s%v: no +Inf bucket", name, labels)
	}
	count = e.find(t, name+"_count", labels)
	sum = e.find(t, name+"_sum", labels)
	if inf != count {
		t.Fatalf("%s: +Inf bucket %v != _count %v", name, inf, count)
	}
	return buckets, sum, count
}

func TestExpositionParsesBack(t *testing.T) {
	m := NewMetrics()
	m.JobTransition(aks.OpPoolScale, "", aks.StateAwaitingApproval)
	m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
	m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
	m.JobTransition(aks.OpClusterUpgrade, aks.StateRunning, aks.StateSucceeded)
	m.SetJobsByState(map[[2]string]int{{"nodepool.scale", "running"}: 2, {"cluster.upgrade", "awaiting_approval"}: 1})
	m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, 45*time.Second)
	m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, 3*time.Hour)
	m.OperationFinished(aks.OpClusterUpgrade, aks.StateFailed, 10*time.Second)
	m.ApprovalWait(aks.OpClusterDelete, aks.StateQueued, 90*time.Second)
	m.ApprovalWait(aks.OpClusterDelete, aks.StateExpired, 25*time.Hour)
	m.ApprovalWait(aks.OpPoolScale, aks.StateDenied, 5*time.Second)
	m.SlackCall("chat.postMessage", nil)
	m.SlackCall("chat.postMessage", fmt.Errorf("post report: %w", &slack.RateLimitedError{RetryAfter: time.Second}))
	m.SlackCall("chat.postMessage", &slack.RateLimitedError{RetryAfter: 3 * time.Second})
	m.SlackCall("chat.update", errors.New("message_not_found"))
	m.ARMRequest("PUT", 201, nil)
	m.ARMRequest("GET", 429, nil)
	m.ARMRequest("GET", 503, nil)
	m.ARMRequest("GET", 0, errors.New("dial tcp: refused"))
	m.SocketReconnect()
	m.SlackAck(3 * time.Millisecond)
	m.SlackAck(7 * time.Second)
	m.OutboxDepth(4)

	text, e := scrape(t, m)

	if !slices.IsSorted(e.order) {
		t.Errorf("families not sorted: %v", e.order)
	}
	wantTypes := map[string]string{
		nameJobTransitions: "counter", nameJobs: "gauge", nameOperationSeconds: "histogram",
		nameApprovalWait: "histogram", nameSlackCalls: "counter", nameARMRequests: "counter",
		nameARMThrottled: "counter", nameSocketReconnects: "counter", nameSlackAck: "histogram",
		nameOutboxDepth: "gauge",
	}
	if !maps.Equal(e.types, wantTypes) {
		t.Errorf("families = %v, want %v", e.types, wantTypes)
	}
	// The names dashboards use, spelled out once more so a renamed constant fails here.
	for _, name := range []string{"aksbot_job_transitions_total", "aksbot_operation_duration_seconds",
		"aksbot_approval_wait_seconds", "aksbot_slack_api_calls_total", "aksbot_slack_ack_latency_seconds",
		"aksbot_slack_socket_reconnects_total", "aksbot_slack_outbox_depth", "aksbot_arm_requests_total",
		"aksbot_arm_throttled_total"} {
		if _, ok := e.types[name]; !ok {
			t.Errorf("no family %s", name)
		}
	}
	for name := range wantTypes {
		if !strings.HasPrefix(name, "aksbot_") || e.helps[name] == "" {
			t.Errorf("family %s: want aksbot_ prefix and HELP text, help %q", name, e.helps[name])
		}
	}

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{nameJobTransitions, map[string]string{"op": "nodepool.scale", "from": "", "to": "awaiting_approval"}, 1},
		{nameJobTransitions, map[string]string{"op": "nodepool.scale", "from": "queued", "to": "running"}, 2},
		{nameJobTransitions, map[string]string{"op": "cluster.upgrade", "from": "running", "to": "succeeded"}, 1},
		{nameJobs, map[string]string{"op": "nodepool.scale", "state": "running"}, 2},
		{nameJobs, map[string]string{"op": "cluster.upgrade", "state": "awaiting_approval"}, 1},
		{nameSlackCalls, map[string]string{"method": "chat.postMessage", "result": "ok"}, 1},
		{nameSlackCalls, map[string]string{"method": "chat.postMessage", "result": "ratelimited"}, 2},
		{nameSlackCalls, map[string]string{"method": "chat.update", "result": "error"}, 1},
		{nameARMRequests, map[string]string{"method": "PUT", "code": "201"}, 1},
		{nameARMRequests, map[string]string{"method": "GET", "code": "429"}, 1},
		{nameARMRequests, map[string]string{"method": "GET", "code": "503"}, 1},
		{nameARMRequests, map[string]string{"method": "GET", "code": "error"}, 1},
		{nameARMThrottled, map[string]string{}, 1},
		{nameSocketReconnects, map[string]string{}, 1},
		{nameOutboxDepth, map[string]string{}, 4},
	}
	for _, c := range checks {
		if got := e.find(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// A label set never recorded must not appear.
	for _, s := range e.samples {
		if s.name == nameSlackCalls && s.labels["method"] == "chat.update" && s.labels["result"] != "error" {
			t.Errorf("chat.update counted as %s, want only error", s.labels["result"])
		}
	}

	scale := map[string]string{"op": "nodepool.scale", "outcome": "succeeded"}
	b, sum, count := checkHistogram(t, e, nameOperationSeconds, scale)
	if count != 2 || sum != 45+3*3600 {
		t.Errorf("scale histogram count=%v sum=%v, want 2 and %v", count, sum, 45+3*3600)
	}
	// 45s falls in le=60 but not le=30; 3h only in +Inf.
	if b["30"] != 0 || b["60"] != 1 || b["7200"] != 1 || b["+Inf"] != 2 {
		t.Errorf("scale buckets = %v", b)
	}
	if len(b) != len(operationBuckets)+1 || operationBuckets[0] != 30 || operationBuckets[len(operationBuckets)-1] != 7200 {
		t.Errorf("operation histogram has buckets %v, want 30s..2h and +Inf", b)
	}
	if _, _, c := checkHistogram(t, e, nameOperationSeconds, map[string]string{"op": "cluster.upgrade", "outcome": "failed"}); c != 1 {
		t.Errorf("upgrade/failed count = %v, want 1", c)
	}

	ack, ackSum, _ := checkHistogram(t, e, nameSlackAck, map[string]string{})
	if ack["0.0025"] != 0 || ack["0.005"] != 1 || ack["3"] != 1 || ack["+Inf"] != 2 {
		t.Errorf("ack buckets = %v", ack)
	}
	if len(ack) != 13 || ack["0.001"] != 0 {
		t.Errorf("ack histogram has buckets %v, want 1ms..3s and +Inf", ack)
	}
	if math.Abs(ackSum-7.003) > 1e-9 {
		t.Errorf("ack sum = %v, want 7.003", ackSum)
	}

	approved := map[string]string{"op": "cluster.delete", "outcome": "queued"}
	if wb, s, c := checkHistogram(t, e, nameApprovalWait, approved); c != 1 || s != 90 || wb["60"] != 0 || wb["300"] != 1 || len(wb) != 12 {
		t.Errorf("approval wait %v count=%v sum=%v buckets %v, want 1, 90 and 10s..24h", approved, c, s, wb)
	}
	if wb, _, c := checkHistogram(t, e, nameApprovalWait, map[string]string{"op": "cluster.delete", "outcome": "expired"}); c != 1 || wb["86400"] != 0 {
		t.Errorf("25h wait: count=%v buckets %v, want only in +Inf", c, wb)
	}
	if wb, _, _ := checkHistogram(t, e, nameApprovalWait, map[string]string{"op": "nodepool.scale", "outcome": "denied"}); wb["10"] != 1 {
		t.Errorf("5s wait not in le=10: %v", wb)
	}

	again, _ := scrape(t, m)
	if again != text {
		t.Errorf("two scrapes of the same state differ:\n%s\n---\n%s", text, again)
	}
}

// TestValuesChange: a second round of recording moves every family's values.
func TestValuesChange(t *testing.T) {
	m := NewMetrics()
	record := func(depth int) {
		m.JobTransition(aks.OpClusterStop, aks.StateQueued, aks.StateRunning)
		m.OperationFinished(aks.OpClusterStop, aks.StateCancelled, 20*time.Minute)
		m.ApprovalWait(aks.OpClusterStop, aks.StateQueued, time.Hour)
		m.SlackCall("conversations.replies", nil)
		m.SlackAck(time.Millisecond)
		m.SocketReconnect()
		m.OutboxDepth(depth)
		m.ARMRequest("POST", 429, nil)
	}
	record(7)
	_, first := scrape(t, m)
	record(2)
	_, second := scrape(t, m)

	op := map[string]string{"op": "cluster.stop", "outcome": "cancelled"}
	wait := map[string]string{"op": "cluster.stop", "outcome": "queued"}
	for _, c := range []struct {
		name          string
		labels        map[string]string
		first, second float64
	}{
		{nameJobTransitions, map[string]string{"op": "cluster.stop", "from": "queued", "to": "running"}, 1, 2},
		{nameOperationSeconds + "_count", op, 1, 2},
		{nameOperationSeconds + "_sum", op, 1200, 2400},
		{nameApprovalWait + "_count", wait, 1, 2},
		{nameSlackCalls, map[string]string{"method": "conversations.replies", "result": "ok"}, 1, 2},
		{nameSlackAck + "_count", map[string]string{}, 1, 2},
		{nameSocketReconnects, map[string]string{}, 1, 2},
		{nameOutboxDepth, map[string]string{}, 7, 2},
		{nameARMRequests, map[string]string{"method": "POST", "code": "429"}, 1, 2},
		{nameARMThrottled, map[string]string{}, 1, 2},
	} {
		if got := first.find(t, c.name, c.labels); got != c.first {
			t.Errorf("%s%v first = %v, want %v", c.name, c.labels, got, c.first)
		}
		if got := second.find(t, c.name, c.labels); got != c.second {
			t.Errorf("%s%v second = %v, want %v", c.name, c.labels, got, c.second)
		}
	}
}

func TestSlackResult(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{errors.New("channel_not_found"), "error"},
		{&slack.RateLimitedError{RetryAfter: time.Second}, "ratelimited"},
		{fmt.Errorf("update message: %w", &slack.RateLimitedError{}), "ratelimited"},
		{slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, "error"}, // retryable, but not a rate limit
	}
	for _, c := range cases {
		if got := slackResult(c.err); got != c.want {
			t.Errorf("slackResult(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestEmptyMetricsWriteOnlyUnlabelled(t *testing.T) {
	_, e := scrape(t, NewMetrics())
	// Unlabelled series exist from the start so rate() works from the first scrape.
	for _, name := range []string{nameARMThrottled, nameSocketReconnects, nameOutboxDepth} {
		if got := e.find(t, name, map[string]string{}); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	if _, _, c := checkHistogram(t, e, nameSlackAck, map[string]string{}); c != 0 {
		t.Errorf("ack count = %v, want 0", c)
	}
	for _, name := range []string{nameJobTransitions, nameJobs, nameSlackCalls, nameARMRequests,
		nameOperationSeconds + "_count", nameApprovalWait + "_count"} {
		if e.has(name) {
			t.Errorf("%s has samples before anything was recorded", name)
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	m := NewMetrics()
	odd := "say \"hi\"\\now\nnext"
	m.JobTransition(aks.OpKind(odd), "", aks.StateRunning)
	text, e := scrape(t, m)
	if want := `op="say \"hi\"\\now\nnext"`; !strings.Contains(text, want) {
		t.Errorf("exposition lacks %s:\n%s", want, text)
	}
	if got := e.find(t, nameJobTransitions, map[string]string{"op": odd, "from": "", "to": "running"}); got != 1 {
		t.Errorf("escaped label did not round-trip: %v", got)
	}
	if got := escapeHelp("a\\b\nc \"q\""); got != `a\\b\nc "q"` {
		t.Errorf("escapeHelp = %q", got)
	}
}

func TestSetJobsByStateReplaces(t *testing.T) {
	m := NewMetrics()
	counts := map[[2]string]int{{"scale", "running"}: 3}
	m.SetJobsByState(counts)
	counts[[2]string{"scale", "running"}] = 99 // the caller's map is not kept
	m.SetJobsByState(map[[2]string]int{{"upgrade", "waiting"}: 1})
	m.SetJobsByState(map[[2]string]int{{"upgrade", "waiting"}: 2, {"delete", "failed"}: 0})
	_, e := scrape(t, m)
	var got []string
	for _, s := range e.samples {
		if s.name == nameJobs {
			got = append(got, fmt.Sprintf("%s/%s=%v", s.labels["op"], s.labels["state"], s.value))
		}
	}
	want := []string{"delete/failed=0", "upgrade/waiting=2"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs gauge = %v, want %v", got, want)
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := NewMetrics()
	const workers, each = 8, 500
	limited := fmt.Errorf("post: %w", &slack.RateLimitedError{RetryAfter: time.Second})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			method := fmt.Sprintf("m%d", w%2)
			for i := range each {
				var err error
				if i%5 == 0 {
					err = limited
				}
				m.SlackCall(method, err)
				m.SlackAck(time.Duration(i) * time.Millisecond)
				m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, time.Minute)
				m.ApprovalWait(aks.OpPoolScale, aks.StateQueued, time.Minute)
				m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning)
				m.ARMRequest("GET", 200, nil)
				m.OutboxDepth(i)
				m.SocketReconnect()
				m.SetJobsByState(map[[2]string]int{{"scale", "running"}: i})
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
				if _, err := m.WriteTo(&bytes.Buffer{}); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-scraped

	_, e := scrape(t, m)
	total := float64(workers * each)
	sumSlack := func(result string) float64 {
		return e.find(t, nameSlackCalls, map[string]string{"method": "m0", "result": result}) +
			e.find(t, nameSlackCalls, map[string]string{"method": "m1", "result": result})
	}
	if ok, rl := sumSlack("ok"), sumSlack("ratelimited"); ok != total*4/5 || rl != total/5 {
		t.Errorf("slack calls ok=%v ratelimited=%v, want %v and %v", ok, rl, total*4/5, total/5)
	}
	if got := e.find(t, nameJobTransitions, map[string]string{"op": "nodepool.scale", "from": "queued", "to": "running"}); got != total {
		t.Errorf("transitions = %v, want %v", got, total)
	}
	if got := e.find(t, nameARMRequests, map[string]string{"method": "GET", "code": "200"}); got != total {
		t.Errorf("arm requests = %v, want %v", got, total)
	}
	if got := e.find(t, nameSocketReconnects, map[string]string{}); got != total {
		t.Errorf("reconnects = %v, want %v", got, total)
	}
	if _, _, c := checkHistogram(t, e, nameSlackAck, map[string]string{}); c != total {
		t.Errorf("ack count = %v, want %v", c, total)
	}
	if _, s, c := checkHistogram(t, e, nameOperationSeconds, map[string]string{"op": "nodepool.scale", "outcome": "succeeded"}); c != total || s != total*60 {
		t.Errorf("operation count=%v sum=%v, want %v and %v", c, s, total, total*60)
	}
	if _, s, c := checkHistogram(t, e, nameApprovalWait, map[string]string{"op": "nodepool.scale", "outcome": "queued"}); c != total || s != total*60 {
		t.Errorf("approval wait count=%v sum=%v, want %v and %v", c, s, total, total*60)
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	m := NewMetrics()
	errBoom := errors.New("boom")
	limited := fmt.Errorf("post: %w", &slack.RateLimitedError{RetryAfter: time.Second})
	hot := map[string]func(){
		"JobTransition":     func() { m.JobTransition(aks.OpPoolScale, aks.StateQueued, aks.StateRunning) },
		"OperationFinished": func() { m.OperationFinished(aks.OpPoolScale, aks.StateSucceeded, time.Minute) },
		"ApprovalWait":      func() { m.ApprovalWait(aks.OpPoolScale, aks.StateQueued, time.Minute) },
		"SlackCall ok":      func() { m.SlackCall("chat.postMessage", nil) },
		"SlackCall error":   func() { m.SlackCall("chat.postMessage", errBoom) },
		"SlackCall limited": func() { m.SlackCall("chat.postMessage", limited) },
		"SlackAck":          func() { m.SlackAck(2 * time.Millisecond) },
		"SocketReconnect":   func() { m.SocketReconnect() },
		"OutboxDepth":       func() { m.OutboxDepth(3) },
		"ARMRequest":        func() { m.ARMRequest("GET", 200, nil) },
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

func BenchmarkSlackCall(b *testing.B) {
	m := NewMetrics()
	limited := fmt.Errorf("post: %w", &slack.RateLimitedError{RetryAfter: time.Second})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			var err error
			if i++; i%10 == 0 {
				err = limited
			}
			m.SlackCall("chat.postMessage", err)
		}
	})
}

func BenchmarkOutboxDepth(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			m.OutboxDepth(i)
		}
	})
}

func BenchmarkWriteTo(b *testing.B) {
	m := NewMetrics()
	ops := []aks.OpKind{aks.OpClusterCreate, aks.OpClusterUpgrade, aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolDelete}
	for i := range 20 {
		m.SlackCall(fmt.Sprintf("method%d", i), nil)
		m.OperationFinished(ops[i%5], aks.StateSucceeded, time.Duration(i)*time.Minute)
		m.ApprovalWait(ops[i%5], aks.StateQueued, time.Duration(i)*time.Minute)
		m.JobTransition(ops[i%5], aks.StateQueued, aks.StateRunning)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.WriteTo(&bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}
