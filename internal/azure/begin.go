package azure

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// Begin sends the operation's mutation and returns the long-running operation to follow.
// Updates start from a fresh GET of the resource and PUT it back whole with If-Match, so nothing
// stale or partial is ever sent; creates use If-None-Match "*" so that they never apply twice.
// If the resource changed since the plan was made (its ETag differs), Begin sends nothing and
// returns an *aks.Error EConflict.
//
// When a try of the mutation got a server error or no answer and the request then failed, Azure
// may have applied it all the same (the response got lost): Begin then returns an error wrapping
// ErrOutcomeUnknown instead of the last answer, and the caller must look at the resource.
func (c *Client) Begin(ctx context.Context, op aks.Operation, plan aks.Plan) (jobs.Operation, error) {
	ctx, tries := withTries(ctx)
	o, err := c.begin(ctx, op, plan)
	if errors.Is(err, errAlreadyApplied) {
		// Typically the bot's own earlier request, whose answer got lost: sending it again
		// would be refused (the ETag moved) although the approved change is in place.
		c.log.Info("change already in place; nothing sent", "what", op.Describe())
		return appliedOperation{}, nil
	}
	if err != nil {
		return nil, outcome(err, tries, op.Describe())
	}
	return startedOperation{Operation: o, firstPoll: tries.firstPollAfter()}, nil
}

func (c *Client) begin(ctx context.Context, op aks.Operation, plan aks.Plan) (jobs.Operation, error) {
	t := op.Target
	rg, name := t.ResourceGroup, t.Cluster
	what := op.Describe()
	switch op.Kind {
	case aks.OpClusterCreate:
		s, err := c.createSpec(ctx, op, planChange(plan, changeVersion))
		if err != nil {
			return nil, err
		}
		p, err := c.clusters.BeginCreateOrUpdate(ctx, rg, name, newCluster(op, s),
			&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: ptr("*")})
		if exists := createConflict(err, "cluster "+clusterName(t)); exists != nil {
			return nil, exists
		}
		return started(c, p, err, what)

	case aks.OpClusterDelete:
		mc, err := c.freshCluster(ctx, op, plan)
		if err != nil {
			return nil, err
		}
		p, err := c.clusters.BeginDelete(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginDeleteOptions{IfMatch: mc.ETag})
		return started(c, p, err, what)

	case aks.OpClusterStart:
		if _, err := c.freshCluster(ctx, op, plan); err != nil {
			return nil, err
		}
		p, err := c.clusters.BeginStart(ctx, rg, name, nil)
		return started(c, p, err, what)

	case aks.OpClusterStop:
		if _, err := c.freshCluster(ctx, op, plan); err != nil {
			return nil, err
		}
		p, err := c.clusters.BeginStop(ctx, rg, name, nil)
		return started(c, p, err, what)

	case aks.OpClusterUpgrade:
		mc, err := c.freshCluster(ctx, op, plan)
		if err != nil {
			return nil, err
		}
		if mc.Properties == nil {
			mc.Properties = &armcontainerservice.ManagedClusterProperties{}
		}
		mc.Properties.KubernetesVersion = ptr(op.KubernetesVersion)
		if !op.ControlPlaneOnly {
			for _, ap := range mc.Properties.AgentPoolProfiles {
				if ap != nil {
					ap.OrchestratorVersion = ptr(op.KubernetesVersion)
				}
			}
		}
		p, err := c.clusters.BeginCreateOrUpdate(ctx, rg, name, mc,
			&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfMatch: mc.ETag})
		return started(c, p, err, what)

	case aks.OpPoolAdd:
		cl, err := c.GetCluster(ctx, rg, name)
		if err != nil {
			return nil, err
		}
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, t.Pool, newPool(op, poolAdd(op, cl)),
			&armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfNoneMatch: ptr("*")})
		if exists := createConflict(err, fmt.Sprintf("pool %s of %s", t.Pool, clusterName(t))); exists != nil {
			return nil, exists
		}
		return started(c, p, err, what)
	}

	if !op.Kind.OnPool() {
		return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
	}
	pool := poolOf(op, plan)
	ap, err := c.freshPool(ctx, op, pool, plan)
	if err != nil {
		return nil, err
	}
	etag := ap.Properties.ETag
	update := &armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{IfMatch: etag}
	switch op.Kind {
	case aks.OpPoolScale:
		if op.NodeCount == nil {
			return nil, invalid("how many nodes?", "add --node-count")
		}
		if ap.Properties.EnableAutoScaling != nil && *ap.Properties.EnableAutoScaling {
			return nil, &aks.Error{Code: aks.EConflict, Message: fmt.Sprintf("pool %s is autoscaled now, so its node count cannot be set", pool),
				Hint: "use `/aks nodepool update --update-cluster-autoscaler`, or disable the autoscaler first"}
		}
		ap.Properties.Count = ptr(int32(*op.NodeCount))
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, pool, ap, update)
		return started(c, p, err, what)

	case aks.OpPoolAutoscale:
		if op.DisableAutoscaler {
			ap.Properties.EnableAutoScaling = ptr(false)
			ap.Properties.MinCount = nil
			ap.Properties.MaxCount = nil
		} else {
			if op.Autoscaler == nil {
				return nil, invalid("what should change?", "add --min-count and --max-count, or --disable-cluster-autoscaler")
			}
			ap.Properties.EnableAutoScaling = ptr(true)
			ap.Properties.MinCount = ptr(int32(op.Autoscaler.Min))
			ap.Properties.MaxCount = ptr(int32(op.Autoscaler.Max))
		}
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, pool, ap, update)
		return started(c, p, err, what)

	case aks.OpPoolUpgrade:
		if op.NodeImageOnly {
			p, err := c.pools.BeginUpgradeNodeImageVersion(ctx, rg, name, pool, nil)
			return started(c, p, err, what)
		}
		ap.Properties.OrchestratorVersion = ptr(op.KubernetesVersion)
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, pool, ap, update)
		return started(c, p, err, what)

	case aks.OpPoolDelete:
		p, err := c.pools.BeginDelete(ctx, rg, name, pool, &armcontainerservice.AgentPoolsClientBeginDeleteOptions{IfMatch: etag})
		return started(c, p, err, what)
	}
	return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
}

