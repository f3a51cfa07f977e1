package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

func parseEKSExample(t *testing.T) File {
	t.Helper()
	data, err := os.ReadFile("testdata/eks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("eks.yaml: %v", err)
	}
	return f
}

func TestParseAWSExample(t *testing.T) {
	a := parseEKSExample(t).AWS
	if strings.Join(a.Regions, ",") != "eu-west-1,us-east-1" || a.DefaultRegion() != "eu-west-1" || a.Profile != "" || a.Account != "123456789012" {
		t.Errorf("aws = %+v", a)
	}
	if !a.Enabled() {
		t.Error("an aws section with regions does not enable EKS")
	}
	for _, c := range []struct {
		region, cluster string
		want            aks.NodegroupSpec
	}{
		{"eu-west-1", "web-prod", aks.NodegroupSpec{NodeRole: "arn:aws:iam::123456789012:role/eks-nodes",
			Subnets: []string{"subnet-0a1b2c3d", "subnet-1b2c3d4e"}, InstanceTypes: []string{"m6i.large"}}},
		// The REGION/NAME entry wins in its region, and takes nothing from the bare one.
		{"us-east-1", "web-prod", aks.NodegroupSpec{NodeRole: "arn:aws:iam::123456789012:role/eks-nodes-us",
			Subnets: []string{"subnet-2c3d4e5f"}}},
		{"eu-west-1", "Web-Prod", aks.NodegroupSpec{}}, // EKS names are case-sensitive
		{"eu-west-1", "api-prod", aks.NodegroupSpec{}},
	} {
		got := a.NodegroupDefaults(c.region, c.cluster)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("NodegroupDefaults(%s, %s) = %+v, want %+v", c.region, c.cluster, got, c.want)
		}
	}
	// The defaults are copies: a command that appends to them does not change the configuration.
	got := a.NodegroupDefaults("eu-west-1", "web-prod")
	got.Subnets[0] = "subnet-ffffffff"
	if a.Clusters["web-prod"].Subnets[0] != "subnet-0a1b2c3d" {
		t.Error("NodegroupDefaults hands out the configuration's own slice")
	}
}

func TestAWSEnabled(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want bool
	}{
		{"", false},
		{"aws:\n", false},
		{"aws: {}\n", false},
		{"aws: {regions: [eu-west-1]}\n", true},
		{"aws: {profile: platform}\n", true},
		{"aws: {account: \"123456789012\"}\n", true},
		{"aws: {clusters: {web: {subnets: [subnet-0a1b2c3d]}}}\n", true},
	} {
		f, err := Parse([]byte(c.doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.doc, err)
		}
		if got := f.AWS.Enabled(); got != c.want {
			t.Errorf("Parse(%q).AWS.Enabled() = %v, want %v", c.doc, got, c.want)
		}
	}
}

