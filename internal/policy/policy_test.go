package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

var (
	alice          = aks.User{ID: "U0ALICE", Name: "alice"}  // approver
	bob            = aks.User{ID: "U0BOB", Name: "bob"}      // approver and requester
	carol          = aks.User{ID: "U0CAROL", Name: "carol"}  // requester
	mallory        = aks.User{ID: "W0MALLORY", Name: "mall"} // neither
	nobody         = aks.User{Name: "no ID"}                 // transport could not identify
	target         = aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np2"}
	ops            = opsOfEveryKind()
	bFalse         = false
	bTrue          = true
	restrictedFile = config.PolicyFile{
		Approvers:  []string{"U0ALICE", "U0BOB", "U0ALICE"},
		Requesters: []string{"U0BOB", "U0CAROL"},
		Channels:   []string{"C0OPS", "G0PRIV"},
	}
)

func opsOfEveryKind() []aks.Operation {
	var out []aks.Operation
	for _, k := range aks.OpKinds {
		out = append(out, aks.Operation{Kind: k, Target: target})
	}
	return out
}

func intp(n int) *int { return &n }

func mustNew(t *testing.T, f config.PolicyFile) *Policy {
	t.Helper()
	p, err := New(f, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func wantUnauthorized(t *testing.T, err error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("allowed, want refused")
	}
	var e *aks.Error
	if !errors.As(err, &e) || e.Code != aks.EUnauthorized {
		t.Fatalf("error %v (%T) is not an *aks.Error with code %s", err, err, aks.EUnauthorized)
	}
	text := e.Message + " | " + e.Hint
	for _, c := range contains {
		if !strings.Contains(text, c) {
			t.Errorf("%q does not contain %q", text, c)
		}
	}
}

func TestCanRequest(t *testing.T) {
	open := mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE"}})
	restricted := mustNew(t, restrictedFile)
	tests := []struct {
		name    string
		p       *Policy
		user    aks.User
		channel string
		want    []string // nil = allowed; else substrings of the refusal
	}{
		{"open: anyone anywhere", open, mallory, "C0RANDOM", nil},
		{"open: approver", open, alice, "D0DM", nil},
		{"open: unknown user", open, nobody, "C0OPS", []string{"not known"}},
		{"restricted: requester in allowed channel", restricted, carol, "C0OPS", nil},
		{"restricted: requester in second channel", restricted, bob, "G0PRIV", nil},
		{"restricted: approver who is not a requester", restricted, alice, "C0OPS", []string{"not allowed to request", "policy.requesters"}},
		{"restricted: stranger", restricted, mallory, "C0OPS", []string{"not allowed to request"}},
		{"restricted: requester in other channel", restricted, carol, "C0RANDOM", []string{"cannot be requested in this channel", "<#C0OPS> or <#G0PRIV>"}},
		{"restricted: empty channel", restricted, carol, "", []string{"<#C0OPS>"}},
		{"restricted: unknown user", restricted, nobody, "C0OPS", []string{"not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The rules do not depend on the operation: every kind gets the same answer.
			for _, op := range ops {
				err := tt.p.CanRequest(context.Background(), tt.user, tt.channel, op)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("%s refused: %v", op.Kind, err)
					}
					continue
				}
				wantUnauthorized(t, err, tt.want...)
			}
		})
	}
}

func TestCanRequestChannelListSingle(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Channels: []string{"C0OPS"}})
	err := p.CanRequest(context.Background(), carol, "C0DEV", ops[0])
	wantUnauthorized(t, err, "use <#C0OPS>")
	if strings.Contains(err.Error(), " or ") {
		t.Errorf("one channel listed as a choice: %v", err)
	}
}

