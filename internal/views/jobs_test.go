package views

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// scaleJob is the job of the JobLine example: pool np2 of rg-aks/demo from 1 to 3 nodes.
func scaleJob(id string, state aks.JobState, created time.Time) aks.Job {
	return aks.Job{
		ID:    id,
		State: state,
		Op: aks.Operation{
			Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2"},
			NodeCount: intp(3),
		},
		Plan:      aks.Plan{Summary: "np2: 1 -> 3 nodes", FromNodes: 1, ToNodes: 3},
		Requester: aks.User{ID: "U1"},
		CreatedAt: created,
		UpdatedAt: created,
	}
}

func TestStateWords(t *testing.T) {
	running := scaleJob("1", aks.StateRunning, now)
	runningAzure := running
	runningAzure.ProvisioningState = "Scaling"
	failedNoErr := scaleJob("2", aks.StateFailed, now)
	weird := running
	weird.ProvisioningState = "<Odd>"
	tests := []struct {
		job  aks.Job
		want string
	}{
		{scaleJob("1", aks.StateAwaitingApproval, now), "awaiting approval"},
		{scaleJob("1", aks.StateQueued, now), "queued"},
		{running, "running"},
		{runningAzure, "running (Azure: Scaling)"},
		{failedJob(), "failed: QuotaExceeded"},
		{failedNoErr, "failed"},
		{scaleJob("1", aks.StateSucceeded, now), "succeeded"},
		{scaleJob("1", aks.StateCancelled, now), "cancelled"},
		{weird, "running (Azure: &lt;Odd&gt;)"},
	}
	for _, tt := range tests {
		if got := StateWords(tt.job); got != tt.want {
			t.Errorf("StateWords(%s, azure %q) = %q, want %q", tt.job.State, tt.job.ProvisioningState, got, tt.want)
		}
	}
}

func TestJobLine(t *testing.T) {
	j := scaleJob("7", aks.StateRunning, now.Add(-3*time.Minute-20*time.Second))
	diff(t, JobLine(j, now), "#7 running · nodepool.scale rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U1> · 3m ago")
}

func TestJobLineResolvedPoolAndNoSummary(t *testing.T) {
	// `/aks scale demo --node-count 3` names no pool; the plan found the only one.
	j := scaleJob("12", aks.StateQueued, now.Add(-5*time.Second))
	j.Op.Target.Pool = ""
	j.Plan.Pool = "nodepool1"
	j.Plan.Summary = "nodepool1: 1 -> 3 nodes"
	diff(t, JobLine(j, now), "#12 queued · nodepool.scale rg-aks/demo/nodepool1 · nodepool1: 1 -> 3 nodes · <@U1> · just now")

	// A cluster operation has no pool even if a plan field were set; an empty summary is left out.
	stop := aks.Job{
		ID: "3", State: aks.StateSucceeded, CreatedAt: now.Add(-2 * time.Hour),
		Op:        aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg-lab", Cluster: "old-lab"}},
		Plan:      aks.Plan{Pool: "nodepool1"},
		Requester: aks.User{Name: "console-user"},
	}
	diff(t, JobLine(stop, now), "#3 succeeded · cluster.stop rg-lab/old-lab · console-user · 2h ago")
}

func TestJobList(t *testing.T) {
	older := failedJob() // #7, 12m ago
	newer := scaleJob("9", aks.StateAwaitingApproval, now.Add(-time.Minute))
	newer.Requester = aks.User{ID: "U03CAROL"}
	same := scaleJob("10", aks.StateRunning, now.Add(-time.Minute)) // same time as #9: higher ID first
	same.ProvisioningState = "Scaling"
	js := []aks.Job{older, newer, same} // as the store returns them, oldest first

	want := "*Jobs* (3, newest first)\n" +
		"• #10 running (Azure: Scaling) · nodepool.scale rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U1> · 1m ago\n" +
		"• #9 awaiting approval · nodepool.scale rg-aks/demo/np2 · np2: 1 -> 3 nodes · <@U03CAROL> · 1m ago\n" +
		"• #7 failed: QuotaExceeded · nodepool.scale rg-aks/demo/np2 · np2: 4 -> 30 nodes · <@U01ALICE> · 12m ago\n" +
		"Details: `/aks job ID`"
	diff(t, JobList(js, now, true), want)

	active := JobList(js, now, false)
	if !strings.HasPrefix(active, "*Active jobs* (2, newest first)\n") {
		t.Errorf("active list title wrong:\n%s", active)
	}
	if strings.Contains(active, "#7 ") {
		t.Errorf("active list shows the failed job #7:\n%s", active)
	}
}

