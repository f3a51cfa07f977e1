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
			return true, nil
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
		// Only the pool asked for: another job may have added a pool of that name meanwhile,
		// with another size, and then this one did not happen.
		return poolAddApplied(op, ap), nil
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

// poolAddApplied reports whether an existing pool is the one op adds: its VM size, and its
// node count or autoscaler bounds.
func poolAddApplied(op aks.Operation, ap armcontainerservice.AgentPool) bool {
	p := ap.Properties
	if p == nil {
		return false
	}
	if op.VMSize != "" && !strings.EqualFold(str(p.VMSize), op.VMSize) {
		return false
	}
	if a := op.Autoscaler; a != nil {
		return p.EnableAutoScaling != nil && *p.EnableAutoScaling && p.MinCount != nil && p.MaxCount != nil &&
			int(*p.MinCount) == a.Min && int(*p.MaxCount) == a.Max
	}
	return op.NodeCount == nil || (p.Count != nil && int(*p.Count) == *op.NodeCount)
}
