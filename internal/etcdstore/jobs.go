package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// Limits of one etcd request (the server's defaults): at most 128 operations per transaction
// and 1.5 MiB per request. Listings read in pages of pageSize keys; batched reads and writes
// stay under maxOps.
const (
	maxOps   = 128
	pageSize = 256
)

// record is a stored job: the job and how many events it has, so that the next event's
// sequence number comes with the job's compare-and-swap (no extra counter to contend on).
type record struct {
	Job    aks.Job `json:"job"`
	Events int64   `json:"events"`
}

func checkJob(job aks.Job) error {
	if _, err := parseID(job.ID); err != nil {
		return err
	}
	if job.Version < 1 {
		return fmt.Errorf("bad job version %d", job.Version)
	}
	if !job.State.Known() {
		return fmt.Errorf("unknown job state %q", job.State)
	}
	return nil
}

func encodeRecord(r record) (string, error) {
	if err := checkJob(r.Job); err != nil {
		return "", fmt.Errorf("encode job: %w", err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode job: %w", err)
	}
	return string(data), nil
}

// decodeRecord decodes a stored job and checks that it is the job its key names: damaged data
// must be an error, not a crash or a wrong job.
func (s *Store) decodeRecord(kv *mvccpb.KeyValue) (record, error) {
	var r record
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		return record{}, fmt.Errorf("job record %s: %w", kv.Key, err)
	}
	if err := checkJob(r.Job); err != nil {
		return record{}, fmt.Errorf("job record %s: %w", kv.Key, err)
	}
	n, _ := parseID(r.Job.ID)
	if string(kv.Key) != s.jobKey(n) {
		return record{}, fmt.Errorf("job record %s holds job %q", kv.Key, r.Job.ID)
	}
	return r, nil
}

// parseID turns a job ID into its number. Only the canonical decimal form names a job (as in
// the bbolt store), so "007" is not found rather than an alias of job 7.
func parseID(id string) (uint64, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != id {
		return 0, fmt.Errorf("%w: %q is not a job ID", aks.ErrNotFound, id)
	}
	return n, nil
}

// activeKey is the job's entry in the index of unfinished jobs, grouped by cluster so that a
// lane lists its own jobs with one range read. A job's target is fixed when it is made, so its
// entry never moves.
func (s *Store) activeKey(job aks.Job, n uint64) string {
	return s.activePrefix(job.Op.Target.ClusterKey()) + pad(n)
}

func (s *Store) activePrefix(clusterKey string) string {
	return s.v + "active/" + url.PathEscape(clusterKey) + "/"
}

// jobOps returns the writes that store job (with events counted so far) and its index entry,
// and append ev (if not nil, as event number events) and its audit record.
// prev is the state stored before ("" for a new job): the index is written only when the
// state changes.
func (s *Store) jobOps(job aks.Job, n uint64, events int64, ev *aks.Event, prev aks.JobState) ([]clientv3.Op, error) {
	data, err := encodeRecord(record{Job: job, Events: events})
	if err != nil {
		return nil, err
	}
	ops := []clientv3.Op{clientv3.OpPut(s.jobKey(n), data)}
	switch {
	case job.State == prev:
	case job.State.Final():
		ops = append(ops, clientv3.OpDelete(s.activeKey(job, n)))
	default:
		ops = append(ops, clientv3.OpPut(s.activeKey(job, n), string(job.State)))
	}
	if ev == nil {
		return ops, nil
	}
	e := *ev
	e.JobID = job.ID
	e.Seq = events
	evData, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	// The audit record goes in the same transaction: an event is never stored without it.
	auditOp, err := s.auditPut(aks.AuditOfEvent(job, e, time.Now().UTC()), "")
	if err != nil {
		return nil, err
	}
	ops = append(ops, clientv3.OpPut(s.eventsPrefix(n)+pad(uint64(e.Seq)), string(evData)), auditOp)
	*ev = e
	return ops, nil
}

