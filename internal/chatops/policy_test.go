package chatops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// stubPolicy approves for the users in approvers, except their own jobs.
type stubPolicy struct{ approvers map[string]bool }

func (p stubPolicy) WhoAmI(_ context.Context, u aks.User) (string, error) {
	return "you are " + u.ID, nil
}

func (p stubPolicy) Describe(_ context.Context, t aks.Target) string {
	return "policy of " + t.String()
}

func (p stubPolicy) IsApprover(_ context.Context, u aks.User) (bool, error) {
	return p.approvers[u.ID], nil
}

func (p stubPolicy) CanApprove(_ context.Context, u aks.User, j aks.Job) error {
	if !p.approvers[u.ID] || u.ID == j.Requester.ID {
		return aks.Errorf(aks.EUnauthorized, "no")
	}
	return nil
}

// stubJobs serves stored jobs and audit records.
type stubJobs struct {
	jobs  []aks.Job
	recs  []aks.AuditRecord
	asked []string
}

func (s *stubJobs) Job(_ context.Context, id string) (aks.Job, error) {
	for _, j := range s.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return aks.Job{}, jobs.ErrNotFound
}

func (s *stubJobs) Jobs(_ context.Context, f jobs.Filter) ([]aks.Job, error) {
	var out []aks.Job
	for _, j := range s.jobs {
		for _, st := range f.States {
			if j.State == st {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

func (s *stubJobs) Events(context.Context, string) ([]aks.Event, error) { return nil, nil }

func (s *stubJobs) Audit(_ context.Context, since time.Time, key string, limit int) ([]aks.AuditRecord, error) {
	s.asked = append(s.asked, fmt.Sprintf("%s %q %d", since.UTC().Format(time.RFC3339), key, limit))
	return s.recs, nil
}

func policyService(e *stubEngine, st *stubJobs) *Service {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return &Service{Engine: e, Jobs: st, Audit: st, Policy: stubPolicy{approvers: map[string]bool{"U2": true, "U3": true}},
		Defaults: Defaults{ResourceGroup: "rg-default", Location: "westeurope"}, Now: func() time.Time { return now }}
}

func TestPendingListsOnlyJobsTheUserCouldApprove(t *testing.T) {
	target := aks.Target{ResourceGroup: "rg", Cluster: "c", Pool: "np"}
	st := &stubJobs{jobs: []aks.Job{
		{ID: "1", State: aks.StateAwaitingApproval, Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpPoolScale, Target: target}},
		{ID: "2", State: aks.StateAwaitingApproval, Requester: aks.User{ID: "U2"}, Op: aks.Operation{Kind: aks.OpPoolScale, Target: target}},
		{ID: "3", State: aks.StateAwaitingApproval, Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpPoolScale, Target: target},
			Decisions: []aks.Decision{{By: aks.User{ID: "U2"}, Approve: true}}},
		{ID: "4", State: aks.StateQueued, Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpPoolScale, Target: target}},
	}}
	r := policyService(&stubEngine{}, st).Command(context.Background(), Request{User: aks.User{ID: "U2"}, Text: "pending"})
	if r.Error || !strings.Contains(r.Text, "#1 ") || strings.Contains(r.Text, "#2 ") || strings.Contains(r.Text, "#3 ") || strings.Contains(r.Text, "#4 ") {
		t.Errorf("pending for U2 (not their own #2, already approved #3, not queued #4):\n%s", r.Text)
	}
	r = policyService(&stubEngine{}, st).Command(context.Background(), Request{User: aks.User{ID: "U9"}, Text: "pending"})
	if !strings.Contains(r.Text, "Nothing is waiting") {
		t.Errorf("pending for a non-approver: %s", r.Text)
	}
}

func TestAuditIsForApproversOnly(t *testing.T) {
	st := &stubJobs{recs: []aks.AuditRecord{{At: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC), Action: "approved", User: aks.User{ID: "U2"}, JobID: "5"}}}
	s := policyService(&stubEngine{}, st)
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "audit"})
	if !r.Error || !strings.Contains(r.Text, "Only approvers") || len(st.asked) != 0 {
		t.Fatalf("audit by a non-approver: %+v (log read %v)", r, st.asked)
	}
	r = s.Command(context.Background(), Request{User: aks.User{ID: "U2"}, Text: "audit demo --since 7d"})
	if r.Error || !strings.Contains(r.Text, "job 5") || !strings.Contains(r.Text, "rg-default/demo, last 7d") {
		t.Errorf("audit by an approver: %+v", r)
	}
	if want := `2026-11-20T12:00:00Z "rg-default/demo" 200`; len(st.asked) != 1 || st.asked[0] != want {
		t.Errorf("audit log asked for %v, want %s", st.asked, want)
	}
}

func TestApproveAndDenyByCommand(t *testing.T) {
	e := &stubEngine{}
	s := policyService(e, &stubJobs{})
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U2"}, Text: "approve 7"})
	if r.Error || !strings.Contains(r.Text, "1 of the 2 approvals") {
		t.Errorf("approve: %+v", r)
	}
	r = s.Command(context.Background(), Request{User: aks.User{ID: "U3"}, Text: `deny 7 not during the freeze`})
	if r.Error || !strings.Contains(r.Text, "denied") {
		t.Errorf("deny: %+v", r)
	}
	want := `[7 approve "" by U2 7 deny "not during the freeze" by U3]`
	if fmt.Sprint(e.decided) != want {
		t.Errorf("engine got %v, want %s", e.decided, want)
	}
}

func TestWhoamiPolicyAndAbort(t *testing.T) {
	e := &stubEngine{}
	s := policyService(e, &stubJobs{})
	if r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "whoami"}); r.Text != "you are U1" {
		t.Errorf("whoami: %+v", r)
	}
	if r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "policy prod-1 -g rg-prod"}); r.Text != "policy of rg-prod/prod-1" {
		t.Errorf("policy: %+v", r)
	}
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "abort demo --nodepool-name np2"})
	if r.Error || r.JobID != "9" || len(e.aborted) != 1 || e.aborted[0] != (aks.Target{ResourceGroup: "rg-default", Cluster: "demo", Pool: "np2"}) {
		t.Errorf("abort: reply %+v, engine got %v", r, e.aborted)
	}
}

func TestCanDecide(t *testing.T) {
	st := &stubJobs{jobs: []aks.Job{
		{ID: "1", State: aks.StateAwaitingApproval, Requester: aks.User{ID: "U1"}},
		{ID: "2", State: aks.StateDenied, Requester: aks.User{ID: "U1"}},
	}}
	s := policyService(&stubEngine{}, st)
	for _, c := range []struct {
		user, job, want string
	}{
		{"U2", "1", ""},
		{"U9", "1", "No"},
		{"U1", "1", "No"}, // the requester
		{"U2", "2", "already denied"},
		{"U2", "3", "no job 3"},
	} {
		r := s.CanDecide(context.Background(), c.job, aks.User{ID: c.user})
		if (c.want == "") == r.Error || !strings.Contains(r.Text, c.want) {
			t.Errorf("CanDecide(job %s, %s) = %+v, want %q", c.job, c.user, r, c.want)
		}
	}
}
