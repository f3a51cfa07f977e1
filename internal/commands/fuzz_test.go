package commands

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aksbot/aksbot/internal/aks"
)

// The fuzz target checks Parse's output against the AKS rules written out again here, so that
// a loosened rule in validate.go is caught rather than trusted.
var (
	fuzzClusterRe = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$`)
	fuzzPoolRe    = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	fuzzVersionRe = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)
	fuzzJobIDRe   = regexp.MustCompile(`^[1-9][0-9]*$`)
)

func FuzzParse(f *testing.F) {
	for _, tc := range acceptCases {
		f.Add(tc.in)
	}
	for _, tc := range refuseCases {
		f.Add(tc.in)
	}
	for _, sp := range specList {
		for _, ex := range sp.examples {
			f.Add(ex)
		}
	}
	for _, s := range []string{`"`, `'`, `\`, "=", "--", "-", "--=", "-g=", "nodepool", "help nodepool", "\u2014", `k="`, "&amp;&lt;", `deny 1 "`, `deny 1 '"x"'`, "audit --since 1d", "scale demo -c 2 --dry-run", "cost -g rg", "--dry-run", "list --all-subscriptions", "list --subscription prod", "scale demo -c 2 --subscription=dev --dry-run", "show demo --subscription 22222222-2222-2222-2222-222222222222", "list --subscription", `schedule add a b stop --cron "0 19 * * 1-5" --tz Europe/Amsterdam`, "schedule add a b nodepool update c --min-count 1 --max-count 2 --cron @every", `schedule add a b start --cron "@every 1m" --tz "America/New_York"`, "schedule list b -g rg", "schedule delete a", `schedule add a b stop --cron "TZ=UTC 0 1 * * *"`, "schedule add a b stop --cron=\"61 * * * *\"", "schedule add a b stop --cron @daily --tz ../../etc/passwd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) error is %T, want *UsageError", text, err)
			}
			if ue.Message == "" || !strings.HasPrefix(ue.Usage, "/aks ") {
				t.Fatalf("Parse(%q) error lacks a message or usage: %#v", text, ue)
			}
			if !reflect.DeepEqual(c, Command{}) {
				t.Fatalf("Parse(%q) refused but returned %#v", text, c)
			}
			return
		}
		checkCommand(t, text, c)
		again, err := Parse(c.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", text, c.String(), err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("Parse(%q) is not stable through %q:\n first %#v\nsecond %#v", text, c.String(), describe(c), describe(again))
		}
	})
}

