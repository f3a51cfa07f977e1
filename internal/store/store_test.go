package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

var nonFinal = []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "aksbot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func newJob(rg, cluster, requester string, state aks.JobState) aks.Job {
	n := 3
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return aks.Job{
		State: state,
		Op: aks.Operation{
			Kind:      aks.OpPoolScale,
			Target:    aks.Target{ResourceGroup: rg, Cluster: cluster, Pool: "np1"},
			NodeCount: &n,
		},
		Plan:      aks.Plan{Summary: "np1: 1 -> 3 nodes", ScaleUp: true, FromNodes: 1, ToNodes: 3},
		Requester: aks.User{ID: requester, Name: "name of " + requester},
		Channel:   "C1",
		CreatedAt: now,
		UpdatedAt: now,
	}
}

func created(job aks.Job) aks.Event {
	return aks.Event{At: job.CreatedAt, Kind: aks.EventCreated, To: job.State, Message: "created"}
}

func mustCreate(t testing.TB, s *Store, job aks.Job) aks.Job {
	t.Helper()
	got, err := s.CreateJob(context.Background(), job, created(job))
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return got
}

func transition(t testing.TB, s *Store, job aks.Job, to aks.JobState) aks.Job {
	t.Helper()
	from := job.State
	job.State = to
	job.UpdatedAt = job.UpdatedAt.Add(time.Minute)
	got, err := s.UpdateJob(context.Background(), job, &aks.Event{At: job.UpdatedAt, Kind: aks.EventProgress, From: from, To: to, Message: string(from) + " -> " + string(to)})
	if err != nil {
		t.Fatalf("UpdateJob %s to %s: %v", job.ID, to, err)
	}
	return got
}

func ids(js []aks.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

func idNum(id string) uint64 {
	n, _ := strconv.ParseUint(id, 10, 64)
	return n
}

func TestCreateAndGet(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()

	in := newJob("rg", "demo", "U1", aks.StateAwaitingApproval)
	in.ID = "ignored"
	in.Version = 42
	first := mustCreate(t, s, in)
	second := mustCreate(t, s, in)
	if first.ID != "1" || second.ID != "2" {
		t.Fatalf("IDs = %q, %q; want 1, 2", first.ID, second.ID)
	}
	if first.Version != 1 || second.Version != 1 {
		t.Fatalf("versions = %d, %d; want 1", first.Version, second.Version)
	}

	got, err := s.Job(ctx, first.ID)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("stored job differs:\n got %+v\nwant %+v", got, first)
	}

	evs, err := s.Events(ctx, second.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := created(in)
	want.JobID, want.Seq = second.ID, 1
	if len(evs) != 1 || !reflect.DeepEqual(evs[0], want) {
		t.Fatalf("events = %+v; want [%+v]", evs, want)
	}
}

func TestCreateRefusesUnknownState(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := newJob("rg", "demo", "U1", "bogus")
	if _, err := s.CreateJob(ctx, job, created(job)); err == nil {
		t.Fatal("CreateJob with an unknown state succeeded")
	}
	all, err := s.Jobs(ctx, jobs.Filter{})
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	if len(all) != 0 {
		t.Fatalf("a refused job was stored: %+v", all)
	}
}

func TestUpdateJob(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))

	v2 := transition(t, s, job, aks.StateRunning)
	if v2.Version != 2 || v2.State != aks.StateRunning {
		t.Fatalf("after update: version %d state %s; want 2 running", v2.Version, v2.State)
	}

	// An update without an event stores the job and adds no event.
	v2.ResumeToken = "token"
	v3, err := s.UpdateJob(ctx, v2, nil)
	if err != nil {
		t.Fatalf("UpdateJob without event: %v", err)
	}
	if v3.Version != 3 {
		t.Fatalf("version = %d; want 3", v3.Version)
	}
	got, err := s.Job(ctx, job.ID)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	if !reflect.DeepEqual(got, v3) {
		t.Fatalf("stored job differs:\n got %+v\nwant %+v", got, v3)
	}
	evs, err := s.Events(ctx, job.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events; want 2 (created, running)", len(evs))
	}

	// A stale version conflicts and changes nothing.
	stale := v2
	stale.State = aks.StateFailed
	_, err = s.UpdateJob(ctx, stale, &aks.Event{Kind: aks.EventFailed, Message: "stale"})
	if !errors.Is(err, jobs.ErrConflict) {
		t.Fatalf("stale update: err = %v; want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "update job "+job.ID) {
		t.Fatalf("error %q does not say what was being done", err)
	}
	got, err = s.Job(ctx, job.ID)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	if !reflect.DeepEqual(got, v3) {
		t.Fatalf("conflicting update changed the job: %+v", got)
	}
	evs, err = s.Events(ctx, job.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs) != 2 {
		t.Fatalf("conflicting update added an event: %d events", len(evs))
	}
}

