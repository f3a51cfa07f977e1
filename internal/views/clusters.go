package views

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// ClusterList renders clusters as a table: name, resource group, location, version, nodes, power
// and provisioning state, sorted by resource group and name. rg is the resource group the list
// was narrowed to ("" for the whole subscription); it shapes the title and the hints.
func ClusterList(rg string, clusters []aks.Cluster) string {
	if len(clusters) == 0 {
		if rg != "" {
			return fmt.Sprintf("No AKS clusters in resource group %s.\nCreate one with `/aks create CLUSTER -g %s -l LOCATION`.", rg, rg)
		}
		return "No AKS clusters found.\nCreate one with `/aks create CLUSTER -g RG -l LOCATION`."
	}
	sorted := slices.Clone(clusters)
	subs := false
	for _, c := range sorted {
		subs = subs || c.Subscription != ""
	}
	slices.SortStableFunc(sorted, func(a, b aks.Cluster) int {
		if c := strings.Compare(a.Subscription, b.Subscription); c != 0 {
			return c
		}
		if c := strings.Compare(strings.ToLower(a.ResourceGroup), strings.ToLower(b.ResourceGroup)); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})

	title := fmt.Sprintf("*AKS clusters* (%d)", len(sorted))
	if rg != "" {
		title = fmt.Sprintf("*AKS clusters in resource group %s* (%d)", rg, len(sorted))
	}
	footer := "Details: `/aks show CLUSTER -g RG`"

	t := table{header: []string{"NAME", "RESOURCE GROUP", "LOCATION", "VERSION", "NODES", "POWER", "STATE"}}
	if subs {
		// Clusters of several subscriptions: each line names its subscription.
		t.header = append([]string{"SUBSCRIPTION"}, t.header...)
	}
	for _, c := range sorted {
		row := []string{
			c.Name, c.ResourceGroup, orDash(c.Location), orDash(c.KubernetesVersion),
			strconv.Itoa(c.NodeCount()), orDash(c.PowerState), orDash(c.ProvisioningState),
		}
		if subs {
			row = append([]string{orDash(c.Subscription)}, row...)
		}
		t.rows = append(t.rows, row)
	}
	more := func(n int) string {
		if rg == "" {
			return fmt.Sprintf("… and %d more (narrow with -g RG)", n)
		}
		return fmt.Sprintf("… and %d more", n)
	}
	body := t.render(Limit-1-len(title)-len(footer)-2, more)
	return clip(title + "\n" + body + "\n" + footer)
}

// ClusterDetail renders one cluster: its control plane (version, FQDN, tier, power and
// provisioning state, location, tags) and then a table of its node pools. Values Azure did not
// return are left out of the header and shown as "-" in the table.
func ClusterDetail(c aks.Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Cluster %s* in resource group %s", c.Name, c.ResourceGroup)
	if c.Subscription != "" {
		fmt.Fprintf(&b, ", subscription %s", c.Subscription)
	}
	b.WriteString("\n")
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, plain(value, maxFieldLen))
		}
	}
	field("Kubernetes version", c.KubernetesVersion)
	field("FQDN", c.FQDN)
	field("Tier", c.Tier)
	field("Power state", c.PowerState)
	field("Provisioning state", c.ProvisioningState)
	field("Location", c.Location)
	fmt.Fprintf(&b, "Tags: %s\n", tagsText(c.Tags))
	if strings.EqualFold(c.PowerState, "Stopped") {
		fmt.Fprintf(&b, "The cluster is stopped: start it with `/aks start %s -g %s`.\n", c.Name, c.ResourceGroup)
	}

	fmt.Fprintf(&b, "\n*Node pools* (%d)\n", len(c.Pools))
	if len(c.Pools) == 0 {
		b.WriteString("No node pools.")
		return clip(b.String())
	}
	more := func(n int) string {
		return fmt.Sprintf("… and %d more %s (all: `/aks nodepool list %s -g %s`)", n, plural(n, "pool", "pools"), c.Name, c.ResourceGroup)
	}
	b.WriteString(poolTable(c.Pools, false).render(Limit-1-b.Len(), more))
	return clip(b.String())
}

// PoolList renders the node pools of one cluster (c.Pools): the pool table with zones, then one
// line for each pool that has a node image, labels or taints.
func PoolList(c aks.Cluster) string {
	name := c.ResourceGroup + "/" + c.Name
	if len(c.Pools) == 0 {
		return fmt.Sprintf("Cluster %s has no node pools.\nAdd one with `/aks nodepool add %s POOL -g %s`.", name, c.Name, c.ResourceGroup)
	}
	title := fmt.Sprintf("*Node pools of %s* (%d)\n", name, len(c.Pools))
	more := func(n int) string {
		return fmt.Sprintf("… and %d more %s", n, plural(n, "pool", "pools"))
	}
	// The table is what matters; the detail lines get what room is left.
	tbl := poolTable(c.Pools, true).render(Limit-1-len(title), more)
	out := title + tbl

	var details []string
	for _, p := range c.Pools {
		var parts []string
		if p.NodeImageVersion != "" {
			parts = append(parts, "node image "+plain(p.NodeImageVersion, maxFieldLen))
		}
		if len(p.Labels) > 0 {
			parts = append(parts, "labels "+tagsText(p.Labels))
		}
		if len(p.Taints) > 0 {
			parts = append(parts, "taints "+plain(strings.Join(p.Taints, ", "), maxFieldLen))
		}
		if len(parts) > 0 {
			details = append(details, "• "+p.Name+": "+strings.Join(parts, " · "))
		}
	}
	if len(details) > 0 {
		budget := Limit - 1 - len(out) - 1
		details = fitLines(details, budget, func(n int) string {
			return fmt.Sprintf("… and %d more", n)
		})
		out += "\n" + strings.Join(details, "\n")
	}
	return clip(out)
}

