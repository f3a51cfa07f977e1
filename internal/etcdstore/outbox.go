package etcdstore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// The outbox: per job, a state key written by every commit (its mod revision is the job's
// outbox version, which a commit compares, so two writers of one job's outbox serialize), the
// pending entries under the job, and a heads index naming the jobs with pending entries and
// their first entry, so that OutboxHeads reads only those. Entry IDs come from one counter key,
// but a replica takes them a block at a time (outboxIDs): a commit that compared the counter
// would make every outbox write of every job and replica wait for the others (300 jobs picked up
// at once took 10 s and some gave up). An ID is also above every pending entry of its job, so a
// job's entries keep their order whichever replica numbered them.

// outboxTries bounds UpdateOutbox's optimistic retries.
const outboxTries = 50

func (s *Store) outboxStateKey(jobID string) string {
	return s.v + "outbox/jobs/" + url.PathEscape(jobID)
}

func (s *Store) outboxEntriesPrefix(jobID string) string {
	return s.v + "outbox/entries/" + url.PathEscape(jobID) + "/"
}

func (s *Store) outboxHeadKey(jobID string) string {
	return s.v + "outbox/heads/" + url.PathEscape(jobID)
}

func (s *Store) outboxSeqKey() string { return s.v + "seq/outbox" }

// The state key's value: "n" when the job has no state (nil), "s"+state otherwise.
func encodeState(state []byte) string {
	if state == nil {
		return "n"
	}
	return "s" + string(state)
}

func decodeState(v []byte) []byte {
	if len(v) == 0 || v[0] != 's' {
		return nil
	}
	return append([]byte{}, v[1:]...)
}

// outboxTx buffers one UpdateOutbox run's writes and remembers the revisions it read.
type outboxTx struct {
	ctx      context.Context
	s        *Store
	jobID    string
	state    []byte
	stateRev int64 // mod revision of the state key (0: absent)
	entries  map[uint64]aks.OutboxEntry
	written  map[uint64]bool // entries put or deleted (true: put)
	dirty    bool
}

func (t *outboxTx) State() []byte { return t.state }

func (t *outboxTx) SetState(state []byte) {
	t.state = state
	t.dirty = true
}

func (t *outboxTx) Entries() []aks.OutboxEntry {
	out := make([]aks.OutboxEntry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b aks.OutboxEntry) int { return cmpUint(a.ID, b.ID) })
	return out
}

// NextID takes the next ID of this replica's block, raised above the job's pending entries if
// need be (another replica's block may be ahead of this one's): the job's entries are delivered
// in ID order, and its state key's compare serializes the writers of one job.
func (t *outboxTx) NextID() (uint64, error) {
	id, err := t.s.outboxIDs.take(t.ctx, t.s)
	if err != nil {
		return 0, fmt.Errorf("number outbox entry: %w", err)
	}
	for pending := range t.entries {
		id = max(id, pending+1)
	}
	t.dirty = true
	return id, nil
}

// outboxIDBlock is how many entry IDs a replica takes from the counter at once.
const outboxIDBlock = 256

// outboxIDs hands out entry IDs from blocks taken from the counter key by compare-and-swap.
type outboxIDs struct {
	mu         sync.Mutex
	free, last uint64 // the block in hand: free..last
}

func (a *outboxIDs) take(ctx context.Context, s *Store) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == 0 || a.free > a.last {
		for try := 0; ; try++ {
			resp, err := s.cli.Get(ctx, s.outboxSeqKey())
			if err != nil {
				return 0, err
			}
			var cur uint64
			var rev int64
			if len(resp.Kvs) == 1 {
				if cur, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
					return 0, fmt.Errorf("unreadable outbox entry counter %q", resp.Kvs[0].Value)
				}
				rev = resp.Kvs[0].ModRevision
			}
			top := cur + outboxIDBlock
			tr, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.outboxSeqKey()), "=", rev)).
				Then(clientv3.OpPut(s.outboxSeqKey(), strconv.FormatUint(top, 10))).Commit()
			if err != nil {
				return 0, err
			}
			if tr.Succeeded {
				a.free, a.last = cur+1, top
				break
			}
			if try >= outboxTries {
				return 0, fmt.Errorf("take a block of outbox entry IDs: %w after %d tries", aks.ErrConflict, outboxTries)
			}
			backoff(ctx, try+1)
		}
	}
	id := a.free
	a.free++
	return id, nil
}