func TestJobListEmpty(t *testing.T) {
	diff(t, JobList(nil, now, true), "No jobs yet. Commands that change a cluster, such as `/aks nodepool scale`, make one.")
	// Only finished jobs, and the active ones were asked for.
	diff(t, JobList([]aks.Job{failedJob()}, now, false), "No active jobs. `/aks jobs --all` shows finished ones too.")
}

func TestJobListTruncated(t *testing.T) {
	var js []aks.Job
	for i := 1; i <= 300; i++ {
		j := scaleJob(fmt.Sprint(i), aks.StateQueued, now.Add(-time.Duration(301-i)*time.Minute))
		j.Op.Target.Cluster = "a-cluster-with-a-long-name-for-this-test"
		js = append(js, j)
	}
	got := JobList(js, now, true)
	checkMessage(t, got)
	shown := strings.Count(got, "\n• #")
	if n := moreCount(t, got); shown+n != 300 {
		t.Errorf("%d shown + %d left out, want 300", shown, n)
	}
	if !strings.Contains(got, "\n• #300 queued") {
		t.Errorf("the newest job #300 is not shown")
	}
	if strings.Contains(got, "\n• #1 queued") {
		t.Errorf("the oldest job #1 is shown although the list is cut")
	}
	if !strings.HasSuffix(got, "Details: `/aks job ID`") {
		t.Errorf("footer lost when truncating")
	}
}

func TestJobDetailFailed(t *testing.T) {
	got := JobDetail(failedJob(), failedJobEvents(), now)
	want := "*Job #7* · failed: QuotaExceeded\n" +
		"Operation: scale pool np2 of rg-aks/demo to 30 nodes (`nodepool.scale`)\n" +
		"Plan: np2: 4 -> 30 nodes\n" +
		"  • np2 nodes: 4 -> 30\n" +
		"Requested by <@U01ALICE> at 2026-05-04 10:18:00 UTC (12m ago)\n" +
		"Approval:\n" +
		"  • approved by <@U02BOB> at 2026-05-04 10:20:00 UTC: \"for the &lt;!channel&gt; load test &amp; more\"\n" +
		"Azure: provisioning state Failed · started 2026-05-04 10:20:05 UTC · took 4m 12s\n" +
		"Finished at 2026-05-04 10:24:17 UTC (5m ago)\n" +
		"Error: *QuotaExceeded*: Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Current Limit: 100, Current Usage: 40, Additional Required: 208.\n" +
		"Hint: Ask for a quota increase for standardDSv5Family in westeurope, or scale to fewer nodes.\n" +
		"\n" +
		"*Events* (5, times in UTC)\n" +
		"• 2026-05-04 10:18:00 · created · <@U01ALICE> · <@U01ALICE> asked to scale pool np2 of rg-aks/demo to 30 nodes; waiting for approval\n" +
		"• 2026-05-04 10:20:00 · approved · <@U02BOB> · approved by <@U02BOB>\n" +
		"• 2026-05-04 10:20:05 · started · bot · Azure accepted the request\n" +
		"• 2026-05-04 10:22:05 · progress · bot · Azure: Scaling (2m 0s)\n" +
		"• 2026-05-04 10:24:17 · failed · bot · failed: QuotaExceeded"
	diff(t, got, want)
	checkMessage(t, got)
}

func TestJobDetailNamesTheReplica(t *testing.T) {
	j := failedJob()
	j.Replica = "aksbot-7d9f-x2"
	if got := JobDetail(j, nil, now); !strings.Contains(got, "took 4m 12s · ran on replica aksbot-7d9f-x2\n") {
		t.Errorf("a finished job does not say which replica ran it:\n%s", got)
	}
	j.State, j.FinishedAt = aks.StateRunning, time.Time{}
	if got := JobDetail(j, nil, now); !strings.Contains(got, "· runs on replica aksbot-7d9f-x2\n") {
		t.Errorf("a running job does not say which replica runs it:\n%s", got)
	}
}

