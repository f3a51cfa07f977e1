package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	bolt "go.etcd.io/bbolt"
)

// Read-only fields AKS owns: a PUT body's values for them are ignored.
var (
	readOnlyClusterProps = map[string]bool{
		"provisioningState": true, "powerState": true, "currentKubernetesVersion": true,
		"fqdn": true, "azurePortalFQDN": true, "privateFQDN": true, "maxAgentPools": true,
		"resourceUID": true, "agentPoolProfiles": true, "nodeResourceGroup": true,
		"kubernetesVersion": true, "dnsPrefix": true,
	}
	readOnlyPoolProps = map[string]bool{
		"provisioningState": true, "powerState": true, "currentOrchestratorVersion": true,
		"eTag": true, "nodeImageVersion": true, "orchestratorVersion": true,
	}
)

// overlay returns base with the fields present in patch laid over it, except the skipped ones:
// the resource as it is, updated with what a PUT body says.
func overlay[T any](base, patch *T, skip map[string]bool) (*T, error) {
	var b, p map[string]json.RawMessage
	for _, x := range []struct {
		v   *T
		out *map[string]json.RawMessage
	}{{base, &b}, {patch, &p}} {
		raw, err := json.Marshal(x.v)
		if err != nil {
			return nil, fmt.Errorf("encode %T: %w", x.v, err)
		}
		if err := json.Unmarshal(raw, x.out); err != nil {
			return nil, fmt.Errorf("decode %T: %w", x.v, err)
		}
	}
	if b == nil {
		b = map[string]json.RawMessage{}
	}
	for k, v := range p {
		if !skip[k] {
			b[k] = v
		}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode merged %T: %w", base, err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode merged %T: %w", base, err)
	}
	return &out, nil
}

func normLocation(loc string) string { return strings.ToLower(strings.ReplaceAll(loc, " ", "")) }

func (c *Cloud) listClusters(tx *bolt.Tx, cl *call, sub, rg string) (*reply, error) {
	prefix := strings.ToLower(sub) + "/"
	if rg != "" {
		prefix += strings.ToLower(rg) + "/"
	}
	recs, err := listClusters(tx, prefix)
	if err != nil {
		return nil, err
	}
	out := armcontainerservice.ManagedClusterListResult{Value: []*armcontainerservice.ManagedCluster{}}
	for _, rec := range recs {
		mc, err := renderCluster(rec)
		if err != nil {
			return nil, err
		}
		out.Value = append(out.Value, mc)
	}
	return &reply{status: http.StatusOK, body: out}, nil
}

func (c *Cloud) getCluster(tx *bolt.Tx, key, rg, name string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	return clusterReply(http.StatusOK, nil, rec)
}

func (c *Cloud) putCluster(tx *bolt.Tx, cl *call, sub, rg, name string) (*reply, error) {
	if e := validateClusterName(name); e != nil {
		return errReply(e), nil
	}
	var mc armcontainerservice.ManagedCluster
	if e := decode(cl.body, &mc); e != nil {
		return errReply(e), nil
	}
	rec, err := loadCluster(tx, clusterKey(sub, rg, name))
	if err != nil {
		return nil, err
	}
	current := ""
	if rec != nil {
		current = deref(rec.Cluster.ETag)
	}
	if e := checkETag(cl.r, rec != nil, current); e != nil {
		return errReply(e), nil
	}
	if rec == nil {
		return c.createCluster(tx, cl, sub, rg, name, &mc)
	}
	return c.updateCluster(tx, cl, rec, &mc)
}

