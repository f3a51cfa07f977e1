package eks

import (
	"context"
	"fmt"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// Applied reports whether EKS already shows what op asks for: the node group has the sizes
// given, runs the version (and AMI release) asked for, exists (create) or is gone (delete). The
// engine asks after a crash between sending a request and storing its token, when the node
// group is at rest: applied means the request arrived and finished, so it is not sent again.
// For an upgrade to "the latest AMI release" the plan's release is compared: any other release
// than the one planned from counts as applied.
func (c *Client) Applied(ctx context.Context, op NodegroupOp, plan aks.Plan) (bool, error) {
	if err := op.check(); err != nil {
		return false, err
	}
	ng, err := c.DescribeNodegroup(ctx, op.Region, op.Cluster, op.Nodegroup)
	if isNotFound(err) {
		return op.Kind == OpDelete, nil
	}
	if err != nil {
		return false, err
	}
	switch op.Kind {
	case OpCreate:
		return true, nil
	case OpDelete:
		return false, nil
	case OpScale:
		return (op.MinSize == nil || *op.MinSize == ng.Min) &&
			(op.DesiredSize == nil || *op.DesiredSize == ng.Desired) &&
			(op.MaxSize == nil || *op.MaxSize == ng.Max), nil
	case OpUpgrade:
		if op.KubernetesVersion != "" && ng.Version != op.KubernetesVersion {
			return false, nil
		}
		if op.ReleaseVersion != "" {
			return ng.ReleaseVersion == op.ReleaseVersion, nil
		}
		for _, ch := range plan.Changes {
			if strings.HasSuffix(ch.What, " Kubernetes version") {
				if ng.Version != ch.To {
					return false, nil
				}
			}
			if strings.HasSuffix(ch.What, " AMI release") && ch.To == latestRelease {
				return ch.From != "" && ng.ReleaseVersion != ch.From, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("eks: applied: unknown kind %q", op.Kind)
}

// Engine provisioning states: what ProvisioningState returns, in the vocabulary the engine's
// aks.InProgress knows.
const (
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
	StateNotFound  = "NotFound"
	StateCreating  = "Creating"
	StateUpdating  = "Updating"
	StateDeleting  = "Deleting"
)

// EngineState maps an EKS cluster or node group status to the engine's vocabulary: ACTIVE ->
// Succeeded; CREATING, UPDATING, DELETING, PENDING -> in progress; CREATE_FAILED, DELETE_FAILED,
// FAILED and DEGRADED -> Failed (at rest: DEGRADED is where a failed scale-out leaves a group,
// and a later change may still be made). Unknown statuses count as in progress, as in AKS.
func EngineState(status string) string {
	switch status {
	case "ACTIVE":
		return StateSucceeded
	case "CREATE_FAILED", "DELETE_FAILED", "FAILED", "DEGRADED":
		return StateFailed
	case "CREATING", "PENDING":
		return StateCreating
	case "DELETING":
		return StateDeleting
	case "":
		return StateNotFound
	}
	return StateUpdating
}

// ProvisioningState returns the state of the node group (t.Nodegroup set) or of the cluster, in
// the engine's vocabulary (EngineState); "NotFound" when it does not exist. For a cluster whose
// control plane is ACTIVE, a node group that is busy makes the cluster busy: the engine runs one
// job per cluster at a time, as for AKS.
func (c *Client) ProvisioningState(ctx context.Context, t Target) (string, error) {
	if t.Nodegroup != "" {
		ng, err := c.DescribeNodegroup(ctx, t.Region, t.Cluster, t.Nodegroup)
		if isNotFound(err) {
			return StateNotFound, nil
		}
		if err != nil {
			return "", err
		}
		return EngineState(ng.Status), nil
	}
	cl, err := c.DescribeCluster(ctx, t.Region, t.Cluster)
	if isNotFound(err) {
		return StateNotFound, nil
	}
	if err != nil {
		return "", err
	}
	state := EngineState(cl.Status)
	if state != StateSucceeded {
		return state, nil
	}
	for _, ng := range cl.Nodegroups {
		if s := EngineState(ng.Status); aks.InProgress(s) {
			return s, nil
		}
	}
	return StateSucceeded, nil
}
