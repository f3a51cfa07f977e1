package policy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

const account = "123456789012"

// eksPolicy is the policy of internal/config/testdata/eks.yaml: rules eks-gpu, eks-prod,
// aks-prod and eks-dev, then the default.
func eksPolicy(t *testing.T) *Policy {
	t.Helper()
	data, err := os.ReadFile("../config/testdata/eks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(data)
	if err != nil {
		t.Fatalf("eks.yaml: %v", err)
	}
	p, err := New(f.Policy, teamG)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func eksTarget(region, acct, cluster, nodegroup string) aks.Target {
	return aks.Target{Provider: aks.ProviderEKS, Region: region, Account: acct, Cluster: cluster, Pool: nodegroup}
}

var (
	webProd = eksTarget("eu-west-1", account, "web-prod", "ng-web")
	apiDev  = eksTarget("eu-west-1", account, "api-dev", "ng-api")
)

// ngScale is an eks.nodegroup.scale as the EKS planner plans it: desired from -> to, the max
// size changed when maxFrom != maxTo, and the cluster's other groups at others nodes.
func ngScale(t aks.Target, from, to, maxFrom, maxTo, others int) request {
	op := aks.Operation{Kind: aks.OpNodegroupScale, Target: t, Nodegroup: &aks.NodegroupSpec{DesiredSize: intp(to)}}
	plan := aks.Plan{Pool: t.Pool, Location: t.Region, FromNodes: from, ToNodes: to, ClusterNodes: others + to,
		ScaleUp: to > from || maxTo > maxFrom}
	if from != to {
		plan.Changes = append(plan.Changes, aks.Change{What: t.Pool + " nodes", From: fmt.Sprint(from), To: fmt.Sprint(to)})
	}
	if maxFrom != maxTo {
		op.Nodegroup.MaxSize = intp(maxTo)
		plan.Changes = append(plan.Changes, aks.Change{What: t.Pool + " max size", From: fmt.Sprint(maxFrom), To: fmt.Sprint(maxTo)})
	}
	return request{op, plan}
}

// ngCreate is an eks.nodegroup.create as planned: desired n, max size maxSize.
func ngCreate(t aks.Target, types string, n, maxSize int, version string) request {
	op := aks.Operation{Kind: aks.OpNodegroupCreate, Target: t, KubernetesVersion: version,
		Nodegroup: &aks.NodegroupSpec{DesiredSize: intp(n), MaxSize: intp(maxSize)}}
	if types != "" {
		op.Nodegroup.InstanceTypes = strings.Split(types, ",")
	}
	plan := aks.Plan{Pool: t.Pool, Location: t.Region, VMSize: types, FromNodes: 0, ToNodes: n, ClusterNodes: n, ScaleUp: true,
		Changes: []aks.Change{{What: t.Pool + " nodes", To: fmt.Sprint(n)}, {What: t.Pool + " max size", To: fmt.Sprint(maxSize)}}}
	return request{op, plan}
}

func ngUpgrade(t aks.Target, fromVersion, toVersion string) request {
	op := aks.Operation{Kind: aks.OpNodegroupUpgrade, Target: t, KubernetesVersion: toVersion}
	plan := aks.Plan{Pool: t.Pool, Location: t.Region, FromNodes: 3, ToNodes: 3, ClusterNodes: 3,
		Changes: []aks.Change{{What: t.Pool + " AMI release", From: fromVersion + ".1-20250101", To: "latest"}}}
	if toVersion != "" && toVersion != fromVersion {
		plan.Changes = append([]aks.Change{{What: t.Pool + " Kubernetes version", From: fromVersion, To: toVersion}}, plan.Changes...)
	}
	return request{op, plan}
}

// Rules select EKS clusters by cloud, account, region, cluster and node group, and AKS clusters
// by their own keys only.
func TestEKSRuleMatching(t *testing.T) {
	p := eksPolicy(t)
	aksProd := aks.Target{ResourceGroup: "rg-prod-weu", Cluster: "web-prod", Pool: "np1"}
	for _, c := range []struct {
		name   string
		target aks.Target
		want   string
	}{
		{"prod cluster in a prod region", webProd, "eks-prod"},
		{"prod cluster in the other listed region", eksTarget("us-east-1", account, "web-prod", "ng-web"), "eks-prod"},
		{"cluster-wide, no node group", eksTarget("eu-west-1", account, "web-prod", ""), "eks-prod"},
		{"cluster names match case-insensitively", eksTarget("eu-central-1", account, "WEB-PROD", "ng"), "eks-prod"},
		{"prod cluster in a region the rule does not list", eksTarget("ap-south-1", account, "web-prod", "ng-web"), "default"},
		{"prod cluster in another account", eksTarget("eu-west-1", "999999999999", "web-prod", "ng-web"), "default"},
		{"account unknown: rules naming accounts do not match", eksTarget("eu-west-1", "", "web-prod", "ng-web"), "default"},
		{"gpu node group of a prod cluster: the gpu rule comes first", eksTarget("eu-west-1", account, "web-prod", "gpu-a100"), "eks-gpu"},
		{"gpu node group anywhere", eksTarget("sa-east-1", "999999999999", "lab", "GPU-1"), "eks-gpu"},
		{"node group name only like gpu", eksTarget("eu-west-1", account, "web-prod", "ng-gpu"), "eks-prod"},
		{"dev cluster", apiDev, "eks-dev"},
		{"dev cluster, cluster-wide", eksTarget("us-east-1", account, "api-dev", ""), "eks-dev"},
		{"other EKS cluster", eksTarget("eu-west-1", account, "tools", "ng"), "default"},
		// AKS: rules for EKS never apply, whatever the names.
		{"AKS cluster in a prod resource group", aksProd, "aks-prod"},
		{"AKS cluster named like an EKS dev cluster", aks.Target{ResourceGroup: "rg-dev-weu", Cluster: "api-dev", Pool: "np1"}, "default"},
		{"AKS pool named like a gpu node group", aks.Target{ResourceGroup: "rg-lab", Cluster: "lab", Pool: "gpu-1"}, "default"},
		{"target stored before providers (none) is AKS", aks.Target{Region: "eu-west-1", Account: account, ResourceGroup: "rg-x", Cluster: "web-prod"}, "default"},
	} {
		if got := p.ruleFor(c.target).name; got != c.want {
			t.Errorf("%s: %s matched rule %s, want %s", c.name, c.target, got, c.want)
		}
	}
}

// Rules that name no cloud-specific key match both clouds; pools match node pools and groups.
func TestMixedRulesMatchBothClouds(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD"}, Rules: []config.RuleFile{
		{Name: "gpu", Match: config.MatchFile{Pools: []string{"gpu*"}}},
		{Name: "shared", Match: config.MatchFile{Clusters: []string{"shared-*"}}},
		{Name: "aks-only", Match: config.MatchFile{Providers: []string{"aks"}, Clusters: []string{"lab"}}},
		{Name: "eks-by-account", Match: config.MatchFile{Accounts: []string{"1234*"}}},
	}})
	for _, c := range []struct {
		target aks.Target
		want   string
	}{
		{aks.Target{ResourceGroup: "rg", Cluster: "shared-1", Pool: "gpu1"}, "gpu"},
		{eksTarget("eu-west-1", account, "shared-1", "gpu-ng"), "gpu"},
		{aks.Target{ResourceGroup: "rg", Cluster: "shared-1", Pool: "np1"}, "shared"},
		{eksTarget("eu-west-1", "999999999999", "shared-1", "ng"), "shared"},
		{aks.Target{ResourceGroup: "rg", Cluster: "lab"}, "aks-only"},
		{eksTarget("eu-west-1", account, "lab", "ng"), "eks-by-account"},
		{eksTarget("eu-west-1", "999999999999", "lab", "ng"), "default"},
	} {
		if got := p.ruleFor(c.target).name; got != c.want {
			t.Errorf("%s: rule %s, want %s", c.target, got, c.want)
		}
	}
}

