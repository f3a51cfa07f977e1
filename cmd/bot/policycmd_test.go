package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// teamExample is the README's example configuration.
var teamExample = filepath.Join("..", "..", "internal", "config", "testdata", "team.yaml")

func TestPolicyCheckTeamExample(t *testing.T) {
	want := []string{
		"team.yaml: valid\n",
		"Defaults: resource group rg-dev-weu, location westeurope\n",
		"  1. prod: resource groups rg-prod-*; clusters prod-*\n" +
			"     approval: 2 from S0SRE, for cluster.create, cluster.delete, cluster.upgrade, nodepool.delete, nodepool.upgrade, nodepool.scale, nodepool.add, nodepool.update\n",
		"  2. dev: resource groups rg-dev-*\n" +
			"     approval: 1 from S0SRE, U0LEAD, for cluster.create, cluster.delete, cluster.upgrade, nodepool.add, nodepool.scale, nodepool.update, nodepool.delete, nodepool.upgrade\n" +
			"     auto-approved: scale-ups adding at most 2 nodes, leaving at most 10 in the pool\n",
		"  default: clusters no rule matches\n     approval: 1 from S0SRE, U0LEAD, for cluster.create",
	}
	// FILE as an argument, and from AKSBOT_CONFIG.
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"policy", "check", teamExample}},
		{map[string]string{"AKSBOT_CONFIG": teamExample}, []string{"policy", "check"}},
	} {
		out, errOut, code := runCLI(t, tc.env, tc.args...)
		if code != exitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out, "Note:") {
			t.Errorf("unexpected note:\n%s", out)
		}
	}
}

const contradictoryPolicy = `policy:
  approvers: [U0A, U0B]
  rules:
    - name: everything
      approvals: 3
    - name: prod
      match: {clusters: ["prod-*"]}
      guardrails: {maxNodesPerPool: 30, maxNodesPerCluster: 20}
`

func TestPolicyCheckReportsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	writeConfig(t, file, contradictoryPolicy)
	out, errOut, code := runCLI(t, nil, "policy", "check", file)
	if code != exitFailure || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, w := range []string{
		file + ": 3 problems:\n",
		"  policy.rules[0].approvals: 3 approvals can never be given: policy.approvers lists only 2 approver(s)\n",
		"  policy.rules[1]: never applies: policy.rules[0] matches every cluster and comes first",
		"  policy.rules[1].guardrails.maxNodesPerPool: 30 is more than maxNodesPerCluster (20)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "valid") {
		t.Errorf("an invalid file is called valid:\n%s", out)
	}
}

func TestPolicyCheckFileProblems(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	out, errOut, code := runCLI(t, nil, "policy", "check", missing)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "aksbot policy check: cannot read "+missing) {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	bad := filepath.Join(dir, "typo.yaml")
	writeConfig(t, bad, "policy:\n  aprovers: [U0A]\n")
	out, _, code = runCLI(t, nil, "policy", "check", bad)
	if code != exitFailure || !strings.Contains(out, "1 problem:\n  policy.aprovers:") {
		t.Errorf("unknown key: exit %d, stdout:\n%s", code, out)
	}

	// Without FILE and AKSBOT_CONFIG it reads aksbot.yaml in the working directory.
	t.Chdir(dir)
	writeConfig(t, "aksbot.yaml", "policy:\n  approvers: [U0A]\n")
	out, _, code = runCLI(t, nil, "policy", "check")
	if code != exitOK || !strings.Contains(out, "aksbot.yaml: valid") {
		t.Errorf("aksbot.yaml: exit %d, stdout:\n%s", code, out)
	}
}

func TestPolicyCheckNotesMissingApprovers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "empty.yaml")
	writeConfig(t, file, "azure: {resourceGroup: rg-x}\n")
	out, _, code := runCLI(t, nil, "policy", "check", file)
	if code != exitOK || !strings.Contains(out, "Note: policy.approvers is empty, so the bot refuses this file with Slack") {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
}

