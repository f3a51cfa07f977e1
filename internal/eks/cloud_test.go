package eks

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/eks/sim"
)

// The adapter is tested as the engine uses it: domain operations in, the real SDK against the
// simulated EKS.

func webTarget(pool string) aks.Target {
	return aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Cluster: "web-prod", Pool: pool}
}

func sizes(desired, minSize, maxSize *int) *aks.NodegroupSpec {
	return &aks.NodegroupSpec{DesiredSize: desired, MinSize: minSize, MaxSize: maxSize}
}

func TestCloudPlansWhatPolicyReads(t *testing.T) {
	e := newEnv(t, sim.Options{})
	cloud := e.c.Cloud()
	op := aks.Operation{Kind: aks.OpNodegroupScale, Target: webTarget("ng-web"), Nodegroup: sizes(new(5), nil, nil)}
	p, err := cloud.Plan(t.Context(), op)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-web: 2 -> 5 nodes, min 1, max 10"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	if p.Pool != "ng-web" || p.Location != "eu-west-1" || p.VMSize != "m6i.large" || p.FromNodes != 2 || p.ToNodes != 5 ||
		p.ClusterNodes != 8 || !p.ScaleUp {
		t.Errorf("plan %+v: want pool, region, instance type, 2 -> 5 nodes, 8 in the cluster, a scale-up", p)
	}
	if p.Capacity != nil {
		t.Errorf("plan capacity %+v: the Azure assessor must not price EC2 instance types", p.Capacity)
	}

	// A target without a region is in the client's default region (the first configured).
	op.Target.Region = ""
	if _, err := cloud.Plan(t.Context(), op); err != nil {
		t.Errorf("plan in the default region: %v", err)
	}
	dev := aks.Operation{Kind: aks.OpNodegroupScale, Target: aks.Target{Provider: aks.ProviderEKS, Cluster: "data-dev", Pool: "ng-data"},
		Nodegroup: sizes(new(2), nil, nil)}
	if _, err := cloud.Plan(t.Context(), dev); aks.ErrorCode(err) != aks.ENotFound {
		t.Errorf("data-dev without a region is looked for in eu-west-1: %v, want not found", err)
	}
	dev.Target.Region = "us-east-1"
	if _, err := cloud.Plan(t.Context(), dev); err != nil {
		t.Errorf("data-dev in us-east-1: %v", err)
	}
}

func TestCloudRunsAScale(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	cloud := e.c.Cloud()
	op := aks.Operation{Kind: aks.OpNodegroupScale, Target: webTarget("ng-web"), Nodegroup: sizes(new(4), nil, new(12))}
	plan, err := cloud.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cloud.Begin(ctx, op, plan, "aksbot-7-m3x9k2p1")
	if err != nil {
		t.Fatal(err)
	}
	if state, err := cloud.ProvisioningState(ctx, op.Target); err != nil || state != StateUpdating {
		t.Fatalf("node group state %q (%v), want %s", state, err, StateUpdating)
	}
	if state, err := cloud.ProvisioningState(ctx, op.Target.ClusterOnly()); err != nil || state != StateUpdating {
		t.Fatalf("cluster state %q (%v), want %s while a node group scales", state, err, StateUpdating)
	}
	token, err := o.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.client(t).Cloud().Resume(ctx, op, token)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if done, _, err := r.Poll(ctx); !done || err != nil {
		t.Fatalf("poll after the update's time: done %v, %v", done, err)
	}
	if err := r.Result(ctx); err != nil {
		t.Fatal(err)
	}
	if applied, err := cloud.Applied(ctx, op, plan); err != nil || !applied {
		t.Fatalf("applied = %v, %v", applied, err)
	}
	ng, _ := e.sim.Nodegroup("eu-west-1", "web-prod", "ng-web")
	if ng.Desired != 4 || ng.Max != 12 || ng.Min != 1 {
		t.Fatalf("node group %+v, want 4 nodes, max 12, min unchanged", ng)
	}
	muts := e.mutations(t)
	if len(muts) != 1 || muts[0].Token != "aksbot-7-m3x9k2p1" {
		t.Fatalf("mutations %+v, want one carrying the request token", muts)
	}
}

