package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/export"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

// Scoped approvals end to end: the real bot against the fake Slack, with a policy whose prod
// rule needs two approvals from a Slack user group and whose default rule needs one approver.

const (
	sreGroup = "S0SRE"
	sre1     = "USRE0001"
	sre2     = "USRE0002"
	prod     = "prod-1"
)

// scopedPolicy: clusters prod-* need 2 approvals from the group S0SRE and stay within small
// guardrails; everything else needs one approval from approver.
const scopedPolicy = `azure:
  resourceGroup: rg-aks
  location: westeurope
policy:
  approvers: [` + approver + `]
  groupCacheTTL: 10s
  rules:
    - name: prod
      match: {clusters: ["prod-*"]}
      approvers: [` + sreGroup + `]
      approvals: 2
      guardrails:
        maxNodesPerPool: 10
        vmSizes: [Standard_DS2_v2]
jobs:
  pollInterval: 1s
  progressInterval: 10s
`

// newScopedWorld runs the bot with scopedPolicy, a prod cluster beside demo, and the SRE group
// holding two SREs and the requester (who must still never approve their own request).
func newScopedWorld(t *testing.T) *world {
	t.Helper()
	w := newWorldWithConfig(t, fastAzure(), scopedPolicy)
	w.slack.SetUserGroup(sreGroup, sre1, sre2, requester)
	if err := w.sim.Seed(context.Background(), "rg-aks", prod, "westeurope",
		sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2},
		sim.SeedPool{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1}); err != nil {
		t.Fatal(err)
	}
	return w
}

// request types a mutating command as requester and returns the new job's parent message and
// its approval message.
func (w *world) request(text string) (parent, appr slacktest.Message) {
	w.t.Helper()
	n := len(w.parents())
	w.slash(requester, text)
	parent = w.newParent(n)
	return parent, w.approval(parent)
}

// clickReply clicks and waits for the private answer to the clicker.
func (w *world) clickReply(user string, parent, msg slacktest.Message, action, jobID string) slacktest.Message {
	w.t.Helper()
	n := len(w.ephemeralsTo(user))
	w.click(user, parent, msg, action, jobID)
	return w.nextEphemeral(user, n)
}

// slashReply types a command and waits for its private answer.
func (w *world) slashReply(user, text string) slacktest.Message {
	w.t.Helper()
	return w.commandReply("/aks", user, text)
}

// commandReply types text after the slash command command ("/aks", "/eks") and waits for its
// private answer.
func (w *world) commandReply(command, user, text string) slacktest.Message {
	w.t.Helper()
	n := len(w.ephemeralsTo(user))
	w.slashCommand(command, user, text)
	return w.nextEphemeral(user, n)
}

// message returns the current state of the message at ts in the thread of parent.
func (w *world) message(parent slacktest.Message, ts string) slacktest.Message {
	w.t.Helper()
	for _, m := range w.thread(parent) {
		if m.TS == ts {
			return m
		}
	}
	w.t.Fatalf("message %s is gone from the thread: %s", ts, w.dump())
	return slacktest.Message{}
}

// milestone waits for the thread message, other than the approval message, that says word, and
// returns it with how many such messages the thread has.
func (w *world) milestone(parent, appr slacktest.Message, word string) (slacktest.Message, int) {
	w.t.Helper()
	var found []slacktest.Message
	w.waitFor("the thread to say "+word, func() bool {
		found = found[:0]
		for _, m := range w.thread(parent) {
			if m.TS != appr.TS && strings.Contains(m.Text, word) {
				found = append(found, m)
			}
		}
		return len(found) > 0
	})
	return found[len(found)-1], len(found)
}

func hasButtons(m slacktest.Message) bool {
	return bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) || bytes.Contains(m.Blocks, []byte(`"aksbot_deny"`))
}

// unchanged checks that a refused click left the thread and the approval message as they were.
func (w *world) unchanged(parent, appr slacktest.Message, threadLen int) {
	w.t.Helper()
	if th := w.thread(parent); len(th) != threadLen {
		w.t.Errorf("a refused click changed the thread (%d messages, was %d): %s", len(th), threadLen, w.dump())
	}
	if now := w.message(parent, appr.TS); now.Updates != appr.Updates || !hasButtons(now) {
		w.t.Errorf("a refused click changed the approval message: %s", now.Blocks)
	}
}

