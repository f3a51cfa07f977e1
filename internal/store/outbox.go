package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

// The chat transport's outbox (aks.OutboxStore), in buckets that the Slack transport created
// itself before the port existed, so that files written then keep their undelivered messages:
//
//	slack_outbox/queue  8-byte big-endian entry ID (the bucket's sequence) -> entry body
//	slack_outbox/jobs   job ID -> the job's outbox state
//
// The queue is keyed by entry ID alone, so the job of an entry is read from its stored value. A
// body that is a JSON object starting with a "job" field equal to the entry's JobID (the Slack
// transport's are) is stored as it is, as it always was; any other body is stored wrapped, as
// {"job":JobID,"opaque":base64 body}, and unwrapped when read. The buckets are made by the
// first write, so reading a file without them finds an empty outbox.
//
// Fences are ignored: the bbolt file is locked by one process, which has nothing to be fenced
// from (one replica always holds the lanes and the leadership).
var (
	bucketOutbox      = []byte("slack_outbox")
	bucketOutboxQueue = []byte("queue")
	bucketOutboxJobs  = []byte("jobs")
)

var _ aks.OutboxStore = (*Store)(nil)

// UpdateOutbox runs fn on one job's outbox inside one bbolt write transaction. bbolt never
// retries for a conflict (writers are serialised), but the store's group commit runs fn again
// when another write committed in the same transaction failed; the port allows that.
func (s *Store) UpdateOutbox(ctx context.Context, jobID string, fn func(tx aks.OutboxTx) error) error {
	if jobID == "" {
		return errors.New("store: update outbox: no job ID")
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		queue, jobsB, err := outboxBuckets(tx)
		if err != nil {
			return err
		}
		otx := &outboxTx{queue: queue, jobs: jobsB, jobID: jobID}
		if err := fn(otx); err != nil {
			return err
		}
		return otx.err
	})
	if err != nil {
		return fmt.Errorf("store: update outbox of job %s: %w", jobID, err)
	}
	return nil
}

// OutboxHeads returns the first pending entry of every job that has one, in entry ID order.
func (s *Store) OutboxHeads(ctx context.Context) ([]aks.OutboxHead, error) {
	var heads []aks.OutboxHead
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		if root == nil {
			return nil
		}
		queue, jobsB := root.Bucket(bucketOutboxQueue), root.Bucket(bucketOutboxJobs)
		if queue == nil || jobsB == nil {
			return nil
		}
		seen := map[string]bool{}
		c := queue.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e, err := decodeOutboxEntry(k, v)
			if err != nil {
				return err
			}
			if seen[e.JobID] {
				continue
			}
			seen[e.JobID] = true
			heads = append(heads, aks.OutboxHead{Entry: e, State: bytes.Clone(jobsB.Get([]byte(e.JobID)))})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read outbox heads: %w", err)
	}
	return heads, nil
}

// OutboxState returns one job's outbox state (nil when it has none) and its pending entries.
func (s *Store) OutboxState(ctx context.Context, jobID string) ([]byte, []aks.OutboxEntry, error) {
	var (
		state   []byte
		entries []aks.OutboxEntry
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		if root == nil {
			return nil
		}
		if jobsB := root.Bucket(bucketOutboxJobs); jobsB != nil {
			state = bytes.Clone(jobsB.Get([]byte(jobID)))
		}
		var err error
		entries, err = jobEntries(root.Bucket(bucketOutboxQueue), jobID)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: read outbox of job %s: %w", jobID, err)
	}
	return state, entries, nil
}

// OutboxLen returns how many entries are pending over all jobs.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		if root == nil {
			return nil
		}
		queue := root.Bucket(bucketOutboxQueue)
		if queue == nil {
			return nil
		}
		c := queue.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count outbox entries: %w", err)
	}
	return n, nil
}

// outboxBuckets returns the queue and jobs buckets, creating them in a file that has none.
func outboxBuckets(tx *bbolt.Tx) (queue, jobsB *bbolt.Bucket, err error) {
	root, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return nil, nil, fmt.Errorf("create bucket %s: %w", bucketOutbox, err)
	}
	if queue, err = root.CreateBucketIfNotExists(bucketOutboxQueue); err != nil {
		return nil, nil, fmt.Errorf("create bucket %s/%s: %w", bucketOutbox, bucketOutboxQueue, err)
	}
	if jobsB, err = root.CreateBucketIfNotExists(bucketOutboxJobs); err != nil {
		return nil, nil, fmt.Errorf("create bucket %s/%s: %w", bucketOutbox, bucketOutboxJobs, err)
	}
	return queue, jobsB, nil
}

// outboxTx is aks.OutboxTx on the buckets of an open write transaction. Put has no error to
// return: its first failure is kept and fails the transaction.
type outboxTx struct {
	queue, jobs *bbolt.Bucket
	jobID       string
	err         error
}

