package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// Applied reports whether Azure already shows what op asks for: the pool has the node count,
// the cluster runs the version, the pool exists (add) or is gone (delete). The engine asks it
// after a crash between sending a request and storing its resume token, when the resource is
// at rest: applied means the request arrived and finished, so it is not sent again. Updates are
// judged by the same rules Begin uses (clusterApplied, poolApplied).
func (c *Client) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	t := op.Target
	if t.Pool == "" && op.Kind.OnPool() {
		t.Pool = plan.Pool
	}
	switch op.Kind {
	case aks.OpClusterCreate, aks.OpClusterDelete, aks.OpClusterStart, aks.OpClusterStop, aks.OpClusterUpgrade:
		mc, err := c.getCluster(ctx, t.ResourceGroup, t.Cluster)
		if aks.ErrorCode(err) == aks.ENotFound {
			return op.Kind == aks.OpClusterDelete, nil
		}
		if err != nil {
			return false, err
		}
		switch op.Kind {
		case aks.OpClusterCreate:
			return clusterCreateApplied(op, plan, mc), nil
		case aks.OpClusterDelete:
			return false, nil
		}
		return clusterApplied(op, mc), nil
	}
	ap, err := c.getPool(ctx, t.ResourceGroup, t.Cluster, t.Pool)
	if aks.ErrorCode(err) == aks.ENotFound {
		return op.Kind == aks.OpPoolDelete, nil
	}
	if err != nil {
		return false, err
	}
	switch {
	case op.Kind == aks.OpPoolAdd:
		return poolAddApplied(op, plan, ap), nil
	case op.Kind == aks.OpPoolDelete:
		return false, nil
	case op.Kind == aks.OpPoolUpgrade && op.NodeImageOnly:
		// The pool alone cannot tell "the latest" image: the plan named it.
		for _, ch := range plan.Changes {
			if strings.Contains(ch.What, "node image") {
				return ch.To != "" && ap.Properties != nil && str(ap.Properties.NodeImageVersion) == ch.To, nil
			}
		}
		return false, nil
	}
	return poolApplied(op, ap), nil
}

// poolAddApplied reports whether an existing pool is the one op asks to add: the same size and
// node count (or autoscaler range). A pool of that name made otherwise (another job queued
// before this one, a colleague's az command) is not this job's work: the job must not end
// "succeeded" for it, and the engine's fresh plan then says the pool exists.
func poolAddApplied(op aks.Operation, plan aks.Plan, ap armcontainerservice.AgentPool) bool {
	p := ap.Properties
	if p == nil || str(p.ProvisioningState) != "Succeeded" {
		return false
	}
	size := op.VMSize
	if size == "" {
		size = plan.VMSize
	}
	if size != "" && !strings.EqualFold(str(p.VMSize), size) {
		return false
	}
	autoscaled := p.EnableAutoScaling != nil && *p.EnableAutoScaling
	if a := op.Autoscaler; a != nil {
		return autoscaled && p.MinCount != nil && p.MaxCount != nil && int(*p.MinCount) == a.Min && int(*p.MaxCount) == a.Max
	}
	want := plan.ToNodes
	if op.NodeCount != nil {
		want = *op.NodeCount
	}
	return !autoscaled && (want < 0 || p.Count != nil && int(*p.Count) == want)
}

// clusterCreateApplied reports whether an existing cluster is the one op asks to create: in its
// location, with a first pool of the size and node count asked for. A cluster of that name made
// otherwise is not this job's work (see poolAddApplied).
func clusterCreateApplied(op aks.Operation, plan aks.Plan, mc armcontainerservice.ManagedCluster) bool {
	p := mc.Properties
	if p == nil || str(p.ProvisioningState) != "Succeeded" || len(p.AgentPoolProfiles) == 0 || p.AgentPoolProfiles[0] == nil {
		return false
	}
	loc := op.Location
	if loc == "" {
		loc = plan.Location
	}
	if loc != "" && !strings.EqualFold(str(mc.Location), loc) {
		return false
	}
	first := p.AgentPoolProfiles[0]
	size := op.VMSize
	if size == "" {
		size = plan.VMSize
	}
	if size != "" && !strings.EqualFold(str(first.VMSize), size) {
		return false
	}
	if op.Autoscaler != nil {
		return first.MinCount != nil && first.MaxCount != nil && int(*first.MinCount) == op.Autoscaler.Min && int(*first.MaxCount) == op.Autoscaler.Max
	}
	want := plan.ToNodes
	if op.NodeCount != nil {
		want = *op.NodeCount
	}
	return want < 0 || first.Count != nil && int(*first.Count) == want
}