// expireWhileDown stops the bot, moves job jobID's expiry into the past in the data file, as if
// the bot had been down past it, and starts the bot again. The policy cannot say less than a
// minute, so this is how a test gets past an expiry without waiting for it.
func (w *world) expireWhileDown(jobID string) {
	w.t.Helper()
	w.stop()
	expireInDataFile(w.t, w.dbPath, jobID)
	n := w.slack.Connections()
	w.start()
	w.waitFor("the restarted bot to connect", func() bool { return w.slack.Connections() > n })
}

func expireInDataFile(t *testing.T, path, jobID string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open the data file: %v", err)
	}
	defer st.Close()
	job, err := st.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != aks.StateAwaitingApproval {
		t.Fatalf("job %s is %s, want it awaiting approval", jobID, job.State)
	}
	job.ExpiresAt = time.Now().Add(-time.Second)
	if _, err := st.UpdateJob(ctx, job, nil); err != nil {
		t.Fatal(err)
	}
}

func TestGroupApproverResolvedThroughSlack(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale " + prod + " np2 --node-count 3")

	threadLen := len(w.thread(parent))
	refusal := w.clickReply(outsider, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(refusal.Text, sreGroup) {
		t.Errorf("the outsider's refusal %q does not say the group %s approves", refusal.Text, sreGroup)
	}
	if refusal.ThreadTS != parent.TS {
		t.Errorf("the refusal went to thread %q, want the job's thread %s", refusal.ThreadTS, parent.TS)
	}
	w.unchanged(parent, appr, threadLen)
	if calls := w.slack.Calls("usergroups.users.list"); calls == 0 {
		t.Fatal("the bot never asked Slack for the group's members")
	}

	w.click(sre1, parent, appr, "aksbot_approve", "1")
	w.waitFor("the group member's approval in the thread", func() bool {
		return countContaining(w.thread(parent), "<@"+sre1+">") > 0
	})
	if len(w.ephemeralsTo(sre1)) != 0 {
		t.Errorf("the group member's approval was refused: %q", w.ephemeralsTo(sre1)[0].Text)
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("one approval of two started the job")
	}
}

func TestTwoApprovalsNeededFromDistinctApprovers(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale " + prod + " np2 --node-count 3")
	if !strings.Contains(appr.Text+string(appr.Blocks), "2 different people") {
		t.Errorf("the approval message does not say two people must approve: %s", appr.Text)
	}

	w.click(sre1, parent, appr, "aksbot_approve", "1")
	var first string
	w.waitFor("the first approval in the thread", func() bool {
		for _, m := range w.thread(parent) {
			if strings.Contains(m.Text, "1 of 2") {
				first = m.Text
				return true
			}
		}
		return false
	})
	if !strings.Contains(first, "<@"+sre1+">") {
		t.Errorf("the first approval %q does not say who approved", first)
	}
	if now := w.message(parent, appr.TS); !hasButtons(now) {
		t.Error("the buttons went away after one approval of two")
	}
	if w.sim.CountMutations("") != 0 {
		t.Fatal("the job started after one approval of two")
	}

	threadLen := len(w.thread(parent))
	again := w.clickReply(sre1, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(again.Text, "counts once") {
		t.Errorf("a second approval by the same person got %q, want it to say each approver counts once", again.Text)
	}
	// The approval message may be refreshed to show the first approval; the thread must not grow.
	if th := w.thread(parent); len(th) != threadLen || countContaining(th, "2 of 2") != 0 || !hasButtons(w.message(parent, appr.TS)) {
		t.Errorf("a repeated approval changed the job: %s", w.dump())
	}
	if w.sim.CountMutations("") != 0 {
		t.Fatal("a repeated approval started the job")
	}

	w.click(sre2, parent, appr, "aksbot_approve", "1")
	th := w.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d thread messages say succeeded, want 1: %s", n, w.dump())
	}
	if hasButtons(w.message(parent, appr.TS)) {
		t.Error("the buttons are still there after the second approval")
	}
	if n := w.sim.CountMutations("agentPools/np2"); n != 1 {
		t.Errorf("%d PUTs of np2, want 1", n)
	}
}

// The README promises that the approval message itself (the one with the buttons) shows who has
// approved so far while more approvals are needed, not only the thread below it.
func TestApprovalMessageShowsApprovalsSoFar(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale " + prod + " np2 --node-count 3")
	w.click(sre1, parent, appr, "aksbot_approve", "1")
	w.milestone(parent, appr, "1 of 2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.slack.WaitFor(ctx, func() bool {
		m := w.message(parent, appr.TS)
		return hasButtons(m) && bytes.Contains(m.Blocks, []byte(sre1))
	})
	if err != nil {
		t.Errorf("after one approval of two, the approval message does not name the approver (and keep its buttons): %s",
			w.message(parent, appr.TS).Blocks)
	}
}

