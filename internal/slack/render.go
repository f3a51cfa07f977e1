package slack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// Slack's limits (with a margin for the suffix truncate adds).
const (
	maxText       = 3900 // plain `text` fallback; Slack truncates long ones
	maxTextObject = 2900 // one Block Kit text object (limit 3,000)
	maxChanges    = 15   // plan changes listed on a card
	maxValue      = 500  // one value from outside (an Azure message, a hint)
)

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// esc escapes text from outside the bot (Azure messages, names) for mrkdwn, so that "<" or
// "&" in it cannot form a mention or a link.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(s, maxTextObject), false, false)
}

func section(s string) slack.Block { return slack.NewSectionBlock(mrkdwn(s), nil, nil) }

func contextLine(s string) slack.Block {
	return slack.NewContextBlock("", mrkdwn(s))
}

func stateEmoji(s aks.JobState) string {
	switch s {
	case aks.StateAwaitingApproval:
		return ":hourglass_flowing_sand:"
	case aks.StateQueued:
		return ":inbox_tray:"
	case aks.StateRunning:
		return ":arrows_counterclockwise:"
	case aks.StateSucceeded:
		return ":white_check_mark:"
	case aks.StateFailed:
		return ":x:"
	case aks.StateDenied:
		return ":no_entry:"
	case aks.StateCancelled:
		return ":no_entry_sign:"
	case aks.StateExpired:
		return ":alarm_clock:"
	}
	return ":grey_question:"
}

func nextStep(job aks.Job) string {
	s := job.State
	switch s {
	case aks.StateAwaitingApproval:
		return "waiting for an approver"
	case aks.StateQueued:
		return "waiting for its turn on the cluster"
	case aks.StateRunning:
		return "waiting for " + job.Op.Target.CloudName()
	}
	if s.Final() {
		return "done"
	}
	return "being prepared"
}

// slackDate renders t in each reader's time zone, with a UTC fallback for old clients.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// elapsed is how long the Azure side has run: until it finished, else until now.
func elapsed(job aks.Job, now time.Time) (time.Duration, bool) {
	if job.StartedAt.IsZero() {
		return 0, false
	}
	end := now
	if !job.FinishedAt.IsZero() {
		end = job.FinishedAt
	}
	d := end.Sub(job.StartedAt).Round(time.Second)
	return max(d, 0), true
}

func title(job aks.Job) string {
	return fmt.Sprintf("*Job %s* · %s", esc(job.ID), esc(job.Title()))
}

func planText(p aks.Plan) string {
	var b strings.Builder
	if p.Summary != "" {
		b.WriteString("*Plan:* " + esc(truncate(p.Summary, maxValue)))
	}
	for i, c := range p.Changes {
		if i == maxChanges {
			fmt.Fprintf(&b, "\n… and %d more", len(p.Changes)-maxChanges)
			break
		}
		b.WriteString("\n• " + esc(truncate(c.String(), maxValue)))
	}
	// Cost, quota and ETA, so an approver knows what the plan costs and whether it fits.
	for _, l := range p.Assessment() {
		b.WriteString("\n" + esc(truncate(l, maxValue)))
	}
	return b.String()
}

func errorText(e *aks.JobError) string {
	if e == nil {
		return ""
	}
	s := fmt.Sprintf("*Error:* `%s` %s", esc(truncate(e.Code, 100)), esc(truncate(e.Message, maxValue)))
	if e.Hint != "" {
		s += "\n*Hint:* " + esc(truncate(e.Hint, maxValue))
	}
	return s
}

// cardText is the plain fallback of the status card: it says the state in words.
func cardText(job aks.Job) string {
	return truncate(fmt.Sprintf("Job %s (%s): %s", job.ID, job.Op.Describe(), job.State.Words()), maxText)
}

