package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
)

func TestExplain(t *testing.T) {
	p := teamPolicy(t, teamG)
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"prod scale-up needs two SREs",
			Query{User: plat, Channel: "C0PRODOPS", Target: prodPool, Op: aks.OpPoolScale, From: 3, To: 10},
			`Request: pat (U0PLAT1) asks to scale pool np1 of rg-prod-weu/prod-1 to 10 nodes in C0PRODOPS
Rule: prod (policy.rules[0]) (resource groups rg-prod-*; clusters prod-*)
Decision: allowed after 2 approvals from <!subteam^S0SRE> (not the requester); it expires after 30m without them`},
		{"prod guardrail",
			Query{User: plat, Channel: "C0PRODOPS", Target: prodPool, Op: aks.OpPoolScale, From: 3, To: 60},
			`Request: pat (U0PLAT1) asks to scale pool np1 of rg-prod-weu/prod-1 to 60 nodes in C0PRODOPS
Rule: prod (policy.rules[0]) (resource groups rg-prod-*; clusters prod-*)
Decision: refused: rule prod allows at most 50 nodes per pool; this asks for 60 (ask for at most 50 nodes; the limits are in policy.rules[0].guardrails of the bot's configuration)`},
		{"dev auto-approval, channel not given",
			Query{User: coder, Target: devPool, Op: aks.OpPoolScale, From: 3, To: 5},
			`Request: dana (U0DEV) asks to scale pool np1 of rg-dev-weu/dev-1 to 5 nodes
Rule: dev (policy.rules[1]) (resource groups rg-dev-*)
Decision: allowed without approval: auto-approved by rule dev: +2 nodes, 5 in the pool (the rule allows up to +2 and at most 10 in the pool)
Channels: <#C0OPS> or <#C0DEVOPS> (not checked)`},
		{"developer on a default cluster",
			Query{User: coder, Channel: "C0OPS", Target: otherPool, Op: aks.OpClusterDelete, From: 3},
			`Request: dana (U0DEV) asks to delete cluster rg-shared/tools in C0OPS
Rule: default (policy) (clusters no other rule matches)
Decision: refused: you are not allowed to request operations on rg-shared/tools (rule default): only <!subteam^S0PLATFORM> can (ask an administrator to add you (or your user group) to policy.requesters)`},
		{"scale-down goes ahead",
			Query{User: plat, Channel: "C0PRODOPS", Target: prodPool, Op: aks.OpPoolScale, From: 10, To: 3},
			`Request: pat (U0PLAT1) asks to scale pool np1 of rg-prod-weu/prod-1 to 3 nodes in C0PRODOPS
Rule: prod (policy.rules[0]) (resource groups rg-prod-*; clusters prod-*)
Decision: allowed without approval: rule prod needs none for this`},
		{"prod create in a forbidden location",
			Query{User: plat, Channel: "C0PRODOPS", Target: aks.Target{ResourceGroup: "rg-prod-us", Cluster: "prod-9"}, Op: aks.OpClusterCreate, To: 3, VMSize: "Standard_D4s_v5", Location: "eastus", Version: "1.31.2"},
			`Request: pat (U0PLAT1) asks to create cluster rg-prod-us/prod-9 in eastus with 3 nodes in C0PRODOPS
Rule: prod (policy.rules[0]) (resource groups rg-prod-*; clusters prod-*)
Decision: refused: rule prod allows only the locations westeurope, northeurope; this asks for eastus (pick one of them with --location; the limits are in policy.rules[0].guardrails of the bot's configuration)`},
		{"dev autoscaler max raised",
			Query{User: coder, Channel: "C0DEVOPS", Target: devPool, Op: aks.OpPoolAutoscale, From: 5, To: 9},
			`Request: dana (U0DEV) asks to autoscale pool np1 of rg-dev-weu/dev-1 between 1 and 9 nodes in C0DEVOPS
Rule: dev (policy.rules[1]) (resource groups rg-dev-*)
Decision: allowed after 1 approval from <!subteam^S0SRE> or <@U0LEAD> (not the requester); it expires after 4h without them`},
		{"unknown operation",
			Query{User: plat, Channel: "C0OPS", Target: otherPool, Op: "nodepool.teleport"},
			`Request: pat (U0PLAT1) asks to nodepool.teleport rg-shared/tools/np1 in C0OPS
Rule: default (policy) (clusters no other rule matches)
Decision: refused: "nodepool.teleport" is not an operation kind (known: cluster.create, cluster.delete, cluster.upgrade, cluster.start, cluster.stop, nodepool.add, nodepool.scale, nodepool.update, nodepool.delete, nodepool.upgrade)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Explain(context.Background(), p, tt.q); got != tt.want {
				t.Errorf("Explain:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// Explain without a channel still checks who asks.
func TestExplainWithoutChannelChecksRequester(t *testing.T) {
	p := teamPolicy(t, teamG)
	got := Explain(context.Background(), p, Query{User: coder, Target: prodPool, Op: aks.OpPoolScale, From: 1, To: 2})
	if !strings.Contains(got, "Decision: refused: you are not allowed to request operations on rg-prod-weu/prod-1 (rule prod)") {
		t.Errorf("Explain:\n%s", got)
	}
}

func TestDescribeWithoutApprovers(t *testing.T) {
	p := mustNew(t, config.PolicyFile{})
	got := p.Describe(context.Background(), otherPool)
	if !strings.Contains(got, "nobody can give it: add approvers to policy.approvers") {
		t.Errorf("Describe:\n%s", got)
	}
	off := mustNew(t, config.PolicyFile{RequireApproval: &bFalse})
	if got := off.Describe(context.Background(), otherPool); !strings.Contains(got, "Approval: not needed for any operation") || !strings.Contains(got, "by anyone, in any channel") {
		t.Errorf("Describe with approvals off:\n%s", got)
	}
}

// Without approvers (a console file that names none), a request needing approval is refused at
// once with the reason, instead of waiting for nobody.
func TestEvaluateWithoutApprovers(t *testing.T) {
	p := mustNew(t, config.PolicyFile{})
	got := decide(p, coder, "C0ANY", kindReq(otherPool, aks.OpClusterDelete))
	if !strings.Contains(got, "refused plan: unauthorized: delete cluster rg-shared/tools needs 1 approval under rule default, but the rule lists no approvers (ask an administrator to add approvers to policy.approvers)") {
		t.Errorf("decision: %s", got)
	}
	if got := decide(p, coder, "C0ANY", scaleReq(otherPool, 3, 1)); !strings.HasPrefix(got, "free (rule default") {
		t.Errorf("scale-down: %s", got)
	}
}