func TestUpdateJobConcurrentCAS(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateAwaitingApproval))

	const n = 16
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		winners  []int
		conflict int
		other    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := job
			j.State = aks.StateQueued
			j.Channel = fmt.Sprintf("C%d", i)
			<-start
			_, err := s.UpdateJob(ctx, j, &aks.Event{Kind: aks.EventApproved, Message: j.Channel})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, i)
			case errors.Is(err, jobs.ErrConflict):
				conflict++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()

	if len(other) > 0 {
		t.Fatalf("unexpected errors: %v", other)
	}
	if len(winners) != 1 || conflict != n-1 {
		t.Fatalf("%d winners, %d conflicts; want 1 and %d", len(winners), conflict, n-1)
	}
	got, err := s.Job(ctx, job.ID)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	if got.Version != 2 || got.Channel != fmt.Sprintf("C%d", winners[0]) {
		t.Fatalf("stored version %d channel %s; want 2 and the winner's C%d", got.Version, got.Channel, winners[0])
	}
	evs, err := s.Events(ctx, job.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs) != 2 || evs[1].Message != got.Channel {
		t.Fatalf("events = %+v; want created and the winner's", evs)
	}
}

func TestNotFound(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))

	for _, id := range []string{"2", "0", "", "abc", "01", "+1", "-1", "18446744073709551616"} {
		if _, err := s.Job(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Job(%q): err = %v; want ErrNotFound", id, err)
		}
		if _, err := s.Events(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Events(%q): err = %v; want ErrNotFound", id, err)
		}
		if _, err := s.Refs(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Refs(%q): err = %v; want ErrNotFound", id, err)
		}
		if err := s.SetRef(ctx, id, "parent", "1.2"); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("SetRef(%q): err = %v; want ErrNotFound", id, err)
		}
		j := job
		j.ID = id
		if _, err := s.UpdateJob(ctx, j, nil); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("UpdateJob(%q): err = %v; want ErrNotFound", id, err)
		}
	}
	all, err := s.Jobs(ctx, jobs.Filter{})
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	if len(all) != 1 {
		t.Fatalf("%d jobs stored; want 1", len(all))
	}
}

func TestEventsOrder(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	a := mustCreate(t, s, newJob("rg", "a", "U1", aks.StateRunning))
	b := mustCreate(t, s, newJob("rg", "b", "U1", aks.StateRunning))

	const n = 300 // past 256 so the big-endian keys, not byte-wise luck, keep the order
	// The two jobs move at once, so their events interleave in the file (and share commits).
	errs := make(chan error, 2)
	for _, j := range []aks.Job{a, b} {
		go func() {
			for i := range n {
				var err error
				j, err = s.UpdateJob(ctx, j, &aks.Event{Kind: aks.EventProgress, Message: fmt.Sprintf("%s-%d", j.ID, i)})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("UpdateJob: %v", err)
		}
	}
	for _, j := range []aks.Job{a, b} {
		evs, err := s.Events(ctx, j.ID)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(evs) != n+1 {
			t.Fatalf("job %s: %d events; want %d", j.ID, len(evs), n+1)
		}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) || ev.JobID != j.ID {
				t.Fatalf("job %s event %d: seq %d job %q", j.ID, i, ev.Seq, ev.JobID)
			}
			if i > 0 && ev.Message != fmt.Sprintf("%s-%d", j.ID, i-1) {
				t.Fatalf("job %s event %d: message %q out of order", j.ID, i, ev.Message)
			}
		}
	}
}

