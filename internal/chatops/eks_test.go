package chatops

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// stubEKS answers the read commands with what it was asked, and records the calls.
type stubEKS struct {
	calls  []string
	err    error
	panics bool
}

func (r *stubEKS) answer(call string) (string, error) {
	if r.panics {
		panic("boom")
	}
	r.calls = append(r.calls, call)
	if r.err != nil {
		return "", r.err
	}
	return "answer to " + call, nil
}

func (r *stubEKS) ListClusters(_ context.Context, regions []string) (string, error) {
	return r.answer(fmt.Sprintf("list %v", regions))
}

func (r *stubEKS) DescribeCluster(_ context.Context, region, cluster string) (string, error) {
	return r.answer("describe " + region + " " + cluster)
}

func (r *stubEKS) ListNodegroups(_ context.Context, region, cluster string) (string, error) {
	return r.answer("nodegroups " + region + " " + cluster)
}

func (r *stubEKS) DescribeNodegroup(_ context.Context, region, cluster, nodegroup string) (string, error) {
	return r.answer("nodegroup " + region + " " + cluster + " " + nodegroup)
}

const (
	testAccount = "111122223333"
	testRole    = "arn:aws:iam::111122223333:role/eks-nodes"
)

// eksService is a Service with /eks in eu-west-1 (the default) and us-east-1; web-prod in
// eu-west-1 has create defaults, other clusters none.
func eksService(e *stubEngine, r *stubEKS, st *stubJobs) *Service {
	s := policyService(e, st)
	s.EKS = &EKS{Reader: r, Regions: []string{"eu-west-1", "us-east-1"}, Account: testAccount,
		NodegroupDefaults: func(region, cluster string) aks.NodegroupSpec {
			if region == "eu-west-1" && cluster == "web-prod" {
				return aks.NodegroupSpec{NodeRole: testRole, Subnets: []string{"subnet-0a1b2c3d", "subnet-1a1b2c3d"}, InstanceTypes: []string{"m6i.large"}}
			}
			return aks.NodegroupSpec{}
		}}
	return s
}

func eksReq(text string) Request {
	return Request{User: aks.User{ID: "U1"}, Channel: "C1", Command: "/eks", Text: text}
}

func TestEKSReadCommandsUseTheRegions(t *testing.T) {
	cases := []struct {
		text, call string
	}{
		{"list", "list [eu-west-1 us-east-1]"},
		{"list --region us-east-1", "list [us-east-1]"},
		{"get clusters", "list [eu-west-1 us-east-1]"},
		{"describe web-prod", "describe eu-west-1 web-prod"},
		{"describe-cluster --name web-prod --region us-east-1", "describe us-east-1 web-prod"},
		{"nodegroup list web-prod", "nodegroups eu-west-1 web-prod"},
		{"get nodegroup --cluster web-prod", "nodegroups eu-west-1 web-prod"},
		{"nodegroup describe web-prod ng-web -r us-east-1", "nodegroup us-east-1 web-prod ng-web"},
	}
	for _, c := range cases {
		r := &stubEKS{}
		reply := eksService(&stubEngine{}, r, &stubJobs{}).Command(context.Background(), eksReq(c.text))
		if reply.Error || reply.Text != "answer to "+c.call || len(r.calls) != 1 || r.calls[0] != c.call {
			t.Errorf("/eks %s: reply %+v, reader calls %v, want %q", c.text, reply, r.calls, c.call)
		}
	}
}

func TestEKSRefusesARegionItIsNotConfiguredFor(t *testing.T) {
	r, e := &stubEKS{}, &stubEngine{}
	s := eksService(e, r, &stubJobs{})
	for _, text := range []string{"describe web-prod --region ap-south-1", "list --region ap-south-1", "nodegroup scale web-prod ng-web --nodes 3 --region ap-south-1"} {
		reply := s.Command(context.Background(), eksReq(text))
		if !reply.Error || !strings.Contains(reply.Text, "does not work in region ap-south-1") || !strings.Contains(reply.Text, "eu-west-1, us-east-1") {
			t.Errorf("/eks %s: %+v", text, reply)
		}
	}
	if len(r.calls) != 0 || len(e.submitted) != 0 {
		t.Errorf("reached EKS or the engine: reader %v, submitted %d", r.calls, len(e.submitted))
	}
	s.EKS.Regions = nil
	if reply := s.Command(context.Background(), eksReq("list")); !reply.Error || !strings.Contains(reply.Text, "No AWS region is configured") {
		t.Errorf("without regions: %+v", reply)
	}
}

