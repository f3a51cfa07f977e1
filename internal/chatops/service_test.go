package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// stubEngine records submissions and answers with what the test sets.
type stubEngine struct {
	submitted []jobs.SubmitRequest
	dryRuns   []jobs.SubmitRequest
	decided   []string // "id approve|deny reason by user"
	aborted   []aks.Target
	err       error
	panics    bool
}

func (e *stubEngine) Submit(_ context.Context, req jobs.SubmitRequest) (aks.Job, error) {
	if e.panics {
		panic("boom")
	}
	e.submitted = append(e.submitted, req)
	if e.err != nil {
		return aks.Job{}, e.err
	}
	return aks.Job{ID: "7", State: aks.StateAwaitingApproval}, nil
}

func (e *stubEngine) DryRun(_ context.Context, req jobs.SubmitRequest) (aks.Job, aks.Event, error) {
	e.dryRuns = append(e.dryRuns, req)
	if e.err != nil {
		return aks.Job{}, aks.Event{}, e.err
	}
	return aks.Job{Op: req.Op, State: aks.StateAwaitingApproval, NeedsApproval: true, ApprovalsNeeded: 1, Approvers: []string{"<@U2>"}, Rule: "prod",
		Plan: aks.Plan{Summary: "np2: 1 -> 3 nodes", Cost: &aks.Cost{Currency: "USD", BeforeLow: 140, BeforeHigh: 140, AfterLow: 420, AfterHigh: 420}}}, aks.Event{}, nil
}

func (e *stubEngine) Decide(_ context.Context, id string, user aks.User, approve bool, reason string) (aks.Job, error) {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	e.decided = append(e.decided, fmt.Sprintf("%s %s %q by %s", id, verb, reason, user.ID))
	if e.err != nil {
		return aks.Job{}, e.err
	}
	job := aks.Job{ID: id, State: aks.StateQueued, NeedsApproval: true, ApprovalsNeeded: 2,
		Decisions: []aks.Decision{{By: user, Approve: approve}}}
	if approve {
		job.State = aks.StateAwaitingApproval
	} else {
		job.State = aks.StateDenied
	}
	return job, nil
}

func (e *stubEngine) Abort(_ context.Context, t aks.Target, _ aks.User) (aks.Job, error) {
	e.aborted = append(e.aborted, t)
	return aks.Job{ID: "9", State: aks.StateRunning}, e.err
}

func (e *stubEngine) Cancel(context.Context, string, aks.User) (aks.Job, error) {
	return aks.Job{}, e.err
}

func service(e *stubEngine) *Service {
	return &Service{Engine: e, Defaults: Defaults{ResourceGroup: "rg-default", Location: "northeurope"}}
}

func TestMutatingCommandGetsDefaultsAndMakesAJob(t *testing.T) {
	e := &stubEngine{}
	r := service(e).Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1", Text: "create demo --node-count 2"})
	if r.Error || r.JobID != "7" || !strings.Contains(r.Text, "waiting for approval") {
		t.Fatalf("reply %+v", r)
	}
	if len(e.submitted) != 1 {
		t.Fatalf("%d submissions", len(e.submitted))
	}
	op := e.submitted[0].Op
	if op.Target.ResourceGroup != "rg-default" || op.Location != "northeurope" || e.submitted[0].Channel != "C1" {
		t.Errorf("defaults not applied: %+v", op)
	}
}

func TestErrorsBecomeRepliesWithoutInternals(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		err      error
		want     string
		mustNot  string
		panicked bool
	}{
		{name: "usage", text: "nodepool scale demo", want: "Usage: /aks nodepool scale"},
		{name: "app error with hint", text: "scale demo --node-count 3",
			err: &aks.Error{Code: aks.EInvalid, Message: "pool np2 is autoscaled", Hint: "use nodepool update"}, want: "Pool np2 is autoscaled. Use nodepool update."},
		{name: "azure error", text: "scale demo --node-count 3",
			err: fmt.Errorf("plan: %w", &aks.AzureError{StatusCode: 403, Code: "AuthorizationFailed", Message: "no access"}), want: "Azure said AuthorizationFailed: no access"},
		{name: "internal error", text: "scale demo --node-count 3",
			err: errors.New("dial tcp 10.0.0.1: secret-looking detail"), want: "Something went wrong", mustNot: "10.0.0.1"},
		{name: "panic", text: "scale demo --node-count 3", panicked: true, want: "Something went wrong inside the bot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := service(&stubEngine{err: c.err, panics: c.panicked}).Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: c.text})
			if !r.Error || !strings.Contains(r.Text, c.want) {
				t.Errorf("reply %+v, want an error containing %q", r, c.want)
			}
			if c.mustNot != "" && strings.Contains(r.Text, c.mustNot) {
				t.Errorf("reply leaks %q: %s", c.mustNot, r.Text)
			}
		})
	}
}

func TestRefusedClickAnswersTheClicker(t *testing.T) {
	s := service(&stubEngine{err: aks.Errorf(aks.EUnauthorized, "you cannot approve your own request")})
	r := s.Decide(context.Background(), "7", aks.User{ID: "U1"}, true, "")
	if !r.Error || !strings.Contains(r.Text, "own request") {
		t.Errorf("reply %+v", r)
	}
	if r := service(&stubEngine{}).Decide(context.Background(), "7", aks.User{ID: "U2"}, true, ""); r.Error || r.Text != "" {
		t.Errorf("an accepted click answered %+v; the thread says it", r)
	}
}

func TestDryRunSubmitsNothing(t *testing.T) {
	e := &stubEngine{}
	s := &Service{Engine: e, Defaults: Defaults{ResourceGroup: "rg-aks"}}
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1", Text: "nodepool scale demo np2 --node-count 3 --dry-run"})
	if r.Error || r.JobID != "" || len(e.submitted) != 0 || len(e.dryRuns) != 1 {
		t.Fatalf("reply %+v, submitted %d, dry runs %d", r, len(e.submitted), len(e.dryRuns))
	}
	for _, want := range []string{"Dry run", "nothing was stored", "np2: 1 -&gt; 3 nodes", "Cost: $140 -&gt; $420/month (+$280/month", "Rule* prod", "1 approval from <@U2>"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("dry run reply lacks %q:\n%s", want, r.Text)
		}
	}
	e.err = &aks.Error{Code: aks.EInvalid, Message: "over the vCPU quota"}
	r = s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1", Text: "nodepool scale demo np2 --node-count 3 --dry-run"})
	if !r.Error || !strings.Contains(r.Text, "Dry run: this request would be refused: over the vCPU quota") {
		t.Fatalf("refused dry run: %+v", r)
	}
}
