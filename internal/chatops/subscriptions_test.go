package chatops

import (
	"context"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

const (
	devID  = "11111111-1111-1111-1111-111111111111"
	prodID = "22222222-2222-2222-2222-222222222222"
)

// countingReader is one subscription's Azure: it counts reads and holds rg-aks/demo.
type countingReader struct {
	sub   string
	reads *int
}

func (r countingReader) ListClusters(context.Context, string) ([]aks.Cluster, error) {
	*r.reads++
	return []aks.Cluster{{Name: "demo", ResourceGroup: "rg-aks", Location: "westeurope", ProvisioningState: "Succeeded"}}, nil
}

func (r countingReader) GetCluster(_ context.Context, rg, name string) (aks.Cluster, error) {
	*r.reads++
	if name != "demo" {
		return aks.Cluster{}, &aks.Error{Code: aks.ENotFound, Message: "cluster " + rg + "/" + name + " not found"}
	}
	return aks.Cluster{Name: "demo", ResourceGroup: rg}, nil
}

func (r countingReader) GetVersions(context.Context, string) ([]aks.KubernetesVersion, error) {
	*r.reads++
	return nil, nil
}

func (r countingReader) GetUpgrades(context.Context, string, string) (aks.Upgrades, error) {
	*r.reads++
	return aks.Upgrades{}, nil
}

// creatingJobs holds stored jobs for the service's reads.
type creatingJobs struct{ jobs []aks.Job }

func (s creatingJobs) Job(context.Context, string) (aks.Job, error) {
	return aks.Job{}, jobs.ErrNotFound
}
func (s creatingJobs) Events(context.Context, string) ([]aks.Event, error) {
	return nil, nil
}

func (s creatingJobs) Jobs(_ context.Context, f jobs.Filter) ([]aks.Job, error) {
	var out []aks.Job
	for _, j := range s.jobs {
		if f.ClusterKey == "" || j.Op.Target.ClusterKey() == f.ClusterKey {
			out = append(out, j)
		}
	}
	return out, nil
}

func twoSubscriptions(e *stubEngine, reads map[string]*int) *Service {
	s := service(e)
	s.Subscriptions = aks.NewSubscriptions(map[string]string{"dev": devID, "prod": prodID}, "dev")
	s.Azure = countingReader{sub: devID, reads: reads[devID]}
	s.AzureIn = func(id string) (Reader, error) { return countingReader{sub: id, reads: reads[id]}, nil }
	return s
}

func TestUnknownSubscriptionIsRefusedBeforeAzureIsRead(t *testing.T) {
	dev, prod := 0, 0
	e := &stubEngine{}
	s := twoSubscriptions(e, map[string]*int{devID: &dev, prodID: &prod})
	for _, text := range []string{"list --subscription stage", "show demo --subscription stage", "nodepool scale demo np2 -c 3 --subscription stage",
		"scale demo -c 3 --subscription 33333333-3333-3333-3333-333333333333"} {
		r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1", Text: text})
		if !r.Error || !strings.Contains(r.Text, "known: dev, prod") || !strings.Contains(r.Text, "Unknown subscription") {
			t.Errorf("%s: reply %+v, want the unknown subscription refused with the known names", text, r)
		}
	}
	if r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "list --subscription stage"}); !strings.Contains(r.Text, `Unknown subscription "stage": known: dev, prod.`) {
		t.Errorf("reply %q", r.Text)
	}
	if dev+prod != 0 || len(e.submitted)+len(e.dryRuns) != 0 {
		t.Errorf("Azure read %d times, engine asked %d times, for refused subscriptions", dev+prod, len(e.submitted)+len(e.dryRuns))
	}
}

func TestSubscriptionReachesTheTargetAndTheRightReader(t *testing.T) {
	dev, prod := 0, 0
	e := &stubEngine{}
	s := twoSubscriptions(e, map[string]*int{devID: &dev, prodID: &prod})
	ctx := context.Background()
	r := s.Command(ctx, Request{User: aks.User{ID: "U1"}, Text: "nodepool scale demo np2 -c 3 --subscription prod"})
	if r.Error || len(e.submitted) != 1 {
		t.Fatalf("reply %+v", r)
	}
	if got := e.submitted[0].Op.Target; got.Subscription != prodID || got.SubscriptionName != "prod" {
		t.Errorf("target %+v, want prod's ID and name", got)
	}
	s.Command(ctx, Request{User: aks.User{ID: "U1"}, Text: "scale demo -c 3 --subscription " + devID})
	if got := e.submitted[1].Op.Target; got.Subscription != devID || got.SubscriptionName != "dev" {
		t.Errorf("by ID: target %+v", got)
	}
	s.Command(ctx, Request{User: aks.User{ID: "U1"}, Text: "scale demo -c 3"})
	if got := e.submitted[2].Op.Target; got.Subscription != devID {
		t.Errorf("without --subscription: target %+v, want the default (dev)", got)
	}
	r = s.Command(ctx, Request{User: aks.User{ID: "U1"}, Text: "show demo --subscription prod"})
	if prod != 1 || dev != 0 || !strings.Contains(r.Text, "subscription prod") {
		t.Errorf("show in prod: %d reads in prod, %d in dev; reply %q", prod, dev, r.Text)
	}
	r = s.Command(ctx, Request{User: aks.User{ID: "U1"}, Text: "list --all-subscriptions"})
	if prod != 2 || dev != 1 || !strings.Contains(r.Text, "SUBSCRIPTION") || !strings.Contains(r.Text, "dev") || !strings.Contains(r.Text, "prod") {
		t.Errorf("list --all-subscriptions: %d reads in prod, %d in dev; reply:\n%s", prod, dev, r.Text)
	}
}

func TestOneSubscriptionKeepsTheTexts(t *testing.T) {
	reads := 0
	e := &stubEngine{}
	s := service(e)
	s.Subscriptions = aks.NewSubscriptions(map[string]string{devID: devID}, devID)
	s.Azure = countingReader{reads: &reads}
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "list"})
	if strings.Contains(r.Text, "SUBSCRIPTION") {
		t.Errorf("one subscription, yet the list names it:\n%s", r.Text)
	}
	s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "scale demo -c 3"})
	if got := e.submitted[0].Op; got.Target.Subscription != devID || got.Target.SubscriptionName != "" || got.Describe() != "scale pool (the only pool) of rg-default/demo to 3 nodes" {
		t.Errorf("target %+v, describe %q", got.Target, got.Describe())
	}
}

func TestClusterBeingCreatedIsNotNotFound(t *testing.T) {
	reads := 0
	e := &stubEngine{err: &aks.Error{Code: aks.ENotFound, Message: "cluster rg-default/new not found"}}
	s := service(e)
	s.Azure = countingReader{reads: &reads}
	s.Jobs = creatingJobs{jobs: []aks.Job{{ID: "1", State: aks.StateRunning,
		Op: aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: "rg-default", Cluster: "new"}}}}}
	for _, text := range []string{"show new", "nodepool scale new np1 -c 2"} {
		r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: text})
		if !r.Error || !strings.Contains(r.Text, "Cluster new is being created by job 1 (running); try again when it ends.") {
			t.Errorf("%s: reply %q", text, r.Text)
		}
	}
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Text: "show other"})
	if !strings.Contains(r.Text, "not found") {
		t.Errorf("a cluster nobody creates: reply %q", r.Text)
	}
}