// Prod EKS scale-ups need two SRE approvals; the AKS rules decide as they did.
func TestEKSProdNeedsTwoApprovals(t *testing.T) {
	p := eksPolicy(t)
	const twoSREs = "needs 2 from <!subteam^S0SRE> (rule eks-prod, 1h0m0s)"
	const aksTwoSREs = "needs 2 from <!subteam^S0SRE> (rule aks-prod, 1h0m0s)"
	const defaultApproval = "needs 1 from <!subteam^S0SRE> <@U0LEAD> (rule default, 1h0m0s)"
	aksProd := aks.Target{ResourceGroup: "rg-prod-weu", Cluster: "prod-1", Pool: "np1"}
	tests := []struct {
		name string
		user aks.User
		req  request
		want string
	}{
		{"prod scale-up", plat, ngScale(webProd, 3, 5, 10, 10, 20), twoSREs},
		{"prod: only the max raised", plat, ngScale(webProd, 3, 3, 10, 12, 20), twoSREs},
		{"prod scale-down", plat, ngScale(webProd, 5, 3, 10, 10, 20), "free (rule eks-prod"},
		{"prod scale, current size unknown", plat, ngScale(webProd, -1, 5, 10, 10, 20), twoSREs},
		{"prod create", plat, ngCreate(webProd, "m6i.large", 3, 6, "1.31"), twoSREs},
		{"prod upgrade", plat, ngUpgrade(webProd, "1.30", "1.31"), twoSREs},
		{"prod delete", plat, kindReq(webProd, aks.OpNodegroupDelete), twoSREs},
		{"prod scale-up by a developer", coder, ngScale(webProd, 3, 5, 10, 10, 20), "refused request: unauthorized"},
		{"dev scale-up within the auto-approval", coder, ngScale(apiDev, 3, 5, 10, 10, 5), "auto (rule eks-dev): auto-approved by rule eks-dev: +2 nodes, 5 in the node group"},
		{"dev: a max raised by more than the rule lets through", coder, ngScale(apiDev, 3, 5, 5, 12, 5), "needs 1 from <!subteam^S0SRE> <@U0LEAD> (rule eks-dev, 1h0m0s)"},
		{"dev delete: the EKS defaults need approval", coder, kindReq(apiDev, aks.OpNodegroupDelete), "needs 1 from <!subteam^S0SRE> <@U0LEAD> (rule eks-dev"},
		{"other EKS cluster: the default rule", plat, ngScale(eksTarget("eu-west-1", account, "tools", "ng"), 1, 2, 3, 3, 0), defaultApproval},
		// AKS, unchanged: aks-prod and the default rule.
		{"AKS prod scale-up", plat, scaleReq(aksProd, 3, 5), aksTwoSREs},
		{"AKS prod scale-down", plat, scaleReq(aksProd, 5, 3), "free (rule aks-prod"},
		{"AKS other scale-up", plat, scaleReq(otherPool, 3, 5), defaultApproval},
		{"AKS other start", plat, kindReq(otherPool, aks.OpClusterStart), "free (rule default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(p, tt.user, "C0OPS", tt.req); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s...", got, tt.want)
			}
		})
	}

	// The requester of an EKS job cannot approve it, even as an SRE; another SRE can.
	job := aks.Job{Op: ngScale(webProd, 3, 5, 10, 10, 20).op, Requester: sre1, NeedsApproval: true, State: aks.StateAwaitingApproval}
	wantUnauthorized(t, p.CanApprove(context.Background(), sre1, job), "you cannot approve your own request", "<!subteam^S0SRE>")
	if err := p.CanApprove(context.Background(), sre2, job); err != nil {
		t.Errorf("another SRE may not approve: %v", err)
	}
	wantUnauthorized(t, p.CanApprove(context.Background(), lead, job), "only <!subteam^S0SRE> can approve this request (rule eks-prod)")
}