func (c *Cloud) createCluster(tx *bolt.Tx, cl *call, sub, rg, name string, mc *armcontainerservice.ManagedCluster) (*reply, error) {
	loc := normLocation(deref(mc.Location))
	if loc == "" {
		return errReply(errorf(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")), nil
	}
	props := mc.Properties
	if props == nil {
		props = &armcontainerservice.ManagedClusterProperties{}
	}
	profiles := props.AgentPoolProfiles
	if len(profiles) == 0 {
		return errReply(invalidParam("properties.agentPoolProfiles", "Required parameter agentPoolProfiles is missing (null).")), nil
	}
	version, e := validateControlPlaneVersion(deref(props.KubernetesVersion), "", loc)
	if e != nil {
		return errReply(e), nil
	}
	// Start from the request minus what AKS owns.
	clean, err := overlay(&armcontainerservice.ManagedClusterProperties{}, props, readOnlyClusterProps)
	if err != nil {
		return nil, err
	}
	clean.KubernetesVersion = props.KubernetesVersion
	clean.DNSPrefix = props.DNSPrefix
	rec := &clusterRec{Sub: sub, RG: rg, Name: name, Location: loc, Cluster: &armcontainerservice.ManagedCluster{
		Location: to.Ptr(loc), Tags: mc.Tags, SKU: mc.SKU, Identity: mc.Identity, Properties: clean,
	}}
	newClusterDefaults(rec, version)

	seen := map[string]bool{}
	for i, prof := range profiles {
		pname := deref(prof.Name)
		pp, err := convert[armcontainerservice.ManagedClusterAgentPoolProfileProperties](prof)
		if err != nil {
			return nil, err
		}
		if pp.Mode == nil {
			// AKS makes the first pool the System pool when the request says nothing.
			mode := armcontainerservice.AgentPoolModeUser
			if i == 0 {
				mode = armcontainerservice.AgentPoolModeSystem
			}
			pp.Mode = &mode
		}
		p, e, err := newPool(pname, pp, version, loc)
		if err != nil {
			return nil, err
		}
		if e != nil {
			return errReply(e), nil
		}
		if seen[strings.ToLower(pname)] {
			return errReply(invalidParam("agentPoolProfile.name", "Agent pool names must be unique within a managed cluster: %s is given more than once.", pname)), nil
		}
		seen[strings.ToLower(pname)] = true
		rec.Pools = append(rec.Pools, p)
	}
	if e := checkLimits(rec.Pools); e != nil {
		return errReply(e), nil
	}
	rec.Cluster.ETag = to.Ptr(newETag())
	rec.props().ProvisioningState = to.Ptr("Creating")
	_, h, err := c.startSaved(tx, cl, rec, "", opCreate, "Creating", c.dur.Create)
	if err != nil {
		return nil, err
	}
	return clusterReply(http.StatusCreated, h, rec)
}

// newPool validates a new pool and fills AKS's defaults. The pool starts Creating.
func newPool(name string, pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties, controlPlane, loc string) (*armcontainerservice.AgentPool, *apiError, error) {
	if e := validatePoolName(name, derefOS(pp.OSType)); e != nil {
		return nil, e, nil
	}
	if pp.Mode == nil {
		pp.Mode = to.Ptr(armcontainerservice.AgentPoolModeUser)
	}
	if pp.VMSize == nil || *pp.VMSize == "" {
		pp.VMSize = to.Ptr(defaultVMSize)
	}
	if e := validatePoolSpec(name, pp, nil, loc); e != nil {
		return nil, e, nil
	}
	version, e := validatePoolVersion(name, deref(pp.OrchestratorVersion), "", controlPlane)
	if e != nil {
		return nil, e, nil
	}
	clean, err := overlay(&armcontainerservice.ManagedClusterAgentPoolProfileProperties{}, pp, readOnlyPoolProps)
	if err != nil {
		return nil, nil, err
	}
	newPoolDefaults(clean, version, latestNodeImage(string(derefOS(clean.OSType))))
	clean.ProvisioningState = to.Ptr("Creating")
	clean.ETag = to.Ptr(newETag())
	return &armcontainerservice.AgentPool{Name: to.Ptr(name), Properties: clean}, nil, nil
}

// updatePool applies a PUT body to an existing pool. state is the provisioningState the change
// puts the pool in ("" when nothing changes).
func updatePool(name string, pp, old *armcontainerservice.ManagedClusterAgentPoolProfileProperties, controlPlane, loc string) (*armcontainerservice.ManagedClusterAgentPoolProfileProperties, string, *apiError, error) {
	merged, err := overlay(old, pp, readOnlyPoolProps)
	if err != nil {
		return nil, "", nil, err
	}
	if e := validatePoolSpec(name, merged, old, loc); e != nil {
		return nil, "", e, nil
	}
	if v := deref(pp.OrchestratorVersion); v != "" {
		resolved, e := validatePoolVersion(name, v, deref(old.CurrentOrchestratorVersion), controlPlane)
		if e != nil {
			return nil, "", e, nil
		}
		merged.OrchestratorVersion = to.Ptr(resolved)
	}
	state := ""
	switch {
	case deref(merged.OrchestratorVersion) != deref(old.OrchestratorVersion):
		state = "Upgrading"
	default:
		before, err := json.Marshal(old)
		if err != nil {
			return nil, "", nil, fmt.Errorf("encode pool %s: %w", name, err)
		}
		probe := *merged
		probe.Count = old.Count
		after, err := json.Marshal(&probe)
		if err != nil {
			return nil, "", nil, fmt.Errorf("encode pool %s: %w", name, err)
		}
		countChanged := deref(merged.Count) != deref(old.Count)
		switch {
		case countChanged && string(before) == string(after):
			state = "Scaling"
		case countChanged || string(before) != string(after):
			state = "Updating"
		}
	}
	return merged, state, nil, nil
}

// durationOf is how long an update that puts a resource in state takes.
func (c *Cloud) durationOf(state string) time.Duration {
	switch state {
	case "Upgrading":
		return c.dur.Upgrade
	case "Scaling":
		return c.dur.Scale
	case "Creating":
		return c.dur.Create
	}
	return c.dur.Update
}

func (c *Cloud) updateCluster(tx *bolt.Tx, cl *call, rec *clusterRec, mc *armcontainerservice.ManagedCluster) (*reply, error) {
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	if rec.stopped() {
		return errReply(stoppedError(rec.Name)), nil
	}
	if l := normLocation(deref(mc.Location)); l != "" && l != rec.Location {
		return errReply(errorf(http.StatusBadRequest, "InvalidResourceLocation", "The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.", rec.Name, rec.Location, rec.RG, l)), nil
	}
	props := mc.Properties
	if props == nil {
		props = &armcontainerservice.ManagedClusterProperties{}
	}
	old := rec.props()
	if props.DNSPrefix != nil && !strings.EqualFold(*props.DNSPrefix, deref(old.DNSPrefix)) {
		return errReply(&apiError{Status: http.StatusBadRequest, Code: "PropertyChangeNotAllowed", Message: "Changing property 'dnsPrefix' is not allowed.", Target: "dnsPrefix"}), nil
	}
	requested := deref(props.KubernetesVersion)
	if requested == "" {
		requested = deref(old.KubernetesVersion)
	}
	current := deref(old.CurrentKubernetesVersion)
	version, e := validateControlPlaneVersion(requested, current, rec.Location)
	if e != nil {
		return errReply(e), nil
	}
	merged, err := overlay(old, props, readOnlyClusterProps)
	if err != nil {
		return nil, err
	}
	merged.KubernetesVersion = to.Ptr(requested)

	pools := append([]*armcontainerservice.AgentPool(nil), rec.Pools...)
	var states []string
	for _, prof := range props.AgentPoolProfiles {
		pname := deref(prof.Name)
		pp, err := convert[armcontainerservice.ManagedClusterAgentPoolProfileProperties](prof)
		if err != nil {
			return nil, err
		}
		i, existing := rec.pool(pname)
		if existing == nil {
			p, e, err := newPool(pname, pp, version, rec.Location)
			if err != nil {
				return nil, err
			}
			if e != nil {
				return errReply(e), nil
			}
			pools = append(pools, p)
			states = append(states, "Creating")
			continue
		}
		if e := validatePoolName(deref(existing.Name), derefOS(existing.Properties.OSType)); e != nil {
			return errReply(e), nil
		}
		np, state, e, err := updatePool(deref(existing.Name), pp, existing.Properties, version, rec.Location)
		if err != nil {
			return nil, err
		}
		if e != nil {
			return errReply(e), nil
		}
		if state != "" {
			np.ProvisioningState = to.Ptr(state)
			np.ETag = to.Ptr(newETag())
			states = append(states, state)
		}
		pools[i] = &armcontainerservice.AgentPool{Name: existing.Name, Properties: np}
	}
	if e := checkLimits(pools); e != nil {
		return errReply(e), nil
	}

	state := "Updating"
	switch {
	case version != current:
		state = "Upgrading"
	case len(states) > 0 && allEqual(states, "Scaling"):
		state = "Scaling"
	}
	rec.Pools = pools
	rec.Cluster.Properties = merged
	rec.Cluster.Tags = mc.Tags
	if mc.SKU != nil {
		rec.Cluster.SKU = mc.SKU
	}
	merged.ProvisioningState = to.Ptr(state)
	rec.Cluster.ETag = to.Ptr(newETag())
	_, h, err := c.startSaved(tx, cl, rec, "", opUpdate, state, c.durationOf(state))
	if err != nil {
		return nil, err
	}
	return clusterReply(http.StatusOK, h, rec)
}

func allEqual(ss []string, v string) bool {
	for _, s := range ss {
		if s != v {
			return false
		}
	}
	return true
}

func replyOrErr(e *apiError, err error) (*reply, error) {
	if err != nil {
		return nil, err
	}
	return errReply(e), nil
}

func (c *Cloud) deleteCluster(tx *bolt.Tx, cl *call, key string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return &reply{status: http.StatusNoContent}, nil
	}
	if e := checkETag(cl.r, true, deref(rec.Cluster.ETag)); e != nil {
		return errReply(e), nil
	}
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	rec.props().ProvisioningState = to.Ptr("Deleting")
	rec.Cluster.ETag = to.Ptr(newETag())
	for _, p := range rec.Pools {
		p.Properties.ProvisioningState = to.Ptr("Deleting")
	}
	h, err := c.startAccepted(tx, cl, rec, "", opDelete, "Deleting", c.dur.Delete)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusAccepted, header: h}, nil
}

