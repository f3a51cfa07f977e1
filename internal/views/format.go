// Package views renders aksbot's read-only answers (cluster, pool, version and job listings) as
// text. The texts use Slack mrkdwn that also reads well in a terminal: ```-fenced aligned tables,
// *bold* for titles, <@ID> for people. Every text stays under Limit bytes so that Slack shows it
// whole; long lists are cut with a line saying how many entries were left out.
//
// Everything here is a pure function of its arguments: callers pass "now" so that output is
// deterministic.
package views

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aksbot/aksbot/internal/aks"
)

// Limit is the size every rendered text stays under, in bytes. Slack truncates message text past
// 4,000 characters; bytes are counted (not runes) so the bound holds for any text.
const Limit = 3900

// Fields that come from users or from Azure are cut to these sizes so that one long value cannot
// push the rest of a view over Limit.
const (
	maxFieldLen   = 300  // a tag value, a reason, an event message
	maxMessageLen = 1200 // an Azure error message
)

const fence = "```"

// Elapsed says a duration in at most two units: "45s", "4m 12s", "1h 3m", "2d 5h". A zero second
// unit is left out ("4m"). Negative durations count as zero.
func Elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64(d / time.Second)
	switch {
	case secs < 60:
		return fmt.Sprintf("%ds", secs)
	case secs < 3600:
		return twoUnits(secs/60, "m", secs%60, "s")
	case secs < 86400:
		return twoUnits(secs/3600, "h", secs%3600/60, "m")
	default:
		return twoUnits(secs/86400, "d", secs%86400/3600, "h")
	}
}

func twoUnits(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s %d%s", a, ua, b, ub)
}

// Ago says how long before now t was, in its largest unit: "45s ago", "3m ago", "2h ago",
// "4d ago". Under ten seconds, and times after now (clock skew), it is "just now"; a zero time
// is "never".
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int64(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int64(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int64(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int64(d/(24*time.Hour)))
	}
}

// timestamp formats t in UTC so that every reader (and every test) sees the same text.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05")
}

// mention renders a user the way Slack notifies them; the console prints it as is.
func mention(u aks.User) string {
	switch {
	case u.ID != "":
		return "<@" + u.ID + ">"
	case u.Name != "":
		return plain(u.Name, maxFieldLen)
	default:
		return "someone"
	}
}

// escape makes text from users or Azure inert in Slack mrkdwn: Slack requires &, < and > to be
// escaped, and an unescaped "<!channel>" in a deny reason would otherwise notify a whole channel.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// oneLine makes text that aksbot wrote (event messages, hints, plan summaries) safe to place on
// one line of a view, and at most n bytes: line breaks become spaces and a code fence inside it
// cannot open or close a block. Mentions in it are kept on purpose.
func oneLine(s string, n int) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ", fence, "'''").Replace(s)
	return cut(s, n)
}

// plain makes text from users or Azure inert and one line of at most n bytes: escaped for Slack,
// without backticks (no stray code spans), cut to n.
func plain(s string, n int) string {
	return oneLine(escape(strings.ReplaceAll(s, "`", "'")), n)
}

// cut shortens s to at most n bytes (on a rune boundary), marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	end := n - len(ell)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + ell
}

// orDash stands in for values Azure did not return, so table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell makes a value safe inside a fenced table: a line break would split the row and a
// backtick could end the fence early. Values are also escaped for Slack.
func cell(s string) string {
	return plain(s, maxFieldLen)
}

// table is an aligned text table, rendered inside a code fence.
type table struct {
	header []string
	rows   [][]string
}

// lines returns the header and each row as aligned lines. Widths are counted in runes; the last
// column is not padded.
func (t table) lines() (string, []string) {
	widths := make([]int, len(t.header))
	measure := func(cells []string) {
		for i, c := range cells {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	rowCells := make([][]string, len(t.rows))
	for i, r := range t.rows {
		rowCells[i] = make([]string, len(r))
		for j, c := range r {
			rowCells[i][j] = cell(c)
		}
	}
	measure(t.header)
	for _, r := range rowCells {
		measure(r)
	}
	format := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			if i >= len(widths) {
				break
			}
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	rows := make([]string, len(rowCells))
	for i, r := range rowCells {
		rows[i] = format(r)
	}
	return format(t.header), rows
}

// render returns the fenced table, keeping as many rows as fit in budget bytes. When rows are
// left out, more(n) is appended on its own line after the fence.
func (t table) render(budget int, more func(omitted int) string) string {
	header, rows := t.lines()
	// Reserve room for the "more" line at its largest, so the cut never needs a second pass.
	reserve := 0
	if more != nil {
		reserve = len(more(len(rows))) + 1
	}
	fixed := len(fence) + 1 + len(header) + 1 + len(fence)
	kept := fitCount(rows, budget-fixed-reserve)
	if kept < len(rows) && more == nil {
		kept = fitCount(rows, budget-fixed)
	}
	var b strings.Builder
	b.WriteString(fence + "\n" + header + "\n")
	for _, r := range rows[:kept] {
		b.WriteString(r + "\n")
	}
	b.WriteString(fence)
	if kept < len(rows) && more != nil {
		b.WriteString("\n" + more(len(rows)-kept))
	}
	return b.String()
}

// fitCount returns how many of lines, each followed by a newline, fit in budget bytes.
func fitCount(lines []string, budget int) int {
	used := 0
	for i, l := range lines {
		used += len(l) + 1
		if used > budget {
			return i
		}
	}
	return len(lines)
}

// fitLines returns lines unchanged when they all fit in budget bytes; otherwise the prefix that
// fits together with the line more(n) saying how many were left out.
func fitLines(lines []string, budget int, more func(omitted int) string) []string {
	if fitCount(lines, budget) == len(lines) {
		return lines
	}
	last := more(len(lines))
	kept := fitCount(lines, budget-len(last)-1)
	return append(lines[:kept:kept], more(len(lines)-kept))
}

// clip is the last guard on Limit: it cuts s at a line boundary, closes an open code fence and
// says that the text was cut. The views size their parts to stay under Limit, so this only acts
// on unforeseen input.
func clip(s string) string {
	if len(s) < Limit {
		return s
	}
	const tail = "\n… (cut to fit in one message)"
	end := strings.LastIndexByte(s[:Limit-len(tail)-len(fence)-2], '\n')
	if end < 0 {
		end = Limit - len(tail) - len(fence) - 2
		for end > 0 && !utf8.RuneStart(s[end]) {
			end--
		}
	}
	out := s[:end]
	if strings.Count(out, fence)%2 == 1 {
		out += "\n" + fence
	}
	return out + tail
}

// compareVersions orders Kubernetes versions numerically part by part ("1.9.6" < "1.10.0").
// Parts that are not numbers compare as strings, after numbers.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return cmp.Compare(na, nb)
			}
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		default:
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

// plural picks the singular or plural of a noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
