package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// milestones are the stored events of a job that runs and succeeds, in order; each posts one
// thread message whose text starts with "m<seq>".
func milestones(job aks.Job) []aks.Event {
	kinds := []aks.EventKind{aks.EventCreated, aks.EventStarted, aks.EventSlow, aks.EventResumed, aks.EventAbort, aks.EventSucceeded}
	var out []aks.Event
	for i, k := range kinds {
		seq := int64(i + 1)
		out = append(out, aks.Event{JobID: job.ID, Seq: seq, At: t0.Add(time.Duration(seq) * time.Minute), Kind: k,
			Message: fmt.Sprintf("m%d %s of job %s.", seq, k, job.ID)})
	}
	return out
}

func queuedJob(id, channel string) aks.Job {
	job := scaleJob()
	job.ID, job.Channel, job.State, job.NeedsApproval = id, channel, aks.StateQueued, false
	return job
}

// reportAll reports the events of job in order, with a progress report after each, without
// waiting for delivery.
func (r *reporter) reportAll(t *testing.T, job aks.Job, evs []aks.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := r.bot.Report(testCtx(t), job, ev); err != nil {
			t.Errorf("Report(job %s, %s): %v", job.ID, ev.Kind, err)
			return
		}
		if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: job.ID, Kind: aks.EventProgress, Message: "progress"}); err != nil {
			t.Errorf("Report(job %s, progress): %v", job.ID, err)
			return
		}
	}
}

// checkJobThread checks that the job has exactly one card in channel and that its thread holds
// each milestone exactly once, in order.
func (r *reporter) checkJobThread(t *testing.T, job aks.Job, evs []aks.Event) {
	t.Helper()
	var card *slacktest.Message
	for _, m := range r.topLevel(job.Channel) {
		if strings.Contains(m.Text, "Job "+job.ID+" ") {
			if card != nil {
				t.Fatalf("job %s has two cards: %s and %s", job.ID, card.TS, m.TS)
			}
			card = &m
		}
	}
	if card == nil {
		t.Fatalf("job %s has no card in %s", job.ID, job.Channel)
	}
	var got, want []string
	for _, m := range r.srv.Thread(job.Channel, card.TS) {
		got = append(got, strings.Fields(m.Text)[0])
	}
	for _, ev := range evs {
		want = append(want, fmt.Sprintf("m%d", ev.Seq))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("thread of job %s = %v, want %v", job.ID, got, want)
	}
}

func TestOutboxKeepsThreadOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	var jobs []aks.Job
	for i := range 6 {
		jobs = append(jobs, queuedJob(fmt.Sprint(100+i), fmt.Sprintf("C%d", i%2)))
	}
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Go(func() { r.reportAll(t, job, milestones(job)) })
	}
	wg.Wait()
	r.flush(t)
	for _, job := range jobs {
		r.checkJobThread(t, job, milestones(job))
	}
}

func TestOutboxSurvivesOutage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		start func(*slacktest.Server)
		end   func(*slacktest.Server)
	}{
		{"5xx", func(s *slacktest.Server) { s.SetOutage(slacktest.Outage5xx) }, func(s *slacktest.Server) { s.SetOutage(slacktest.OutageNone) }},
		{"network", func(s *slacktest.Server) { s.SetOutage(slacktest.OutageDrop) }, func(s *slacktest.Server) { s.SetOutage(slacktest.OutageNone) }},
		{"rate limited", func(s *slacktest.Server) {
			s.RateLimit("chat.postMessage", 2, time.Second)
			s.RateLimit("chat.update", 1, time.Second)
		}, func(*slacktest.Server) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newReporter(t)
			c.start(r.srv)
			jobs := []aks.Job{queuedJob("1", "C1"), queuedJob("2", "C1")}
			for _, job := range jobs {
				r.reportAll(t, job, milestones(job))
			}
			// Slack keeps failing for a while; nothing is lost meanwhile. (After a post without
			// an answer, the worker looks for it before it posts again.)
			failed := func() bool {
				return len(r.srv.CallLog("chat.postMessage"))+len(r.srv.CallLog("conversations.history")) >= 6
			}
			if err := r.srv.WaitFor(testCtx(t), failed); err != nil {
				t.Fatal(err)
			}
			if n := len(r.srv.Messages("C1")); c.name != "rate limited" && n != 0 {
				t.Fatalf("%d messages posted during the outage", n)
			}
			if n, err := r.bot.OutboxDepth(testCtx(t)); err != nil || n == 0 {
				t.Fatalf("outbox depth during the outage = %d, %v; want some", n, err)
			}
			c.end(r.srv)
			r.flush(t)
			for _, job := range jobs {
				r.checkJobThread(t, job, milestones(job))
			}
			// Every card shows the last state reported: progress after the success.
			for _, m := range r.topLevel("C1") {
				wantContains(t, "card", m.Text, "queued")
			}
		})
	}
}

func TestOutboxHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	m := &recordingMetrics{}
	r.close(t)
	r.metrics = m
	r.open(t)
	r.start(t)
	r.srv.RateLimit("chat.postMessage", 1, time.Second)
	job := queuedJob("7", "C1")
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "m1 queued."})

	calls := r.srv.CallLog("chat.postMessage")
	if len(calls) != 3 || calls[0].Status != 429 {
		t.Fatalf("chat.postMessage calls = %+v, want a 429 and then the card and the queued message", calls)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Errorf("posted again %v after a 429 with Retry-After: 1", gap)
	}
	if n := r.srv.Calls("conversations.history"); n != 0 {
		t.Errorf("%d history lookups after a 429: Slack said it did not post, so there is nothing to look for", n)
	}
	if got := m.calls("chat.postMessage"); !slices.Equal(got, []string{ResultRateLimited, ResultOK, ResultOK}) {
		t.Errorf("metrics saw chat.postMessage results %v, want a rate limit and two successes", got)
	}
	if d := m.lastDepth(); d != 0 {
		t.Errorf("last outbox depth reported = %d, want 0", d)
	}
}

func TestOutboxCoalescesCardUpdates(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	job := queuedJob("8", "C1")
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "m1 queued."})
	job.State, job.StartedAt = aks.StateRunning, t0
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 2, Kind: aks.EventStarted, Message: "m2 started."})
	before := r.srv.Calls("chat.update")

	r.srv.RateLimit("chat.update", 1, 2*time.Second)
	for i := 1; i <= 20; i++ {
		job.ProvisioningState = fmt.Sprintf("Step%02d", i)
		if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: job.ID, Kind: aks.EventProgress}); err != nil {
			t.Fatal(err)
		}
	}
	r.flush(t)
	if n := r.srv.Calls("chat.update") - before; n > 6 {
		t.Errorf("20 progress reports made %d chat.update calls; they should coalesce", n)
	}
	wantContains(t, "card", blockTexts(t, r.parent(t, "C1").Blocks), "Azure: Step20")
}

func TestOutboxDeliversAfterRestart(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	r.stop() // the worker is down: Report still stores
	r.stop = nil
	job := queuedJob("9", "C1")
	r.reportAll(t, job, milestones(job))
	if n := len(r.srv.Messages("C1")); n != 0 {
		t.Fatalf("%d messages posted without a worker", n)
	}
	if n, err := r.bot.OutboxDepth(testCtx(t)); err != nil || n == 0 {
		t.Fatalf("outbox depth = %d, %v; want some", n, err)
	}

	r.restart(t)
	if err := r.bot.Report(testCtx(t), job, milestones(job)[5]); err != nil { // the engine repeats the final report
		t.Fatal(err)
	}
	r.flush(t)
	r.checkJobThread(t, job, milestones(job))
	if refs, _ := r.refs.Refs(context.Background(), job.ID); refs[refParent] == "" || refs["event.6"] == "" {
		t.Errorf("references not copied to the RefStore: %v", refs)
	}
}