// Resume rebuilds the operation from a resume token without sending anything. The token must
// come from the same kind of operation: the SDK checks it per method.
func (c *Client) Resume(ctx context.Context, op aks.Operation, token string) (jobs.Operation, error) {
	if token == "" {
		return nil, invalid("no resume token", "")
	}
	t := op.Target
	rg, name, pool := t.ResourceGroup, t.Cluster, t.Pool
	what := op.Describe() + " (resumed)"
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterUpgrade:
		p, err := c.clusters.BeginCreateOrUpdate(ctx, rg, name, armcontainerservice.ManagedCluster{},
			&armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterDelete:
		p, err := c.clusters.BeginDelete(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginDeleteOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterStart:
		p, err := c.clusters.BeginStart(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginStartOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpClusterStop:
		p, err := c.clusters.BeginStop(ctx, rg, name, &armcontainerservice.ManagedClustersClientBeginStopOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpPoolUpgrade:
		if op.NodeImageOnly {
			p, err := c.pools.BeginUpgradeNodeImageVersion(ctx, rg, name, pool, &armcontainerservice.AgentPoolsClientBeginUpgradeNodeImageVersionOptions{ResumeToken: token})
			return resumed(c, p, err, what, token)
		}
		fallthrough
	case aks.OpPoolAdd, aks.OpPoolScale, aks.OpPoolAutoscale:
		p, err := c.pools.BeginCreateOrUpdate(ctx, rg, name, pool, armcontainerservice.AgentPool{},
			&armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	case aks.OpPoolDelete:
		p, err := c.pools.BeginDelete(ctx, rg, name, pool, &armcontainerservice.AgentPoolsClientBeginDeleteOptions{ResumeToken: token})
		return resumed(c, p, err, what, token)
	}
	return nil, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
}

// poolOf is the pool an operation acts on: the one the plan resolved for `/aks scale`.
func poolOf(op aks.Operation, plan aks.Plan) string {
	if op.Target.Pool != "" {
		return op.Target.Pool
	}
	return plan.Pool
}

func planChange(plan aks.Plan, what string) string {
	for _, ch := range plan.Changes {
		if ch.What == what {
			return ch.To
		}
	}
	return ""
}

// freshCluster GETs the cluster and checks that it is the one the plan was made from.
// A cluster that changed but already is as op wants it gives errAlreadyApplied.
func (c *Client) freshCluster(ctx context.Context, op aks.Operation, plan aks.Plan) (armcontainerservice.ManagedCluster, error) {
	t := op.Target
	mc, err := c.getCluster(ctx, t.ResourceGroup, t.Cluster)
	if err != nil {
		return mc, err
	}
	if err := stale(plan.ETag, str(mc.ETag), "cluster "+clusterName(t)); err != nil {
		if clusterApplied(op, mc) {
			return mc, errAlreadyApplied
		}
		return mc, err
	}
	return mc, nil
}

// freshPool GETs the pool and checks that it is the one the plan was made from.
// A pool that changed but already is as op wants it gives errAlreadyApplied.
func (c *Client) freshPool(ctx context.Context, op aks.Operation, pool string, plan aks.Plan) (armcontainerservice.AgentPool, error) {
	t := op.Target
	if pool == "" {
		return armcontainerservice.AgentPool{}, invalid("which pool?", "add --nodepool-name")
	}
	ap, err := c.getPool(ctx, t.ResourceGroup, t.Cluster, pool)
	if err != nil {
		return ap, err
	}
	if ap.Properties == nil {
		ap.Properties = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	if err := stale(plan.ETag, str(ap.Properties.ETag), fmt.Sprintf("pool %s of %s", pool, clusterName(t))); err != nil {
		if poolApplied(op, ap) {
			return ap, errAlreadyApplied
		}
		return ap, err
	}
	return ap, nil
}

func stale(planned, now, what string) error {
	if planned == "" || now == "" || planned == now {
		return nil
	}
	return &aks.Error{Code: aks.EConflict, Message: what + " changed since the plan was made",
		Hint: "ask again to get a plan from its current state"}
}

// newCluster is the body of a create: the minimum AKS needs plus what the user asked for.
func newCluster(op aks.Operation, s createSpec) armcontainerservice.ManagedCluster {
	profile := &armcontainerservice.ManagedClusterAgentPoolProfile{
		Name:   ptr(DefaultPoolName),
		Count:  ptr(int32(s.count)),
		VMSize: ptr(s.vmSize),
		OSType: ptr(armcontainerservice.OSTypeLinux),
		Mode:   ptr(armcontainerservice.AgentPoolModeSystem),
		Type:   ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
	}
	if a := s.autoscaler; a != nil {
		profile.EnableAutoScaling = ptr(true)
		profile.MinCount = ptr(int32(a.Min))
		profile.MaxCount = ptr(int32(a.Max))
	}
	for _, z := range op.Zones {
		profile.AvailabilityZones = append(profile.AvailabilityZones, ptr(z))
	}
	return armcontainerservice.ManagedCluster{
		Location: ptr(op.Location),
		Tags:     armTags(op.Tags),
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix:         ptr(dnsPrefix(op.Target.Cluster)),
			KubernetesVersion: ptr(s.version),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{profile},
		},
	}
}

// newPool is the body of a nodepool add.
func newPool(op aks.Operation, s poolAddSpec) armcontainerservice.AgentPool {
	props := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Count:  ptr(int32(s.count)),
		VMSize: ptr(s.vmSize),
		OSType: ptr(armcontainerservice.OSType(canonical(s.osType, "Linux", "Windows"))),
		Mode:   ptr(armcontainerservice.AgentPoolMode(canonical(s.mode, modeSystem, modeUser))),
		Type:   ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
	}
	if a := op.Autoscaler; a != nil {
		props.EnableAutoScaling = ptr(true)
		props.MinCount = ptr(int32(a.Min))
		props.MaxCount = ptr(int32(a.Max))
	}
	for _, z := range op.Zones {
		props.AvailabilityZones = append(props.AvailabilityZones, ptr(z))
	}
	props.NodeLabels = armTags(op.Labels)
	for _, taint := range op.Taints {
		props.NodeTaints = append(props.NodeTaints, ptr(taint))
	}
	return armcontainerservice.AgentPool{Properties: props}
}

// canonical returns the known spelling of s (case-insensitive), or s itself.
func canonical(s string, known ...string) string {
	for _, k := range known {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return s
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsPrefix derives a DNS prefix from a cluster name: AKS wants 1-54 letters, digits and
// hyphens, starting with a letter and ending with a letter or digit.
func dnsPrefix(name string) string {
	p := notDNS.ReplaceAllString(strings.ToLower(name), "-")
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = "a" + p
	}
	if len(p) > 54 {
		p = p[:54]
	}
	p = strings.TrimRight(p, "-")
	if p == "" {
		p = "aks"
	}
	return p
}
