package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

// The people of the team example (internal/config/testdata/team.yaml).
var (
	plat  = aks.User{ID: "U0PLAT1", Name: "pat"}  // platform team: requests
	sre1  = aks.User{ID: "U0SRE1", Name: "sam"}   // SRE and platform team: requests and approves
	sre2  = aks.User{ID: "U0SRE2", Name: "sasha"} // SRE: approves
	lead  = aks.User{ID: "U0LEAD", Name: "lee"}   // team lead: approves by user ID (default rule)
	coder = aks.User{ID: "U0DEV", Name: "dana"}   // a developer: requests on dev only
	teamG = StaticGroups{
		"S0SRE":      {"U0SRE1", "U0SRE2"},
		"S0PLATFORM": {"U0PLAT1", "U0SRE1"},
	}
)

func teamFile(t *testing.T) config.PolicyFile {
	t.Helper()
	data, err := os.ReadFile("../config/testdata/team.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(data)
	if err != nil {
		t.Fatalf("team.yaml: %v", err)
	}
	return f.Policy
}

func teamPolicy(t *testing.T, groups Groups) *Policy {
	t.Helper()
	p, err := New(teamFile(t), groups)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	prodPool = aks.Target{ResourceGroup: "rg-prod-weu", Cluster: "prod-1", Pool: "np1"}
	devPool  = aks.Target{ResourceGroup: "rg-dev-weu", Cluster: "dev-1", Pool: "np1"}
	// In a prod resource group, but not a prod cluster: both patterns must match.
	stagingPool = aks.Target{ResourceGroup: "RG-PROD-WEU", Cluster: "staging-1", Pool: "np1"}
	otherPool   = aks.Target{ResourceGroup: "rg-shared", Cluster: "tools", Pool: "np1"}
)

// request is one planned request of the decision matrix.
type request struct {
	op   aks.Operation
	plan aks.Plan
}

func scaleReq(t aks.Target, from, to int) request {
	return request{aks.Operation{Kind: aks.OpPoolScale, Target: t, NodeCount: intp(to)},
		aks.Plan{FromNodes: from, ToNodes: to, ScaleUp: to > from, ClusterNodes: -1}}
}

func withClusterNodes(r request, n int) request { r.plan.ClusterNodes = n; return r }

func kindReq(t aks.Target, k aks.OpKind) request {
	return request{aks.Operation{Kind: k, Target: t}, aks.Plan{FromNodes: -1, ToNodes: -1, ClusterNodes: -1}}
}

func createReq(t aks.Target, vmSize, location, version string, n int) request {
	return request{aks.Operation{Kind: aks.OpClusterCreate, Target: t, VMSize: vmSize, Location: location, KubernetesVersion: version, NodeCount: intp(n)},
		aks.Plan{FromNodes: 0, ToNodes: n, ScaleUp: true, ClusterNodes: n, VMSize: vmSize, Location: location}}
}

func autoscaleReq(t aks.Target, fromMax, toMax int) request {
	return request{aks.Operation{Kind: aks.OpPoolAutoscale, Target: t, Autoscaler: &aks.Autoscaler{Min: 1, Max: toMax}},
		aks.Plan{FromNodes: -1, ToNodes: -1, ClusterNodes: -1, ScaleUp: toMax > fromMax,
			Changes: []aks.Change{{What: t.Pool + " autoscaler max", From: fmt.Sprint(fromMax), To: fmt.Sprint(toMax)}}}}
}

// decide runs a request the way the engine does (CanRequest, then Evaluate) and writes the
// outcome in one line, so that the matrix below reads as a table of decisions.
func decide(p *Policy, user aks.User, channel string, r request) string {
	ctx := context.Background()
	if err := p.CanRequest(ctx, user, channel, r.op); err != nil {
		return "refused request: " + errorCode(err) + ": " + errorText(err)
	}
	req, err := p.Evaluate(ctx, user, channel, r.op, r.plan)
	switch {
	case err != nil:
		return "refused plan: " + errorCode(err) + ": " + errorText(err)
	case req.Approvals > 0:
		return fmt.Sprintf("needs %d from %s (rule %s, %s)", req.Approvals, strings.Join(req.Approvers, " "), req.Rule, req.Timeout)
	case req.Note != "":
		return fmt.Sprintf("auto (rule %s): %s", req.Rule, req.Note)
	}
	return fmt.Sprintf("free (rule %s, %s)", req.Rule, req.Timeout)
}

func errorCode(err error) string {
	var e *aks.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an *aks.Error"
}

// The decision matrix of the team example: users x groups x rules x operations x channels.
func TestDecisionMatrix(t *testing.T) {
	p := teamPolicy(t, teamG)
	const prodApprovers = "needs 2 from <!subteam^S0SRE> (rule prod, 30m0s)"
	const devApprovers = "needs 1 from <!subteam^S0SRE> <@U0LEAD> (rule dev, 4h0m0s)"
	const defaultApprovers = "needs 1 from <!subteam^S0SRE> <@U0LEAD> (rule default, 1h0m0s)"
	tests := []struct {
		name    string
		user    aks.User
		channel string
		req     request
		want    string // the outcome starts with it...
		more    []string
	}{
		// prod: platform group requests in the prod channel; two SREs approve.
		{"prod scale-up by platform member", plat, "C0PRODOPS", scaleReq(prodPool, 3, 5), prodApprovers, nil},
		{"prod scale-up by member through a group only", sre1, "C0PRODOPS", scaleReq(prodPool, 3, 5), prodApprovers, nil},
		{"prod scale-up in the default channel", plat, "C0OPS", scaleReq(prodPool, 3, 5), "refused request: unauthorized", []string{"rule prod", "<#C0PRODOPS>"}},
		{"prod scale-up by a developer", coder, "C0PRODOPS", scaleReq(prodPool, 3, 5), "refused request: unauthorized", []string{"rule prod", "only <!subteam^S0PLATFORM> can"}},
		{"prod scale-up by the lead (approver, not requester)", lead, "C0PRODOPS", scaleReq(prodPool, 3, 5), "refused request: unauthorized", []string{"rule prod"}},
		{"prod scale-down", plat, "C0PRODOPS", scaleReq(prodPool, 5, 3), "free (rule prod, 30m0s)", nil},
		{"prod scale to the same size", plat, "C0PRODOPS", scaleReq(prodPool, 5, 5), "free (rule prod", nil},
		{"prod scale with unknown current size fails closed", plat, "C0PRODOPS", scaleReq(prodPool, -1, 5), prodApprovers, nil},
		{"prod stop", plat, "C0PRODOPS", kindReq(prodPool, aks.OpClusterStop), "free (rule prod", nil},
		{"prod start", plat, "C0PRODOPS", kindReq(prodPool, aks.OpClusterStart), "free (rule prod", nil},
		{"prod delete", plat, "C0PRODOPS", kindReq(prodPool, aks.OpClusterDelete), prodApprovers, nil},
		{"prod node image upgrade (no version to check)", plat, "C0PRODOPS", request{aks.Operation{Kind: aks.OpPoolUpgrade, Target: prodPool, NodeImageOnly: true}, aks.Plan{FromNodes: -1, ToNodes: -1}}, prodApprovers, nil},
		{"prod autoscaler disabled", plat, "C0PRODOPS", request{aks.Operation{Kind: aks.OpPoolAutoscale, Target: prodPool, DisableAutoscaler: true}, aks.Plan{FromNodes: -1, ToNodes: -1}}, "free (rule prod", nil},
		{"prod autoscaler max raised", plat, "C0PRODOPS", autoscaleReq(prodPool, 5, 7), prodApprovers, nil},

		// prod guardrails refuse, whoever asks.
		{"prod pool over its limit", plat, "C0PRODOPS", scaleReq(prodPool, 40, 60), "refused plan: invalid: rule prod allows at most 50 nodes per pool; this asks for 60", nil},
		{"prod pool at its limit", plat, "C0PRODOPS", scaleReq(prodPool, 40, 50), prodApprovers, nil},
		{"prod shrinking an oversized pool", plat, "C0PRODOPS", scaleReq(prodPool, 70, 60), "free (rule prod", nil},
		{"prod autoscaler max over the pool limit", plat, "C0PRODOPS", autoscaleReq(prodPool, 40, 51), "refused plan: invalid: rule prod allows at most 50 nodes per pool; this asks for 51", nil},
		{"prod cluster over its limit", plat, "C0PRODOPS", withClusterNodes(scaleReq(prodPool, 10, 12), 201), "refused plan: invalid: rule prod allows at most 200 nodes per cluster; this would make 201", nil},
		{"prod cluster at its limit", plat, "C0PRODOPS", withClusterNodes(scaleReq(prodPool, 10, 12), 200), prodApprovers, nil},
		{"prod create in an allowed place", plat, "C0PRODOPS", createReq(prodPool, "Standard_D8s_v5", "northeurope", "1.31.2", 3), prodApprovers, nil},
		{"prod create with VM size in other case", plat, "C0PRODOPS", createReq(prodPool, "standard_d4S_V5", "westeurope", "1.30.7", 3), prodApprovers, nil},
		{"prod create with a forbidden VM size", plat, "C0PRODOPS", createReq(prodPool, "Standard_E64s_v5", "westeurope", "1.31.2", 3), "refused plan: invalid: rule prod allows only the VM sizes Standard_D4s_v5, Standard_D8s_v5; this asks for Standard_E64s_v5", nil},
		{"prod create in a forbidden location", plat, "C0PRODOPS", createReq(prodPool, "Standard_D4s_v5", "eastus", "1.31.2", 3), "refused plan: invalid: rule prod allows only the locations westeurope, northeurope; this asks for eastus", nil},
		{"prod create with a forbidden version", plat, "C0PRODOPS", createReq(prodPool, "Standard_D4s_v5", "westeurope", "1.29.9", 3), "refused plan: invalid: rule prod allows only the Kubernetes versions 1.30.*, 1.31.*; this asks for 1.29.9", nil},
		{"prod upgrade to a forbidden version", plat, "C0PRODOPS", request{aks.Operation{Kind: aks.OpClusterUpgrade, Target: prodPool, KubernetesVersion: "1.32.0"}, aks.Plan{FromNodes: -1, ToNodes: -1}}, "refused plan: invalid: rule prod allows only the Kubernetes versions", []string{"1.32.0"}},
		{"prod upgrade to an allowed version", plat, "C0PRODOPS", request{aks.Operation{Kind: aks.OpClusterUpgrade, Target: prodPool, KubernetesVersion: "1.31.1"}, aks.Plan{FromNodes: -1, ToNodes: -1}}, prodApprovers, nil},
		{"prod create on the default version the plan names", plat, "C0PRODOPS",
			request{aks.Operation{Kind: aks.OpClusterCreate, Target: prodPool, Location: "westeurope", NodeCount: intp(3)},
				aks.Plan{ToNodes: 3, ScaleUp: true, VMSize: "Standard_D4s_v5", Changes: []aks.Change{{What: "Kubernetes version", To: "1.29.4"}}}},
			"refused plan: invalid: rule prod allows only the Kubernetes versions", []string{"this asks for 1.29.4"}},

		// dev: anyone, in two channels, one approval, small scale-ups auto-approved.
		{"dev scale-up at the auto-approval limits", coder, "C0DEVOPS", scaleReq(devPool, 8, 10), "auto (rule dev): auto-approved by rule dev: +2 nodes, 10 in the pool", nil},
		{"dev scale-up of one node", coder, "C0OPS", scaleReq(devPool, 3, 4), "auto (rule dev): auto-approved by rule dev: +1 node, 4 in the pool", nil},
		{"dev scale-up adding one node too many", coder, "C0DEVOPS", scaleReq(devPool, 3, 6), devApprovers, nil},
		{"dev scale-up one node over the pool size", coder, "C0DEVOPS", scaleReq(devPool, 9, 11), devApprovers, nil},
		{"dev scale-up with unknown current size", coder, "C0DEVOPS", scaleReq(devPool, -1, 4), devApprovers, nil},
		{"dev autoscaler max raised a little", coder, "C0DEVOPS", autoscaleReq(devPool, 5, 7), "auto (rule dev): auto-approved by rule dev: +2 nodes, 7 in the pool", nil},
		{"dev autoscaler max raised a lot", coder, "C0DEVOPS", autoscaleReq(devPool, 5, 8), devApprovers, nil},
		{"dev autoscaler enabled (current size unknown)", coder, "C0DEVOPS",
			request{aks.Operation{Kind: aks.OpPoolAutoscale, Target: devPool, Autoscaler: &aks.Autoscaler{Min: 1, Max: 4}},
				aks.Plan{FromNodes: -1, ToNodes: -1, ScaleUp: true, Changes: []aks.Change{{What: "np1 autoscaler max", To: "4"}}}}, devApprovers, nil},
		{"dev small pool added", coder, "C0DEVOPS", request{aks.Operation{Kind: aks.OpPoolAdd, Target: devPool, NodeCount: intp(2), VMSize: "Standard_D4s_v5"}, aks.Plan{FromNodes: 0, ToNodes: 2, ScaleUp: true, VMSize: "Standard_D4s_v5"}}, "auto (rule dev)", nil},
		{"dev pool added with a forbidden size", coder, "C0DEVOPS", request{aks.Operation{Kind: aks.OpPoolAdd, Target: devPool, NodeCount: intp(2), VMSize: "Standard_E4s_v5"}, aks.Plan{FromNodes: 0, ToNodes: 2, ScaleUp: true, VMSize: "Standard_E4s_v5"}}, "refused plan: invalid: rule dev allows only the VM sizes", nil},
		{"dev pool added with the planner's default size", coder, "C0DEVOPS", request{aks.Operation{Kind: aks.OpPoolAdd, Target: devPool, NodeCount: intp(2)}, aks.Plan{FromNodes: 0, ToNodes: 2, ScaleUp: true, VMSize: "Standard_B2ms"}}, "auto (rule dev)", nil},
		{"dev delete", coder, "C0DEVOPS", kindReq(devPool, aks.OpClusterDelete), devApprovers, nil},
		{"dev request in the prod channel", coder, "C0PRODOPS", scaleReq(devPool, 3, 4), "refused request: unauthorized", []string{"rule dev", "<#C0OPS> or <#C0DEVOPS>"}},
		{"dev pool over the dev limit", coder, "C0DEVOPS", scaleReq(devPool, 10, 21), "refused plan: invalid: rule dev allows at most 20 nodes per pool; this asks for 21", nil},

		// Not matched by a rule: the top-level keys decide, as rule "default".
		{"staging in a prod group falls to default", plat, "C0OPS", scaleReq(stagingPool, 3, 5), defaultApprovers, nil},
		{"other cluster, platform member", plat, "C0OPS", kindReq(otherPool, aks.OpClusterUpgrade), defaultApprovers, nil},
		{"other cluster, developer", coder, "C0OPS", kindReq(otherPool, aks.OpClusterUpgrade), "refused request: unauthorized", []string{"rule default", "only <!subteam^S0PLATFORM>", "policy.requesters"}},
		{"other cluster, wrong channel", plat, "C0DEVOPS", kindReq(otherPool, aks.OpClusterUpgrade), "refused request: unauthorized", []string{"rule default", "use <#C0OPS>"}},
		{"other cluster, small scale-up (no auto-approval by default)", plat, "C0OPS", scaleReq(otherPool, 1, 2), defaultApprovers, nil},
		{"unknown user", aks.User{Name: "ghost"}, "C0OPS", scaleReq(otherPool, 1, 2), "refused request: unauthorized: you cannot request operations: your user is not known", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(p, tt.user, tt.channel, tt.req)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("decision:\n got  %s\n want %s...", got, tt.want)
			}
			for _, m := range tt.more {
				if !strings.Contains(got, m) {
					t.Errorf("decision %q does not mention %q", got, m)
				}
			}
		})
	}
}