// A rule written for AKS (requireApprovalFor lists only AKS kinds) that matches EKS clusters by
// name says nothing about EKS: EKS's defaults apply under it, failing closed. A rule without the
// key asks for the EKS defaults too.
func TestEKSApprovalKindsOfOlderRules(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD", "U0SRE1"}, Rules: []config.RuleFile{
		{Name: "prod", Match: config.MatchFile{Clusters: []string{"*-prod"}}, RequireApprovalFor: []string{"cluster.delete"}},
		{Name: "dev", Match: config.MatchFile{Clusters: []string{"*-dev"}}},
	}})
	for _, c := range []struct {
		req  request
		want string
	}{
		{kindReq(webProd, aks.OpNodegroupDelete), "needs 1 from <@U0LEAD> <@U0SRE1> (rule prod"},
		{kindReq(aks.Target{ResourceGroup: "rg", Cluster: "web-prod"}, aks.OpClusterDelete), "needs 1 from <@U0LEAD> <@U0SRE1> (rule prod"},
		{kindReq(apiDev, aks.OpNodegroupDelete), "needs 1 from <@U0LEAD> <@U0SRE1> (rule dev"},
		{ngScale(apiDev, 2, 1, 5, 5, 0), "free (rule dev"},
	} {
		if got := decide(p, coder, "C0OPS", c.req); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %s: %s, want %s...", c.req.op.Kind, c.req.op.Target, got, c.want)
		}
	}
}

