package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6/fake"

	"github.com/aksbot/aksbot/internal/jobs"
)

const testSub = "00000000-0000-0000-0000-000000000001"

// fakeARM is an in-memory AKS behind the SDK's fake servers. Agent pools are the clusters'
// agentPoolProfiles, as in ARM. Mutations are recorded, not applied: tests assert what was sent.
type fakeARM struct {
	mu            sync.Mutex
	clusters      map[string]*armcontainerservice.ManagedCluster // key: lower(rg/name)
	upgrades      map[string]armcontainerservice.ManagedClusterUpgradeProfile
	poolUpgrades  map[string]armcontainerservice.AgentPoolUpgradeProfile // key: lower(rg/name/pool)
	versions      []*armcontainerservice.KubernetesVersion
	calls         []call
	failWith      string // when set, operations end with this error code
	beginErr      int    // when set, Begin calls are refused with this status
	beginErrCode  string
	nonTerminal   int // in-progress responses before the end; default 1
	transportOnce sync.Once
	transport     *fake.ServerFactoryTransport
}

// call is one mutation the client sent.
type call struct {
	method      string // "PUT cluster", "DELETE pool", "POST start", ...
	target      string // rg/cluster[/pool]
	cluster     *armcontainerservice.ManagedCluster
	pool        *armcontainerservice.AgentPool
	ifMatch     string
	ifNoneMatch string
}

func newFakeARM() *fakeARM {
	return &fakeARM{
		clusters:     map[string]*armcontainerservice.ManagedCluster{},
		upgrades:     map[string]armcontainerservice.ManagedClusterUpgradeProfile{},
		poolUpgrades: map[string]armcontainerservice.AgentPoolUpgradeProfile{},
		nonTerminal:  1,
	}
}

func key(parts ...string) string { return strings.ToLower(strings.Join(parts, "/")) }

// poolSpec describes a test pool.
type poolSpec struct {
	name, mode, vmSize string
	count              int
	min, max           int // autoscaler when max > 0
	version, image     string
}

