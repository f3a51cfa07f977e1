package azure

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// ListClusters returns the clusters of one resource group, or of the whole subscription when rg
// is "", sorted by resource group and name.
func (c *Client) ListClusters(ctx context.Context, rg string) ([]aks.Cluster, error) {
	var out []aks.Cluster
	if rg == "" {
		pager := c.clusters.NewListPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, c.mapErr(err, "list clusters", "")
			}
			out = appendClusters(out, page.Value)
		}
	} else {
		pager := c.clusters.NewListByResourceGroupPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, c.mapErr(err, "list clusters in "+rg, "resource group "+rg+" not found")
			}
			out = appendClusters(out, page.Value)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !strings.EqualFold(a.ResourceGroup, b.ResourceGroup) {
			return strings.ToLower(a.ResourceGroup) < strings.ToLower(b.ResourceGroup)
		}
		return strings.ToLower(a.Name) < strings.ToLower(b.Name)
	})
	return out, nil
}

func appendClusters(out []aks.Cluster, list []*armcontainerservice.ManagedCluster) []aks.Cluster {
	for _, mc := range list {
		if mc != nil {
			out = append(out, ClusterFromARM(*mc))
		}
	}
	return out
}

// GetCluster returns one cluster with its pools, or an *aks.Error ENotFound.
func (c *Client) GetCluster(ctx context.Context, rg, name string) (aks.Cluster, error) {
	mc, err := c.getCluster(ctx, rg, name)
	if err != nil {
		return aks.Cluster{}, err
	}
	cl := ClusterFromARM(mc)
	if cl.ResourceGroup == "" {
		cl.ResourceGroup = rg
	}
	return cl, nil
}

func (c *Client) getCluster(ctx context.Context, rg, name string) (armcontainerservice.ManagedCluster, error) {
	resp, err := c.clusters.Get(ctx, rg, name, nil)
	if err != nil {
		return armcontainerservice.ManagedCluster{}, c.mapErr(err, "get cluster "+rg+"/"+name, clusterNotFound(rg, name))
	}
	return resp.ManagedCluster, nil
}

func (c *Client) getPool(ctx context.Context, rg, cluster, pool string) (armcontainerservice.AgentPool, error) {
	resp, err := c.pools.Get(ctx, rg, cluster, pool, nil)
	if err != nil {
		return armcontainerservice.AgentPool{}, c.mapErr(err, fmt.Sprintf("get pool %s/%s/%s", rg, cluster, pool), poolNotFound(rg, cluster, pool))
	}
	return resp.AgentPool, nil
}

func clusterNotFound(rg, name string) string {
	return fmt.Sprintf("cluster %s/%s not found", rg, name)
}

func poolNotFound(rg, cluster, pool string) string {
	return fmt.Sprintf("pool %s of cluster %s/%s not found", pool, rg, cluster)
}

// ListPools returns a cluster's node pools in the order Azure lists them.
func (c *Client) ListPools(ctx context.Context, rg, cluster string) ([]aks.Pool, error) {
	var out []aks.Pool
	pager := c.pools.NewListPager(rg, cluster, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.mapErr(err, "list pools of "+rg+"/"+cluster, clusterNotFound(rg, cluster))
		}
		for _, ap := range page.Value {
			if ap != nil {
				out = append(out, PoolFromARM(*ap))
			}
		}
	}
	return out, nil
}

// GetVersions returns the Kubernetes versions offered in a location, one per patch version,
// oldest first; IsDefault marks the one AKS uses when none is given.
func (c *Client) GetVersions(ctx context.Context, location string) ([]aks.KubernetesVersion, error) {
	resp, err := c.clusters.ListKubernetesVersions(ctx, location, nil)
	if err != nil {
		return nil, c.mapErr(err, "list Kubernetes versions in "+location, "location "+location+" not found")
	}
	return versionsFromARM(resp.Values), nil
}

// GetUpgrades returns the versions a cluster's control plane and pools can be upgraded to, with
// each pool's latest node image.
func (c *Client) GetUpgrades(ctx context.Context, rg, cluster string) (aks.Upgrades, error) {
	resp, err := c.clusters.GetUpgradeProfile(ctx, rg, cluster, nil)
	if err != nil {
		return aks.Upgrades{}, c.mapErr(err, "get upgrades of "+rg+"/"+cluster, clusterNotFound(rg, cluster))
	}
	u := upgradesFromARM(resp.ManagedClusterUpgradeProfile)
	// The cluster's profile has no node image versions; each pool's own profile does.
	for i, p := range u.Pools {
		pu, err := c.poolUpgrades(ctx, rg, cluster, p.Pool)
		if err != nil {
			return aks.Upgrades{}, err
		}
		u.Pools[i].LatestNodeImage = pu.LatestNodeImage
	}
	return u, nil
}

func (c *Client) poolUpgrades(ctx context.Context, rg, cluster, pool string) (aks.PoolUpgrade, error) {
	resp, err := c.pools.GetUpgradeProfile(ctx, rg, cluster, pool, nil)
	if err != nil {
		return aks.PoolUpgrade{}, c.mapErr(err, fmt.Sprintf("get upgrades of pool %s/%s/%s", rg, cluster, pool), poolNotFound(rg, cluster, pool))
	}
	return poolUpgradeFromARM(pool, resp.AgentPoolUpgradeProfile), nil
}

// ProvisioningState returns the provisioning state of the target pool, or of the cluster when
// t.Pool is empty (a pool's state when the cluster is at rest but one of its pools is not);
// "NotFound" when it does not exist.
func (c *Client) ProvisioningState(ctx context.Context, t aks.Target) (string, error) {
	var state *string
	if t.Pool != "" {
		resp, err := c.pools.Get(ctx, t.ResourceGroup, t.Cluster, t.Pool, nil)
		if isNotFound(err) {
			return "NotFound", nil
		}
		if err != nil {
			return "", c.mapErr(err, "get pool "+t.String(), "")
		}
		if resp.Properties != nil {
			state = resp.Properties.ProvisioningState
		}
	} else {
		resp, err := c.clusters.Get(ctx, t.ResourceGroup, t.Cluster, nil)
		if isNotFound(err) {
			return "NotFound", nil
		}
		if err != nil {
			return "", c.mapErr(err, "get cluster "+t.String(), "")
		}
		if resp.Properties != nil {
			state = resp.Properties.ProvisioningState
			// AKS runs one operation at a time on a cluster and its pools, and a pool
			// operation may leave the cluster itself looking at rest: report the pool's.
			if !aks.InProgress(str(state)) {
				for _, p := range resp.Properties.AgentPoolProfiles {
					if p != nil && p.ProvisioningState != nil && aks.InProgress(*p.ProvisioningState) {
						state = p.ProvisioningState
						break
					}
				}
			}
		}
	}
	return str(state), nil
}
