package azure

import (
	"context"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// Applied reports whether Azure already shows what op asks for: the pool has the node count,
// the cluster runs the version, the pool exists (add) or is gone (delete). The engine asks it
// after a crash between sending a request and storing its resume token, when the resource is
// at rest: applied means the request arrived and finished, so it is not sent again.
func (c *Client) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	t := op.Target
	if t.Pool == "" && op.Kind.OnPool() {
		t.Pool = plan.Pool
	}
	cl, err := c.GetCluster(ctx, t.ResourceGroup, t.Cluster)
	if aks.ErrorCode(err) == aks.ENotFound {
		return op.Kind == aks.OpClusterDelete, nil
	}
	if err != nil {
		return false, err
	}
	p, poolExists := cl.Pool(t.Pool)
	switch op.Kind {
	case aks.OpClusterCreate:
		return true, nil
	case aks.OpClusterDelete:
		return false, nil
	case aks.OpClusterStart:
		return strings.EqualFold(cl.PowerState, "Running"), nil
	case aks.OpClusterStop:
		return strings.EqualFold(cl.PowerState, "Stopped"), nil
	case aks.OpClusterUpgrade:
		if cl.KubernetesVersion != op.KubernetesVersion {
			return false, nil
		}
		for _, p := range cl.Pools {
			if !op.ControlPlaneOnly && p.OrchestratorVersion != op.KubernetesVersion {
				return false, nil
			}
		}
		return true, nil
	case aks.OpPoolAdd:
		return poolExists, nil
	case aks.OpPoolDelete:
		return !poolExists, nil
	}
	if !poolExists {
		return false, nil
	}
	switch op.Kind {
	case aks.OpPoolScale:
		return op.NodeCount != nil && p.Count == *op.NodeCount && !p.Autoscaling, nil
	case aks.OpPoolAutoscale:
		if op.DisableAutoscaler {
			return !p.Autoscaling, nil
		}
		return op.Autoscaler != nil && p.Autoscaling && p.MinCount == op.Autoscaler.Min && p.MaxCount == op.Autoscaler.Max, nil
	case aks.OpPoolUpgrade:
		if op.NodeImageOnly {
			for _, ch := range plan.Changes {
				if strings.Contains(ch.What, "node image") {
					return ch.To != "" && p.NodeImageVersion == ch.To, nil
				}
			}
			return false, nil
		}
		return p.OrchestratorVersion == op.KubernetesVersion, nil
	}
	return false, nil
}