func (t *outboxTx) Put(e aks.OutboxEntry) {
	e.JobID = t.jobID
	e.Body = append([]byte{}, e.Body...)
	t.entries[e.ID] = e
	t.written[e.ID] = true
	t.dirty = true
}

func (t *outboxTx) Delete(id uint64) {
	if _, ok := t.entries[id]; !ok {
		return
	}
	delete(t.entries, id)
	t.written[id] = false
	t.dirty = true
}

// UpdateOutbox runs fn on one job's outbox and commits what it did in one transaction that
// compares the revisions fn's reads saw (and ctx's fence); when another writer changed them
// meanwhile, fn runs again on what is stored now, up to outboxTries times.
func (s *Store) UpdateOutbox(ctx context.Context, jobID string, fn func(tx aks.OutboxTx) error) error {
	defer s.timed("update_outbox")()
	for try := 0; try < outboxTries; try++ {
		if try > 0 {
			backoff(ctx, try)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("etcdstore: update outbox of job %s: %w", jobID, err)
		}
		done, err := s.tryUpdateOutbox(ctx, jobID, fn)
		if err != nil {
			return fmt.Errorf("etcdstore: update outbox of job %s: %w", jobID, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("etcdstore: update outbox of job %s: %w after %d tries", jobID, aks.ErrConflict, outboxTries)
}

// tryUpdateOutbox runs fn once and commits; false means another writer came first.
func (s *Store) tryUpdateOutbox(ctx context.Context, jobID string, fn func(tx aks.OutboxTx) error) (bool, error) {
	stateKey := s.outboxStateKey(jobID)
	prefix := s.outboxEntriesPrefix(jobID)
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(stateKey),
		clientv3.OpGet(prefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return false, err
	}
	tx := &outboxTx{ctx: ctx, s: s, jobID: jobID, entries: map[uint64]aks.OutboxEntry{}, written: map[uint64]bool{}}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
		tx.state, tx.stateRev = decodeState(kvs[0].Value), kvs[0].ModRevision
	}
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		e, err := decodeEntry(kv, prefix, jobID)
		if err != nil {
			return false, err
		}
		tx.entries[e.ID] = e
	}
	if err := fn(tx); err != nil {
		return false, err
	}
	if !tx.dirty {
		return true, nil
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(stateKey), "=", tx.stateRev)}
	ops := []clientv3.Op{clientv3.OpPut(stateKey, encodeState(tx.state))}
	for id, put := range tx.written {
		if put {
			ops = append(ops, clientv3.OpPut(prefix+pad(id), string(tx.entries[id].Body)))
		} else {
			ops = append(ops, clientv3.OpDelete(prefix+pad(id)))
		}
	}
	if head := tx.Entries(); len(head) > 0 {
		ops = append(ops, clientv3.OpPut(s.outboxHeadKey(jobID), strconv.FormatUint(head[0].ID, 10)))
	} else {
		ops = append(ops, clientv3.OpDelete(s.outboxHeadKey(jobID)))
	}
	if len(ops) > maxOps {
		return false, fmt.Errorf("%d writes in one outbox transaction, more than etcd takes (%d)", len(ops), maxOps)
	}
	var elseOps []clientv3.Op
	// The fence: a deposed deliverer's commit (say, marking an entry sent) is refused, so it
	// stops; the new owner sees the entry still pending.
	fcmp, fkey, fenced := s.fenceCmp(ctx)
	if fenced {
		cmps = append(cmps, fcmp)
		elseOps = append(elseOps, clientv3.OpGet(fkey, clientv3.WithKeysOnly()))
	}
	cresp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	if err != nil {
		return false, err
	}
	if !cresp.Succeeded && fenced && !fenceHolds(ctx, cresp.Responses[0]) {
		return false, aks.ErrFenced
	}
	return cresp.Succeeded, nil
}