// AKSBOT_EKS decides over the file; the SDK's own variables do not turn EKS on.
func TestLoadEKSSwitch(t *testing.T) {
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       bool
		wantErr    string
	}{
		{name: "nothing", env: map[string]string{}},
		{name: "AWS_REGION alone", env: map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_EKS": "http://127.0.0.1:4566"}},
		{name: "switched on without a file", env: map[string]string{EnvEKS: "1"}, want: true},
		{name: "switched on with true", env: map[string]string{EnvEKS: "TRUE"}, want: true},
		{name: "the file", file: "aws: {regions: [eu-west-1]}\n", env: map[string]string{}, want: true},
		{name: "switched off over the file", file: "aws: {regions: [eu-west-1]}\n", env: map[string]string{EnvEKS: "0"}},
		{name: "not a switch", env: map[string]string{EnvEKS: "maybe"}, wantErr: `AKSBOT_EKS: "maybe" is not a switch`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := inDir(t)
			if c.file != "" {
				writeFile(t, filepath.Join(dir, DefaultConfigFile), c.file)
			}
			cfg, err := Load(envOf(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Load = %v, want an error saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.AWS.Enabled() != c.want || cfg.File.AWS.Enabled() != c.want {
				t.Errorf("Enabled: Config.AWS %v, File.AWS %v; want %v", cfg.AWS.Enabled(), cfg.File.AWS.Enabled(), c.want)
			}
		})
	}
}

func TestParseAWSErrors(t *testing.T) {
	cluster := func(body string) string { return "aws:\n  clusters:\n    web-prod:\n" + body }
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"azure location as region", "aws: {regions: [westeurope]}\n", []string{`aws.regions[0]: "westeurope" looks like an Azure location; AWS regions are written like eu-west-1`}},
		{"capitals in a region", "aws: {regions: [EU-WEST-1]}\n", []string{`aws.regions[0]: "EU-WEST-1" is not a region name; write it in lowercase: eu-west-1`}},
		{"region without number", "aws: {regions: [eu-west]}\n", []string{`aws.regions[0]: "eu-west" is not an AWS region`}},
		{"region twice", "aws: {regions: [eu-west-1, us-east-1, eu-west-1]}\n", []string{"aws.regions[2]: eu-west-1 is listed twice"}},
		{"regions not a list", "aws: {regions: eu-west-1}\n", []string{"aws.regions: expected a list, like [eu-west-1]"}},
		{"short account", "aws: {account: \"12345\"}\n", []string{`aws.account: "12345" is not an AWS account ID (12 digits`}},
		{"account with dashes", "aws: {account: 1234-5678-9012}\n", []string{`aws.account: "1234-5678-9012" is not an AWS account ID`}},
		{"profile with a space", "aws: {profile: \"my profile\"}\n", []string{`aws.profile: "my profile" is not a profile name`}},
		{"unknown key", "aws: {region: eu-west-1}\n", []string{"aws.region: unknown key (known keys in aws: account, clusters, profile, regions)"}},
		{"role name instead of ARN", cluster("      nodeRole: eks-nodes\n"), []string{`aws.clusters.web-prod.nodeRole: "eks-nodes" is not an IAM role ARN (like arn:aws:iam::123456789012:role/eks-nodes)`}},
		{"user ARN", cluster("      nodeRole: arn:aws:iam::123456789012:user/bob\n"), []string{"aws.clusters.web-prod.nodeRole: ", "is not an IAM role ARN"}},
		{"short account in ARN", cluster("      nodeRole: arn:aws:iam::1234:role/eks-nodes\n"), []string{"aws.clusters.web-prod.nodeRole: "}},
		{"bad subnet", cluster("      subnets: [subnet-0a1b2c3d, sn-123]\n"), []string{`aws.clusters.web-prod.subnets[1]: "sn-123" is not a subnet ID`}},
		{"subnet with 9 digits", cluster("      subnets: [subnet-0a1b2c3d4]\n"), []string{`aws.clusters.web-prod.subnets[0]: "subnet-0a1b2c3d4" is not a subnet ID`}},
		{"subnet twice", cluster("      subnets: [subnet-0a1b2c3d, subnet-0a1b2c3d]\n"), []string{"aws.clusters.web-prod.subnets[1]: subnet-0a1b2c3d is listed twice"}},
		{"azure size as instance type", cluster("      instanceTypes: [Standard_D4s_v5]\n"), []string{`aws.clusters.web-prod.instanceTypes[0]: "Standard_D4s_v5" is an Azure VM size`}},
		{"bad instance type", cluster("      instanceTypes: [m6i]\n"), []string{`aws.clusters.web-prod.instanceTypes[0]: "m6i" is not an EC2 instance type`}},
		{"unknown cluster key", cluster("      role: arn:aws:iam::123456789012:role/x\n"), []string{"aws.clusters.web-prod.role: unknown key", "nodeRole"}},
		{"bad cluster name", "aws:\n  clusters:\n    \"web prod\": {subnets: [subnet-0a1b2c3d]}\n", []string{`aws.clusters.web prod: "web prod" is not an EKS cluster name`}},
		{"bad region in a key", "aws:\n  clusters:\n    eu-west/web: {subnets: [subnet-0a1b2c3d]}\n", []string{`aws.clusters.eu-west/web: "eu-west" is not an AWS region`, "REGION/NAME"}},
		{"key in a region not configured", "aws:\n  regions: [eu-west-1]\n  clusters:\n    us-east-1/web: {subnets: [subnet-0a1b2c3d]}\n", []string{"aws.clusters.us-east-1/web: region us-east-1 is not among aws.regions (eu-west-1), so this entry is never used"}},
		{"several at once", "aws:\n  regions: [west]\n  account: x\n", []string{"aws.regions[0]", "aws.account"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantParseErrors(t, tt.doc, tt.want) })
	}
}

