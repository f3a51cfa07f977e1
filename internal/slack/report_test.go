package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type reporter struct {
	srv     *slacktest.Server
	bot     *Bot
	refs    *refs
	path    string // the store's data file
	st      *store.Store
	logs    *syncBuffer
	limits  outboxLimits
	metrics Metrics
	stop    func() // stops the worker and waits for it
	mu      sync.Mutex
	now     time.Time
}

// fastLimits keeps the tests quick: pacing and backoff in milliseconds.
func fastLimits() outboxLimits {
	l := defaultOutboxLimits()
	l.postInterval, l.updateInterval, l.messageInterval = time.Millisecond, time.Millisecond, time.Millisecond
	l.minBackoff, l.maxBackoff, l.callTimeout = 10*time.Millisecond, 100*time.Millisecond, 5*time.Second
	l.rescan = 50 * time.Millisecond
	return l
}

// newReporter makes a Bot that only reports (no socket) against a fake Slack, with a clock
// the test sets, an outbox in a real data file (the bbolt store), and its worker running.
func newReporter(t *testing.T, opts ...slacktest.Option) *reporter {
	t.Helper()
	srv := slacktest.NewServer(append([]slacktest.Option{slacktest.WithBotToken(testBotToken)}, opts...)...)
	t.Cleanup(srv.Close)
	r := &reporter{srv: srv, refs: newRefs(), now: t0, path: filepath.Join(t.TempDir(), "aksbot.db"), limits: fastLimits()}
	r.open(t)
	r.start(t)
	t.Cleanup(func() { r.close(t) })
	return r
}

// open opens the data file and builds a new Bot on it, as a restarted process would.
func (r *reporter) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(r.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log, buf := logger(t)
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: r.srv.APIURL(), Logger: log, Outbox: st, Metrics: r.metrics}, &handler{}, r.refs)
	if err != nil {
		t.Fatal(err)
	}
	bot.out.limits = r.limits
	bot.now = func() time.Time {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.now
	}
	r.st, r.bot, r.logs = st, bot, buf
}

// start runs the outbox worker until stop or the end of the test.
func (r *reporter) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	bot := r.bot
	go func() { done <- bot.RunOutbox(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunOutbox: %v", err)
		}
	}
}

// close stops the worker, if it runs, and closes the data file.
func (r *reporter) close(t *testing.T) {
	t.Helper()
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	if r.st != nil {
		if err := r.st.Close(); err != nil {
			t.Error(err)
		}
		r.st = nil
	}
}

// restart closes the bot and its file and opens both again, with the worker running.
func (r *reporter) restart(t *testing.T) {
	t.Helper()
	r.close(t)
	r.open(t)
	r.start(t)
}

func (r *reporter) flush(t *testing.T) {
	t.Helper()
	if err := r.bot.Flush(testCtx(t)); err != nil {
		n, _ := r.bot.OutboxDepth(context.Background())
		t.Fatalf("Flush: %v (outbox depth %d)", err, n)
	}
}

func (r *reporter) setNow(t time.Time) {
	r.mu.Lock()
	r.now = t
	r.mu.Unlock()
}

func (r *reporter) report(t *testing.T, job aks.Job, ev aks.Event) {
	t.Helper()
	if err := r.bot.Report(testCtx(t), job, ev); err != nil {
		t.Fatalf("Report(%s): %v", ev.Kind, err)
	}
	r.flush(t)
}