func TestPolicyExplain(t *testing.T) {
	const groups = "S0PLATFORM=U0PLAT1,U0PLAT2"
	prod := []string{"--cluster", "prod-1", "-g", "rg-prod-weu", "--pool", "np1"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"needs 2 approvals",
			append([]string{"--user", "U0PLAT1", "--op", "nodepool.scale", "--from", "3", "--to", "10", "--channel", "C0PRODOPS",
				"--group", groups, "--group", "S0SRE=U0SRE1,U0SRE2"}, prod...),
			[]string{"Request: U0PLAT1 asks to scale pool np1 of rg-prod-weu/prod-1 to 10 nodes in C0PRODOPS\n",
				"Rule: prod (policy.rules[0])",
				"Decision: allowed after 2 approvals from <!subteam^S0SRE> (not the requester); it expires after 30m without them\n"}},
		{"refused: not a requester",
			append([]string{"--user", "U0DEV", "--op", "nodepool.scale", "--from", "3", "--to", "4", "--group", groups}, prod...),
			[]string{"Decision: refused: you are not allowed to request operations on rg-prod-weu/prod-1 (rule prod): only <!subteam^S0PLATFORM> can"}},
		{"refused: guardrail",
			append([]string{"--user", "U0PLAT2", "--op", "nodepool.scale", "--from", "3", "--to", "60", "--group", groups}, prod...),
			[]string{"Decision: refused: rule prod allows at most 50 nodes per pool; this asks for 60"}},
		{"refused: create in a forbidden location",
			[]string{"--user", "U0PLAT1", "--cluster", "prod-9", "-g", "rg-prod-us", "--op", "cluster.create", "--to", "3",
				"--vm-size", "Standard_D4s_v5", "--location", "eastus", "--version", "1.31.2", "--group", groups},
			[]string{"Decision: refused: rule prod allows only the locations westeurope, northeurope; this asks for eastus"}},
		{"allowed: scale-down",
			append([]string{"--user", "U0PLAT1", "--op", "nodepool.scale", "--from", "10", "--to", "3", "--group", groups}, prod...),
			[]string{"Decision: allowed without approval: rule prod needs none for this\n", "Channels: <#C0PRODOPS> (not checked)\n"}},
		{"auto-approved, resource group from the file",
			[]string{"--user", "U0DEV", "--cluster", "dev-1", "--op", "nodepool.scale", "--from", "3", "--to", "5"},
			[]string{"asks to scale pool nodepool1 of rg-dev-weu/dev-1 to 5 nodes\n", "Rule: dev (policy.rules[1])",
				"Decision: allowed without approval: auto-approved by rule dev: +2 nodes, 5 in the pool"}},
		{"unknown group fails closed and says so",
			append([]string{"--user", "U0PLAT1", "--op", "nodepool.scale", "--from", "3", "--to", "4"}, prod...),
			[]string{"Decision: refused: could not check membership of <!subteam^S0PLATFORM>",
				"Note: user groups not given with --group are treated as unresolvable (decisions that depend on them are refused): S0PLATFORM, S0SRE\n"}},
		{"flags before FILE",
			nil,
			[]string{"Decision: allowed without approval: auto-approved by rule dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"policy", "explain", teamExample}, tt.args...)
			if tt.args == nil {
				args = []string{"policy", "explain", "--user", "U0DEV", "--cluster", "dev-1", "--op", "nodepool.scale", "--from", "3", "--to", "5", teamExample}
			}
			out, errOut, code := runCLI(t, nil, args...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(tt.name, "2 approvals") && strings.Contains(out, "Note:") {
				t.Errorf("a note about groups although all were given:\n%s", out)
			}
		})
	}
}