func (c *Cloud) startStop(tx *bolt.Tx, cl *call, key, rg, name string, start bool) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	if e, err := busy(tx, rec); err != nil || e != nil {
		return replyOrErr(e, err)
	}
	verb, state, kind := "stopping", "Stopping", opStop
	if start {
		verb, state, kind = "starting", "Starting", opStart
	}
	if rec.stopped() != start {
		power := "Running"
		if rec.stopped() {
			power = "Stopped"
		}
		return errReply(errorf(http.StatusBadRequest, "OperationNotAllowed", "Managed cluster is in Provisioning State(%s) and Power State(%s), %s cannot be performed.", deref(rec.props().ProvisioningState), power, verb)), nil
	}
	rec.props().ProvisioningState = to.Ptr(state)
	rec.Cluster.ETag = to.Ptr(newETag())
	for _, p := range rec.Pools {
		p.Properties.ProvisioningState = to.Ptr(state)
	}
	h, err := c.startAccepted(tx, cl, rec, "", kind, state, c.dur.StartStop)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusAccepted, header: h}, nil
}

// abort cancels the running operation on the cluster (pool == "", whatever runs on it or its
// pools) or on the pool. With nothing to cancel it answers 409, as AKS documents for an
// operation that ended before it could be cancelled.
func (c *Cloud) abort(tx *bolt.Tx, cl *call, key, rg, name, pool string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	if pool != "" {
		if _, p := rec.pool(pool); p == nil {
			return poolNotFound(rg, name, pool), nil
		}
	}
	nothing := func() *reply {
		what := "managed cluster " + rec.Name
		if pool != "" {
			what = "agent pool " + pool + " of " + what
		}
		return errReply(errorf(http.StatusConflict, "OperationNotAllowed", "There is no operation in progress on %s that can be aborted.", what))
	}
	if rec.ActiveOp == "" {
		return nothing(), nil
	}
	running, err := loadOp(tx, rec.ActiveOp)
	if err != nil {
		return nil, err
	}
	if running == nil || (pool != "" && !strings.EqualFold(running.Pool, pool)) {
		return nothing(), nil
	}
	canceled := &apiError{Code: "OperationCanceled", Message: fmt.Sprintf("The operation (%s) was canceled by an abort request.", running.State)}
	if err := c.finishOp(tx, rec, running, statusCanceled, canceled, cl.now); err != nil {
		return nil, err
	}
	op, h, err := c.startOp(tx, cl, rec, pool, opAbort, "Canceling", 0)
	if err != nil {
		return nil, err
	}
	// Cancelling takes effect at once: the abort operation itself is already done.
	op.Status = statusSucceeded
	if err := saveOp(tx, op); err != nil {
		return nil, err
	}
	h.Set("Location", cl.base+op.resultURLPath())
	return &reply{status: http.StatusAccepted, header: h}, nil
}

