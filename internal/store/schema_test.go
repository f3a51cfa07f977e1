package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// olderFile is what an older aksbot left in its data file.
type olderFile struct {
	jobs   []aks.Job
	events map[string][]aks.Event
	refs   map[string]map[string]string
}

// writeOlderFile writes f with raw bbolt in the schema 1 layout (jobs, active, events, refs; no
// audit log). recordVersion false leaves out the meta bucket too, as files did before they
// recorded their version. damaged adds an undecodable event to the first job.
func writeOlderFile(t *testing.T, path string, f olderFile, recordVersion, damaged bool) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		if recordVersion {
			meta, err := tx.CreateBucket([]byte("meta"))
			if err != nil {
				return err
			}
			if err := meta.Put([]byte("schema"), []byte("1")); err != nil {
				return err
			}
		}
		jb, err := tx.CreateBucket([]byte("jobs"))
		if err != nil {
			return err
		}
		active, err := tx.CreateBucket([]byte("active"))
		if err != nil {
			return err
		}
		events, err := tx.CreateBucket([]byte("events"))
		if err != nil {
			return err
		}
		refs, err := tx.CreateBucket([]byte("refs"))
		if err != nil {
			return err
		}
		for i, job := range f.jobs {
			seq, err := jb.NextSequence()
			if err != nil {
				return err
			}
			key := seqKey(seq)
			data, err := json.Marshal(job)
			if err != nil {
				return err
			}
			if err := jb.Put(key, data); err != nil {
				return err
			}
			if !job.State.Final() {
				if err := active.Put(key, []byte(job.State)); err != nil {
					return err
				}
			}
			eb, err := events.CreateBucket(key)
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
			}
			if damaged && i == 0 {
				evSeq, err := eb.NextSequence()
				if err != nil {
					return err
				}
				if err := eb.Put(seqKey(evSeq), []byte(`{"jobId":`)); err != nil {
					return err
				}
			}
			if r := f.refs[job.ID]; r != nil {
				rb, err := refs.CreateBucket(key)
				if err != nil {
					return err
				}
				for k, v := range r {
					if err := rb.Put([]byte(k), []byte(v)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("write older file: %v", err)
	}
}

func sampleOlderFile() olderFile {
	t0 := time.Date(2025, 2, 1, 9, 0, 0, 0, time.UTC)
	a := newJob("rg", "demo", "U1", aks.StateSucceeded)
	a.ID, a.Version, a.Rule, a.OperationID = "1", 4, "default", "op-a"
	b := newJob("rg", "other", "U2", aks.StateAwaitingApproval)
	b.ID, b.Version = "2", 1
	b.CreatedAt = t0.Add(30 * time.Minute)
	ev := func(job string, seq int64, at time.Duration, kind aks.EventKind, actor string, to aks.JobState) aks.Event {
		return aks.Event{JobID: job, Seq: seq, At: t0.Add(at), Kind: kind, Actor: aks.User{ID: actor},
			To: to, Message: fmt.Sprint(kind, " ", job)}
	}
	return olderFile{
		jobs: []aks.Job{a, b},
		events: map[string][]aks.Event{
			"1": {
				ev("1", 1, 0, aks.EventCreated, "", aks.StateQueued),
				ev("1", 2, time.Minute, aks.EventStarted, "", aks.StateRunning),
				ev("1", 3, 2*time.Minute, aks.EventSlow, "", ""),
				ev("1", 4, time.Hour, aks.EventSucceeded, "", aks.StateSucceeded),
			},
			"2": {ev("2", 1, 30*time.Minute, aks.EventCreated, "", aks.StateAwaitingApproval)},
		},
		refs: map[string]map[string]string{"1": {"parent": "111.1"}},
	}
}

// checkMigrated opens the older file with Open and checks that everything in it is intact, that
// the audit log holds its events in time order, and that the version was bumped.
func checkMigrated(t *testing.T, path string, f olderFile) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open older file: %v", err)
	}
	defer s.Close()
	ctx := context.Background()

	if got, want := schemaOf(t, s.DB()), fmt.Sprint(currentSchema(migrations)); got != want {
		t.Fatalf("schema after migration = %q; want %q", got, want)
	}
	for _, want := range f.jobs {
		got, err := s.Job(ctx, want.ID)
		if err != nil {
			t.Fatalf("Job %s: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("job %s after migration:\n got %+v\nwant %+v", want.ID, got, want)
		}
	}
	evs, err := s.Events(ctx, "2")
	if err != nil || !reflect.DeepEqual(evs, f.events["2"]) {
		t.Fatalf("events of job 2 after migration = %+v, %v; want %+v", evs, err, f.events["2"])
	}
	refs, err := s.Refs(ctx, "1")
	if err != nil || !reflect.DeepEqual(refs, f.refs["1"]) {
		t.Fatalf("refs of job 1 after migration = %v, %v", refs, err)
	}
	active, err := s.Jobs(ctx, jobs.Filter{States: nonFinal})
	if err != nil || len(active) != 1 || active[0].ID != "2" {
		t.Fatalf("active jobs after migration = %v, %v; want [2]", ids(active), err)
	}

	// The audit log was filled from the events, in time order (job 2 was made between job 1's
	// slow report and its end). Only the last event of a job without To gets the job's state.
	type row struct {
		job    string
		action aks.AuditAction
		state  aks.JobState
		user   string
	}
	var got []row
	for _, r := range allAudit(t, s) {
		got = append(got, row{r.JobID, r.Action, r.State, r.User.ID})
	}
	want := []row{
		{"1", aks.AuditRequested, aks.StateQueued, "U1"},
		{"1", "started", aks.StateRunning, ""},
		{"1", "slow", "", ""},
		{"2", aks.AuditRequested, aks.StateAwaitingApproval, "U2"},
		{"1", "succeeded", aks.StateSucceeded, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit log after migration:\n got %v\nwant %v", got, want)
	}

	// Sequences go on from where the older aksbot left them.
	c := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if c.ID != "3" {
		t.Fatalf("next job ID = %s; want 3", c.ID)
	}
	recs := allAudit(t, s)
	if last := recs[len(recs)-1]; last.Seq != 6 || last.JobID != "3" {
		t.Fatalf("next audit record = %+v; want seq 6 for job 3", last)
	}
}

func TestOpenMigratesSchema1File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	f := sampleOlderFile()
	writeOlderFile(t, path, f, true, false)
	checkMigrated(t, path, f)
}

