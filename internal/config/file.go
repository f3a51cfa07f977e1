package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	pathpkg "path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// File is the YAML configuration file. Parse fills the defaults, so a File from Parse or Load is
// ready to use.
type File struct {
	Azure struct {
		ResourceGroup string `yaml:"resourceGroup"`
		Location      string `yaml:"location"`
		// Subscriptions names the subscriptions the bot works in: name -> subscription ID.
		// Commands pick one with --subscription NAME|ID. Not written: AZURE_SUBSCRIPTION_ID
		// alone, named by its ID.
		Subscriptions map[string]string `yaml:"subscriptions"`
		// DefaultSubscription is the name of the subscription commands without --subscription
		// act in; it may be left out when only one is listed (or AZURE_SUBSCRIPTION_ID names one).
		DefaultSubscription string `yaml:"defaultSubscription"`
	} `yaml:"azure"`
	// AWS configures EKS managed node groups (/eks); left out, the bot is AKS only unless
	// AKSBOT_EKS=1.
	AWS       AWS           `yaml:"aws"`
	Policy    PolicyFile    `yaml:"policy"`
	Jobs      JobsFile      `yaml:"jobs"`
	Prices    PricesFile    `yaml:"prices"`
	Simulator SimFile       `yaml:"simulator"`
	Store     StoreFile     `yaml:"store"`
	Schedules SchedulesFile `yaml:"schedules"`
}

// SchedulesFile tunes `/aks schedule`.
type SchedulesFile struct {
	// CatchUp: a run missed while the bot was down still runs when it comes back if it is at
	// most this old; older ones are skipped, and the schedule's channel is told.
	CatchUp Duration `yaml:"catchUp"`
}

// DefaultCatchUp is schedules.catchUp when the file does not say.
const DefaultCatchUp = 15 * time.Minute

// StoreFile configures where aksbot keeps its state. Without AKSBOT_ETCD_ENDPOINTS it is the
// data file (AKSBOT_DB) and store.etcd is not used.
type StoreFile struct {
	Etcd EtcdFile `yaml:"etcd"`
}

// EtcdFile configures the etcd backend (several replicas). The endpoints and the password come
// from the environment (AKSBOT_ETCD_ENDPOINTS, AKSBOT_ETCD_PASSWORD), never from the file.
type EtcdFile struct {
	// Prefix is put before every key aksbot writes (default "/aksbot/"), so that several bots
	// (or other programs) can share an etcd. It starts and ends with "/".
	Prefix string `yaml:"prefix"`
	// LeaseTTL is how long a replica that died keeps its lanes before a survivor takes them
	// over (default 10s, 2s to 60s). A replica that cannot reach etcd for that long gives its
	// work up.
	LeaseTTL Duration `yaml:"leaseTTL"`
	// DialTimeout bounds connecting to etcd at start (default 5s).
	DialTimeout Duration    `yaml:"dialTimeout"`
	TLS         EtcdTLSFile `yaml:"tls"`
	// Username signs in with etcd's auth; its password is AKSBOT_ETCD_PASSWORD.
	Username string `yaml:"username"`
}

// EtcdTLSFile names PEM files for TLS with etcd. CA alone: the server is verified against it;
// Cert and Key (together): the bot presents a client certificate.
type EtcdTLSFile struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Set reports whether any TLS file is named.
func (t EtcdTLSFile) Set() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// PricesFile says how plans state their cost.
type PricesFile struct {
	// Currency of the list prices (ISO 4217, default USD); the cost limits of the policy are in it.
	Currency string `yaml:"currency"`
}

// PolicyFile says who may request and approve operations, and where. The top-level lists are
// the defaults: they apply to clusters no rule matches (as the rule "default") and to the keys a
// rule leaves out. Check reports contradictions; Parse calls it.
type PolicyFile struct {
	Approvers  []string `yaml:"approvers"`  // Slack user IDs (U…, W…) or user group IDs (S…)
	Requesters []string `yaml:"requesters"` // same kinds of ID; empty = anyone
	Channels   []string `yaml:"channels"`   // channel IDs; empty = any
	// RequireApproval defaults to true; false turns approvals off except where a rule lists
	// requireApprovalFor. It is a pointer so that "not written" and "false" differ.
	RequireApproval *bool `yaml:"requireApproval"`
	// ApprovalTimeout is how long a job may wait for its approvals (default 1h).
	ApprovalTimeout Duration `yaml:"approvalTimeout"`
	// GroupCacheTTL is how long the members of a Slack user group are cached (default 5m).
	GroupCacheTTL Duration `yaml:"groupCacheTTL"`
	// Rules are tried in order; the first whose match selects the cluster decides.
	Rules []RuleFile `yaml:"rules"`
}

// RuleFile is one scoped rule. A nil list or pointer means "not written": the default applies.
// An empty list that is written ([]) means "anyone" or "any channel".
type RuleFile struct {
	Name       string    `yaml:"name"`
	Match      MatchFile `yaml:"match"`
	Channels   []string  `yaml:"channels"`
	Requesters []string  `yaml:"requesters"`
	Approvers  []string  `yaml:"approvers"`
	// Approvals is how many distinct people must approve (default 1).
	Approvals       *int      `yaml:"approvals"`
	ApprovalTimeout *Duration `yaml:"approvalTimeout"`
	// RequireApprovalFor lists the operation kinds (aks.OpKind values) that need approval; the
	// scaling kinds only when they add capacity. Not written = DefaultRequireApprovalFor (or
	// nothing when policy.requireApproval is false).
	RequireApprovalFor []string        `yaml:"requireApprovalFor"`
	AutoApprove        AutoApproveFile `yaml:"autoApprove"`
	Guardrails         GuardrailsFile  `yaml:"guardrails"`
}