func TestEKSNotConfigured(t *testing.T) {
	s := policyService(&stubEngine{}, &stubJobs{})
	for _, text := range []string{"list", "nodegroup scale web-prod ng-web --nodes 3", "jobs"} {
		reply := s.Command(context.Background(), eksReq(text))
		if !reply.Error || !strings.Contains(reply.Text, "EKS is not configured") || !strings.Contains(reply.Text, "README") {
			t.Errorf("/eks %s without EKS: %+v", text, reply)
		}
	}
	// Help needs nothing but the grammar.
	if reply := s.Command(context.Background(), eksReq("help")); reply.Error || !strings.Contains(reply.Text, "`/eks nodegroup scale") {
		t.Errorf("/eks help without EKS: %+v", reply)
	}
}

func TestEKSScaleMakesAJobOnTheEKSTarget(t *testing.T) {
	e := &stubEngine{}
	reply := eksService(e, &stubEKS{}, &stubJobs{}).Command(context.Background(), eksReq("nodegroup scale web-prod ng-web --desired-size 5 --max-size 10"))
	if reply.Error || reply.JobID != "7" || !strings.Contains(reply.Text, "waiting for approval") {
		t.Fatalf("reply %+v", reply)
	}
	if len(e.submitted) != 1 {
		t.Fatalf("%d submissions", len(e.submitted))
	}
	got := e.submitted[0]
	want := aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Account: testAccount, Cluster: "web-prod", Pool: "ng-web"}
	if got.Op.Kind != aks.OpNodegroupScale || got.Op.Target != want || got.Channel != "C1" || got.Requester.ID != "U1" {
		t.Errorf("submitted %+v, want a scale of %+v", got, want)
	}
	if ng := got.Op.Nodegroup; ng == nil || ng.DesiredSize == nil || *ng.DesiredSize != 5 || ng.MaxSize == nil || *ng.MaxSize != 10 || ng.MinSize != nil {
		t.Errorf("node-group spec %+v", got.Op.Nodegroup)
	}
}

func TestEKSCreateTakesTheClusterDefaults(t *testing.T) {
	e := &stubEngine{}
	s := eksService(e, &stubEKS{}, &stubJobs{})
	if reply := s.Command(context.Background(), eksReq("nodegroup create web-prod ng-batch")); reply.Error {
		t.Fatalf("reply %+v", reply)
	}
	want := aks.NodegroupSpec{NodeRole: testRole, Subnets: []string{"subnet-0a1b2c3d", "subnet-1a1b2c3d"}, InstanceTypes: []string{"m6i.large"}}
	if got := *e.submitted[0].Op.Nodegroup; !reflect.DeepEqual(got, want) {
		t.Errorf("defaults not applied: %+v, want %+v", got, want)
	}
	// What the command gives wins over the defaults.
	if reply := s.Command(context.Background(), eksReq("nodegroup create web-prod ng-arm --instance-types m7g.large --subnets subnet-2a1b2c3d")); reply.Error {
		t.Fatalf("reply %+v", reply)
	}
	want = aks.NodegroupSpec{NodeRole: testRole, Subnets: []string{"subnet-2a1b2c3d"}, InstanceTypes: []string{"m7g.large"}}
	if got := *e.submitted[1].Op.Nodegroup; !reflect.DeepEqual(got, want) {
		t.Errorf("command's values lost: %+v, want %+v", got, want)
	}
}

func TestEKSCreateNeedsARoleAndSubnets(t *testing.T) {
	cases := []struct {
		text, want string
	}{
		{"nodegroup create api ng-1", "needs a node IAM role, and none is configured for cluster api in eu-west-1"},
		{"nodegroup create api ng-1 --node-role " + testRole, "needs subnets, and none are configured for cluster api in eu-west-1"},
		{"nodegroup create web-prod ng-1 --region us-east-1", "needs a node IAM role"},
	}
	for _, c := range cases {
		e := &stubEngine{}
		reply := eksService(e, &stubEKS{}, &stubJobs{}).Command(context.Background(), eksReq(c.text))
		if !reply.Error || !strings.Contains(reply.Text, c.want) || !strings.Contains(reply.Text, "aws.clusters") {
			t.Errorf("/eks %s: %+v, want %q naming aws.clusters", c.text, reply, c.want)
		}
		if len(e.submitted)+len(e.dryRuns) != 0 {
			t.Errorf("/eks %s reached the engine", c.text)
		}
	}
	// Without defaults at all, giving both is enough.
	e := &stubEngine{}
	s := eksService(e, &stubEKS{}, &stubJobs{})
	s.EKS.NodegroupDefaults = nil
	if reply := s.Command(context.Background(), eksReq("nodegroup create api ng-1 --node-role "+testRole+" --subnets subnet-0a1b2c3d")); reply.Error || len(e.submitted) != 1 {
		t.Errorf("create with role and subnets: %+v", reply)
	}
}