func TestCanApprove(t *testing.T) {
	restricted := mustNew(t, restrictedFile)
	soloApprover := mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE"}})
	none := mustNew(t, config.PolicyFile{RequireApproval: &bFalse})
	jobBy := func(u aks.User) aks.Job {
		return aks.Job{ID: "7", Op: ops[0], Requester: u, State: aks.StateAwaitingApproval, NeedsApproval: true}
	}
	tests := []struct {
		name     string
		p        *Policy
		approver aks.User
		job      aks.Job
		want     []string // nil = allowed
	}{
		{"approver approves another's request", restricted, alice, jobBy(carol), nil},
		{"second approver", restricted, bob, jobBy(carol), nil},
		{"approver approves a fellow approver's request", restricted, alice, jobBy(bob), nil},
		{"own request, other approvers exist", restricted, bob, jobBy(bob), []string{"you cannot approve your own request", "ask <@U0ALICE>"}},
		{"own request, only approver", soloApprover, alice, jobBy(alice), []string{"you cannot approve your own request", "no other approver"}},
		{"requester who is not an approver", restricted, carol, jobBy(carol), []string{"you cannot approve your own request"}},
		{"non-approver", restricted, mallory, jobBy(carol), []string{"only <@U0ALICE> or <@U0BOB> can approve"}},
		{"requester listed but not approver", restricted, carol, jobBy(bob), []string{"only <@U0ALICE> or <@U0BOB>"}},
		{"unknown user", restricted, nobody, jobBy(carol), []string{"not known"}},
		{"unknown user on a job with no requester ID", restricted, nobody, jobBy(nobody), []string{"not known"}},
		{"no approvers configured", none, alice, jobBy(carol), []string{"nobody can approve", "policy.approvers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CanApprove(context.Background(), tt.approver, tt.job)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantUnauthorized(t, err, tt.want...)
		})
	}
}

