package sim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

const (
	typeCluster = "Microsoft.ContainerService/ManagedClusters"
	typePool    = "Microsoft.ContainerService/managedClusters/agentPools"
)

// convert copies between the SDK's pool shapes (cluster agentPoolProfiles and agentPools
// properties share their JSON field names) through their own JSON (un)marshallers.
func convert[T any](from any) (*T, error) {
	raw, err := json.Marshal(from)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", from, err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode %T: %w", out, err)
	}
	return &out, nil
}

// renderCluster is the cluster as ARM returns it, its agentPoolProfiles mirroring the pools.
func renderCluster(cl *clusterRec) (*armcontainerservice.ManagedCluster, error) {
	out, err := convert[armcontainerservice.ManagedCluster](cl.Cluster)
	if err != nil {
		return nil, err
	}
	if out.Properties == nil {
		out.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	out.ID = to.Ptr(cl.id())
	out.Name = to.Ptr(cl.Name)
	out.Type = to.Ptr(typeCluster)
	out.Location = to.Ptr(cl.Location)
	profiles := make([]*armcontainerservice.ManagedClusterAgentPoolProfile, 0, len(cl.Pools))
	for _, p := range cl.Pools {
		prof, err := convert[armcontainerservice.ManagedClusterAgentPoolProfile](p.Properties)
		if err != nil {
			return nil, err
		}
		prof.Name = p.Name
		profiles = append(profiles, prof)
	}
	out.Properties.AgentPoolProfiles = profiles
	// AKS never returns secrets it was given.
	if wp := out.Properties.WindowsProfile; wp != nil {
		wp.AdminPassword = nil
	}
	if sp := out.Properties.ServicePrincipalProfile; sp != nil {
		sp.Secret = nil
	}
	return out, nil
}

func renderPool(cl *clusterRec, p *armcontainerservice.AgentPool) (*armcontainerservice.AgentPool, error) {
	out, err := convert[armcontainerservice.AgentPool](p)
	if err != nil {
		return nil, err
	}
	out.ID = to.Ptr(cl.id() + "/agentPools/" + deref(p.Name))
	out.Type = to.Ptr(typePool)
	return out, nil
}

// newClusterDefaults fills the fields AKS sets on a new cluster that the request left out, and
// the read-only ones it always owns.
func newClusterDefaults(cl *clusterRec, version string) {
	mc := cl.Cluster
	if mc.SKU == nil {
		mc.SKU = &armcontainerservice.ManagedClusterSKU{}
	}
	if mc.SKU.Name == nil {
		mc.SKU.Name = to.Ptr(armcontainerservice.ManagedClusterSKUNameBase)
	}
	if mc.SKU.Tier == nil {
		mc.SKU.Tier = to.Ptr(armcontainerservice.ManagedClusterSKUTierFree)
	}
	if mc.Identity == nil || mc.Identity.Type == nil {
		mc.Identity = &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)}
	}
	if *mc.Identity.Type == armcontainerservice.ResourceIdentityTypeSystemAssigned {
		mc.Identity.PrincipalID = to.Ptr(newUUID())
		mc.Identity.TenantID = to.Ptr(simTenantID)
	}
	for id, v := range mc.Identity.UserAssignedIdentities {
		if v == nil {
			v = &armcontainerservice.ManagedServiceIdentityUserAssignedIdentitiesValue{}
			mc.Identity.UserAssignedIdentities[id] = v
		}
		v.PrincipalID = to.Ptr(newUUID())
		v.ClientID = to.Ptr(newUUID())
	}
	p := cl.props()
	if deref(p.DNSPrefix) == "" && deref(p.FqdnSubdomain) == "" {
		p.DNSPrefix = to.Ptr(defaultDNSPrefix(cl))
	}
	prefix := deref(p.DNSPrefix)
	suffix := newUUID()[:8]
	p.Fqdn = to.Ptr(fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", prefix, suffix, cl.Location))
	p.AzurePortalFQDN = to.Ptr(fmt.Sprintf("%s-%s.portal.hcp.%s.azmk8s.io", prefix, suffix, cl.Location))
	if p.NodeResourceGroup == nil {
		p.NodeResourceGroup = to.Ptr(fmt.Sprintf("MC_%s_%s_%s", cl.RG, cl.Name, cl.Location))
	}
	if p.KubernetesVersion == nil || *p.KubernetesVersion == "" {
		p.KubernetesVersion = to.Ptr(version)
	}
	p.CurrentKubernetesVersion = to.Ptr(version)
	p.MaxAgentPools = to.Ptr[int32](maxPools)
	p.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	p.ResourceUID = to.Ptr(strings.ReplaceAll(newUUID(), "-", "")[:24])
	if p.EnableRBAC == nil {
		p.EnableRBAC = to.Ptr(true)
	}
	if p.SupportPlan == nil {
		p.SupportPlan = to.Ptr(armcontainerservice.KubernetesSupportPlanKubernetesOfficial)
	}
	if p.ServicePrincipalProfile == nil && *mc.Identity.Type != armcontainerservice.ResourceIdentityTypeNone {
		// AKS reports "msi" as the client id of clusters that use a managed identity.
		p.ServicePrincipalProfile = &armcontainerservice.ManagedClusterServicePrincipalProfile{ClientID: to.Ptr("msi")}
	}
	p.NetworkProfile = defaultNetworkProfile(cl, p.NetworkProfile)
}