// poolTable builds the node pool table; withZones adds the availability zones column.
func poolTable(pools []aks.Pool, withZones bool) table {
	t := table{header: []string{"NAME", "MODE", "NODES", "VM SIZE", "AUTOSCALER", "OS", "VERSION"}}
	if withZones {
		t.header = append(t.header, "ZONES")
	}
	t.header = append(t.header, "STATE")
	for _, p := range pools {
		autoscaler := "off"
		if p.Autoscaling {
			autoscaler = fmt.Sprintf("%d-%d", p.MinCount, p.MaxCount)
		}
		state := orDash(p.ProvisioningState)
		if strings.EqualFold(p.PowerState, "Stopped") {
			state += " (stopped)"
		}
		row := []string{
			p.Name, orDash(p.Mode), strconv.Itoa(p.Count), orDash(p.VMSize), autoscaler,
			orDash(p.OSType), orDash(p.OrchestratorVersion),
		}
		if withZones {
			row = append(row, orDash(strings.Join(p.Zones, ",")))
		}
		t.rows = append(t.rows, append(row, state))
	}
	return t
}

// tagsText renders tags or labels as "k=v, k2=v2" in key order; a tag without a value shows its
// key alone, as the Azure portal does.
func tagsText(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range aks.SortedKeys(m) {
		if m[k] == "" {
			parts = append(parts, plain(k, maxFieldLen))
		} else {
			parts = append(parts, plain(k, maxFieldLen)+"="+plain(m[k], maxFieldLen))
		}
	}
	return cut(strings.Join(parts, ", "), 3*maxFieldLen)
}

// Versions renders the Kubernetes versions offered in a location, newest first, marking the
// default and preview versions and listing what each can be upgraded to.
func Versions(location string, vs []aks.KubernetesVersion) string {
	where := ""
	if location != "" {
		where = " in " + location
	}
	if len(vs) == 0 {
		return fmt.Sprintf("No Kubernetes versions are offered%s.", where)
	}
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b aks.KubernetesVersion) int {
		return compareVersions(b.Version, a.Version)
	})
	title := fmt.Sprintf("*Kubernetes versions%s* (%d, newest first)\n", where, len(sorted))
	t := table{header: []string{"VERSION", "NOTE", "UPGRADES TO"}}
	for _, v := range sorted {
		var notes []string
		if v.IsDefault {
			notes = append(notes, "default")
		}
		if v.Preview {
			notes = append(notes, "preview")
		}
		t.rows = append(t.rows, []string{v.Version, orDash(strings.Join(notes, ", ")), versionsText(v.UpgradesTo)})
	}
	more := func(n int) string {
		return fmt.Sprintf("… and %d older %s", n, plural(n, "version", "versions"))
	}
	return clip(title + t.render(Limit-1-len(title), more))
}

// Upgrades renders a cluster's upgrade profile: the control plane's version and the versions it
// can go to, then each pool's version, its possible upgrades and the latest node image.
func Upgrades(c string, u aks.Upgrades) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Upgrades for cluster %s*\n", c)
	if len(u.ControlPlane) == 0 {
		fmt.Fprintf(&b, "Control plane: %s (no upgrade available)\n", orDash(u.ControlPlaneVersion))
	} else {
		fmt.Fprintf(&b, "Control plane: %s -> %s\n", orDash(u.ControlPlaneVersion), versionsText(u.ControlPlane))
	}
	footer := ""
	if len(u.ControlPlane) > 0 {
		footer = fmt.Sprintf("\nUpgrade with `/aks upgrade %s --kubernetes-version VERSION`.", c)
	}
	if len(u.Pools) > 0 {
		t := table{header: []string{"POOL", "VERSION", "UPGRADES TO", "LATEST NODE IMAGE"}}
		for _, p := range u.Pools {
			t.rows = append(t.rows, []string{p.Pool, orDash(p.Version), versionsText(p.Upgrades), orDash(p.LatestNodeImage)})
		}
		more := func(n int) string {
			return fmt.Sprintf("… and %d more %s", n, plural(n, "pool", "pools"))
		}
		b.WriteString(t.render(Limit-1-b.Len()-len(footer), more))
	}
	return clip(strings.TrimSuffix(b.String(), "\n") + footer)
}

// versionsText lists versions oldest first, the order in which upgrades are taken.
func versionsText(vs []string) string {
	if len(vs) == 0 {
		return "-"
	}
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, compareVersions)
	return plain(strings.Join(sorted, ", "), maxFieldLen)
}