// topLevel returns the channel's messages that are not thread replies.
func (r *reporter) topLevel(channel string) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range r.srv.Messages(channel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// parent returns the one top-level message of the channel.
func (r *reporter) parent(t *testing.T, channel string) slacktest.Message {
	t.Helper()
	top := r.topLevel(channel)
	if len(top) != 1 {
		t.Fatalf("top-level messages in %s = %d, want exactly 1 (the status card): %+v", channel, len(top), top)
	}
	return top[0]
}

func scaleJob() aks.Job {
	n := 3
	return aks.Job{
		ID:    "12",
		State: aks.StateAwaitingApproval,
		Op: aks.Operation{Kind: aks.OpPoolScale, NodeCount: &n,
			Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2"}},
		Plan: aks.Plan{Summary: "np2: 1 -> 3 nodes", Changes: []aks.Change{{What: "np2 nodes", From: "1", To: "3"}},
			ScaleUp: true, FromNodes: 1, ToNodes: 3, VMSize: "Standard_D4s_v5"},
		Requester:     aks.User{ID: "U1", Name: "ann"},
		Channel:       "C1",
		CreatedAt:     t0,
		NeedsApproval: true,
	}
}

// blockTexts returns every "text" string inside a message's blocks, in order, one a line.
func blockTexts(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for k, e := range x {
				if k != "text" || !isString(e) {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

func isString(v any) bool { _, ok := v.(string); return ok }

type button struct {
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
	Style    string `json:"style"`
}

type actionsBlock struct {
	Type     string   `json:"type"`
	BlockID  string   `json:"block_id"`
	Elements []button `json:"elements"`
}

func actionBlocks(t *testing.T, raw json.RawMessage) []actionsBlock {
	t.Helper()
	var blocks []actionsBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	var out []actionsBlock
	for _, b := range blocks {
		if b.Type == "actions" {
			out = append(out, b)
		}
	}
	return out
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

func TestReportLifecycle(t *testing.T) {
	r := newReporter(t)
	job := scaleJob()

	// Created, awaiting approval: the card, and the approval request in its thread.
	created := aks.Event{JobID: job.ID, Seq: 1, At: t0, Kind: aks.EventCreated, Actor: job.Requester,
		To: aks.StateAwaitingApproval, Message: "Needs approval from <@U2> or <@U3>."}
	r.report(t, job, created)
	parent := r.parent(t, "C1")
	wantContains(t, "card text", parent.Text, "Job 12", "awaiting approval")
	wantContains(t, "card blocks", blockTexts(t, parent.Blocks), "*Job 12* · scale pool np2 of rg-aks/demo to 3 nodes",
		"<@U1>", "np2: 1 -&gt; 3 nodes", "np2 nodes: 1 -&gt; 3", ":hourglass_flowing_sand: *Awaiting approval*", "waiting for an approver")
	thread := r.srv.Thread("C1", parent.TS)
	if len(thread) != 1 {
		t.Fatalf("thread = %+v, want the approval request", thread)
	}
	appr := thread[0]
	wantContains(t, "approval text", appr.Text, "awaiting approval", "Needs approval from <@U2> or <@U3>.")
	acts := actionBlocks(t, appr.Blocks)
	if len(acts) != 1 || acts[0].BlockID != "aksbot_approval_12" || len(acts[0].Elements) != 2 {
		t.Fatalf("approval actions = %+v", acts)
	}
	wantButtons := []button{{ActionApprove, "12", "primary"}, {ActionDeny, "12", "danger"}}
	for i, b := range acts[0].Elements {
		if b != wantButtons[i] {
			t.Errorf("button %d = %+v, want %+v", i, b, wantButtons[i])
		}
	}
	if refs, _ := r.refs.Refs(context.Background(), job.ID); refs[refParent] != parent.TS || refs[refApproval] != appr.TS {
		t.Errorf("refs = %v, want parent %s and approval %s", refs, parent.TS, appr.TS)
	}

	// The engine reports the created event again (say, after a crash): nothing new is posted.
	posts := r.srv.Calls("chat.postMessage")
	r.report(t, job, created)
	if n := r.srv.Calls("chat.postMessage"); n != posts {
		t.Errorf("retried created report posted %d more messages", n-posts)
	}

	// Approved: the buttons give way to the decision.
	job.State = aks.StateQueued
	job.Decisions = []aks.Decision{{By: aks.User{ID: "U2", Name: "bob"}, At: t0.Add(time.Minute), Approve: true}}
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 2, At: t0.Add(time.Minute), Kind: aks.EventApproved,
		Actor: aks.User{ID: "U2"}, From: aks.StateAwaitingApproval, To: aks.StateQueued, Message: "Approved by <@U2>; queued."})
	appr = r.srv.Thread("C1", parent.TS)[0]
	if acts := actionBlocks(t, appr.Blocks); len(acts) != 0 {
		t.Errorf("approval message still has buttons after the decision: %+v", acts)
	}
	wantContains(t, "closed approval", blockTexts(t, appr.Blocks), "Approved by <@U2> at <!date^")
	if appr.Updates != 1 {
		t.Errorf("approval message updates = %d, want 1", appr.Updates)
	}

	// Started, progress, succeeded.
	job.State, job.Sent, job.StartedAt, job.ProvisioningState = aks.StateRunning, true, t0.Add(2*time.Minute), "Updating"
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 3, At: job.StartedAt, Kind: aks.EventStarted,
		From: aks.StateQueued, To: aks.StateRunning, Message: "Started: Azure accepted the change."})
	threadLen := len(r.srv.Thread("C1", parent.TS))
	r.setNow(t0.Add(4*time.Minute + 5*time.Second))
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 4, At: r.bot.now(), Kind: aks.EventProgress, Message: "Updating"})
	if n := len(r.srv.Thread("C1", parent.TS)); n != threadLen {
		t.Errorf("progress posted in the thread (%d -> %d messages); it must only update the card", threadLen, n)
	}
	card := blockTexts(t, r.parent(t, "C1").Blocks)
	wantContains(t, "running card", card, ":arrows_counterclockwise: *Running*", "Azure: Updating", "started <!date^", "waiting for Azure")

	job.State, job.ProvisioningState, job.FinishedAt = aks.StateSucceeded, "Succeeded", t0.Add(6*time.Minute)
	succeeded := aks.Event{JobID: job.ID, Seq: 5, At: job.FinishedAt, Kind: aks.EventSucceeded,
		From: aks.StateRunning, To: aks.StateSucceeded, Message: "Job 12 succeeded: np2 has 3 nodes."}
	r.report(t, job, succeeded)
	r.report(t, job, succeeded) // a retry must not repeat the message

	final := r.parent(t, "C1")
	if final.TS != parent.TS {
		t.Fatalf("status card changed identity: %s -> %s", parent.TS, final.TS)
	}
	wantContains(t, "final card", blockTexts(t, final.Blocks), ":white_check_mark: *Succeeded*", "took 4m0s", "*Next:* done")
	if strings.Contains(blockTexts(t, final.Blocks), "replica") {
		t.Errorf("the card of a one-process bot names a replica:\n%s", blockTexts(t, final.Blocks))
	}

	// With several replicas the card says which one runs (or ran) the job.
	job.Replica = "aksbot-2"
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 6, At: job.FinishedAt, Kind: aks.EventProgress, Message: "refresh"})
	wantContains(t, "final card of a replica", blockTexts(t, r.parent(t, "C1").Blocks), "took 4m0s · on replica aksbot-2")
	wantContains(t, "final card text", final.Text, "succeeded")
	if final.Updates < 3 {
		t.Errorf("card updates = %d, want one per change of the card after creation", final.Updates)
	}
	var texts []string
	for _, m := range r.srv.Thread("C1", parent.TS) {
		texts = append(texts, m.Text)
	}
	if len(texts) != 4 {
		t.Fatalf("thread = %q, want approval, approved, started, succeeded", texts)
	}
	wantContains(t, "approved message", texts[1], "Approved by <@U2>")
	wantContains(t, "started message", texts[2], "Started")
	wantContains(t, "final message", texts[3], "succeeded")
	if all := r.srv.Messages("C1"); len(all) != 5 {
		t.Errorf("messages in channel = %d, want 5 (card + 4 in thread)", len(all))
	}
}

