package commands

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AKS naming and limit rules (see the AKS and ARM documentation; checked in the shared notes).
var (
	clusterRe   = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$`)
	poolRe      = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	versionRe   = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,4})?$`)
	vmSizeRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)
	locationRe  = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)
	k8sNameRe   = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	dnsSubdomRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

const (
	maxNodes        = 1000
	maxWindowsPool  = 6
	maxRGLength     = 90
	maxTagKeyLength = 512
	maxTagValLength = 256
	maxReason       = 500 // characters of a deny reason: a sentence or two, not an essay

	day              = 24 * time.Hour
	defaultAuditSpan = day
	maxAuditSpan     = 90 * day
)

// daysRe reads the day part of a --since value such as "7d" or "1d12h"; Go durations have no days.
var daysRe = regexp.MustCompile(`^([0-9]{1,6})d(.*)$`)

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func checkCluster(name string) string {
	if !clusterRe.MatchString(name) {
		return fmt.Sprintf("invalid cluster name %q: use 1-63 letters, digits, '-' and '_', starting and ending with a letter or digit", clip(name))
	}
	return ""
}

// checkPool checks a pool name; osType "Windows" applies the shorter Windows limit.
func checkPool(name, osType string) string {
	if !poolRe.MatchString(name) {
		return fmt.Sprintf("invalid node pool name %q: use 1-12 lowercase letters and digits, starting with a letter", clip(name))
	}
	if osType == "Windows" && len(name) > maxWindowsPool {
		return fmt.Sprintf("invalid node pool name %q: Windows pool names have at most %d characters", name, maxWindowsPool)
	}
	return ""
}

func resourceGroup(in *input) (string, string) {
	if !in.has(fResourceGroup) {
		return "", ""
	}
	rg := in.value(fResourceGroup)
	if !validResourceGroup(rg) {
		return "", fmt.Sprintf("invalid resource group name %q: use 1-%d letters, digits, '-', '_', '.', '(' and ')', not ending in '.'", clip(rg), maxRGLength)
	}
	return rg, ""
}

func validResourceGroup(rg string) bool {
	n := utf8.RuneCountInString(rg)
	if n < 1 || n > maxRGLength || strings.HasSuffix(rg, ".") {
		return false
	}
	for _, r := range rg {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.()", r) {
			return false
		}
	}
	return true
}

// location accepts a region's name or display name: "West Europe" means westeurope.
func location(in *input) (string, string) {
	if !in.has(fLocation) {
		return "", ""
	}
	raw := in.value(fLocation)
	loc := strings.ToLower(strings.ReplaceAll(raw, " ", ""))
	if !locationRe.MatchString(loc) {
		return "", fmt.Sprintf("invalid location %q: use an Azure region name such as westeurope", clip(raw))
	}
	return loc, ""
}

// count reads a node count flag: nil when it is not given.
func count(in *input, flag string, min int) (*int, string) {
	if !in.has(flag) {
		return nil, ""
	}
	raw := in.value(flag)
	n, err := strconv.Atoi(raw)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Sprintf("%s %s is out of range %d-%d", in.used[flag], clip(raw), min, maxNodes)
		}
		return nil, fmt.Sprintf("%s %q is not a whole number", in.used[flag], clip(raw))
	}
	if n < min || n > maxNodes {
		msg := fmt.Sprintf("%s %d is out of range %d-%d", in.used[flag], n, min, maxNodes)
		if min > 0 {
			msg += " (a System pool needs at least 1 node)"
		}
		return nil, msg
	}
	return &n, ""
}

func vmSize(in *input) (string, string) {
	if !in.has(fVMSize) {
		return "", ""
	}
	s := in.value(fVMSize)
	if !vmSizeRe.MatchString(s) {
		return "", fmt.Sprintf("invalid VM size %q: use a size name such as Standard_D4s_v5", clip(s))
	}
	return s, ""
}

func k8sVersion(in *input) (string, string) {
	v := in.value(fK8sVersion)
	if !versionRe.MatchString(v) {
		return "", fmt.Sprintf("invalid Kubernetes version %q: use a version such as 1.30 or 1.30.4", clip(v))
	}
	return v, ""
}

