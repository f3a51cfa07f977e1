package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/eks"
	ekssim "github.com/aksbot/aksbot/internal/eks/sim"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/store"
)

// The engine with EKS: the real adapter and AWS SDK talking HTTP to the simulated EKS, which
// outlives the bot processes of a test as EKS does, and a bbolt data file per test.

type eksCloud struct {
	sim   *ekssim.Sim
	url   string
	clock *pausableClock
}

// pausableClock is the simulated EKS's clock: real time that a test can stop, so that EKS is
// surely still busy at the moment under test however slow the machine, and start again.
type pausableClock struct {
	mu    sync.Mutex
	base  time.Time // the simulated time when the clock last started
	since time.Time // the real time it last started; zero while stopped
}

func (c *pausableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		return c.base
	}
	return c.base.Add(time.Since(c.since))
}

func (c *pausableClock) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.since.IsZero() {
		c.base, c.since = c.base.Add(time.Since(c.since)), time.Time{}
	}
}

func (c *pausableClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		c.since = time.Now()
	}
}

// newEKS serves a simulated EKS whose changes take 600 ms; wrap, when given, stands between the
// SDK and it.
func newEKS(t *testing.T, wrap func(*ekssim.Sim, http.Handler) http.Handler) *eksCloud {
	t.Helper()
	const d = 600 * time.Millisecond
	clock := &pausableClock{base: time.Now(), since: time.Now()}
	s := ekssim.New(ekssim.Options{Now: clock.Now, Durations: ekssim.Durations{Config: d, Version: d, Create: d, Delete: d}})
	h := s.Handler()
	if wrap != nil {
		h = wrap(s, h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &eksCloud{sim: s, url: srv.URL, clock: clock}
}

// client makes an EKS client as a bot process does.
func (c *eksCloud) client(t *testing.T) *eks.Client {
	t.Helper()
	cl, err := eks.New(context.Background(), eks.Config{Regions: []string{"eu-west-1", "us-east-1"},
		RetryMaxBackoff: 5 * time.Millisecond, LoadOptions: ekssim.ClientOptions(c.url)})
	if err != nil {
		t.Fatalf("eks client: %v", err)
	}
	return cl
}

// startEKS starts a bot process on the data file at path whose cloud is EKS. Nothing needs
// approval: the engine's side is under test, not the policy's.
func startEKS(t *testing.T, path string, rec *recorder, c *eksCloud, opts ...func(*jobs.Config)) *harness {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	h := &harness{t: t, path: path, store: st, rec: rec}
	h.run(jobs.Config{Cloud: c.client(t).Cloud(), Policy: &rulePolicy{}}, opts...)
	return h
}

func webNodegroup(name string) aks.Target {
	return aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Cluster: "web-prod", Pool: name}
}

func scaleNodegroup(name string, n int) aks.Operation {
	return aks.Operation{Kind: aks.OpNodegroupScale, Target: webNodegroup(name), Nodegroup: &aks.NodegroupSpec{DesiredSize: &n}}
}

// waitJob waits until the stored job satisfies cond.
func (h *harness) waitJob(id, what string, cond func(aks.Job) bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		job, err := h.store.Job(context.Background(), id)
		if err != nil {
			h.t.Fatalf("job %s: %v", id, err)
		}
		if cond(job) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s: %s did not happen in 20s (%s)", id, what, job.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasToken: the job follows a cloud operation.
func hasToken(j aks.Job) bool { return j.ResumeToken != "" }

// mutations returns the requests that asked EKS for a change, answered or not.
func (c *eksCloud) mutations() []ekssim.Request {
	var out []ekssim.Request
	for _, r := range c.sim.Requests() {
		if r.Mutating() {
			out = append(out, r)
		}
	}
	return out
}

func TestEKSCrashWindows(t *testing.T) {
	create := aks.Operation{Kind: aks.OpNodegroupCreate, Target: webNodegroup("ng-gpu"),
		Nodegroup: &aks.NodegroupSpec{DesiredSize: new(1), MinSize: new(0), MaxSize: new(2),
			NodeRole: "arn:aws:iam::111122223333:role/eks-node", Subnets: []string{"subnet-0a1b2c3d"}, InstanceTypes: []string{"g5.xlarge"}}}
	del := aks.Operation{Kind: aks.OpNodegroupDelete, Target: webNodegroup("ng-batch")}
	cases := []struct {
		name  string
		crash *crashPoint
		op    aks.Operation
		// settle: let EKS finish before the new process starts, so that it finds the node group
		// at rest rather than busy.
		settle bool
		// replayed: the new process sends the request again and EKS answers with the change the
		// first one started. EKS's clock stops at the crash and starts again once the new
		// process follows that change, so it surely finds it still running.
		replayed bool
	}{
		{name: "1 stored, not yet sent (queued)", op: scaleNodegroup("ng-web", 4),
			crash: &crashPoint{after: func(what string, _ aks.Job, _ *aks.Event) bool { return what == "create" }}},
		{name: "1 stored as sending, request not sent", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{after: onEvent(aks.EventSending)}},
		{name: "2 sent, token not stored, EKS still updating", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{afterBegin: true}, replayed: true},
		{name: "2 sent, token not stored, EKS done", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{afterBegin: true}, settle: true},
		{name: "2 create sent, token not stored", op: create, crash: &crashPoint{afterBegin: true}, replayed: true},
		{name: "2 delete sent, token not stored", op: del, crash: &crashPoint{afterBegin: true}},
		{name: "3 token stored, polling", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{after: onEvent(aks.EventStarted)}},
		{name: "4 EKS finished, end not stored", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{afterDone: true}},
		{name: "4 end stored, not reported", op: scaleNodegroup("ng-web", 4), crash: &crashPoint{after: onEvent(aks.EventSucceeded)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cloud := newEKS(t, nil)
			path, rec := filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}
			if tc.replayed {
				tc.crash.onDeath = cloud.clock.pause
			}
			h := startEKS(t, path, rec, cloud, dying(tc.crash))
			job := h.submit(tc.op, alice)
			tc.crash.waitDead(t)
			deadline := time.Now().Add(15 * time.Second)
			observer := cloud.client(t).Cloud()
			for tc.settle && time.Now().Before(deadline) {
				state, err := observer.ProvisioningState(context.Background(), tc.op.Target)
				if err == nil && !aks.InProgress(state) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			h.stop()

			h2 := startEKS(t, path, rec, cloud)
			if tc.replayed {
				h2.waitJob(job.ID, "following EKS's change", hasToken)
				cloud.clock.resume()
			}
			done := h2.waitState(job.ID, aks.StateSucceeded)
			if n := cloud.sim.Mutations(); n != 1 {
				t.Errorf("EKS started %d changes, want exactly 1", n)
			}
			muts := cloud.mutations()
			switch {
			case tc.replayed:
				if len(muts) != 2 || muts[0].Token != aks.RequestToken(job) || muts[1].Token != muts[0].Token || !muts[1].Replay {
					t.Errorf("requests %+v: want the job's request twice with its token, the second answered with the first's change", muts)
				}
			case len(muts) != 1:
				t.Errorf("requests %+v: want the job's request once", muts)
			}
			if n := rec.count(job.ID, aks.EventSucceeded); n != 1 {
				t.Errorf("the end was reported %d times, want once", n)
			}
			if !done.FinalReported {
				t.Error("the final report is not recorded as delivered")
			}
			switch name := tc.op.Target.Pool; tc.op.Kind {
			case aks.OpNodegroupScale:
				if ng, _ := cloud.sim.Nodegroup("eu-west-1", "web-prod", name); ng.Desired != 4 || ng.Status != "ACTIVE" {
					t.Errorf("node group after the job: %+v, want 4 nodes", ng)
				}
				if tc.replayed && (done.OperationID == "" || done.ResumeToken != "update/"+done.OperationID) {
					t.Errorf("the job follows operation %q (token %q), want EKS's update", done.OperationID, done.ResumeToken)
				}
			case aks.OpNodegroupCreate:
				if ng, ok := cloud.sim.Nodegroup("eu-west-1", "web-prod", name); !ok || ng.Status != "ACTIVE" || ng.Desired != 1 {
					t.Errorf("node group after the job: %+v (exists %v), want it active with 1 node", ng, ok)
				}
			case aks.OpNodegroupDelete:
				if _, ok := cloud.sim.Nodegroup("eu-west-1", "web-prod", name); ok {
					t.Errorf("node group %s is still there", name)
				}
			}
		})
	}
}

// aroundFirstBegin runs before right before the job's first request and after right after it.
type aroundFirstBegin struct {
	jobs.Cloud
	once          sync.Once
	before, after func()
}

func (a *aroundFirstBegin) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, token string) (jobs.Operation, error) {
	first := false
	a.once.Do(func() { first = true; a.before() })
	o, err := a.Cloud.Begin(ctx, op, plan, token)
	if first {
		a.after()
	}
	return o, err
}

// changeOutside starts op as someone outside the bot would (the AWS console).
func changeOutside(c aks.Cloud, op aks.Operation) error {
	plan, err := c.Plan(context.Background(), op)
	if err != nil {
		return err
	}
	_, err = c.Begin(context.Background(), op, plan, "console-"+op.Target.Pool)
	return err
}

func TestEKSBusyNodegroupWaits(t *testing.T) {
	t.Run("EKS refuses the request: ResourceInUseException", func(t *testing.T) {
		cloud := newEKS(t, nil)
		outside := cloud.client(t).Cloud()
		// Someone scales the node group with the AWS console between the job's last look and
		// its request; EKS's clock stands still until that request was answered.
		startOutside := func() {
			cloud.clock.pause()
			if err := changeOutside(outside, scaleNodegroup("ng-web", 3)); err != nil {
				t.Errorf("start the outside update: %v", err)
			}
		}
		h := startEKS(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, cloud, func(c *jobs.Config) {
			c.Cloud = &aroundFirstBegin{Cloud: c.Cloud, before: startOutside, after: cloud.clock.resume}
		})
		job := h.submit(scaleNodegroup("ng-web", 5), alice)
		h.waitState(job.ID, aks.StateSucceeded)
		if n := h.rec.count(job.ID, aks.EventBusy); n != 1 {
			t.Errorf("busy reported %d times, want once", n)
		}
		if msgs := h.rec.messages(job.ID, aks.EventBusy); len(msgs) != 1 || !strings.Contains(msgs[0], "EKS says another operation is in progress on web-prod") {
			t.Errorf("busy message %q", msgs)
		}
		// Without history, the estimate is EKS's usual range, not AKS's.
		if msgs := h.rec.messages(job.ID, aks.EventStarted); len(msgs) != 1 || !strings.Contains(msgs[0], "Started in EKS") || !strings.Contains(msgs[0], "EKS usually needs 2-5 minutes") {
			t.Errorf("started message %q, want it to name EKS and its usual duration", msgs)
		}
		var refused, accepted int
		for _, r := range cloud.mutations() {
			if r.Token != aks.RequestToken(job) {
				continue
			}
			switch {
			case r.Status == http.StatusConflict && r.Code == "ResourceInUseException":
				refused++
			case r.Status == http.StatusOK && !r.Replay:
				accepted++
			}
		}
		if refused == 0 || accepted != 1 || cloud.sim.Mutations() != 2 {
			t.Errorf("the job's requests: %d refused as busy, %d accepted; %d changes in all: want some refused, then one, besides the outside one",
				refused, accepted, cloud.sim.Mutations())
		}
		if ng, _ := cloud.sim.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 5 {
			t.Errorf("ng-web has %d nodes, want 5", ng.Desired)
		}
	})

	t.Run("another node group of the cluster is busy before the start", func(t *testing.T) {
		cloud := newEKS(t, nil)
		cloud.clock.pause() // until the job said it waits
		if err := changeOutside(cloud.client(t).Cloud(), scaleNodegroup("ng-batch", 1)); err != nil {
			t.Fatal(err)
		}
		h := startEKS(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, cloud)
		job := h.submit(scaleNodegroup("ng-web", 3), alice)
		h.waitJob(job.ID, "the busy report", func(aks.Job) bool { return h.rec.count(job.ID, aks.EventBusy) > 0 })
		cloud.clock.resume()
		h.waitState(job.ID, aks.StateSucceeded)
		if msgs := h.rec.messages(job.ID, aks.EventBusy); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "Waiting: web-prod is busy in EKS") {
			t.Errorf("busy messages %q, want one saying the job waits", msgs)
		}
		if muts := cloud.mutations(); len(muts) != 2 || muts[1].Status != http.StatusOK {
			t.Errorf("requests %+v: want the outside one and the job's, none refused", muts)
		}
	})
}