// Guardrails on EKS: instance types (every one), nodes per node group (the max size counts) and
// per cluster, regions, versions.
func TestEKSGuardrails(t *testing.T) {
	p := eksPolicy(t)
	const guard = "refused plan: invalid: "
	devUS := eksTarget("us-east-1", account, "api-dev", "ng-api")
	tests := []struct {
		name string
		req  request
		want string
	}{
		{"allowed instance types", ngCreate(webProd, "m6i.large,m7i.xlarge", 3, 6, "1.31"), "needs 2"},
		{"one type not allowed", ngCreate(webProd, "m6i.large,c5.large", 3, 6, "1.31"),
			guard + "rule eks-prod allows only the instance types m6i.*, m7i.*; this asks for c5.large (of m6i.large, c5.large) (pick only allowed ones with --instance-types; the limits are in policy.rules[1].guardrails of the bot's configuration)"},
		{"instance types unknown", ngCreate(webProd, "", 3, 6, "1.31"), guard + "rule eks-prod allows only the instance types m6i.*, m7i.*; this asks for an unknown instance type"},
		{"gpu rule: only gpu types", ngCreate(eksTarget("eu-west-1", account, "web-prod", "gpu-1"), "m6i.large", 1, 2, ""), guard + "rule eks-gpu allows only the instance types g5.*, g6.*; this asks for m6i.large"},
		{"desired size above the limit", ngScale(webProd, 3, 31, 40, 40, 0), guard + "rule eks-prod allows at most 30 nodes per node group; this asks for 31"},
		{"max size raised above the limit", ngScale(webProd, 3, 5, 10, 40, 0), guard + "rule eks-prod allows at most 30 nodes per node group; this asks for 40"},
		{"max size left above the limit", ngScale(webProd, 3, 5, 40, 40, 0), "needs 2"},
		{"create with a max above the limit", ngCreate(webProd, "m6i.large", 3, 31, "1.31"), guard + "rule eks-prod allows at most 30 nodes per node group; this asks for 31"},
		{"shrinking an oversized group", ngScale(webProd, 35, 32, 40, 40, 0), "free (rule eks-prod"},
		{"cluster total with the raised max", ngScale(webProd, 5, 5, 10, 20, 90), guard + "rule eks-prod allows at most 100 nodes per cluster; this would make 110"},
		{"cluster total within", ngScale(webProd, 5, 6, 10, 10, 90), "needs 2"},
		{"version not allowed", ngUpgrade(webProd, "1.31", "1.32"), guard + "rule eks-prod allows only the Kubernetes versions 1.30, 1.31; this asks for 1.32"},
		{"version left to the control plane, planned", ngUpgrade(webProd, "1.30", ""), "needs 2"},
		{"AMI release only: no version to check", ngUpgrade(eksTarget("eu-west-1", account, "web-prod", "ng-old"), "1.29", ""), "needs 2"},
		{"create without a version", ngCreate(webProd, "m6i.large", 3, 6, ""), guard + "rule eks-prod allows only the Kubernetes versions 1.30, 1.31; this asks for an unknown version"},
		{"dev growth outside its regions", ngScale(devUS, 3, 4, 10, 10, 0), guard + "rule eks-dev lets EKS clusters grow only in the regions eu-west-1; this asks for us-east-1"},
		{"dev shrink outside its regions", ngScale(devUS, 4, 3, 10, 10, 0), "free (rule eks-dev"},
		{"dev types", ngCreate(apiDev, "t3.medium", 2, 2, ""), "auto (rule eks-dev)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(p, plat, "C0OPS", tt.req); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s...", got, tt.want)
			}
		})
	}
}