// Who may approve (or deny) a waiting job, under each rule of the team example.
func TestApprovalMatrix(t *testing.T) {
	p := teamPolicy(t, teamG)
	job := func(tg aks.Target, by aks.User) aks.Job {
		return aks.Job{ID: "7", Op: aks.Operation{Kind: aks.OpClusterDelete, Target: tg}, Requester: by, State: aks.StateAwaitingApproval}
	}
	tests := []struct {
		name string
		user aks.User
		job  aks.Job
		want []string // nil = allowed
	}{
		{"SRE approves prod", sre2, job(prodPool, plat), nil},
		{"SRE and requester in platform approves another's prod job", sre1, job(prodPool, plat), nil},
		{"lead is no prod approver", lead, job(prodPool, plat), []string{"only <!subteam^S0SRE> can approve this request (rule prod)"}},
		{"requester in the approver group", sre1, job(prodPool, sre1), []string{"you cannot approve your own request", "ask <!subteam^S0SRE> to approve it"}},
		{"platform member", plat, job(prodPool, sre1), []string{"only <!subteam^S0SRE>"}},
		{"lead approves dev by user ID", lead, job(devPool, coder), nil},
		{"SRE approves dev through the group", sre2, job(devPool, coder), nil},
		{"developer approves dev", coder, job(devPool, plat), []string{"only <!subteam^S0SRE> or <@U0LEAD> can approve this request (rule dev)"}},
		{"lead's own default job", lead, job(otherPool, lead), []string{"your own request", "ask <!subteam^S0SRE> to approve it"}},
		{"SRE approves default", sre1, job(otherPool, plat), nil},
		{"unknown user", aks.User{}, job(otherPool, plat), []string{"not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CanApprove(context.Background(), tt.user, tt.job)
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

// The first rule that matches decides, even when a later one matches more precisely.
func TestFirstMatchWins(t *testing.T) {
	two := 2
	f := config.PolicyFile{
		Approvers: []string{"U0LEAD"},
		Rules: []config.RuleFile{
			{Name: "all-prod-groups", Match: config.MatchFile{ResourceGroups: []string{"rg-prod-*"}}, Approvers: []string{"U0A1", "U0A2"}, Approvals: &two},
			{Name: "prod-1-only", Match: config.MatchFile{ResourceGroups: []string{"rg-prod-weu"}, Clusters: []string{"prod-1"}}, RequireApprovalFor: []string{}},
			{Name: "catch-all", Approvers: []string{"U0A3"}},
		},
	}
	p := mustNew(t, f)
	for _, c := range []struct {
		target aks.Target
		want   string
	}{
		{prodPool, "needs 2 from <@U0A1> <@U0A2> (rule all-prod-groups"},
		{aks.Target{ResourceGroup: "rg-prodx", Cluster: "prod-1"}, "needs 1 from <@U0A3> (rule catch-all"},
		{otherPool, "needs 1 from <@U0A3> (rule catch-all"},
	} {
		if got := decide(p, coder, "C0ANY", scaleReq(c.target, 1, 3)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s, want %s...", c.target, got, c.want)
		}
	}
	// Reordered, the narrower rule wins for its cluster.
	f.Rules[0], f.Rules[1] = f.Rules[1], f.Rules[0]
	p = mustNew(t, f)
	if got := decide(p, coder, "C0ANY", scaleReq(prodPool, 1, 3)); !strings.HasPrefix(got, "free (rule prod-1-only") {
		t.Errorf("reordered: %s", got)
	}
}

// requireApproval: false turns approvals off for the default rule and for rules that do not
// list requireApprovalFor; a rule that lists it still asks.
func TestRequireApprovalOff(t *testing.T) {
	f := config.PolicyFile{
		RequireApproval: &bFalse,
		Approvers:       []string{"U0LEAD"},
		Rules: []config.RuleFile{
			{Name: "prod", Match: config.MatchFile{Clusters: []string{"prod-*"}}, RequireApprovalFor: []string{"cluster.delete"}},
			{Name: "dev", Match: config.MatchFile{Clusters: []string{"dev-*"}}},
		},
	}
	p := mustNew(t, f)
	for _, c := range []struct {
		req  request
		want string
	}{
		{kindReq(prodPool, aks.OpClusterDelete), "needs 1 from <@U0LEAD> (rule prod"},
		{scaleReq(prodPool, 1, 30), "free (rule prod"},
		{kindReq(devPool, aks.OpClusterDelete), "free (rule dev"},
		{kindReq(otherPool, aks.OpClusterDelete), "free (rule default"},
	} {
		if got := decide(p, coder, "C0ANY", c.req); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %s: %s, want %s...", c.req.op.Kind, c.req.op.Target, got, c.want)
		}
	}
}

// A request that could never collect its approvals (too few approvers besides the requester)
// is refused at once instead of waiting to expire.
func TestEvaluateRefusesUnreachableApprovals(t *testing.T) {
	two := 2
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD"}, Rules: []config.RuleFile{
		{Name: "prod", Match: config.MatchFile{Clusters: []string{"prod-*"}}, Approvers: []string{"U0A1", "U0A2"}, Approvals: &two},
	}})
	got := decide(p, aks.User{ID: "U0A1"}, "C0ANY", kindReq(prodPool, aks.OpClusterDelete))
	for _, w := range []string{"refused plan: unauthorized", "needs 2 approvals under rule prod", "only <@U0A2> can give it besides you"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q does not contain %q", got, w)
		}
	}
	if got := decide(p, lead, "C0ANY", kindReq(otherPool, aks.OpClusterDelete)); !strings.Contains(got, "nobody but you can give it") {
		t.Errorf("lead's own default request: %s", got)
	}
	if got := decide(p, coder, "C0ANY", kindReq(prodPool, aks.OpClusterDelete)); !strings.HasPrefix(got, "needs 2") {
		t.Errorf("a third person's request: %s", got)
	}
}

