package eks

import (
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

func i32(n int32) *int32 { return &n }

// webProd is the state planFor sees in the unit tests: the sim's web-prod, written out.
func webProd() Cluster {
	return Cluster{Name: "web-prod", Region: "eu-west-1", Version: "1.31", Status: "ACTIVE", Nodegroups: []Nodegroup{
		{Name: "ng-batch", Status: "ACTIVE", Version: "1.30", ReleaseVersion: "1.30.11-20250620", Min: 0, Desired: 3, Max: 20, InstanceTypes: []string{"c6i.2xlarge"}},
		{Name: "ng-web", Status: "ACTIVE", Version: "1.31", ReleaseVersion: "1.31.7-20250620", Min: 1, Desired: 2, Max: 10, InstanceTypes: []string{"m6i.large"}},
	}}
}

func planOf(t *testing.T, op NodegroupOp) (aks.Plan, error) {
	t.Helper()
	cl := webProd()
	var ng *Nodegroup
	for i := range cl.Nodegroups {
		if cl.Nodegroups[i].Name == op.Nodegroup {
			ng = &cl.Nodegroups[i]
		}
	}
	if op.Cluster == "" {
		op.Cluster = cl.Name
	}
	return planFor(op, cl, ng)
}

func TestPlanScaleInPlainWords(t *testing.T) {
	p, err := planOf(t, NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-web: 2 -> 5 nodes, min 1, max 10"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	if !p.ScaleUp || p.FromNodes != 2 || p.ToNodes != 5 || p.ClusterNodes != 8 || p.Pool != "ng-web" ||
		p.Location != "eu-west-1" || p.VMSize != "m6i.large" {
		t.Errorf("plan %+v", p)
	}
	if len(p.Changes) != 1 || p.Changes[0].String() != "ng-web nodes: 2 -> 5" {
		t.Errorf("changes %v", p.Changes)
	}

	p, err = planOf(t, NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(1), MaxSize: i32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-web: 2 -> 1 nodes, min 1, max 10 -> 4"; p.Summary != want || p.ScaleUp {
		t.Errorf("summary %q scaleUp %v, want %q and no scale-up", p.Summary, p.ScaleUp, want)
	}
}

func TestPlanRefuses(t *testing.T) {
	cases := []struct {
		name string
		op   NodegroupOp
		code string
		want string // in the message
	}{
		{"desired above max", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(11)}, aks.EInvalid, "above the max size 10"},
		{"desired below min", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(0)}, aks.EInvalid, "below the min size 1"},
		{"min above max", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", MinSize: i32(6), MaxSize: i32(5), DesiredSize: i32(5)}, aks.EInvalid, "min size 6 is above max size 5"},
		{"max zero", NodegroupOp{Kind: OpScale, Nodegroup: "ng-batch", MaxSize: i32(0), DesiredSize: i32(0)}, aks.EInvalid, "at least 1"},
		{"no size", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web"}, aks.EInvalid, "say the new size"},
		{"no change", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(2)}, aks.EInvalid, "already has 2 nodes"},
		{"negative", NodegroupOp{Kind: OpScale, Nodegroup: "ng-web", DesiredSize: i32(-1)}, aks.EInvalid, "negative"},
		{"bad node group name", NodegroupOp{Kind: OpScale, Nodegroup: "ng web", DesiredSize: i32(3)}, aks.EInvalid, "not a valid node group name"},
		{"bad cluster name", NodegroupOp{Kind: OpScale, Cluster: "-x", Nodegroup: "ng-web", DesiredSize: i32(3)}, aks.EInvalid, "not a valid EKS cluster name"},
		{"bad region", NodegroupOp{Kind: OpScale, Region: "europe", Nodegroup: "ng-web", DesiredSize: i32(3)}, aks.EInvalid, "not an AWS region"},
		{"missing node group", NodegroupOp{Kind: OpScale, Nodegroup: "ng-gone", DesiredSize: i32(3)}, aks.ENotFound, "no node group ng-gone"},
		{"upgrade past control plane", NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-web", KubernetesVersion: "1.32"}, aks.EInvalid, "newer than the control plane"},
		{"downgrade", NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-web", KubernetesVersion: "1.30"}, aks.EInvalid, "going back"},
		{"release of another version", NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-batch", KubernetesVersion: "1.31", ReleaseVersion: "1.30.12-20251101"}, aks.EInvalid, "not a release of Kubernetes 1.31"},
		{"same release", NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-web", ReleaseVersion: "1.31.7-20250620"}, aks.EInvalid, "already runs"},
		{"not a version", NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-web", KubernetesVersion: "latest"}, aks.EInvalid, "not a Kubernetes version"},
		{"create existing", NodegroupOp{Kind: OpCreate, Nodegroup: "ng-web", NodeRole: "arn:aws:iam::111122223333:role/n", Subnets: []string{"subnet-0a1b2c3d"}}, aks.EConflict, "exists already"},
		{"create without role", NodegroupOp{Kind: OpCreate, Nodegroup: "ng-new", Subnets: []string{"subnet-0a1b2c3d"}}, aks.EInvalid, "node IAM role"},
		{"create without subnets", NodegroupOp{Kind: OpCreate, Nodegroup: "ng-new", NodeRole: "arn:aws:iam::111122223333:role/n"}, aks.EInvalid, "subnet"},
		{"create above max default", NodegroupOp{Kind: OpCreate, Nodegroup: "ng-new", NodeRole: "arn:aws:iam::111122223333:role/n", Subnets: []string{"subnet-0a1b2c3d"}, DesiredSize: i32(5)}, aks.EInvalid, "above the max size 2"},
		{"create bad taint", NodegroupOp{Kind: OpCreate, Nodegroup: "ng-new", NodeRole: "arn:aws:iam::111122223333:role/n", Subnets: []string{"subnet-0a1b2c3d"}, Taints: []Taint{{Key: "a", Effect: "NoSchedule"}}}, aks.EInvalid, "effect"},
		{"delete missing", NodegroupOp{Kind: OpDelete, Nodegroup: "ng-gone"}, aks.ENotFound, "no node group"},
		{"unknown kind", NodegroupOp{Kind: "eks.nodegroup.stop", Nodegroup: "ng-web"}, aks.EInvalid, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planOf(t, tc.op)
			if err == nil {
				t.Fatalf("planned %q, want an error", p.Summary)
			}
			if aks.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (code %s), want code %s and %q", err, aks.ErrorCode(err), tc.code, tc.want)
			}
		})
	}
}

func TestPlanUpgradeCreateDelete(t *testing.T) {
	p, err := planOf(t, NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-batch"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-batch: Kubernetes 1.30 -> 1.31, AMI release 1.30.11-20250620 -> latest"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	p, err = planOf(t, NodegroupOp{Kind: OpUpgrade, Nodegroup: "ng-web"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-web: AMI release 1.31.7-20250620 -> latest (Kubernetes 1.31)"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}

	p, err = planOf(t, NodegroupOp{Kind: OpCreate, Nodegroup: "ng-gpu", NodeRole: "arn:aws:iam::111122223333:role/eks-node",
		Subnets: []string{"subnet-0a1b2c3d"}, InstanceTypes: []string{"g5.xlarge"}, MinSize: i32(0), DesiredSize: i32(1), MaxSize: i32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-gpu: new node group, 1 nodes (min 0, max 4) of g5.xlarge, ON_DEMAND, Kubernetes 1.31"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	if !p.ScaleUp || p.FromNodes != 0 || p.ToNodes != 1 || p.ClusterNodes != 6 {
		t.Errorf("plan %+v", p)
	}

	p, err = planOf(t, NodegroupOp{Kind: OpDelete, Nodegroup: "ng-batch"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-batch: delete the node group and its 3 nodes"; p.Summary != want || p.ToNodes != 0 || p.ClusterNodes != 2 {
		t.Errorf("summary %q plan %+v, want %q", p.Summary, p, want)
	}
}

func TestParseTaint(t *testing.T) {
	for in, want := range map[string]Taint{
		"dedicated=gpu:NoSchedule":  {Key: "dedicated", Value: "gpu", Effect: "NO_SCHEDULE"},
		"spot:PREFER_NO_SCHEDULE":   {Key: "spot", Effect: "PREFER_NO_SCHEDULE"},
		"example.com/x=y:NoExecute": {Key: "example.com/x", Value: "y", Effect: "NO_EXECUTE"},
	} {
		got, err := ParseTaint(in)
		if err != nil || got != want {
			t.Errorf("ParseTaint(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"novalue", "a=b:Sometimes", ":NoSchedule"} {
		if _, err := ParseTaint(in); err == nil {
			t.Errorf("ParseTaint(%q) accepted", in)
		}
	}
}

func TestRequestTokensAreValid(t *testing.T) {
	job := aks.Job{ID: "42", CreatedAt: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	if got := aks.RequestToken(job); !validToken(got) {
		t.Fatalf("the engine's request token %q is not one EKS takes", got)
	}
	if validToken("") || validToken("a b") || validToken(strings.Repeat("x", 65)) {
		t.Fatal("validToken accepts an empty, spaced or overlong token")
	}
}