const simTenantID = "00000000-0000-0000-0000-00000000a4b5"

func defaultDNSPrefix(cl *clusterRec) string {
	sub := strings.ReplaceAll(cl.Sub, "-", "")
	if len(sub) > 6 {
		sub = sub[:6]
	}
	name := cl.Name
	if len(name) > 10 {
		name = name[:10]
	}
	rg := cl.RG
	if len(rg) > 16 {
		rg = rg[:16]
	}
	return fmt.Sprintf("%s-%s-%s", name, rg, sub)
}

func defaultNetworkProfile(cl *clusterRec, np *armcontainerservice.NetworkProfile) *armcontainerservice.NetworkProfile {
	if np == nil {
		np = &armcontainerservice.NetworkProfile{}
	}
	if np.NetworkPlugin == nil {
		np.NetworkPlugin = to.Ptr(armcontainerservice.NetworkPluginAzure)
		np.NetworkPluginMode = to.Ptr(armcontainerservice.NetworkPluginModeOverlay)
	}
	if np.PodCidr == nil {
		np.PodCidr = to.Ptr("10.244.0.0/16")
	}
	if np.ServiceCidr == nil {
		np.ServiceCidr = to.Ptr("10.0.0.0/16")
	}
	if np.DNSServiceIP == nil {
		np.DNSServiceIP = to.Ptr("10.0.0.10")
	}
	if np.PodCidrs == nil {
		np.PodCidrs = []*string{np.PodCidr}
	}
	if np.ServiceCidrs == nil {
		np.ServiceCidrs = []*string{np.ServiceCidr}
	}
	if np.IPFamilies == nil {
		np.IPFamilies = []*armcontainerservice.IPFamily{to.Ptr(armcontainerservice.IPFamilyIPv4)}
	}
	if np.LoadBalancerSKU == nil {
		np.LoadBalancerSKU = to.Ptr(armcontainerservice.LoadBalancerSKUStandard)
	}
	if np.OutboundType == nil {
		np.OutboundType = to.Ptr(armcontainerservice.OutboundTypeLoadBalancer)
	}
	if *np.OutboundType == armcontainerservice.OutboundTypeLoadBalancer {
		if np.LoadBalancerProfile == nil {
			np.LoadBalancerProfile = &armcontainerservice.ManagedClusterLoadBalancerProfile{}
		}
		lb := np.LoadBalancerProfile
		if lb.ManagedOutboundIPs == nil && lb.OutboundIPs == nil && lb.OutboundIPPrefixes == nil {
			lb.ManagedOutboundIPs = &armcontainerservice.ManagedClusterLoadBalancerProfileManagedOutboundIPs{Count: to.Ptr[int32](1)}
		}
		if lb.AllocatedOutboundPorts == nil {
			lb.AllocatedOutboundPorts = to.Ptr[int32](0)
		}
		if lb.IdleTimeoutInMinutes == nil {
			lb.IdleTimeoutInMinutes = to.Ptr[int32](30)
		}
		n := 1
		if lb.ManagedOutboundIPs != nil && lb.ManagedOutboundIPs.Count != nil {
			n = int(*lb.ManagedOutboundIPs.Count)
		}
		lb.EffectiveOutboundIPs = nil
		for i := range n {
			lb.EffectiveOutboundIPs = append(lb.EffectiveOutboundIPs, &armcontainerservice.ResourceReference{
				ID: to.Ptr(fmt.Sprintf("/subscriptions/%s/resourcegroups/MC_%s_%s_%s/providers/Microsoft.Network/publicIPAddresses/outboundip%d", cl.Sub, cl.RG, cl.Name, cl.Location, i+1)),
			})
		}
	}
	return np
}

// newPoolDefaults fills what AKS sets on a new pool; version is the resolved orchestrator
// version and nodeImage the image its nodes start with.
func newPoolDefaults(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties, version, nodeImage string) {
	if p.OSType == nil {
		p.OSType = to.Ptr(armcontainerservice.OSTypeLinux)
	}
	if p.OSSKU == nil {
		if *p.OSType == armcontainerservice.OSTypeWindows {
			p.OSSKU = to.Ptr(armcontainerservice.OSSKUWindows2022)
		} else {
			p.OSSKU = to.Ptr(armcontainerservice.OSSKUUbuntu)
		}
	}
	if p.Type == nil {
		p.Type = to.Ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets)
	}
	if p.MaxPods == nil {
		p.MaxPods = to.Ptr[int32](110)
	}
	if p.OSDiskSizeGB == nil {
		p.OSDiskSizeGB = to.Ptr[int32](128)
	}
	if p.OSDiskType == nil {
		p.OSDiskType = to.Ptr(armcontainerservice.OSDiskTypeManaged)
	}
	if p.KubeletDiskType == nil {
		p.KubeletDiskType = to.Ptr(armcontainerservice.KubeletDiskTypeOS)
	}
	if p.EnableAutoScaling == nil {
		p.EnableAutoScaling = to.Ptr(false)
	}
	if p.UpgradeSettings == nil {
		p.UpgradeSettings = &armcontainerservice.AgentPoolUpgradeSettings{MaxSurge: to.Ptr("10%")}
	}
	p.OrchestratorVersion = to.Ptr(version)
	p.CurrentOrchestratorVersion = to.Ptr(version)
	p.NodeImageVersion = to.Ptr(nodeImage)
	p.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
}