// Policy rules for EKS: providers, accounts, regions, pools and the EKS guardrails are checked
// like the rest, with the key path.
func TestParseEKSPolicyErrors(t *testing.T) {
	rule := func(body string) string { return "policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: r\n" + body }
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown provider", rule("      match: {providers: [gke]}\n"), []string{`policy.rules[0].match.providers[0]: "gke" is not a provider (known: aks, eks)`}},
		{"provider twice", rule("      match: {providers: [eks, EKS]}\n"), []string{"policy.rules[0].match.providers[1]: EKS is listed twice"}},
		{"azure location as region", rule("      match: {regions: [westeurope]}\n"), []string{`policy.rules[0].match.regions[0]: "westeurope" looks like an Azure location`}},
		{"region glob that cannot match", rule("      match: {regions: [\"eu_west_*\"]}\n"), []string{`policy.rules[0].match.regions[0]: "eu_west_*" can never match: regions hold only letters, digits and '-'`}},
		{"bad region glob", rule("      match: {regions: [\"eu-[west\"]}\n"), []string{`policy.rules[0].match.regions[0]: "eu-[west" is not a valid glob pattern`}},
		{"short account", rule("      match: {accounts: [\"1234\"]}\n"), []string{`policy.rules[0].match.accounts[0]: "1234" is not an AWS account ID (12 digits)`}},
		{"account glob with a name", rule("      match: {accounts: [\"prod-*\"]}\n"), []string{`policy.rules[0].match.accounts[0]: "prod-*" can never match: account IDs hold only digits`}},
		{"empty pool pattern", rule("      match: {pools: [\"\"]}\n"), []string{"policy.rules[0].match.pools[0]: an empty pattern matches nothing"}},
		{"aks and eks keys", rule("      match: {resourceGroups: [rg-prod], regions: [eu-west-1]}\n"), []string{"policy.rules[0].match: never matches: subscriptions and resourceGroups select AKS clusters, accounts and regions EKS ones"}},
		{"eks rule with resource groups", rule("      match: {providers: [eks], resourceGroups: [rg-prod]}\n"), []string{"policy.rules[0].match: never matches: providers does not list aks"}},
		{"aks rule with accounts", rule("      match: {providers: [aks], accounts: [\"123456789012\"]}\n"), []string{"policy.rules[0].match: never matches: providers does not list eks"}},
		{"instance types on aks", rule("      match: {resourceGroups: [rg-prod]}\n      guardrails: {instanceTypes: [m6i.large]}\n"), []string{"policy.rules[0].guardrails.instanceTypes: has no effect: it applies to EKS, and the rule matches only AKS clusters; AKS pools are limited by vmSizes"}},
		{"vm sizes on eks", rule("      match: {providers: [eks]}\n      guardrails: {vmSizes: [Standard_D4s_v5]}\n"), []string{"policy.rules[0].guardrails.vmSizes: has no effect: it applies to AKS, and the rule matches only EKS clusters"}},
		{"locations on eks", rule("      match: {regions: [eu-west-1]}\n      guardrails: {locations: [westeurope]}\n"), []string{"policy.rules[0].guardrails.locations: has no effect", "limited by regions"}},
		{"regions guardrail on aks", rule("      match: {providers: [aks]}\n      guardrails: {regions: [eu-west-1]}\n"), []string{"policy.rules[0].guardrails.regions: has no effect"}},
		{"azure location in regions guardrail", rule("      guardrails: {regions: [northeurope]}\n"), []string{`policy.rules[0].guardrails.regions[0]: "northeurope" looks like an Azure location`}},
		{"unknown eks kind", rule("      requireApprovalFor: [eks.nodegroup.resize]\n"), []string{`policy.rules[0].requireApprovalFor[0]: "eks.nodegroup.resize" is not an operation kind`, "eks.nodegroup.scale"}},
		{"after an eks catch-all", rule("      match: {providers: [eks]}\n    - name: web\n      match: {providers: [eks], clusters: [web-*]}\n"),
			[]string{"policy.rules[1]: never applies: policy.rules[0] matches every EKS cluster and comes first"}},
		{"after one catch-all per cloud", rule("      match: {providers: [eks]}\n    - name: a\n      match: {providers: [aks]}\n    - name: web\n      match: {clusters: [web-*]}\n"),
			[]string{"policy.rules[2]: never applies: policy.rules[1] matches every AKS cluster and policy.rules[0] matches every EKS cluster, and they come first"}},
		{"auto-approval where eks scaling needs none", rule("      match: {providers: [eks]}\n      requireApprovalFor: [eks.nodegroup.delete]\n      autoApprove: {scaleUp: {maxAddedNodes: 1, maxPoolNodes: 5}}\n"),
			[]string{"policy.rules[0].autoApprove.scaleUp: has no effect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantParseErrors(t, tt.doc, tt.want) })
	}
}

// What the EKS example and similar rules mean for approvals: kinds per cloud, and rules that
// a catch-all for one cloud does not hide.
func TestEKSRuleApprovalKinds(t *testing.T) {
	f := parseEKSExample(t).Policy
	kinds := func(ks []aks.OpKind) string {
		s := make([]string, len(ks))
		for i, k := range ks {
			s[i] = string(k)
		}
		return strings.Join(s, ",")
	}
	eksAll := "eks.nodegroup.create,eks.nodegroup.scale,eks.nodegroup.upgrade,eks.nodegroup.delete"
	for _, c := range []struct {
		rule     int
		provider string
		want     string
	}{
		{-1, aks.ProviderEKS, eksAll},                           // the default rule: EKS defaults
		{-1, aks.ProviderAKS, kinds(DefaultRequireApprovalFor)}, // and AKS ones
		{1, aks.ProviderEKS, eksAll},                            // eks-prod lists them
		{1, aks.ProviderAKS, kinds(DefaultRequireApprovalFor)},  // and no AKS kind: AKS's defaults (moot: it matches EKS only)
		{3, aks.ProviderEKS, eksAll},                            // eks-dev: no list, the defaults
	} {
		if got := kinds(f.RequireApprovalFor(c.rule, c.provider)); got != c.want {
			t.Errorf("RequireApprovalFor(%d, %s) = %s, want %s", c.rule, c.provider, got, c.want)
		}
	}
	// ApprovalKinds covers the clouds a rule can match: aks-prod only AKS, the default both.
	if got := kinds(f.ApprovalKinds(2)); got != kinds(DefaultRequireApprovalFor) {
		t.Errorf("ApprovalKinds(aks-prod) = %s", got)
	}
	if got := kinds(f.ApprovalKinds(-1)); got != kinds(DefaultRequireApprovalFor)+","+eksAll {
		t.Errorf("ApprovalKinds(default) = %s", got)
	}

	// A catch-all for EKS leaves later rules to AKS clusters, so they are accepted.
	doc := "policy:\n  approvers: [U0LEAD]\n  rules:\n    - name: eks\n      match: {providers: [eks]}\n    - name: web\n      match: {clusters: [web-*]}\n"
	if _, err := Parse([]byte(doc)); err != nil {
		t.Errorf("a rule after an EKS catch-all was refused: %v", err)
	}
}

func TestMatchedProviders(t *testing.T) {
	for _, c := range []struct {
		m    MatchFile
		want string
	}{
		{MatchFile{}, "aks,eks"},
		{MatchFile{Clusters: []string{"web-*"}, Pools: []string{"np*"}}, "aks,eks"},
		{MatchFile{Providers: []string{"EKS"}}, "eks"},
		{MatchFile{ResourceGroups: []string{"rg"}}, "aks"},
		{MatchFile{Subscriptions: []string{"prod"}}, "aks"},
		{MatchFile{Regions: []string{"eu-*"}}, "eks"},
		{MatchFile{Accounts: []string{"1*"}, Providers: []string{"aks", "eks"}}, "eks"},
		{MatchFile{Accounts: []string{"1*"}, ResourceGroups: []string{"rg"}}, ""},
	} {
		if got := strings.Join(c.m.MatchedProviders(), ","); got != c.want {
			t.Errorf("%+v: MatchedProviders = %q, want %q", c.m, got, c.want)
		}
	}
}

// The README explains the aws section and the EKS rules with this example: it must stay the
// same file.
func TestREADMEExampleIsTheEKSExample(t *testing.T) {
	fromREADME := readmeExample(t, "aws:\n  regions:")
	if fromFile := parseEKSExample(t); !reflect.DeepEqual(fromREADME, fromFile) {
		t.Errorf("README example and testdata/eks.yaml differ:\n%+v\n%+v", fromREADME, fromFile)
	}
}

// readmeExample parses the README's first YAML block that starts with start.
func readmeExample(t *testing.T, start string) File {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i := strings.Index(text, "```yaml\n"+start)
	if i < 0 {
		t.Fatalf("README has no YAML block starting with %q", start)
	}
	block := text[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	f, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	return f
}

// wantParseErrors checks that Parse refuses doc with an error holding each of want.
func wantParseErrors(t *testing.T, doc string, want []string) {
	t.Helper()
	f, err := Parse([]byte(doc))
	if err == nil {
		t.Fatalf("Parse accepted the file: %+v", f)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// Every operation kind, EKS's included, has its jobs.slowAfter key.
func TestSlowAfterEveryKind(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("jobs:\n  slowAfter:\n")
	for i, k := range aks.OpKinds {
		fmt.Fprintf(&doc, "    %s: %dm\n", k, i+1)
	}
	f, err := Parse([]byte(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Jobs.SlowAfter.Kinds()
	for i, k := range aks.OpKinds {
		if got[k] != time.Duration(i+1)*time.Minute {
			t.Errorf("slowAfter[%s] = %v, want %dm", k, got[k], i+1)
		}
	}
}
