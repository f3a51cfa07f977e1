package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// rawAudit returns the audit bucket's keys and values as stored.
func rawAudit(t *testing.T, s *Store) (keys, values [][]byte) {
	t.Helper()
	if err := s.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			keys = append(keys, bytes.Clone(k))
			values = append(values, bytes.Clone(v))
			return nil
		})
	}); err != nil {
		t.Fatalf("read audit bucket: %v", err)
	}
	return keys, values
}

func allAudit(t *testing.T, s *Store) []aks.AuditRecord {
	t.Helper()
	recs, err := s.Audit(context.Background(), AuditFilter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return recs
}

func TestAuditRecordsOfJobEvents(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	in := newJob("rg", "demo", "U1", aks.StateAwaitingApproval)
	in.Rule = "prod-needs-two"
	in.Plan.Subscription = "sub-1"
	job := mustCreate(t, s, in)

	approver := aks.User{ID: "U2", Name: "Bo"}
	job.State = aks.StateQueued
	at := job.CreatedAt.Add(time.Minute)
	job, err := s.UpdateJob(ctx, job, &aks.Event{At: at, Kind: aks.EventApproved, Actor: approver,
		From: aks.StateAwaitingApproval, To: aks.StateQueued, Message: "approved by Bo"})
	if err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	// No event, no record; a conflicting update stores nothing, so no record either.
	job.SlowReported = true
	if job, err = s.UpdateJob(ctx, job, nil); err != nil {
		t.Fatalf("UpdateJob without event: %v", err)
	}
	stale := job
	stale.Version--
	if _, err := s.UpdateJob(ctx, stale, &aks.Event{Kind: aks.EventFailed, Message: "stale"}); !errors.Is(err, jobs.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	// An event without To records the job's state; the operation ID is the job's.
	job.State = aks.StateRunning
	job.OperationID = "op-123"
	if _, err = s.UpdateJob(ctx, job, &aks.Event{At: at.Add(time.Minute), Kind: aks.EventStarted, Message: "Azure accepted"}); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}

	common := aks.AuditRecord{
		Channel: "C1", JobID: job.ID, Op: aks.OpPoolScale, Target: in.Op.Target,
		Subscription: "sub-1", Plan: "np1: 1 -> 3 nodes", Rule: "prod-needs-two",
	}
	want := []aks.AuditRecord{common, common, common}
	want[0].Seq, want[0].At, want[0].Action, want[0].User = 1, in.CreatedAt, aks.AuditRequested, in.Requester
	want[0].Detail, want[0].State = "created", aks.StateAwaitingApproval
	want[1].Seq, want[1].At, want[1].Action, want[1].User = 2, at, "approved", approver
	want[1].Detail, want[1].State = "approved by Bo", aks.StateQueued
	want[2].Seq, want[2].At, want[2].Action = 3, at.Add(time.Minute), "started"
	want[2].Detail, want[2].State, want[2].OperationID = "Azure accepted", aks.StateRunning, "op-123"
	if got := allAudit(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("audit records:\n got %+v\nwant %+v", got, want)
	}
}

func TestAuditOfEventWithoutTime(t *testing.T) {
	s, _ := openTemp(t)
	before := time.Now()
	job, err := s.CreateJob(context.Background(), newJob("rg", "c", "U1", aks.StateQueued), aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	recs := allAudit(t, s)
	if len(recs) != 1 || recs[0].JobID != job.ID || recs[0].At.Before(before) || recs[0].At.After(time.Now()) {
		t.Fatalf("records = %+v; want one, stamped with the time it was stored", recs)
	}
}

// TestAuditIsAppendOnly drives a job through updates and checks that every earlier record stays
// byte for byte as it was, and that new ones are only added after it.
func TestAuditIsAppendOnly(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateAwaitingApproval))
	prevKeys, prevValues := rawAudit(t, s)
	for i, to := range []aks.JobState{aks.StateQueued, aks.StateRunning, aks.StateRunning, aks.StateSucceeded} {
		job = transition(t, s, job, to)
		if i == 1 {
			if err := s.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditDecisionRefused, JobID: job.ID}); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
		}
		keys, values := rawAudit(t, s)
		if len(keys) <= len(prevKeys) {
			t.Fatalf("step %d: %d records after %d; want more", i, len(keys), len(prevKeys))
		}
		for j := range prevKeys {
			if !bytes.Equal(keys[j], prevKeys[j]) || !bytes.Equal(values[j], prevValues[j]) {
				t.Fatalf("step %d: record %d was rewritten:\n was %s\n now %s", i, j, prevValues[j], values[j])
			}
		}
		prevKeys, prevValues = keys, values
	}
	for i, k := range prevKeys {
		if got := binary.BigEndian.Uint64(k); got != uint64(i+1) {
			t.Fatalf("key %d = %d; want %d", i, got, i+1)
		}
	}
	if len(prevKeys) != 6 {
		t.Fatalf("%d records; want 6 (created, 4 transitions, 1 refusal)", len(prevKeys))
	}
}