func TestJobDetailEventsInSeqOrder(t *testing.T) {
	evs := failedJobEvents()
	evs[0], evs[4] = evs[4], evs[0]
	got := JobDetail(failedJob(), evs, now)
	if strings.Index(got, "· created ·") > strings.Index(got, "· failed · bot") {
		t.Errorf("events not in sequence order:\n%s", got)
	}
}

func TestJobDetailAwaitingApproval(t *testing.T) {
	j := scaleJob("11", aks.StateAwaitingApproval, now.Add(-90*time.Second))
	j.NeedsApproval = true
	got := JobDetail(j, nil, now)
	want := "*Job #11* · awaiting approval\n" +
		"Operation: scale pool np2 of rg-aks/demo to 3 nodes (`nodepool.scale`)\n" +
		"Plan: np2: 1 -> 3 nodes\n" +
		"Requested by <@U1> at 2026-05-04 10:28:30 UTC (1m ago)\n" +
		"Approval: waiting for an approver\n" +
		"Azure: not started yet"
	diff(t, got, want)
}

func TestJobDetailRunningAndCancelled(t *testing.T) {
	run := scaleJob("12", aks.StateRunning, now.Add(-10*time.Minute))
	run.Sent = true
	run.StartedAt = now.Add(-4*time.Minute - 12*time.Second)
	run.ProvisioningState = "Scaling"
	got := JobDetail(run, nil, now)
	for _, want := range []string{
		"*Job #12* · running (Azure: Scaling)\n",
		"Approval: not needed\n",
		"Azure: provisioning state Scaling · started 2026-05-04 10:25:48 UTC · running for 4m 12s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("running job view lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Finished") || strings.Contains(got, "Error") {
		t.Errorf("running job shows a finish or an error:\n%s", got)
	}

	// Sent but not yet accepted: Azure may have the request, the view must not say otherwise.
	sending := scaleJob("14", aks.StateRunning, now.Add(-time.Minute))
	sending.Sent = true
	if got := JobDetail(sending, nil, now); !strings.Contains(got, "Azure: request sent\n") && !strings.HasSuffix(got, "Azure: request sent") {
		t.Errorf("sent job does not say the request was sent:\n%s", got)
	}

	cancelled := scaleJob("13", aks.StateCancelled, now.Add(-time.Hour))
	cancelled.NeedsApproval = true
	if got := JobDetail(cancelled, nil, now); !strings.Contains(got, "Approval: needed, none given\n") || !strings.HasSuffix(got, "Azure: nothing was sent") {
		t.Errorf("cancelled job view:\n%s", got)
	}
}

func TestJobDetailHugeErrorAndManyEvents(t *testing.T) {
	j := failedJob()
	j.Error.Message = strings.Repeat("The operation failed because of a very long reason. ", 200)
	evs := failedJobEvents()[:3]
	start := j.StartedAt
	for i := 0; i < 500; i++ {
		evs = append(evs, aks.Event{
			JobID: "7", Seq: int64(4 + i), At: start.Add(time.Duration(i+1) * 30 * time.Second),
			Kind: aks.EventProgress, Message: fmt.Sprintf("Azure: Scaling (%s)", Elapsed(time.Duration(i+1)*30*time.Second)),
		})
	}
	last := aks.Event{JobID: "7", Seq: 504, At: start.Add(5 * time.Hour), Kind: aks.EventFailed, Message: "failed: QuotaExceeded"}
	evs = append(evs, last)

	got := JobDetail(j, evs, now)
	checkMessage(t, got)
	if !strings.Contains(got, "*Events* (504, times in UTC)") {
		t.Errorf("events title does not give the full count")
	}
	if !strings.Contains(got, "Additional") && !strings.Contains(got, "long reason") {
		t.Errorf("error message missing")
	}
	if !strings.Contains(got, "· created ·") || !strings.Contains(got, "· approved ·") {
		t.Errorf("first events (creation, approval) not kept:\n%s", got)
	}
	if !strings.HasSuffix(got, "• "+timestamp(last.At)+" · failed · bot · failed: QuotaExceeded") {
		t.Errorf("the latest event is not last:\n%s", got[len(got)-200:])
	}
	shown := strings.Count(got, "· progress ·")
	var omitted int
	if _, err := fmt.Sscanf(got[strings.Index(got, "• … ")+len("• … "):], "%d events left out", &omitted); err != nil {
		t.Fatalf("no gap line: %v\n%s", err, got)
	}
	if shown+omitted != 500 {
		t.Errorf("%d progress events shown + %d left out, want 500", shown, omitted)
	}
	if shown < 5 {
		t.Errorf("only %d recent events kept", shown)
	}
}

