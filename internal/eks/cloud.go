package eks

import (
	"context"
	"fmt"
	"math"

	"github.com/aksbot/aksbot/internal/aks"
)

// Cloud is the engine's port (aks.Cloud) for EKS targets: it converts the domain's operations
// into NodegroupOp and hands them to the Client. The engine gives it only jobs whose target is
// EKS (a dispatcher picks the cloud by Target.Provider); anything else is refused as a bug.
type Cloud struct{ c *Client }

var (
	_ aks.Cloud    = (*Cloud)(nil)
	_ aks.Replayer = (*Cloud)(nil)
)

// Cloud returns the client as the engine's aks.Cloud.
func (c *Client) Cloud() *Cloud { return &Cloud{c: c} }

// Plan implements aks.Cloud. The plan carries what policy reads (Pool, Location = region,
// VMSize = instance types, node counts, ScaleUp) and no Capacity: the cost and quota assessor
// knows Azure's VM sizes and prices, not EC2's. A target naming another AWS account than the
// bot's credentials' is refused; every job is planned again right before it runs, so this also
// holds for jobs stored under other credentials.
func (a *Cloud) Plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	n, err := nodegroupOp(op)
	if err != nil {
		return aks.Plan{}, err
	}
	if err := a.c.checkAccount(ctx, op.Target); err != nil {
		return aks.Plan{}, err
	}
	return a.c.Plan(ctx, n)
}

// Begin implements aks.Cloud: requestToken becomes EKS's clientRequestToken.
func (a *Cloud) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, requestToken string) (aks.CloudOperation, error) {
	n, err := nodegroupOp(op)
	if err != nil {
		return nil, err
	}
	o, err := a.c.Begin(ctx, n, plan, requestToken)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return o, nil
}

// Resume implements aks.Cloud; it sends nothing.
func (a *Cloud) Resume(ctx context.Context, op aks.Operation, token string) (aks.CloudOperation, error) {
	n, err := nodegroupOp(op)
	if err != nil {
		return nil, err
	}
	o, err := a.c.Resume(ctx, n, token)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ProvisioningState implements aks.Cloud: the node group's state (t.Pool), else the cluster's.
func (a *Cloud) ProvisioningState(ctx context.Context, t aks.Target) (string, error) {
	if err := eksTarget(t); err != nil {
		return "", err
	}
	return a.c.ProvisioningState(ctx, Target{Region: t.Region, Cluster: t.Cluster, Nodegroup: t.Pool})
}

// Applied implements aks.Cloud.
func (a *Cloud) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	n, err := nodegroupOp(op)
	if err != nil {
		return false, err
	}
	return a.c.Applied(ctx, n, plan)
}

// Replays implements aks.Replayer: creates, scales and upgrades carry the request token, and EKS
// refuses a change while another runs on the node group (ResourceInUseException), so sending one
// again never starts a second. Deletes carry no token.
func (a *Cloud) Replays(op aks.Operation) bool {
	return op.Target.IsEKS() && op.Kind.Provider() == aks.ProviderEKS && op.Kind != OpDelete
}

// Abort implements aks.Cloud: EKS has no way to stop a node-group update or create.
func (a *Cloud) Abort(_ context.Context, t aks.Target) error {
	if err := eksTarget(t); err != nil {
		return err
	}
	return &aks.Error{Code: aks.EInvalid,
		Message: "EKS cannot abort a node-group update: it runs until it succeeds or fails",
		Hint:    "follow it with " + t.ShowCommand() + ", and ask for the change that undoes it once it ended"}
}

// eksTarget refuses a target of another cloud: it reaching this adapter is a wiring bug, and
// nothing may be sent to AWS for it.
func eksTarget(t aks.Target) error {
	if t.IsEKS() {
		return nil
	}
	return &aks.Error{Code: aks.EInternal, Message: fmt.Sprintf("the EKS adapter was given %s, which is not an EKS target", t)}
}

// nodegroupOp converts the domain's operation: the target's Pool is the node group, Region ""
// the client's default region, sizes become int32 and taints are parsed.
func nodegroupOp(op aks.Operation) (NodegroupOp, error) {
	t := op.Target
	if err := eksTarget(t); err != nil {
		return NodegroupOp{}, err
	}
	n := NodegroupOp{Kind: op.Kind, Region: t.Region, Cluster: t.Cluster, Nodegroup: t.Pool,
		KubernetesVersion: op.KubernetesVersion, Labels: op.Labels}
	for _, s := range op.Taints {
		taint, err := ParseTaint(s)
		if err != nil {
			return NodegroupOp{}, invalid(err.Error(), "taints look like key=value:NoSchedule")
		}
		n.Taints = append(n.Taints, taint)
	}
	spec := op.Nodegroup
	if spec == nil {
		return n, nil
	}
	for _, s := range []struct {
		what string
		from *int
		to   **int32
	}{{"desired size", spec.DesiredSize, &n.DesiredSize}, {"min size", spec.MinSize, &n.MinSize}, {"max size", spec.MaxSize, &n.MaxSize}} {
		if s.from == nil {
			continue
		}
		if *s.from < math.MinInt32 || *s.from > math.MaxInt32 {
			return NodegroupOp{}, invalid(fmt.Sprintf("the %s %d is out of range", s.what, *s.from), "")
		}
		v := int32(*s.from)
		*s.to = &v
	}
	n.ReleaseVersion, n.Force = spec.ReleaseVersion, spec.Force
	n.NodeRole, n.Subnets, n.InstanceTypes = spec.NodeRole, spec.Subnets, spec.InstanceTypes
	n.CapacityType, n.AMIType = spec.CapacityType, spec.AMIType
	return n, nil
}