func TestEKSDryRunSubmitsNothing(t *testing.T) {
	e := &stubEngine{}
	reply := eksService(e, &stubEKS{}, &stubJobs{}).Command(context.Background(), eksReq("nodegroup delete web-prod ng-batch --dry-run"))
	if reply.Error || reply.JobID != "" || len(e.submitted) != 0 || len(e.dryRuns) != 1 {
		t.Fatalf("reply %+v, submitted %d, dry runs %d", reply, len(e.submitted), len(e.dryRuns))
	}
	if !strings.Contains(reply.Text, "nothing was stored or sent to EKS") || !strings.Contains(reply.Text, "delete node group ng-batch of eks · eu-west-1 · web-prod") {
		t.Errorf("dry run reply:\n%s", reply.Text)
	}
	if e.dryRuns[0].Op.Target.Account != testAccount {
		t.Errorf("dry run target %+v has no account", e.dryRuns[0].Op.Target)
	}
}

func TestEKSErrorsNameEKS(t *testing.T) {
	cloudErr := fmt.Errorf("plan: %w", &aks.AzureError{StatusCode: 409, Code: "ResourceInUseException", Message: "update in progress"})
	e := &stubEngine{err: cloudErr}
	reply := eksService(e, &stubEKS{}, &stubJobs{}).Command(context.Background(), eksReq("nodegroup upgrade web-prod ng-web"))
	if !reply.Error || !strings.Contains(reply.Text, "EKS said ResourceInUseException: update in progress") || strings.Contains(reply.Text, "Azure") {
		t.Errorf("engine error: %+v", reply)
	}
	reply = eksService(&stubEngine{}, &stubEKS{err: cloudErr}, &stubJobs{}).Command(context.Background(), eksReq("describe web-prod"))
	if !reply.Error || !strings.Contains(reply.Text, "EKS said ResourceInUseException") {
		t.Errorf("reader error: %+v", reply)
	}
	reply = eksService(&stubEngine{}, &stubEKS{err: errors.New("dial tcp 10.0.0.1: refused")}, &stubJobs{}).Command(context.Background(), eksReq("describe web-prod"))
	if !reply.Error || !strings.Contains(reply.Text, "Something went wrong") || strings.Contains(reply.Text, "10.0.0.1") {
		t.Errorf("internal error: %+v", reply)
	}
	reply = eksService(&stubEngine{}, &stubEKS{panics: true}, &stubJobs{}).Command(context.Background(), eksReq("describe web-prod"))
	if !reply.Error || !strings.Contains(reply.Text, "Something went wrong inside the bot") {
		t.Errorf("panic: %+v", reply)
	}
	// /aks keeps saying Azure.
	reply = service(&stubEngine{err: cloudErr}).Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "scale demo --node-count 3"})
	if !strings.Contains(reply.Text, "Azure said ResourceInUseException") {
		t.Errorf("/aks engine error: %+v", reply)
	}
}

func TestEKSUsageErrorsSpeakOfEKS(t *testing.T) {
	e := &stubEngine{}
	reply := eksService(e, &stubEKS{}, &stubJobs{}).Command(context.Background(), eksReq("nodegroup scale web-prod ng-web --nodes 3 --nodes-max 2"))
	if !reply.Error || !strings.Contains(reply.Text, "node group ng-web: 3 nodes is above the max size 2") || !strings.Contains(reply.Text, "Usage: /eks nodegroup scale") {
		t.Errorf("reply %+v", reply)
	}
	if len(e.submitted) != 0 {
		t.Error("a refused command reached the engine")
	}
}