func TestPolicyExplainUsageMistakes(t *testing.T) {
	base := []string{"policy", "explain", teamExample, "--user", "U0A", "--cluster", "c1"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"policy", "explain", "--user", "U0A", "--cluster", "c", "--op", "cluster.start"}, "give one configuration FILE, got 0 arguments"},
		{append(base[:3:3], "--cluster", "c", "--op", "cluster.start"), "--user is required"},
		{append(base[:3:3], "--user", "alice", "--cluster", "c", "--op", "cluster.start"), `--user "alice" is not a Slack user ID`},
		{append(base[:3:3], "--user", "U0A", "--op", "cluster.start"), "--cluster is required"},
		{base, "--op is required; one of cluster.create, cluster.delete"},
		{append(base, "--op", "nodepool.teleport"), `--op "nodepool.teleport" is not an operation kind; use one of cluster.create, cluster.delete, cluster.upgrade, cluster.start, cluster.stop, nodepool.add, nodepool.scale, nodepool.update, nodepool.delete, nodepool.upgrade`},
		{append(base, "--op", "nodepool.scale"), "--to is needed for nodepool.scale"},
		{append(base, "--op", "cluster.start", "--channel", "#ops"), `--channel "#ops" is not a Slack channel ID`},
		{append(base, "--op", "cluster.start", "--group", "sre=U0A"), `invalid value "sre=U0A" for flag -group: "sre=U0A": write GROUP=USER,USER`},
		{append(base, "--op", "cluster.start", "--group", "S0SRE=bob"), `"bob" is not a Slack user ID`},
		{append(base, "--op", "cluster.start", "--from", "x"), `invalid value "x" for flag -from`},
		{append(base, "--op", "cluster.start", "extra"), "give one configuration FILE, got 2 arguments"},
		{[]string{"policy", "check", "a.yaml", "b.yaml"}, "one FILE at most, got 2 arguments"},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, nil, tt.args...)
		usage := "Usage: aksbot " + strings.Join(tt.args[:2], " ")
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, usage) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, code, out, errOut)
		}
	}
	// Help after FILE is still help.
	out, _, code := runCLI(t, nil, "policy", "explain", teamExample, "--help")
	if code != exitOK || !strings.Contains(out, "Usage: aksbot policy explain [flags] FILE") || !strings.Contains(out, "fail closed") {
		t.Errorf("explain FILE --help: exit %d:\n%s", code, out)
	}
}

func TestPolicyExplainInvalidFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	writeConfig(t, file, contradictoryPolicy)
	out, _, code := runCLI(t, nil, "policy", "explain", file, "--user", "U0A", "--cluster", "c", "--op", "cluster.start")
	if code != exitFailure || !strings.Contains(out, "policy.rules[0].approvals: 3 approvals can never be given") {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
}

func TestPolicyCheckShowsCostLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cost.yaml")
	writeConfig(t, file, "prices: {currency: EUR}\npolicy:\n  approvers: [U0LEAD]\n  rules:\n    - name: dev\n"+
		"      autoApprove:\n        scaleUp: {maxAddedNodes: 2, maxPoolNodes: 10, maxMonthlyCostIncrease: 500}\n"+
		"      guardrails:\n        maxMonthlyCostIncrease: 3000\n")
	out, errOut, code := runCLI(t, nil, "policy", "check", file)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, w := range []string{"leaving at most 10 in the pool, costing at most EUR 500/month more\n",
		"cost limit: at most EUR 3,000/month more per request, at list prices (refused when the price list cannot be read)\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestPolicyExplainSubscription(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subs.yaml")
	writeConfig(t, file, `azure:
  subscriptions: {dev: 11111111-1111-1111-1111-111111111111, prod: 22222222-2222-2222-2222-222222222222}
  defaultSubscription: dev
policy:
  approvers: [U0LEAD]
  rules:
    - name: prod
      match: {subscriptions: [prod]}
      approvers: [U0SRE1, U0SRE2]
      approvals: 2
`)
	args := []string{"policy", "explain", file, "--user", "U0DEV", "--cluster", "demo", "--op", "nodepool.scale", "--from", "3", "--to", "5"}
	out, errOut, code := runCLI(t, nil, append(args, "--subscription", "prod")...)
	if code != exitOK || !strings.Contains(out, "Rule: prod (policy.rules[0]) (subscriptions prod)") || !strings.Contains(out, "prod · rg-aks/demo") {
		t.Errorf("prod: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, _, code = runCLI(t, nil, args...)
	if code != exitOK || !strings.Contains(out, "Rule: default") {
		t.Errorf("default (dev): exit %d, stdout:\n%s", code, out)
	}
	_, errOut, code = runCLI(t, nil, append(args, "--subscription", "stage")...)
	if code != exitUsage || !strings.Contains(errOut, `unknown subscription "stage": known: dev, prod`) {
		t.Errorf("stage: exit %d, stderr %q", code, errOut)
	}
	out, _, _ = runCLI(t, nil, "policy", "check", file)
	if !strings.Contains(out, "subscriptions prod") {
		t.Errorf("policy check does not show the rule's subscriptions:\n%s", out)
	}
}

// eksExample is the README's EKS example configuration.
var eksExample = filepath.Join("..", "..", "internal", "config", "testdata", "eks.yaml")

func TestPolicyCheckEKSExample(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "policy", "check", eksExample)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	wantOutput(t, out,
		"EKS: regions eu-west-1, us-east-1 (default eu-west-1); account 123456789012; node-group defaults for us-east-1/web-prod, web-prod\n",
		"  1. eks-gpu: providers eks; pools gpu-*\n     approval: 2 from S0SRE, for eks.nodegroup.create, eks.nodegroup.scale, eks.nodegroup.upgrade, eks.nodegroup.delete\n",
		"  2. eks-prod: AWS accounts 123456789012; AWS regions eu-*, us-east-1; clusters *-prod\n     approval: 2 from S0SRE, for eks.nodegroup.create, eks.nodegroup.scale, eks.nodegroup.upgrade, eks.nodegroup.delete\n",
		// resourceGroups make aks-prod an AKS rule: the EKS kinds are not its business.
		"  3. aks-prod: resource groups rg-prod-*\n     approval: 2 from S0SRE, for cluster.create, cluster.delete, cluster.upgrade, nodepool.add, nodepool.scale, nodepool.update, nodepool.delete, nodepool.upgrade\n",
		"  default: clusters no rule matches\n     approval: 1 from S0SRE, U0LEAD, for cluster.create, cluster.delete, cluster.upgrade, nodepool.add, nodepool.scale, nodepool.update, nodepool.delete, nodepool.upgrade, eks.nodegroup.create, eks.nodegroup.scale, eks.nodegroup.upgrade, eks.nodegroup.delete\n",
	)
	if strings.Contains(out, "Note:") {
		t.Errorf("unexpected note:\n%s", out)
	}
}