// MatchFile selects clusters by glob patterns (path.Match syntax, case-insensitive). An empty
// list matches anything; every list written must match.
type MatchFile struct {
	// Providers are the clouds the rule is for: aks, eks; left out = both.
	Providers []string `yaml:"providers"`
	// Subscriptions are names (azure.subscriptions) or IDs, or globs of them. Subscriptions and
	// ResourceGroups only match AKS clusters: a rule naming them never matches an EKS cluster.
	Subscriptions  []string `yaml:"subscriptions"`
	ResourceGroups []string `yaml:"resourceGroups"`
	// Accounts (AWS account IDs) and Regions (AWS regions) only match EKS clusters: a rule
	// naming them never matches an AKS cluster.
	Accounts []string `yaml:"accounts"`
	Regions  []string `yaml:"regions"`
	// Clusters are cluster names, on either cloud.
	Clusters []string `yaml:"clusters"`
	// Pools are node pools (AKS) or node groups (EKS): a rule naming them applies only to
	// operations on a matching pool, never to cluster-wide ones.
	Pools []string `yaml:"pools"`
}

// Providers aksbot knows, in the order listings show them.
var knownProviders = []string{aks.ProviderAKS, aks.ProviderEKS}

// MatchedProviders lists the clouds whose clusters the match can select: those under providers
// (both when left out), less AKS when it names accounts or regions, less EKS when it names
// subscriptions or resource groups. Empty: the rule can never match.
func (m MatchFile) MatchedProviders() []string {
	var out []string
	for _, p := range knownProviders {
		switch {
		case len(m.Providers) > 0 && !slices.ContainsFunc(m.Providers, func(s string) bool { return strings.EqualFold(s, p) }):
		case p == aks.ProviderAKS && (len(m.Accounts) > 0 || len(m.Regions) > 0):
		case p == aks.ProviderEKS && (len(m.Subscriptions) > 0 || len(m.ResourceGroups) > 0):
		default:
			out = append(out, p)
		}
	}
	return out
}

// matchesEveryCluster reports whether the match selects every cluster of the providers it
// names (pools restrict it to some operations, so a rule naming them does not).
func (m MatchFile) matchesEveryCluster() bool {
	return len(m.Subscriptions) == 0 && len(m.ResourceGroups) == 0 && len(m.Accounts) == 0 &&
		len(m.Regions) == 0 && len(m.Clusters) == 0 && len(m.Pools) == 0
}

// AutoApproveFile lists what goes ahead without approval although the rule asks for it.
type AutoApproveFile struct {
	ScaleUp *ScaleUpFile `yaml:"scaleUp"`
}

// ScaleUpFile lets small scale-ups through: at most MaxAddedNodes more nodes, ending with at most
// MaxPoolNodes in the pool.
type ScaleUpFile struct {
	MaxAddedNodes int `yaml:"maxAddedNodes"`
	MaxPoolNodes  int `yaml:"maxPoolNodes"`
	// MaxMonthlyCostIncrease, when set, also bounds the monthly list-price increase (in
	// prices.currency) of an auto-approved scale-up; when the cost is unknown, it needs approval.
	MaxMonthlyCostIncrease float64 `yaml:"maxMonthlyCostIncrease"`
}

// GuardrailsFile refuses requests outside limits, whoever asks. Zero or empty = no limit.
type GuardrailsFile struct {
	MaxNodesPerPool    int      `yaml:"maxNodesPerPool"`
	MaxNodesPerCluster int      `yaml:"maxNodesPerCluster"`
	VMSizes            []string `yaml:"vmSizes"`            // AKS: glob patterns
	Locations          []string `yaml:"locations"`          // AKS: glob patterns
	InstanceTypes      []string `yaml:"instanceTypes"`      // EKS: glob patterns; every type of a node group must match
	Regions            []string `yaml:"regions"`            // EKS: glob patterns
	KubernetesVersions []string `yaml:"kubernetesVersions"` // glob patterns: "1.30.*"
	// MaxMonthlyCostIncrease refuses requests that raise the monthly list price by more (in
	// prices.currency; autoscaled pools at their max). When the cost is unknown, they are refused.
	MaxMonthlyCostIncrease float64 `yaml:"maxMonthlyCostIncrease"`
}

// ApprovalsRequired reports whether operations that need approval must wait for an approver by
// default (rules may still ask for approval when it is false).
func (p PolicyFile) ApprovalsRequired() bool {
	return p.RequireApproval == nil || *p.RequireApproval
}

// JobsFile tunes the job engine.
type JobsFile struct {
	PollInterval     Duration `yaml:"pollInterval"`     // minimum time between status polls
	ProgressInterval Duration `yaml:"progressInterval"` // status card refresh
	// SlowAfter: after how long a running job of each kind is flagged in its thread as slower
	// than usual (it keeps running). Kinds left out use the engine's defaults.
	SlowAfter SlowAfterFile `yaml:"slowAfter"`
}

// SlowAfterFile has one optional duration per operation kind; the keys are the kinds' names.
type SlowAfterFile struct {
	ClusterCreate  Duration `yaml:"cluster.create"`
	ClusterDelete  Duration `yaml:"cluster.delete"`
	ClusterUpgrade Duration `yaml:"cluster.upgrade"`
	ClusterStart   Duration `yaml:"cluster.start"`
	ClusterStop    Duration `yaml:"cluster.stop"`
	PoolAdd        Duration `yaml:"nodepool.add"`
	PoolScale      Duration `yaml:"nodepool.scale"`
	PoolUpdate     Duration `yaml:"nodepool.update"`
	PoolDelete     Duration `yaml:"nodepool.delete"`
	PoolUpgrade    Duration `yaml:"nodepool.upgrade"`

	NodegroupCreate  Duration `yaml:"eks.nodegroup.create"`
	NodegroupScale   Duration `yaml:"eks.nodegroup.scale"`
	NodegroupUpgrade Duration `yaml:"eks.nodegroup.upgrade"`
	NodegroupDelete  Duration `yaml:"eks.nodegroup.delete"`
}

// Kinds returns the durations that are set, by operation kind.
func (s SlowAfterFile) Kinds() map[aks.OpKind]time.Duration {
	out := map[aks.OpKind]time.Duration{}
	for kind, d := range map[aks.OpKind]Duration{
		aks.OpClusterCreate: s.ClusterCreate, aks.OpClusterDelete: s.ClusterDelete, aks.OpClusterUpgrade: s.ClusterUpgrade,
		aks.OpClusterStart: s.ClusterStart, aks.OpClusterStop: s.ClusterStop, aks.OpPoolAdd: s.PoolAdd,
		aks.OpPoolScale: s.PoolScale, aks.OpPoolAutoscale: s.PoolUpdate, aks.OpPoolDelete: s.PoolDelete, aks.OpPoolUpgrade: s.PoolUpgrade,
		aks.OpNodegroupCreate: s.NodegroupCreate, aks.OpNodegroupScale: s.NodegroupScale,
		aks.OpNodegroupUpgrade: s.NodegroupUpgrade, aks.OpNodegroupDelete: s.NodegroupDelete,
	} {
		if d.Duration != 0 {
			out[kind] = d.Duration
		}
	}
	return out
}