// CreateJob assigns the job the next ID of the shared counter, sets Version to 1 and stores it
// with ev as its first event, in one transaction that also moves the counter (compare-and-swap
// on its revision), so IDs are dense and ordered by creation across replicas.
func (s *Store) CreateJob(ctx context.Context, job aks.Job, ev aks.Event) (aks.Job, error) {
	defer s.timed("create_job")()
	// Creates of this replica take turns: each then commits at the first try, where
	// concurrent ones would all compete for the counter and retry. Replicas still race, and
	// the compare-and-swap settles that.
	s.createMu.Lock()
	defer s.createMu.Unlock()
	seqKey := s.jobSeqKey()
	s.seqMu.Lock()
	val, rev := s.jobSeq.val, s.jobSeq.rev
	s.seqMu.Unlock()
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return aks.Job{}, fmt.Errorf("etcdstore: create job: %w", err)
		}
		n := uint64(val) + 1
		j := job
		j.ID = strconv.FormatUint(n, 10)
		j.Version = 1
		e := ev
		ops, err := s.jobOps(j, n, 1, &e, "")
		if err != nil {
			return aks.Job{}, fmt.Errorf("etcdstore: create job: %w", err)
		}
		ops = append(ops, clientv3.OpPut(seqKey, strconv.FormatUint(n, 10)))
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(seqKey), "=", rev)).
			Then(ops...).
			Else(clientv3.OpGet(seqKey)).
			Commit()
		if err != nil {
			return aks.Job{}, fmt.Errorf("etcdstore: create job: %w", err)
		}
		if resp.Succeeded {
			s.seqMu.Lock()
			if resp.Header.Revision > s.jobSeq.rev {
				s.jobSeq.val, s.jobSeq.rev = int64(n), resp.Header.Revision
			}
			s.seqMu.Unlock()
			s.cache.put(j.ID, cached{version: 1, rev: resp.Header.Revision, events: 1, state: j.State})
			return j, nil
		}
		// Another writer took the ID: the else branch read the counter as it is now.
		val, rev = 0, 0
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			if val, err = strconv.ParseInt(string(kvs[0].Value), 10, 64); err != nil {
				return aks.Job{}, fmt.Errorf("etcdstore: create job: unreadable job counter %q", kvs[0].Value)
			}
			rev = kvs[0].ModRevision
		}
		if try > 0 {
			backoff(ctx, try)
		}
	}
}

// UpdateJob stores job if the stored version still equals job.Version (else ErrConflict) and
// ctx's fence, if any, still holds (else ErrFenced), bumps Version and appends ev, in one
// transaction.
func (s *Store) UpdateJob(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	defer s.timed("update_job")()
	out, err := s.updateJob(ctx, job, ev)
	if err != nil {
		s.cache.drop(job.ID)
		return aks.Job{}, fmt.Errorf("etcdstore: update job %s: %w", job.ID, err)
	}
	return out, nil
}

func (s *Store) updateJob(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	n, err := parseID(job.ID)
	if err != nil {
		return aks.Job{}, err
	}
	key := s.jobKey(n)
	// The version the caller read must be the stored one. The revision of that version comes
	// from this replica's last write or read of the job; the transaction compares it, so a
	// stale cache entry only turns into a conflict (another replica wrote meanwhile).
	c, ok := s.cache.get(job.ID)
	if !ok || c.version != job.Version {
		var err error
		if _, c, err = s.read(ctx, job.ID, key); err != nil {
			return aks.Job{}, err
		}
		if c.version != job.Version {
			return aks.Job{}, fmt.Errorf("%w: stored version %d, given %d", aks.ErrConflict, c.version, job.Version)
		}
	}
	j := job
	j.Version++
	events := c.events
	if ev != nil {
		events++
	}
	e := ev
	if ev != nil {
		copied := *ev
		e = &copied
	}
	ops, err := s.jobOps(j, n, events, e, c.state)
	if err != nil {
		return aks.Job{}, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", c.rev)}
	elseOps := []clientv3.Op{clientv3.OpGet(key, clientv3.WithKeysOnly())}
	// The fence: the write happens only while this replica still owns the lane. A job is stored
	// as "sending" before its request leaves for Azure, so a write refused here is what stops a
	// deposed owner (paused past its session, say) from sending anything more.
	fcmp, fkey, fenced := s.fenceCmp(ctx)
	if fenced {
		cmps = append(cmps, fcmp)
		elseOps = append(elseOps, clientv3.OpGet(fkey, clientv3.WithKeysOnly()))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	if err != nil {
		return aks.Job{}, err
	}
	if !resp.Succeeded {
		if fenced && !fenceHolds(ctx, resp.Responses[1]) {
			return aks.Job{}, aks.ErrFenced
		}
		if len(resp.Responses[0].GetResponseRange().GetKvs()) == 0 {
			return aks.Job{}, aks.ErrNotFound
		}
		return aks.Job{}, fmt.Errorf("%w: job %s was written by another writer", aks.ErrConflict, job.ID)
	}
	s.cache.put(j.ID, cached{version: j.Version, rev: resp.Header.Revision, events: events, state: j.State})
	if ev != nil {
		*ev = *e
	}
	return j, nil
}

// Job returns one job, or an error matching aks.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (aks.Job, error) {
	defer s.timed("job")()
	job, err := s.job(ctx, id)
	if err != nil {
		return aks.Job{}, fmt.Errorf("etcdstore: get job %s: %w", id, err)
	}
	return job, nil
}

func (s *Store) job(ctx context.Context, id string) (aks.Job, error) {
	n, err := parseID(id)
	if err != nil {
		return aks.Job{}, err
	}
	r, _, err := s.read(ctx, id, s.jobKey(n))
	if err != nil {
		return aks.Job{}, err
	}
	return r.Job, nil
}

// read gets the job stored at key and records what the next update compares (its version and
// revision) in the cache.
func (s *Store) read(ctx context.Context, id, key string) (record, cached, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return record{}, cached{}, err
	}
	if len(resp.Kvs) == 0 {
		return record{}, cached{}, aks.ErrNotFound
	}
	r, err := s.decodeRecord(resp.Kvs[0])
	if err != nil {
		return record{}, cached{}, err
	}
	c := cached{version: r.Job.Version, rev: resp.Kvs[0].ModRevision, events: r.Events, state: r.Job.State}
	s.cache.put(id, c)
	return r, c, nil
}

