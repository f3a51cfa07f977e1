package azure

import (
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// ClusterFromARM makes the read view of a managed cluster, with the pools of its
// agentPoolProfiles. The resource group is parsed from the ID, whose casing varies.
func ClusterFromARM(mc armcontainerservice.ManagedCluster) aks.Cluster {
	c := aks.Cluster{
		Name:          str(mc.Name),
		ResourceGroup: resourceGroupOf(str(mc.ID)),
		Location:      str(mc.Location),
		ETag:          str(mc.ETag),
		Tags:          tags(mc.Tags),
	}
	if mc.SKU != nil && mc.SKU.Tier != nil {
		c.Tier = string(*mc.SKU.Tier)
	}
	if p := mc.Properties; p != nil {
		// currentKubernetesVersion is the patch actually running; kubernetesVersion may be just
		// the minor the user asked for.
		c.KubernetesVersion = str(p.CurrentKubernetesVersion)
		if c.KubernetesVersion == "" {
			c.KubernetesVersion = str(p.KubernetesVersion)
		}
		c.FQDN = str(p.Fqdn)
		if c.FQDN == "" {
			c.FQDN = str(p.PrivateFQDN)
		}
		c.ProvisioningState = str(p.ProvisioningState)
		c.PowerState = powerState(p.PowerState)
		for _, ap := range p.AgentPoolProfiles {
			if ap != nil {
				c.Pools = append(c.Pools, PoolFromProfile(*ap))
			}
		}
	}
	return c
}

// PoolFromARM makes the read view of an agent pool resource.
func PoolFromARM(ap armcontainerservice.AgentPool) aks.Pool {
	p := aks.Pool{Name: str(ap.Name)}
	if ap.Properties != nil {
		fillPool(&p, *ap.Properties)
	}
	return p
}

// PoolFromProfile makes the read view of a pool embedded in a managed cluster.
func PoolFromProfile(pp armcontainerservice.ManagedClusterAgentPoolProfile) aks.Pool {
	p := aks.Pool{Name: str(pp.Name)}
	// The profile and the agent pool properties carry the same fields; one conversion serves both.
	fillPool(&p, armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		AvailabilityZones:          pp.AvailabilityZones,
		Count:                      pp.Count,
		EnableAutoScaling:          pp.EnableAutoScaling,
		MaxCount:                   pp.MaxCount,
		MinCount:                   pp.MinCount,
		Mode:                       pp.Mode,
		NodeLabels:                 pp.NodeLabels,
		NodeTaints:                 pp.NodeTaints,
		OSType:                     pp.OSType,
		OrchestratorVersion:        pp.OrchestratorVersion,
		PowerState:                 pp.PowerState,
		VMSize:                     pp.VMSize,
		CurrentOrchestratorVersion: pp.CurrentOrchestratorVersion,
		ETag:                       pp.ETag,
		NodeImageVersion:           pp.NodeImageVersion,
		ProvisioningState:          pp.ProvisioningState,
	})
	return p
}

func fillPool(p *aks.Pool, pp armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
	p.Count = int(i32(pp.Count))
	p.VMSize = str(pp.VMSize)
	if pp.Mode != nil {
		p.Mode = string(*pp.Mode)
	}
	if pp.OSType != nil {
		p.OSType = string(*pp.OSType)
	}
	p.OrchestratorVersion = str(pp.CurrentOrchestratorVersion)
	if p.OrchestratorVersion == "" {
		p.OrchestratorVersion = str(pp.OrchestratorVersion)
	}
	p.NodeImageVersion = str(pp.NodeImageVersion)
	p.Autoscaling = pp.EnableAutoScaling != nil && *pp.EnableAutoScaling
	if p.Autoscaling {
		p.MinCount = int(i32(pp.MinCount))
		p.MaxCount = int(i32(pp.MaxCount))
	}
	p.ProvisioningState = str(pp.ProvisioningState)
	p.PowerState = powerState(pp.PowerState)
	for _, z := range pp.AvailabilityZones {
		if z != nil {
			p.Zones = append(p.Zones, *z)
		}
	}
	p.Labels = tags(pp.NodeLabels)
	for _, t := range pp.NodeTaints {
		if t != nil {
			p.Taints = append(p.Taints, *t)
		}
	}
	p.ETag = str(pp.ETag)
}