// oneOf reads a flag with a fixed set of values, case-insensitively, and returns the canonical
// spelling.
func oneOf(in *input, flag string, choices ...string) (string, string) {
	v := in.value(flag)
	for _, c := range choices {
		if strings.EqualFold(v, c) {
			return c, ""
		}
	}
	return "", fmt.Sprintf("invalid %s %q: use %s", in.used[flag], clip(v), strings.Join(choices, " or "))
}

// zones reads --zones; "1,2,3" is accepted as well as "1 2 3".
func zones(in *input) ([]string, string) {
	if !in.has(fZones) {
		return nil, ""
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range in.vals[fZones] {
		for _, z := range strings.Split(v, ",") {
			if z != "1" && z != "2" && z != "3" {
				return nil, fmt.Sprintf("invalid zone %q: zones are 1, 2 and 3", clip(z))
			}
			if seen[z] {
				return nil, fmt.Sprintf("zone %s is given twice", z)
			}
			seen[z] = true
			out = append(out, z)
		}
	}
	return out, ""
}

// tags reads --tags: Azure tag names are case-insensitive, at most 512 characters and without
// < > % & \ ? /; values at most 256 characters.
func tags(in *input) (map[string]string, string) {
	if !in.has(fTags) {
		return nil, ""
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for _, kv := range in.vals[fTags] {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, fmt.Sprintf("invalid tag %q: use key=value", clip(kv))
		case k == "" || utf8.RuneCountInString(k) > maxTagKeyLength || strings.ContainsAny(k, `<>%&\?/`) ||
			strings.TrimSpace(k) != k || hasControl(k):
			return nil, fmt.Sprintf("invalid tag name %q: use 1-%d characters, none of < > %% & \\ ? /", clip(k), maxTagKeyLength)
		case utf8.RuneCountInString(v) > maxTagValLength || hasControl(v):
			return nil, fmt.Sprintf("invalid value for tag %q: use at most %d characters", clip(k), maxTagValLength)
		case seen[strings.ToLower(k)]:
			return nil, fmt.Sprintf("tag %q is given twice", clip(k))
		}
		seen[strings.ToLower(k)] = true
		out[k] = v
	}
	return out, ""
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// labels reads --labels: Kubernetes label keys and values.
func labels(in *input) (map[string]string, string) {
	if !in.has(fLabels) {
		return nil, ""
	}
	out := map[string]string{}
	for _, kv := range in.vals[fLabels] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Sprintf("invalid label %q: use key=value", clip(kv))
		}
		if msg := checkLabelKey("label", k); msg != "" {
			return nil, msg
		}
		if !validLabelValue(v) {
			return nil, fmt.Sprintf("invalid value for label %q: use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Sprintf("label %q is given twice", k)
		}
		out[k] = v
	}
	return out, ""
}

// checkLabelKey checks a Kubernetes qualified name: [prefix/]name, the prefix a DNS subdomain
// of at most 253 characters, the name at most 63.
func checkLabelKey(what, key string) string {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		prefix, name = "", key
	}
	if (hasPrefix && (len(prefix) > 253 || !dnsSubdomRe.MatchString(prefix))) || len(name) > 63 || !k8sNameRe.MatchString(name) {
		return fmt.Sprintf("invalid %s key %q: use [prefix/]name, the name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", what, clip(key))
	}
	return ""
}

func validLabelValue(v string) bool {
	return v == "" || (len(v) <= 63 && k8sNameRe.MatchString(v))
}

// taints reads --node-taints as key=value:Effect, with the effect spelled canonically.
func taints(in *input) ([]string, string) {
	return readTaints(in, fTaints, false)
}