// failingGroups is a Slack that cannot answer.
type failingGroups struct{ calls int }

func (g *failingGroups) Members(context.Context, string) ([]string, error) {
	g.calls++
	return nil, errors.New("slack: ratelimited")
}

func wantUnavailable(t *testing.T, err error, contains ...string) {
	t.Helper()
	var e *aks.Error
	if !errors.As(err, &e) || e.Code != aks.EUnavailable {
		t.Fatalf("error %v is not an *aks.Error with code %s", err, aks.EUnavailable)
	}
	for _, c := range contains {
		if !strings.Contains(e.Message+" | "+e.Hint, c) {
			t.Errorf("%q does not contain %q", e.Message+" | "+e.Hint, c)
		}
	}
}

// When Slack cannot say who is in a group, nothing that depends on it is allowed.
func TestGroupsFailClosed(t *testing.T) {
	ctx := context.Background()
	for name, groups := range map[string]Groups{"failing source": &failingGroups{}, "no source": nil, "group not in the table": StaticGroups{"S0PLATFORM": {"U0PLAT1"}}} {
		t.Run(name, func(t *testing.T) {
			p := teamPolicy(t, groups)
			err := p.CanApprove(ctx, sre2, aks.Job{Op: aks.Operation{Kind: aks.OpClusterDelete, Target: prodPool}, Requester: plat})
			wantUnavailable(t, err, "could not check membership of <!subteam^S0SRE> with Slack, so nothing was approved", "usergroups:read")
			// The lead is listed by user ID for dev: no group lookup is needed to say yes.
			if err := p.CanApprove(ctx, lead, aks.Job{Op: aks.Operation{Kind: aks.OpClusterDelete, Target: devPool}, Requester: plat}); err != nil {
				t.Errorf("lead listed by ID refused: %v", err)
			}
			if _, ok := groups.(StaticGroups); ok {
				return // the platform group resolves in this table
			}
			wantUnavailable(t, p.CanRequest(ctx, plat, "C0PRODOPS", aks.Operation{Kind: aks.OpPoolScale, Target: prodPool}),
				"could not check membership of <!subteam^S0PLATFORM>", "so the request was not accepted")
			_, err = p.IsApprover(ctx, coder)
			wantUnavailable(t, err, "<!subteam^S0SRE>")
			_, err = p.WhoAmI(ctx, coder)
			wantUnavailable(t, err)
		})
	}
}

