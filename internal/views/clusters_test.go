package views

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// diff fails the test with both texts when they differ.
func diff(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("got:\n%s\n\nwant:\n%s", got, want)
	}
}

// tableRows returns the lines inside the first code fence, header included.
func tableRows(t *testing.T, s string) []string {
	t.Helper()
	start := strings.Index(s, fence+"\n")
	if start < 0 {
		t.Fatalf("no table in:\n%s", s)
	}
	rest := s[start+len(fence)+1:]
	end := strings.Index(rest, fence)
	if end < 0 {
		t.Fatalf("table not closed in:\n%s", s)
	}
	return strings.Split(strings.TrimSuffix(rest[:end], "\n"), "\n")
}

// moreCount returns N from a "… and N more" line, or fails.
func moreCount(t *testing.T, s string) int {
	t.Helper()
	m := regexp.MustCompile(`… and (\d+) (more|older)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no \"… and N more\" line in:\n%s", s)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestClusterList(t *testing.T) {
	// Given out of order: the view sorts by resource group, then name.
	got := ClusterList("", []aks.Cluster{azureExampleCluster(), stoppedCluster(), demoCluster()})
	want := "*AKS clusters* (3)\n" +
		"```\n" +
		"NAME          RESOURCE GROUP  LOCATION    VERSION  NODES  POWER    STATE\n" +
		"demo          rg-aks          westeurope  1.30.4   9      Running  Succeeded\n" +
		"old-lab       rg-lab          eastus      1.29.7   0      Stopped  Succeeded\n" +
		"clustername1  rg1             location1   1.9.6    3      -        Succeeded\n" +
		"```\n" +
		"Details: `/aks show CLUSTER -g RG`"
	diff(t, got, want)
	checkMessage(t, got)
}

func TestClusterListInResourceGroup(t *testing.T) {
	got := ClusterList("rg-aks", []aks.Cluster{demoCluster()})
	if !strings.HasPrefix(got, "*AKS clusters in resource group rg-aks* (1)\n") {
		t.Errorf("title does not name the resource group:\n%s", got)
	}
	rows := tableRows(t, got)
	if len(rows) != 2 || !strings.HasPrefix(rows[1], "demo  ") {
		t.Errorf("want the header and one row for demo, got %q", rows)
	}
}

func TestClusterListEmpty(t *testing.T) {
	diff(t, ClusterList("rg-empty", nil),
		"No AKS clusters in resource group rg-empty.\nCreate one with `/aks create CLUSTER -g rg-empty -l LOCATION`.")
	diff(t, ClusterList("", []aks.Cluster{}),
		"No AKS clusters found.\nCreate one with `/aks create CLUSTER -g RG -l LOCATION`.")
}

func manyClusters(n int) []aks.Cluster {
	cs := make([]aks.Cluster, n)
	for i := range cs {
		c := demoCluster()
		c.Name = fmt.Sprintf("cluster-%03d-with-a-fairly-long-name", i)
		c.ResourceGroup = fmt.Sprintf("rg-team-%02d", i%7)
		cs[i] = c
	}
	return cs
}

func TestClusterListTruncated(t *testing.T) {
	for _, rg := range []string{"", "rg-team-01"} {
		got := ClusterList(rg, manyClusters(200))
		checkMessage(t, got)
		shown := len(tableRows(t, got)) - 1
		if shown < 20 {
			t.Errorf("rg %q: only %d rows shown; the limit allows many more", rg, shown)
		}
		if n := moreCount(t, got); shown+n != 200 {
			t.Errorf("rg %q: %d shown + %d left out, want 200", rg, shown, n)
		}
		if hint := strings.Contains(got, "(narrow with -g RG)"); hint != (rg == "") {
			t.Errorf("rg %q: narrowing hint shown = %v", rg, hint)
		}
		if !strings.HasSuffix(got, "Details: `/aks show CLUSTER -g RG`") {
			t.Errorf("rg %q: footer lost when truncating", rg)
		}
	}
}

// TestClusterDetailAzureExample renders a cluster as Azure's own example returns it
// (ManagedClustersGet.json): fields Azure left out (tier, power state, pool mode) must not
// produce empty lines or a broken table.
func TestClusterDetailAzureExample(t *testing.T) {
	got := ClusterDetail(azureExampleCluster())
	want := "*Cluster clustername1* in resource group rg1\n" +
		"Kubernetes version: 1.9.6\n" +
		"FQDN: dnsprefix1-abcd1234.hcp.eastus.azmk8s.io\n" +
		"Provisioning state: Succeeded\n" +
		"Location: location1\n" +
		"Tags: archv2, tier=production\n" +
		"\n" +
		"*Node pools* (1)\n" +
		"```\n" +
		"NAME       MODE  NODES  VM SIZE          AUTOSCALER  OS     VERSION  STATE\n" +
		"nodepool1  -     3      Standard_DS1_v2  off         Linux  1.9.6    Succeeded\n" +
		"```"
	diff(t, got, want)
	checkMessage(t, got)
}

func TestClusterDetailPools(t *testing.T) {
	got := ClusterDetail(demoCluster())
	want := "*Cluster demo* in resource group rg-aks\n" +
		"Kubernetes version: 1.30.4\n" +
		"FQDN: demo-rg-aks-1a2b3c-x7k2p9.hcp.westeurope.azmk8s.io\n" +
		"Tier: Standard\n" +
		"Power state: Running\n" +
		"Provisioning state: Succeeded\n" +
		"Location: westeurope\n" +
		"Tags: env=staging, team=platform\n" +
		"\n" +
		"*Node pools* (3)\n" +
		"```\n" +
		"NAME    MODE    NODES  VM SIZE          AUTOSCALER  OS       VERSION  STATE\n" +
		"system  System  3      Standard_D4s_v5  off         Linux    1.30.4   Succeeded\n" +
		"np2     User    4      Standard_D8s_v5  2-10        Linux    1.30.4   Scaling\n" +
		"win1    User    2      Standard_D4s_v5  off         Windows  1.29.7   Succeeded\n" +
		"```"
	diff(t, got, want)
}

func TestClusterDetailStopped(t *testing.T) {
	got := ClusterDetail(stoppedCluster())
	for _, want := range []string{
		"Power state: Stopped\n",
		"Tier: Free\n",
		"Tags: none\n",
		"The cluster is stopped: start it with `/aks start old-lab -g rg-lab`.",
		"Succeeded (stopped)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stopped cluster view lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(ClusterDetail(demoCluster()), "is stopped") {
		t.Errorf("a running cluster is described as stopped")
	}
}

func TestClusterDetailEscapesTags(t *testing.T) {
	c := demoCluster()
	c.Tags = map[string]string{"owner": "<!here> & co"}
	got := ClusterDetail(c)
	if !strings.Contains(got, "Tags: owner=&lt;!here&gt; &amp; co\n") {
		t.Errorf("tag not escaped:\n%s", got)
	}
}

func hundredPools() aks.Cluster {
	c := demoCluster()
	c.Pools = nil
	for i := 0; i < 100; i++ {
		c.Pools = append(c.Pools, aks.Pool{
			Name: fmt.Sprintf("pool%03d", i), Mode: "User", Count: i, VMSize: "Standard_D16ds_v5",
			OSType: "Linux", OrchestratorVersion: "1.30.4", ProvisioningState: "Succeeded",
			Zones: []string{"1", "2", "3"}, NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.03.0",
			Labels: map[string]string{"team": fmt.Sprintf("team-%d", i)},
		})
	}
	return c
}

func TestClusterDetailManyPools(t *testing.T) {
	got := ClusterDetail(hundredPools())
	checkMessage(t, got)
	if !strings.Contains(got, "*Node pools* (100)") {
		t.Errorf("title does not give the full pool count")
	}
	shown := len(tableRows(t, got)) - 1
	if n := moreCount(t, got); shown+n != 100 {
		t.Errorf("%d shown + %d left out, want 100", shown, n)
	}
	if !strings.Contains(got, "`/aks nodepool list demo -g rg-aks`") {
		t.Errorf("truncated detail does not point to the pool list:\n%s", got[len(got)-200:])
	}
}

func TestPoolList(t *testing.T) {
	got := PoolList(demoCluster())
	want := "*Node pools of rg-aks/demo* (3)\n" +
		"```\n" +
		"NAME    MODE    NODES  VM SIZE          AUTOSCALER  OS       VERSION  ZONES  STATE\n" +
		"system  System  3      Standard_D4s_v5  off         Linux    1.30.4   1,2,3  Succeeded\n" +
		"np2     User    4      Standard_D8s_v5  2-10        Linux    1.30.4   -      Scaling\n" +
		"win1    User    2      Standard_D4s_v5  off         Windows  1.29.7   -      Succeeded\n" +
		"```\n" +
		"• system: node image AKSUbuntu-2204gen2containerd-202405.03.0\n" +
		"• np2: labels workload=batch · taints batch=true:NoSchedule"
	diff(t, got, want)
	checkMessage(t, got)
}

func TestPoolListEmpty(t *testing.T) {
	c := demoCluster()
	c.Pools = nil
	diff(t, PoolList(c), "Cluster rg-aks/demo has no node pools.\nAdd one with `/aks nodepool add demo POOL -g rg-aks`.")
}

func TestPoolListMany(t *testing.T) {
	got := PoolList(hundredPools())
	checkMessage(t, got)
	shown := len(tableRows(t, got)) - 1
	if n := moreCount(t, got); shown+n != 100 {
		t.Errorf("%d shown + %d left out, want 100", shown, n)
	}
}

// kubernetesVersionsExample mirrors KubernetesVersions_List.json (patch versions, 1.24 the
// default minor, 1.26 in preview), given oldest first as Azure lists them.
func kubernetesVersionsExample() []aks.KubernetesVersion {
	return []aks.KubernetesVersion{
		{Version: "1.23.12", UpgradesTo: []string{"1.23.15", "1.24.6", "1.24.9"}},
		{Version: "1.23.15", UpgradesTo: []string{"1.24.6", "1.24.9"}},
		{Version: "1.24.6", IsDefault: true, UpgradesTo: []string{"1.24.9", "1.25.4", "1.25.5"}},
		{Version: "1.24.9", IsDefault: true, UpgradesTo: []string{"1.25.4", "1.25.5"}},
		{Version: "1.25.4", UpgradesTo: []string{"1.25.5", "1.26.0"}},
		{Version: "1.25.5", UpgradesTo: []string{"1.26.0"}},
		{Version: "1.26.0", Preview: true},
	}
}

func TestVersions(t *testing.T) {
	got := Versions("location1", kubernetesVersionsExample())
	want := "*Kubernetes versions in location1* (7, newest first)\n" +
		"```\n" +
		"VERSION  NOTE     UPGRADES TO\n" +
		"1.26.0   preview  -\n" +
		"1.25.5   -        1.26.0\n" +
		"1.25.4   -        1.25.5, 1.26.0\n" +
		"1.24.9   default  1.25.4, 1.25.5\n" +
		"1.24.6   default  1.24.9, 1.25.4, 1.25.5\n" +
		"1.23.15  -        1.24.6, 1.24.9\n" +
		"1.23.12  -        1.23.15, 1.24.6, 1.24.9\n" +
		"```"
	diff(t, got, want)
}

func TestVersionsOrderIsNumeric(t *testing.T) {
	got := Versions("eastus", []aks.KubernetesVersion{
		{Version: "1.9.11"}, {Version: "1.10.2", IsDefault: true, Preview: true}, {Version: "1.10.13"},
	})
	rows := tableRows(t, got)
	var order []string
	for _, r := range rows[1:] {
		order = append(order, strings.Fields(r)[0])
	}
	if strings.Join(order, " ") != "1.10.13 1.10.2 1.9.11" {
		t.Errorf("order = %v, want newest first by number", order)
	}
	if !strings.Contains(rows[2], "default, preview") {
		t.Errorf("row %q does not mark default and preview", rows[2])
	}
}

func TestVersionsEmptyAndMany(t *testing.T) {
	diff(t, Versions("mars", nil), "No Kubernetes versions are offered in mars.")
	var many []aks.KubernetesVersion
	for minor := 0; minor < 40; minor++ {
		for patch := 0; patch < 10; patch++ {
			many = append(many, aks.KubernetesVersion{
				Version:    fmt.Sprintf("1.%d.%d", minor, patch),
				UpgradesTo: []string{fmt.Sprintf("1.%d.%d", minor+1, 0), fmt.Sprintf("1.%d.%d", minor+1, 9)},
			})
		}
	}
	got := Versions("eastus", many)
	checkMessage(t, got)
	rows := tableRows(t, got)
	if first := strings.Fields(rows[1])[0]; first != "1.39.9" {
		t.Errorf("first row is %s, want the newest 1.39.9", first)
	}
	if n := moreCount(t, got); len(rows)-1+n != len(many) {
		t.Errorf("%d shown + %d left out, want %d", len(rows)-1, n, len(many))
	}
}

// TestUpgrades mirrors ManagedClustersGetUpgradeProfile.json and AgentPoolsGetUpgradeProfile.json.
func TestUpgrades(t *testing.T) {
	got := Upgrades("clustername1", aks.Upgrades{
		ControlPlaneVersion: "1.7.7",
		ControlPlane:        []string{"1.7.11", "1.7.9"},
		Pools: []aks.PoolUpgrade{
			{Pool: "agent", Version: "1.7.7", Upgrades: []string{"1.7.9", "1.7.11"}},
			{Pool: "agentpool1", Version: "1.12.8", Upgrades: []string{"1.13.5"}, LatestNodeImage: "AKSUbuntu:1604:2020.03.11"},
		},
	})
	want := "*Upgrades for cluster clustername1*\n" +
		"Control plane: 1.7.7 -> 1.7.9, 1.7.11\n" +
		"```\n" +
		"POOL        VERSION  UPGRADES TO    LATEST NODE IMAGE\n" +
		"agent       1.7.7    1.7.9, 1.7.11  -\n" +
		"agentpool1  1.12.8   1.13.5         AKSUbuntu:1604:2020.03.11\n" +
		"```\n" +
		"Upgrade with `/aks upgrade clustername1 --kubernetes-version VERSION`."
	diff(t, got, want)
	checkMessage(t, got)
}

func TestUpgradesNoneAvailable(t *testing.T) {
	got := Upgrades("demo", aks.Upgrades{
		ControlPlaneVersion: "1.31.2",
		Pools:               []aks.PoolUpgrade{{Pool: "system", Version: "1.31.2"}},
	})
	want := "*Upgrades for cluster demo*\n" +
		"Control plane: 1.31.2 (no upgrade available)\n" +
		"```\n" +
		"POOL    VERSION  UPGRADES TO  LATEST NODE IMAGE\n" +
		"system  1.31.2   -            -\n" +
		"```"
	diff(t, got, want)
}

func TestUpgradesManyPools(t *testing.T) {
	u := aks.Upgrades{ControlPlaneVersion: "1.30.4", ControlPlane: []string{"1.30.10", "1.31.2"}}
	for i := 0; i < 100; i++ {
		u.Pools = append(u.Pools, aks.PoolUpgrade{
			Pool: fmt.Sprintf("pool%03d", i), Version: "1.30.4", Upgrades: []string{"1.30.10", "1.31.2"},
			LatestNodeImage: "AKSUbuntu-2204gen2containerd-202405.03.0",
		})
	}
	got := Upgrades("demo", u)
	checkMessage(t, got)
	if n := moreCount(t, got); len(tableRows(t, got))-1+n != 100 {
		t.Errorf("pool rows and left-out count do not add up to 100")
	}
	if !strings.HasSuffix(got, "`/aks upgrade demo --kubernetes-version VERSION`.") {
		t.Errorf("footer lost when truncating")
	}
}