func TestSelfApprovalRefusedForGroupMember(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale " + prod + " np2 --node-count 3")
	w.nextEphemeral(requester, 0) // the answer to the command
	threadLen := len(w.thread(parent))
	refusal := w.clickReply(requester, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(refusal.Text, "own request") {
		t.Errorf("self-approval by a group member got %q", refusal.Text)
	}
	w.unchanged(parent, appr, threadLen)
	if w.sim.CountMutations("") != 0 {
		t.Error("a self-approval reached Azure")
	}
}

func TestApprovalExpires(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale demo np2 --node-count 3")
	w.expireWhileDown("1")
	if _, n := w.milestone(parent, appr, "expired"); n != 1 {
		t.Errorf("%d thread messages say expired, want 1: %s", n, w.dump())
	}
	w.waitFor("the buttons to go", func() bool { return !hasButtons(w.message(parent, appr.TS)) })
	if now := w.message(parent, appr.TS); !strings.Contains(now.Text, "expired") {
		t.Errorf("the approval message does not say it expired: %q", now.Text)
	}
	w.waitFor("the status card to say expired", func() bool { return strings.Contains(w.parents()[0].Text, "expired") })

	late := w.clickReply(approver, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(late.Text, "expired") {
		t.Errorf("an approval after expiry got %q", late.Text)
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("an expired request reached Azure")
	}
}

// The running bot expires a request when its time is up, without a restart: the test moves the
// bot's clock past the policy's approval timeout.
func TestApprovalExpiresWhileTheBotRuns(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale demo np2 --node-count 3")
	w.clock.advance(2 * time.Hour)
	if _, n := w.milestone(parent, appr, "expired"); n != 1 {
		t.Errorf("%d thread messages say expired, want 1: %s", n, w.dump())
	}
	w.waitFor("the buttons to go", func() bool { return !hasButtons(w.message(parent, appr.TS)) })
	if w.sim.CountMutations("") != 0 {
		t.Error("an expired request reached Azure")
	}
}

// outsideClient is someone else's Azure client on the same subscription (a colleague's az CLI).
func (w *world) outsideClient() *azure.Client {
	w.t.Helper()
	c, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: w.sim.Credential(),
		Endpoint: w.arm.URL, Transport: w.arm.Client()})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// scaleOutside scales a pool around the bot and waits until Azure says it is done.
func (w *world) scaleOutside(cluster, pool string, count int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := w.outsideClient()
	op := aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: cluster, Pool: pool}, NodeCount: &count}
	plan, err := c.Plan(ctx, op)
	if err != nil {
		w.t.Fatalf("plan the outside scale: %v", err)
	}
	azop, err := c.Begin(ctx, op, plan, "")
	if err != nil {
		w.t.Fatalf("begin the outside scale: %v", err)
	}
	for {
		done, _, err := azop.Poll(ctx)
		if err != nil {
			w.t.Fatalf("poll the outside scale: %v", err)
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			w.t.Fatal("the outside scale did not end")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := azop.Result(ctx); err != nil {
		w.t.Fatalf("the outside scale failed: %v", err)
	}
}

func TestStalePlanIsNotRun(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale demo np2 --node-count 3")
	w.scaleOutside("demo", "np2", 2)
	w.click(approver, parent, appr, "aksbot_approve", "1")
	th := w.waitThreadEnds(parent, "failed")
	last := th[len(th)-1].Text
	for _, want := range []string{"stale", "there are 2 nodes now", "Nothing was sent to Azure", "Ask again"} {
		if !strings.Contains(last, want) {
			t.Errorf("the failure %q does not say %q", last, want)
		}
	}
	w.waitFor("the status card to say failed", func() bool { return strings.Contains(w.parents()[0].Text, "failed") })
	if n := w.sim.CountMutations(""); n != 1 {
		t.Errorf("%d mutations reached Azure, want only the outside scale", n)
	}
}

func TestDenyWithReasonThroughTheForm(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale demo np2 --node-count 3")
	w.click(approver, parent, appr, "aksbot_deny", "1")
	w.waitFor("the deny form to open", func() bool { return len(w.slack.Views()) == 1 })
	view := w.slack.Views()[0]
	if view.User != approver {
		t.Errorf("the deny form opened for %q, want %s", view.User, approver)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const reason = "release freeze until Monday"
	if _, err := w.slack.SubmitView(ctx, slacktest.Submission{ViewID: view.ID,
		Values: map[string]map[string]string{"aksbot_deny_reason": {"reason": reason}}}); err != nil {
		t.Fatalf("submit the deny form: %v", err)
	}
	denied, _ := w.milestone(parent, appr, "denied")
	last := denied.Text
	if !strings.Contains(last, reason) || !strings.Contains(last, "<@"+approver+">") {
		t.Errorf("the denial %q does not give the reason and who denied", last)
	}
	w.waitFor("the buttons to go", func() bool { return !hasButtons(w.message(parent, appr.TS)) })
	now := w.message(parent, appr.TS)
	if !strings.Contains(string(now.Blocks), reason) {
		t.Errorf("the approval message does not show the denial's reason: %s", now.Blocks)
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("a denied job reached Azure")
	}
}

func TestRequesterCancelsWhileWaiting(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale demo np2 --node-count 3")
	w.nextEphemeral(requester, 0)
	answer := w.slashReply(requester, "cancel 1")
	if !strings.Contains(answer.Text, "cancelled") {
		t.Errorf("/aks cancel answered %q", answer.Text)
	}
	if _, n := w.milestone(parent, appr, "cancelled"); n != 1 {
		t.Errorf("%d thread messages say cancelled, want 1: %s", n, w.dump())
	}
	w.waitFor("the buttons to go", func() bool { return !hasButtons(w.message(parent, appr.TS)) })

	threadLen := len(w.thread(parent))
	late := w.clickReply(approver, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(late.Text, "cancelled") || !strings.Contains(late.Text, "nothing changed") || len(late.Text) > 200 {
		t.Errorf("an approval after the cancel got %q, want a short answer saying it is cancelled", late.Text)
	}
	if len(w.thread(parent)) != threadLen {
		t.Errorf("a click after the cancel changed the thread: %s", w.dump())
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("a cancelled job reached Azure")
	}
}

func TestLateApproveAfterDenial(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)
	parent, appr := w.request("nodepool scale " + prod + " np2 --node-count 3")
	w.click(sre1, parent, appr, "aksbot_approve", "1")
	w.waitFor("the first approval", func() bool { return countContaining(w.thread(parent), "1 of 2") == 1 })
	denial := w.slashReply(sre2, "deny 1 not during the incident")
	if !strings.Contains(denial.Text, "denied") {
		t.Errorf("/aks deny answered %q", denial.Text)
	}
	w.milestone(parent, appr, "denied")
	w.waitFor("the buttons to go", func() bool { return !hasButtons(w.message(parent, appr.TS)) })
	threadLen, updates := len(w.thread(parent)), w.message(parent, appr.TS).Updates

	// Someone whose view still shows the buttons clicks Approve.
	late := w.clickReply(sre1, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(late.Text, "denied") || !strings.Contains(late.Text, "nothing changed") || len(late.Text) > 200 {
		t.Errorf("a late approval got %q, want a short answer saying it is denied", late.Text)
	}
	if len(w.thread(parent)) != threadLen || w.message(parent, appr.TS).Updates != updates {
		t.Errorf("a late approval changed the thread: %s", w.dump())
	}
	if w.sim.CountMutations("") != 0 {
		t.Error("a denied job reached Azure")
	}
}

func TestAuditTrailRecordsEveryStepAndExports(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)

	// Job 1: a refused click, an approval, the run.
	parent, appr := w.request("nodepool scale demo np2 --node-count 2")
	w.clickReply(outsider, parent, appr, "aksbot_approve", "1")
	w.click(approver, parent, appr, "aksbot_approve", "1")
	w.waitThreadEnds(parent, "succeeded")

	// A request refused by a guardrail of rule prod: no job.
	refusal := w.slashReply(requester, "nodepool scale "+prod+" np2 --node-count 20")
	if !strings.Contains(refusal.Text, "prod") || !strings.Contains(refusal.Text, "10") {
		t.Errorf("the guardrail refusal %q does not name the rule and the limit", refusal.Text)
	}
	// Job 2 denied, job 3 cancelled, job 4 expired.
	parent2, appr2 := w.request("nodepool scale demo np2 --node-count 3")
	w.slashReply(approver, "deny 2 too many nodes for now")
	w.milestone(parent2, appr2, "denied")
	parent3, appr3 := w.request("nodepool scale demo np2 --node-count 4")
	w.slashReply(requester, "cancel 3")
	w.milestone(parent3, appr3, "cancelled")
	parent4, appr4 := w.request("nodepool scale demo np2 --node-count 5")
	w.expireWhileDown("4")
	w.milestone(parent4, appr4, "expired")
	w.stop()

	ctx := context.Background()
	st, err := store.Open(w.dbPath, store.Options{})
	if err != nil {
		t.Fatalf("open the data file after the bot stopped: %v", err)
	}
	recs, err := st.Audit(ctx, store.AuditFilter{})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		action aks.AuditAction
		user   string // "" = the bot acted (no user to check)
		job    string
	}{
		{aks.AuditRequested, requester, "1"},
		{aks.AuditDecisionRefused, outsider, "1"},
		{"approved", approver, "1"},
		{"started", "", "1"},
		{"succeeded", "", "1"},
		{aks.AuditRefused, requester, ""},
		{aks.AuditRequested, requester, "2"},
		{"denied", approver, "2"},
		{aks.AuditRequested, requester, "3"},
		{"cancelled", requester, "3"},
		{aks.AuditRequested, requester, "4"},
		{"expired", "", "4"},
	} {
		var rec *aks.AuditRecord
		for i := range recs {
			if recs[i].Action == want.action && recs[i].JobID == want.job {
				rec = &recs[i]
				break
			}
		}
		if rec == nil {
			t.Errorf("no %q record for job %q in the audit log", want.action, want.job)
			continue
		}
		if want.user != "" && rec.User.ID != want.user {
			t.Errorf("%q record of job %q names user %q, want %s", want.action, want.job, rec.User.ID, want.user)
		}
		if rec.Channel != channel {
			t.Errorf("%q record of job %q names channel %q, want %s", want.action, want.job, rec.Channel, channel)
		}
		switch want.action {
		case "started":
			if rec.OperationID == "" {
				t.Errorf("the start record lacks Azure's operation ID: %+v", rec)
			}
		case aks.AuditRefused:
			if rec.Rule != "prod" || rec.Target.Cluster != prod || !strings.Contains(rec.Detail, "10") {
				t.Errorf("the refusal record does not say which rule refused what and why: %+v", rec)
			}
		case "denied":
			if !strings.Contains(rec.Detail, "too many nodes for now") {
				t.Errorf("the denial record lacks the reason: %+v", rec)
			}
		}
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Errorf("audit records out of order: seq %d after %d", recs[i].Seq, recs[i-1].Seq)
		}
	}

	var jsonl, csvOut bytes.Buffer
	if err := export.WriteAuditJSONL(&jsonl, recs); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteAuditCSV(&csvOut, recs); err != nil {
		t.Fatal(err)
	}
	fromJSONL, err := export.ReadAuditJSONL(&jsonl)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := export.ReadAuditCSV(&csvOut)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]aks.AuditRecord{"JSON Lines": fromJSONL, "CSV": fromCSV} {
		if !reflect.DeepEqual(inUTC(got), inUTC(recs)) {
			t.Errorf("the %s export does not read back as the audit log:\n got %+v\nwant %+v", name, got, recs)
		}
	}
}