// resourceGroupOf returns the resource group of an ARM ID: the segment after "resourceGroups",
// which ARM spells in more than one case.
func resourceGroupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

func powerState(ps *armcontainerservice.PowerState) string {
	if ps == nil || ps.Code == nil {
		return ""
	}
	return string(*ps.Code)
}

func tags(m map[string]*string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return out
}

func armTags(m map[string]string) map[string]*string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ptr(v)
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func i32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// versionsFromARM flattens the location's minors into one entry per patch version, oldest
// first. The default is the newest patch of the default minor, which is what AKS picks when no
// version is given.
func versionsFromARM(list []*armcontainerservice.KubernetesVersion) []aks.KubernetesVersion {
	var out []aks.KubernetesVersion
	for _, minor := range list {
		if minor == nil {
			continue
		}
		patches := make([]string, 0, len(minor.PatchVersions))
		for v := range minor.PatchVersions {
			patches = append(patches, v)
		}
		sortVersions(patches)
		for i, v := range patches {
			kv := aks.KubernetesVersion{
				Version:   v,
				Preview:   minor.IsPreview != nil && *minor.IsPreview,
				IsDefault: minor.IsDefault != nil && *minor.IsDefault && i == len(patches)-1,
			}
			if pv := minor.PatchVersions[v]; pv != nil {
				for _, u := range pv.Upgrades {
					if u != nil {
						kv.UpgradesTo = append(kv.UpgradesTo, *u)
					}
				}
			}
			out = append(out, kv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return compareVersions(out[i].Version, out[j].Version) < 0 })
	return out
}

func upgradesFromARM(p armcontainerservice.ManagedClusterUpgradeProfile) aks.Upgrades {
	var u aks.Upgrades
	if p.Properties == nil {
		return u
	}
	if cp := p.Properties.ControlPlaneProfile; cp != nil {
		u.ControlPlaneVersion = str(cp.KubernetesVersion)
		u.ControlPlane = upgradeItems(cp.Upgrades)
	}
	for _, ap := range p.Properties.AgentPoolProfiles {
		if ap == nil {
			continue
		}
		u.Pools = append(u.Pools, aks.PoolUpgrade{
			Pool:     str(ap.Name),
			Version:  str(ap.KubernetesVersion),
			Upgrades: upgradeItems(ap.Upgrades),
		})
	}
	return u
}

func upgradeItems(items []*armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem) []string {
	out := []string{}
	for _, it := range items {
		if it != nil && it.KubernetesVersion != nil {
			out = append(out, *it.KubernetesVersion)
		}
	}
	sortVersions(out)
	return out
}

func poolUpgradeFromARM(name string, p armcontainerservice.AgentPoolUpgradeProfile) aks.PoolUpgrade {
	pu := aks.PoolUpgrade{Pool: name, Upgrades: []string{}}
	if p.Properties == nil {
		return pu
	}
	pu.Version = str(p.Properties.KubernetesVersion)
	pu.LatestNodeImage = str(p.Properties.LatestNodeImageVersion)
	for _, it := range p.Properties.Upgrades {
		if it != nil && it.KubernetesVersion != nil {
			pu.Upgrades = append(pu.Upgrades, *it.KubernetesVersion)
		}
	}
	sortVersions(pu.Upgrades)
	return pu
}

// compareVersions compares dotted numeric versions ("1.31.2" < "1.31.10"); a missing part
// counts as 0, so "1.31" == "1.31.0".
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func sortVersions(vs []string) {
	sort.SliceStable(vs, func(i, j int) bool { return compareVersions(vs[i], vs[j]) < 0 })
}
