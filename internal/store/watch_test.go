package store

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

func openTempStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "aksbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A receiver that does not read holds up no writer: one job's changes are coalesced into its
// latest, and a receiver far behind gets one Resync instead of the backlog.
func TestWatchJobsSlowReceiver(t *testing.T) {
	s := openTempStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := s.WatchJobs(ctx)
	// Enough writes that the goroutine sending to ch blocks (ch is unbuffered), then more.
	j, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		j.ProvisioningState = strconv.Itoa(i)
		if j, err = s.UpdateJob(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	j.State = aks.StateRunning
	if j, err = s.UpdateJob(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	// At most: the first change (already taken by the sender), then one coalesced change.
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
		t.Fatalf("%d changes for 7 writes of one job not read meanwhile: %v; want them coalesced", len(got), got)
	}

	// Many jobs while nobody reads: a Resync replaces the backlog.
	var jobs []aks.Job
	for i := range aks.MaxPendingChanges + 10 {
		nj, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued, Channel: strconv.Itoa(i)}, aks.Event{Kind: aks.EventCreated})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, nj)
	}
	n := 0
	for {
		select {
		case c := <-ch:
			n++
			if c.Resync {
				if n > 3 {
					t.Fatalf("Resync came after %d changes", n)
				}
				return
			}
		case <-ctx.Done():
			t.Fatalf("no Resync after %d changes not read (%d read)", len(jobs), n)
		}
	}
}

func TestClaimsArePruned(t *testing.T) {
	s := openTempStore(t)
	ctx := context.Background()
	for i := range 5 {
		if ok, err := s.Claim(ctx, "old-"+strconv.Itoa(i), time.Millisecond); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	s.claims.last = time.Time{} // a prune is due
	if ok, err := s.Claim(ctx, "new", time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	var keys []string
	if err := s.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketClaims).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "new" {
		t.Fatalf("claims after a prune: %v, want [new]", keys)
	}
}