// inUTC returns the records with their times in UTC, for comparing them after a round trip.
func inUTC(recs []aks.AuditRecord) []aks.AuditRecord {
	out := make([]aks.AuditRecord, len(recs))
	for i, r := range recs {
		r.At = r.At.UTC()
		out[i] = r
	}
	return out
}

func TestPolicyCommandsAnswerPrivately(t *testing.T) {
	t.Parallel()
	w := newScopedWorld(t)

	who := w.slashReply(sre1, "whoami").Text
	for _, want := range []string{"<@" + sre1 + ">", "*prod*", "approve others' requests (2 approvals each)", "cannot approve"} {
		if !strings.Contains(who, want) {
			t.Errorf("whoami of an SRE %q lacks %q", who, want)
		}
	}
	who = w.slashReply(approver, "whoami").Text
	if !strings.Contains(who, "approve others' requests (1 approval each)") {
		t.Errorf("whoami of the default approver %q does not say they approve under the default rule", who)
	}

	pol := w.slashReply(outsider, "policy "+prod).Text
	for _, want := range []string{"rule *prod*", "2 approvals", "<!subteam^" + sreGroup + ">", "at most 10 nodes per pool", "Standard_DS2_v2"} {
		if !strings.Contains(pol, want) {
			t.Errorf("/aks policy %s answered %q, lacking %q", prod, pol, want)
		}
	}

	w.request("nodepool scale " + prod + " np2 --node-count 3") // job 1: the SREs approve
	w.request("nodepool scale demo np2 --node-count 3")         // job 2: approver approves
	pending := w.slashReply(sre1, "pending").Text
	if !strings.Contains(pending, "#1 ") || strings.Contains(pending, "#2 ") || !strings.Contains(pending, "0 of 2 approvals") {
		t.Errorf("an SRE's pending list %q should hold job 1 (0 of 2 approvals) only", pending)
	}
	pending = w.slashReply(approver, "pending").Text
	if !strings.Contains(pending, "#2 ") || strings.Contains(pending, "#1 ") {
		t.Errorf("the default approver's pending list %q should hold job 2 only", pending)
	}
	for _, u := range []string{outsider, requester} { // the requester is an SRE, but both jobs are theirs
		if pending := w.slashReply(u, "pending").Text; !strings.Contains(pending, "Nothing is waiting") {
			t.Errorf("pending of %s lists %q, want nothing", u, pending)
		}
	}

	refused := w.slashReply(outsider, "audit").Text
	if !strings.Contains(strings.ToLower(refused), "only approvers can read") {
		t.Errorf("/aks audit by a non-approver answered %q", refused)
	}
	trail := w.slashReply(sre1, "audit").Text
	for _, want := range []string{"Audit trail", "requested", "job 1", "job 2"} {
		if !strings.Contains(trail, want) {
			t.Errorf("/aks audit by an approver %q lacks %q", trail, want)
		}
	}

	for _, m := range w.slack.Messages(channel) {
		for _, private := range []string{"What <@", "Policy for", "Waiting for your approval", "Audit trail"} {
			if strings.Contains(m.Text, private) {
				t.Errorf("a private answer was posted in the channel: %q", m.Text)
			}
		}
	}
}

