package config

import (
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

func TestParseDefaults(t *testing.T) {
	for _, doc := range []string{"", "# nothing yet\n", "azure:\njobs:\n", "jobs:\n  pollInterval: ~\n"} {
		f, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		if f.Azure.ResourceGroup != DefaultResourceGroup || f.Azure.Location != DefaultLocation {
			t.Errorf("Parse(%q) azure = %+v, want the defaults", doc, f.Azure)
		}
		if f.Jobs.PollInterval.Duration != 15*time.Second || f.Jobs.ProgressInterval.Duration != time.Minute {
			t.Errorf("Parse(%q) jobs = %+v, want 15s and 1m", doc, f.Jobs)
		}
		if f.Simulator.Speed != 1 {
			t.Errorf("Parse(%q) simulator.speed = %v, want 1", doc, f.Simulator.Speed)
		}
		if !f.Policy.ApprovalsRequired() || len(f.Policy.Approvers) != 0 {
			t.Errorf("Parse(%q) policy = %+v, want approvals required and no approvers", doc, f.Policy)
		}
	}
}

func TestParseFull(t *testing.T) {
	doc := `
azure:
  resourceGroup: rg-prod.weu_(1)
  location: northeurope
policy:
  approvers: [U012AB3CD, W0APPROVE]
  requesters:
    - U0REQ1
  channels: [C0OPS, G0PRIV]
  requireApproval: false
jobs:
  pollInterval: 20s
  progressInterval: 2m30s
simulator:
  speed: 60
`
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if f.Azure.ResourceGroup != "rg-prod.weu_(1)" || f.Azure.Location != "northeurope" {
		t.Errorf("azure = %+v", f.Azure)
	}
	if strings.Join(f.Policy.Approvers, ",") != "U012AB3CD,W0APPROVE" ||
		strings.Join(f.Policy.Requesters, ",") != "U0REQ1" ||
		strings.Join(f.Policy.Channels, ",") != "C0OPS,G0PRIV" {
		t.Errorf("policy = %+v", f.Policy)
	}
	if f.Policy.RequireApproval == nil || *f.Policy.RequireApproval || f.Policy.ApprovalsRequired() {
		t.Errorf("requireApproval: false was not kept: %v", f.Policy.RequireApproval)
	}
	if f.Jobs.PollInterval.Duration != 20*time.Second || f.Jobs.ProgressInterval.Duration != 150*time.Second {
		t.Errorf("jobs = %+v", f.Jobs)
	}
	if f.Simulator.Speed != 60 {
		t.Errorf("speed = %v", f.Simulator.Speed)
	}
}

func TestParseRequireApprovalTrue(t *testing.T) {
	f, err := Parse([]byte("policy:\n  requireApproval: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Policy.RequireApproval == nil || !*f.Policy.RequireApproval {
		t.Fatalf("requireApproval = %v, want explicit true", f.Policy.RequireApproval)
	}
}

// Each invalid file must be refused with a message that names the key path and says what is wrong.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // substrings of the error
	}{
		{"unknown top-level key", "azrue:\n  location: westeurope\n", []string{"azrue: unknown key", "azure, jobs, policy, prices, schedules, simulator"}},
		{"unknown nested key", "policy:\n  approver: [U1AB]\n", []string{"policy.approver: unknown key", "in policy", "approvers"}},
		{"unknown key in flow mapping", "jobs: {poll: 1s}\n", []string{"jobs.poll: unknown key"}},
		{"approver not an ID", "policy:\n  approvers:\n    - U012AB3CD\n    - bob\n", []string{`policy.approvers[1]: "bob" is not a Slack user ID (U… or W…)`}},
		{"approver as mention", "policy:\n  approvers: [\"<@U012AB3CD>\"]\n", []string{`policy.approvers[0]: "<@U012AB3CD>" is not a Slack user ID`}},
		{"lowercase user ID", "policy:\n  requesters: [u012ab3cd]\n", []string{`policy.requesters[0]: "u012ab3cd" is not a Slack user ID`}},
		{"too short user ID", "policy:\n  requesters: [U1]\n", []string{`policy.requesters[0]: "U1"`}},
		{"channel name", "policy:\n  channels: [\"#ops\"]\n", []string{`policy.channels[0]: "#ops" is not a Slack channel ID`}},
		{"user ID as channel", "policy:\n  channels: [C0OPS, U012AB3CD]\n", []string{`policy.channels[1]: "U012AB3CD" is not a Slack channel ID`}},
		{"approvers not a list", "policy:\n  approvers: U012AB3CD\n", []string{"policy.approvers: expected a list"}},
		{"policy not a mapping", "policy: strict\n", []string{"policy: expected a mapping", "approvers"}},
		{"top level a list", "- azure\n", []string{"top level: expected a mapping"}},
		{"location a list", "azure:\n  location: [westeurope]\n", []string{"azure.location: expected a single value"}},
		{"requireApproval not a bool", "policy:\n  requireApproval: maybe\n", []string{"policy.requireApproval: cannot unmarshal", "bool", "(line 2)"}},
		{"requireApproval in flow mapping", "policy: {approvers: [U012AB3CD], requireApproval: perhaps}\n", []string{"policy.requireApproval: cannot unmarshal"}},
		{"speed not a number", "simulator:\n  speed: fast\n", []string{"simulator.speed: cannot unmarshal", "float64"}},
		{"speed zero", "simulator:\n  speed: 0\n", []string{"simulator.speed: 0 is out of range"}},
		{"speed negative", "simulator:\n  speed: -2\n", []string{"simulator.speed: -2 is out of range"}},
		{"speed NaN", "simulator:\n  speed: .nan\n", []string{"simulator.speed: NaN is out of range"}},
		{"speed infinite", "simulator:\n  speed: .inf\n", []string{"simulator.speed: +Inf is out of range"}},
		{"duration without unit", "jobs:\n  pollInterval: 15\n", []string{`jobs.pollInterval: "15" is not a duration`, `"15s"`}},
		{"duration garbage", "jobs:\n  progressInterval: soon\n", []string{`jobs.progressInterval: "soon" is not a duration`}},
		{"duration as mapping", "jobs:\n  pollInterval: {s: 1}\n", []string{"jobs.pollInterval: expected a duration"}},
		{"catch-up too short", "schedules:\n  catchUp: 10s\n", []string{"schedules.catchUp: 10s is out of range: use 1m0s to 24h0m0s"}},
		{"catch-up unknown key", "schedules:\n  catchup: 10m\n", []string{"schedules.catchup: unknown key", "catchUp"}},
		{"poll too fast", "jobs:\n  pollInterval: 500ms\n", []string{"jobs.pollInterval: 500ms is out of range: use 1s to"}},
		{"poll explicit zero", "jobs:\n  pollInterval: 0s\n", []string{"jobs.pollInterval: 0s is out of range"}},
		{"poll negative", "jobs:\n  pollInterval: -5s\n", []string{"jobs.pollInterval: -5s is out of range"}},
		{"poll too slow", "jobs:\n  pollInterval: 2h\n", []string{"jobs.pollInterval: 2h0m0s is out of range"}},
		{"progress too fast", "jobs:\n  progressInterval: 5s\n", []string{"jobs.progressInterval: 5s is out of range: use 10s to"}},
		{"progress too slow", "jobs:\n  progressInterval: 3h\n", []string{"jobs.progressInterval: 3h0m0s is out of range"}},
		{"location display name", "azure:\n  location: West Europe\n", []string{`azure.location: "West Europe" is not a location name; write the short form "westeurope"`}},
		{"location punctuation", "azure:\n  location: west-europe\n", []string{`azure.location: "west-europe" is not a location name`}},
		{"location explicit empty", "azure:\n  location: \"\"\n", []string{`azure.location: "" is not a location name`}},
		{"resource group bad char", "azure:\n  resourceGroup: rg/aks\n", []string{`azure.resourceGroup: "rg/aks" may hold only`}},
		{"resource group trailing dot", "azure:\n  resourceGroup: rg-aks.\n", []string{`azure.resourceGroup: "rg-aks." must not end with '.'`}},
		{"resource group too long", "azure:\n  resourceGroup: " + strings.Repeat("r", 91) + "\n", []string{"azure.resourceGroup:", "longer than 90"}},
		{"resource group explicit empty", "azure:\n  resourceGroup: \"\"\n", []string{"azure.resourceGroup: must not be empty"}},
		{"duplicate key", "policy:\n  approvers: [U012AB3CD]\n  approvers: [U0OTHER]\n", []string{"approvers", "already defined"}},
		{"two documents", "azure: {}\n---\npolicy: {}\n", []string{"more than one YAML document"}},
		{"syntax error", "policy: [\n", []string{"parse YAML"}},
		{"several problems at once", "policy:\n  approvers: [bob]\njobs:\n  pollInterval: 1ms\n", []string{"policy.approvers[0]", "jobs.pollInterval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", f)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidIDs(t *testing.T) {
	users := map[string]bool{"U012AB3CD": true, "W0ENTERPRISE": true, "UAB": true, "U1": false, "C012AB3CD": false, "u012": false, "U01-2": false, "": false}
	for id, want := range users {
		if got := ValidUserID(id); got != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, got, want)
		}
	}
	channels := map[string]bool{"C012AB3CD": true, "G0PRIV": true, "D0DM": true, "U012AB3CD": false, "C1": false, "#ops": false}
	for id, want := range channels {
		if got := ValidChannelID(id); got != want {
			t.Errorf("ValidChannelID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestDurationMarshalRoundTrip(t *testing.T) {
	d := Duration{90 * time.Second}
	v, err := d.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse([]byte("jobs:\n  progressInterval: " + v.(string) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Jobs.ProgressInterval != d {
		t.Fatalf("round trip: got %v, want %v", f.Jobs.ProgressInterval, d)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"azure:\n  resourceGroup: rg-aks\n  location: westeurope\n",
		"policy:\n  approvers: [U012AB3CD]\n  requesters: [U0REQ]\n  channels: [C0OPS]\n  requireApproval: true\n",
		"jobs:\n  pollInterval: 15s\n  progressInterval: 1m\nsimulator:\n  speed: 60\n",
		"policy: {approvers: [bob], requireApproval: maybe}\n",
		"x: &a {y: *a}\n",
		"a: &a [*a]\n",
		"policy:\n  approvers: &l [U012AB3CD]\n  requesters: *l\n",
		"<<: {azure: {}}\n",
		"jobs:\n  pollInterval: !!binary aGVsbG8=\n",
		"---\n---\n",
		"simulator:\n  speed: 1e400\n",
		"[[[[[[[[[[]]]]]]]]]]",
		"policy:\n  approvers:\n    - ? a\n      : b\n",
		"policy:\n  rules:\n    - name: p\n      match: {clusters: [\"prod-*\"]}\n      approvals: 2\n      approvers: [S0SRE]\n",
		"policy:\n  rules: [{name: a, guardrails: {maxNodesPerPool: 0}}, {name: b}]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		// Anything Parse accepts must be usable as is: defaults filled and values in range.
		if file.Azure.ResourceGroup == "" || !locationRE.MatchString(file.Azure.Location) {
			t.Fatalf("accepted azure settings are invalid: %+v", file.Azure)
		}
		if file.Jobs.PollInterval.Duration < MinPollInterval || file.Jobs.ProgressInterval.Duration < MinProgressInterval {
			t.Fatalf("accepted intervals out of range: %+v", file.Jobs)
		}
		if !(file.Simulator.Speed > 0) || file.Simulator.Speed > MaxSimSpeed {
			t.Fatalf("accepted speed out of range: %v", file.Simulator.Speed)
		}
		for _, id := range append(append([]string{}, file.Policy.Approvers...), file.Policy.Requesters...) {
			if !ValidUserID(id) && !ValidGroupID(id) {
				t.Fatalf("accepted user ID %q", id)
			}
		}
		if err := file.Policy.Check(); err != nil {
			t.Fatalf("accepted a policy that Check refuses: %v", err)
		}
		for _, id := range file.Policy.Channels {
			if !ValidChannelID(id) {
				t.Fatalf("accepted channel ID %q", id)
			}
		}
	})
}

func TestJobsSlowAfter(t *testing.T) {
	f, err := Parse([]byte("jobs:\n  slowAfter:\n    nodepool.scale: 15m\n    cluster.upgrade: 3h\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Jobs.SlowAfter.Kinds()
	if len(got) != 2 || got[aks.OpPoolScale] != 15*time.Minute || got[aks.OpClusterUpgrade] != 3*time.Hour {
		t.Errorf("slowAfter %v", got)
	}
	for _, bad := range []string{
		"jobs:\n  slowAfter:\n    nodepool.scale: 10s\n",
		"jobs:\n  slowAfter:\n    nodepool.resize: 10m\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "jobs.slowAfter") {
			t.Errorf("%q: error %v, want one naming jobs.slowAfter", bad, err)
		}
	}
}

func TestSchedulesCatchUp(t *testing.T) {
	f, err := Parse([]byte("azure:\n  location: westeurope\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Schedules.CatchUp.Duration != DefaultCatchUp {
		t.Errorf("default catchUp %v, want %v", f.Schedules.CatchUp.Duration, DefaultCatchUp)
	}
	f, err = Parse([]byte("schedules:\n  catchUp: 1h\n"))
	if err != nil || f.Schedules.CatchUp.Duration != time.Hour {
		t.Fatalf("catchUp: 1h gives %v, %v", f.Schedules.CatchUp.Duration, err)
	}
}