// checkCommand asserts the invariants of a successfully parsed command.
func checkCommand(t *testing.T, text string, c Command) {
	t.Helper()
	if _, ok := specs[c.Kind]; !ok {
		t.Fatalf("Parse(%q): unknown kind %q", text, c.Kind)
	}
	if c.Kind == KindHelp {
		if _, err := Help(c.Topic); err != nil {
			t.Fatalf("Parse(%q): topic %q has no help: %v", text, c.Topic, err)
		}
	}
	switch c.Kind {
	case KindJob, KindCancel, KindApprove, KindDeny:
		if !fuzzJobIDRe.MatchString(c.JobID) {
			t.Fatalf("Parse(%q): job ID %q", text, c.JobID)
		}
	}
	if c.Reason != "" {
		if c.Kind != KindDeny || strings.TrimSpace(c.Reason) != c.Reason || utf8.RuneCountInString(c.Reason) > 500 {
			t.Fatalf("Parse(%q): reason %q on %s", text, c.Reason, c.Kind)
		}
		for _, r := range c.Reason {
			if unicode.IsControl(r) {
				t.Fatalf("Parse(%q): control character in reason %q", text, c.Reason)
			}
		}
	}
	if (c.Kind == KindAudit) != (c.Since != 0) || c.Since < 0 || c.Since > 90*24*time.Hour {
		t.Fatalf("Parse(%q): since %v on %s", text, c.Since, c.Kind)
	}
	if c.Pool != "" && (c.Kind != KindAbort || !fuzzPoolRe.MatchString(c.Pool)) {
		t.Fatalf("Parse(%q): pool %q on %s", text, c.Pool, c.Kind)
	}
	if c.Cluster != "" && !fuzzClusterRe.MatchString(c.Cluster) {
		t.Fatalf("Parse(%q): invalid cluster name %q", text, c.Cluster)
	}
	if c.Kind == KindAbort && c.Cluster == "" {
		t.Fatalf("Parse(%q): abort without a cluster", text)
	}
	if c.AllSubscriptions && (c.Kind != KindList || c.Subscription != "") {
		t.Fatalf("Parse(%q): --all-subscriptions on %s with subscription %q", text, c.Kind, c.Subscription)
	}
	if c.Subscription != "" && !subscriptionRe.MatchString(c.Subscription) {
		t.Fatalf("Parse(%q): invalid subscription %q", text, c.Subscription)
	}
	if c.Op != nil && c.Op.Target.Subscription != "" {
		t.Fatalf("Parse(%q): the parser filled the target's subscription %q; the bot resolves it", text, c.Op.Target.Subscription)
	}
	if c.DryRun && !c.Mutating() {
		t.Fatalf("Parse(%q): --dry-run on %s", text, c.Kind)
	}
	if c.Mutating() != (c.Op != nil) {
		t.Fatalf("Parse(%q): Mutating() = %v with Op %v", text, c.Mutating(), c.Op)
	}
	if c.Op == nil {
		return
	}
	op := c.Op
	if !op.Kind.Valid() {
		t.Fatalf("Parse(%q): invalid op kind %q", text, op.Kind)
	}
	if op.Target.ResourceGroup != c.ResourceGroup || op.Target.Cluster != c.Cluster {
		t.Fatalf("Parse(%q): target %+v, command group %q cluster %q", text, op.Target, c.ResourceGroup, c.Cluster)
	}
	if !fuzzClusterRe.MatchString(op.Target.Cluster) {
		t.Fatalf("Parse(%q): invalid cluster name %q", text, op.Target.Cluster)
	}
	if rg := c.ResourceGroup; rg != "" && (len([]rune(rg)) > 90 || strings.HasSuffix(rg, ".")) {
		t.Fatalf("Parse(%q): invalid resource group %q", text, rg)
	}
	if op.Target.Pool != "" || (op.Kind.OnPool() && c.Kind != KindScale) {
		if !fuzzPoolRe.MatchString(op.Target.Pool) {
			t.Fatalf("Parse(%q): invalid pool name %q", text, op.Target.Pool)
		}
	}
	if op.OSType == "Windows" && len(op.Target.Pool) > 6 {
		t.Fatalf("Parse(%q): Windows pool name %q too long", text, op.Target.Pool)
	}
	minNodes := 0
	if op.Kind == aks.OpClusterCreate || op.Mode == "System" {
		minNodes = 1
	}
	if op.NodeCount != nil && (*op.NodeCount < minNodes || *op.NodeCount > 1000) {
		t.Fatalf("Parse(%q): node count %d out of range", text, *op.NodeCount)
	}
	if (op.Kind == aks.OpPoolScale) != (op.NodeCount != nil && c.Kind != KindCreate && c.Kind != KindNodepoolAdd) {
		t.Fatalf("Parse(%q): scale without a count, or a count on %s", text, op.Kind)
	}
	if a := op.Autoscaler; a != nil {
		if a.Min < minNodes || a.Min > a.Max || a.Max > 1000 {
			t.Fatalf("Parse(%q): autoscaler %+v", text, *a)
		}
		if op.NodeCount != nil && (*op.NodeCount < a.Min || *op.NodeCount > a.Max) {
			t.Fatalf("Parse(%q): count %d outside autoscaler %+v", text, *op.NodeCount, *a)
		}
		if op.DisableAutoscaler {
			t.Fatalf("Parse(%q): autoscaler both set and disabled", text)
		}
	}
	if op.Kind == aks.OpPoolAutoscale && (op.Autoscaler == nil) == !op.DisableAutoscaler {
		t.Fatalf("Parse(%q): nodepool update must enable or disable the autoscaler", text)
	}
	if op.KubernetesVersion != "" && !fuzzVersionRe.MatchString(op.KubernetesVersion) {
		t.Fatalf("Parse(%q): version %q", text, op.KubernetesVersion)
	}
	if op.Kind == aks.OpPoolUpgrade && (op.KubernetesVersion == "") == !op.NodeImageOnly {
		t.Fatalf("Parse(%q): nodepool upgrade needs exactly one of version and node image", text)
	}
	if op.Kind == aks.OpClusterUpgrade && op.KubernetesVersion == "" {
		t.Fatalf("Parse(%q): upgrade without a version", text)
	}
	for _, z := range op.Zones {
		if z != "1" && z != "2" && z != "3" {
			t.Fatalf("Parse(%q): zone %q", text, z)
		}
	}
	if op.Mode != "" && op.Mode != "User" && op.Mode != "System" {
		t.Fatalf("Parse(%q): mode %q", text, op.Mode)
	}
	if op.OSType != "" && op.OSType != "Linux" && op.OSType != "Windows" {
		t.Fatalf("Parse(%q): OS type %q", text, op.OSType)
	}
	for _, taint := range op.Taints {
		if !strings.HasSuffix(taint, ":NoSchedule") && !strings.HasSuffix(taint, ":PreferNoSchedule") && !strings.HasSuffix(taint, ":NoExecute") {
			t.Fatalf("Parse(%q): taint %q", text, taint)
		}
	}
}

var benchInputs = []string{
	"list",
	"scale demo --node-count 3",
	"nodepool add demo gpu --node-count 2 --node-vm-size Standard_NC6s_v3 --enable-cluster-autoscaler --min-count 1 " +
		"--max-count 4 --labels example.com/gpu=true --node-taints sku=gpu:NoSchedule --zones 1 2 3 -g rg-prod",
	"create demo -l \u201cWest Europe\u201d \u2014tags owner=\u201cJane Doe\u201d",
	"sacle demo --node-cout 3",
	"deny 42 not during the \u201crelease freeze\u201d",
	"audit demo --since 7d",
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range benchInputs {
			_, _ = Parse(in)
		}
	}
}
