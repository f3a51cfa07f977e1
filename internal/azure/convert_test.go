package azure

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

// exampleBody reads the 200 response body of one of Azure's own API examples into out.
func exampleBody(t *testing.T, file string, out any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "arm-examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Responses map[string]struct {
			Body json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	body := doc.Responses["200"].Body
	if len(body) == 0 {
		t.Fatalf("%s: no 200 body", file)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: decode body: %v", file, err)
	}
}

func TestClusterFromARMExampleGet(t *testing.T) {
	var mc armcontainerservice.ManagedCluster
	exampleBody(t, "ManagedClustersGet.json", &mc)
	c := ClusterFromARM(mc)

	// The example's ID spells "resourcegroups" in lower case.
	if c.Name != "clustername1" || c.ResourceGroup != "rg1" || c.Location != "location1" {
		t.Errorf("identity = %q/%q in %q", c.ResourceGroup, c.Name, c.Location)
	}
	if c.KubernetesVersion != "1.9.6" || c.ProvisioningState != "Succeeded" || c.ETag != "beywbwei" {
		t.Errorf("version %q state %q etag %q", c.KubernetesVersion, c.ProvisioningState, c.ETag)
	}
	if c.FQDN != "dnsprefix1-abcd1234.hcp.eastus.azmk8s.io" {
		t.Errorf("fqdn = %q", c.FQDN)
	}
	if want := map[string]string{"archv2": "", "tier": "production"}; !reflect.DeepEqual(c.Tags, want) {
		t.Errorf("tags = %v, want %v", c.Tags, want)
	}
	if len(c.Pools) != 1 {
		t.Fatalf("pools = %+v", c.Pools)
	}
	p := c.Pools[0]
	if p.Name != "nodepool1" || p.Count != 3 || p.VMSize != "Standard_DS1_v2" || p.OSType != "Linux" {
		t.Errorf("pool = %+v", p)
	}
	if p.ETag != "nvewbvoi" || p.OrchestratorVersion != "1.9.6" || p.NodeImageVersion != "AKSUbuntu:1604:2020.03.11" {
		t.Errorf("pool etag %q version %q image %q", p.ETag, p.OrchestratorVersion, p.NodeImageVersion)
	}
	if !reflect.DeepEqual(p.Zones, []string{"1", "2", "3"}) || p.Autoscaling {
		t.Errorf("zones %v autoscaling %v", p.Zones, p.Autoscaling)
	}
	if c.NodeCount() != 3 {
		t.Errorf("NodeCount = %d", c.NodeCount())
	}
}

func TestClusterFromARMExampleList(t *testing.T) {
	var list armcontainerservice.ManagedClusterListResult
	exampleBody(t, "ManagedClustersList.json", &list)
	if len(list.Value) != 1 {
		t.Fatalf("value has %d clusters", len(list.Value))
	}
	c := ClusterFromARM(*list.Value[0])
	if c.Name != "clustername1" || c.ResourceGroup != "rg1" || c.ETag != "nvweuib" {
		t.Errorf("cluster = %q/%q etag %q", c.ResourceGroup, c.Name, c.ETag)
	}
	if len(c.Pools) != 1 || c.Pools[0].ETag != "byuefvwi" || c.Pools[0].Count != 3 {
		t.Errorf("pools = %+v", c.Pools)
	}
}

func TestPoolFromARMExamples(t *testing.T) {
	var ap armcontainerservice.AgentPool
	exampleBody(t, "AgentPoolsGet.json", &ap)
	p := PoolFromARM(ap)
	// An agent pool's ETag sits in its properties, not at the top level.
	if p.Name != "agentpool1" || p.ETag != "ebwiyfneowv" || p.Count != 3 || p.VMSize != "Standard_DS1_v2" {
		t.Errorf("get: %+v", p)
	}
	if p.ProvisioningState != "Succeeded" || p.OrchestratorVersion != "1.9.6" || p.OSType != "Linux" {
		t.Errorf("get: %+v", p)
	}

	var list armcontainerservice.AgentPoolListResult
	exampleBody(t, "AgentPoolsList.json", &list)
	if len(list.Value) != 1 {
		t.Fatalf("list has %d pools", len(list.Value))
	}
	p = PoolFromARM(*list.Value[0])
	if p.Name != "agentpool1" || p.ETag != "ewnfuib" || p.NodeImageVersion != "AKSUbuntu:1604:2020.03.11" {
		t.Errorf("list: %+v", p)
	}
}