// The process dies after Slack accepted a post and before its ts was stored: after the
// restart the worker finds the message by its metadata instead of posting it again.
func TestOutboxLostAnswerIsNotPostedTwice(t *testing.T) {
	t.Parallel()
	for _, which := range []string{"card", "thread reply"} {
		t.Run(which, func(t *testing.T) {
			t.Parallel()
			r := newReporter(t)
			r.close(t)
			r.limits.minBackoff, r.limits.maxBackoff = time.Hour, time.Hour // no retry before the "crash"
			r.open(t)
			r.start(t)
			job := queuedJob("5", "C1")
			evs := milestones(job)[:2]
			lost, lookup := 0, "conversations.history" // the card's answer is lost
			if which == "thread reply" {
				r.report(t, job, evs[0])
				lost, lookup = 1, "conversations.replies"
			}
			posts := len(r.srv.CallLog("chat.postMessage"))
			r.srv.LoseAnswers("chat.postMessage", 1)
			if err := r.bot.Report(testCtx(t), job, evs[lost]); err != nil {
				t.Fatal(err)
			}
			if err := r.srv.WaitFor(testCtx(t), func() bool { return len(r.srv.CallLog("chat.postMessage")) > posts }); err != nil {
				t.Fatal(err)
			}
			if n, want := len(r.srv.Messages("C1")), 1+2*lost; n != want {
				t.Fatalf("messages after the lost answer = %d, want %d", n, want)
			}
			// The "crash": the worker stops with the post accepted by Slack and unrecorded.
			r.restart(t)
			if lost == 0 {
				if err := r.bot.Report(testCtx(t), job, evs[1]); err != nil {
					t.Fatal(err)
				}
			}
			r.flush(t)

			r.checkJobThread(t, job, evs)
			if n := r.srv.Calls(lookup); n == 0 {
				t.Errorf("no %s call: the worker did not look for the lost post", lookup)
			}
			wantContains(t, "logs", r.logs.String(), "not posting it again")
		})
	}
}

func TestOutboxBurstStaysUnderChannelLimit(t *testing.T) {
	t.Parallel()
	const every = 5 * time.Millisecond
	r := newReporter(t, slacktest.WithChannelPostInterval(every))
	r.close(t)
	r.limits.postInterval = every
	r.open(t)
	r.start(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			job := queuedJob(fmt.Sprint(200+i), "C1")
			if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "m1 queued."}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r.flush(t)
	if n := len(r.srv.Messages("C1")); n != 100 {
		t.Errorf("messages = %d, want 100 (a card and a queued message per job)", n)
	}
	if n := r.srv.Throttled("chat.postMessage"); n != 0 {
		t.Errorf("%d posts were rate limited", n)
	}
}

func TestOutboxDropsWhatSlackRefuses(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	r.srv.RefuseChannel("CGONE", "channel_not_found")
	gone, ok := queuedJob("30", "CGONE"), queuedJob("31", "C1")
	r.reportAll(t, gone, milestones(gone)[:2])
	r.reportAll(t, ok, milestones(ok)[:2])
	r.flush(t)
	r.checkJobThread(t, ok, milestones(ok)[:2])
	if n := r.srv.Calls("chat.postMessage"); n != 1+3 {
		t.Errorf("chat.postMessage calls = %d, want one refused card and three posts of job 31", n)
	}
	wantContains(t, "logs", r.logs.String(), "slack message dropped", `"job":"30"`, "channel_not_found")
}

