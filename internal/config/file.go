package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// File is the YAML configuration file. Parse fills the defaults, so a File from Parse or Load is
// ready to use.
type File struct {
	Azure struct {
		ResourceGroup string `yaml:"resourceGroup"`
		Location      string `yaml:"location"`
	} `yaml:"azure"`
	Policy    PolicyFile `yaml:"policy"`
	Jobs      JobsFile   `yaml:"jobs"`
	Simulator SimFile    `yaml:"simulator"`
}

// PolicyFile says who may request and approve operations, and where.
type PolicyFile struct {
	Approvers  []string `yaml:"approvers"`  // Slack user IDs
	Requesters []string `yaml:"requesters"` // empty = anyone
	Channels   []string `yaml:"channels"`   // empty = any
	// RequireApproval defaults to true; false turns approvals off explicitly. It is a pointer so
	// that "not written" and "false" differ.
	RequireApproval *bool `yaml:"requireApproval"`
}

// ApprovalsRequired reports whether operations that need approval must wait for an approver.
func (p PolicyFile) ApprovalsRequired() bool {
	return p.RequireApproval == nil || *p.RequireApproval
}

// JobsFile tunes the job engine.
type JobsFile struct {
	PollInterval     Duration `yaml:"pollInterval"`     // minimum time between status polls
	ProgressInterval Duration `yaml:"progressInterval"` // status card refresh
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

	MinPollInterval     = time.Second
	MaxPollInterval     = 10 * time.Minute // slower than this and users think the job hangs
	MinProgressInterval = 10 * time.Second // chat.update is rate limited (Tier 3)
	MaxProgressInterval = time.Hour
	MaxSimSpeed         = 1e6
)

// maxFileSize bounds the configuration file; a real one is a few hundred bytes.
const maxFileSize = 1 << 20

var (
	// Resource group names: 1-90 letters, digits, '_', '(', ')', '-', '.', not ending in '.'.
	resourceGroupRE = regexp.MustCompile(`^[\p{L}\p{N}_().-]+$`)
	locationRE      = regexp.MustCompile(`^[a-z0-9]+$`)
	userIDRE        = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	channelIDRE     = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
)

// ValidUserID reports whether s looks like a Slack user ID (U… or W…).
func ValidUserID(s string) bool { return userIDRE.MatchString(s) }

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
	if f.Simulator.Speed == 0 && !set["simulator.speed"] {
		f.Simulator.Speed = DefaultSimSpeed
	}
}

func (f *File) validate(set map[string]bool) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
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

	for i, id := range f.Policy.Approvers {
		if !ValidUserID(id) {
			bad(fmt.Sprintf("policy.approvers[%d]", i), "%q is not a Slack user ID (U… or W…)", id)
		}
	}
	for i, id := range f.Policy.Requesters {
		if !ValidUserID(id) {
			bad(fmt.Sprintf("policy.requesters[%d]", i), "%q is not a Slack user ID (U… or W…)", id)
		}
	}
	for i, id := range f.Policy.Channels {
		if !ValidChannelID(id) {
			bad(fmt.Sprintf("policy.channels[%d]", i), "%q is not a Slack channel ID (C…, G… or D…)", id)
		}
	}

	checkDuration := func(path string, d time.Duration, lo, hi time.Duration) {
		if d < lo || d > hi {
			bad(path, "%s is out of range: use %s to %s", d, lo, hi)
		}
	}
	checkDuration("jobs.pollInterval", f.Jobs.PollInterval.Duration, MinPollInterval, MaxPollInterval)
	checkDuration("jobs.progressInterval", f.Jobs.ProgressInterval.Duration, MinProgressInterval, MaxProgressInterval)

	if s := f.Simulator.Speed; !(s > 0) || s > MaxSimSpeed {
		bad("simulator.speed", "%s is out of range: use a number above 0 and at most %g (1 = real time)",
			strconv.FormatFloat(s, 'g', -1, 64), MaxSimSpeed)
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
	if strings.HasSuffix(path, "channels") {
		return "C0123ABCD"
	}
	return "U0123ABCD"
}