func TestUpgradesFromARMExamples(t *testing.T) {
	var up armcontainerservice.ManagedClusterUpgradeProfile
	exampleBody(t, "ManagedClustersGetUpgradeProfile.json", &up)
	u := upgradesFromARM(up)
	if u.ControlPlaneVersion != "1.7.7" {
		t.Errorf("control plane version = %q", u.ControlPlaneVersion)
	}
	// Numeric order: 1.7.9 comes before 1.7.11.
	if !reflect.DeepEqual(u.ControlPlane, []string{"1.7.9", "1.7.11"}) {
		t.Errorf("control plane upgrades = %v", u.ControlPlane)
	}
	if len(u.Pools) != 1 || u.Pools[0].Pool != "agent" || u.Pools[0].Version != "1.7.7" ||
		!reflect.DeepEqual(u.Pools[0].Upgrades, []string{"1.7.9", "1.7.11"}) {
		t.Errorf("pools = %+v", u.Pools)
	}

	var pup armcontainerservice.AgentPoolUpgradeProfile
	exampleBody(t, "AgentPoolsGetUpgradeProfile.json", &pup)
	pu := poolUpgradeFromARM("agentpool1", pup)
	if pu.Version != "1.12.8" || pu.LatestNodeImage != "AKSUbuntu:1604:2020.03.11" || !reflect.DeepEqual(pu.Upgrades, []string{"1.13.5"}) {
		t.Errorf("pool upgrade = %+v", pu)
	}
}

func TestVersionsFromARMExample(t *testing.T) {
	var list armcontainerservice.KubernetesVersionListResult
	exampleBody(t, "KubernetesVersions_List.json", &list)
	vs := versionsFromARM(list.Values)
	var got []string
	var defaults []string
	for _, v := range vs {
		got = append(got, v.Version)
		if v.IsDefault {
			defaults = append(defaults, v.Version)
		}
	}
	want := []string{"1.23.12", "1.23.15", "1.24.6", "1.24.9", "1.25.4", "1.25.5", "1.26.0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("versions = %v, want %v", got, want)
	}
	// 1.24 is the default minor; AKS takes its newest patch.
	if !reflect.DeepEqual(defaults, []string{"1.24.9"}) {
		t.Errorf("defaults = %v", defaults)
	}
	last := vs[len(vs)-1]
	if !last.Preview || vs[0].Preview {
		t.Errorf("preview flags: first %v last %v", vs[0].Preview, last.Preview)
	}
	if !reflect.DeepEqual(vs[0].UpgradesTo, []string{"1.23.15", "1.24.6", "1.24.9"}) {
		t.Errorf("1.23.12 upgrades = %v", vs[0].UpgradesTo)
	}
}

func TestResourceGroupOf(t *testing.T) {
	for id, want := range map[string]string{
		"/subscriptions/s/resourceGroups/RG-One/providers/Microsoft.ContainerService/managedClusters/x": "RG-One",
		"/subscriptions/s/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/x":    "rg1",
		"/subscriptions/s/RESOURCEGROUPS/Up/providers/x":                                                "Up",
		"": "",
	} {
		if got := resourceGroupOf(id); got != want {
			t.Errorf("resourceGroupOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestDNSPrefix(t *testing.T) {
	for name, want := range map[string]string{
		"demo":        "demo",
		"My_Cluster-": "my-cluster",
		"1st":         "a1st",
		"a__b":        "a-b",
	} {
		if got := dnsPrefix(name); got != want {
			t.Errorf("dnsPrefix(%q) = %q, want %q", name, got, want)
		}
	}
	long := dnsPrefix("x123456789012345678901234567890123456789012345678901234567890")
	if len(long) != 54 {
		t.Errorf("long prefix has %d characters", len(long))
	}
}
