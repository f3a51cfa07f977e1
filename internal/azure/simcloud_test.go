package azure

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	bolt "go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/jobs"
)

// These tests drive the Client against the simulated cloud, whose operations run on a clock the
// test moves, and which can abort operations and inject faults as ARM would.

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type simEnv struct {
	cloud *sim.Cloud
	clock *simClock
	c     *Client
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "sim.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := &simClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	cloud, err := sim.New(sim.Options{DB: db, Now: clock.now, RetryAfter: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cloud.Seed(ctx, testRG, "demo", "westeurope",
		sim.SeedPool{Name: "system", Mode: "System", Count: 1}, sim.SeedPool{Name: "np1", Mode: "User", Count: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{
		SubscriptionID: sim.SubscriptionID, Credential: cloud.Credential(), Transport: cloud.Transport(),
		Retry: policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{cloud: cloud, clock: clock, c: c}
}

func (e *simEnv) begin(t *testing.T, op aks.Operation) jobs.Operation {
	t.Helper()
	plan, err := e.c.Plan(context.Background(), op)
	if err != nil {
		t.Fatalf("Plan(%s): %v", op.Describe(), err)
	}
	o, err := e.c.Begin(context.Background(), op, plan, "")
	if err != nil {
		t.Fatalf("Begin(%s): %v", op.Describe(), err)
	}
	return o
}

func (e *simEnv) state(t *testing.T, tgt aks.Target) string {
	t.Helper()
	s, err := e.c.ProvisioningState(context.Background(), tgt)
	if err != nil {
		t.Fatalf("ProvisioningState(%s): %v", tgt, err)
	}
	return s
}

// endCanceled polls o to its end and checks that Result says Canceled as an *aks.AzureError.
func endCanceled(t *testing.T, o jobs.Operation) {
	t.Helper()
	pollToEnd(t, o)
	err := o.Result(context.Background())
	var az *aks.AzureError
	if !errors.As(err, &az) || az.Code != CodeCanceled {
		t.Fatalf("Result of an aborted operation = %v, want AzureError %s", err, CodeCanceled)
	}
}

func TestAbort(t *testing.T) {
	e := newSimEnv(t)
	ctx := context.Background()
	pool := target("np1")
	pool.Cluster = "demo"

	scale := e.begin(t, aks.Operation{Kind: aks.OpPoolScale, Target: pool, NodeCount: intp(3)})
	if err := e.c.Abort(ctx, pool); err != nil {
		t.Fatalf("Abort(%s): %v", pool, err)
	}
	endCanceled(t, scale)
	if got := e.state(t, pool); got != "Canceled" {
		t.Errorf("pool state after abort = %s, want Canceled", got)
	}
	refused(t, e.c.Abort(ctx, pool), aks.EConflict, "no operation is running on rg-aks/demo/np1", "/aks show demo")

	// A cluster operation, followed after a restart from its token.
	stop := e.begin(t, aks.Operation{Kind: aks.OpClusterStop, Target: target("")})
	tok, err := stop.ResumeToken()
	if err != nil || tok == "" {
		t.Fatalf("ResumeToken = %q, %v", tok, err)
	}
	if err := e.c.Abort(ctx, target("")); err != nil {
		t.Fatalf("Abort(cluster): %v", err)
	}
	resumed, err := e.c.Resume(ctx, aks.Operation{Kind: aks.OpClusterStop, Target: target("")}, tok)
	if err != nil {
		t.Fatal(err)
	}
	endCanceled(t, resumed)
	endCanceled(t, stop)
	if got := e.state(t, target("")); got != "Canceled" {
		t.Errorf("cluster state after abort = %s, want Canceled", got)
	}

	refused(t, e.c.Abort(ctx, aks.Target{ResourceGroup: testRG, Cluster: "gone"}), aks.ENotFound, "cluster rg-aks/gone not found", "")
	refused(t, e.c.Abort(ctx, target("nope")), aks.ENotFound, "pool nope of cluster rg-aks/demo not found", "")
}

type withID interface{ OperationID() string }

func TestOperationIDFromSim(t *testing.T) {
	e := newSimEnv(t)
	op := aks.Operation{Kind: aks.OpPoolScale, Target: target("np1"), NodeCount: intp(2)}
	o := e.begin(t, op)
	id := o.(withID).OperationID()
	if len(id) != 36 {
		t.Fatalf("OperationID = %q, want a UUID", id)
	}
	if _, _, err := o.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := e.cloud.Requests()
	if last := reqs[len(reqs)-1].Path; !strings.HasSuffix(last, "/operations/"+id) {
		t.Errorf("the poll went to %s, not to operation %s", last, id)
	}
	tok, err := o.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.c.Resume(context.Background(), op, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.(withID).OperationID(); got != id {
		t.Errorf("resumed OperationID = %q, want %q", got, id)
	}
}

// What the retry policy does with faults, per method: the engine relies on it.
func TestRetriesOnFaults(t *testing.T) {
	e := newSimEnv(t)
	ctx := context.Background()
	count := func() int { return len(e.cloud.Requests()) }

	// Throttled GETs and PUTs are tried 4 times (3 retries); 429 is never taken for a lost
	// response.
	e.cloud.SetFaults(sim.Faults{Seed: 1, Throttle: 1})
	before := count()
	_, err := e.c.GetCluster(ctx, testRG, "demo")
	var az *aks.AzureError
	if !errors.As(err, &az) || az.StatusCode != 429 || count()-before != 4 {
		t.Fatalf("throttled GET: %d tries, %v", count()-before, err)
	}
	// A create sends nothing but its PUT (the version comes from the plan).
	e.cloud.SetFaults(sim.Faults{})
	create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new1"}, Location: "westeurope", NodeCount: intp(1)}
	plan, err := e.c.Plan(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	e.cloud.SetFaults(sim.Faults{Seed: 1, Throttle: 1})
	_, err = e.c.Begin(ctx, create, plan, "")
	if !errors.As(err, &az) || az.StatusCode != 429 || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("throttled Begin = %v, want AzureError 429", err)
	}
	if n := e.cloud.CountMutations("managedClusters/new1"); n != 4 {
		t.Errorf("throttled PUT tried %d times, want 4", n)
	}

	// A POST (abort sends nothing else) is retried on 500 like the rest.
	e.cloud.SetFaults(sim.Faults{Seed: 1, ServerError: 1})
	err = e.c.Abort(ctx, target(""))
	if !errors.As(err, &az) || az.StatusCode != 500 {
		t.Fatalf("Abort after server errors = %v, want AzureError 500", err)
	}
	if n := e.cloud.CountMutations("/abort"); n != 4 {
		t.Errorf("POST abort tried %d times, want 4", n)
	}
	if got := e.cloud.Faults(); got.ServerError != 4 {
		t.Errorf("fault counts = %+v", got)
	}
}

// A lost response (applied, answered 500) makes the SDK send the mutation again, which Azure
// refuses (412 for If-None-Match/If-Match, 409 while busy): Begin must not report that refusal
// as the outcome.
func TestBeginAfterLostResponse(t *testing.T) {
	ctx := context.Background()
	unknown := func(t *testing.T, err error) {
		t.Helper()
		var az *aks.AzureError
		var ae *aks.Error
		if !errors.Is(err, ErrOutcomeUnknown) || errors.As(err, &az) || errors.As(err, &ae) || aks.ErrorCode(err) != aks.EInternal {
			t.Fatalf("Begin = %v (%T), want ErrOutcomeUnknown only", err, err)
		}
	}
	lost := func(t *testing.T, e *simEnv, op aks.Operation) aks.Plan {
		t.Helper()
		plan, err := e.c.Plan(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		e.cloud.SetFaults(sim.Faults{Seed: 3, LostResponse: 1})
		_, err = e.c.Begin(ctx, op, plan, "")
		e.cloud.SetFaults(sim.Faults{})
		unknown(t, err)
		return plan
	}
	// Once the lost operation has ended, sending it again finds the change in place: nothing is
	// sent and the operation has succeeded.
	again := func(t *testing.T, e *simEnv, op aks.Operation, plan aks.Plan) {
		t.Helper()
		e.clock.advance(time.Hour)
		before := e.cloud.CountMutations("managedClusters/demo")
		o, err := e.c.Begin(ctx, op, plan, "")
		if err != nil {
			t.Fatalf("Begin again: %v", err)
		}
		if n := e.cloud.CountMutations("managedClusters/demo") - before; n != 0 {
			t.Errorf("Begin again sent %d mutations", n)
		}
		if tok, err := o.ResumeToken(); tok != "" || err != nil {
			t.Errorf("ResumeToken = %q, %v", tok, err)
		}
		if done, _, err := o.Poll(ctx); !done || err != nil || o.Result(ctx) != nil {
			t.Errorf("already applied: done %v, %v, result %v", done, err, o.Result(ctx))
		}
	}

	t.Run("create", func(t *testing.T) {
		e := newSimEnv(t)
		create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new1"}, Location: "westeurope", NodeCount: intp(1)}
		lost(t, e, create)
		if n := e.cloud.CountMutations("managedClusters/new1"); n != 2 {
			t.Errorf("%d PUTs, want the first and the SDK's retry", n)
		}
		if got := e.state(t, create.Target); got != "Creating" {
			t.Errorf("cluster after the lost response = %s, want Creating", got)
		}
	})
	t.Run("scale", func(t *testing.T) {
		e := newSimEnv(t)
		scale := aks.Operation{Kind: aks.OpPoolScale, Target: target("np1"), NodeCount: intp(3)}
		plan := lost(t, e, scale)
		if got := e.state(t, target("np1")); got != "Scaling" {
			t.Errorf("pool after the lost response = %s, want Scaling", got)
		}
		again(t, e, scale, plan)
		// A different count is a real conflict.
		other := scale
		other.NodeCount = intp(5)
		_, err := e.c.Begin(ctx, other, plan, "")
		refused(t, err, aks.EConflict, "changed since the plan was made", "ask again")
	})
	t.Run("stop", func(t *testing.T) {
		e := newSimEnv(t)
		stop := aks.Operation{Kind: aks.OpClusterStop, Target: target("")}
		plan := lost(t, e, stop)
		if got := e.state(t, target("")); got != "Stopping" {
			t.Errorf("cluster after the lost response = %s, want Stopping", got)
		}
		again(t, e, stop, plan)
	})
	t.Run("server error", func(t *testing.T) {
		e := newSimEnv(t)
		create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new2"}, Location: "westeurope", NodeCount: intp(1)}
		plan, err := e.c.Plan(ctx, create)
		if err != nil {
			t.Fatal(err)
		}
		e.cloud.SetFaults(sim.Faults{Seed: 3, ServerError: 1})
		_, err = e.c.Begin(ctx, create, plan, "")
		e.cloud.SetFaults(sim.Faults{})
		unknown(t, err)
		// Nothing was applied, so sending it again is right.
		if got := e.state(t, create.Target); got != "NotFound" {
			t.Fatalf("cluster after server errors = %s, want NotFound", got)
		}
		if _, err := e.c.Begin(ctx, create, plan, ""); err != nil {
			t.Fatalf("Begin again: %v", err)
		}
	})
	t.Run("created by someone else", func(t *testing.T) {
		e := newSimEnv(t)
		create := aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "new3"}, Location: "westeurope", NodeCount: intp(1)}
		plan, err := e.c.Plan(ctx, create)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.cloud.Seed(ctx, testRG, "new3", "westeurope"); err != nil {
			t.Fatal(err)
		}
		_, err = e.c.Begin(ctx, create, plan, "")
		refused(t, err, aks.EConflict, "cluster rg-aks/new3 exists now", "another name")
	})
}

// Server errors while following an operation are passing troubles, never its outcome.
func TestFollowThroughServerErrors(t *testing.T) {
	e := newSimEnv(t)
	ctx := context.Background()
	o := e.begin(t, aks.Operation{Kind: aks.OpPoolScale, Target: target("np1"), NodeCount: intp(2)})

	e.cloud.SetFaults(sim.Faults{Seed: 5, ServerError: 1})
	done, _, err := o.Poll(ctx)
	var az *aks.AzureError
	if done || !errors.As(err, &az) || az.StatusCode != 500 {
		t.Fatalf("Poll during server errors = %v, %v; want not done and AzureError 500", done, err)
	}
	e.cloud.SetFaults(sim.Faults{})
	e.clock.advance(time.Hour)
	pollToEnd(t, o)

	// The result's final GET fails: the outcome is not known yet, and asking again works.
	e.cloud.SetFaults(sim.Faults{Seed: 5, ServerError: 1})
	err = o.Result(ctx)
	if errors.As(err, &az) || aks.ErrorCode(err) != aks.EUnavailable {
		t.Fatalf("Result during server errors = %v, want EUnavailable and no AzureError", err)
	}
	e.cloud.SetFaults(sim.Faults{})
	if err := o.Result(ctx); err != nil {
		t.Fatalf("Result afterwards: %v", err)
	}
}

// A queued pool add whose pool another job made meanwhile, with another node count, is not
// applied: the engine must not report it as done without a request.
func TestAppliedPoolAddNeedsThePoolItAsksFor(t *testing.T) {
	e := newSimEnv(t)
	ctx := context.Background()
	two, three := 2, 3
	add := func(n *int) aks.Operation {
		return aks.Operation{Kind: aks.OpPoolAdd, Target: aks.Target{ResourceGroup: testRG, Cluster: "demo", Pool: "extra"},
			NodeCount: n, VMSize: "Standard_DS2_v2", Mode: "User"}
	}
	plan, err := e.c.Plan(ctx, add(&three))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.Applied(ctx, add(&three), plan); err != nil || ok {
		t.Fatalf("Applied before the pool exists: %v, %v; want false", ok, err)
	}
	o := e.begin(t, add(&two))
	e.clock.advance(time.Hour)
	pollToEnd(t, o)
	if ok, err := e.c.Applied(ctx, add(&three), plan); err != nil || ok {
		t.Errorf("Applied of an add of 3 nodes on a pool made with 2: %v, %v; want false", ok, err)
	}
	if ok, err := e.c.Applied(ctx, add(&two), plan); err != nil || !ok {
		t.Errorf("Applied of the add that made the pool: %v, %v; want true", ok, err)
	}
	bigger := add(&two)
	bigger.VMSize = "Standard_D4s_v5"
	if ok, err := e.c.Applied(ctx, bigger, plan); err != nil || ok {
		t.Errorf("Applied of an add of another VM size: %v, %v; want false", ok, err)
	}
}

// The same for a create: a cluster of that name made with another node count is not applied.
func TestAppliedClusterCreateNeedsTheClusterItAsksFor(t *testing.T) {
	e := newSimEnv(t)
	ctx := context.Background()
	two, three := 2, 3
	create := func(n *int) aks.Operation {
		return aks.Operation{Kind: aks.OpClusterCreate, Target: aks.Target{ResourceGroup: testRG, Cluster: "other"},
			Location: "westeurope", NodeCount: n}
	}
	plan, err := e.c.Plan(ctx, create(&three))
	if err != nil {
		t.Fatal(err)
	}
	o := e.begin(t, create(&two))
	e.clock.advance(time.Hour)
	pollToEnd(t, o)
	if ok, err := e.c.Applied(ctx, create(&three), plan); err != nil || ok {
		t.Errorf("Applied of a create of 3 nodes on a cluster made with 2: %v, %v; want false", ok, err)
	}
	if ok, err := e.c.Applied(ctx, create(&two), plan); err != nil || !ok {
		t.Errorf("Applied of the create that made the cluster: %v, %v; want true", ok, err)
	}
	elsewhere := create(&two)
	elsewhere.Location = "eastus"
	if ok, err := e.c.Applied(ctx, elsewhere, plan); err != nil || ok {
		t.Errorf("Applied of a create in another region: %v, %v; want false", ok, err)
	}
}