// Jobs returns the jobs f selects, oldest first. When f asks only for unfinished states it
// reads the index of unfinished jobs (of f.ClusterKey's cluster only, when set) instead of
// every job ever made; otherwise it pages through the jobs newest first, so that a Limit stops
// early. All reads are at one revision: the listing is a consistent snapshot.
func (s *Store) Jobs(ctx context.Context, f aks.Filter) ([]aks.Job, error) {
	defer s.timed("jobs")()
	if f.Limit < 0 {
		return nil, fmt.Errorf("etcdstore: list jobs: negative limit %d", f.Limit)
	}
	var out []aks.Job
	var err error
	if f.OnlyUnfinished() {
		out, err = s.activeJobs(ctx, f)
	} else {
		out, err = s.scanJobs(ctx, f)
	}
	if err != nil {
		return nil, fmt.Errorf("etcdstore: list jobs: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// scanJobs walks all jobs newest first and returns the matches newest first.
func (s *Store) scanJobs(ctx context.Context, f aks.Filter) ([]aks.Job, error) {
	var out []aks.Job
	err := s.scanNewestFirst(ctx, s.jobsPrefix(), func(kv *mvccpb.KeyValue) (bool, error) {
		r, err := s.decodeRecord(kv)
		if err != nil {
			return false, err
		}
		if f.Matches(r.Job) {
			out = append(out, r.Job)
		}
		return f.Limit <= 0 || len(out) < f.Limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanNewestFirst calls visit on the keys under prefix from the highest down, a page at a time,
// all pages at the revision of the first, until visit says to stop or returns an error.
func (s *Store) scanNewestFirst(ctx context.Context, prefix string, visit func(*mvccpb.KeyValue) (more bool, err error)) error {
	end := clientv3.GetPrefixRangeEnd(prefix)
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, prefix, opts...)
		if err != nil {
			return err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			more, err := visit(kv)
			if err != nil || !more {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key) // exclusive: the next page is below it
	}
}

// activeJobs reads the index of unfinished jobs, then the jobs it names in batched
// transactions at the index's revision, newest first.
func (s *Store) activeJobs(ctx context.Context, f aks.Filter) ([]aks.Job, error) {
	prefix := s.v + "active/"
	if f.ClusterKey != "" {
		prefix = s.activePrefix(f.ClusterKey)
	}
	kvs, rev, err := s.rangeAll(ctx, prefix, 0)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, kv := range kvs {
		if !slices.Contains(f.States, aks.JobState(kv.Value)) {
			continue
		}
		k := string(kv.Key)
		if len(k) < 20 {
			return nil, fmt.Errorf("bad index key %s", k)
		}
		n, err := strconv.ParseUint(k[len(k)-20:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad index key %s", k)
		}
		ids = append(ids, n)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	var out []aks.Job
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxOps)]
		ids = ids[len(batch):]
		ops := make([]clientv3.Op, len(batch))
		for i, n := range batch {
			ops[i] = clientv3.OpGet(s.jobKey(n), clientv3.WithRev(rev))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, err
		}
		for i, r := range resp.Responses {
			kvs := r.GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				return nil, fmt.Errorf("the index of unfinished jobs names job %d, which is not stored", batch[i])
			}
			rec, err := s.decodeRecord(kvs[0])
			if err != nil {
				return nil, err
			}
			if !f.Matches(rec.Job) {
				continue
			}
			out = append(out, rec.Job)
			if f.Limit > 0 && len(out) == f.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// rangeAll reads every key under prefix, in pages, at one revision (rev, or the current one
// when 0), and returns them in key order with the revision read.
func (s *Store) rangeAll(ctx context.Context, prefix string, rev int64) ([]*mvccpb.KeyValue, int64, error) {
	var out []*mvccpb.KeyValue
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, start, opts...)
		if err != nil {
			return nil, 0, err
		}
		rev = resp.Header.Revision
		out = append(out, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Events returns a job's events in order, or an error matching aks.ErrNotFound.
func (s *Store) Events(ctx context.Context, jobID string) ([]aks.Event, error) {
	defer s.timed("events")()
	out, err := s.events(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: events of job %s: %w", jobID, err)
	}
	return out, nil
}

func (s *Store) events(ctx context.Context, jobID string) ([]aks.Event, error) {
	n, err := parseID(jobID)
	if err != nil {
		return nil, err
	}
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.jobKey(n), clientv3.WithKeysOnly()),
		clientv3.OpGet(s.eventsPrefix(n), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, err
	}
	if len(resp.Responses[0].GetResponseRange().GetKvs()) == 0 {
		return nil, aks.ErrNotFound
	}
	var out []aks.Event
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		var ev aks.Event
		if err := json.Unmarshal(kv.Value, &ev); err != nil {
			return nil, fmt.Errorf("event %s: %w", kv.Key, err)
		}
		if ev.Seq < 1 || ev.JobID != jobID {
			return nil, fmt.Errorf("event %s: missing job ID or sequence", kv.Key)
		}
		out = append(out, ev)
	}
	return out, nil
}

// SetRef stores a transport's reference for a job, replacing any value under the same name.
func (s *Store) SetRef(ctx context.Context, jobID, name, value string) error {
	defer s.timed("set_ref")()
	err := func() error {
		if name == "" {
			return errors.New("empty reference name")
		}
		n, err := parseID(jobID)
		if err != nil {
			return err
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(s.jobKey(n)), ">", 0)).
			Then(clientv3.OpPut(s.refsPrefix(n)+name, value)).
			Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return aks.ErrNotFound
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("etcdstore: set ref %q of job %s: %w", name, jobID, err)
	}
	return nil
}

// Refs returns all references stored for a job (an empty map if none), or an error matching
// aks.ErrNotFound.
func (s *Store) Refs(ctx context.Context, jobID string) (map[string]string, error) {
	defer s.timed("refs")()
	out, err := func() (map[string]string, error) {
		n, err := parseID(jobID)
		if err != nil {
			return nil, err
		}
		prefix := s.refsPrefix(n)
		resp, err := s.cli.Txn(ctx).Then(
			clientv3.OpGet(s.jobKey(n), clientv3.WithKeysOnly()),
			clientv3.OpGet(prefix, clientv3.WithPrefix()),
		).Commit()
		if err != nil {
			return nil, err
		}
		if len(resp.Responses[0].GetResponseRange().GetKvs()) == 0 {
			return nil, aks.ErrNotFound
		}
		out := map[string]string{}
		for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
			out[string(kv.Key)[len(prefix):]] = string(kv.Value)
		}
		return out, nil
	}()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: refs of job %s: %w", jobID, err)
	}
	return out, nil
}

// cached is what this replica last knew of a stored job: enough to write the next version
// without reading it first.
type cached struct {
	version int64
	rev     int64 // the mod revision of the job key holding that version
	events  int64
	state   aks.JobState
}

// jobCache maps job IDs to what this replica last wrote or read; bounded, emptied when full.
type jobCache struct {
	mu sync.Mutex
	m  map[string]cached
}

const jobCacheSize = 4096

func (c *jobCache) get(id string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *jobCache) put(id string, v cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= jobCacheSize {
		c.m = make(map[string]cached)
	}
	if old, ok := c.m[id]; ok && old.rev > v.rev {
		return // a newer write was recorded first
	}
	c.m[id] = v
}

func (c *jobCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// backoff waits a little (growing with try, with jitter) before a retry after a conflict.
func backoff(ctx context.Context, try int) {
	d := time.Duration(min(try, 10)) * time.Millisecond
	d += time.Duration(time.Now().UnixNano() % int64(time.Millisecond))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func jsonString(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T: %w", v, err)
	}
	return string(data), nil
}
