package telemetry

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// family is one metric family as written: its series are added by the
// caller in any order and sorted when written.
type family struct {
	name, help, typ string
	labels          []string // label names, same for every series
	series          []series
}

type series struct {
	values []string // label values, parallel to family.labels
	value  float64  // counters and gauges
	hist   *histogramSnapshot
}

// WriteTo writes every metric in the Prometheus text exposition format
// (version 0.0.4), families sorted by name and series by label values, so
// two scrapes of the same state are byte-identical. Labelled families with
// no series yet are left out, as client_golang does.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	for _, f := range m.families() {
		if len(f.series) == 0 {
			continue
		}
		f.write(&buf)
	}
	n, err := w.Write(buf.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("write metrics exposition: %w", err)
	}
	return int64(n), nil
}

func (m *Metrics) families() []*family {
	fams := []*family{
		counterFamily(nameJobTransitions, "Job state transitions by operation, old state (empty for a new job) and new state.",
			[]string{"op", "from", "to"}, m.jobTransitions),
		counterFamily(nameSlackCalls, "Slack Web API calls by method and result (ok, error, ratelimited).",
			[]string{"method", "result"}, m.slackCalls),
		counterFamily(nameARMRequests, "Azure Resource Manager HTTP requests by method and status code (error: no response).",
			[]string{"method", "code"}, m.armRequests),
		scalarFamily(nameARMThrottled, "Azure Resource Manager requests answered 429 (throttled).", "counter", float64(m.armThrottled.Load())),
		scalarFamily(nameSocketReconnects, "Reconnections of the Slack socket-mode connection.", "counter", float64(m.socketReconnects.Load())),
		scalarFamily(nameOutboxDepth, "Messages stored in the outbox and not yet delivered to Slack.", "gauge", float64(m.outboxDepth.Load())),
		histogramFamily(nameSlackAck, "Time from reading a Slack socket-mode envelope to acknowledging it.", m.slackAck.snapshot()),
		histogramVecFamily(nameOperationSeconds, "Duration of Azure operations, from the request to its end, by operation and outcome.",
			[]string{"op", "outcome"}, m.operations),
		histogramVecFamily(nameApprovalWait, "Time jobs waited for their approvals, by operation and outcome: the state the decision moved the job to (queued when approved, denied, expired).",
			[]string{"op", "outcome"}, m.approvalWait),
	}

	jobs := &family{name: nameJobs, help: "Jobs by operation and state.", typ: "gauge", labels: []string{"op", "state"}}
	m.jobsMu.Lock()
	for k, v := range m.jobs {
		jobs.series = append(jobs.series, series{values: []string{k[0], k[1]}, value: float64(v)})
	}
	m.jobsMu.Unlock()
	fams = append(fams, jobs)

	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return fams
}

func counterFamily(name, help string, labels []string, v *counterVec) *family {
	f := &family{name: name, help: help, typ: "counter", labels: labels}
	for k, c := range v.snapshot() {
		f.series = append(f.series, series{values: k[:len(labels)], value: float64(c)})
	}
	return f
}

func histogramVecFamily(name, help string, labels []string, v *histogramVec) *family {
	f := &family{name: name, help: help, typ: "histogram", labels: labels}
	for k, h := range v.snapshot() {
		f.series = append(f.series, series{values: k[:len(labels)], hist: &h})
	}
	return f
}

func scalarFamily(name, help, typ string, v float64) *family {
	return &family{name: name, help: help, typ: typ, series: []series{{value: v}}}
}

func histogramFamily(name, help string, h histogramSnapshot) *family {
	return &family{name: name, help: help, typ: "histogram", series: []series{{hist: &h}}}
}

func (f *family) write(buf *bytes.Buffer) {
	slices.SortFunc(f.series, func(a, b series) int { return slices.Compare(a.values, b.values) })
	fmt.Fprintf(buf, "# HELP %s %s\n", f.name, escapeHelp(f.help))
	fmt.Fprintf(buf, "# TYPE %s %s\n", f.name, f.typ)
	for _, s := range f.series {
		if s.hist == nil {
			writeSample(buf, f.name, f.labels, s.values, "", "", s.value)
			continue
		}
		h := s.hist
		for i, c := range h.cumulative {
			le := "+Inf"
			if i < len(h.upper) {
				le = formatFloat(h.upper[i])
			}
			writeSample(buf, f.name+"_bucket", f.labels, s.values, "le", le, float64(c))
		}
		writeSample(buf, f.name+"_sum", f.labels, s.values, "", "", h.sum)
		writeSample(buf, f.name+"_count", f.labels, s.values, "", "", float64(h.cumulative[len(h.cumulative)-1]))
	}
}

// writeSample writes one line; extraName/extraValue add the histogram's le label.
func writeSample(buf *bytes.Buffer, name string, labels, values []string, extraName, extraValue string, v float64) {
	buf.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		buf.WriteByte('{')
		sep := ""
		for i, l := range labels {
			buf.WriteString(sep)
			buf.WriteString(l)
			buf.WriteString(`="`)
			buf.WriteString(escapeLabel(values[i]))
			buf.WriteByte('"')
			sep = ","
		}
		if extraName != "" {
			buf.WriteString(sep)
			buf.WriteString(extraName)
			buf.WriteString(`="`)
			buf.WriteString(escapeLabel(extraValue))
			buf.WriteByte('"')
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(' ')
	buf.WriteString(formatFloat(v))
	buf.WriteByte('\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// escapeLabel escapes a label value as the 0.0.4 format requires: backslash,
// double quote and line feed.
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// escapeHelp escapes HELP text, where only backslash and line feed are special.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