func TestReportDeniedAndExpired(t *testing.T) {
	cases := []struct {
		state   aks.JobState
		kind    aks.EventKind
		actor   aks.User
		ds      []aks.Decision
		message string
		closed  string
		emoji   string
	}{
		{aks.StateDenied, aks.EventDenied, aks.User{ID: "U3"}, []aks.Decision{{By: aks.User{ID: "U3"}, At: t0.Add(time.Minute)}},
			"Job 12 denied by <@U3>.", "Denied by <@U3>", ":no_entry: *Denied*"},
		{aks.StateExpired, aks.EventExpired, aks.User{}, nil,
			"Job 12 expired: nobody approved it within 24h.", "Expired at 10:01 UTC, nobody approved.", ":alarm_clock: *Expired*"},
		{aks.StateCancelled, aks.EventCancelled, aks.User{ID: "U1"}, nil,
			"Job 12 cancelled by <@U1>.", "Cancelled by <@U1>", ":no_entry_sign: *Cancelled*"},
	}
	for _, c := range cases {
		t.Run(string(c.state), func(t *testing.T) {
			r := newReporter(t)
			job := scaleJob()
			r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "Needs approval from <@U3>."})
			job.State, job.Decisions = c.state, c.ds
			r.report(t, job, aks.Event{JobID: job.ID, Seq: 2, At: t0.Add(time.Minute), Kind: c.kind, Actor: c.actor, To: c.state, Message: c.message})

			parent := r.parent(t, "C1")
			thread := r.srv.Thread("C1", parent.TS)
			if len(thread) != 2 {
				t.Fatalf("thread = %+v, want approval and the final message", thread)
			}
			if acts := actionBlocks(t, thread[0].Blocks); len(acts) != 0 {
				t.Errorf("buttons left on a %s job: %+v", c.state, acts)
			}
			wantContains(t, "closed approval", blockTexts(t, thread[0].Blocks), c.closed)
			wantContains(t, "final message", thread[1].Text, string(c.state))
			wantContains(t, "card", blockTexts(t, parent.Blocks), c.emoji, "*Next:* done")
		})
	}
}