func TestAppendAudit(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	var log jobs.AuditLog = s
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	refusal := aks.AuditRecord{
		Seq: 99, At: at, Action: aks.AuditRefused, User: aks.User{ID: "U9", Name: "Eve"}, Channel: "C2",
		Op: aks.OpClusterDelete, Target: aks.Target{ResourceGroup: "rg", Cluster: "prod"},
		Rule: "no-deletes", Detail: "deleting clusters is not allowed here",
	}
	if err := log.AppendAudit(ctx, refusal); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if err := log.AppendAudit(ctx, aks.AuditRecord{Detail: "no action"}); err == nil {
		t.Fatal("AppendAudit without an action succeeded")
	}
	before := time.Now()
	if err := log.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditDecisionRefused}); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	mustCreate(t, s, newJob("rg", "demo", "U1", aks.StateQueued))

	recs := allAudit(t, s)
	if len(recs) != 3 {
		t.Fatalf("%d records; want 3: %+v", len(recs), recs)
	}
	want := refusal
	want.Seq = 1 // the store numbers records, whatever the caller set
	if !reflect.DeepEqual(recs[0], want) {
		t.Fatalf("refusal stored as %+v; want %+v", recs[0], want)
	}
	if recs[1].Seq != 2 || recs[1].At.Before(before) {
		t.Fatalf("second record %+v; want seq 2 stamped now", recs[1])
	}
	if recs[2].Seq != 3 || recs[2].Action != aks.AuditRequested {
		t.Fatalf("record after reopen %+v; want seq 3, requested", recs[2])
	}
}