// One group failing does not matter when another entry already lets the user in.
func TestGroupsOtherEntryAllows(t *testing.T) {
	f := config.PolicyFile{Approvers: []string{"S0BROKEN", "S0SRE"}}
	p := mustNew(t, f)
	p.groups = partialGroups{ok: StaticGroups{"S0SRE": {"U0SRE1"}}}
	if err := p.CanApprove(context.Background(), sre1, aks.Job{Op: ops[0], Requester: plat}); err != nil {
		t.Fatalf("member of a resolvable group refused: %v", err)
	}
	wantUnavailable(t, p.CanApprove(context.Background(), coder, aks.Job{Op: ops[0], Requester: plat}), "<!subteam^S0BROKEN>")
}

type partialGroups struct{ ok StaticGroups }

func (g partialGroups) Members(ctx context.Context, id string) ([]string, error) {
	if _, known := g.ok[id]; known {
		return g.ok.Members(ctx, id)
	}
	return nil, errors.New("channel_not_found")
}

// New caches a live source for groupCacheTTL: repeated clicks ask Slack once.
func TestNewCachesGroupSource(t *testing.T) {
	src := &countingGroups{members: map[string][]string{"S0SRE": {"U0SRE1"}}}
	p, err := New(config.PolicyFile{Approvers: []string{"S0SRE"}, GroupCacheTTL: config.Duration{Duration: time.Hour}}, src)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := p.CanApprove(context.Background(), sre1, aks.Job{Op: ops[0], Requester: plat}); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.count(); n != 1 {
		t.Fatalf("Slack asked %d times for one group within the TTL", n)
	}
}