func TestReportFailedShowsError(t *testing.T) {
	r := newReporter(t)
	job := scaleJob()
	job.State, job.NeedsApproval = aks.StateQueued, false
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "Job 12 created."})
	job.State, job.StartedAt, job.FinishedAt, job.ProvisioningState = aks.StateFailed, t0, t0.Add(90*time.Second), "Failed"
	job.Error = &aks.JobError{Code: "QuotaExceeded", Message: "exceeds approved standardDSv5Family Cores quota <limit 10>",
		Hint: "Ask for more quota, or scale to fewer nodes."}
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 2, Kind: aks.EventFailed, To: aks.StateFailed, Message: "Job 12 failed."})

	parent := r.parent(t, "C1")
	thread := r.srv.Thread("C1", parent.TS)
	if len(thread) != 2 {
		t.Fatalf("thread = %+v, want queued and failed messages", thread)
	}
	wantContains(t, "queued message", thread[0].Text, "queued")
	failed := thread[1]
	wantContains(t, "failed text", failed.Text, "failed", "QuotaExceeded", "quota <limit 10>", "Ask for more quota")
	// Azure's words are escaped in mrkdwn so that "<...>" cannot form a link or mention.
	wantContains(t, "failed blocks", blockTexts(t, failed.Blocks), "`QuotaExceeded`", "quota &lt;limit 10&gt;", "*Hint:* Ask for more quota")
	wantContains(t, "card", blockTexts(t, parent.Blocks), ":x: *Failed*", "Azure: Failed", "took 1m30s", "QuotaExceeded")
	if refs, _ := r.refs.Refs(context.Background(), job.ID); refs[refApproval] != "" {
		t.Errorf("a job without approval got an approval reference: %v", refs)
	}
}

func TestReportConcurrentRetriesPostOneParent(t *testing.T) {
	r := newReporter(t)
	job := scaleJob()
	ev := aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "Needs approval from <@U2>."}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- r.bot.Report(testCtx(t), job, ev) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.flush(t)
	parent := r.parent(t, "C1")
	if n := len(r.srv.Thread("C1", parent.TS)); n != 1 {
		t.Errorf("approval requests = %d, want 1", n)
	}
}

func TestReportWithoutCardPostsOne(t *testing.T) {
	// The created report was never delivered; a later event still gets a card and a thread.
	r := newReporter(t)
	job := scaleJob()
	job.State, job.StartedAt = aks.StateRunning, t0
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 3, Kind: aks.EventResumed, Message: "Resumed after a restart."})
	parent := r.parent(t, "C1")
	thread := r.srv.Thread("C1", parent.TS)
	if len(thread) != 1 || !strings.Contains(thread[0].Text, "Resumed") {
		t.Errorf("thread = %+v, want the resumed message", thread)
	}
	if parent.Updates != 0 {
		t.Errorf("a card posted in this report was updated %d times", parent.Updates)
	}
}

