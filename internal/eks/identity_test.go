package eks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/eks/sim"
)

func TestIdentityAsksSTS(t *testing.T) {
	e := newEnv(t, sim.Options{Account: "444455556666"})
	account, arn, err := e.c.Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if account != "444455556666" || arn != e.sim.CallerARN() || !strings.HasPrefix(arn, "arn:aws:sts::444455556666:assumed-role/") {
		t.Fatalf("identity %q %q, want the sim's account and caller", account, arn)
	}
	reqs := e.sim.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "GetCallerIdentity" || reqs[0].Method != "POST" || reqs[0].Path != "/" ||
		reqs[0].Region != "eu-west-1" || reqs[0].Mutating() {
		t.Fatalf("requests %+v, want one GetCallerIdentity signed for the default region", reqs)
	}
	// The account is in the sim's ARNs too.
	cl, err := e.c.DescribeCluster(t.Context(), "", "web-prod")
	if err != nil || !strings.Contains(cl.ARN, ":444455556666:cluster/web-prod") {
		t.Fatalf("cluster ARN %q (%v)", cl.ARN, err)
	}
}

func TestIdentityErrors(t *testing.T) {
	e := newEnv(t, sim.Options{})
	e.sim.ThrottleNext(100) // more than the SDK's attempts
	_, _, err := e.c.Identity(t.Context())
	if aks.ErrorCode(err) != aks.EUnavailable || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("throttled identity: %v, want unavailable with STS's code", err)
	}
	e.sim.ThrottleNext(0)

	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1") // nothing listens on port 1
	c, err := New(t.Context(), Config{Regions: []string{"eu-west-1"}, RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, _, err = c.Identity(ctx)
	var hint string
	if ae, ok := err.(*aks.Error); ok {
		hint = ae.Hint
	}
	if aks.ErrorCode(err) != aks.EUnavailable || !Unreachable(err) || !strings.Contains(err.Error(), "cannot reach AWS STS") ||
		!strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(hint, "AWS_ENDPOINT_URL_STS") {
		t.Fatalf("identity without STS: %v (hint %q), want unavailable naming the address, with a hint about the network path", err, hint)
	}
}

// A job made for another AWS account never reaches this account's cluster of the same name.
func TestPlanRefusesAnotherAccount(t *testing.T) {
	e := newEnv(t, sim.Options{Account: "444455556666"})
	cloud := e.c.Cloud()
	op := aks.Operation{Kind: aks.OpNodegroupScale, Target: webTarget("ng-web"), Nodegroup: sizes(new(3), nil, nil)}
	op.Target.Account = "999988887777"
	_, err := cloud.Plan(t.Context(), op)
	if aks.ErrorCode(err) != aks.EInvalid || !strings.Contains(err.Error(), "999988887777") || !strings.Contains(err.Error(), "444455556666") {
		t.Fatalf("plan for another account: %v, want invalid naming both accounts", err)
	}
	op.Target.Account = "444455556666"
	if _, err := cloud.Plan(t.Context(), op); err != nil {
		t.Fatalf("plan for the bot's account: %v", err)
	}
	asked := 0
	for _, r := range e.sim.Requests() {
		if r.Operation == "GetCallerIdentity" {
			asked++
		}
	}
	if asked != 1 {
		t.Errorf("STS asked %d times, want once", asked)
	}
}

// The console's wiring: the sim in process (no listener), the regions it has, STS included.
func TestInProcessSim(t *testing.T) {
	setEnv(t, "")
	s := sim.New(sim.Options{Account: "444455556666"})
	c, err := New(t.Context(), Config{Regions: s.Regions(), HTTPClient: s.HTTPClient(), LoadOptions: sim.ClientOptions(sim.Endpoint)})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoint(""); got != sim.Endpoint {
		t.Fatalf("endpoint %q, want %q", got, sim.Endpoint)
	}
	text, err := c.Reader().ListClusters(t.Context(), nil)
	if err != nil || !strings.Contains(text, "*EKS clusters* (2) in eu-west-1, us-east-1") {
		t.Fatalf("list %q (%v)", text, err)
	}
	if account, _, err := c.Identity(t.Context()); err != nil || account != "444455556666" {
		t.Fatalf("identity %q (%v)", account, err)
	}
	if n := len(s.Requests()); n < 3 {
		t.Fatalf("the sim saw %d requests", n)
	}
}
