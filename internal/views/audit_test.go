package views

import (
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

func TestAuditTrailNewestFirstWithReasons(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	target := aks.Target{ResourceGroup: "rg-prod", Cluster: "prod-1", Pool: "np2"}
	recs := []aks.AuditRecord{
		{Seq: 1, At: at, Action: "requested", User: aks.User{ID: "U1"}, JobID: "7", Target: target, Plan: "np2: 3 -> 6 nodes", Rule: "prod"},
		{Seq: 2, At: at.Add(time.Minute), Action: aks.AuditRefused, User: aks.User{ID: "U3"}, Target: target, Detail: "rule prod allows at most 50 nodes per pool; this asks for 60"},
		{Seq: 3, At: at.Add(2 * time.Minute), Action: "started", JobID: "7", Target: target, OperationID: "op-123"},
	}
	out := AuditTrail(recs, "prod-1, last 24h")
	first, second, third := strings.Index(out, "started"), strings.Index(out, "refused"), strings.Index(out, "requested")
	if first < 0 || second < first || third < second {
		t.Fatalf("records not newest first:\n%s", out)
	}
	for _, want := range []string{"3 entries", "<@U3>", "at most 50 nodes", "Azure operation op-123", "rule prod", "· bot ·", "2026-11-27 10:01:00"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit trail lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(AuditTrail(nil, "all clusters, last 24h"), "Nothing recorded") {
		t.Error("an empty trail does not say so")
	}
}

func TestAuditTrailFitsOneMessage(t *testing.T) {
	var recs []aks.AuditRecord
	for i := range 500 {
		recs = append(recs, aks.AuditRecord{At: time.Unix(int64(i), 0), Action: "approved", User: aks.User{ID: "U1"}, Target: aks.Target{ResourceGroup: "rg", Cluster: strings.Repeat("c", 60)}, Plan: strings.Repeat("p", 80)})
	}
	out := AuditTrail(recs, "x")
	if len(out) > Limit || !strings.Contains(out, "older entries") {
		t.Errorf("trail of 500 entries is %d bytes (limit %d) or does not say entries were left out", len(out), Limit)
	}
}

func TestPendingList(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	j := aks.Job{ID: "4", State: aks.StateAwaitingApproval, NeedsApproval: true, ApprovalsNeeded: 2, CreatedAt: now.Add(-10 * time.Minute),
		ExpiresAt: now.Add(50 * time.Minute), Requester: aks.User{ID: "U1"},
		Op:        aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg", Cluster: "prod-1", Pool: "np"}},
		Decisions: []aks.Decision{{By: aks.User{ID: "U2"}, Approve: true}}}
	out := PendingList([]aks.Job{j}, now)
	for _, want := range []string{"#4 awaiting approval", "1 of 2 approvals", "expires in 50m"} {
		if !strings.Contains(out, want) {
			t.Errorf("pending list lacks %q:\n%s", want, out)
		}
	}
	if PendingList(nil, now) != "Nothing is waiting for your approval." {
		t.Error("empty pending list")
	}
}
