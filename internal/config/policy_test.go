package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// The README's example: a platform team with dev and prod clusters.
func TestParseTeamExample(t *testing.T) {
	data, err := os.ReadFile("testdata/team.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("team.yaml: %v", err)
	}
	p := f.Policy
	if strings.Join(p.Approvers, ",") != "S0SRE,U0LEAD" || strings.Join(p.Requesters, ",") != "S0PLATFORM" || strings.Join(p.Channels, ",") != "C0OPS" {
		t.Errorf("defaults = %v %v %v", p.Approvers, p.Requesters, p.Channels)
	}
	if p.ApprovalTimeout.Duration != time.Hour || p.GroupCacheTTL.Duration != 5*time.Minute || !p.ApprovalsRequired() {
		t.Errorf("approvalTimeout %v, groupCacheTTL %v, requireApproval %v", p.ApprovalTimeout, p.GroupCacheTTL, p.ApprovalsRequired())
	}
	if len(p.Rules) != 2 {
		t.Fatalf("rules = %d, want 2", len(p.Rules))
	}
	prod, dev := p.Rules[0], p.Rules[1]
	if prod.Name != "prod" || strings.Join(prod.Match.ResourceGroups, ",") != "rg-prod-*" || strings.Join(prod.Match.Clusters, ",") != "prod-*" {
		t.Errorf("prod match = %+v", prod.Match)
	}
	if prod.Approvals == nil || *prod.Approvals != 2 || prod.ApprovalTimeout == nil || prod.ApprovalTimeout.Duration != 30*time.Minute {
		t.Errorf("prod approvals %v, timeout %v", prod.Approvals, prod.ApprovalTimeout)
	}
	if len(prod.RequireApprovalFor) != 8 || prod.AutoApprove.ScaleUp != nil {
		t.Errorf("prod requireApprovalFor %v, autoApprove %+v", prod.RequireApprovalFor, prod.AutoApprove)
	}
	g := prod.Guardrails
	if g.MaxNodesPerPool != 50 || g.MaxNodesPerCluster != 200 || len(g.VMSizes) != 2 || len(g.Locations) != 2 || strings.Join(g.KubernetesVersions, ",") != "1.30.*,1.31.*" {
		t.Errorf("prod guardrails = %+v", g)
	}
	// dev writes requesters: [] (anyone), and leaves approvers and requireApprovalFor to the defaults.
	if dev.Requesters == nil || len(dev.Requesters) != 0 || dev.Approvers != nil || dev.RequireApprovalFor != nil || dev.Approvals != nil {
		t.Errorf("dev = %+v", dev)
	}
	if s := dev.AutoApprove.ScaleUp; s == nil || s.MaxAddedNodes != 2 || s.MaxPoolNodes != 10 {
		t.Errorf("dev autoApprove = %+v", dev.AutoApprove)
	}
	if got := p.RuleRequireApprovalFor(1); len(got) != len(DefaultRequireApprovalFor) {
		t.Errorf("dev requires approval for %v, want the default", got)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	f, err := Parse([]byte("policy:\n  approvers: [S0SRE]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Policy.ApprovalTimeout.Duration != DefaultApprovalTimeout || f.Policy.GroupCacheTTL.Duration != DefaultGroupCacheTTL || f.Policy.Rules != nil {
		t.Errorf("policy = %+v", f.Policy)
	}
	if got := f.Policy.RuleRequireApprovalFor(-1); len(got) != 8 || got[0] != aks.OpClusterCreate {
		t.Errorf("default requireApprovalFor = %v", got)
	}
	off := false
	if got := (PolicyFile{RequireApproval: &off}).RuleRequireApprovalFor(-1); got != nil {
		t.Errorf("requireApproval false: default rule requires %v", got)
	}
}

// Every mistake in a policy section is refused with the key path and the reason.
func TestParsePolicyErrors(t *testing.T) {
	rule := func(body string) string { return "policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: prod\n" + body }
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"group as approver is fine, channel is not", "policy:\n  approvers: [S0SRE, C0OPS]\n", []string{`policy.approvers[1]: "C0OPS" is not a Slack user ID (U… or W…) or user group ID (S…)`}},
		{"bad requester in a rule", rule("      requesters: [platform]\n"), []string{`policy.rules[0].requesters[0]: "platform" is not a Slack user ID`}},
		{"bad channel in a rule", rule("      channels: [\"#prod\"]\n"), []string{`policy.rules[0].channels[0]: "#prod" is not a Slack channel ID`}},
		{"unknown key in a rule", rule("      approver: [U0A]\n"), []string{"policy.rules[0].approver: unknown key", "approvers"}},
		{"unknown key in match", rule("      match: {cluster: [prod]}\n"), []string{"policy.rules[0].match.cluster: unknown key", "accounts, clusters, pools, providers, regions, resourceGroups, subscriptions"}},
		{"unknown guardrail", rule("      guardrails: {maxNodes: 3}\n"), []string{"policy.rules[0].guardrails.maxNodes: unknown key", "maxNodesPerPool"}},
		{"rules not a list", "policy:\n  rules: {name: prod}\n", []string{"policy.rules: expected a list, like [{name: prod"}},
		{"match list not a list", rule("      match: {clusters: prod-*}\n"), []string{`policy.rules[0].match.clusters: expected a list, like ["prod-*"]`}},
		{"approvals not a number", rule("      approvals: two\n"), []string{"policy.rules[0].approvals: cannot unmarshal", "(line 5)"}},
		{"approvals zero", rule("      approvals: 0\n"), []string{"policy.rules[0].approvals: 0: at least 1 approval is needed"}},
		{"more approvals than approvers", rule("      approvers: [U0A1, U0A2]\n      approvals: 3\n"), []string{"policy.rules[0].approvals: 3 approvals can never be given: policy.rules[0].approvers lists only 2 approver(s)"}},
		{"more approvals than inherited approvers", rule("      approvals: 2\n"), []string{"policy.rules[0].approvals: 2 approvals can never be given: policy.approvers lists only 1"}},
		{"rule needs approval but no approvers", "policy:\n  rules:\n    - name: prod\n", []string{"policy.rules[0]: needs approval for cluster.create", "nobody can give it", "policy.rules[0].approvers or policy.approvers"}},
		{"rule written with empty approvers", rule("      approvers: []\n"), []string{"policy.rules[0]: needs approval for", "nobody can give it"}},
		{"approvals with approvals off", "policy:\n  requireApproval: false\n  approvers: [U0A1, U0A2]\n  rules:\n    - name: prod\n      approvals: 2\n", []string{"policy.rules[0].approvals: has no effect"}},
		{"unknown op kind", rule("      requireApprovalFor: [cluster.delete, cluster.destroy]\n"), []string{`policy.rules[0].requireApprovalFor[1]: "cluster.destroy" is not an operation kind (known: cluster.create`}},
		{"bad glob", rule("      match: {clusters: [\"prod-[\"]}\n"), []string{`policy.rules[0].match.clusters[0]: "prod-[" is not a valid glob pattern`}},
		{"bad version glob", rule("      guardrails: {kubernetesVersions: [\"1.3[0-\"]}\n"), []string{`policy.rules[0].guardrails.kubernetesVersions[0]: "1.3[0-" is not a valid glob pattern`}},
		{"empty pattern", rule("      match: {resourceGroups: [\"\"]}\n"), []string{"policy.rules[0].match.resourceGroups[0]: an empty pattern matches nothing"}},
		{"duplicate names", rule("      match: {clusters: [a]}\n    - name: PROD\n      match: {clusters: [b]}\n"), []string{`policy.rules[1].name: "PROD" is already the name of policy.rules[0]`}},
		{"missing name", "policy:\n  approvers: [U0LEAD]\n  rules:\n    - match: {clusters: [a]}\n", []string{"policy.rules[0].name: every rule needs a name"}},
		{"name default", "policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: default\n", []string{`policy.rules[0].name: "default" is the name of the rule made of the top-level keys`}},
		{"name with spaces", "policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: prod clusters\n", []string{`policy.rules[0].name: "prod clusters": use up to 40 letters`}},
		{"rule after a catch-all", rule("    - name: dev\n      match: {clusters: [dev-*]}\n"), []string{"policy.rules[1]: never applies: policy.rules[0] matches every cluster and comes first"}},
		{"pool limit above cluster limit", rule("      guardrails: {maxNodesPerPool: 60, maxNodesPerCluster: 50}\n"), []string{"policy.rules[0].guardrails.maxNodesPerPool: 60 is more than maxNodesPerCluster (50)"}},
		{"explicit zero limit", rule("      guardrails: {maxNodesPerCluster: 0}\n"), []string{"policy.rules[0].guardrails.maxNodesPerCluster: 0 would allow no nodes at all"}},
		{"negative limit", rule("      guardrails: {maxNodesPerPool: -1}\n"), []string{"policy.rules[0].guardrails.maxNodesPerPool: -1: use a positive number"}},
		{"auto-approval above the pool limit", rule("      guardrails: {maxNodesPerPool: 10}\n      autoApprove: {scaleUp: {maxAddedNodes: 2, maxPoolNodes: 20}}\n"), []string{"policy.rules[0].autoApprove.scaleUp.maxPoolNodes: 20 is above guardrails.maxNodesPerPool (10)"}},
		{"auto-approval without limits", rule("      autoApprove: {scaleUp: {}}\n"), []string{"policy.rules[0].autoApprove.scaleUp.maxAddedNodes: 0: write how many nodes", "policy.rules[0].autoApprove.scaleUp.maxPoolNodes: 0"}},
		{"auto-approval of what needs no approval", rule("      match: {providers: [aks]}\n      requireApprovalFor: [cluster.delete]\n      autoApprove: {scaleUp: {maxAddedNodes: 1, maxPoolNodes: 5}}\n"), []string{"policy.rules[0].autoApprove.scaleUp: has no effect"}},
		{"auto-approval of what needs no approval on either cloud", rule("      requireApprovalFor: [cluster.delete, eks.nodegroup.delete]\n      autoApprove: {scaleUp: {maxAddedNodes: 1, maxPoolNodes: 5}}\n"), []string{"policy.rules[0].autoApprove.scaleUp: has no effect"}},
		{"auto-approval unknown kind", rule("      autoApprove: {scaleDown: {}}\n"), []string{"policy.rules[0].autoApprove.scaleDown: unknown key", "scaleUp"}},
		{"timeout too short", rule("      approvalTimeout: 10s\n"), []string{"policy.rules[0].approvalTimeout: 10s is out of range: use 1m0s to 7d"}},
		{"timeout without unit", "policy:\n  approvalTimeout: 30\n", []string{`policy.approvalTimeout: "30" is not a duration`}},
		{"top timeout zero", "policy:\n  approvalTimeout: 0s\n", []string{"policy.approvalTimeout: 0s is out of range"}},
		{"group cache too long", "policy:\n  groupCacheTTL: 48h\n", []string{"policy.groupCacheTTL: 48h0m0s is out of range: use 10s to 1d"}},
		{"several problems at once", rule("      approvals: 0\n      requireApprovalFor: [x]\n      channels: [ops]\n"), []string{"policy.rules[0].requireApprovalFor[0]", "policy.rules[0].channels[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", f.Policy)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// Written empty, a rule's lists mean "any channel" and "anyone", not "use the defaults".
func TestParseRuleEmptyListsDifferFromMissing(t *testing.T) {
	f, err := Parse([]byte("policy:\n  approvers: [U0LEAD]\n  channels: [C0OPS]\n  rules:\n    - name: open\n      match: {clusters: [sandbox-*]}\n      channels: []\n    - name: inherit\n      match: {clusters: [x]}\n      channels: ~\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Policy.Rules[0].Channels == nil || len(f.Policy.Rules[0].Channels) != 0 {
		t.Errorf("channels: [] = %#v, want written and empty", f.Policy.Rules[0].Channels)
	}
	if f.Policy.Rules[1].Channels != nil {
		t.Errorf("channels: ~ = %#v, want not written", f.Policy.Rules[1].Channels)
	}
}

func TestValidGroupID(t *testing.T) {
	for id, want := range map[string]bool{"S0SRE": true, "S012AB3CD": true, "U0SRE": false, "s0sre": false, "S1": false, "": false} {
		if got := ValidGroupID(id); got != want {
			t.Errorf("ValidGroupID(%q) = %v, want %v", id, got, want)
		}
	}
}

// The README explains every key with the team example: it must stay the same file.
func TestREADMEExampleIsTheTeamExample(t *testing.T) {
	fromREADME := readmeExample(t, "azure:\n  resourceGroup: rg-dev-weu")
	data, err := os.ReadFile("testdata/team.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromREADME, fromFile) {
		t.Errorf("README example and testdata/team.yaml differ:\n%+v\n%+v", fromREADME.Policy, fromFile.Policy)
	}
}

func TestApprovalsWithoutAnythingToApprove(t *testing.T) {
	_, err := Parse([]byte("policy:\n  approvers: [U0A1, U0A2]\n  rules:\n    - name: prod\n      requireApprovalFor: []\n      approvals: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "policy.rules[0].approvals: has no effect: the rule's requireApprovalFor is empty") {
		t.Fatalf("Parse = %v", err)
	}
}
