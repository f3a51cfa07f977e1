package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

func body(job, text string) []byte { return fmt.Appendf(nil, `{"job":%q,"text":%q}`, job, text) }

// add stores entries with the given texts for job, in one transaction.
func add(t *testing.T, s *Store, job string, texts ...string) []uint64 {
	t.Helper()
	var ids []uint64
	err := s.UpdateOutbox(context.Background(), job, func(tx aks.OutboxTx) error {
		ids = ids[:0]
		for _, text := range texts {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			tx.Put(aks.OutboxEntry{ID: id, JobID: job, Body: body(job, text)})
			ids = append(ids, id)
		}
		tx.SetState([]byte(`{"n":` + fmt.Sprint(len(texts)) + `}`))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOutboxHeadsStateAndLen(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	if heads, err := s.OutboxHeads(ctx); err != nil || len(heads) != 0 {
		t.Fatalf("OutboxHeads of a new file = %v, %v; want none", heads, err)
	}
	a := add(t, s, "1", "a1", "a2")
	b := add(t, s, "2", "b1")
	add(t, s, "1", "a3")

	heads, err := s.OutboxHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads[0].Entry.ID != a[0] || heads[0].Entry.JobID != "1" || heads[1].Entry.ID != b[0] ||
		!strings.Contains(string(heads[1].Entry.Body), "b1") || string(heads[0].State) != `{"n":1}` {
		t.Fatalf("heads = %+v", heads)
	}
	if n, err := s.OutboxLen(ctx); err != nil || n != 4 {
		t.Errorf("OutboxLen = %d, %v; want 4", n, err)
	}
	state, entries, err := s.OutboxState(ctx, "1")
	if err != nil || string(state) != `{"n":1}` || len(entries) != 3 || entries[0].ID != a[0] || entries[1].ID != a[1] {
		t.Errorf("OutboxState(1) = %s, %+v, %v", state, entries, err)
	}
	if state, entries, err := s.OutboxState(ctx, "9"); err != nil || state != nil || entries != nil {
		t.Errorf("OutboxState of a job without an outbox = %q, %v, %v", state, entries, err)
	}

	// Delivering job 1's head makes its next entry the head; entries of other jobs are not
	// this job's to delete.
	err = s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
		tx.Delete(a[0])
		tx.Delete(b[0])
		tx.Delete(12345)
		if got := tx.Entries(); len(got) != 2 || got[0].ID != a[1] {
			t.Errorf("Entries inside the transaction after a delete = %+v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	heads, _ = s.OutboxHeads(ctx)
	if len(heads) != 2 || heads[0].Entry.ID != a[1] || heads[1].Entry.ID != b[0] {
		t.Errorf("heads after a delivery = %+v, want a2 then b1 (by ID)", heads)
	}
}

func TestOutboxUpdateFailureStoresNothing(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	add(t, s, "1", "a1")
	boom := errors.New("boom")
	err := s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
		id, _ := tx.NextID()
		tx.Put(aks.OutboxEntry{ID: id, JobID: "1", Body: body("1", "x")})
		tx.SetState([]byte("changed"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateOutbox = %v, want boom", err)
	}
	for name, e := range map[string]aks.OutboxEntry{
		"another job's entry": {ID: 99, JobID: "2", Body: body("2", "x")},
		"no ID":               {JobID: "1", Body: body("1", "x")},
	} {
		err := s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
			tx.SetState([]byte("changed"))
			tx.Put(e)
			return nil
		})
		if err == nil {
			t.Errorf("Put of %s was accepted", name)
		}
	}
	state, entries, err := s.OutboxState(ctx, "1")
	if err != nil || string(state) != `{"n":1}` || len(entries) != 1 {
		t.Errorf("after failed updates: %s, %+v, %v; want the state and entry from before", state, entries, err)
	}
}

// Any body comes back as it was put: bodies that do not name their job first are stored
// wrapped.
func TestOutboxBodiesRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	bodies := [][]byte{
		body("1", "as it is"),
		[]byte(`not json`),
		{},
		{0, 1, 2, 255},
		body("2", "names another job"),
		[]byte(`{"text":"x","job":"1"}`),
		[]byte(`{"job":"1","opaque":"looks wrapped"}`),
		[]byte(` {"job":"1"}`),
	}
	err := s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
		for _, b := range bodies {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			tx.Put(aks.OutboxEntry{ID: id, JobID: "1", Body: b})
		}
		if got := tx.Entries(); len(got) != len(bodies) || string(got[1].Body) != "not json" {
			t.Errorf("Entries in the transaction = %+v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, "2", "other")
	_, entries, err := s.OutboxState(ctx, "1")
	if err != nil || len(entries) != len(bodies) {
		t.Fatalf("OutboxState = %d entries, %v; want %d", len(entries), err, len(bodies))
	}
	for i, e := range entries {
		if string(e.Body) != string(bodies[i]) || e.JobID != "1" {
			t.Errorf("entry %d = %q of job %s, want %q of job 1", i, e.Body, e.JobID, bodies[i])
		}
	}
	// A body that names its job first is stored as it is, as before the port; others wrapped.
	err = s.db.View(func(tx *bbolt.Tx) error {
		q := tx.Bucket([]byte("slack_outbox")).Bucket([]byte("queue"))
		if v := q.Get(outboxKey(entries[0].ID)); string(v) != string(bodies[0]) {
			t.Errorf("stored value of a Slack-like body = %s, want the body itself", v)
		}
		if v := q.Get(outboxKey(entries[6].ID)); !strings.HasPrefix(string(v), `{"job":"1","opaque":"`) {
			t.Errorf("stored value of a body that looks wrapped = %s, want it wrapped", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	heads, err := s.OutboxHeads(ctx)
	if err != nil || len(heads) != 2 || string(heads[0].Entry.Body) != string(bodies[0]) || heads[1].Entry.JobID != "2" {
		t.Errorf("heads = %+v, %v", heads, err)
	}
	// Removing the first makes a wrapped body the head.
	err = s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error { tx.Delete(entries[0].ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if heads, _ := s.OutboxHeads(ctx); len(heads) != 2 || string(heads[0].Entry.Body) != "not json" {
		t.Errorf("heads after a delete = %+v", heads)
	}
}

// Concurrent updates of one job's outbox are serialised: each sees the others' entries.
func TestOutboxUpdatesAreAtomic(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			err := s.UpdateOutbox(ctx, "1", func(tx aks.OutboxTx) error {
				n := len(tx.Entries())
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				tx.Put(aks.OutboxEntry{ID: id, JobID: "1", Body: body("1", fmt.Sprint(i))})
				tx.SetState(fmt.Appendf(nil, "%d", n+1))
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	state, entries, err := s.OutboxState(ctx, "1")
	if err != nil || len(entries) != 20 || string(state) != "20" {
		t.Errorf("after 20 concurrent adds: state %s, %d entries, %v; want 20 and 20", state, len(entries), err)
	}
}

// A file written by the Slack transport before the store port keeps its undelivered messages.
func TestOutboxReadsFilesWrittenBeforeThePort(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucket([]byte("slack_outbox"))
		if err != nil {
			return err
		}
		q, err := root.CreateBucket([]byte("queue"))
		if err != nil {
			return err
		}
		jb, err := root.CreateBucket([]byte("jobs"))
		if err != nil {
			return err
		}
		for _, job := range []string{"7", "8"} {
			id, _ := q.NextSequence()
			k := make([]byte, 8)
			binary.BigEndian.PutUint64(k, id)
			// The field order of the old encoder, with an escaped character.
			v := fmt.Sprintf(`{"job":"%s","channel":"C1","kind":"post","key":"parent","text":"a \"b\"","blocks":null,"created":"2026-03-01T10:00:00Z"}`, job)
			if err := q.Put(k, []byte(v)); err != nil {
				return err
			}
			if err := jb.Put([]byte(job), []byte(`{"refs":{},"queued":{"parent":true},"events":{}}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	heads, err := s.OutboxHeads(ctx)
	if err != nil || len(heads) != 2 || heads[0].Entry.ID != 1 || heads[0].Entry.JobID != "7" || heads[1].Entry.JobID != "8" ||
		!strings.Contains(string(heads[1].State), `"parent":true`) {
		t.Fatalf("heads of an old file = %+v, %v", heads, err)
	}
	// New entries continue the old sequence.
	if ids := add(t, s, "7", "x"); ids[0] != 3 {
		t.Errorf("next entry ID = %d, want 3", ids[0])
	}
}

func TestBodyJob(t *testing.T) {
	for in, want := range map[string]string{
		`{"job":"12","text":"x"}`:     "12",
		`{"text":"x","job":"12"}`:     "12",
		`{"job":"a\"b"}`:              `a"b`,
		` {"job": "12"}`:              "12",
		`{"job":"","x":{"job":"12"}}`: "",
		`{"x":1}`:                     "",
		`not json`:                    "",
		`{"job":12}`:                  "",
	} {
		got, err := bodyJob([]byte(in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("bodyJob(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}
