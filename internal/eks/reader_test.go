package eks

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/eks/sim"
)

// eksReader is the chat layer's read port, written out: Reader must implement exactly it.
type eksReader interface {
	ListClusters(ctx context.Context, regions []string) (string, error)
	DescribeCluster(ctx context.Context, region, cluster string) (string, error)
	ListNodegroups(ctx context.Context, region, cluster string) (string, error)
	DescribeNodegroup(ctx context.Context, region, cluster, nodegroup string) (string, error)
}

var _ eksReader = (*Reader)(nil)

func TestReaderRendersWhatEKSShows(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	r := e.c.Reader()
	read := func(what string, got string, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, got)
			}
		}
	}
	got, err := r.ListClusters(ctx, nil)
	read("list of every region", got, err, "*EKS clusters* (2) in eu-west-1, us-east-1", "web-prod", "data-dev")
	got, err = r.ListClusters(ctx, []string{""})
	read("list of the default region", got, err, "*EKS clusters* (1) in eu-west-1", "web-prod")
	if strings.Contains(got, "us-east-1") {
		t.Errorf("the default region's list shows another region:\n%s", got)
	}
	got, err = r.DescribeCluster(ctx, "", "web-prod")
	read("describe", got, err, "*EKS cluster web-prod* in eu-west-1", "*Node groups* (2, 5 nodes)")
	got, err = r.ListNodegroups(ctx, "eu-west-1", "web-prod")
	read("node groups", got, err, "*Node groups of web-prod* (2)", "ng-batch: taints batch=true:NO_SCHEDULE")
	got, err = r.DescribeNodegroup(ctx, "us-east-1", "data-dev", "ng-data")
	read("node group", got, err, "*Node group ng-data* of cluster data-dev", "Nodes: 1 (min 1, max 3)")
}

func TestReaderErrorsAreForUsers(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	r := e.c.Reader()
	userErr := func(what string, err error, code, hint string) {
		t.Helper()
		ae, ok := err.(*aks.Error)
		if !ok {
			t.Fatalf("%s: %T %v, want an *aks.Error", what, err, err)
		}
		if ae.Code != code || !strings.Contains(ae.Hint, hint) {
			t.Errorf("%s: code %s hint %q, want %s and %q", what, ae.Code, ae.Hint, code, hint)
		}
	}
	_, err := r.DescribeCluster(ctx, "eu-west-1", "data-dev") // data-dev is in us-east-1
	userErr("describe of a cluster in another region", err, aks.ENotFound, "/eks list")
	_, err = r.ListNodegroups(ctx, "", "nope")
	userErr("node groups of a missing cluster", err, aks.ENotFound, "/eks list")
	_, err = r.DescribeNodegroup(ctx, "", "web-prod", "ng-nope")
	userErr("missing node group", err, aks.ENotFound, "/eks describe web-prod --region eu-west-1")
	_, err = r.ListClusters(ctx, []string{"europe"})
	userErr("a region that is not one", err, aks.EInvalid, "eu-west-1")

	e.sim.ThrottleNext(100) // more than the SDK's attempts
	_, err = r.DescribeCluster(ctx, "eu-west-1", "web-prod")
	userErr("throttled", err, aks.EUnavailable, "try again")
	if !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("throttled: %q does not say what EKS said", err)
	}
}
