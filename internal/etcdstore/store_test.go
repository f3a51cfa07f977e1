package etcdstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

// TestListingsPage: listings longer than one etcd page (256 keys) come out whole and in order.
func TestListingsPage(t *testing.T) {
	c := etcdtest.Start(t)
	s := openStore(t, newClient(t, c), "/paging/")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for w := range 10 {
		wg.Go(func() {
			for range n / 10 {
				state := aks.StateQueued
				if w%2 == 0 {
					state = aks.StateSucceeded
				}
				if _, err := s.CreateJob(ctx, aks.Job{State: state, Op: aks.Operation{Target: aks.Target{ResourceGroup: "rg", Cluster: "c" + strconv.Itoa(w%3)}}},
					aks.Event{Kind: aks.EventCreated}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.Jobs(ctx, aks.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("%d jobs listed, want %d", len(all), n)
	}
	for i, j := range all {
		if j.ID != strconv.Itoa(i+1) {
			t.Fatalf("job %d listed is %s", i, j.ID)
		}
	}
	last, err := s.Jobs(ctx, aks.Filter{Limit: 280})
	if err != nil || len(last) != 280 || last[0].ID != "21" || last[279].ID != "300" {
		t.Fatalf("Limit 280: %d jobs from %s, %v", len(last), last[0].ID, err)
	}
	queued, err := s.Jobs(ctx, aks.Filter{States: []aks.JobState{aks.StateQueued}})
	if err != nil || len(queued) != n/2 {
		t.Fatalf("queued: %d jobs, %v; want %d", len(queued), err, n/2)
	}
	if !slices.IsSortedFunc(queued, func(a, b aks.Job) int { x, _ := strconv.Atoi(a.ID); y, _ := strconv.Atoi(b.ID); return x - y }) {
		t.Fatal("queued jobs not oldest first")
	}
	recs, err := s.Audit(ctx, aks.AuditFilter{})
	if err != nil || len(recs) != n {
		t.Fatalf("audit: %d records, %v; want %d", len(recs), err, n)
	}
}

// TestProbeObserveClose: Probe is a round trip to etcd (it fails when etcd is gone), Observe
// is told each operation's time, and Close leaves the caller's client open.
func TestProbeObserveClose(t *testing.T) {
	c := etcdtest.Start(t)
	cli := newClient(t, c)
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := etcdstore.Open(ctx, cli, "/probe/", etcdstore.Options{Observe: func(op string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d > 0 {
			seen[op]++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if seen["probe"] != 1 || seen["create_job"] != 1 {
		t.Errorf("observed %v, want probe and create_job once", seen)
	}
	mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "/probe/schema"); err != nil {
		t.Fatalf("the client was closed with the store: %v", err)
	}
	c.Members()[0].Stop()
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if err := s.Probe(pctx); err == nil {
		t.Fatal("probe succeeded with etcd stopped")
	}
}

// A receiver that does not read holds up no watch: one job's changes are coalesced into its
// latest.
func TestWatchCoalescesForSlowReceiver(t *testing.T) {
	c := etcdtest.Start(t)
	s := openStore(t, newClient(t, c), "/slow/")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := s.WatchJobs(ctx)
	j, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		j.ProvisioningState = strconv.Itoa(i)
		if j, err = s.UpdateJob(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	j.State = aks.StateRunning
	if _, err = s.UpdateJob(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the watch queue them all
	var got []aks.JobChange
	for len(got) == 0 || got[len(got)-1].State != aks.StateRunning {
		select {
		case c := <-ch:
			got = append(got, c)
		case <-ctx.Done():
			t.Fatalf("changes %v: the running state never came", got)
		}
	}
	if len(got) > 3 {
		t.Fatalf("%d changes for 12 writes of one job not read meanwhile: %v; want them coalesced", len(got), got)
	}
}

// Many jobs' outboxes written at once, through two replicas' stores, as when a survivor reports
// "picked up again" for every job of a dead replica: none waits for the others long enough to
// give up (a counter compared in every commit made 300 of them retry for 10 s, and 132 fail),
// and each job's entries keep the order they were written in.
func TestOutboxWritesOfManyJobsDoNotContend(t *testing.T) {
	c := etcdtest.Start(t)
	prefix := "/outbox-many/"
	stores := []*etcdstore.Store{openStore(t, newClient(t, c), prefix), openStore(t, newClient(t, c), prefix)}
	ctx := context.Background()
	const jobs = 300
	errs := make(chan error, jobs)
	for i := range jobs {
		go func() {
			st := stores[i%2]
			job := fmt.Sprint(i + 1)
			var err error
			for n := range 2 {
				err = st.UpdateOutbox(ctx, job, func(tx aks.OutboxTx) error {
					id, err := tx.NextID()
					if err != nil {
						return err
					}
					tx.Put(aks.OutboxEntry{ID: id, Body: []byte(fmt.Sprintf("%s-%d", job, n))})
					return nil
				})
				if err != nil {
					break
				}
				st = stores[(i+1)%2] // the job's next message comes through the other replica
			}
			errs <- err
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := range jobs {
		job := fmt.Sprint(i + 1)
		_, entries, err := stores[0].OutboxState(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || string(entries[0].Body) != job+"-0" || string(entries[1].Body) != job+"-1" {
			t.Fatalf("outbox of job %s: %+v; want its two entries in the order written", job, entries)
		}
	}
	if n, err := stores[1].OutboxLen(ctx); err != nil || n != 2*jobs {
		t.Errorf("OutboxLen = %d, %v; want %d", n, err, 2*jobs)
	}
}