// A rule for both clouds: AKS limits do not apply to EKS and the other way round, and AKS-style
// version patterns cover EKS's major.minor versions.
func TestMixedRuleGuardrails(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD"}, RequireApproval: &bFalse, Rules: []config.RuleFile{
		{Name: "prod", Match: config.MatchFile{Clusters: []string{"*-prod"}}, Guardrails: config.GuardrailsFile{
			VMSizes: []string{"Standard_D4s_v5"}, Locations: []string{"westeurope"},
			InstanceTypes: []string{"m6i.*"}, Regions: []string{"eu-*"}, KubernetesVersions: []string{"1.31.*"}}},
	}})
	for _, c := range []struct {
		name string
		req  request
		want string
	}{
		{"EKS create: instance types and region, not VM sizes and locations", ngCreate(webProd, "m6i.large", 2, 2, "1.31"), "free"},
		{"EKS create in another region", ngCreate(eksTarget("us-east-1", account, "web-prod", "ng"), "m6i.large", 2, 2, "1.31"), "refused plan: invalid: rule prod lets EKS clusters grow only in the regions eu-*"},
		{"EKS version 1.30 against 1.31.*", ngUpgrade(webProd, "1.29", "1.30"), "refused plan: invalid: rule prod allows only the Kubernetes versions 1.31.*; this asks for 1.30"},
		{"AKS create: VM sizes and locations apply", createReq(aks.Target{ResourceGroup: "rg", Cluster: "web-prod"}, "Standard_D4s_v5", "westeurope", "1.31.2", 3), "free"},
		{"AKS create elsewhere", createReq(aks.Target{ResourceGroup: "rg", Cluster: "web-prod"}, "Standard_D4s_v5", "eastus", "1.31.2", 3), "refused plan: invalid: rule prod allows only the locations westeurope"},
	} {
		if got := decide(p, coder, "C0OPS", c.req); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s, want %s...", c.name, got, c.want)
		}
	}
}

// A rule naming pools applies when the plan resolves the pool (`/aks scale` without
// --nodepool-name): its requesters are checked then, and it decides approvals.
func TestPoolRuleWithPlannedPool(t *testing.T) {
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD", "U0SRE1", "U0SRE2"}, Rules: []config.RuleFile{
		{Name: "gpu", Match: config.MatchFile{Pools: []string{"gpu*"}}, Requesters: []string{"U0PLAT1"}, Approvers: []string{"U0SRE1", "U0SRE2"}, Approvals: intp(2)},
	}})
	r := scaleReq(aks.Target{ResourceGroup: "rg", Cluster: "lab"}, 1, 3) // no pool named
	r.plan.Pool = "gpu1"
	if got := decide(p, coder, "C0OPS", r); !strings.HasPrefix(got, "refused plan: unauthorized: you are not allowed to request operations on rg/lab (rule gpu)") {
		t.Errorf("developer on the gpu pool: %s", got)
	}
	if got := decide(p, plat, "C0OPS", r); !strings.HasPrefix(got, "needs 2 from <@U0SRE1> <@U0SRE2> (rule gpu") {
		t.Errorf("platform on the gpu pool: %s", got)
	}
	job := aks.Job{Op: r.op, Plan: r.plan, Requester: plat}
	wantUnauthorized(t, p.CanApprove(context.Background(), lead, job), "only <@U0SRE1> or <@U0SRE2> can approve this request (rule gpu)")
	r.plan.Pool = "np1"
	if got := decide(p, coder, "C0OPS", r); !strings.HasPrefix(got, "needs 1 from <@U0LEAD> <@U0SRE1> <@U0SRE2> (rule default") {
		t.Errorf("developer on another pool: %s", got)
	}
}

func TestDescribeEKS(t *testing.T) {
	p := eksPolicy(t)
	got := p.Describe(context.Background(), eksTarget("eu-west-1", account, "web-prod", ""))
	want := `*Policy for eks · eu-west-1 · web-prod*: rule *eks-prod* (AWS accounts 123456789012; AWS regions eu-*, us-east-1; clusters *-prod)
• Requests: by <!subteam^S0PLATFORM>, in <#C0OPS>
• Approval: 2 approvals from <!subteam^S0SRE> (never the requester's own), for eks.nodegroup.create, eks.nodegroup.upgrade, eks.nodegroup.delete; eks.nodegroup.scale when they add nodes; pending requests expire after 1h
• No approval: scale-downs
• Guardrails: at most 30 nodes per node group; at most 100 nodes per cluster; instance types m6i.*, m7i.*; Kubernetes 1.30, 1.31
• For node groups gpu-*: rule *eks-gpu* instead`
	if got != want {
		t.Errorf("Describe(web-prod):\n%s\nwant:\n%s", got, want)
	}
	got = p.Describe(context.Background(), apiDev)
	for _, w := range []string{"rule *eks-dev* (EKS; clusters *-dev)", "• Auto-approved: scale-ups adding at most 2 nodes and leaving at most 10 in the node group",
		"• Guardrails: at most 20 nodes per node group; instance types t3.*, m6i.*; regions eu-west-1"} {
		if !strings.Contains(got, w) {
			t.Errorf("Describe(api-dev) lacks %q:\n%s", w, got)
		}
	}
	// An AKS cluster sees only AKS kinds, and no EKS rule.
	got = p.Describe(context.Background(), aks.Target{ResourceGroup: "rg-prod-weu", Cluster: "web-prod"})
	if !strings.Contains(got, "rule *aks-prod* (resource groups rg-prod-*)") || strings.Contains(got, "eks.") || strings.Contains(got, "node group") {
		t.Errorf("Describe(AKS web-prod):\n%s", got)
	}
}