func upgradeItems(versions []string) []*armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem {
	out := []*armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem{}
	for _, v := range versions {
		item := &armcontainerservice.ManagedClusterPoolUpgradeProfileUpgradesItem{KubernetesVersion: to.Ptr(v)}
		if isPreview(v) {
			item.IsPreview = to.Ptr(true)
		}
		out = append(out, item)
	}
	return out
}

func (c *Cloud) clusterUpgradeProfile(tx *bolt.Tx, key, rg, name string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	cp := deref(rec.props().CurrentKubernetesVersion)
	prof := &armcontainerservice.ManagedClusterUpgradeProfile{
		ID:   to.Ptr(rec.id() + "/upgradeprofiles/default"),
		Name: to.Ptr("default"),
		Type: to.Ptr("Microsoft.ContainerService/managedClusters/upgradeprofiles"),
		Properties: &armcontainerservice.ManagedClusterUpgradeProfileProperties{
			ControlPlaneProfile: &armcontainerservice.ManagedClusterPoolUpgradeProfile{
				KubernetesVersion: to.Ptr(cp), Name: to.Ptr("master"),
				OSType: to.Ptr(armcontainerservice.OSTypeLinux), Upgrades: upgradeItems(upgradesFrom(cp)),
			},
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterPoolUpgradeProfile{},
		},
	}
	for _, p := range rec.Pools {
		pv := deref(p.Properties.CurrentOrchestratorVersion)
		prof.Properties.AgentPoolProfiles = append(prof.Properties.AgentPoolProfiles, &armcontainerservice.ManagedClusterPoolUpgradeProfile{
			KubernetesVersion: to.Ptr(pv), Name: p.Name, OSType: to.Ptr(derefOS(p.Properties.OSType)),
			Upgrades: upgradeItems(upgradesFrom(pv)),
		})
	}
	return &reply{status: http.StatusOK, body: prof}, nil
}