// A rule that lists only AKS kinds but matches EKS clusters takes EKS's default approvals: the
// check says so, since a file written before EKS existed may mean otherwise.
func TestPolicyCheckNotesRulesWithoutEKSKinds(t *testing.T) {
	file := filepath.Join(t.TempDir(), "old.yaml")
	writeConfig(t, file, "policy:\n  approvers: [U0LEAD]\n  rules:\n"+
		"    - name: prod\n      match: {clusters: [\"*-prod\"]}\n      requireApprovalFor: [cluster.delete]\n"+
		"    - name: aks-dev\n      match: {providers: [aks], clusters: [\"*-dev\"]}\n      requireApprovalFor: [cluster.delete]\n"+
		"    - name: none\n      match: {clusters: [lab]}\n      requireApprovalFor: []\n")
	out, _, code := runCLI(t, nil, "policy", "check", file)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := "Note: rule prod matches EKS clusters and its requireApprovalFor lists no eks.nodegroup.* kind, so EKS operations under it need approval as by default " +
		"(eks.nodegroup.create, eks.nodegroup.scale, eks.nodegroup.upgrade, eks.nodegroup.delete); list the EKS kinds that should, or add providers: [aks] to its match\n"
	if !strings.Contains(out, want) || strings.Count(out, "Note:") != 1 {
		t.Errorf("want exactly the note on rule prod:\n%s", out)
	}
}

