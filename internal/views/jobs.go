package views

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// StateWords says where a job is, with the detail that matters in that state: "awaiting
// approval", "running (Azure: Scaling)", "failed: QuotaExceeded".
func StateWords(j aks.Job) string {
	switch j.State {
	case aks.StateRunning:
		if j.ProvisioningState != "" {
			return "running (" + j.Op.Target.CloudName() + ": " + plain(j.ProvisioningState, maxFieldLen) + ")"
		}
	case aks.StateFailed:
		if j.Error != nil && j.Error.Code != "" {
			return "failed: " + plain(j.Error.Code, maxFieldLen)
		}
	}
	return j.State.Words()
}

// JobLine renders a job on one line:
// "#7 running · nodepool.scale rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U1> · 3m ago".
// The time is when the job was asked for.
func JobLine(j aks.Job, now time.Time) string {
	return jobLine(j, now, StateWords(j))
}

// jobLine is JobLine with the state said as given (a queued job's place in line).
func jobLine(j aks.Job, now time.Time, state string) string {
	parts := []string{"#" + j.ID + " " + state, string(j.Op.Kind) + " " + jobTarget(j)}
	if j.Plan.Summary != "" {
		parts = append(parts, oneLine(j.Plan.Summary, maxFieldLen))
	}
	parts = append(parts, mention(j.Requester), Ago(j.CreatedAt, now))
	return strings.Join(parts, " · ")
}

// jobTarget names what a job acts on, with the pool the plan resolved when the command left it
// out (`/aks scale` without --nodepool-name).
func jobTarget(j aks.Job) string {
	t := j.Op.Target
	if t.Pool == "" && j.Op.Kind.OnPool() {
		t.Pool = j.Plan.Pool
	}
	return t.String()
}

// JobList renders jobs one per line, newest first. Without all, only jobs that have not ended
// are shown (what `/aks jobs` answers); with all, every job given (`/aks jobs --all`).
func JobList(js []aks.Job, now time.Time, all bool) string {
	var shown []aks.Job
	for _, j := range js {
		if all || !j.State.Final() {
			shown = append(shown, j)
		}
	}
	if len(shown) == 0 {
		if all {
			return "No jobs yet. Commands that change a cluster, such as `/aks nodepool scale`, make one."
		}
		return "No active jobs. `/aks jobs --all` shows finished ones too."
	}
	slices.SortStableFunc(shown, func(a, b aks.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return compareIDs(b.ID, a.ID)
	})

	title := fmt.Sprintf("*Active jobs* (%d, newest first)", len(shown))
	if all {
		title = fmt.Sprintf("*Jobs* (%d, newest first)", len(shown))
	}
	footer := "Details: `/aks job ID`"
	queue := queuePositions(js)
	lines := make([]string, len(shown))
	for i, j := range shown {
		state, queued := queue[j.ID]
		if !queued {
			state = StateWords(j)
		}
		lines[i] = "• " + jobLine(j, now, state)
	}
	lines = fitLines(lines, Limit-1-len(title)-1-len(footer)-1, func(n int) string {
		return fmt.Sprintf("… and %d older %s", n, plural(n, "job", "jobs"))
	})
	return clip(title + "\n" + strings.Join(lines, "\n") + "\n" + footer)
}