// A create whose answer was lost, sent again after EKS forgot its token: EKS says the node group
// exists, which is the job's own, so the job follows it instead of failing.
func TestEKSLostCreateIsReconciled(t *testing.T) {
	var lost atomic.Bool
	cloud := newEKS(t, func(s *ekssim.Sim, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/node-groups") && lost.CompareAndSwap(false, true) {
				h.ServeHTTP(httptest.NewRecorder(), r) // EKS creates the node group ...
				s.ForgetTokens()                       // ... and will not know the request again
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	h := startEKS(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, cloud)
	op := aks.Operation{Kind: aks.OpNodegroupCreate, Target: webNodegroup("ng-new"),
		Nodegroup: &aks.NodegroupSpec{NodeRole: "arn:aws:iam::111122223333:role/eks-node", Subnets: []string{"subnet-0a1b2c3d"}}}
	job := h.submit(op, alice)
	done := h.waitState(job.ID, aks.StateSucceeded)
	exists := 0
	for _, r := range cloud.mutations() {
		if r.Code == "ResourceInUseException" {
			exists++
		}
	}
	if exists == 0 || cloud.sim.Mutations() != 1 {
		t.Errorf("requests %+v: want EKS to have said the node group exists, and one create", cloud.mutations())
	}
	if ng, ok := cloud.sim.Nodegroup("eu-west-1", "web-prod", "ng-new"); !ok || ng.Status != "ACTIVE" {
		t.Errorf("node group %+v (exists %v), want it active", ng, ok)
	}
	if done.Error != nil {
		t.Errorf("the job carries an error: %+v", done.Error)
	}
}

func TestEKSFailedUpdateFailsTheJob(t *testing.T) {
	cloud := newEKS(t, nil)
	cloud.sim.FailNextUpdate("eu-west-1", "web-prod", "ng-web", "NodeCreationFailure", "Instances failed to join the kubernetes cluster")
	h := startEKS(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, cloud)
	job := h.submit(scaleNodegroup("ng-web", 4), alice)
	failed := h.waitState(job.ID, aks.StateFailed)
	if e := failed.Error; e == nil || e.Code != "NodeCreationFailure" || !strings.Contains(e.Message, "failed to join") ||
		!strings.Contains(e.Hint, "/eks describe web-prod --region eu-west-1") {
		t.Fatalf("job error %+v, want EKS's code and message and a hint naming /eks describe", failed.Error)
	}
	if msgs := h.rec.messages(job.ID, aks.EventFailed); len(msgs) != 1 || !strings.Contains(msgs[0], "EKS said NodeCreationFailure") {
		t.Errorf("final message %q", msgs)
	}
}

// After a crash before the token was stored, the repeated request gives the job EKS's update to
// follow, so a failure is reported with EKS's own code, not only the node group's state.
func TestEKSCrashThenFailedUpdateKeepsEKSCode(t *testing.T) {
	cloud := newEKS(t, nil)
	cloud.sim.FailNextUpdate("eu-west-1", "web-prod", "ng-web", "NodeCreationFailure", "Instances failed to join the kubernetes cluster")
	path, rec, crash := filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, &crashPoint{afterBegin: true, onDeath: cloud.clock.pause}
	h := startEKS(t, path, rec, cloud, dying(crash))
	job := h.submit(scaleNodegroup("ng-web", 4), alice)
	crash.waitDead(t)
	h.stop()

	h2 := startEKS(t, path, rec, cloud)
	h2.waitJob(job.ID, "following EKS's update", hasToken)
	cloud.clock.resume()
	failed := h2.waitState(job.ID, aks.StateFailed)
	if e := failed.Error; e == nil || e.Code != "NodeCreationFailure" {
		t.Fatalf("job error %+v, want EKS's NodeCreationFailure", failed.Error)
	}
	if n := rec.count(job.ID, aks.EventFailed); n != 1 || cloud.sim.Mutations() != 1 {
		t.Errorf("failure reported %d times, %d changes in EKS: want 1 and 1", n, cloud.sim.Mutations())
	}
}

// EKS applies the scale, but every answer to it is lost (the connection drops after the request
// arrived, also on the SDK's retries with the same token): the job must not fail while the change
// runs. It looks at the node group, sends the request again with its token, gets the update EKS
// started for it, and succeeds, with one change in EKS.
func TestEKSLostAnswersAreReconciled(t *testing.T) {
	var dropping atomic.Bool
	dropping.Store(true)
	cloud := newEKS(t, func(_ *ekssim.Sim, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/update-config") && dropping.Load() {
				h.ServeHTTP(httptest.NewRecorder(), r) // EKS acts on it ...
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close() // ... and its answer never arrives
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	h := startEKS(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, cloud)
	job := h.submit(scaleNodegroup("ng-web", 6), alice)
	h.waitJob(job.ID, "the request to be sent", func(aks.Job) bool { return len(cloud.mutations()) > 0 })
	// The SDK's tries are over within milliseconds; after that the answers come through again.
	h.waitJob(job.ID, "the SDK's tries to end", func(j aks.Job) bool {
		return len(cloud.mutations()) >= 3 || j.State.Final()
	})
	dropping.Store(false)
	done := h.waitState(job.ID, aks.StateSucceeded)
	if done.Error != nil {
		t.Errorf("job ended with %+v", done.Error)
	}
	if n := cloud.sim.Mutations(); n != 1 {
		t.Errorf("EKS made %d changes, want 1", n)
	}
	for _, r := range cloud.mutations() {
		if r.Token != aks.RequestToken(job) {
			t.Errorf("a request carried token %q, want the job's %q", r.Token, aks.RequestToken(job))
		}
	}
	if ng, _ := cloud.sim.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 6 {
		t.Errorf("ng-web has %d nodes, want 6", ng.Desired)
	}
	if n := h.rec.count(job.ID, aks.EventSucceeded); n != 1 {
		t.Errorf("the end was reported %d times", n)
	}
}