// Whatever the policy, user and operation, nobody approves their own request.
func TestNobodyApprovesOwnRequest(t *testing.T) {
	policies := []*Policy{mustNew(t, restrictedFile), Demo("U0ALICE"), mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE", "U0BOB"}, RequireApproval: &bTrue})}
	for _, p := range policies {
		for _, u := range []aks.User{alice, bob, carol, mallory} {
			for _, op := range ops {
				err := p.CanApprove(context.Background(), u, aks.Job{Op: op, Requester: u})
				wantUnauthorized(t, err, "your own request")
			}
		}
	}
}

func TestNeedsApproval(t *testing.T) {
	on := mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE"}})
	off := mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE"}, RequireApproval: &bFalse})
	op := func(k aks.OpKind) aks.Operation { return aks.Operation{Kind: k, Target: target} }
	scale := func(from, to int) (aks.Operation, aks.Plan) {
		o := op(aks.OpPoolScale)
		o.NodeCount = intp(to)
		return o, aks.Plan{FromNodes: from, ToNodes: to, ScaleUp: to > from}
	}
	addPool := func(count *int, as *aks.Autoscaler, to int) (aks.Operation, aks.Plan) {
		o := op(aks.OpPoolAdd)
		o.NodeCount, o.Autoscaler = count, as
		return o, aks.Plan{FromNodes: 0, ToNodes: to, ScaleUp: to > 0}
	}
	tests := []struct {
		name string
		op   aks.Operation
		plan aks.Plan
		want bool
	}{
		{"cluster create", op(aks.OpClusterCreate), aks.Plan{ToNodes: 3, ScaleUp: true}, true},
		{"cluster delete", op(aks.OpClusterDelete), aks.Plan{FromNodes: 3, ToNodes: 0}, true},
		{"cluster upgrade", op(aks.OpClusterUpgrade), aks.Plan{FromNodes: -1, ToNodes: -1}, true},
		{"nodepool delete", op(aks.OpPoolDelete), aks.Plan{FromNodes: 2}, true},
		{"nodepool upgrade", op(aks.OpPoolUpgrade), aks.Plan{FromNodes: -1, ToNodes: -1}, true},
		{"cluster start", op(aks.OpClusterStart), aks.Plan{FromNodes: -1, ToNodes: -1}, false},
		{"cluster stop", op(aks.OpClusterStop), aks.Plan{FromNodes: -1, ToNodes: -1}, false},
		{"unknown kind fails closed", op("nodepool.teleport"), aks.Plan{}, true},
	}
	for _, c := range []struct {
		name     string
		from, to int
		want     bool
	}{{"scale up", 1, 3, true}, {"scale down", 3, 1, false}, {"scale to zero", 2, 0, false}, {"scale to same", 2, 2, false}, {"scale from zero", 0, 1, true}} {
		o, p := scale(c.from, c.to)
		tests = append(tests, struct {
			name string
			op   aks.Operation
			plan aks.Plan
			want bool
		}{c.name, o, p, c.want})
	}
	more := []struct {
		name string
		op   aks.Operation
		plan aks.Plan
		want bool
	}{
		{"scale with unknown current count fails closed", func() aks.Operation { o, _ := scale(0, 2); return o }(), aks.Plan{FromNodes: -1, ToNodes: 2}, true},
		{"scale up the planner did not flag", func() aks.Operation { o, _ := scale(0, 5); return o }(), aks.Plan{FromNodes: 1, ToNodes: 5}, true},
		{"autoscaler max raised", aks.Operation{Kind: aks.OpPoolAutoscale, Target: target, Autoscaler: &aks.Autoscaler{Min: 1, Max: 10}}, aks.Plan{FromNodes: 2, ToNodes: 2, ScaleUp: true}, true},
		{"autoscaler max lowered", aks.Operation{Kind: aks.OpPoolAutoscale, Target: target, Autoscaler: &aks.Autoscaler{Min: 1, Max: 3}}, aks.Plan{FromNodes: 2, ToNodes: 2}, false},
		{"autoscaler disabled", aks.Operation{Kind: aks.OpPoolAutoscale, Target: target, DisableAutoscaler: true}, aks.Plan{FromNodes: 2, ToNodes: 2}, false},
	}
	tests = append(tests, more...)
	for _, c := range []struct {
		name  string
		count *int
		as    *aks.Autoscaler
		to    int
		want  bool
	}{
		{"add pool with nodes", intp(3), nil, 3, true},
		{"add empty pool", intp(0), nil, 0, false},
		{"add pool that may autoscale up", intp(0), &aks.Autoscaler{Min: 0, Max: 5}, 0, true},
		{"add pool with default count", nil, nil, 3, true},
	} {
		o, p := addPool(c.count, c.as, c.to)
		tests = append(tests, struct {
			name string
			op   aks.Operation
			plan aks.Plan
			want bool
		}{c.name, o, p, c.want})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := on.NeedsApproval(tt.op, tt.plan); got != tt.want {
				t.Errorf("NeedsApproval = %v, want %v", got, tt.want)
			}
			if off.NeedsApproval(tt.op, tt.plan) {
				t.Error("approvals are off, yet NeedsApproval is true")
			}
		})
	}
}

// Every plan that says it adds capacity needs approval, whatever the kind, except the kinds the
// rules exempt by name (start, stop, disabling the autoscaler).
func TestScaleUpPlansNeedApproval(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0ALICE"}})
	exempt := []aks.OpKind{aks.OpClusterStart, aks.OpClusterStop}
	for _, op := range ops {
		got := p.NeedsApproval(op, aks.Plan{FromNodes: 1, ToNodes: 4, ScaleUp: true})
		if want := !slices.Contains(exempt, op.Kind); got != want {
			t.Errorf("%s with a scale-up plan: NeedsApproval = %v, want %v", op.Kind, got, want)
		}
	}
}