// queuePositions says where each queued job stands in its cluster's line, the way the engine
// runs them: the running job first, then queued jobs oldest first. Example: "queued, 2nd in
// line on demo, behind #5".
func queuePositions(js []aks.Job) map[string]string {
	byCluster := map[string][]aks.Job{}
	for _, j := range js {
		if j.State == aks.StateQueued || j.State == aks.StateRunning {
			k := j.Op.Target.ClusterKey()
			byCluster[k] = append(byCluster[k], j)
		}
	}
	out := map[string]string{}
	for _, line := range byCluster {
		slices.SortStableFunc(line, func(a, b aks.Job) int {
			if (a.State == aks.StateRunning) != (b.State == aks.StateRunning) {
				if a.State == aks.StateRunning {
					return -1
				}
				return 1
			}
			return compareIDs(a.ID, b.ID)
		})
		pos := 0
		for i, j := range line {
			if j.State != aks.StateQueued {
				continue
			}
			pos++
			cluster := plain(j.Op.Target.Cluster, maxFieldLen)
			switch {
			case i == 0:
				out[j.ID] = "queued, next on " + cluster
			case pos == 1:
				out[j.ID] = fmt.Sprintf("queued, next on %s after #%s", cluster, line[i-1].ID)
			default:
				out[j.ID] = fmt.Sprintf("queued, %s in line on %s, behind #%s", ordinal(pos), cluster, line[i-1].ID)
			}
		}
	}
	return out
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// compareIDs orders job IDs as the numbers they are ("9" < "10"); IDs that are not numbers
// compare as strings.
func compareIDs(a, b string) int {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	if ea == nil && eb == nil {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}

// JobDetail renders everything known about a job: its state, the operation and its plan, who
// asked and who decided, what Azure reported, the error, and then its events with time (UTC)
// and actor. When the events do not all fit, the first few and the latest are kept.
func JobDetail(j aks.Job, evs []aks.Event, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Job #%s* · %s\n", j.ID, StateWords(j))
	fmt.Fprintf(&b, "Operation: %s (`%s`)\n", plain(j.Op.Describe(), maxFieldLen), plain(string(j.Op.Kind), maxFieldLen))
	if j.Plan.Summary != "" {
		fmt.Fprintf(&b, "Plan: %s\n", oneLine(j.Plan.Summary, maxFieldLen))
	}
	changes := make([]string, len(j.Plan.Changes))
	for i, c := range j.Plan.Changes {
		changes[i] = "  • " + oneLine(c.String(), maxFieldLen)
	}
	for _, l := range fitLines(changes, sectionLen, func(n int) string {
		return fmt.Sprintf("  • … and %d more %s", n, plural(n, "change", "changes"))
	}) {
		b.WriteString(l + "\n")
	}
	for _, l := range j.Plan.Assessment() {
		b.WriteString(oneLine(l, maxFieldLen) + "\n")
	}
	fmt.Fprintf(&b, "Requested by %s at %s UTC (%s)\n", mention(j.Requester), timestamp(j.CreatedAt), Ago(j.CreatedAt, now))
	b.WriteString(approvalText(j))
	b.WriteString(azureText(j, now))
	if j.Error != nil {
		fmt.Fprintf(&b, "Error: *%s*: %s\n", plain(orDash(j.Error.Code), maxFieldLen), plain(j.Error.Message, maxMessageLen))
		if j.Error.Hint != "" {
			fmt.Fprintf(&b, "Hint: %s\n", oneLine(j.Error.Hint, maxFieldLen))
		}
	}

	if len(evs) == 0 {
		return clip(strings.TrimSuffix(b.String(), "\n"))
	}
	sorted := slices.Clone(evs)
	slices.SortStableFunc(sorted, func(a, b aks.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	title := fmt.Sprintf("\n*Events* (%d, times in UTC)\n", len(sorted))
	lines := make([]string, len(sorted))
	for i, ev := range sorted {
		lines[i] = eventLine(ev)
	}
	lines = fitEvents(lines, Limit-1-b.Len()-len(title))
	return clip(b.String() + title + strings.Join(lines, "\n"))
}

// sectionLen bounds the plan changes and the decisions of a job view, each, so that the error
// and the latest events still fit after them.
const sectionLen = 800

// approvalText says whether the job needed approval and who decided what.
func approvalText(j aks.Job) string {
	if !j.NeedsApproval && len(j.Decisions) == 0 {
		return "Approval: not needed\n"
	}
	head := "Approval:"
	if need := j.ApprovalsNeeded; j.NeedsApproval && need > 0 {
		head = fmt.Sprintf("Approval: %d of %d", len(j.Approvals()), need)
		if len(j.Approvers) > 0 {
			head += " from " + strings.Join(j.Approvers, ", ") // mentions made by the policy from validated IDs
		}
		if j.Rule != "" {
			head += " (rule " + plain(j.Rule, maxFieldLen) + ")"
		}
		if j.State == aks.StateAwaitingApproval && !j.ExpiresAt.IsZero() {
			head += fmt.Sprintf(", expires %s UTC", timestamp(j.ExpiresAt))
		}
	}
	if len(j.Decisions) == 0 {
		if j.State == aks.StateAwaitingApproval {
			if j.ApprovalsNeeded > 0 {
				return head + "\n"
			}
			return "Approval: waiting for an approver\n"
		}
		return "Approval: needed, none given\n"
	}
	lines := make([]string, len(j.Decisions))
	for i, d := range j.Decisions {
		verb := "denied"
		if d.Approve {
			verb = "approved"
		}
		lines[i] = fmt.Sprintf("  • %s by %s at %s UTC", verb, mention(d.By), timestamp(d.At))
		if d.Reason != "" {
			lines[i] += ": \"" + plain(d.Reason, maxFieldLen) + "\""
		}
	}
	lines = fitLines(lines, sectionLen, func(n int) string {
		return fmt.Sprintf("  • … and %d more %s", n, plural(n, "decision", "decisions"))
	})
	return head + "\n" + strings.Join(lines, "\n") + "\n"
}

// azureText says what happened on the cloud's side (Azure or EKS): whether the request was sent, the last
// provisioning state seen and how long the operation ran (or has been running).
func azureText(j aks.Job, now time.Time) string {
	if !j.Sent && j.StartedAt.IsZero() {
		if j.State.Final() {
			return j.Op.Target.CloudName() + ": nothing was sent\n"
		}
		return j.Op.Target.CloudName() + ": not started yet\n"
	}
	parts := []string{j.Op.Target.CloudName() + ":"}
	if j.ProvisioningState != "" {
		parts = append(parts, "provisioning state "+plain(j.ProvisioningState, maxFieldLen))
	} else {
		parts = append(parts, "request sent")
	}
	if !j.StartedAt.IsZero() {
		parts = append(parts, "· started "+timestamp(j.StartedAt)+" UTC")
		switch {
		case !j.FinishedAt.IsZero():
			parts = append(parts, "· took "+Elapsed(j.FinishedAt.Sub(j.StartedAt)))
		case !j.State.Final():
			parts = append(parts, "· running for "+Elapsed(now.Sub(j.StartedAt)))
		}
	}
	if j.Replica != "" {
		// With several replicas, the one that runs a job's lane is where its logs are.
		verb := "runs on"
		if j.State.Final() {
			verb = "ran on"
		}
		parts = append(parts, "· "+verb+" replica "+plain(j.Replica, maxFieldLen))
	}
	s := strings.Join(parts, " ") + "\n"
	if !j.FinishedAt.IsZero() {
		s += fmt.Sprintf("Finished at %s UTC (%s)\n", timestamp(j.FinishedAt), Ago(j.FinishedAt, now))
	}
	return s
}

// eventLine renders one event: time, what happened, who did it and the event's own words.
func eventLine(ev aks.Event) string {
	actor := "bot"
	if ev.Actor.ID != "" || ev.Actor.Name != "" {
		actor = mention(ev.Actor)
	}
	s := fmt.Sprintf("• %s · %s · %s", timestamp(ev.At), ev.Kind, actor)
	if ev.Message != "" {
		// The engine writes event messages (they may carry mentions on purpose): not escaped.
		s += " · " + oneLine(ev.Message, maxFieldLen)
	}
	return s
}

// fitEvents keeps all event lines when they fit in budget bytes. Otherwise it keeps the first
// few (creation and decisions) and as many of the latest as fit, with a line in between saying
// how many were left out: a long run of progress events is what usually overflows.
func fitEvents(lines []string, budget int) []string {
	if fitCount(lines, budget) == len(lines) {
		return lines
	}
	const head = 3
	gap := func(n int) string { return fmt.Sprintf("• … %d %s left out …", n, plural(n, "event", "events")) }
	reserve := len(gap(len(lines))) + 1
	first := fitCount(lines[:min(head, len(lines))], budget-reserve)
	rest := lines[first:]
	room := budget - reserve
	for _, l := range lines[:first] {
		room -= len(l) + 1
	}
	// Walk back from the newest event while the lines fit.
	tail := 0
	for used := 0; tail < len(rest); tail++ {
		used += len(rest[len(rest)-1-tail]) + 1
		if used > room {
			break
		}
	}
	out := slices.Clone(lines[:first])
	out = append(out, gap(len(rest)-tail))
	return append(out, rest[len(rest)-tail:]...)
}
