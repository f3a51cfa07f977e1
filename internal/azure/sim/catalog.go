package sim

import (
	"sort"
	"strconv"
	"strings"
)

// versionInfo is one Kubernetes patch version the simulated region offers.
type versionInfo struct {
	Version string
	Minor   string // "1.31"
	Preview bool
}

// kubernetesVersions is the simulated region's catalogue, oldest first: four minors with a
// couple of patches each, the newest minor in preview, as AKS offers them.
var kubernetesVersions = []versionInfo{
	{Version: "1.29.9", Minor: "1.29"},
	{Version: "1.29.11", Minor: "1.29"},
	{Version: "1.30.5", Minor: "1.30"},
	{Version: "1.30.7", Minor: "1.30"},
	{Version: "1.31.2", Minor: "1.31"},
	{Version: "1.31.4", Minor: "1.31"},
	{Version: "1.32.0", Minor: "1.32", Preview: true},
}

const (
	defaultMinor = "1.31"
	// seedVersion is what Seed gives clusters: one minor behind the default so demos can upgrade.
	seedVersion = "1.30.7"

	linuxNodeImageOld   = "AKSUbuntu-2204gen2containerd-202501.12.0"
	linuxNodeImage      = "AKSUbuntu-2204gen2containerd-202502.09.0"
	windowsNodeImageOld = "AKSWindows-2022-containerd-20348.2966.250110"
	windowsNodeImage    = "AKSWindows-2022-containerd-20348.3091.250210"
)

// vmSizes are the VM sizes the simulated region accepts for node pools (compared
// case-insensitively, as AKS does).
var vmSizes = []string{
	"Standard_B2s", "Standard_B2ms", "Standard_B4ms", "Standard_B8ms",
	"Standard_D2_v3", "Standard_D4_v3", "Standard_D8_v3", "Standard_D16_v3",
	"Standard_D2s_v3", "Standard_D4s_v3", "Standard_D8s_v3", "Standard_D16s_v3", "Standard_D32s_v3",
	"Standard_D2_v5", "Standard_D4_v5", "Standard_D8_v5",
	"Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D16s_v5", "Standard_D32s_v5",
	"Standard_D2ds_v5", "Standard_D4ds_v5", "Standard_D8ds_v5",
	"Standard_D2as_v5", "Standard_D4as_v5", "Standard_D8as_v5",
	"Standard_DS1_v2", "Standard_DS2_v2", "Standard_DS3_v2", "Standard_DS4_v2", "Standard_DS5_v2",
	"Standard_D2_v2", "Standard_D3_v2", "Standard_D4_v2",
	"Standard_E2s_v3", "Standard_E4s_v3", "Standard_E8s_v3", "Standard_E16s_v3",
	"Standard_E2s_v5", "Standard_E4s_v5", "Standard_E8s_v5", "Standard_E16s_v5",
	"Standard_F2s_v2", "Standard_F4s_v2", "Standard_F8s_v2", "Standard_F16s_v2",
	"Standard_NC6s_v3", "Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3",
	"Standard_L8s_v3", "Standard_L16s_v3",
}

const defaultVMSize = "Standard_DS2_v2"

// canonicalVMSize returns the catalogue's spelling of size and whether it is known.
func canonicalVMSize(size string) (string, bool) {
	for _, s := range vmSizes {
		if strings.EqualFold(s, size) {
			return s, true
		}
	}
	return "", false
}

// parseVersion splits "1.31.4" (or "1.31") into numbers; ok is false for anything else.
func parseVersion(v string) (major, minor, patch int, hasPatch, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, false, false
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" {
			return 0, 0, 0, false, false
		}
		nums[i] = n
	}
	if len(nums) == 3 {
		return nums[0], nums[1], nums[2], true, true
	}
	return nums[0], nums[1], 0, false, true
}

// compareVersions orders two versions numerically; unparsable ones sort first.
func compareVersions(a, b string) int {
	am, an, ap, _, aok := parseVersion(a)
	bm, bn, bp, _, bok := parseVersion(b)
	switch {
	case !aok && !bok:
		return strings.Compare(a, b)
	case !aok:
		return -1
	case !bok:
		return 1
	}
	for _, d := range [][2]int{{am, bm}, {an, bn}, {ap, bp}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// minorNumber returns the minor number of v (31 for 1.31.4), -1 when unparsable.
func minorNumber(v string) int {
	_, minor, _, _, ok := parseVersion(v)
	if !ok {
		return -1
	}
	return minor
}

// resolveVersion maps a requested version ("" = the default, "1.31" = that minor's latest
// patch, "1.31.4" = itself) to an offered patch version.
func resolveVersion(requested string) (string, bool) {
	if requested == "" {
		requested = defaultMinor
	}
	_, _, _, hasPatch, ok := parseVersion(requested)
	if !ok {
		return "", false
	}
	if hasPatch {
		for _, v := range kubernetesVersions {
			if v.Version == requested {
				return v.Version, true
			}
		}
		return "", false
	}
	latest := ""
	for _, v := range kubernetesVersions {
		if v.Minor == requested {
			latest = v.Version
		}
	}
	return latest, latest != ""
}

func isPreview(version string) bool {
	for _, v := range kubernetesVersions {
		if v.Version == version {
			return v.Preview
		}
	}
	return false
}

// upgradesFrom lists the versions a cluster on `from` may move to: later patches of the same
// minor and the patches of the next minor only (AKS does not allow skipping a minor).
func upgradesFrom(from string) []string {
	var out []string
	fromMinor := minorNumber(from)
	for _, v := range kubernetesVersions {
		if compareVersions(v.Version, from) <= 0 {
			continue
		}
		if m := minorNumber(v.Version); m == fromMinor || m == fromMinor+1 {
			out = append(out, v.Version)
		}
	}
	return out
}

// minors returns the offered minor versions in order.
func minors() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range kubernetesVersions {
		if !seen[v.Minor] {
			seen[v.Minor] = true
			out = append(out, v.Minor)
		}
	}
	sort.Slice(out, func(i, j int) bool { return compareVersions(out[i], out[j]) < 0 })
	return out
}

func latestNodeImage(osType string) string {
	if strings.EqualFold(osType, "Windows") {
		return windowsNodeImage
	}
	return linuxNodeImage
}