// addCluster stores a running cluster with the given pools and some settings a PUT must keep.
func (f *fakeARM) addCluster(rg, name, version string, pools ...poolSpec) *armcontainerservice.ManagedCluster {
	mc := &armcontainerservice.ManagedCluster{
		ID:       ptr(fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", testSub, rg, name)),
		Name:     ptr(name),
		Location: ptr("westeurope"),
		ETag:     ptr("cluster-etag-1"),
		Tags:     map[string]*string{"team": ptr("platform")},
		SKU:      &armcontainerservice.ManagedClusterSKU{Name: ptr(armcontainerservice.ManagedClusterSKUNameBase), Tier: ptr(armcontainerservice.ManagedClusterSKUTierStandard)},
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			KubernetesVersion:        ptr(version),
			CurrentKubernetesVersion: ptr(version),
			DNSPrefix:                ptr(name + "-dns"),
			Fqdn:                     ptr(name + "-dns.hcp.westeurope.azmk8s.io"),
			ProvisioningState:        ptr("Succeeded"),
			PowerState:               &armcontainerservice.PowerState{Code: ptr(armcontainerservice.CodeRunning)},
			NodeResourceGroup:        ptr("MC_" + rg + "_" + name),
			EnableRBAC:               ptr(true),
			NetworkProfile: &armcontainerservice.NetworkProfile{
				NetworkPlugin: ptr(armcontainerservice.NetworkPluginAzure),
				ServiceCidr:   ptr("10.0.0.0/16"),
			},
		},
	}
	for _, ps := range pools {
		mode := armcontainerservice.AgentPoolMode(ps.mode)
		v := ps.version
		if v == "" {
			v = version
		}
		p := &armcontainerservice.ManagedClusterAgentPoolProfile{
			Name:                       ptr(ps.name),
			Count:                      ptr(int32(ps.count)),
			VMSize:                     ptr(ps.vmSize),
			Mode:                       &mode,
			OSType:                     ptr(armcontainerservice.OSTypeLinux),
			OrchestratorVersion:        ptr(v),
			CurrentOrchestratorVersion: ptr(v),
			NodeImageVersion:           ptr(ps.image),
			ETag:                       ptr("pool-etag-" + ps.name),
			ProvisioningState:          ptr("Succeeded"),
			MaxPods:                    ptr(int32(110)),
			NodeLabels:                 map[string]*string{"pool": ptr(ps.name)},
			UpgradeSettings:            &armcontainerservice.AgentPoolUpgradeSettings{MaxSurge: ptr("33%")},
		}
		if ps.max > 0 {
			p.EnableAutoScaling = ptr(true)
			p.MinCount = ptr(int32(ps.min))
			p.MaxCount = ptr(int32(ps.max))
		} else {
			p.EnableAutoScaling = ptr(false)
		}
		mc.Properties.AgentPoolProfiles = append(mc.Properties.AgentPoolProfiles, p)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters[key(rg, name)] = mc
	return mc
}

// poolResource is the agent pool resource ARM serves for a profile.
func poolResource(rg, cluster string, p *armcontainerservice.ManagedClusterAgentPoolProfile) armcontainerservice.AgentPool {
	raw, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	var props armcontainerservice.ManagedClusterAgentPoolProfileProperties
	if err := json.Unmarshal(raw, &props); err != nil {
		panic(err)
	}
	return armcontainerservice.AgentPool{
		ID:         ptr(fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s", testSub, rg, cluster, *p.Name)),
		Name:       p.Name,
		Type:       ptr("Microsoft.ContainerService/managedClusters/agentPools"),
		Properties: &props,
	}
}

func (f *fakeARM) cluster(rg, name string) (armcontainerservice.ManagedCluster, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mc, ok := f.clusters[key(rg, name)]
	if !ok {
		return armcontainerservice.ManagedCluster{}, false
	}
	// A deep copy, so that the client's changes never reach the stored state.
	raw, _ := json.Marshal(mc)
	var cp armcontainerservice.ManagedCluster
	_ = json.Unmarshal(raw, &cp)
	return cp, true
}

func (f *fakeARM) pool(rg, cluster, name string) (armcontainerservice.AgentPool, bool) {
	mc, ok := f.cluster(rg, cluster)
	if !ok {
		return armcontainerservice.AgentPool{}, false
	}
	for _, p := range mc.Properties.AgentPoolProfiles {
		if strings.EqualFold(*p.Name, name) {
			return poolResource(rg, cluster, p), true
		}
	}
	return armcontainerservice.AgentPool{}, false
}

func (f *fakeARM) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeARM) sent() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// lro answers a Begin call: in progress (with the status the method accepts) a few times, then
// the end f says.
func lro[T any](f *fakeARM, status int, result T) (azfake.PollerResponder[T], azfake.ErrorResponder) {
	var resp azfake.PollerResponder[T]
	var errResp azfake.ErrorResponder
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.beginErr != 0 {
		errResp.SetResponseError(f.beginErr, f.beginErrCode)
		return resp, errResp
	}
	running := http.StatusOK
	if status == http.StatusNoContent {
		running = http.StatusAccepted // DELETE and POST actions
	}
	for range f.nonTerminal {
		resp.AddNonTerminalResponse(running, nil)
	}
	if f.failWith != "" {
		resp.SetTerminalError(http.StatusConflict, f.failWith)
	} else {
		resp.SetTerminalResponse(status, result, nil)
	}
	return resp, errResp
}

func opts(ifMatch, ifNoneMatch *string) (string, string) { return str(ifMatch), str(ifNoneMatch) }

func (f *fakeARM) servers() *fake.ServerFactory {
	notFound := func(e *azfake.ErrorResponder) { e.SetResponseError(http.StatusNotFound, "ResourceNotFound") }
	mcs := fake.ManagedClustersServer{
		Get: func(_ context.Context, rg, name string, _ *armcontainerservice.ManagedClustersClientGetOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientGetResponse], errResp azfake.ErrorResponder) {
			mc, ok := f.cluster(rg, name)
			if !ok {
				notFound(&errResp)
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientGetResponse{ManagedCluster: mc}, nil)
			return
		},
		NewListPager: func(*armcontainerservice.ManagedClustersClientListOptions) (resp azfake.PagerResponder[armcontainerservice.ManagedClustersClientListResponse]) {
			f.mu.Lock()
			var all []*armcontainerservice.ManagedCluster
			for _, mc := range f.clusters {
				all = append(all, mc)
			}
			f.mu.Unlock()
			// Two pages, to check that every page is read.
			half := len(all) / 2
			resp.AddPage(http.StatusOK, armcontainerservice.ManagedClustersClientListResponse{ManagedClusterListResult: armcontainerservice.ManagedClusterListResult{Value: all[:half]}}, nil)
			resp.AddPage(http.StatusOK, armcontainerservice.ManagedClustersClientListResponse{ManagedClusterListResult: armcontainerservice.ManagedClusterListResult{Value: all[half:]}}, nil)
			return
		},
		NewListByResourceGroupPager: func(rg string, _ *armcontainerservice.ManagedClustersClientListByResourceGroupOptions) (resp azfake.PagerResponder[armcontainerservice.ManagedClustersClientListByResourceGroupResponse]) {
			f.mu.Lock()
			var in []*armcontainerservice.ManagedCluster
			for k, mc := range f.clusters {
				if strings.HasPrefix(k, strings.ToLower(rg)+"/") {
					in = append(in, mc)
				}
			}
			f.mu.Unlock()
			resp.AddPage(http.StatusOK, armcontainerservice.ManagedClustersClientListByResourceGroupResponse{ManagedClusterListResult: armcontainerservice.ManagedClusterListResult{Value: in}}, nil)
			return
		},
		ListKubernetesVersions: func(_ context.Context, location string, _ *armcontainerservice.ManagedClustersClientListKubernetesVersionsOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse], errResp azfake.ErrorResponder) {
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse{KubernetesVersionListResult: armcontainerservice.KubernetesVersionListResult{Values: f.versions}}, nil)
			return
		},
		GetUpgradeProfile: func(_ context.Context, rg, name string, _ *armcontainerservice.ManagedClustersClientGetUpgradeProfileOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientGetUpgradeProfileResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			up, ok := f.upgrades[key(rg, name)]
			f.mu.Unlock()
			if !ok {
				notFound(&errResp)
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientGetUpgradeProfileResponse{ManagedClusterUpgradeProfile: up}, nil)
			return
		},
		BeginCreateOrUpdate: func(_ context.Context, rg, name string, mc armcontainerservice.ManagedCluster, o *armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], azfake.ErrorResponder) {
			c := call{method: "PUT cluster", target: rg + "/" + name, cluster: &mc}
			if o != nil {
				c.ifMatch, c.ifNoneMatch = opts(o.IfMatch, o.IfNoneMatch)
			}
			f.record(c)
			return lro(f, http.StatusOK, armcontainerservice.ManagedClustersClientCreateOrUpdateResponse{ManagedCluster: mc})
		},
		BeginDelete: func(_ context.Context, rg, name string, o *armcontainerservice.ManagedClustersClientBeginDeleteOptions) (azfake.PollerResponder[armcontainerservice.ManagedClustersClientDeleteResponse], azfake.ErrorResponder) {
			c := call{method: "DELETE cluster", target: rg + "/" + name}
			if o != nil {
				c.ifMatch = str(o.IfMatch)
			}
			f.record(c)
			return lro(f, http.StatusNoContent, armcontainerservice.ManagedClustersClientDeleteResponse{})
		},
		BeginStart: func(_ context.Context, rg, name string, _ *armcontainerservice.ManagedClustersClientBeginStartOptions) (azfake.PollerResponder[armcontainerservice.ManagedClustersClientStartResponse], azfake.ErrorResponder) {
			f.record(call{method: "POST start", target: rg + "/" + name})
			return lro(f, http.StatusNoContent, armcontainerservice.ManagedClustersClientStartResponse{})
		},
		BeginStop: func(_ context.Context, rg, name string, _ *armcontainerservice.ManagedClustersClientBeginStopOptions) (azfake.PollerResponder[armcontainerservice.ManagedClustersClientStopResponse], azfake.ErrorResponder) {
			f.record(call{method: "POST stop", target: rg + "/" + name})
			return lro(f, http.StatusNoContent, armcontainerservice.ManagedClustersClientStopResponse{})
		},
	}
	aps := fake.AgentPoolsServer{
		Get: func(_ context.Context, rg, cluster, name string, _ *armcontainerservice.AgentPoolsClientGetOptions) (resp azfake.Responder[armcontainerservice.AgentPoolsClientGetResponse], errResp azfake.ErrorResponder) {
			ap, ok := f.pool(rg, cluster, name)
			if !ok {
				notFound(&errResp)
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.AgentPoolsClientGetResponse{AgentPool: ap}, nil)
			return
		},
		NewListPager: func(rg, cluster string, _ *armcontainerservice.AgentPoolsClientListOptions) (resp azfake.PagerResponder[armcontainerservice.AgentPoolsClientListResponse]) {
			mc, ok := f.cluster(rg, cluster)
			if !ok {
				resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
				return
			}
			var list []*armcontainerservice.AgentPool
			for _, p := range mc.Properties.AgentPoolProfiles {
				ap := poolResource(rg, cluster, p)
				list = append(list, &ap)
			}
			resp.AddPage(http.StatusOK, armcontainerservice.AgentPoolsClientListResponse{AgentPoolListResult: armcontainerservice.AgentPoolListResult{Value: list}}, nil)
			return
		},
		GetUpgradeProfile: func(_ context.Context, rg, cluster, name string, _ *armcontainerservice.AgentPoolsClientGetUpgradeProfileOptions) (resp azfake.Responder[armcontainerservice.AgentPoolsClientGetUpgradeProfileResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			up, ok := f.poolUpgrades[key(rg, cluster, name)]
			f.mu.Unlock()
			if !ok {
				notFound(&errResp)
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.AgentPoolsClientGetUpgradeProfileResponse{AgentPoolUpgradeProfile: up}, nil)
			return
		},
		BeginCreateOrUpdate: func(_ context.Context, rg, cluster, name string, ap armcontainerservice.AgentPool, o *armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
			c := call{method: "PUT pool", target: rg + "/" + cluster + "/" + name, pool: &ap}
			if o != nil {
				c.ifMatch, c.ifNoneMatch = opts(o.IfMatch, o.IfNoneMatch)
			}
			f.record(c)
			return lro(f, http.StatusOK, armcontainerservice.AgentPoolsClientCreateOrUpdateResponse{AgentPool: ap})
		},
		BeginDelete: func(_ context.Context, rg, cluster, name string, o *armcontainerservice.AgentPoolsClientBeginDeleteOptions) (azfake.PollerResponder[armcontainerservice.AgentPoolsClientDeleteResponse], azfake.ErrorResponder) {
			c := call{method: "DELETE pool", target: rg + "/" + cluster + "/" + name}
			if o != nil {
				c.ifMatch = str(o.IfMatch)
			}
			f.record(c)
			return lro(f, http.StatusNoContent, armcontainerservice.AgentPoolsClientDeleteResponse{})
		},
		BeginUpgradeNodeImageVersion: func(_ context.Context, rg, cluster, name string, _ *armcontainerservice.AgentPoolsClientBeginUpgradeNodeImageVersionOptions) (azfake.PollerResponder[armcontainerservice.AgentPoolsClientUpgradeNodeImageVersionResponse], azfake.ErrorResponder) {
			f.record(call{method: "POST upgradeNodeImageVersion", target: rg + "/" + cluster + "/" + name})
			return lro(f, http.StatusOK, armcontainerservice.AgentPoolsClientUpgradeNodeImageVersionResponse{})
		},
	}
	return &fake.ServerFactory{ManagedClustersServer: mcs, AgentPoolsServer: aps}
}

// client returns a Client on f. Clients made from the same fakeARM share its transport, where
// the fake keeps the state of running operations, as a restarted bot shares Azure.
func (f *fakeARM) client(t *testing.T) *Client {
	t.Helper()
	f.transportOnce.Do(func() { f.transport = fake.NewServerFactoryTransport(f.servers()) })
	c, err := New(Config{SubscriptionID: testSub, Credential: &azfake.TokenCredential{}, Transport: f.transport})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pollToEnd polls op until it ends, failing the test after a bounded number of polls.
func pollToEnd(t *testing.T, op jobs.Operation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 20 {
		done, _, err := op.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if done {
			return
		}
	}
	t.Fatal("operation did not end after 20 polls")
}
