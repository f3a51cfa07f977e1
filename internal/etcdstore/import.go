package etcdstore

import (
	"context"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// Imports copy another store's data (the bbolt file, by `aksbot store migrate`) as it is: jobs
// keep their IDs and versions. Each import writes a record only if it is absent, so running a
// migration twice stores everything once.

// Empty reports whether the store holds no data (no key under its schema directory).
func (s *Store) Empty(ctx context.Context) (bool, error) {
	resp, err := s.cli.Get(ctx, s.v, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("etcdstore: count keys: %w", err)
	}
	return resp.Count == 0, nil
}

// ImportJob stores job with its ID and version, its events (with their sequence numbers) and
// its refs, unless a job with that ID is stored already; it reports whether it stored it. The
// job counter is moved past the job's ID in the same transaction as the job, so jobs made later
// get higher IDs.
func (s *Store) ImportJob(ctx context.Context, job aks.Job, events []aks.Event, refs map[string]string) (bool, error) {
	ok, err := s.importJob(ctx, job, events, refs)
	if err != nil {
		return false, fmt.Errorf("etcdstore: import job %s: %w", job.ID, err)
	}
	return ok, nil
}

func (s *Store) importJob(ctx context.Context, job aks.Job, events []aks.Event, refs map[string]string) (bool, error) {
	n, err := parseID(job.ID)
	if err != nil {
		return false, err
	}
	key := s.jobKey(n)
	resp, err := s.cli.Get(ctx, key, clientv3.WithKeysOnly())
	if err != nil {
		return false, err
	}
	if len(resp.Kvs) > 0 {
		return false, nil
	}
	// Events and refs first, in pages (a job may have more than one transaction takes); the
	// job itself last, so that a job is visible only with all of them. A run cut short leaves
	// events without a job, which the next run writes again.
	var ops []clientv3.Op
	var last int64
	for _, ev := range events {
		if ev.JobID != job.ID || ev.Seq < 1 {
			return false, fmt.Errorf("event %d names job %q", ev.Seq, ev.JobID)
		}
		data, err := jsonString(ev)
		if err != nil {
			return false, err
		}
		ops = append(ops, clientv3.OpPut(s.eventsPrefix(n)+pad(uint64(ev.Seq)), data))
		last = max(last, ev.Seq)
	}
	for name, value := range refs {
		ops = append(ops, clientv3.OpPut(s.refsPrefix(n)+name, value))
	}
	for len(ops) > 0 {
		page := ops[:min(len(ops), maxOps)]
		ops = ops[len(page):]
		if _, err := s.cli.Txn(ctx).Then(page...).Commit(); err != nil {
			return false, err
		}
	}
	data, err := encodeRecord(record{Job: job, Events: last})
	if err != nil {
		return false, err
	}
	put := []clientv3.Op{clientv3.OpPut(key, data)}
	if !job.State.Final() {
		put = append(put, clientv3.OpPut(s.activeKey(job, n), string(job.State)))
	}
	return s.putPastCounter(ctx, s.jobSeqKey(), n, key, put)
}

// putPastCounter runs ops if key is absent, moving the counter at seqKey to at least n in the
// same transaction; it reports whether it wrote (false: key exists).
func (s *Store) putPastCounter(ctx context.Context, seqKey string, n uint64, key string, ops []clientv3.Op) (bool, error) {
	for try := 0; ; try++ {
		if try > 0 {
			backoff(ctx, try)
		}
		resp, err := s.cli.Get(ctx, seqKey)
		if err != nil {
			return false, err
		}
		var cur uint64
		var rev int64
		if len(resp.Kvs) == 1 {
			if cur, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return false, fmt.Errorf("unreadable counter %s: %q", seqKey, resp.Kvs[0].Value)
			}
			rev = resp.Kvs[0].ModRevision
		}
		all := ops
		if n > cur {
			all = append(append([]clientv3.Op{}, ops...), clientv3.OpPut(seqKey, strconv.FormatUint(n, 10)))
		}
		tresp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
				clientv3.Compare(clientv3.ModRevision(seqKey), "=", rev)).
			Then(all...).
			Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
			Commit()
		if err != nil {
			return false, err
		}
		if tresp.Succeeded {
			if seqKey == s.jobSeqKey() {
				s.seqMu.Lock()
				s.jobSeq.val, s.jobSeq.rev = 0, 0 // re-read on the next CreateJob
				s.seqMu.Unlock()
			}
			return true, nil
		}
		if len(tresp.Responses[0].GetResponseRange().GetKvs()) > 0 {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
}

// ImportAudit appends records copied from another store, in the order given, and returns how
// many it stored. A record already imported (same time and source Seq) is skipped. Each record
// is its own transaction because a record's Seq here is the revision that stored it: one
// transaction per record keeps the source's order.
func (s *Store) ImportAudit(ctx context.Context, recs []aks.AuditRecord) (int, error) {
	stored := 0
	for _, rec := range recs {
		op, err := s.auditPut(rec, "m"+pad(rec.Seq))
		if err != nil {
			return stored, fmt.Errorf("etcdstore: import audit record %d: %w", rec.Seq, err)
		}
		key := s.auditKey(rec.At, "m"+pad(rec.Seq))
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(op).Commit()
		if err != nil {
			return stored, fmt.Errorf("etcdstore: import audit record %d: %w", rec.Seq, err)
		}
		if resp.Succeeded {
			stored++
		}
	}
	return stored, nil
}

// ImportOutbox stores one job's outbox state and pending entries (with their IDs) unless the
// job has an outbox here already; it reports whether it stored them. The entry counter is
// moved past the highest ID in the same transaction.
func (s *Store) ImportOutbox(ctx context.Context, jobID string, state []byte, entries []aks.OutboxEntry) (bool, error) {
	stateKey := s.outboxStateKey(jobID)
	ops := []clientv3.Op{clientv3.OpPut(stateKey, encodeState(state))}
	var head, top uint64
	for _, e := range entries {
		if e.ID == 0 {
			return false, fmt.Errorf("etcdstore: import outbox of job %s: entry without ID", jobID)
		}
		ops = append(ops, clientv3.OpPut(s.outboxEntriesPrefix(jobID)+pad(e.ID), string(e.Body)))
		if head == 0 || e.ID < head {
			head = e.ID
		}
		top = max(top, e.ID)
	}
	if head != 0 {
		ops = append(ops, clientv3.OpPut(s.outboxHeadKey(jobID), strconv.FormatUint(head, 10)))
	}
	if len(ops)+1 > maxOps {
		return false, fmt.Errorf("etcdstore: import outbox of job %s: %d entries, more than one transaction takes", jobID, len(entries))
	}
	ok, err := s.putPastCounter(ctx, s.outboxSeqKey(), top, stateKey, ops)
	if err != nil {
		return false, fmt.Errorf("etcdstore: import outbox of job %s: %w", jobID, err)
	}
	return ok, nil
}
