package sim

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	bolt "go.etcd.io/bbolt"
)

func (c *Cloud) listPools(tx *bolt.Tx, key, rg, name string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	out := armcontainerservice.AgentPoolListResult{Value: []*armcontainerservice.AgentPool{}}
	for _, p := range rec.Pools {
		ap, err := renderPool(rec, p)
		if err != nil {
			return nil, err
		}
		out.Value = append(out.Value, ap)
	}
	return &reply{status: http.StatusOK, body: out}, nil
}

func (c *Cloud) getPool(tx *bolt.Tx, key, rg, name, pool string) (*reply, error) {
	rec, p, missing, err := loadPool(tx, key, rg, name, pool)
	if missing != nil || err != nil {
		return missing, err
	}
	return poolReply(http.StatusOK, nil, rec, p)
}

func (c *Cloud) putPool(tx *bolt.Tx, cl *call, key, rg, name, pool string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return parentNotFound(rg, name), nil
	}
	var ap armcontainerservice.AgentPool
	if e := decode(cl.body, &ap); e != nil {
		return errReply(e), nil
	}
	pp := ap.Properties
	if pp == nil {
		pp = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	i, old := rec.pool(pool)
	current := ""
	if old != nil {
		current = deref(old.Properties.ETag)
	}
	if e := checkETag(cl.r, old != nil, current); e != nil {
		return errReply(e), nil
	}
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	if rec.stopped() {
		return errReply(stoppedError(rec.Name)), nil
	}
	controlPlane := deref(rec.props().CurrentKubernetesVersion)
	pools := append([]*armcontainerservice.AgentPool(nil), rec.Pools...)
	var (
		state  string
		kind   opKind
		status int
		p      *armcontainerservice.AgentPool
	)
	if old == nil {
		np, e, err := newPool(pool, pp, controlPlane, rec.Location)
		if err != nil {
			return nil, err
		}
		if e != nil {
			return errReply(e), nil
		}
		p, state, kind, status = np, "Creating", opCreate, http.StatusCreated
		pools = append(pools, p)
	} else {
		np, st, e, err := updatePool(deref(old.Name), pp, old.Properties, controlPlane, rec.Location)
		if err != nil {
			return nil, err
		}
		if e != nil {
			return errReply(e), nil
		}
		if st == "" {
			// A PUT that changes nothing still runs a reconciling update, as in AKS.
			st = "Updating"
		}
		np.ProvisioningState = to.Ptr(st)
		np.ETag = to.Ptr(newETag())
		p, state, kind, status = &armcontainerservice.AgentPool{Name: old.Name, Properties: np}, st, opUpdate, http.StatusOK
		pools[i] = p
	}
	if e := checkLimits(pools); e != nil {
		return errReply(e), nil
	}
	rec.Pools = pools
	_, h, err := c.startSaved(tx, cl, rec, deref(p.Name), kind, state, c.durationOf(state))
	if err != nil {
		return nil, err
	}
	return poolReply(status, h, rec, p)
}

func (c *Cloud) deletePool(tx *bolt.Tx, cl *call, key, pool string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	var p *armcontainerservice.AgentPool
	if rec != nil {
		_, p = rec.pool(pool)
	}
	if p == nil {
		return &reply{status: http.StatusNoContent}, nil
	}
	if e := checkETag(cl.r, true, deref(p.Properties.ETag)); e != nil {
		return errReply(e), nil
	}
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	if rec.stopped() {
		return errReply(stoppedError(rec.Name)), nil
	}
	if isSystem(p.Properties) {
		others := 0
		for _, q := range rec.Pools {
			if q != p && isSystem(q.Properties) {
				others++
			}
		}
		if others == 0 {
			return errReply(errorf(http.StatusBadRequest, "OperationNotAllowed", "There has to be at least one system agent pool. Agent pool %s is the last system agent pool of managed cluster %s and cannot be deleted.", deref(p.Name), rec.Name)), nil
		}
	}
	p.Properties.ProvisioningState = to.Ptr("Deleting")
	p.Properties.ETag = to.Ptr(newETag())
	h, err := c.startAccepted(tx, cl, rec, deref(p.Name), opDelete, "Deleting", c.dur.Delete)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusAccepted, header: h}, nil
}

func (c *Cloud) upgradeNodeImage(tx *bolt.Tx, cl *call, key, rg, name, pool string) (*reply, error) {
	rec, p, missing, err := loadPool(tx, key, rg, name, pool)
	if missing != nil || err != nil {
		return missing, err
	}
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	if rec.stopped() {
		return errReply(stoppedError(rec.Name)), nil
	}
	const state = "UpgradingNodeImageVersion"
	p.Properties.ProvisioningState = to.Ptr(state)
	p.Properties.ETag = to.Ptr(newETag())
	h, err := c.startAccepted(tx, cl, rec, deref(p.Name), opNodeImage, state, c.dur.NodeImage)
	if err != nil {
		return nil, err
	}
	return poolReply(http.StatusAccepted, h, rec, p)
}

func (c *Cloud) poolUpgradeProfile(tx *bolt.Tx, key, rg, name, pool string) (*reply, error) {
	rec, p, missing, err := loadPool(tx, key, rg, name, pool)
	if missing != nil || err != nil {
		return missing, err
	}
	cp := deref(rec.props().CurrentKubernetesVersion)
	pv := deref(p.Properties.CurrentOrchestratorVersion)
	ups := []*armcontainerservice.AgentPoolUpgradeProfilePropertiesUpgradesItem{}
	for _, v := range upgradesFrom(pv) {
		// A pool cannot run ahead of its control plane.
		if compareVersions(v, cp) > 0 {
			continue
		}
		item := &armcontainerservice.AgentPoolUpgradeProfilePropertiesUpgradesItem{KubernetesVersion: to.Ptr(v)}
		if isPreview(v) {
			item.IsPreview = to.Ptr(true)
		}
		ups = append(ups, item)
	}
	os := derefOS(p.Properties.OSType)
	return &reply{status: http.StatusOK, body: &armcontainerservice.AgentPoolUpgradeProfile{
		ID:   to.Ptr(rec.id() + "/agentPools/" + deref(p.Name) + "/upgradeprofiles/default"),
		Name: to.Ptr("default"),
		Type: to.Ptr("Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles"),
		Properties: &armcontainerservice.AgentPoolUpgradeProfileProperties{
			KubernetesVersion:      to.Ptr(pv),
			OSType:                 to.Ptr(os),
			Upgrades:               ups,
			LatestNodeImageVersion: to.Ptr(latestNodeImage(string(os))),
		},
	}}, nil
}

// loadPool loads the cluster under key and its agent pool named pool. Where either is missing,
// rec and p are nil and missing is the 404 reply to send.
func loadPool(tx *bolt.Tx, key, rg, name, pool string) (rec *clusterRec, p *armcontainerservice.AgentPool, missing *reply, err error) {
	rec, err = loadCluster(tx, key)
	if err != nil {
		return nil, nil, nil, err
	}
	if rec == nil {
		return nil, nil, clusterNotFound(rg, name), nil
	}
	if _, p = rec.pool(pool); p == nil {
		return nil, nil, poolNotFound(rg, name, pool), nil
	}
	return rec, p, nil, nil
}

// poolReply answers with the rendered agent pool p of rec.
func poolReply(status int, h http.Header, rec *clusterRec, p *armcontainerservice.AgentPool) (*reply, error) {
	ap, err := renderPool(rec, p)
	if err != nil {
		return nil, err
	}
	return &reply{status: status, header: h, body: ap}, nil
}