func TestRefs(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	a := mustCreate(t, s, newJob("rg", "a", "U1", aks.StateQueued))
	b := mustCreate(t, s, newJob("rg", "b", "U1", aks.StateQueued))

	refs, err := s.Refs(ctx, a.ID)
	if err != nil {
		t.Fatalf("Refs: %v", err)
	}
	if refs == nil || len(refs) != 0 {
		t.Fatalf("refs of a new job = %#v; want an empty map", refs)
	}
	for _, r := range [][3]string{{a.ID, "parent", "111.1"}, {a.ID, "approval", "222.2"}, {b.ID, "parent", "333.3"}, {a.ID, "parent", "444.4"}} {
		if err := s.SetRef(ctx, r[0], r[1], r[2]); err != nil {
			t.Fatalf("SetRef%v: %v", r, err)
		}
	}
	if err := s.SetRef(ctx, a.ID, "", "x"); err == nil {
		t.Fatal("SetRef with an empty name succeeded")
	}
	got, err := s.Refs(ctx, a.ID)
	if err != nil {
		t.Fatalf("Refs: %v", err)
	}
	if want := map[string]string{"parent": "444.4", "approval": "222.2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("refs of a = %v; want %v", got, want)
	}
	got, err = s.Refs(ctx, b.ID)
	if err != nil {
		t.Fatalf("Refs: %v", err)
	}
	if want := map[string]string{"parent": "333.3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("refs of b = %v; want %v", got, want)
	}
}

func TestJobsFilter(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	// 1 rg-a/demo U1 awaiting; 2 rg-a/demo U2 running; 3 rg-b/demo U1 succeeded;
	// 4 RG-A/Demo U1 queued; 5 rg-b/other U2 failed; 6 rg-a/demo U1 succeeded.
	for _, j := range []aks.Job{
		newJob("rg-a", "demo", "U1", aks.StateAwaitingApproval),
		newJob("rg-a", "demo", "U2", aks.StateRunning),
		newJob("rg-b", "demo", "U1", aks.StateSucceeded),
		newJob("RG-A", "Demo", "U1", aks.StateQueued),
		newJob("rg-b", "other", "U2", aks.StateFailed),
		newJob("rg-a", "demo", "U1", aks.StateSucceeded),
	} {
		mustCreate(t, s, j)
	}
	cases := []struct {
		name string
		f    jobs.Filter
		want []string
	}{
		{"all", jobs.Filter{}, []string{"1", "2", "3", "4", "5", "6"}},
		{"limit keeps the newest", jobs.Filter{Limit: 2}, []string{"5", "6"}},
		{"limit above count", jobs.Filter{Limit: 10}, []string{"1", "2", "3", "4", "5", "6"}},
		{"non-final", jobs.Filter{States: nonFinal}, []string{"1", "2", "4"}},
		{"non-final limited", jobs.Filter{States: nonFinal, Limit: 1}, []string{"4"}},
		{"one active state", jobs.Filter{States: []aks.JobState{aks.StateRunning}}, []string{"2"}},
		{"final", jobs.Filter{States: []aks.JobState{aks.StateSucceeded, aks.StateFailed}}, []string{"3", "5", "6"}},
		{"mixed states", jobs.Filter{States: []aks.JobState{aks.StateQueued, aks.StateFailed}}, []string{"4", "5"}},
		{"cluster key folds case", jobs.Filter{ClusterKey: "rg-a/demo"}, []string{"1", "2", "4", "6"}},
		{"cluster and active", jobs.Filter{ClusterKey: "rg-a/demo", States: nonFinal}, []string{"1", "2", "4"}},
		{"requester", jobs.Filter{Requester: "U2"}, []string{"2", "5"}},
		{"requester, cluster, limit", jobs.Filter{Requester: "U1", ClusterKey: "rg-a/demo", Limit: 2}, []string{"4", "6"}},
		{"no match", jobs.Filter{ClusterKey: "rg-c/demo"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Jobs(ctx, c.f)
			if err != nil {
				t.Fatalf("Jobs: %v", err)
			}
			if !slices.Equal(ids(got), c.want) {
				t.Fatalf("Jobs(%+v) = %v; want %v", c.f, ids(got), c.want)
			}
		})
	}
	if _, err := s.Jobs(ctx, jobs.Filter{Limit: -1}); err == nil {
		t.Fatal("Jobs with a negative limit succeeded")
	}
}

