package eks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The renderers below give the plain text of the /eks read commands, in the style of
// internal/views for AKS: a *bold* title, an aligned table in a code fence, a hint for the next
// command. They stay under viewLimit bytes, which Slack shows in one message.

const viewLimit = 3900

// RenderClusters renders `/eks list [--region R]`: one row per cluster.
func RenderClusters(regions []string, clusters []Cluster) string {
	if len(clusters) == 0 {
		return fmt.Sprintf("No EKS clusters in %s.", strings.Join(regions, ", "))
	}
	rows := make([][]string, 0, len(clusters))
	for _, c := range clusters {
		rows = append(rows, []string{c.Name, c.Region, orDash(c.Version), orDash(c.Status), orDash(c.PlatformVersion)})
	}
	title := fmt.Sprintf("*EKS clusters* (%d) in %s", len(clusters), strings.Join(regions, ", "))
	return clip(title + "\n" + table([]string{"NAME", "REGION", "VERSION", "STATUS", "PLATFORM"}, rows) +
		"\nDetails: `/eks describe CLUSTER [--region R]`")
}

// RenderCluster renders `/eks describe CLUSTER`: the control plane, then its node groups.
func RenderCluster(c Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*EKS cluster %s* in %s\n", c.Name, c.Region)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, oneLine(value))
		}
	}
	field("Kubernetes version", c.Version)
	field("Platform version", c.PlatformVersion)
	field("Status", c.Status)
	field("Endpoint", c.Endpoint)
	fmt.Fprintf(&b, "\n*Node groups* (%d, %d nodes)\n", len(c.Nodegroups), c.Nodes())
	if len(c.Nodegroups) == 0 {
		fmt.Fprintf(&b, "No managed node groups. Add one with `/eks nodegroup create %s NODEGROUP ...`.", c.Name)
		return clip(b.String())
	}
	b.WriteString(nodegroupTable(c.Nodegroups))
	return clip(b.String())
}

// RenderNodegroups renders `/eks nodegroup list CLUSTER`: the table, then a line for each node
// group with labels, taints or health issues.
func RenderNodegroups(cluster string, ngs []Nodegroup) string {
	if len(ngs) == 0 {
		return fmt.Sprintf("Cluster %s has no managed node groups.", cluster)
	}
	out := fmt.Sprintf("*Node groups of %s* (%d)\n", cluster, len(ngs)) + nodegroupTable(ngs)
	for _, ng := range ngs {
		var parts []string
		if len(ng.Labels) > 0 {
			parts = append(parts, "labels "+labelsText(ng.Labels))
		}
		if len(ng.Taints) > 0 {
			parts = append(parts, "taints "+taintsText(ng.Taints))
		}
		if len(ng.Health) > 0 {
			parts = append(parts, "health: "+strings.Join(ng.Health, "; "))
		}
		if len(parts) > 0 {
			out += "\n• " + ng.Name + ": " + oneLine(strings.Join(parts, " · "))
		}
	}
	return clip(out)
}

// RenderNodegroup renders `/eks nodegroup describe CLUSTER NODEGROUP`.
func RenderNodegroup(ng Nodegroup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Node group %s* of cluster %s\n", ng.Name, ng.Cluster)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, oneLine(value))
		}
	}
	field("Status", ng.Status)
	fmt.Fprintf(&b, "Nodes: %d (min %d, max %d)\n", ng.Desired, ng.Min, ng.Max)
	field("Kubernetes version", ng.Version)
	field("AMI release", ng.ReleaseVersion)
	field("Instance types", strings.Join(ng.InstanceTypes, ", "))
	field("Capacity", ng.CapacityType)
	field("AMI type", ng.AMIType)
	if len(ng.Labels) > 0 {
		field("Labels", labelsText(ng.Labels))
	}
	if len(ng.Taints) > 0 {
		field("Taints", taintsText(ng.Taints))
	}
	for _, h := range ng.Health {
		field("Health issue", h)
	}
	return clip(strings.TrimRight(b.String(), "\n"))
}

func nodegroupTable(ngs []Nodegroup) string {
	rows := make([][]string, 0, len(ngs))
	for _, ng := range ngs {
		rows = append(rows, []string{ng.Name, orDash(ng.Status), strconv.Itoa(int(ng.Desired)),
			fmt.Sprintf("%d..%d", ng.Min, ng.Max), orDash(strings.Join(ng.InstanceTypes, ",")),
			orDash(ng.CapacityType), orDash(ng.Version)})
	}
	return table([]string{"NAME", "STATUS", "NODES", "MIN..MAX", "INSTANCE TYPES", "CAPACITY", "VERSION"}, rows)
}

// table aligns rows under header inside a code fence; cells are kept to one line without
// backticks, so a value cannot break the fence.
func table(header []string, rows [][]string) string {
	widths := make([]int, len(header))
	clean := make([][]string, len(rows))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for i, r := range rows {
		clean[i] = make([]string, len(r))
		for j, c := range r {
			clean[i][j] = oneLine(c)
			if j < len(widths) {
				widths[j] = max(widths[j], utf8.RuneCountInString(clean[i][j]))
			}
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 && i < len(widths) {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	var b strings.Builder
	b.WriteString("```\n" + line(header) + "\n")
	for _, r := range clean {
		b.WriteString(line(r) + "\n")
	}
	b.WriteString("```")
	return b.String()
}

func labelsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

func taintsText(ts []Taint) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

// oneLine makes a value safe for one line of Slack text and table cells: no line breaks, no
// backticks, Slack's control characters escaped, at most 120 characters.
func oneLine(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ", "`", "'", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	if utf8.RuneCountInString(s) > 120 {
		r := []rune(s)
		s = string(r[:119]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip keeps a text under viewLimit bytes, closing an open code fence.
func clip(s string) string {
	if len(s) <= viewLimit {
		return s
	}
	cut := s[:viewLimit-20]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndex(cut, "\n"); i > 0 {
		cut = cut[:i]
	}
	if strings.Count(cut, "```")%2 == 1 {
		cut += "\n```"
	}
	return cut + "\n… (cut)"
}