func TestAuditFilter(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	// seq: hour, cluster
	for i, c := range []string{"a", "b", "a", "B", "a", "c"} {
		rec := aks.AuditRecord{At: t0.Add(time.Duration(i) * time.Hour), Action: aks.AuditRefused,
			Target: aks.Target{ResourceGroup: "RG", Cluster: c}}
		if err := s.AppendAudit(ctx, rec); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	seqs := func(recs []aks.AuditRecord) []uint64 {
		var out []uint64
		for _, r := range recs {
			out = append(out, r.Seq)
		}
		return out
	}
	cases := []struct {
		name string
		f    AuditFilter
		want []uint64
	}{
		{"all", AuditFilter{}, []uint64{1, 2, 3, 4, 5, 6}},
		{"since, inclusive", AuditFilter{Since: t0.Add(3 * time.Hour)}, []uint64{4, 5, 6}},
		{"since between", AuditFilter{Since: t0.Add(150 * time.Minute)}, []uint64{4, 5, 6}},
		{"since after all", AuditFilter{Since: t0.Add(24 * time.Hour)}, nil},
		{"cluster folds case", AuditFilter{ClusterKey: "rg/b"}, []uint64{2, 4}},
		{"limit keeps the newest", AuditFilter{Limit: 2}, []uint64{5, 6}},
		{"cluster and limit", AuditFilter{ClusterKey: "rg/a", Limit: 2}, []uint64{3, 5}},
		{"since, cluster, limit", AuditFilter{Since: t0.Add(time.Hour), ClusterKey: "rg/a", Limit: 5}, []uint64{3, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Audit(ctx, c.f)
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			if !reflect.DeepEqual(seqs(got), c.want) {
				t.Fatalf("Audit(%+v) = %v; want %v", c.f, seqs(got), c.want)
			}
		})
	}
	if _, err := s.Audit(ctx, AuditFilter{Limit: -1}); err == nil {
		t.Fatal("Audit with a negative limit succeeded")
	}
}

// TestAuditSinceStopsScanning checks that a Since query walks back only to Since (plus the
// clock slack) instead of reading the whole log: records before a much older one are not read.
func TestAuditSinceStopsScanning(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		now,                           // 1: in the window, but behind the old record: not reached
		now.Add(-24 * time.Hour),      // 2: ends the scan
		now.Add(-time.Minute),         // 3: before Since, within the slack: skipped, the scan goes on
		now.Add(time.Second),          // 4
		now.Add(-auditClockSlack / 2), // 5: skipped
		now.Add(2 * time.Second),      // 6
		now.Add(-auditClockSlack + 1), // 7: skipped, not the end
		now.Add(3 * time.Second),      // 8
	} {
		if err := s.AppendAudit(ctx, aks.AuditRecord{At: at, Action: aks.AuditRefused}); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	got, err := s.Audit(ctx, AuditFilter{Since: now})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	var seqs []uint64
	for _, r := range got {
		seqs = append(seqs, r.Seq)
	}
	if want := []uint64{4, 6, 8}; !reflect.DeepEqual(seqs, want) {
		t.Fatalf("Audit since now = %v; want %v", seqs, want)
	}
}

// TestAuditConcurrentWriters moves jobs and appends refusals from many goroutines at once (so
// that writes share commits) and checks that every stored event has exactly one record and that
// sequences are strictly increasing without gaps.
func TestAuditConcurrentWriters(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	const workers, steps = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job := newJob("rg", fmt.Sprint("c", w), "U1", aks.StateRunning)
			job, err := s.CreateJob(ctx, job, created(job))
			if err != nil {
				errs <- err
				return
			}
			for i := range steps {
				if i%5 == 0 {
					if err := s.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditRefused, Detail: fmt.Sprint(w)}); err != nil {
						errs <- err
						return
					}
				}
				if job, err = s.UpdateJob(ctx, job, &aks.Event{Kind: aks.EventProgress, Message: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	recs := allAudit(t, s)
	if want := workers * (1 + steps + steps/5); len(recs) != want {
		t.Fatalf("%d records; want %d", len(recs), want)
	}
	perJob := map[string]int{}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if r.JobID != "" {
			perJob[r.JobID]++
		}
	}
	for id, n := range perJob {
		evs, err := s.Events(ctx, id)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if n != len(evs) {
			t.Fatalf("job %s: %d records for %d events", id, n, len(evs))
		}
	}
}

// BenchmarkAudit measures reading the last hour of a large log (the cheap case the backwards
// scan is for) against reading all of it.
func BenchmarkAudit(b *testing.B) {
	s, _ := openTemp(b)
	const n = 20_000
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.DB().Update(func(tx *bbolt.Tx) error {
		for i := range n {
			rec := aks.AuditRecord{At: start.Add(time.Duration(i) * time.Minute), Action: aks.AuditRefused,
				Target: aks.Target{ResourceGroup: "rg", Cluster: "demo"}, Detail: "refused by rule"}
			if _, err := appendAudit(tx, rec); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatalf("fill log: %v", err)
	}
	last := start.Add(n * time.Minute)
	for _, c := range []struct {
		name string
		f    AuditFilter
	}{
		{"last-hour", AuditFilter{Since: last.Add(-time.Hour)}},
		{"all", AuditFilter{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Audit(context.Background(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateJobWithEvent measures the work of one transition (the update, its event and its
// audit record) with fsync off, so that the cost of the transaction shows rather than the
// disk's sync latency (BenchmarkUpdateJob measures that). "no-event" is the update alone.
func BenchmarkUpdateJobWithEvent(b *testing.B) {
	for _, withEvent := range []bool{true, false} {
		name := "event"
		if !withEvent {
			name = "no-event"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := openTemp(b)
			s.DB().NoSync = true
			job := mustCreate(b, s, newJob("rg", "demo", "U1", aks.StateRunning))
			job.Rule, job.OperationID = "prod-needs-two", "op-1"
			b.ReportAllocs()
			for b.Loop() {
				var ev *aks.Event
				if withEvent {
					ev = &aks.Event{At: job.UpdatedAt, Kind: aks.EventProgress, Actor: aks.User{ID: "U2"}, To: aks.StateRunning, Message: "still running"}
				}
				var err error
				if job, err = s.UpdateJob(context.Background(), job, ev); err != nil {
					b.Fatalf("UpdateJob: %v", err)
				}
			}
		})
	}
}