func (t *outboxTx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

func (t *outboxTx) State() []byte { return bytes.Clone(t.jobs.Get([]byte(t.jobID))) }

func (t *outboxTx) SetState(state []byte) {
	if err := t.jobs.Put([]byte(t.jobID), bytes.Clone(state)); err != nil {
		t.fail(fmt.Errorf("store outbox state: %w", err))
	}
}

func (t *outboxTx) Entries() []aks.OutboxEntry {
	entries, err := jobEntries(t.queue, t.jobID)
	if err != nil {
		t.fail(err)
	}
	return entries
}

func (t *outboxTx) NextID() (uint64, error) {
	id, err := t.queue.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("number outbox entry: %w", err)
	}
	return id, nil
}

func (t *outboxTx) Put(e aks.OutboxEntry) {
	if e.JobID == "" {
		e.JobID = t.jobID // the transaction is one job's: an entry without a job is that job's
	}
	switch {
	case e.JobID != t.jobID:
		t.fail(fmt.Errorf("put outbox entry %d of job %q in the outbox of job %s", e.ID, e.JobID, t.jobID))
	case e.ID == 0:
		t.fail(errors.New("put outbox entry without an ID (use NextID)"))
	default:
		v, err := storedBody(e.JobID, e.Body)
		if err == nil {
			err = t.queue.Put(outboxKey(e.ID), v)
		}
		if err != nil {
			t.fail(fmt.Errorf("put outbox entry %d: %w", e.ID, err))
		}
	}
}

func (t *outboxTx) Delete(id uint64) {
	k := outboxKey(id)
	v := t.queue.Get(k)
	if v == nil {
		return
	}
	// An entry of another job is not this transaction's to remove.
	if job, err := bodyJob(v); err != nil || job != t.jobID {
		return
	}
	if err := t.queue.Delete(k); err != nil {
		t.fail(fmt.Errorf("delete outbox entry %d: %w", id, err))
	}
}

// jobEntries returns a job's pending entries by ID; q may be nil (no outbox yet).
func jobEntries(q *bbolt.Bucket, jobID string) ([]aks.OutboxEntry, error) {
	if q == nil {
		return nil, nil
	}
	var out []aks.OutboxEntry
	c := q.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		job, err := bodyJob(v)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if job == jobID {
			e, err := decodeOutboxEntry(k, v)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func decodeOutboxEntry(k, v []byte) (aks.OutboxEntry, error) {
	if len(k) != 8 {
		return aks.OutboxEntry{}, fmt.Errorf("outbox entry key %x is not an 8-byte ID", k)
	}
	id := binary.BigEndian.Uint64(k)
	job, err := bodyJob(v)
	if err != nil {
		return aks.OutboxEntry{}, fmt.Errorf("outbox entry %d: %w", id, err)
	}
	body, err := entryBody(job, v)
	if err != nil {
		return aks.OutboxEntry{}, fmt.Errorf("outbox entry %d: %w", id, err)
	}
	return aks.OutboxEntry{ID: id, JobID: job, Body: body}, nil
}

// wrapped is the stored value of a body that does not name its job first.
type wrapped struct {
	Job    string `json:"job"`
	Opaque []byte `json:"opaque"`
}

// storedBody is the value stored for a body of job: the body itself when it names its job
// first (and is not a wrapped value itself), else the body wrapped.
func storedBody(job string, body []byte) ([]byte, error) {
	if bytes.HasPrefix(body, namedPrefix(job)) && !bytes.HasPrefix(body, wrappedPrefix(job)) {
		if named, err := bodyJob(body); err == nil && named == job {
			return bytes.Clone(body), nil
		}
	}
	v, err := json.Marshal(wrapped{Job: job, Opaque: body})
	if err != nil {
		return nil, fmt.Errorf("wrap entry body: %w", err)
	}
	return v, nil
}

// entryBody returns the body stored in v, the value of an entry of job.
func entryBody(job string, v []byte) ([]byte, error) {
	if !bytes.HasPrefix(v, wrappedPrefix(job)) {
		return bytes.Clone(v), nil
	}
	var w wrapped
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, fmt.Errorf("unwrap entry body: %w", err)
	}
	if w.Opaque == nil {
		w.Opaque = []byte{}
	}
	return w.Opaque, nil
}

// namedPrefix starts a body that names job first, as encoding/json writes it.
func namedPrefix(job string) []byte {
	q, _ := json.Marshal(job) // a string always encodes
	return append([]byte(`{"job":`), q...)
}

// wrappedPrefix starts the stored value of a wrapped body of job.
func wrappedPrefix(job string) []byte { return append(namedPrefix(job), `,"opaque":`...) }

func outboxKey(id uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, id)
	return k
}

// bodyJob returns the "job" field of an entry body. Every scan of the queue reads it from every
// entry, so the usual body, which starts with it, is read without decoding the rest.
func bodyJob(body []byte) (string, error) {
	const prefix = `{"job":"`
	if rest, ok := bytes.CutPrefix(body, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return string(rest[:i]), nil
		}
	}
	var v struct {
		Job *string `json:"job"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("entry body is not a JSON object: %w", err)
	}
	if v.Job == nil || strings.TrimSpace(*v.Job) == "" {
		return "", errors.New(`entry body has no "job" field`)
	}
	return *v.Job, nil
}
