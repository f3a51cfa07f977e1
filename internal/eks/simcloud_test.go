package eks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/eks/sim"
)

// These tests run the real AWS SDK against the simulated EKS over HTTP.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	sim   *sim.Sim
	url   string
	clock *clock
	c     *Client
}

// setEnv points the SDK's default configuration at the sim: the endpoints by
// AWS_ENDPOINT_URL_EKS and AWS_ENDPOINT_URL_STS, static credentials from the environment, and no
// shared files or instance metadata from the machine running the tests.
func setEnv(t *testing.T, url string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_EKS":        url,
		"AWS_ENDPOINT_URL_STS":        url,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           "AKIASIMULATEDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "simulated-secret-not-a-credential",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func newEnv(t *testing.T, o sim.Options) *env {
	t.Helper()
	ck := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	if o.Now == nil && o.Speed == 0 {
		o.Now = ck.Now
	}
	s := sim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	setEnv(t, srv.URL)
	e := &env{sim: s, url: srv.URL, clock: ck}
	e.c = e.client(t)
	return e
}

// client makes a new Client, as a restarted bot would.
func (e *env) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(t.Context(), Config{Regions: []string{"eu-west-1", "us-east-1"}, RetryMaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) mutations(t *testing.T) []sim.Request {
	t.Helper()
	var out []sim.Request
	for _, r := range e.sim.Requests() {
		if r.Mutating() {
			out = append(out, r)
		}
	}
	return out
}

func scaleWeb(n int32) NodegroupOp {
	return NodegroupOp{Kind: OpScale, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-web", DesiredSize: &n}
}

// pollToEnd polls until the operation ends, advancing the fake clock between polls.
func (e *env) pollToEnd(t *testing.T, o *Operation) {
	t.Helper()
	for range 200 {
		done, _, err := o.Poll(t.Context())
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if done {
			return
		}
		e.clock.Advance(30 * time.Second)
	}
	t.Fatal("the operation did not end")
}

func state(t *testing.T, c *Client, tg Target) string {
	t.Helper()
	s, err := c.ProvisioningState(t.Context(), tg)
	if err != nil {
		t.Fatalf("provisioning state of %s: %v", tg, err)
	}
	return s
}

var ngWeb = Target{Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-web"}

func TestEndpointFromEnvironment(t *testing.T) {
	e := newEnv(t, sim.Options{})
	if got := e.c.Endpoint("eu-west-1"); got != e.url {
		t.Fatalf("endpoint %q, want AWS_ENDPOINT_URL_EKS %q", got, e.url)
	}
	if _, err := e.c.ListClusters(t.Context(), []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	reqs := e.sim.Requests()
	if len(reqs) == 0 || reqs[0].Operation != "ListClusters" || reqs[0].Region != "us-east-1" {
		t.Fatalf("requests %+v, want ListClusters signed for us-east-1 first", reqs)
	}

	// Without the variable the SDK goes to AWS itself.
	t.Setenv("AWS_ENDPOINT_URL_EKS", "")
	c, err := New(t.Context(), Config{Regions: []string{"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoint("eu-west-1"); got != "" {
		t.Errorf("endpoint without AWS_ENDPOINT_URL_EKS = %q, want the SDK's regional default", got)
	}
}

func TestNewNeedsARegion(t *testing.T) {
	setEnv(t, "http://127.0.0.1:1")
	if _, err := New(t.Context(), Config{}); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Fatalf("New without a region: %v", err)
	}
	t.Setenv("AWS_REGION", "ap-southeast-2")
	c, err := New(t.Context(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Regions(); len(got) != 1 || got[0] != "ap-southeast-2" {
		t.Fatalf("regions %v, want the environment's", got)
	}
}

func TestScaleEndToEnd(t *testing.T) {
	e := newEnv(t, sim.Options{Speed: 1000}) // 3 minutes become 180 ms of real time
	ctx := t.Context()
	op := scaleWeb(5)
	plan, err := e.c.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ng-web: 2 -> 5 nodes, min 1, max 10"; plan.Summary != want {
		t.Fatalf("plan %q, want %q", plan.Summary, want)
	}
	o, err := e.c.Begin(ctx, op, plan, "aksbot-job-42-1")
	if err != nil {
		t.Fatal(err)
	}
	token, err := o.ResumeToken()
	if err != nil || !strings.HasPrefix(token, "update/") || o.OperationID() == "" || token != "update/"+o.OperationID() {
		t.Fatalf("resume token %q (%v), operation ID %q", token, err, o.OperationID())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		done, _, err := o.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("scale did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := o.Result(ctx); err != nil {
		t.Fatalf("result: %v", err)
	}
	ng, _ := e.sim.Nodegroup("eu-west-1", "web-prod", "ng-web")
	if ng.Desired != 5 || ng.Min != 1 || ng.Max != 10 || ng.Status != "ACTIVE" {
		t.Errorf("node group after scale %+v", ng)
	}
	if s := state(t, e.c, ngWeb); s != StateSucceeded {
		t.Errorf("state after scale %q", s)
	}
	muts := e.mutations(t)
	if len(muts) != 1 || muts[0].Operation != "UpdateNodegroupConfig" || muts[0].Token != "aksbot-job-42-1" || e.sim.Mutations() != 1 {
		t.Fatalf("mutations %+v, want one UpdateNodegroupConfig carrying the job's token", muts)
	}
}

// The engine's crash windows, one restart each: a new Client stands for the restarted bot.
func TestCrashWindows(t *testing.T) {
	t.Run("stored, not sent", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		op := scaleWeb(4)
		plan, err := e.c.Plan(t.Context(), op)
		if err != nil {
			t.Fatal(err)
		}
		// Crash here. After the restart, nothing reached EKS, and reconcile finds the group
		// at rest without the change, so the request is sent (once).
		if muts := e.mutations(t); len(muts) != 0 {
			t.Fatalf("mutations before Begin: %+v", muts)
		}
		c := e.client(t)
		if s := state(t, c, ngWeb); s != StateSucceeded {
			t.Fatalf("state %q, want at rest", s)
		}
		if applied, err := c.Applied(t.Context(), op, plan); err != nil || applied {
			t.Fatalf("applied = %v, %v; want false", applied, err)
		}
		if _, err := c.Begin(t.Context(), op, plan, "aksbot-job-7-1"); err != nil {
			t.Fatal(err)
		}
		if e.sim.Mutations() != 1 {
			t.Fatalf("mutations %d, want 1", e.sim.Mutations())
		}
	})

	t.Run("sent, token not stored", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		op := scaleWeb(6)
		plan, err := e.c.Plan(t.Context(), op)
		if err != nil {
			t.Fatal(err)
		}
		first, err := e.c.Begin(t.Context(), op, plan, "aksbot-job-8-1")
		if err != nil {
			t.Fatal(err)
		}
		// Crash before the token was stored. The restarted bot sends the same request with
		// the same token: EKS answers with the same update and starts nothing new.
		c := e.client(t)
		again, err := c.Begin(t.Context(), op, plan, "aksbot-job-8-1")
		if err != nil {
			t.Fatal(err)
		}
		if again.OperationID() != first.OperationID() {
			t.Fatalf("second Begin got update %q, want the first one %q", again.OperationID(), first.OperationID())
		}
		muts := e.mutations(t)
		if len(muts) != 2 || muts[0].Replay || !muts[1].Replay || e.sim.Mutations() != 1 {
			t.Fatalf("requests %+v, mutations %d: want two requests, the second a replay, one mutation", muts, e.sim.Mutations())
		}
		// The reconcile path: in progress first, applied once it ended.
		if s := state(t, c, ngWeb); s != StateUpdating {
			t.Fatalf("state %q, want in progress", s)
		}
		if s := state(t, c, Target{Region: "eu-west-1", Cluster: "web-prod"}); s != StateUpdating {
			t.Fatalf("cluster state while a node group scales %q, want %q", s, StateUpdating)
		}
		if applied, err := c.Applied(t.Context(), op, plan); err != nil || applied {
			t.Fatalf("applied while updating = %v, %v", applied, err)
		}
		e.clock.Advance(10 * time.Minute)
		if s := state(t, c, ngWeb); s != StateSucceeded {
			t.Fatalf("state %q after the update, want %s", s, StateSucceeded)
		}
		if applied, err := c.Applied(t.Context(), op, plan); err != nil || !applied {
			t.Fatalf("applied after the update = %v, %v; want true", applied, err)
		}
		// The token names one request: the same token for another change is refused.
		if _, err := c.Begin(t.Context(), scaleWeb(7), plan, "aksbot-job-8-1"); err == nil || aks.ErrorCode(err) == aks.EUnavailable {
			t.Fatalf("reused token for another request: %v", err)
		}
	})

	t.Run("token stored", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		op := scaleWeb(3)
		plan, _ := e.c.Plan(t.Context(), op)
		o, err := e.c.Begin(t.Context(), op, plan, "aksbot-job-9-1")
		if err != nil {
			t.Fatal(err)
		}
		token, _ := o.ResumeToken()
		before := len(e.sim.Requests())
		c := e.client(t)
		r, err := c.Resume(t.Context(), op, token)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.sim.Requests()); n != before {
			t.Fatalf("Resume sent %d requests, want none", n-before)
		}
		if r.OperationID() != o.OperationID() {
			t.Fatalf("resumed update %q, want %q", r.OperationID(), o.OperationID())
		}
		e.pollToEnd(t, r)
		if err := r.Result(t.Context()); err != nil {
			t.Fatal(err)
		}
		if ng, _ := e.sim.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 3 {
			t.Fatalf("desired %d, want 3", ng.Desired)
		}
		if e.sim.Mutations() != 1 {
			t.Fatalf("mutations %d, want 1", e.sim.Mutations())
		}
	})

	t.Run("ended", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		op := scaleWeb(3)
		plan, _ := e.c.Plan(t.Context(), op)
		o, err := e.c.Begin(t.Context(), op, plan, "aksbot-job-10-1")
		if err != nil {
			t.Fatal(err)
		}
		token, _ := o.ResumeToken()
		e.clock.Advance(time.Hour)
		c := e.client(t)
		r, err := c.Resume(t.Context(), op, token)
		if err != nil {
			t.Fatal(err)
		}
		done, _, err := r.Poll(t.Context())
		if err != nil || !done {
			t.Fatalf("poll of an ended update: done %v, %v", done, err)
		}
		if err := r.Result(t.Context()); err != nil {
			t.Fatal(err)
		}
		if e.sim.Mutations() != 1 {
			t.Fatalf("mutations %d, want 1", e.sim.Mutations())
		}
	})

	t.Run("resume token of another kind", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		if _, err := e.c.Resume(t.Context(), scaleWeb(3), "delete"); err == nil {
			t.Fatal("a delete token resumed a scale")
		}
	})
}

func TestBusyNodegroup(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	op := scaleWeb(4)
	plan, _ := e.c.Plan(ctx, op)
	if _, err := e.c.Begin(ctx, op, plan, "aksbot-job-1-1"); err != nil {
		t.Fatal(err)
	}
	up := NodegroupOp{Kind: OpUpgrade, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-web"}
	_, err := e.c.Begin(ctx, up, aks.Plan{}, "aksbot-job-2-1")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Begin on a busy node group: %v, want ErrBusy", err)
	}
	var az *aks.AzureError
	if !errors.As(err, &az) || az.StatusCode != http.StatusConflict || az.Code != "ResourceInUseException" ||
		!strings.Contains(az.Message, "in progress") {
		t.Fatalf("busy error carries %+v, want a 409 ResourceInUseException saying in progress", az)
	}
	if errors.Is(err, ErrExists) {
		t.Fatal("busy is not exists")
	}
	if e.sim.Mutations() != 1 {
		t.Fatalf("mutations %d, want 1", e.sim.Mutations())
	}
	// Once the scale ended, the same request goes through.
	e.clock.Advance(10 * time.Minute)
	if _, err := e.c.Begin(ctx, up, aks.Plan{}, "aksbot-job-2-1"); err != nil {
		t.Fatalf("Begin after the node group came to rest: %v", err)
	}
}

func newNodegroup() NodegroupOp {
	return NodegroupOp{Kind: OpCreate, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-gpu",
		NodeRole: "arn:aws:iam::111122223333:role/eks-node", Subnets: []string{"subnet-0a1b2c3d"},
		InstanceTypes: []string{"g5.xlarge"}, MinSize: i32(0), DesiredSize: i32(1), MaxSize: i32(3),
		Labels: map[string]string{"gpu": "true"}, Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NO_SCHEDULE"}}}
}

func TestCreateExistingIsArrived(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	op := newNodegroup()
	plan, err := e.c.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.c.Begin(ctx, op, plan, "aksbot-job-5-1")
	if err != nil {
		t.Fatal(err)
	}
	if tk, _ := o.ResumeToken(); tk != "create" {
		t.Fatalf("resume token %q, want create", tk)
	}
	// Same token again: the same create, no second node group.
	if _, err := e.c.Begin(ctx, op, plan, "aksbot-job-5-1"); err != nil {
		t.Fatalf("repeated create with its token: %v", err)
	}
	// A later attempt (new token) finds the name taken: ErrExists, and reconcile sees it arrived.
	_, err = e.c.Begin(ctx, op, plan, "aksbot-job-5-2")
	if !errors.Is(err, ErrExists) || errors.Is(err, ErrBusy) {
		t.Fatalf("create of an existing name: %v, want ErrExists", err)
	}
	if s := state(t, e.c, Target{Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-gpu"}); s != StateCreating {
		t.Fatalf("state %q, want %s", s, StateCreating)
	}
	if applied, err := e.c.Applied(ctx, op, plan); err != nil || !applied {
		t.Fatalf("applied = %v, %v; want true: the node group is there", applied, err)
	}
	if e.sim.Mutations() != 1 {
		t.Fatalf("mutations %d, want 1", e.sim.Mutations())
	}
	e.pollToEnd(t, o)
	if err := o.Result(ctx); err != nil {
		t.Fatal(err)
	}
	ng, err := e.c.DescribeNodegroup(ctx, "eu-west-1", "web-prod", "ng-gpu")
	if err != nil {
		t.Fatal(err)
	}
	if ng.Status != "ACTIVE" || ng.Desired != 1 || ng.Max != 3 || ng.Labels["gpu"] != "true" ||
		len(ng.Taints) != 1 || ng.Taints[0].Key != "nvidia.com/gpu" || ng.InstanceTypes[0] != "g5.xlarge" {
		t.Fatalf("created node group %+v", ng)
	}
}

func TestUpgradeVersion(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	op := NodegroupOp{Kind: OpUpgrade, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-batch", KubernetesVersion: "1.31"}
	plan, err := e.c.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.c.Begin(ctx, op, plan, "aksbot-job-11-1")
	if err != nil {
		t.Fatal(err)
	}
	if applied, _ := e.c.Applied(ctx, op, plan); applied {
		t.Fatal("applied before the upgrade ended")
	}
	e.pollToEnd(t, o)
	if err := o.Result(ctx); err != nil {
		t.Fatal(err)
	}
	ng, _ := e.sim.Nodegroup("eu-west-1", "web-prod", "ng-batch")
	if ng.Version != "1.31" || !strings.HasPrefix(ng.ReleaseVersion, "1.31.") {
		t.Fatalf("node group after upgrade %+v", ng)
	}
	if applied, err := e.c.Applied(ctx, op, plan); err != nil || !applied {
		t.Fatalf("applied = %v, %v", applied, err)
	}
	// "Latest AMI" without a version: applied once the release moved from the planned one.
	latest := NodegroupOp{Kind: OpUpgrade, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-web"}
	plan, err = e.c.Plan(ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	o, err = e.c.Begin(ctx, latest, plan, "aksbot-job-12-1")
	if err != nil {
		t.Fatal(err)
	}
	e.pollToEnd(t, o)
	if applied, err := e.c.Applied(ctx, latest, plan); err != nil || !applied {
		t.Fatalf("latest AMI applied = %v, %v", applied, err)
	}
}

func TestDeleteUntilGone(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	op := NodegroupOp{Kind: OpDelete, Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-batch"}
	plan, err := e.c.Plan(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.c.Begin(ctx, op, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	token, _ := o.ResumeToken()
	if token != "delete" || o.OperationID() != "" {
		t.Fatalf("token %q id %q", token, o.OperationID())
	}
	target := Target{Region: "eu-west-1", Cluster: "web-prod", Nodegroup: "ng-batch"}
	if s := state(t, e.c, target); s != StateDeleting {
		t.Fatalf("state %q, want %s", s, StateDeleting)
	}
	if done, _, err := o.Poll(ctx); done || err != nil {
		t.Fatalf("poll while deleting: done %v, %v", done, err)
	}
	if applied, _ := e.c.Applied(ctx, op, plan); applied {
		t.Fatal("applied while deleting")
	}
	// A second delete while it runs is refused as busy (the reconcile case).
	if _, err := e.c.Begin(ctx, op, plan, ""); !errors.Is(err, ErrBusy) {
		t.Fatalf("delete while deleting: %v, want ErrBusy", err)
	}
	c := e.client(t)
	r, err := c.Resume(ctx, op, token)
	if err != nil {
		t.Fatal(err)
	}
	e.pollToEnd(t, r)
	if err := r.Result(ctx); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, target); s != StateNotFound {
		t.Fatalf("state %q after delete, want %s", s, StateNotFound)
	}
	if applied, err := c.Applied(ctx, op, plan); err != nil || !applied {
		t.Fatalf("applied = %v, %v", applied, err)
	}
	if _, err := c.Begin(ctx, op, plan, ""); aks.ErrorCode(err) != aks.ENotFound {
		t.Fatalf("delete of a gone node group: %v, want ENotFound", err)
	}
}

func TestFailedScaleOut(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	e.sim.SetNodeQuota("eu-west-1", 6)
	op := scaleWeb(8)
	plan, _ := e.c.Plan(ctx, op)
	o, err := e.c.Begin(ctx, op, plan, "aksbot-job-13-1")
	if err != nil {
		t.Fatal(err)
	}
	e.pollToEnd(t, o)
	err = o.Result(ctx)
	var az *aks.AzureError
	if !errors.As(err, &az) || az.Code != "AsgInstanceLaunchFailures" || !strings.Contains(az.Message, "vCPU") {
		t.Fatalf("result %v, want the update's AsgInstanceLaunchFailures", err)
	}
	if s := state(t, e.c, ngWeb); s != StateFailed {
		t.Fatalf("state %q, want %s (DEGRADED)", s, StateFailed)
	}
	if applied, _ := e.c.Applied(ctx, op, plan); applied {
		t.Fatal("a failed scale counts as applied")
	}
	ng, _ := e.c.DescribeNodegroup(ctx, "eu-west-1", "web-prod", "ng-web")
	if ng.Status != "DEGRADED" || ng.Desired != 2 || len(ng.Health) != 1 {
		t.Fatalf("node group %+v", ng)
	}
	// A degraded group takes a smaller change.
	if _, err := e.c.Begin(ctx, scaleWeb(3), aks.Plan{}, "aksbot-job-14-1"); err != nil {
		t.Fatalf("scale of a degraded group: %v", err)
	}
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	e.sim.ThrottleNext(1)
	if _, err := e.c.DescribeNodegroup(ctx, "eu-west-1", "web-prod", "ng-web"); err != nil {
		t.Fatalf("a throttled read is retried by the SDK: %v", err)
	}
	reqs := e.sim.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[0].Code != "ThrottlingException" || reqs[1].Status != 200 ||
		!strings.Contains(reqs[1].Attempt, "attempt=2") {
		t.Fatalf("requests %+v, want a 429 then a second attempt", reqs)
	}

	// A throttled mutation is retried with the same token: one change.
	e.sim.ThrottleNext(1)
	op := scaleWeb(4)
	o, err := e.c.Begin(ctx, op, aks.Plan{}, "aksbot-job-15-1")
	if err != nil {
		t.Fatal(err)
	}
	if e.sim.Mutations() != 1 {
		t.Fatalf("mutations %d", e.sim.Mutations())
	}

	// Throttling that outlasts the SDK's attempts: Poll says so (a retryable 429) and asks
	// for a growing wait.
	e.sim.ThrottleNext(100)
	_, wait1, err := o.Poll(ctx)
	var az *aks.AzureError
	if !errors.As(err, &az) || az.StatusCode != http.StatusTooManyRequests || wait1 < 5*time.Second {
		t.Fatalf("throttled poll: wait %v, %v; want a 429 and a wait of 5 s or more", wait1, err)
	}
	_, wait2, _ := o.Poll(ctx)
	if wait2 <= wait1 {
		t.Fatalf("second throttled poll waits %v, want more than %v", wait2, wait1)
	}
	e.sim.ThrottleNext(0)
	e.clock.Advance(time.Hour)
	if done, wait, err := o.Poll(ctx); !done || wait != 0 || err != nil {
		t.Fatalf("poll after throttling: done %v wait %v %v", done, wait, err)
	}
}

func TestUnreachable(t *testing.T) {
	setEnv(t, "http://127.0.0.1:1") // nothing listens on port 1
	c, err := New(t.Context(), Config{Regions: []string{"eu-west-1"}, RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = c.Plan(ctx, scaleWeb(3))
	if aks.ErrorCode(err) != aks.EUnavailable {
		t.Fatalf("plan without EKS: %v, want EUnavailable", err)
	}
}

func TestViews(t *testing.T) {
	e := newEnv(t, sim.Options{})
	ctx := t.Context()
	cls, err := e.c.ListClusters(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cls) != 2 || cls[0].Name != "web-prod" || cls[1].Name != "data-dev" || cls[1].Region != "us-east-1" {
		t.Fatalf("clusters %+v", cls)
	}
	list := RenderClusters(e.c.Regions(), cls)
	for _, want := range []string{"*EKS clusters* (2)", "web-prod  eu-west-1  1.31", "data-dev  us-east-1  1.32"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	if got := RenderClusters([]string{"sa-east-1"}, nil); got != "No EKS clusters in sa-east-1." {
		t.Errorf("empty list %q", got)
	}

	cl, err := e.c.DescribeCluster(ctx, "eu-west-1", "web-prod")
	if err != nil {
		t.Fatal(err)
	}
	detail := RenderCluster(cl)
	for _, want := range []string{"*EKS cluster web-prod* in eu-west-1", "Kubernetes version: 1.31", "Platform version: eks.12",
		"Status: ACTIVE", "Endpoint: https://", "*Node groups* (2, 5 nodes)", "ng-batch  ACTIVE  3      0..20", "ng-web    ACTIVE  2      1..10"} {
		if !strings.Contains(detail, want) {
			t.Errorf("describe lacks %q:\n%s", want, detail)
		}
	}
	ngs, err := e.c.ListNodegroups(ctx, "eu-west-1", "web-prod")
	if err != nil {
		t.Fatal(err)
	}
	nl := RenderNodegroups("web-prod", ngs)
	if !strings.Contains(nl, "• ng-batch: taints batch=true:NO_SCHEDULE") || !strings.Contains(nl, "• ng-web: labels role=web") {
		t.Errorf("node group list:\n%s", nl)
	}
	ng, err := e.c.DescribeNodegroup(ctx, "eu-west-1", "web-prod", "ng-web")
	if err != nil {
		t.Fatal(err)
	}
	one := RenderNodegroup(ng)
	for _, want := range []string{"*Node group ng-web* of cluster web-prod", "Nodes: 2 (min 1, max 10)", "Instance types: m6i.large", "AMI release: 1.31.7-20250620"} {
		if !strings.Contains(one, want) {
			t.Errorf("nodegroup describe lacks %q:\n%s", want, one)
		}
	}
	if _, err := e.c.DescribeCluster(ctx, "eu-west-1", "nope"); aks.ErrorCode(err) != aks.ENotFound {
		t.Errorf("describe of a missing cluster: %v", err)
	}
}

// A lost answer: EKS applied the first try of a mutation but the answer never came back (here a
// 503 in its place). The SDK retries with the same ClientRequestToken, so EKS answers with the
// update it already started: one change, and the operation to follow is that one.
func TestLostAnswerIsRetriedWithTheSameToken(t *testing.T) {
	ck := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	s := sim.New(sim.Options{Now: ck.Now})
	inner := s.Handler()
	var mu sync.Mutex
	lost := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := r.Method == http.MethodPost && !lost
		lost = lost || drop
		mu.Unlock()
		if drop {
			inner.ServeHTTP(httptest.NewRecorder(), r) // EKS does it; the answer is lost
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	setEnv(t, srv.URL)
	e := &env{sim: s, url: srv.URL, clock: ck}
	e.c = e.client(t)

	o, err := e.c.Begin(t.Context(), scaleWeb(6), aks.Plan{}, "aksbot-job-20-1")
	if err != nil {
		t.Fatal(err)
	}
	muts := e.mutations(t)
	if len(muts) != 2 || muts[0].Token != muts[1].Token || !muts[1].Replay || s.Mutations() != 1 {
		t.Fatalf("requests %+v, mutations %d: want the SDK's retry to replay the first", muts, s.Mutations())
	}
	e.pollToEnd(t, o)
	if ng, _ := s.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 6 {
		t.Fatalf("desired %d", ng.Desired)
	}
}

// The debug log names each request but never its credentials or signature.
func TestLogsCarryNoCredentials(t *testing.T) {
	e := newEnv(t, sim.Options{})
	var buf safeBuffer
	c, err := New(t.Context(), Config{Regions: []string{"eu-west-1"},
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ThrottleNext(1)
	if _, err := c.Begin(t.Context(), scaleWeb(3), aks.Plan{}, "aksbot-job-30-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeCluster(t.Context(), "eu-west-1", "missing"); err == nil {
		t.Fatal("a missing cluster was found")
	}
	logs := buf.String()
	if !strings.Contains(logs, "op=UpdateNodegroupConfig") || !strings.Contains(logs, "status=429") {
		t.Fatalf("the log does not show the requests:\n%s", logs)
	}
	for _, secret := range []string{"AKIASIMULATEDEXAMPLE", "simulated-secret", "Signature=", "Authorization"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