func TestApprovers(t *testing.T) {
	p := mustNew(t, restrictedFile)
	for _, op := range ops {
		got := p.Approvers(op)
		if strings.Join(got, " ") != "<@U0ALICE> <@U0BOB>" {
			t.Fatalf("Approvers(%s) = %v, want alice then bob, each once", op.Kind, got)
		}
	}
	if got := mustNew(t, config.PolicyFile{}).Approvers(ops[0]); len(got) != 0 {
		t.Fatalf("no approvers configured, got %v", got)
	}
}

func isApprover(t *testing.T, p *Policy, id string) bool {
	t.Helper()
	ok, err := p.IsApprover(context.Background(), aks.User{ID: id})
	if err != nil {
		t.Fatalf("IsApprover(%q): %v", id, err)
	}
	return ok
}

func TestIsApprover(t *testing.T) {
	p := mustNew(t, restrictedFile)
	for id, want := range map[string]bool{"U0ALICE": true, "U0BOB": true, "U0CAROL": false, "W0MALLORY": false, "": false, "u0alice": false} {
		if got := isApprover(t, p, id); got != want {
			t.Errorf("IsApprover(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestDemo(t *testing.T) {
	p := Demo("alice")
	if !isApprover(t, p, "alice") || isApprover(t, p, "bob") {
		t.Fatal("demo approver is not the one given")
	}
	if err := p.CanRequest(context.Background(), aks.User{ID: "bob"}, "console", ops[0]); err != nil {
		t.Fatalf("demo refuses a request: %v", err)
	}
	if !p.NeedsApproval(aks.Operation{Kind: aks.OpClusterDelete, Target: target}, aks.Plan{}) {
		t.Fatal("demo does not require approval")
	}
	req, err := p.Evaluate(context.Background(), aks.User{ID: "bob"}, "console", aks.Operation{Kind: aks.OpClusterDelete, Target: target}, aks.Plan{})
	if err != nil || req.Approvals != 1 || strings.Join(req.Approvers, ",") != "<@alice>" || req.Rule != "default" || req.Timeout != time.Hour {
		t.Fatalf("demo Evaluate = %+v, %v; want 1 approval from <@alice> under rule default within 1h", req, err)
	}
	if err := p.CanApprove(context.Background(), aks.User{ID: "alice"}, aks.Job{Op: ops[0], Requester: aks.User{ID: "bob"}}); err != nil {
		t.Fatalf("demo approver refused: %v", err)
	}
	if got := p.Approvers(ops[0]); len(got) != 1 || got[0] != "<@alice>" {
		t.Fatalf("Approvers = %v", got)
	}
}

// New must not keep the caller's slices: changing the file afterwards does not change the policy.
func TestNewCopiesConfiguration(t *testing.T) {
	f := config.PolicyFile{Approvers: []string{"U0ALICE"}, Channels: []string{"C0OPS"}, Requesters: []string{"U0CAROL"},
		Rules: []config.RuleFile{{Name: "r", Match: config.MatchFile{Clusters: []string{"prod"}},
			Guardrails: config.GuardrailsFile{VMSizes: []string{"Standard_D4s_v5"}}}}}
	p := mustNew(t, f)
	f.Approvers[0], f.Channels[0], f.Requesters[0] = "U0EVE", "C0EVIL", "U0EVE"
	f.Rules[0].Match.Clusters[0], f.Rules[0].Guardrails.VMSizes[0] = "demo", "Standard_HUGE"
	if !isApprover(t, p, "U0ALICE") || isApprover(t, p, "U0EVE") {
		t.Error("approvers changed with the caller's slice")
	}
	if p.CanRequest(context.Background(), carol, "C0OPS", ops[0]) != nil || p.CanRequest(context.Background(), aks.User{ID: "U0EVE"}, "C0EVIL", ops[0]) == nil {
		t.Error("requesters or channels changed with the caller's slice")
	}
	if req, _ := p.Evaluate(context.Background(), carol, "C0OPS", ops[0], aks.Plan{}); req.Rule != "default" {
		t.Errorf("rule %q matched demo: the match changed with the caller's slice", req.Rule)
	}
}