func TestEKSJobCommandsAreShared(t *testing.T) {
	e := &stubEngine{}
	s := eksService(e, &stubEKS{}, &stubJobs{})
	reply := s.Command(context.Background(), eksReq("jobs"))
	if reply.Error || !strings.Contains(reply.Text, "`/eks jobs --all`") || strings.Contains(reply.Text, "/aks") {
		t.Errorf("/eks jobs: %+v", reply)
	}
	reply = s.Command(context.Background(), eksReq("jobs --all"))
	if !strings.Contains(reply.Text, "`/eks nodegroup scale`") || strings.Contains(reply.Text, "/aks") {
		t.Errorf("/eks jobs --all: %+v", reply)
	}
	reply = s.Command(context.Background(), eksReq("job 12"))
	if !reply.Error || !strings.Contains(reply.Text, "There is no job 12") || !strings.Contains(reply.Text, "/eks jobs --all") {
		t.Errorf("/eks job 12: %+v", reply)
	}
	reply = s.Command(context.Background(), Request{User: aks.User{ID: "U2"}, Command: "/eks", Text: "deny 7 not now"})
	if reply.Error || !strings.Contains(reply.Text, "denied") || len(e.decided) != 1 || e.decided[0] != `7 deny "not now" by U2` {
		t.Errorf("/eks deny: %+v, engine %v", reply, e.decided)
	}
	if reply := s.Command(context.Background(), eksReq("whoami")); reply.Text != "you are U1" {
		t.Errorf("/eks whoami: %+v", reply)
	}
	// The same commands under /aks keep their /aks hints.
	if reply := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "jobs"}); !strings.Contains(reply.Text, "`/aks jobs --all`") {
		t.Errorf("/aks jobs: %+v", reply)
	}
}

func TestEKSPendingHints(t *testing.T) {
	target := aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Cluster: "web-prod", Pool: "ng-web"}
	st := &stubJobs{jobs: []aks.Job{{ID: "1", State: aks.StateAwaitingApproval, Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpNodegroupDelete, Target: target}}}}
	reply := eksService(&stubEngine{}, &stubEKS{}, st).Command(context.Background(), Request{User: aks.User{ID: "U2"}, Command: "/eks", Text: "pending"})
	if reply.Error || !strings.Contains(reply.Text, "#1 ") || !strings.Contains(reply.Text, "`/eks approve ID` / `/eks deny ID REASON`") {
		t.Errorf("/eks pending: %+v", reply)
	}
}

func TestEKSPolicyAndAuditUseTheEKSTarget(t *testing.T) {
	st := &stubJobs{}
	s := eksService(&stubEngine{}, &stubEKS{}, st)
	if reply := s.Command(context.Background(), eksReq("policy web-prod")); reply.Text != "policy of eks · eu-west-1 · web-prod" {
		t.Errorf("/eks policy: %+v", reply)
	}
	reply := s.Command(context.Background(), Request{User: aks.User{ID: "U2"}, Command: "/eks", Text: "audit web-prod --region us-east-1 --since 7d"})
	if reply.Error || !strings.Contains(reply.Text, "eks · us-east-1 · web-prod, last 7d") {
		t.Errorf("/eks audit: %+v", reply)
	}
	if want := `2026-11-20T12:00:00Z "eks/us-east-1/web-prod" 200`; len(st.asked) != 1 || st.asked[0] != want {
		t.Errorf("audit log asked for %v, want %s", st.asked, want)
	}
	reply = s.Command(context.Background(), eksReq("audit"))
	if !reply.Error || !strings.Contains(reply.Text, "see /eks policy") {
		t.Errorf("/eks audit by a non-approver: %+v", reply)
	}
}

func TestUnknownSlashCommand(t *testing.T) {
	e := &stubEngine{}
	s := eksService(e, &stubEKS{}, &stubJobs{})
	reply := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Command: "/k8s", Text: "nodegroup delete web-prod ng-web"})
	if !reply.Error || !strings.Contains(reply.Text, "`/aks` and `/eks` only") || !strings.Contains(reply.Text, `"/k8s"`) {
		t.Errorf("reply %+v", reply)
	}
	if len(e.submitted) != 0 {
		t.Error("an unknown command reached the engine")
	}
	reply = s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Command: "/x<!channel>" + strings.Repeat("x", 100), Text: "list"})
	if !reply.Error || strings.Contains(reply.Text, "<!channel>") || len(reply.Text) > 200 {
		t.Errorf("a hostile command name is shown as is: %q", reply.Text)
	}
	for _, name := range []string{"", "/aks", " /AKS "} {
		reply := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Command: name, Text: "jobs"})
		if reply.Error || !strings.Contains(reply.Text, "/aks jobs --all") {
			t.Errorf("Command %q: %+v, want the /aks answer", name, reply)
		}
	}
}