func TestCloudCreatesWithLabelsAndTaints(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	cloud := e.c.Cloud()
	op := aks.Operation{Kind: aks.OpNodegroupCreate, Target: webTarget("ng-gpu"), KubernetesVersion: "1.31",
		Labels: map[string]string{"gpu": "true"}, Taints: []string{"nvidia.com/gpu=present:NoSchedule"},
		Nodegroup: &aks.NodegroupSpec{DesiredSize: new(1), MinSize: new(0), MaxSize: new(3),
			NodeRole: "arn:aws:iam::111122223333:role/eks-node", Subnets: []string{"subnet-0a1b2c3d"},
			InstanceTypes: []string{"g5.xlarge"}, CapacityType: "SPOT"}}
	plan, err := cloud.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if plan.VMSize != "g5.xlarge" || plan.FromNodes != 0 || plan.ToNodes != 1 || !plan.ScaleUp {
		t.Errorf("create plan %+v", plan)
	}
	if _, err := cloud.Begin(ctx, op, plan, "aksbot-8-m3x9k2p1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	ng, err := e.c.DescribeNodegroup(ctx, "eu-west-1", "web-prod", "ng-gpu")
	if err != nil {
		t.Fatal(err)
	}
	want := Taint{Key: "nvidia.com/gpu", Value: "present", Effect: "NO_SCHEDULE"}
	if ng.Status != "ACTIVE" || ng.Desired != 1 || ng.Min != 0 || ng.Max != 3 || ng.CapacityType != "SPOT" ||
		ng.Labels["gpu"] != "true" || len(ng.Taints) != 1 || ng.Taints[0] != want {
		t.Fatalf("created node group %+v", ng)
	}
}

func TestCloudRefuses(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	cloud := e.c.Cloud()
	aksTarget := aks.Target{ResourceGroup: "rg", Cluster: "web-prod", Pool: "ng-web"}
	aksOp := aks.Operation{Kind: aks.OpNodegroupScale, Target: aksTarget, Nodegroup: sizes(new(3), nil, nil)}
	checks := map[string]error{}
	_, checks["plan"] = cloud.Plan(ctx, aksOp)
	_, checks["begin"] = cloud.Begin(ctx, aksOp, aks.Plan{}, "aksbot-1-x")
	_, checks["resume"] = cloud.Resume(ctx, aksOp, "update/x")
	_, checks["applied"] = cloud.Applied(ctx, aksOp, aks.Plan{})
	_, checks["state"] = cloud.ProvisioningState(ctx, aksTarget)
	checks["abort"] = cloud.Abort(ctx, aksTarget)
	for what, err := range checks {
		if aks.ErrorCode(err) != aks.EInternal || !strings.Contains(err.Error(), "not an EKS target") {
			t.Errorf("%s of an AKS target: %v, want an internal error", what, err)
		}
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("%d requests reached EKS for an AKS target", n)
	}

	for name, op := range map[string]aks.Operation{
		"size overflow": {Kind: aks.OpNodegroupScale, Target: webTarget("ng-web"), Nodegroup: sizes(new(math.MaxInt32+1), nil, nil)},
		"max overflow":  {Kind: aks.OpNodegroupScale, Target: webTarget("ng-web"), Nodegroup: sizes(nil, nil, new(math.MinInt32-1))},
		"bad taint":     {Kind: aks.OpNodegroupCreate, Target: webTarget("ng-new"), Taints: []string{"gpu=yes:Sometimes"}},
		"no sizes":      {Kind: aks.OpNodegroupScale, Target: webTarget("ng-web")},
		"an AKS kind":   {Kind: aks.OpPoolScale, Target: webTarget("ng-web"), NodeCount: new(3)},
	} {
		if _, err := cloud.Plan(ctx, op); aks.ErrorCode(err) != aks.EInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}

	err := cloud.Abort(ctx, webTarget("ng-web"))
	var ae *aks.Error
	if !errors.As(err, &ae) || ae.Code != aks.EInvalid || !strings.HasPrefix(ae.Message, "EKS cannot abort a node-group update") ||
		!strings.Contains(ae.Hint, "/eks describe web-prod --region eu-west-1") {
		t.Fatalf("abort: %+v, want EKS's refusal and where to follow the update", err)
	}
}