func TestReportRetriesRateLimitedPost(t *testing.T) {
	t.Parallel()
	r := newReporter(t)
	job := scaleJob()
	job.State = aks.StateQueued
	r.srv.RateLimit("chat.postMessage", 1, time.Second)
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: "Job 12 queued."})
	parent := r.parent(t, "C1")
	if n := len(r.srv.Thread("C1", parent.TS)); n != 1 {
		t.Errorf("thread messages = %d, want 1", n)
	}
	// One refused call, then the card and the thread message.
	if n := r.srv.Calls("chat.postMessage"); n != 3 {
		t.Errorf("chat.postMessage calls = %d, want 3", n)
	}
}

func TestReportKeepsWithinSlackLimits(t *testing.T) {
	r := newReporter(t)
	job := scaleJob()
	job.Plan.Summary = strings.Repeat("very long summary ", 400)
	for i := range 500 {
		job.Plan.Changes = append(job.Plan.Changes, aks.Change{What: "label " + strings.Repeat("k", 50), From: "", To: strings.Repeat("v", i%100)})
	}
	job.Op.Target.Cluster = strings.Repeat("c", 63)
	// The fake refuses texts over 3,000 characters and messages over 50 blocks, as Slack does.
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, Kind: aks.EventCreated, Message: strings.Repeat("Needs approval. ", 400)})
	parent := r.parent(t, "C1")
	wantContains(t, "card", blockTexts(t, parent.Blocks), fmt.Sprintf("… and %d more", len(job.Plan.Changes)-maxChanges))
	if len([]rune(parent.Text)) > maxText {
		t.Errorf("card text has %d characters", len([]rune(parent.Text)))
	}
}

func TestReportDifferentJobsInParallel(t *testing.T) {
	r := newReporter(t)
	var wg sync.WaitGroup
	for _, id := range []string{"1", "2", "3", "4"} {
		wg.Go(func() {
			job := scaleJob()
			job.ID, job.State = id, aks.StateQueued
			if err := r.bot.Report(testCtx(t), job, aks.Event{JobID: id, Seq: 1, Kind: aks.EventCreated}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r.flush(t)
	if n := len(r.topLevel("C1")); n != 4 {
		t.Errorf("cards = %d, want one per job", n)
	}
}

// A progress refresh that changes nothing on the card (only the time moved) costs no Slack call;
// one where Azure's state changed updates the card.
func TestUnchangedCardIsNotSentAgain(t *testing.T) {
	r := newReporter(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r.setNow(t0)
	job := scaleJob()
	job.State, job.Sent, job.StartedAt, job.ProvisioningState = aks.StateRunning, true, t0, "Scaling"
	r.report(t, job, aks.Event{JobID: job.ID, Seq: 1, At: t0, Kind: aks.EventStarted, To: aks.StateRunning, Message: "Started."})
	r.flush(t)
	updates := r.srv.Calls("chat.update")
	for i := 1; i <= 5; i++ {
		r.setNow(t0.Add(time.Duration(i) * time.Minute))
		r.report(t, job, aks.Event{JobID: job.ID, At: r.bot.now(), Kind: aks.EventProgress, Message: "Azure: Scaling"})
		r.flush(t)
	}
	if n := r.srv.Calls("chat.update") - updates; n != 0 {
		t.Errorf("%d chat.update calls for progress that changed nothing on the card", n)
	}
	job.ProvisioningState = "Upgrading"
	r.report(t, job, aks.Event{JobID: job.ID, At: r.bot.now(), Kind: aks.EventProgress, Message: "Azure: Upgrading"})
	r.flush(t)
	if n := r.srv.Calls("chat.update") - updates; n != 1 {
		t.Errorf("%d chat.update calls after Azure's state changed, want 1", n)
	}
	wantContains(t, "card", blockTexts(t, r.parent(t, job.Channel).Blocks), "Azure: Upgrading")
}
