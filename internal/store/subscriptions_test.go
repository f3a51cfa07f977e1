package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

const defaultSub = "11111111-1111-1111-1111-111111111111"

// writeSchema2File writes f as aksbot wrote it at schema version 2, before targets named their
// subscription: meta, jobs, an active index keyed "state\x00rg/cluster", events, refs and the
// audit log.
func writeSchema2File(t *testing.T, path string, f olderFile) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "jobs", "active", "events", "refs", "audit"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("2")); err != nil {
			return err
		}
		for _, job := range f.jobs {
			if job.Op.Target.Subscription != "" {
				return fmt.Errorf("job %s names a subscription: not the schema 2 layout", job.ID)
			}
			seq, err := tx.Bucket([]byte("jobs")).NextSequence()
			if err != nil {
				return err
			}
			key := seqKey(seq)
			data, err := json.Marshal(job)
			if err != nil {
				return err
			}
			if err := tx.Bucket([]byte("jobs")).Put(key, data); err != nil {
				return err
			}
			if !job.State.Final() {
				old := string(job.State) + "\x00" + job.Op.Target.ResourceGroup + "/" + job.Op.Target.Cluster
				if err := tx.Bucket([]byte("active")).Put(key, []byte(old)); err != nil {
					return err
				}
			}
			eb, err := tx.Bucket([]byte("events")).CreateBucket(key)
			if err != nil {
				return err
			}
			for _, ev := range f.events[job.ID] {
				evSeq, err := eb.NextSequence()
				if err != nil {
					return err
				}
				data, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				if err := eb.Put(seqKey(evSeq), data); err != nil {
					return err
				}
				if _, err := appendAudit(tx, aks.AuditOfEvent(job, ev, ev.At)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("write schema 2 file: %v", err)
	}
}

// A file of the previous schema opens with its jobs in the default subscription: their targets
// name it, the active index is keyed by the new lane keys, and the audit finds them by it.
func TestOpenPutsOlderJobsInTheDefaultSubscription(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	f := sampleOlderFile()
	writeSchema2File(t, path, f)
	s, err := Open(path, Options{DefaultSubscription: defaultSub})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if got, want := schemaOf(t, s.DB()), fmt.Sprint(currentSchema(migrations)); got != want {
		t.Fatalf("schema after migration = %q; want %q", got, want)
	}
	for _, want := range f.jobs {
		got, err := s.Job(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Op.Target.Subscription != defaultSub || got.Plan.Subscription != defaultSub {
			t.Errorf("job %s: target %+v, plan subscription %q; want the default subscription", got.ID, got.Op.Target, got.Plan.Subscription)
		}
		want.Op.Target.Subscription, want.Plan.Subscription = defaultSub, defaultSub
		if got.Op.Target != want.Op.Target || got.State != want.State || got.Version != want.Version {
			t.Errorf("job %s changed beyond its subscription: %+v", got.ID, got)
		}
	}
	active := []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}
	newKey := defaultSub + "/rg/other"
	got, err := s.Jobs(ctx, jobs.Filter{States: active, ClusterKey: newKey})
	if err != nil || len(got) != 1 || got[0].ID != "2" {
		t.Fatalf("active jobs of lane %s = %v, %v; want job 2", newKey, ids(got), err)
	}
	var entry string
	if err := s.DB().View(func(tx *bbolt.Tx) error {
		entry = string(tx.Bucket(bucketActive).Get(seqKey(2)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if entry != string(aks.StateAwaitingApproval)+"\x00"+newKey {
		t.Errorf("active index entry of job 2 = %q; want the new lane key", entry)
	}
	recs, err := s.Audit(ctx, AuditFilter{ClusterKey: defaultSub + "/rg/demo"})
	if err != nil || len(recs) != 4 {
		t.Errorf("audit of %s/rg/demo = %d records, %v; want job 1's 4", defaultSub, len(recs), err)
	}
	// A job made now on the same cluster shares the migrated job's lane.
	fresh := newJob("rg", "other", "U3", aks.StateQueued)
	fresh.Op.Target.Subscription = defaultSub
	if fresh.Op.Target.ClusterKey() != newKey {
		t.Fatalf("new job's lane key %q != migrated %q", fresh.Op.Target.ClusterKey(), newKey)
	}
}