// SimFile tunes the simulated cloud.
type SimFile struct {
	// Speed divides simulated operation durations: 60 makes a 5-minute create take 5 seconds.
	Speed float64 `yaml:"speed"`
}

// Duration is a time.Duration written in YAML as "15s" or "1m".
type Duration struct{ time.Duration }

// UnmarshalYAML reads a Go duration string. Problems come back as *yaml.TypeError so that the
// decoder reports them with their line, which Parse turns into the key path.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration the way it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New(`expected a duration like "15s" or "1m"`)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf(`%q is not a duration: write it with a unit, like "15s" or "1m"`, n.Value)
	}
	return v, nil
}

// Defaults and limits of the file's values.
const (
	DefaultResourceGroup    = "rg-aks"
	DefaultLocation         = "westeurope"
	DefaultPollInterval     = 15 * time.Second
	DefaultProgressInterval = time.Minute
	DefaultSimSpeed         = 1.0
	DefaultCurrency         = "USD"
	DefaultApprovalTimeout  = time.Hour
	DefaultGroupCacheTTL    = 5 * time.Minute
	DefaultEtcdPrefix       = "/aksbot/"
	DefaultEtcdLeaseTTL     = 10 * time.Second
	DefaultEtcdDialTimeout  = 5 * time.Second

	MinPollInterval     = time.Second
	MaxPollInterval     = 10 * time.Minute // slower than this and users think the job hangs
	MinProgressInterval = 10 * time.Second // chat.update is rate limited (Tier 3)
	MaxProgressInterval = time.Hour
	MaxSimSpeed         = 1e6
	MinApprovalTimeout  = time.Minute
	MaxApprovalTimeout  = 7 * 24 * time.Hour
	MinGroupCacheTTL    = 10 * time.Second // usergroups.users.list is rate limited (Tier 2)
	MaxGroupCacheTTL    = 24 * time.Hour   // longer and people removed from a group keep approving
	MinEtcdLeaseTTL     = 2 * time.Second  // keep-alives go every TTL/3; shorter and a GC pause loses the lanes
	MaxEtcdLeaseTTL     = time.Minute      // longer and a dead replica's clusters wait that long
)

// maxFileSize bounds the configuration file; a real one is a few hundred bytes.
const maxFileSize = 1 << 20

var (
	// Resource group names: 1-90 letters, digits, '_', '(', ')', '-', '.', not ending in '.'.
	resourceGroupRE = regexp.MustCompile(`^[\p{L}\p{N}_().-]+$`)
	locationRE      = regexp.MustCompile(`^[a-z0-9]+$`)
	currencyRE      = regexp.MustCompile(`^[A-Z]{3}$`)
	userIDRE        = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	channelIDRE     = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	groupIDRE       = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
)

// ValidUserID reports whether s looks like a Slack user ID (U… or W…).
func ValidUserID(s string) bool { return userIDRE.MatchString(s) }

// ValidGroupID reports whether s looks like a Slack user group ID (S…).
func ValidGroupID(s string) bool { return groupIDRE.MatchString(s) }

// ValidChannelID reports whether s looks like a Slack channel ID (C…, G… or D…).
func ValidChannelID(s string) bool { return channelIDRE.MatchString(s) }

// Parse reads a configuration file strictly: unknown keys and invalid values are errors naming
// the key path ("policy.approvers[1]: ..."). All problems found are reported together. The
// returned File has the defaults filled in.
func Parse(data []byte) (File, error) {
	var f File
	if len(data) > maxFileSize {
		return f, fmt.Errorf("the file is %d bytes; at most %d are allowed", len(data), maxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return f, fmt.Errorf("parse YAML: %w", err)
	}
	w := walker{set: map[string]bool{}, lines: map[int][]lineEntry{}}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		w.walk(doc.Content[0], reflect.TypeOf(f), "", 0)
	}
	if len(w.problems) > 0 {
		return File{}, errors.Join(w.problems...)
	}

	// The walk has checked keys and shapes; the decoder fills the values and reports the scalar
	// type errors left (a word where a boolean belongs), which are mapped to key paths by line.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, w.explain(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return File{}, errors.New("the file holds more than one YAML document; put everything in one")
	}

	f.setDefaults(w.set)
	if errs := f.validate(w.set); len(errs) > 0 {
		return File{}, errors.Join(errs...)
	}
	return f, nil
}

// setDefaults fills what the file left out. set holds the key paths the file wrote, so that an
// explicit zero is not mistaken for "not written" (it is rejected by validate instead).
func (f *File) setDefaults(set map[string]bool) {
	if f.Azure.ResourceGroup == "" && !set["azure.resourceGroup"] {
		f.Azure.ResourceGroup = DefaultResourceGroup
	}
	if f.Azure.Location == "" && !set["azure.location"] {
		f.Azure.Location = DefaultLocation
	}
	if f.Jobs.PollInterval.Duration == 0 && !set["jobs.pollInterval"] {
		f.Jobs.PollInterval.Duration = DefaultPollInterval
	}
	if f.Jobs.ProgressInterval.Duration == 0 && !set["jobs.progressInterval"] {
		f.Jobs.ProgressInterval.Duration = DefaultProgressInterval
	}
	if f.Schedules.CatchUp.Duration == 0 && !set["schedules.catchUp"] {
		f.Schedules.CatchUp.Duration = DefaultCatchUp
	}
	if f.Prices.Currency == "" && !set["prices.currency"] {
		f.Prices.Currency = DefaultCurrency
	}
	if f.Simulator.Speed == 0 && !set["simulator.speed"] {
		f.Simulator.Speed = DefaultSimSpeed
	}
	if f.Policy.ApprovalTimeout.Duration == 0 && !set["policy.approvalTimeout"] {
		f.Policy.ApprovalTimeout.Duration = DefaultApprovalTimeout
	}
	if f.Policy.GroupCacheTTL.Duration == 0 && !set["policy.groupCacheTTL"] {
		f.Policy.GroupCacheTTL.Duration = DefaultGroupCacheTTL
	}
	e := &f.Store.Etcd
	if e.Prefix == "" && !set["store.etcd.prefix"] {
		e.Prefix = DefaultEtcdPrefix
	}
	if e.LeaseTTL.Duration == 0 && !set["store.etcd.leaseTTL"] {
		e.LeaseTTL.Duration = DefaultEtcdLeaseTTL
	}
	if e.DialTimeout.Duration == 0 && !set["store.etcd.dialTimeout"] {
		e.DialTimeout.Duration = DefaultEtcdDialTimeout
	}
}