func (c *Cloud) kubernetesVersions() *reply {
	out := armcontainerservice.KubernetesVersionListResult{}
	for _, minor := range minors() {
		kv := &armcontainerservice.KubernetesVersion{
			Version: to.Ptr(minor),
			Capabilities: &armcontainerservice.KubernetesVersionCapabilities{
				SupportPlan: []*armcontainerservice.KubernetesSupportPlan{to.Ptr(armcontainerservice.KubernetesSupportPlanKubernetesOfficial)},
			},
			PatchVersions: map[string]*armcontainerservice.KubernetesPatchVersion{},
		}
		if minor == defaultMinor {
			kv.IsDefault = to.Ptr(true)
		}
		for _, v := range kubernetesVersions {
			if v.Minor != minor {
				continue
			}
			if v.Preview {
				kv.IsPreview = to.Ptr(true)
			}
			ups := []*string{}
			for _, u := range upgradesFrom(v.Version) {
				ups = append(ups, to.Ptr(u))
			}
			kv.PatchVersions[v.Version] = &armcontainerservice.KubernetesPatchVersion{Upgrades: ups}
		}
		out.Values = append(out.Values, kv)
	}
	return &reply{status: http.StatusOK, body: out}
}

func (c *Cloud) availablePoolVersions(tx *bolt.Tx, key, rg, name string) (*reply, error) {
	rec, err := loadCluster(tx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return clusterNotFound(rg, name), nil
	}
	def, _ := resolveVersion("")
	props := &armcontainerservice.AgentPoolAvailableVersionsProperties{}
	// Like AKS, this lists every version offered; a pool still cannot run ahead of its control
	// plane, which PUT enforces.
	for _, v := range kubernetesVersions {
		item := &armcontainerservice.AgentPoolAvailableVersionsPropertiesAgentPoolVersionsItem{KubernetesVersion: to.Ptr(v.Version)}
		if v.Version == def {
			item.Default = to.Ptr(true)
		}
		if v.Preview {
			item.IsPreview = to.Ptr(true)
		}
		props.AgentPoolVersions = append(props.AgentPoolVersions, item)
	}
	return &reply{status: http.StatusOK, body: &armcontainerservice.AgentPoolAvailableVersions{
		ID:         to.Ptr(rec.id() + "/availableagentpoolversions"),
		Name:       to.Ptr("default"),
		Type:       to.Ptr("Microsoft.ContainerService/managedClusters/availableAgentpoolVersions"),
		Properties: props,
	}}, nil
}

// clusterReply answers with the rendered cluster.
func clusterReply(status int, h http.Header, rec *clusterRec) (*reply, error) {
	mc, err := renderCluster(rec)
	if err != nil {
		return nil, err
	}
	return &reply{status: status, header: h, body: mc}, nil
}
