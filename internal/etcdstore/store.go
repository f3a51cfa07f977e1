// Package etcdstore keeps aksbot's jobs, their events, the chat transports' message references,
// the audit log, delivery claims and the chat outbox in etcd, so that several replicas of the
// bot can share them. It implements the store ports of package aks; the bbolt file (package
// store) stays the embedded default.
//
// Keys, under the prefix given to Open (P, such as "/aksbot/"), and the schema version's
// directory V = P+"v1/" (a later schema gets its own directory, so an older aksbot never reads
// records it does not understand):
//
//	P+"schema"                         decimal schema version (refused when newer than this aksbot's)
//	V+"seq/jobs"                       last job ID handed out (compare-and-swap counter)
//	V+"seq/outbox"                     last outbox entry ID handed out
//	V+"jobs/<20-digit id>"             JSON {"job": aks.Job, "events": n}: n events stored so far
//	V+"active/<cluster>/<20-digit id>" state, for unfinished jobs only (cluster path-escaped)
//	V+"events/<20-digit id>/<20-digit seq>"  JSON aks.Event
//	V+"refs/<20-digit id>/<name>"      value
//	V+"audit/<20-digit unix ns>/<tag>" JSON aks.AuditRecord; Seq is the key's etcd revision
//	V+"claims/<key>"                   empty, bound to a lease of the claim's TTL
//	V+"outbox/jobs/<job>"              the job's outbox state (written on every outbox commit)
//	V+"outbox/entries/<job>/<20-digit entry id>"  entry body
//	V+"outbox/heads/<job>"             decimal ID of the job's first pending entry
//
// Other files of this package (client.go, coord.go) connect to etcd and keep the lanes and
// the leader under P+"lanes/" and P+"leader/"; fences name those keys.
package etcdstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// schemaVersion is the version of the key layout this aksbot writes and reads.
const schemaVersion = 1

// Options configures a Store. The zero value is usable.
type Options struct {
	Logger *slog.Logger // nil: no logs
	// Observe, if set, is told how long each store operation took ("update_job", ...), for
	// latency metrics.
	Observe func(op string, d time.Duration)
}

// Store is the etcd-backed aks.JobStore, aks.AuditStore, aks.Claims, aks.OutboxStore and
// aks.JobWatcher. It is safe for concurrent use, also by several processes on one prefix.
type Store struct {
	cli     *clientv3.Client
	prefix  string // as given to Open
	v       string // prefix + "v1/"
	log     *slog.Logger
	observe func(op string, d time.Duration)

	cache    jobCache
	createMu sync.Mutex // CreateJob of this replica, one at a time
	seqMu    sync.Mutex // guards jobSeq
	// jobSeq is the last seen value and mod revision of the job counter, so that CreateJob
	// usually needs one round trip.
	jobSeq struct{ val, rev int64 }

	leases    leaseCache
	outboxIDs outboxIDs

	instance  string        // random, names this Store in the audit keys it makes
	auditTags atomic.Uint64 // counts them

	ctx    context.Context // ends on Close: stops watches
	cancel context.CancelFunc
}

var (
	_ aks.JobStore    = (*Store)(nil)
	_ aks.AuditStore  = (*Store)(nil)
	_ aks.Claims      = (*Store)(nil)
	_ aks.OutboxStore = (*Store)(nil)
	_ aks.JobWatcher  = (*Store)(nil)
)

// Open checks (or, in an empty prefix, records) the schema version under prefix and returns
// the store. A prefix written by a newer aksbot is refused with an error matching
// aks.ErrNewerSchema. The client stays the caller's: Close does not close it.
func Open(ctx context.Context, cli *clientv3.Client, prefix string, opts Options) (*Store, error) {
	if cli == nil {
		return nil, errors.New("etcdstore: open: no etcd client")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		cli: cli, prefix: prefix, v: prefix + "v" + strconv.Itoa(schemaVersion) + "/",
		log: log, observe: opts.Observe,
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("etcdstore: open %s: %w", prefix, err)
	}
	s.instance = hex.EncodeToString(id[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.checkSchema(ctx, schemaVersion); err != nil {
		s.cancel()
		return nil, fmt.Errorf("etcdstore: open %s: %w", prefix, err)
	}
	log.Debug("etcd store opened", "prefix", prefix, "schema", schemaVersion)
	return s, nil
}

// checkSchema records version in an empty prefix, or checks the version recorded there.
func (s *Store) checkSchema(ctx context.Context, version int) error {
	key := s.prefix + "schema"
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(version))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if resp.Succeeded {
		s.log.Info("etcdstore: new store", "prefix", s.prefix, "schema", version)
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return errors.New("schema version vanished while read")
	}
	v, err := strconv.Atoi(string(kvs[0].Value))
	if err != nil || v < 1 {
		return fmt.Errorf("unreadable schema version %q", kvs[0].Value)
	}
	if v > version {
		return &aks.Error{
			Code: aks.EUnavailable,
			Message: fmt.Sprintf("the etcd prefix %s was written by a newer aksbot: it has schema version %d and this aksbot reads versions up to %d",
				s.prefix, v, version),
			Hint: "run the newer aksbot, or give this one its own prefix",
			Err:  aks.ErrNewerSchema,
		}
	}
	// An older version would be migrated here; version 1 is the first.
	return nil
}

// Close stops the store's watches. It does not close the client given to Open.
func (s *Store) Close() error {
	s.cancel()
	return nil
}

// Probe reads the schema key through the etcd leader (a linearizable read is a real round
// trip through the cluster), for readiness checks: a replica that cannot reach a quorum must
// not take commands it could not track.
func (s *Store) Probe(ctx context.Context) error {
	defer s.timed("probe")()
	if _, err := s.cli.Get(ctx, s.prefix+"schema"); err != nil {
		return fmt.Errorf("etcdstore: probe: %w", err)
	}
	return nil
}

// timed returns a function that reports the time since the call to Options.Observe.
func (s *Store) timed(op string) func() {
	if s.observe == nil {
		return func() {}
	}
	start := time.Now()
	return func() { s.observe(op, time.Since(start)) }
}

// fenceCmp returns the comparison that makes a write conditional on ctx's fence, if any.
func (s *Store) fenceCmp(ctx context.Context) (clientv3.Cmp, string, bool) {
	f, ok := aks.FenceFrom(ctx)
	if !ok {
		return clientv3.Cmp{}, "", false
	}
	key := s.prefix + f.Key
	return clientv3.Compare(clientv3.CreateRevision(key), "=", f.Revision), key, true
}

// fenceHolds tells from a failed transaction's Get of the fence key whether the fence still
// holds.
func fenceHolds(ctx context.Context, r *etcdserverpb.ResponseOp) bool {
	f, _ := aks.FenceFrom(ctx)
	kvs := r.GetResponseRange().GetKvs()
	return len(kvs) == 1 && kvs[0].CreateRevision == f.Revision
}

// Key helpers. IDs are zero-padded to 20 digits so that keys sort like numbers.

func pad(n uint64) string { return fmt.Sprintf("%020d", n) }

func (s *Store) jobsPrefix() string { return s.v + "jobs/" }

func (s *Store) jobKey(n uint64) string { return s.v + "jobs/" + pad(n) }

func (s *Store) eventsPrefix(n uint64) string { return s.v + "events/" + pad(n) + "/" }

func (s *Store) refsPrefix(n uint64) string { return s.v + "refs/" + pad(n) + "/" }

func (s *Store) jobSeqKey() string { return s.v + "seq/jobs" }