// The console runs the same approval flow: a policy naming user IDs (the console has no Slack
// to resolve groups), two approvals for prod clusters, and expiry.
func TestConsoleTwoApprovalsAndExpiry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aksbot.yaml")
	yaml := `simulator:
  speed: 40
policy:
  approvers: [U0BOB0001, U0CAROL01]
  rules:
    - name: prod
      match: {clusters: ["prod-*"]}
      approvals: 2
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "aksbot.db")
	env := map[string]string{"AKSBOT_CONFIG": cfg, "AKSBOT_DB": dbPath, "AKSBOT_HTTP_ADDR": "off"}
	getenv := func(k string) string { return env[k] }

	script := strings.Join([]string{
		"/aks create " + prod + " --node-count 2",
		"/as U0BOB0001",
		"approve 1",
		"approve 1",
		"/as U0CAROL01",
		"approve 1",
		"/wait",
		"/as alice",
		"/aks nodepool scale " + prod + " nodepool1 --node-count 4",
	}, "\n") + "\n"
	out, code := runConsole(t, context.Background(), getenv, strings.NewReader(script))
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Needs approval from 2 different people",
		"Approved by @U0BOB0001 (1 of 2)",
		"counts once",
		"Approved by @U0BOB0001 and @U0CAROL01",
		"Job 1 succeeded",
		"nodepool1: 2 -> 4 nodes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "Job 1 succeeded") != 1 {
		t.Errorf("job 1's end printed %d times:\n%s", strings.Count(out, "Job 1 succeeded"), out)
	}

	// Job 2 waits for approvals; its time runs out while the console is closed.
	expireInDataFile(t, dbPath, "2")
	pr, pw := io.Pipe()
	defer pw.Close()
	outBuf := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), nil, getenv, pr, outBuf, outBuf) }()
	waitOutput := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(outBuf.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the console never printed %q:\n%s", what, outBuf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOutput("Job 2 expired")
	if _, err := io.WriteString(pw, "/as U0BOB0001\napprove 2\n/aks nodepool list "+prod+"\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput("nodepool1")
	pw.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d:\n%s", code, outBuf.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop at the end of its input")
	}
	out = outBuf.String()
	if !strings.Contains(out, "Job 2 is already expired; nothing changed") {
		t.Errorf("an approval after expiry was not refused:\n%s", out)
	}
	if !regexp.MustCompile(`nodepool1\s+System\s+2\s`).MatchString(out) {
		t.Errorf("the expired scale-up changed the pool:\n%s", out)
	}
}