func TestJobDetailManyChanges(t *testing.T) {
	// A cluster upgrade lists the control plane and every pool.
	j := scaleJob("20", aks.StateQueued, now.Add(-time.Minute))
	j.Op = aks.Operation{Kind: aks.OpClusterUpgrade, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "big"}, KubernetesVersion: "1.30.4"}
	j.Plan = aks.Plan{Summary: "Kubernetes 1.29.7 -> 1.30.4 (control plane and 100 pools)"}
	for i := 0; i < 100; i++ {
		j.Plan.Changes = append(j.Plan.Changes, aks.Change{What: fmt.Sprintf("pool%03d version", i), From: "1.29.7", To: "1.30.4"})
	}
	got := JobDetail(j, failedJobEvents(), now)
	checkMessage(t, got)
	shown := strings.Count(got, " version: 1.29.7 -> 1.30.4")
	var omitted int
	if _, err := fmt.Sscanf(got[strings.Index(got, "  • … and ")+len("  • … and "):], "%d more changes", &omitted); err != nil {
		t.Fatalf("no \"more changes\" line: %v\n%s", err, got)
	}
	if shown+omitted != 100 || shown == 0 {
		t.Errorf("%d changes shown + %d left out, want 100", shown, omitted)
	}
	// The sections after the plan are still there.
	for _, want := range []string{"Approval: not needed", "Azure: not started yet", "*Events* (5, times in UTC)", "· failed · bot · failed: QuotaExceeded"} {
		if !strings.Contains(got, want) {
			t.Errorf("view lacks %q after a long plan", want)
		}
	}
}

func TestJobListShowsQueuePositions(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	job := func(id string, state aks.JobState, cluster string) aks.Job {
		return aks.Job{ID: id, State: state, CreatedAt: now.Add(-time.Minute), Requester: aks.User{ID: "U1"},
			Op: aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: cluster, Pool: "np"}}}
	}
	js := []aks.Job{
		job("5", aks.StateRunning, "demo"),
		job("9", aks.StateQueued, "demo"),
		job("10", aks.StateQueued, "demo"),
		job("11", aks.StateQueued, "other"),
		job("12", aks.StateAwaitingApproval, "demo"),
	}
	out := JobList(js, now, false)
	for _, want := range []string{
		"#9 queued, next on demo after #5 ·",
		"#10 queued, 2nd in line on demo, behind #9 ·",
		"#11 queued, next on other ·",
		"#12 awaiting approval ·",
		"#5 running ·",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("job list lacks %q:\n%s", want, out)
		}
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 102: "102nd", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestJobDetailShowsApprovalProgress(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	j := aks.Job{ID: "3", State: aks.StateAwaitingApproval, NeedsApproval: true, ApprovalsNeeded: 2,
		Approvers: []string{"<!subteam^S0SRE>"}, Rule: "prod", ExpiresAt: now.Add(time.Hour), CreatedAt: now,
		Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: "prod-1", Pool: "np"}},
		Decisions: []aks.Decision{{By: aks.User{ID: "U2"}, At: now, Approve: true}}}
	out := JobDetail(j, nil, now)
	if !strings.Contains(out, "Approval: 1 of 2 from <!subteam^S0SRE> (rule prod), expires 2026-11-27 13:00:00 UTC") {
		t.Errorf("detail lacks the approval progress:\n%s", out)
	}
}