func (f *File) validate(set map[string]bool) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}

	for _, name := range sortedNames(f.Azure.Subscriptions) {
		path := "azure.subscriptions." + name
		if !subNameRE.MatchString(name) {
			bad(path, "%q is not a subscription name: use a simple word (letters, digits, '-', '_', up to 40, starting with a letter)", name)
		}
		if id := f.Azure.Subscriptions[name]; !guidRE.MatchString(id) {
			bad(path, "%q is not a subscription ID (a GUID like 00000000-0000-0000-0000-000000000000)", id)
		}
	}
	if d := f.Azure.DefaultSubscription; d != "" {
		if _, ok := f.Azure.Subscriptions[d]; !ok {
			bad("azure.defaultSubscription", "%q is not listed under azure.subscriptions (known: %s)", d, strings.Join(sortedNames(f.Azure.Subscriptions), ", "))
		}
	}

	rg := f.Azure.ResourceGroup
	switch {
	case rg == "":
		bad("azure.resourceGroup", "must not be empty")
	case utf8.RuneCountInString(rg) > 90:
		bad("azure.resourceGroup", "%q is longer than 90 characters", rg)
	case !resourceGroupRE.MatchString(rg):
		bad("azure.resourceGroup", "%q may hold only letters, digits, '_', '-', '.', '(' and ')'", rg)
	case strings.HasSuffix(rg, "."):
		bad("azure.resourceGroup", "%q must not end with '.'", rg)
	}

	loc := f.Azure.Location
	if !locationRE.MatchString(loc) || len(loc) > 64 {
		short := strings.ToLower(strings.ReplaceAll(loc, " ", ""))
		if locationRE.MatchString(short) && short != loc {
			bad("azure.location", "%q is not a location name; write the short form %q", loc, short)
		} else {
			bad("azure.location", "%q is not a location name (lowercase letters and digits, like \"westeurope\")", loc)
		}
	}

	if !currencyRE.MatchString(f.Prices.Currency) {
		bad("prices.currency", "%q is not a currency code (three capital letters, like USD or EUR)", f.Prices.Currency)
	}

	errs = append(errs, f.AWS.problems()...)
	errs = append(errs, f.Policy.explicitZeros(set)...)
	errs = append(errs, f.Policy.problems()...)

	checkDuration := func(path string, d time.Duration, lo, hi time.Duration) {
		if d < lo || d > hi {
			bad(path, "%s is out of range: use %s to %s", d, lo, hi)
		}
	}
	checkDuration("jobs.pollInterval", f.Jobs.PollInterval.Duration, MinPollInterval, MaxPollInterval)
	checkDuration("jobs.progressInterval", f.Jobs.ProgressInterval.Duration, MinProgressInterval, MaxProgressInterval)
	for kind, d := range f.Jobs.SlowAfter.Kinds() {
		checkDuration("jobs.slowAfter."+string(kind), d, time.Minute, 24*time.Hour)
	}
	checkDuration("schedules.catchUp", f.Schedules.CatchUp.Duration, time.Minute, 24*time.Hour)

	if s := f.Simulator.Speed; !(s > 0) || s > MaxSimSpeed {
		bad("simulator.speed", "%s is out of range: use a number above 0 and at most %g (1 = real time)",
			strconv.FormatFloat(s, 'g', -1, 64), MaxSimSpeed)
	}

	e := f.Store.Etcd
	switch p := e.Prefix; {
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"):
		bad("store.etcd.prefix", "%q must start and end with \"/\", like \"/aksbot/\"", p)
	case strings.ContainsFunc(p, unicode.IsSpace) || strings.Contains(p, "//"):
		bad("store.etcd.prefix", "%q must not contain spaces or \"//\"", p)
	}
	checkDuration("store.etcd.leaseTTL", e.LeaseTTL.Duration, MinEtcdLeaseTTL, MaxEtcdLeaseTTL)
	if e.DialTimeout.Duration <= 0 {
		bad("store.etcd.dialTimeout", "%s: must be above 0, like 5s", e.DialTimeout.Duration)
	}
	if (e.TLS.Cert == "") != (e.TLS.Key == "") {
		bad("store.etcd.tls", "cert and key go together: name both files (a client certificate) or neither")
	}
	if strings.ContainsFunc(e.Username, unicode.IsSpace) {
		bad("store.etcd.username", "%q must not contain spaces", e.Username)
	}
	return errs
}

// walker checks the YAML tree against File's shape before decoding: it names unknown keys and
// wrong shapes by key path, records which paths the file wrote, and remembers which path each
// line belongs to so that the decoder's line-numbered errors can be explained.
type walker struct {
	problems []error
	set      map[string]bool
	lines    map[int][]lineEntry
}

// lineEntry is a key or scalar that starts on a line; several share a line in flow style
// ({a: 1, b: 2}), and the decoder's message then tells them apart by the value it quotes.
type lineEntry struct{ path, value string }

var durationType = reflect.TypeOf(Duration{})