// card is the status card: the parent message of a job, updated as the job moves.
func card(job aks.Job, now time.Time) []slack.Block {
	head := title(job) + "\nRequested by " + requestedBy(job)
	blocks := []slack.Block{section(head)}
	if p := planText(job.Plan); p != "" {
		blocks = append(blocks, section(p))
	}
	state := fmt.Sprintf("%s *%s*", stateEmoji(job.State), capitalize(job.State.Words()))
	if job.ProvisioningState != "" && (job.State == aks.StateRunning || job.State.Final()) {
		state += " · " + job.Op.Target.CloudName() + ": " + esc(truncate(job.ProvisioningState, 100))
	}
	// A running job shows when it started, not a ticking "elapsed": the card then changes only
	// when the job does, and a refresh that would change nothing costs no Slack call.
	switch d, ok := elapsed(job, now); {
	case ok && job.State.Final():
		state += " · took " + d.String()
	case ok:
		state += " · started " + slackDate(job.StartedAt)
		if eta := job.Plan.ETA; eta != nil && job.State == aks.StateRunning {
			state += " · " + esc(eta.ETA(job.StartedAt))
		}
	}
	if job.Replica != "" && (job.State == aks.StateRunning || job.State.Final()) {
		// With several replicas, the one running the job's cluster is where to look in the logs;
		// after a failover the card names the survivor.
		state += " · on replica " + esc(truncate(job.Replica, 100))
	}
	state += "\n*Next:* " + nextStep(job)
	blocks = append(blocks, section(state))
	if job.State == aks.StateFailed && job.Error != nil {
		blocks = append(blocks, section(errorText(job.Error)))
	}
	if d := decisionsText(job.Decisions); d != "" {
		blocks = append(blocks, contextLine(d))
	}
	return blocks
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func decisionsText(ds []aks.Decision) string {
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		verb, emoji := "Denied", ":no_entry:"
		if d.Approve {
			verb, emoji = "Approved", ":white_check_mark:"
		}
		line := fmt.Sprintf("%s %s by <@%s> at %s", emoji, verb, esc(d.By.ID), slackDate(d.At))
		if d.Reason != "" {
			line += ": " + esc(truncate(d.Reason, 200))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func approvalBlockID(jobID string) string { return "aksbot_approval_" + jobID }

// approvalText is the fallback of the approval message.
func approvalText(job aks.Job, ev aks.Event) string {
	s := fmt.Sprintf("Job %s is awaiting approval: %s. %s", job.ID, job.Op.Describe(), approvalProgress(job))
	if ev.Kind == aks.EventCreated && ev.Message != "" {
		s += " " + ev.Message
	}
	return truncate(s, maxText)
}

// target names exactly what the job acts on and how, so an approver knows what they approve.
func target(job aks.Job) string {
	t := job.Op.Target
	if t.IsEKS() {
		return eksTarget(job)
	}
	sub := job.Plan.Subscription
	if sub == "" {
		sub = "(the bot's default)"
	}
	if t.SubscriptionName != "" {
		sub = t.SubscriptionName + " (" + sub + ")"
	}
	pool := t.Pool
	if pool == "" {
		pool = job.Plan.Pool
	}
	s := fmt.Sprintf("*Subscription:* %s · *Resource group:* %s · *Cluster:* %s", esc(sub), esc(t.ResourceGroup), esc(t.Cluster))
	if pool != "" {
		s += " · *Pool:* " + esc(pool)
	}
	s += "\n*Operation:* " + esc(job.Op.Describe())
	if job.Plan.VMSize != "" {
		s += " · *VM size:* " + esc(job.Plan.VMSize)
	}
	return s
}

// eksTarget is target for an EKS node group: its account, region and cluster.
func eksTarget(job aks.Job) string {
	t := job.Op.Target
	var parts []string
	if t.Account != "" {
		parts = append(parts, "*Account:* "+esc(t.Account))
	}
	parts = append(parts, "*Region:* "+esc(t.Region), "*Cluster:* "+esc(t.Cluster))
	if ng := cmp.Or(t.Pool, job.Plan.Pool); ng != "" {
		parts = append(parts, "*Node group:* "+esc(ng))
	}
	s := strings.Join(parts, " · ") + "\n*Operation:* " + esc(job.Op.Describe())
	if job.Plan.VMSize != "" {
		s += " · *Instance types:* " + esc(job.Plan.VMSize)
	}
	return s
}

// mention keeps an approver reference that is already a Slack mention ("<@U1>",
// "<!subteam^S1>") and escapes anything else, so policy text cannot form links.
func mention(s string) string {
	if len(s) > 3 && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") && (s[1] == '@' || s[1] == '!' || s[1] == '#') &&
		!strings.ContainsAny(s[1:len(s)-1], "<>|") {
		return s
	}
	return esc(s)
}

func approversText(job aks.Job) string {
	ms := make([]string, 0, len(job.Approvers))
	for _, a := range job.Approvers {
		ms = append(ms, mention(a))
	}
	return strings.Join(ms, " or ")
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// approvalProgress says who approved so far and who is still awaited:
// "1 of 2 approvals: <@U1>; waiting for 1 more from <!subteam^S1>".
func approvalProgress(job aks.Job) string {
	need := max(job.ApprovalsNeeded, 1)
	var got []string
	seen := map[string]bool{}
	for _, d := range job.Approvals() {
		if !seen[d.By.ID] {
			seen[d.By.ID] = true
			got = append(got, "<@"+esc(d.By.ID)+">")
		}
	}
	// Someone who approved cannot approve again: name only who is left.
	left := job
	left.Approvers = nil
	for _, a := range job.Approvers {
		if !slices.Contains(got, a) {
			left.Approvers = append(left.Approvers, a)
		}
	}
	from := approversText(left)
	if len(got) == 0 {
		s := "Needs " + plural(need, "approval")
		if from != "" {
			s += " from " + from
		}
		return s + "."
	}
	s := fmt.Sprintf("%d of %s: %s", len(got), plural(need, "approval"), strings.Join(got, ", "))
	if left := need - len(got); left > 0 {
		s += fmt.Sprintf("; waiting for %d more", left)
		if from != "" {
			s += " from " + from
		}
	}
	return s + "."
}

// approval is the approval request with its buttons, posted in the job's thread. It is
// updated after each approval while more are needed; the buttons stay until a decision.
func approval(job aks.Job, ev aks.Event) []slack.Block {
	head := ":raising_hand: *Approval needed* for " + title(job) + "\nRequested by " + requestedBy(job)
	blocks := []slack.Block{section(head), section(target(job))}
	if p := planText(job.Plan); p != "" {
		blocks = append(blocks, section(p))
	}
	who := approvalProgress(job)
	if len(job.Approvers) == 0 && len(job.Approvals()) == 0 && ev.Kind == aks.EventCreated && ev.Message != "" {
		who = esc(ev.Message) // the engine's words name the approvers when the job does not
	}
	if !job.ExpiresAt.IsZero() {
		who += fmt.Sprintf("\n:alarm_clock: Expires at %s unless approved.", slackDate(job.ExpiresAt))
	}
	blocks = append(blocks, section(who))
	if d := decisionsText(job.Decisions); d != "" {
		blocks = append(blocks, contextLine(d))
	}
	approve := slack.NewButtonBlockElement(ActionApprove, job.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).
		WithStyle(slack.StylePrimary)
	deny := slack.NewButtonBlockElement(ActionDeny, job.ID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).
		WithStyle(slack.StyleDanger)
	return append(blocks, slack.NewActionBlock(approvalBlockID(job.ID), approve, deny))
}

// decided is the approval message once no decision is wanted any more: the buttons give way
// to who decided and when, or why nobody needs to.
func decided(job aks.Job, ev aks.Event) ([]slack.Block, string) {
	head := title(job) + "\nRequested by " + requestedBy(job)
	blocks := []slack.Block{section(head), section(target(job))}
	if p := planText(job.Plan); p != "" {
		blocks = append(blocks, section(p))
	}
	at := ev.At
	if at.IsZero() {
		at = job.UpdatedAt
	}
	outcome := decisionsText(job.Decisions)
	switch job.State {
	case aks.StateExpired:
		if at.IsZero() {
			at = job.ExpiresAt
		}
		line := fmt.Sprintf(":alarm_clock: Expired at %s, nobody approved.", at.UTC().Format("15:04 UTC"))
		if n := len(job.Approvals()); n > 0 {
			line = fmt.Sprintf(":alarm_clock: Expired at %s with %d of %s.", at.UTC().Format("15:04 UTC"), n, plural(max(job.ApprovalsNeeded, 1), "approval"))
		}
		outcome = joinLines(outcome, line)
	case aks.StateCancelled:
		by := "the bot"
		if ev.Actor.ID != "" {
			by = "<@" + esc(ev.Actor.ID) + ">"
		}
		outcome = joinLines(outcome, fmt.Sprintf(":no_entry_sign: Cancelled by %s at %s.", by, slackDate(at)))
	}
	if outcome == "" {
		outcome = fmt.Sprintf("%s %s", stateEmoji(job.State), capitalize(job.State.Words()))
	}
	blocks = append(blocks, section(outcome))
	text := fmt.Sprintf("Job %s approval: %s.", job.ID, job.State.Words())
	return blocks, truncate(text, maxText)
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}

// threadText is the fallback of a milestone message: the engine's words, which already name
// the state ("succeeded", "failed", ...).
func threadText(job aks.Job, ev aks.Event) string {
	s := ev.Message
	if s == "" {
		s = fmt.Sprintf("Job %s %s.", job.ID, job.State.Words())
	}
	if ev.Kind == aks.EventFailed && job.Error != nil && !strings.Contains(s, job.Error.Message) {
		s += fmt.Sprintf(" Error %s: %s", job.Error.Code, job.Error.Message)
		if job.Error.Hint != "" {
			s += " Hint: " + job.Error.Hint
		}
	}
	return truncate(s, maxText)
}

func milestone(job aks.Job, ev aks.Event) []slack.Block {
	msg := ev.Message
	if msg == "" {
		msg = fmt.Sprintf("Job %s %s.", job.ID, job.State.Words())
	}
	blocks := []slack.Block{section(eventEmoji(ev.Kind) + " " + msg)}
	// The engine's message usually says the error already; the section adds it when not.
	if ev.Kind == aks.EventFailed && job.Error != nil && !strings.Contains(msg, job.Error.Message) {
		blocks = append(blocks, section(errorText(job.Error)))
	}
	return blocks
}

func eventEmoji(k aks.EventKind) string {
	switch k {
	case aks.EventCreated:
		return ":inbox_tray:"
	case aks.EventApproved:
		return ":white_check_mark:"
	case aks.EventDenied:
		return ":no_entry:"
	case aks.EventCancelled:
		return ":no_entry_sign:"
	case aks.EventExpired:
		return ":alarm_clock:"
	case aks.EventStarted:
		return ":rocket:"
	case aks.EventResumed:
		return ":arrows_counterclockwise:"
	case aks.EventSucceeded:
		return ":white_check_mark:"
	case aks.EventFailed:
		return ":x:"
	case aks.EventSlow:
		return ":turtle:"
	case aks.EventAbort:
		return ":octagonal_sign:"
	}
	return ":information_source:"
}

// requestedBy names who asked for a job: the requester, or the schedule and its approvers.
func requestedBy(job aks.Job) string {
	return job.RequestedBy(func(id string) string { return "<@" + esc(id) + ">" })
}