// readTaints reads a taint list flag. With eks, as EKS takes them, the value may be left out
// ("key:Effect") and the effect may be spelled as EKS does (NO_SCHEDULE); the effect comes
// back in the Kubernetes spelling either way.
func readTaints(in *input, flag string, eks bool) ([]string, string) {
	if !in.has(flag) {
		return nil, ""
	}
	form := "key=value:Effect"
	if eks {
		form += " or key:Effect"
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range in.vals[flag] {
		kv, effect, ok := cutLast(t, ":")
		k, v, hasValue := strings.Cut(kv, "=")
		if !ok || (!hasValue && !eks) {
			return nil, fmt.Sprintf("invalid taint %q: use %s", clip(t), form)
		}
		if msg := checkLabelKey("taint", k); msg != "" {
			return nil, msg
		}
		if !validLabelValue(v) {
			return nil, fmt.Sprintf("invalid value for taint %q: use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", k)
		}
		if eks {
			effect = strings.ReplaceAll(effect, "_", "")
		}
		canonical := ""
		for _, e := range taintEffects {
			if strings.EqualFold(effect, e) {
				canonical = e
			}
		}
		if canonical == "" {
			_, typed, _ := cutLast(t, ":")
			return nil, fmt.Sprintf("invalid taint effect %q in %q: use %s", clip(typed), clip(t), strings.Join(taintEffects, ", "))
		}
		if seen[k+":"+canonical] {
			return nil, fmt.Sprintf("taint %s:%s is given twice", k, canonical)
		}
		seen[k+":"+canonical] = true
		if hasValue {
			out = append(out, k+"="+v+":"+canonical)
		} else {
			out = append(out, k+":"+canonical)
		}
	}
	return out, ""
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// jobID accepts a positive decimal number and returns it without leading zeros, as the store
// writes IDs.
func jobID(s string) (string, string) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return "", fmt.Sprintf("invalid job ID %q: job IDs are numbers such as 42", clip(s))
	}
	return strconv.FormatUint(n, 10), ""
}

// checkReason checks deny's free-text reason, already trimmed.
func checkReason(reason string) string {
	if n := utf8.RuneCountInString(reason); n > maxReason {
		return fmt.Sprintf("the reason is %d characters long: keep it to %d", n, maxReason)
	}
	if hasControl(reason) {
		return "the reason contains a control character: use plain text"
	}
	return ""
}

// since reads audit's --since: a Go duration ("90m", "12h") or days ("7d", "1d12h"), more than
// 0 and at most 90 days. Without the flag it is a day.
func since(in *input) (time.Duration, string) {
	if !in.has(fSince) {
		return defaultAuditSpan, ""
	}
	raw := in.value(fSince)
	d, ok := parseSpan(raw)
	switch {
	case !ok:
		return 0, fmt.Sprintf("invalid %s %q: use a duration such as 2h, 90m or 7d", in.used[fSince], clip(raw))
	case d <= 0:
		return 0, fmt.Sprintf("%s %s is not a positive duration: use e.g. 2h or 7d", in.used[fSince], clip(raw))
	case d > maxAuditSpan:
		return 0, fmt.Sprintf("%s %s is too far back: the audit trail can be read at most 90d back", in.used[fSince], clip(raw))
	}
	return d, ""
}

// parseSpan parses a Go duration with an optional leading number of days ("1d12h"). A span
// far beyond maxAuditSpan is returned as just over it, so nothing overflows.
func parseSpan(s string) (time.Duration, bool) {
	m := daysRe.FindStringSubmatch(s)
	if m == nil {
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	days, _ := strconv.Atoi(m[1]) // at most six digits: cannot fail
	var extra time.Duration
	if m[2] != "" {
		var err error
		if extra, err = time.ParseDuration(m[2]); err != nil || extra < 0 {
			return 0, false // "1d-2h" is not a span anyone means
		}
	}
	// Capping both parts before adding keeps the sum from overflowing and still over the limit.
	tooLong := maxAuditSpan + 1
	span := tooLong
	if days <= int(maxAuditSpan/day) {
		span = time.Duration(days) * day
	}
	return span + min(extra, tooLong), true
}

// subscriptionRe accepts a configured name (a simple word) or a subscription ID (a GUID); which
// names exist is the bot's to check, against its configuration.
var subscriptionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$|^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

func subscription(in *input) (string, string) {
	raw := in.value(fSubscription)
	if !subscriptionRe.MatchString(raw) {
		return "", fmt.Sprintf("invalid subscription %q: use a configured subscription name or a subscription ID", clip(raw))
	}
	return raw, ""
}