// A file from before the version was recorded (no meta bucket), with a damaged event: the
// damaged record is skipped by the migration rather than stopping the upgrade.
func TestOpenMigratesUnversionedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	f := sampleOlderFile()
	writeOlderFile(t, path, f, false, true)
	checkMigrated(t, path, f)
}

// Opening a file twice migrates it once: the second Open finds it current.
func TestOpenMigratedFileAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	writeOlderFile(t, path, sampleOlderFile(), true, false)
	for range 2 {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		n := len(allAudit(t, s))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if n != 5 {
			t.Fatalf("%d audit records; want the 5 events once", n)
		}
	}
}

func TestNewerSchemaMessage(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cur := currentSchema(migrations)
	setSchema(t, path, fmt.Sprint(cur+5))
	s2, err := Open(path, Options{})
	if err == nil {
		s2.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	var ae *aks.Error
	if !errors.As(err, &ae) || !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("error %v is not an *aks.Error matching ErrNewerSchema", err)
	}
	for _, want := range []string{path, fmt.Sprint("schema version ", cur+5), fmt.Sprint("versions up to ", cur)} {
		if !strings.Contains(ae.Message, want) {
			t.Errorf("message %q does not say %q", ae.Message, want)
		}
	}
	if ae.Hint == "" || ae.Code != aks.EUnavailable {
		t.Errorf("code %s hint %q; want %s and a hint", ae.Code, ae.Hint, aks.EUnavailable)
	}
}

// TestWritesFailAfterOpen opens a current data file through a read-only descriptor: Open and
// reads work (opening a current file writes nothing), and every write fails the way a full or
// read-only disk makes it fail, with an error that says the data file cannot be written.
func TestWritesFailAfterOpen(t *testing.T) {
	s, path := openTemp(t)
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	readOnly := func(name string, _ int, perm os.FileMode) (*os.File, error) {
		return os.OpenFile(name, os.O_RDONLY, perm)
	}
	ro, err := Open(path, Options{openFile: readOnly})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer ro.Close()
	ctx := context.Background()
	if _, err := ro.Job(ctx, job.ID); err != nil {
		t.Fatalf("read: %v", err)
	}

	checks := map[string]error{}
	next := newJob("rg", "demo", "U1", aks.StateQueued)
	_, checks["CreateJob"] = ro.CreateJob(ctx, next, created(next))
	moved := job
	moved.State = aks.StateRunning
	_, checks["UpdateJob"] = ro.UpdateJob(ctx, moved, &aks.Event{Kind: aks.EventSending, To: aks.StateRunning})
	checks["SetRef"] = ro.SetRef(ctx, job.ID, "parent", "1")
	checks["AppendAudit"] = ro.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditRefused})
	checks["Probe"] = ro.Probe(ctx)
	for op, err := range checks {
		var ae *aks.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: err = %v; want an *aks.Error", op, err)
			continue
		}
		if ae.Message != "the data file "+path+" cannot be written" || ae.Code != aks.EUnavailable || ae.Hint == "" {
			t.Errorf("%s: %q (%s, hint %q); want that the data file cannot be written", op, ae.Message, ae.Code, ae.Hint)
		}
	}
	// Nothing was half-written: the job and the log are as they were.
	got, err := ro.Job(ctx, job.ID)
	if err != nil || !reflect.DeepEqual(got, job) {
		t.Fatalf("job after failed writes = %+v, %v", got, err)
	}
	if recs := allAudit(t, ro); len(recs) != 1 {
		t.Fatalf("%d audit records after failed writes; want 1", len(recs))
	}
}