func TestNewRefusesContradictions(t *testing.T) {
	three := 3
	_, err := New(config.PolicyFile{Rules: []config.RuleFile{{Name: "prod", Approvers: []string{"U0A1", "U0A2"}, Approvals: &three}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "policy.rules[0].approvals: 3 approvals can never be given: policy.rules[0].approvers lists only 2 approver(s)") {
		t.Fatalf("New = %v", err)
	}
	if Check(config.PolicyFile{Approvers: []string{"bob"}}) == nil {
		t.Fatal("Check accepted an invalid approver")
	}
}

func TestDescribe(t *testing.T) {
	p := teamPolicy(t, teamG)
	got := p.Describe(context.Background(), prodPool)
	want := `*Policy for rg-prod-weu/prod-1*: rule *prod* (resource groups rg-prod-*; clusters prod-*)
• Requests: by <!subteam^S0PLATFORM>, in <#C0PRODOPS>
• Approval: 2 approvals from <!subteam^S0SRE> (never the requester's own), for cluster.create, cluster.delete, cluster.upgrade, nodepool.delete, nodepool.upgrade; nodepool.add, nodepool.scale, nodepool.update when they add nodes; pending requests expire after 30m
• No approval: cluster.start, cluster.stop, scale-downs, disabling the autoscaler
• Guardrails: at most 50 nodes per pool; at most 200 nodes per cluster; VM sizes Standard_D4s_v5, Standard_D8s_v5; locations westeurope, northeurope; Kubernetes 1.30.*, 1.31.*`
	if got != want {
		t.Errorf("Describe(prod):\n%s\nwant:\n%s", got, want)
	}
	dev := p.Describe(context.Background(), devPool)
	for _, w := range []string{"rule *dev*", "by anyone, in <#C0OPS> or <#C0DEVOPS>", "1 approval from <!subteam^S0SRE> or <@U0LEAD>", "expire after 4h",
		"Auto-approved: scale-ups adding at most 2 nodes and leaving at most 10 in the pool"} {
		if !strings.Contains(dev, w) {
			t.Errorf("Describe(dev) lacks %q:\n%s", w, dev)
		}
	}
	if other := p.Describe(context.Background(), otherPool); !strings.Contains(other, "rule *default* (clusters no other rule matches)") || strings.Contains(other, "Guardrails") {
		t.Errorf("Describe(other):\n%s", other)
	}
}

func TestWhoAmI(t *testing.T) {
	p := teamPolicy(t, teamG)
	got, err := p.WhoAmI(context.Background(), sre1)
	if err != nil {
		t.Fatal(err)
	}
	want := `*What <@U0SRE1> may do*
• *prod* (resource groups rg-prod-*; clusters prod-*): request in <#C0PRODOPS>; approve others' requests (2 approvals each)
• *dev* (resource groups rg-dev-*): request in <#C0OPS> or <#C0DEVOPS>; approve others' requests (1 approval each)
• *default* (clusters no other rule matches): request in <#C0OPS>; approve others' requests (1 approval each)`
	if got != want {
		t.Errorf("WhoAmI(sre1):\n%s\nwant:\n%s", got, want)
	}
	got, err = p.WhoAmI(context.Background(), coder)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"*prod* (resource groups rg-prod-*; clusters prod-*): cannot request (only <!subteam^S0PLATFORM>); cannot approve", "*dev* (resource groups rg-dev-*): request in <#C0OPS> or <#C0DEVOPS>; cannot approve"} {
		if !strings.Contains(got, w) {
			t.Errorf("WhoAmI(coder) lacks %q:\n%s", w, got)
		}
	}
}

func TestIsApproverWithGroups(t *testing.T) {
	p := teamPolicy(t, teamG)
	for u, want := range map[aks.User]bool{sre1: true, sre2: true, lead: true, plat: false, coder: false} {
		if got := isApprover(t, p, u.ID); got != want {
			t.Errorf("IsApprover(%s) = %v, want %v", u.Name, got, want)
		}
	}
}