func TestApprovalStatesPlanAndProgress(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	job := scaleJob()
	job.Plan.Subscription = "sub-1234"
	job.Approvers = []string{"<@U2>", "<!subteam^S1>"}
	job.ApprovalsNeeded = 2
	job.ExpiresAt = t0.Add(time.Hour)
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, At: t0, Kind: aks.EventCreated})
	parent := r.parent(t, "C1")
	appr := r.srv.Thread("C1", parent.TS)[0]
	wantContains(t, "approval", blockTexts(t, appr.Blocks), "*Subscription:* sub-1234", "*Resource group:* rg-aks",
		"*Cluster:* demo", "*Pool:* np2", "*Operation:* scale pool np2 of rg-aks/demo to 3 nodes",
		"np2 nodes: 1 -&gt; 3", "*VM size:* Standard_D4s_v5", "Needs 2 approvals from <@U2> or <!subteam^S1>.",
		fmt.Sprintf("Expires at <!date^%d^", job.ExpiresAt.Unix()))

	// One of two approvals: the buttons stay and the message says who approved.
	job.Decisions = []aks.Decision{{By: aks.User{ID: "U2"}, At: t0.Add(time.Minute), Approve: true}}
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 2, At: t0.Add(time.Minute), Kind: aks.EventApproved, Message: "m2 approved by <@U2>."})
	appr = r.srv.Thread("C1", parent.TS)[0]
	if acts := actionBlocks(t, appr.Blocks); len(acts) != 1 {
		t.Errorf("buttons gone while an approval is still needed: %+v", acts)
	}
	wantContains(t, "approval after one", blockTexts(t, appr.Blocks), "1 of 2 approvals: <@U2>; waiting for 1 more from <!subteam^S1>.")

	// Nobody else approves in time.
	job.State = aks.StateExpired
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 3, At: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), Kind: aks.EventExpired, Message: "m3 expired."})
	appr = r.srv.Thread("C1", parent.TS)[0]
	if acts := actionBlocks(t, appr.Blocks); len(acts) != 0 {
		t.Errorf("buttons left on an expired job: %+v", acts)
	}
	wantContains(t, "expired approval", blockTexts(t, appr.Blocks), "Expired at 11:00 UTC with 1 of 2 approvals.", "*Subscription:* sub-1234")
}

func TestSlowAndAbortPostedOnce(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	job := queuedJob("40", "C1")
	evs := milestones(job)
	for _, ev := range evs {
		r.report(t, job, ev)
		r.report(t, job, ev) // the engine may repeat a report after a crash
	}
	r.checkJobThread(t, job, evs)
	thread := r.srv.Thread("C1", r.parent(t, "C1").TS)
	wantContains(t, "slow", blockTexts(t, thread[2].Blocks), ":turtle:")
	wantContains(t, "abort", blockTexts(t, thread[4].Blocks), ":octagonal_sign:")
}

// recordingMetrics records what the outbox tells Metrics.
type recordingMetrics struct {
	noMetrics
	mu     sync.Mutex
	called map[string][]string // method -> results
	depths []int
}

func (m *recordingMetrics) SlackCall(method, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.called == nil {
		m.called = map[string][]string{}
	}
	m.called[method] = append(m.called[method], result)
}

func (m *recordingMetrics) OutboxDepth(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.depths = append(m.depths, n)
}

func (m *recordingMetrics) calls(method string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.called[method])
}

func (m *recordingMetrics) lastDepth() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.depths) == 0 {
		return -1
	}
	return m.depths[len(m.depths)-1]
}

// The depth the outbox publishes follows its queue as entries are added, replaced (coalesced)
// and delivered.
func TestOutboxDepthFollowsTheQueue(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	m := &recordingMetrics{}
	r.close(t)
	r.metrics = m
	r.open(t)
	r.start(t)
	stored := func() int {
		n, err := r.st.OutboxLen(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.srv.SetOutage(slacktest.Outage5xx)
	job := queuedJob("9", "C1")
	if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "queued."}); err != nil {
		t.Fatal(err)
	}
	job.State, job.StartedAt = aks.StateRunning, t0
	for i := range 5 {
		job.ProvisioningState = fmt.Sprintf("Step%d", i)
		if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: job.ID, Kind: aks.EventProgress}); err != nil {
			t.Fatal(err)
		}
		want := stored()
		if got, err := r.bot.OutboxDepth(testCtx(t)); err != nil || got != want {
			t.Fatalf("after progress %d OutboxDepth = %d, %v; the queue holds %d", i, got, err, want)
		}
		if got := m.lastDepth(); got != want {
			t.Fatalf("after progress %d the gauge says %d entries, the queue holds %d", i, got, want)
		}
	}
	r.srv.SetOutage(slacktest.OutageNone)
	r.flush(t)
	if got, want := m.lastDepth(), stored(); got != 0 || want != 0 {
		t.Errorf("after delivery: gauge %d, queue %d; want both 0", got, want)
	}
}