func decodeEntry(kv *mvccpb.KeyValue, prefix, jobID string) (aks.OutboxEntry, error) {
	id, err := strconv.ParseUint(string(kv.Key)[len(prefix):], 10, 64)
	if err != nil {
		return aks.OutboxEntry{}, fmt.Errorf("bad outbox entry key %s", kv.Key)
	}
	return aks.OutboxEntry{ID: id, JobID: jobID, Body: kv.Value}, nil
}

// OutboxHeads returns the first pending entry of every job that has one, by entry ID, with
// each job's state. It reads the heads index, then the heads and states in batched
// transactions at the index's revision.
func (s *Store) OutboxHeads(ctx context.Context) ([]aks.OutboxHead, error) {
	defer s.timed("outbox_heads")()
	out, err := s.outboxHeads(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: outbox heads: %w", err)
	}
	return out, nil
}

func (s *Store) outboxHeads(ctx context.Context) ([]aks.OutboxHead, error) {
	headsPrefix := s.v + "outbox/heads/"
	kvs, rev, err := s.rangeAll(ctx, headsPrefix, 0)
	if err != nil {
		return nil, err
	}
	var out []aks.OutboxHead
	for len(kvs) > 0 {
		batch := kvs[:min(len(kvs), maxOps/2)]
		kvs = kvs[len(batch):]
		var ops []clientv3.Op
		var jobIDs []string
		for _, kv := range batch {
			jobID, err := url.PathUnescape(string(kv.Key)[len(headsPrefix):])
			if err != nil {
				return nil, fmt.Errorf("bad outbox head key %s", kv.Key)
			}
			id, err := strconv.ParseUint(string(kv.Value), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("outbox head %s: bad entry ID %q", kv.Key, kv.Value)
			}
			jobIDs = append(jobIDs, jobID)
			ops = append(ops,
				clientv3.OpGet(s.outboxEntriesPrefix(jobID)+pad(id), clientv3.WithRev(rev)),
				clientv3.OpGet(s.outboxStateKey(jobID), clientv3.WithRev(rev)))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, err
		}
		for i, jobID := range jobIDs {
			ekvs := resp.Responses[2*i].GetResponseRange().GetKvs()
			if len(ekvs) == 0 {
				return nil, fmt.Errorf("the outbox head of job %s names a missing entry", jobID)
			}
			e, err := decodeEntry(ekvs[0], s.outboxEntriesPrefix(jobID), jobID)
			if err != nil {
				return nil, err
			}
			h := aks.OutboxHead{Entry: e}
			if skvs := resp.Responses[2*i+1].GetResponseRange().GetKvs(); len(skvs) == 1 {
				h.State = decodeState(skvs[0].Value)
			}
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b aks.OutboxHead) int { return cmpUint(a.Entry.ID, b.Entry.ID) })
	return out, nil
}

// OutboxState returns one job's outbox state (nil when it has none) and its pending entries.
func (s *Store) OutboxState(ctx context.Context, jobID string) ([]byte, []aks.OutboxEntry, error) {
	defer s.timed("outbox_state")()
	prefix := s.outboxEntriesPrefix(jobID)
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.outboxStateKey(jobID)),
		clientv3.OpGet(prefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, nil, fmt.Errorf("etcdstore: outbox of job %s: %w", jobID, err)
	}
	var state []byte
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
		state = decodeState(kvs[0].Value)
	}
	var entries []aks.OutboxEntry
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		e, err := decodeEntry(kv, prefix, jobID)
		if err != nil {
			return nil, nil, fmt.Errorf("etcdstore: outbox of job %s: %w", jobID, err)
		}
		entries = append(entries, e)
	}
	return state, entries, nil
}

// OutboxLen returns how many entries are pending over all jobs (a count-only range read).
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	defer s.timed("outbox_len")()
	resp, err := s.cli.Get(ctx, s.v+"outbox/entries/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcdstore: outbox length: %w", err)
	}
	return int(resp.Count), nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