func TestWhoAmINamesTheCloud(t *testing.T) {
	got, err := eksPolicy(t).WhoAmI(context.Background(), sre1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"• *eks-gpu* (EKS; node groups gpu-*): request in <#C0OPS>; approve others' requests (2 approvals each)",
		"• *eks-prod* (AWS accounts 123456789012; AWS regions eu-*, us-east-1; clusters *-prod): request in <#C0OPS>",
		"• *eks-dev* (EKS; clusters *-dev)",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("WhoAmI lacks %q:\n%s", w, got)
		}
	}
	// Catch-alls for each cloud leave the default rule nothing to decide.
	p := mustNew(t, config.PolicyFile{Approvers: []string{"U0LEAD"}, Rules: []config.RuleFile{
		{Name: "all-eks", Match: config.MatchFile{Providers: []string{"eks"}}},
		{Name: "all-aks", Match: config.MatchFile{Providers: []string{"aks"}}},
	}})
	if got, _ := p.WhoAmI(context.Background(), lead); strings.Contains(got, "*default*") || !strings.Contains(got, "*all-aks* (AKS)") {
		t.Errorf("WhoAmI with a catch-all per cloud:\n%s", got)
	}
}

func TestExplainEKS(t *testing.T) {
	p := eksPolicy(t)
	ctx := context.Background()
	q := Query{User: sre1, Target: webProd, Op: aks.OpNodegroupScale, From: 3, To: 5}
	got := Explain(ctx, p, q)
	for _, w := range []string{"Request: sam (U0SRE1) asks to scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes",
		"Rule: eks-prod (policy.rules[1]) (AWS accounts 123456789012; AWS regions eu-*, us-east-1; clusters *-prod)",
		"Decision: allowed after 2 approvals from <!subteam^S0SRE>"} {
		if !strings.Contains(got, w) {
			t.Errorf("Explain lacks %q:\n%s", w, got)
		}
	}
	q.MaxSize = 40
	if got := Explain(ctx, p, q); !strings.Contains(got, "Decision: refused: rule eks-prod allows at most 30 nodes per node group; this asks for 40") {
		t.Errorf("max size: %s", got)
	}
	// A scale that sets the max is not auto-approved: its old value is unknown here.
	q = Query{User: coder, Target: apiDev, Op: aks.OpNodegroupScale, From: 3, To: 4}
	if got := Explain(ctx, p, q); !strings.Contains(got, "auto-approved by rule eks-dev: +1 node, 4 in the node group") {
		t.Errorf("dev: %s", got)
	}
	q.MaxSize = 5
	if got := Explain(ctx, p, q); !strings.Contains(got, "Decision: allowed after 1 approval") {
		t.Errorf("dev with a max: %s", got)
	}
	q = Query{User: plat, Target: webProd, Op: aks.OpNodegroupCreate, To: 2, MaxSize: 4, VMSize: "m6i.large,c5.large", Version: "1.31"}
	if got := Explain(ctx, p, q); !strings.Contains(got, "this asks for c5.large (of m6i.large, c5.large)") {
		t.Errorf("create: %s", got)
	}
	q = Query{User: plat, Target: webProd, Op: aks.OpPoolScale, From: 1, To: 2}
	if got := Explain(ctx, p, q); !strings.Contains(got, "Decision: refused: nodepool.scale is an operation on AKS, and eks · eu-west-1 · web-prod is an EKS cluster (known kinds: eks.nodegroup.create, eks.nodegroup.scale, eks.nodegroup.upgrade, eks.nodegroup.delete)") {
		t.Errorf("AKS kind on EKS: %s", got)
	}
}