func TestPolicyExplainEKS(t *testing.T) {
	const groups = "S0PLATFORM=U0PLAT1,U0DEV"
	base := []string{"policy", "explain", eksExample, "--group", groups, "--group", "S0SRE=U0SRE1,U0SRE2"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"prod scale-up: the region from the file, two approvals",
			[]string{"--user", "U0PLAT1", "--cluster", "web-prod", "--op", "eks.nodegroup.scale", "--pool", "ng-web", "--from", "3", "--to", "5"},
			[]string{"Request: U0PLAT1 asks to scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes\n",
				"Rule: eks-prod (policy.rules[1]) (AWS accounts 123456789012; AWS regions eu-*, us-east-1; clusters *-prod)\n",
				"Decision: allowed after 2 approvals from <!subteam^S0SRE>"}},
		{"another account: the default rule",
			[]string{"--user", "U0PLAT1", "--cluster", "web-prod", "--provider", "eks", "--account", "999999999999", "--region", "us-east-1",
				"--op", "eks.nodegroup.scale", "--pool", "ng-web", "--from", "3", "--to", "5"},
			[]string{"of eks · us-east-1 · web-prod", "Rule: default (policy)", "Decision: allowed after 1 approval"}},
		{"max size above the guardrail",
			[]string{"--user", "U0PLAT1", "--cluster", "web-prod", "--op", "eks.nodegroup.scale", "--pool", "ng-web", "--from", "3", "--to", "5", "--max-size", "40"},
			[]string{"Decision: refused: rule eks-prod allows at most 30 nodes per node group; this asks for 40"}},
		{"create with an instance type not allowed",
			[]string{"--user", "U0PLAT1", "--cluster", "web-prod", "--op", "eks.nodegroup.create", "--pool", "ng-new", "--to", "2", "--max-size", "4",
				"--instance-types", "m6i.large, c5.large", "--version", "1.31"},
			[]string{"Decision: refused: rule eks-prod allows only the instance types m6i.*, m7i.*; this asks for c5.large (of m6i.large, c5.large)"}},
		{"dev auto-approval",
			[]string{"--user", "U0DEV", "--cluster", "api-dev", "--op", "eks.nodegroup.scale", "--pool", "ng-api", "--from", "3", "--to", "4"},
			[]string{"Rule: eks-dev (policy.rules[3]) (EKS; clusters *-dev)", "auto-approved by rule eks-dev: +1 node, 4 in the node group"}},
		{"AKS as before",
			[]string{"--user", "U0PLAT1", "--cluster", "prod-1", "-g", "rg-prod-weu", "--op", "nodepool.scale", "--from", "3", "--to", "5"},
			[]string{"scale pool nodepool1 of rg-prod-weu/prod-1 to 5 nodes", "Rule: aks-prod (policy.rules[2])", "Decision: allowed after 2 approvals"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, append(base, tt.args...)...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			wantOutput(t, out, tt.want...)
		})
	}
}

func TestPolicyExplainEKSUsageMistakes(t *testing.T) {
	base := []string{"policy", "explain", eksExample, "--user", "U0A", "--cluster", "web-prod"}
	noRegions := filepath.Join(t.TempDir(), "noregions.yaml")
	writeConfig(t, noRegions, "policy:\n  approvers: [U0LEAD]\n")
	tests := []struct {
		args []string
		want string
	}{
		{append(base, "--op", "eks.nodegroup.scale", "--pool", "ng", "--to", "3", "--provider", "gke"), `--provider "gke": use aks or eks`},
		{append(base, "--op", "eks.nodegroup.scale", "--pool", "ng", "--to", "3", "--provider", "aks"), "--op eks.nodegroup.scale is an operation on EKS, not AKS"},
		{append(base, "--op", "nodepool.scale", "--to", "3", "--provider", "eks"), "--op nodepool.scale is an operation on AKS, not EKS"},
		{append(base, "--op", "eks.nodegroup.scale", "--to", "3"), "--pool is required for eks.nodegroup.scale: the node group"},
		{append(base, "--op", "eks.nodegroup.scale", "--pool", "ng"), "--to is needed for eks.nodegroup.scale"},
		{append(base, "--op", "eks.nodegroup.delete", "--pool", "ng", "-g", "rg-prod"), "-g, --subscription, --location and --vm-size are for AKS"},
		{append(base, "--op", "nodepool.delete", "--region", "eu-west-1"), "--region, --account, --max-size and --instance-types are for EKS node groups"},
		{append(base, "--op", "eks.nodegroup.delete", "--pool", "ng", "--region", "westeurope"), `--region "westeurope" is not an AWS region`},
		{append(base, "--op", "eks.nodegroup.delete", "--pool", "ng", "--account", "1234"), `--account "1234" is not an AWS account ID (12 digits)`},
		{append(base, "--op", "eks.nodegroup.scale", "--pool", "ng", "--to", "3", "--max-size", "-1"), "--max-size -1: give a node count of at least 1"},
		{[]string{"policy", "explain", noRegions, "--user", "U0A", "--cluster", "web", "--op", "eks.nodegroup.delete", "--pool", "ng"}, "--region is needed: the file lists no aws.regions"},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, nil, tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, code, out, errOut)
		}
	}
}

// wantOutput checks that out holds each of want.
func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