// maxDepth bounds alias chains and nesting; File is three levels deep.
const maxDepth = 16

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	if depth > maxDepth {
		w.fail(path, "is nested too deeply")
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		w.walk(n.Alias, t, path, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && path != "" {
		w.lines[n.Line] = append(w.lines[n.Line], lineEntry{path, n.Value})
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // not written: the default applies
	}
	if path != "" {
		w.set[path] = true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	switch {
	case t == durationType:
		if _, err := parseDuration(n); err != nil {
			w.fail(path, "%v", err)
		}
	case t.Kind() == reflect.Struct:
		known := yamlFields(t)
		if n.Kind != yaml.MappingNode {
			w.fail(path, "expected a mapping with the keys %s", strings.Join(sortedKeys(known), ", "))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			w.lines[k.Line] = append(w.lines[k.Line], lineEntry{kp, k.Value})
			f, ok := known[k.Value]
			if !ok {
				w.fail(kp, "unknown key (known keys%s: %s)", inWhere(path), strings.Join(sortedKeys(known), ", "))
				continue
			}
			w.walk(v, f.Type, kp, depth+1)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(path, "expected a mapping of names to values")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			w.lines[k.Line] = append(w.lines[k.Line], lineEntry{kp, k.Value})
			w.walk(v, t.Elem(), kp, depth+1)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(path, "expected a list, like [%s]", exampleItem(path))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			w.fail(path, "expected a single value, not a list or mapping")
		}
	}
}

func (w *walker) fail(path, format string, args ...any) {
	if path == "" {
		path = "top level"
	}
	w.problems = append(w.problems, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// explain rewrites the decoder's "line N: ..." errors as "key.path: ... (line N)".
func (w *walker) explain(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("decode YAML: %w", err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			if path := w.pathAt(line, m[2]); path != "" {
				msg = fmt.Sprintf("%s: %s (line %d)", path, m[2], line)
			}
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// pathAt finds the key path a decoder message for line is about: the only entry on that line, or
// the one whose value the message quotes. It returns "" when that is ambiguous.
func (w *walker) pathAt(line int, msg string) string {
	entries := w.lines[line]
	if len(entries) == 1 {
		return entries[0].path
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		// The decoder quotes values as `value` (shortened to 7 characters and "...") or "key".
		short := e.value
		if len(short) > 10 {
			short = short[:7] + "..."
		}
		if strings.Contains(msg, "`"+short+"`") || strings.Contains(msg, `"`+e.value+`"`) {
			return e.path
		}
	}
	return ""
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f
	}
	return fields
}

func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func inWhere(path string) string {
	if path == "" {
		return " at the top level"
	}
	return " in " + path
}

func exampleItem(path string) string {
	last := path[strings.LastIndex(path, ".")+1:]
	switch last {
	case "channels":
		return "C0123ABCD"
	case "approvers", "requesters":
		return "U0123ABCD, S0123ABCD"
	case "rules":
		return "{name: prod, match: {clusters: [prod-*]}}"
	case "resourceGroups":
		return `"rg-prod-*"`
	case "clusters":
		return `"prod-*"`
	case "requireApprovalFor":
		return "cluster.delete, nodepool.scale"
	case "vmSizes":
		return "Standard_D4s_v5"
	case "locations":
		return "westeurope"
	case "kubernetesVersions":
		return `"1.31.*"`
	case "providers":
		return "eks"
	case "accounts":
		return `"123456789012"`
	case "regions":
		return "eu-west-1"
	case "pools":
		return `"ng-web-*"`
	case "instanceTypes":
		return "m6i.large"
	case "subnets":
		return "subnet-0a1b2c3d, subnet-1b2c3d4e"
	}
	return "..."
}

// DefaultRequireApprovalFor is what needs approval when a rule does not say: everything that
// creates, deletes or upgrades, and the scaling kinds when they add capacity. Start and stop do
// not: they bring back or park the nodes the cluster already had.
var DefaultRequireApprovalFor = []aks.OpKind{
	aks.OpClusterCreate, aks.OpClusterDelete, aks.OpClusterUpgrade,
	aks.OpPoolAdd, aks.OpPoolScale, aks.OpPoolAutoscale, aks.OpPoolDelete, aks.OpPoolUpgrade,
}

// DefaultEKSRequireApprovalFor is what needs approval on EKS when a rule does not say: every
// node-group operation, a scale only when it adds capacity (a higher desired or max size).
var DefaultEKSRequireApprovalFor = []aks.OpKind{
	aks.OpNodegroupCreate, aks.OpNodegroupScale, aks.OpNodegroupUpgrade, aks.OpNodegroupDelete,
}

// DefaultRuleName names the rule made of the top-level keys, used when no rule matches.
const DefaultRuleName = "default"

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// Check reports every problem of the policy section, each naming its key path and the reason:
// malformed IDs and patterns, unknown operation kinds, duplicate rule names, and contradictions
// (more approvals than listed approvers, a rule needing approval that nobody can give, limits
// that exclude each other, rules that can never match). It does not report that the default
// rule has no approvers: the console then uses its demo policy, and Load refuses it for Slack.
func (p PolicyFile) Check() error { return errors.Join(p.problems()...) }

// HasApprovers reports whether anyone at all is named as an approver, by default or in a rule.
func (p PolicyFile) HasApprovers() bool {
	if len(p.Approvers) > 0 {
		return true
	}
	for _, r := range p.Rules {
		if len(r.Approvers) > 0 {
			return true
		}
	}
	return false
}

// RuleRequireApprovalFor returns what the rule at index i asks approval for on AKS:
// RequireApprovalFor(i, "aks"). i = -1 is the default rule.
func (p PolicyFile) RuleRequireApprovalFor(i int) []aks.OpKind {
	return p.RequireApprovalFor(i, aks.ProviderAKS)
}

// RequireApprovalFor returns the operation kinds of provider ("aks" or "eks") that need approval
// under the rule at index i (-1: the default rule): the kinds of that provider its
// requireApprovalFor lists, when written (a kind left out needs none; an empty list, none at
// all); else the provider's defaults, or nothing when policy.requireApproval is false.
//
// A written list that names only the other provider's kinds says nothing about this one, and
// the provider's defaults apply: a rule written for AKS before EKS existed, matching clusters by
// name, must not let EKS changes through without approval.
func (p PolicyFile) RequireApprovalFor(i int, provider string) []aks.OpKind {
	if i >= 0 && p.Rules[i].RequireApprovalFor != nil {
		kinds := p.Rules[i].ListedKinds(provider)
		if len(kinds) > 0 || len(p.Rules[i].RequireApprovalFor) == 0 {
			return kinds
		}
	}
	if !p.ApprovalsRequired() {
		return nil
	}
	if provider == aks.ProviderEKS {
		return slices.Clone(DefaultEKSRequireApprovalFor)
	}
	return slices.Clone(DefaultRequireApprovalFor)
}

// ListedKinds returns the kinds of provider that the rule's requireApprovalFor names.
func (r RuleFile) ListedKinds(provider string) []aks.OpKind {
	kinds := make([]aks.OpKind, 0, len(r.RequireApprovalFor))
	for _, k := range r.RequireApprovalFor {
		if aks.OpKind(k).Provider() == provider {
			kinds = append(kinds, aks.OpKind(k))
		}
	}
	return kinds
}

// ApprovalKinds returns every operation kind that needs approval under the rule at index i (-1:
// the default rule), on the clouds the rule can match, AKS kinds first.
func (p PolicyFile) ApprovalKinds(i int) []aks.OpKind {
	providers := knownProviders
	if i >= 0 {
		providers = p.Rules[i].Match.MatchedProviders()
	}
	var out []aks.OpKind
	for _, provider := range providers {
		out = append(out, p.RequireApprovalFor(i, provider)...)
	}
	return out
}

// explicitZeros names limits the file wrote as 0, which would otherwise read as "no limit".
func (p PolicyFile) explicitZeros(set map[string]bool) []error {
	var errs []error
	if p.ApprovalTimeout.Duration == 0 && set["policy.approvalTimeout"] {
		errs = append(errs, fmt.Errorf("policy.approvalTimeout: 0s is out of range: use %s to %s", MinApprovalTimeout, shortDuration(MaxApprovalTimeout)))
	}
	if p.GroupCacheTTL.Duration == 0 && set["policy.groupCacheTTL"] {
		errs = append(errs, fmt.Errorf("policy.groupCacheTTL: 0s is out of range: use %s to %s", MinGroupCacheTTL, shortDuration(MaxGroupCacheTTL)))
	}
	for i, r := range p.Rules {
		base := fmt.Sprintf("policy.rules[%d].guardrails.", i)
		for key, v := range map[string]int{"maxNodesPerPool": r.Guardrails.MaxNodesPerPool, "maxNodesPerCluster": r.Guardrails.MaxNodesPerCluster} {
			if v == 0 && set[base+key] {
				errs = append(errs, fmt.Errorf("%s%s: 0 would allow no nodes at all; write at least 1, or leave the key out for no limit", base, key))
			}
		}
		if r.Guardrails.MaxMonthlyCostIncrease == 0 && set[base+"maxMonthlyCostIncrease"] {
			errs = append(errs, fmt.Errorf("%smaxMonthlyCostIncrease: 0 would refuse every scale-up; write an amount, or leave the key out for no limit", base))
		}
		sp := fmt.Sprintf("policy.rules[%d].autoApprove.scaleUp.maxMonthlyCostIncrease", i)
		if s := r.AutoApprove.ScaleUp; s != nil && s.MaxMonthlyCostIncrease == 0 && set[sp] {
			errs = append(errs, fmt.Errorf("%s: 0 would auto-approve no scale-up; write an amount, or leave the key out", sp))
		}
	}
	sortErrors(errs)
	return errs
}

func (p PolicyFile) problems() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	principals := func(path string, ids []string) {
		for i, id := range ids {
			if !ValidUserID(id) && !ValidGroupID(id) {
				bad(fmt.Sprintf("%s[%d]", path, i), "%q is not a Slack user ID (U… or W…) or user group ID (S…)", id)
			}
		}
	}
	channels := func(path string, ids []string) {
		for i, id := range ids {
			if !ValidChannelID(id) {
				bad(fmt.Sprintf("%s[%d]", path, i), "%q is not a Slack channel ID (C…, G… or D…)", id)
			}
		}
	}
	patterns := func(path string, pats []string) { errs = append(errs, globProblems(path, pats)...) }
	timeout := func(path string, d time.Duration) {
		if d < MinApprovalTimeout || d > MaxApprovalTimeout {
			bad(path, "%s is out of range: use %s to %s", d, MinApprovalTimeout, shortDuration(MaxApprovalTimeout))
		}
	}

	principals("policy.approvers", p.Approvers)
	principals("policy.requesters", p.Requesters)
	channels("policy.channels", p.Channels)
	// Zero means "not written" for callers that build a PolicyFile in code; Parse fills the default.
	if d := p.ApprovalTimeout.Duration; d != 0 {
		timeout("policy.approvalTimeout", d)
	}
	if d := p.GroupCacheTTL.Duration; d != 0 && (d < MinGroupCacheTTL || d > MaxGroupCacheTTL) {
		bad("policy.groupCacheTTL", "%s is out of range: use %s to %s", d, MinGroupCacheTTL, shortDuration(MaxGroupCacheTTL))
	}

	names := map[string]int{}
	catchAll := map[string]int{} // provider -> the first rule that matches every cluster of it
	for i, r := range p.Rules {
		path := fmt.Sprintf("policy.rules[%d]", i)
		switch {
		case r.Name == "":
			bad(path+".name", "every rule needs a name: messages and the audit log name the rule that decided")
		case strings.EqualFold(r.Name, DefaultRuleName):
			bad(path+".name", "%q is the name of the rule made of the top-level keys; pick another", r.Name)
		case !ruleNameRE.MatchString(r.Name):
			bad(path+".name", "%q: use up to 40 letters, digits, '-', '_' or '.', starting with a letter or digit", r.Name)
		default:
			if j, dup := names[strings.ToLower(r.Name)]; dup {
				bad(path+".name", "%q is already the name of policy.rules[%d]; rule names must differ", r.Name, j)
			}
			names[strings.ToLower(r.Name)] = i
		}
		providers := r.Match.MatchedProviders()
		if msg := shadowed(providers, catchAll); msg != "" {
			bad(path, "never applies: %s", msg)
		} else if r.Match.matchesEveryCluster() {
			for _, pv := range providers {
				if _, ok := catchAll[pv]; !ok {
					catchAll[pv] = i
				}
			}
		}
		errs = append(errs, r.Match.problems(path+".match")...)
		channels(path+".channels", r.Channels)
		principals(path+".requesters", r.Requesters)
		principals(path+".approvers", r.Approvers)
		if r.ApprovalTimeout != nil {
			timeout(path+".approvalTimeout", r.ApprovalTimeout.Duration)
		}

		kindsOK := true
		for j, k := range r.RequireApprovalFor {
			if !aks.OpKind(k).Valid() {
				kindsOK = false
				bad(fmt.Sprintf("%s.requireApprovalFor[%d]", path, j), "%q is not an operation kind (known: %s)", k, kindList(aks.OpKinds))
			}
		}
		if !kindsOK {
			continue // the checks below depend on what needs approval
		}
		required := p.ApprovalKinds(i)

		approvers, approversPath := r.Approvers, path+".approvers"
		if approvers == nil {
			approvers, approversPath = p.Approvers, "policy.approvers"
		}
		approvals := 1
		if r.Approvals != nil {
			approvals = *r.Approvals
			switch {
			case approvals < 1:
				bad(path+".approvals", "%d: at least 1 approval is needed; to need none, leave the operation out of requireApprovalFor", approvals)
			case len(required) == 0 && r.RequireApprovalFor != nil:
				bad(path+".approvals", "has no effect: the rule's requireApprovalFor is empty, so it needs approval for nothing")
			case len(required) == 0:
				bad(path+".approvals", "has no effect: policy.requireApproval is false and the rule lists no requireApprovalFor, so it needs approval for nothing")
			case allUsers(approvers) && approvals > len(dedupe(approvers)):
				bad(path+".approvals", "%d approvals can never be given: %s lists only %d approver(s)", approvals, approversPath, len(dedupe(approvers)))
			}
		}
		if len(required) > 0 && len(approvers) == 0 {
			bad(path, "needs approval for %s but nobody can give it: list approvers under %s.approvers or policy.approvers, or set requireApprovalFor: []", kindList(required), path)
		}

		g := r.Guardrails
		if g.MaxNodesPerPool < 0 {
			bad(path+".guardrails.maxNodesPerPool", "%d: use a positive number, or leave it out for no limit", g.MaxNodesPerPool)
		}
		if g.MaxNodesPerCluster < 0 {
			bad(path+".guardrails.maxNodesPerCluster", "%d: use a positive number, or leave it out for no limit", g.MaxNodesPerCluster)
		}
		if g.MaxNodesPerPool > 0 && g.MaxNodesPerCluster > 0 && g.MaxNodesPerPool > g.MaxNodesPerCluster {
			bad(path+".guardrails.maxNodesPerPool", "%d is more than maxNodesPerCluster (%d): one pool could never reach it", g.MaxNodesPerPool, g.MaxNodesPerCluster)
		}
		if g.MaxMonthlyCostIncrease < 0 {
			bad(path+".guardrails.maxMonthlyCostIncrease", "%g: use a positive amount, or leave it out for no limit", g.MaxMonthlyCostIncrease)
		}
		patterns(path+".guardrails.vmSizes", g.VMSizes)
		patterns(path+".guardrails.locations", g.Locations)
		patterns(path+".guardrails.instanceTypes", g.InstanceTypes)
		errs = append(errs, regionGlobProblems(path+".guardrails.regions", g.Regions)...)
		patterns(path+".guardrails.kubernetesVersions", g.KubernetesVersions)
		errs = append(errs, g.providerProblems(path+".guardrails", providers)...)

		if s := r.AutoApprove.ScaleUp; s != nil {
			sp := path + ".autoApprove.scaleUp"
			if s.MaxAddedNodes < 1 {
				bad(sp+".maxAddedNodes", "%d: write how many nodes a scale-up may add without approval (at least 1)", s.MaxAddedNodes)
			}
			if s.MaxPoolNodes < 1 {
				bad(sp+".maxPoolNodes", "%d: write how many nodes the pool may have after an auto-approved scale-up (at least 1)", s.MaxPoolNodes)
			}
			if s.MaxMonthlyCostIncrease < 0 {
				bad(sp+".maxMonthlyCostIncrease", "%g: use a positive amount, or leave it out", s.MaxMonthlyCostIncrease)
			}
			if g.MaxMonthlyCostIncrease > 0 && s.MaxMonthlyCostIncrease > g.MaxMonthlyCostIncrease {
				bad(sp+".maxMonthlyCostIncrease", "%g is above guardrails.maxMonthlyCostIncrease (%g): such scale-ups are refused anyway", s.MaxMonthlyCostIncrease, g.MaxMonthlyCostIncrease)
			}
			if g.MaxNodesPerPool > 0 && s.MaxPoolNodes > g.MaxNodesPerPool {
				bad(sp+".maxPoolNodes", "%d is above guardrails.maxNodesPerPool (%d): such scale-ups are refused anyway", s.MaxPoolNodes, g.MaxNodesPerPool)
			}
			if !slices.ContainsFunc(required, scalingKind) {
				bad(sp, "has no effect: the rule needs no approval for scaling (nodepool.scale, nodepool.add, nodepool.update, eks.nodegroup.scale, eks.nodegroup.create)")
			}
		}
	}
	return errs
}

// scalingKind reports whether k is one of the kinds that need approval only when they add
// capacity, and that autoApprove.scaleUp may let through.
func scalingKind(k aks.OpKind) bool {
	switch k {
	case aks.OpPoolScale, aks.OpPoolAdd, aks.OpPoolAutoscale, aks.OpNodegroupScale, aks.OpNodegroupCreate:
		return true
	}
	return false
}

// shadowed says which earlier rules leave a rule for providers nothing to decide, or "" when
// some cluster could still reach it.
func shadowed(providers []string, catchAll map[string]int) string {
	if len(providers) == 0 {
		return ""
	}
	var by []string
	for _, pv := range providers {
		j, ok := catchAll[pv]
		if !ok {
			return ""
		}
		by = append(by, fmt.Sprintf("policy.rules[%d] matches every %s cluster", j, strings.ToUpper(pv)))
	}
	if j := catchAll[providers[0]]; len(providers) == len(knownProviders) && catchAll[providers[1]] == j {
		return fmt.Sprintf("policy.rules[%d] matches every cluster and comes first (the first matching rule wins); move it up or give policy.rules[%d] a match", j, j)
	}
	verb := " and comes first"
	if len(by) > 1 {
		verb = ", and they come first"
	}
	return strings.Join(by, " and ") + verb + " (the first matching rule wins); move this rule up or narrow the earlier match"
}

// problems reports malformed patterns and matches that can never select a cluster.
func (m MatchFile) problems(path string) []error {
	var errs []error
	for i, pv := range m.Providers {
		p := fmt.Sprintf("%s.providers[%d]", path, i)
		switch {
		case !slices.Contains(knownProviders, strings.ToLower(pv)):
			errs = append(errs, fmt.Errorf("%s: %q is not a provider (known: %s)", p, pv, strings.Join(knownProviders, ", ")))
		case slices.IndexFunc(m.Providers, func(s string) bool { return strings.EqualFold(s, pv) }) < i:
			errs = append(errs, fmt.Errorf("%s: %s is listed twice", p, pv))
		}
	}
	errs = append(errs, globProblems(path+".subscriptions", m.Subscriptions)...)
	errs = append(errs, globProblems(path+".resourceGroups", m.ResourceGroups)...)
	errs = append(errs, accountGlobProblems(path+".accounts", m.Accounts)...)
	errs = append(errs, regionGlobProblems(path+".regions", m.Regions)...)
	errs = append(errs, globProblems(path+".clusters", m.Clusters)...)
	errs = append(errs, globProblems(path+".pools", m.Pools)...)
	if len(errs) > 0 || len(m.MatchedProviders()) > 0 {
		return errs
	}
	aksOnly, eksOnly := len(m.Subscriptions) > 0 || len(m.ResourceGroups) > 0, len(m.Accounts) > 0 || len(m.Regions) > 0
	switch {
	case aksOnly && eksOnly:
		errs = append(errs, fmt.Errorf("%s: never matches: subscriptions and resourceGroups select AKS clusters, accounts and regions EKS ones, and no cluster is both; split it into one rule per cloud", path))
	case aksOnly:
		errs = append(errs, fmt.Errorf("%s: never matches: providers does not list aks, and subscriptions and resourceGroups select only AKS clusters", path))
	default:
		errs = append(errs, fmt.Errorf("%s: never matches: providers does not list eks, and accounts and regions select only EKS clusters", path))
	}
	return errs
}

// providerProblems reports guardrails for a cloud the rule never applies to: they would
// silently limit nothing.
func (g GuardrailsFile) providerProblems(path string, providers []string) []error {
	if len(providers) == 0 {
		return nil // the match already says that the rule never applies
	}
	var errs []error
	only := func(key, provider, instead string) {
		if !slices.Contains(providers, provider) {
			errs = append(errs, fmt.Errorf("%s.%s: has no effect: it applies to %s, and the rule matches only %s clusters%s",
				path, key, strings.ToUpper(provider), strings.ToUpper(providers[0]), instead))
		}
	}
	if len(g.VMSizes) > 0 {
		only("vmSizes", aks.ProviderAKS, "; EKS node groups are limited by instanceTypes")
	}
	if len(g.Locations) > 0 {
		only("locations", aks.ProviderAKS, "; EKS clusters are limited by regions")
	}
	if len(g.InstanceTypes) > 0 {
		only("instanceTypes", aks.ProviderEKS, "; AKS pools are limited by vmSizes")
	}
	if len(g.Regions) > 0 {
		only("regions", aks.ProviderEKS, "; AKS clusters are limited by locations")
	}
	return errs
}

// globProblems reports empty and malformed glob patterns.
func globProblems(path string, pats []string) []error {
	var errs []error
	for i, pat := range pats {
		if pat == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: an empty pattern matches nothing; leave the list out to match anything", path, i))
		} else if _, err := pathpkg.Match(strings.ToLower(pat), ""); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not a valid glob pattern (use * and ?, and [ ] only in pairs)", path, i, pat))
		}
	}
	return errs
}

// regionGlobProblems reports patterns that are no globs, or that no AWS region could match.
func regionGlobProblems(path string, pats []string) []error {
	return literalGlobProblems(path, pats, func(lit string) string {
		if !aks.ValidAWSRegion(lit) {
			return regionProblem(lit)
		}
		return ""
	}, regionGlobRE, "regions hold only letters, digits and '-'")
}

// accountGlobProblems reports patterns that are no globs, or that no account ID could match.
func accountGlobProblems(path string, pats []string) []error {
	return literalGlobProblems(path, pats, func(lit string) string {
		if !aks.ValidAWSAccount(lit) {
			return fmt.Sprintf("%q is not an AWS account ID (12 digits)", lit)
		}
		return ""
	}, accountGlobRE, "account IDs hold only digits")
}

// What a region or account pattern may hold: the value's characters and the glob syntax.
var (
	regionGlobRE  = regexp.MustCompile(`^[a-z0-9*?!^\[\]-]*$`)
	accountGlobRE = regexp.MustCompile(`^[0-9*?!^\[\]-]*$`)
)

// literalGlobProblems checks glob patterns of values with a known form: a pattern without
// wildcards must be such a value (literal says why not), and one with wildcards may hold only
// what allowed accepts.
func literalGlobProblems(path string, pats []string, literal func(string) string, allowed *regexp.Regexp, why string) []error {
	errs := globProblems(path, pats)
	if len(errs) > 0 {
		return errs
	}
	for i, pat := range pats {
		lower := strings.ToLower(pat)
		switch {
		case !strings.ContainsAny(lower, "*?["):
			if msg := literal(lower); msg != "" {
				errs = append(errs, fmt.Errorf("%s[%d]: %s", path, i, msg))
			}
		case !allowed.MatchString(lower):
			errs = append(errs, fmt.Errorf("%s[%d]: %q can never match: %s", path, i, pat, why))
		}
	}
	return errs
}

func allUsers(ids []string) bool {
	for _, id := range ids {
		if ValidGroupID(id) {
			return false
		}
	}
	return true
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func kindList(kinds []aks.OpKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func sortErrors(errs []error) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}

// shortDuration writes whole days as "7d" instead of "168h0m0s".
func shortDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

var subNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,39}$`)

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