// activeIndex returns the job IDs and states the active index holds.
func activeIndex(t *testing.T, s *Store) map[string]aks.JobState {
	t.Helper()
	out := map[string]aks.JobState{}
	err := s.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketActive).ForEach(func(k, v []byte) error {
			job, err := getJob(tx, k)
			if err != nil {
				return err
			}
			state, cluster := splitActive(v)
			if cluster != job.Op.Target.ClusterKey() {
				t.Errorf("active index holds cluster %q for job %s of %s", cluster, job.ID, job.Op.Target.ClusterKey())
			}
			out[job.ID] = state
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read active index: %v", err)
	}
	return out
}

// TestActiveIndexThroughTransitions drives jobs through random legal transitions and checks
// after each step that the index holds exactly the non-final jobs and that every filter agrees
// with a model kept in memory.
func TestActiveIndexThroughTransitions(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	next := map[aks.JobState][]aks.JobState{
		aks.StateAwaitingApproval: {aks.StateQueued, aks.StateDenied, aks.StateExpired, aks.StateCancelled, aks.StateAwaitingApproval},
		aks.StateQueued:           {aks.StateRunning, aks.StateCancelled},
		aks.StateRunning:          {aks.StateRunning, aks.StateSucceeded, aks.StateFailed},
	}
	clusters := []string{"a", "b", "c"}
	model := map[string]aks.Job{}
	for step := range 200 {
		live := []string{}
		for id, j := range model {
			if !j.State.Final() {
				live = append(live, id)
			}
		}
		slices.Sort(live)
		if len(live) == 0 || rng.IntN(3) == 0 {
			j := mustCreate(t, s, newJob("rg", clusters[rng.IntN(len(clusters))], "U1", aks.StateAwaitingApproval))
			model[j.ID] = j
		} else {
			j := model[live[rng.IntN(len(live))]]
			opts := next[j.State]
			model[j.ID] = transition(t, s, j, opts[rng.IntN(len(opts))])
		}

		wantActive := map[string]aks.JobState{}
		for id, j := range model {
			if !j.State.Final() {
				wantActive[id] = j.State
			}
		}
		if got := activeIndex(t, s); !reflect.DeepEqual(got, wantActive) {
			t.Fatalf("step %d: active index = %v; want %v", step, got, wantActive)
		}
		for _, f := range []jobs.Filter{
			{States: nonFinal},
			{States: []aks.JobState{aks.StateRunning}},
			{States: nonFinal, ClusterKey: "rg/" + clusters[step%3]},
			{States: []aks.JobState{aks.StateSucceeded, aks.StateQueued}},
		} {
			got, err := s.Jobs(ctx, f)
			if err != nil {
				t.Fatalf("Jobs: %v", err)
			}
			var want []aks.Job
			for _, j := range model {
				if f.Matches(j) {
					want = append(want, j)
				}
			}
			slices.SortFunc(want, func(a, b aks.Job) int { return cmp.Compare(idNum(a.ID), idNum(b.ID)) })
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: Jobs(%+v) = %v; want %v", step, f, ids(got), ids(want))
			}
		}
	}
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	a := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	a = transition(t, s, a, aks.StateRunning)
	b := mustCreate(t, s, newJob("rg", "other", "U2", aks.StateAwaitingApproval))
	b = transition(t, s, b, aks.StateDenied)
	if err := s.SetRef(ctx, a.ID, "parent", "123.456"); err != nil {
		t.Fatalf("SetRef: %v", err)
	}
	wantEvents, err := s.Events(ctx, a.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	all, err := s.Jobs(ctx, jobs.Filter{})
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	if !reflect.DeepEqual(all, []aks.Job{a, b}) {
		t.Fatalf("after reopen jobs = %+v; want %+v", all, []aks.Job{a, b})
	}
	active, err := s.Jobs(ctx, jobs.Filter{States: nonFinal})
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	if !slices.Equal(ids(active), []string{a.ID}) {
		t.Fatalf("after reopen active jobs = %v; want [%s]", ids(active), a.ID)
	}
	evs, err := s.Events(ctx, a.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if !reflect.DeepEqual(evs, wantEvents) {
		t.Fatalf("after reopen events = %+v; want %+v", evs, wantEvents)
	}
	refs, err := s.Refs(ctx, a.ID)
	if err != nil {
		t.Fatalf("Refs: %v", err)
	}
	if refs["parent"] != "123.456" {
		t.Fatalf("after reopen refs = %v", refs)
	}
	// Sequences continue: neither job IDs nor event numbers are reused.
	c := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if c.ID != "3" {
		t.Fatalf("next job ID after reopen = %s; want 3", c.ID)
	}
	transition(t, s, a, aks.StateSucceeded)
	evs, err = s.Events(ctx, a.ID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if last := evs[len(evs)-1]; last.Seq != int64(len(wantEvents)+1) {
		t.Fatalf("next event seq after reopen = %d; want %d", last.Seq, len(wantEvents)+1)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	s2, err := Open(path, Options{})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
	if !strings.Contains(err.Error(), "another aksbot is using "+path) {
		t.Fatalf("error = %q; want it to say another aksbot is using the file", err)
	}
	if aks.ErrorCode(err) != aks.EUnavailable {
		t.Fatalf("error code = %s; want %s", aks.ErrorCode(err), aks.EUnavailable)
	}
	// Generous bound: the point is that it gives up instead of waiting forever.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func setSchema(t *testing.T, path, version string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(version))
	}); err != nil {
		t.Fatalf("set schema: %v", err)
	}
}

func schemaOf(t *testing.T, db *bbolt.DB) string {
	t.Helper()
	var v string
	if err := db.View(func(tx *bbolt.Tx) error {
		v = string(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	}); err != nil {
		t.Fatalf("read schema: %v", err)
	}
	return v
}

func TestNewSchemaVersion(t *testing.T) {
	s, _ := openTemp(t)
	if got, want := schemaOf(t, s.DB()), fmt.Sprint(currentSchema(migrations)); got != want {
		t.Fatalf("schema of a new file = %q; want %q", got, want)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	newer := fmt.Sprint(currentSchema(migrations) + 1)
	setSchema(t, path, newer)

	s2, err := Open(path, Options{})
	if err == nil {
		s2.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "schema version "+newer) {
		t.Fatalf("error = %q; want ErrNewerSchema naming version %s", err, newer)
	}
	// The refused file is left as it was, and unlocked.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("file still locked after refused Open: %v", err)
	}
	defer db.Close()
	if got := schemaOf(t, db); got != newer {
		t.Fatalf("schema after refused Open = %q; want %q", got, newer)
	}
}

func TestUnreadableSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	setSchema(t, path, "one")
	if s2, err := Open(path, Options{}); err == nil {
		s2.Close()
		t.Fatal("Open with an unreadable schema version succeeded")
	}
}

func TestMigrationHook(t *testing.T) {
	s, path := openTemp(t)
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	raw := newStore(db, path, s.log)
	defer raw.Close()

	// The file is at the current version; the hook's steps go one past it.
	cur := currentSchema(migrations)
	from, to := fmt.Sprint(cur), fmt.Sprint(cur+1)
	failing := append(slices.Clone(migrations), func(tx *bbolt.Tx, _ migrateEnv) error {
		if _, err := tx.CreateBucket([]byte("half-done")); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if err := raw.init(context.Background(), failing); err == nil || !strings.Contains(err.Error(), "migrate schema "+from+" to "+to) {
		t.Fatalf("failing migration: err = %v", err)
	}
	if got := schemaOf(t, db); got != from {
		t.Fatalf("schema after failed migration = %q; want %s", got, from)
	}

	var ran int
	steps := append(slices.Clone(migrations), func(tx *bbolt.Tx, _ migrateEnv) error {
		ran++
		if tx.Bucket([]byte("half-done")) != nil {
			return errors.New("failed migration left changes behind")
		}
		_, err := tx.CreateBucket([]byte("next-index"))
		return err
	})
	if err := raw.init(context.Background(), steps); err != nil {
		t.Fatalf("migration: %v", err)
	}
	if err := raw.init(context.Background(), steps); err != nil {
		t.Fatalf("second init: %v", err)
	}
	if ran != 1 {
		t.Fatalf("migration ran %d times; want once", ran)
	}
	if got := schemaOf(t, db); got != to {
		t.Fatalf("schema after migration = %q; want %s", got, to)
	}
	if got, err := raw.Job(context.Background(), job.ID); err != nil || got.ID != job.ID {
		t.Fatalf("job after migration: %+v, %v", got, err)
	}
}

func TestWriteFailureSaysFileCannotBeWritten(t *testing.T) {
	s, path := openTemp(t)
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A read-only handle fails every write transaction, as a read-only or full disk would.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("bbolt.Open read-only: %v", err)
	}
	ro := newStore(db, path, s.log)
	defer ro.Close()
	ctx := context.Background()

	if _, err := ro.Job(ctx, job.ID); err != nil {
		t.Fatalf("read from read-only file: %v", err)
	}
	checks := map[string]error{}
	_, checks["CreateJob"] = ro.CreateJob(ctx, job, created(job))
	_, checks["UpdateJob"] = ro.UpdateJob(ctx, job, nil)
	checks["SetRef"] = ro.SetRef(ctx, job.ID, "parent", "1")
	for op, err := range checks {
		if err == nil {
			t.Errorf("%s on a read-only file succeeded", op)
			continue
		}
		if !strings.Contains(err.Error(), "data file "+path+" cannot be written") {
			t.Errorf("%s: error %q does not say the data file cannot be written", op, err)
		}
		if aks.ErrorCode(err) != aks.EUnavailable {
			t.Errorf("%s: code %s; want %s", op, aks.ErrorCode(err), aks.EUnavailable)
		}
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	a := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	b := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if err := s.DB().Update(func(tx *bbolt.Tx) error {
		key, _ := parseID(b.ID)
		if err := tx.Bucket(bucketJobs).Put(key, []byte(`{"id":"2","version":`)); err != nil {
			return err
		}
		// A record under the wrong key is damage too.
		key, _ = parseID(a.ID)
		return tx.Bucket(bucketJobs).Put(key, []byte(`{"id":"9","version":1,"state":"queued"}`))
	}); err != nil {
		t.Fatalf("damage file: %v", err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := s.Job(ctx, id); err == nil || errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("Job(%s) of a damaged record: err = %v; want a decode error", id, err)
		}
	}
	if _, err := s.Jobs(ctx, jobs.Filter{States: nonFinal}); err == nil {
		t.Error("Jobs over damaged records succeeded")
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	job := newJob("rg", "demo", "U1", aks.StateQueued)
	if _, err := s.CreateJob(ctx, job, created(job)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateJob with a cancelled context: err = %v", err)
	}
	if _, err := s.Jobs(ctx, jobs.Filter{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Jobs with a cancelled context: err = %v", err)
	}
	all, err := s.Jobs(context.Background(), jobs.Filter{})
	if err != nil || len(all) != 0 {
		t.Fatalf("after cancelled create: jobs %v, err %v", ids(all), err)
	}
}

func FuzzDecodeJob(f *testing.F) {
	valid, err := encodeJob(func() aks.Job {
		j := newJob("rg", "demo", "U1", aks.StateRunning)
		j.ID, j.Version = "7", 3
		j.Decisions = []aks.Decision{{By: aks.User{ID: "U2"}, Approve: true}}
		j.Error = &aks.JobError{Code: "Quota", Message: "no"}
		return j
	}())
	if err != nil {
		f.Fatalf("encode seed: %v", err)
	}
	for _, seed := range []string{string(valid), "", "null", "{}", `{"id":"1","version":1,"state":"queued"}`,
		`{"id":"1","version":0,"state":"queued"}`, `{"id":"01","version":1,"state":"queued"}`,
		`{"id":"1","version":1,"state":"queued","op":{"nodeCount":"x"}}`, `[1,2]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := decodeJob(data)
		if err != nil {
			return
		}
		if err := checkJob(job); err != nil {
			t.Fatalf("decoded an invalid job: %v", err)
		}
		// What decodes must store and decode again to the same record.
		enc, err := encodeJob(job)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := decodeJob(enc)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		enc2, err := encodeJob(again)
		if err != nil {
			t.Fatalf("re-encode again: %v", err)
		}
		if string(enc) != string(enc2) {
			t.Fatalf("round trip not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// BenchmarkUpdateJob measures job state transitions (an update plus its event) per second.
// Every commit is fsync'd, so "sequential" (one caller) is bound by the disk's sync latency;
// "parallel" (many jobs moving at once, as in the engine) shows what group commit gives.
func BenchmarkUpdateJob(b *testing.B) {
	states := []aks.JobState{aks.StateRunning, aks.StateQueued}
	step := func(b *testing.B, s *Store, job aks.Job, i int) aks.Job {
		from := job.State
		job.State = states[i%2]
		job, err := s.UpdateJob(context.Background(), job, &aks.Event{Kind: aks.EventProgress, From: from, To: job.State, Message: "step"})
		if err != nil {
			b.Fatalf("UpdateJob: %v", err)
		}
		return job
	}
	b.Run("sequential", func(b *testing.B) {
		s, _ := openTemp(b)
		job := mustCreate(b, s, newJob("rg", "demo", "U1", aks.StateRunning))
		i := 0
		start := time.Now()
		for b.Loop() {
			job = step(b, s, job, i)
			i++
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "transitions/s")
	})
	b.Run("parallel", func(b *testing.B) {
		s, _ := openTemp(b)
		var n atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			job := mustCreate(b, s, newJob("rg", "demo", "U1", aks.StateRunning))
			i := 0
			for pb.Next() {
				job = step(b, s, job, i)
				i++
			}
			n.Add(int64(i))
		})
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "transitions/s")
	})
}

// TestGroupCommitSetsFailuresAside checks that a failing write in a group neither takes the
// others down with it nor leaves anything behind, and that it is run again on its own.
func TestGroupCommitSetsFailuresAside(t *testing.T) {
	s, _ := openTemp(t)
	put := func(name string) *writeReq {
		return &writeReq{done: make(chan struct{}), fn: func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists([]byte(name))
			return err
		}}
	}
	var failRuns int
	failing := &writeReq{done: make(chan struct{}), fn: func(tx *bbolt.Tx) error {
		failRuns++
		if _, err := tx.CreateBucket([]byte("partial")); err != nil {
			return err
		}
		return errors.New("refused")
	}}
	a, b := put("a"), put("b")
	s.commitGroup([]*writeReq{a, failing, b})

	for _, r := range []*writeReq{a, failing, b} {
		select {
		case <-r.done:
		default:
			t.Fatal("a write of the group was not answered")
		}
	}
	if a.err != nil || a.commit != nil || b.err != nil || b.commit != nil {
		t.Fatalf("good writes failed: %v %v %v %v", a.err, a.commit, b.err, b.commit)
	}
	if failing.err == nil || failing.err.Error() != "refused" {
		t.Fatalf("failing write: err = %v; want its own error", failing.err)
	}
	if failRuns != 2 {
		t.Fatalf("failing write ran %d times; want 2 (in the group, then alone)", failRuns)
	}
	if err := s.DB().View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("a")) == nil || tx.Bucket([]byte("b")) == nil {
			return errors.New("good writes not committed")
		}
		if tx.Bucket([]byte("partial")) != nil {
			return errors.New("failed write left changes")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentJobsEachKeepCAS moves many jobs at once, two racers per job, so that writes are
// grouped: every job must get exactly one winner and keep its own events.
func TestConcurrentJobsEachKeepCAS(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	const nJobs = 20
	var created []aks.Job
	for i := range nJobs {
		created = append(created, mustCreate(t, s, newJob("rg", fmt.Sprint("c", i), "U1", aks.StateQueued)))
	}
	wins := make([]atomic.Int32, nJobs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 2*nJobs)
	for i, job := range created {
		for racer := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := job
				j.State = aks.StateRunning
				j.ResumeToken = fmt.Sprint("racer", racer)
				<-start
				_, err := s.UpdateJob(ctx, j, &aks.Event{Kind: aks.EventStarted, Message: j.ResumeToken})
				switch {
				case err == nil:
					wins[i].Add(1)
				case !errors.Is(err, jobs.ErrConflict):
					errs <- err
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	for i, job := range created {
		if w := wins[i].Load(); w != 1 {
			t.Errorf("job %s: %d winners; want 1", job.ID, w)
		}
		got, err := s.Job(ctx, job.ID)
		if err != nil {
			t.Fatalf("Job: %v", err)
		}
		evs, err := s.Events(ctx, job.ID)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if got.Version != 2 || len(evs) != 2 || evs[1].Message != got.ResumeToken || evs[1].JobID != job.ID {
			t.Errorf("job %s: version %d, events %+v; want version 2 and the winner's event", job.ID, got.Version, evs)
		}
	}
}

func TestWriteAfterClose(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	job := newJob("rg", "demo", "U1", aks.StateQueued)
	if _, err := s.CreateJob(context.Background(), job, created(job)); !errors.Is(err, errClosed) {
		t.Fatalf("CreateJob after Close: err = %v; want errClosed", err)
	}
}

// The engine hands the stored event to the transport, which dedupes its messages by Seq: the
// caller's event must carry the number the store gave it.
func TestUpdateJobNumbersTheCallersEvent(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job, err := s.CreateJob(ctx, newJob("rg", "c", "U1", aks.StateQueued), aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(2); want <= 3; want++ {
		ev := aks.Event{Kind: aks.EventProgress}
		if job, err = s.UpdateJob(ctx, job, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Seq != want || ev.JobID != job.ID {
			t.Errorf("event after update: seq %d job %q, want seq %d job %q", ev.Seq, ev.JobID, want, job.ID)
		}
	}
}

// Entries of the active index written before it held the cluster key still select by cluster.
func TestActiveIndexWithoutClusterKey(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "aksbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mk := func(cluster string) aks.Job {
		job, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued, Op: aks.Operation{Kind: aks.OpPoolScale,
			Target: aks.Target{ResourceGroup: "rg", Cluster: cluster, Pool: "np"}}}, aks.Event{Kind: aks.EventCreated})
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	a, b := mk("a"), mk("b")
	// Rewrite b's entry the old way: the state alone.
	err = s.DB().Update(func(tx *bbolt.Tx) error {
		key, err := parseID(b.ID)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketActive).Put(key, []byte(aks.StateQueued))
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{a.Op.Target.ClusterKey(): a.ID, b.Op.Target.ClusterKey(): b.ID} {
		got, err := s.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateQueued}, ClusterKey: key})
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("jobs of %s: %v (err %v), want job %s", key, got, err, want)
		}
	}
}
