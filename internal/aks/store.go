package aks

import (
	"context"
	"errors"
	"slices"
	"time"
)

// The store ports: everything aksbot persists goes through them, so that the embedded bbolt
// file and the etcd backend (several replicas) are interchangeable. Backends import this
// package; nothing outside a backend imports bbolt or the etcd client.

var (
	// ErrNotFound: no job with that ID.
	ErrNotFound = errors.New("job not found")
	// ErrConflict: the job changed since it was read (compare-and-swap failed).
	ErrConflict = errors.New("job changed concurrently")
	// ErrFenced: the write carried a Fence (WithFence) that no longer holds: another replica
	// owns the lane (or the outbox) now. Nothing was stored. The writer must stop working on
	// what the fence guarded and send nothing more for it: since a job is stored as "sending"
	// before its request leaves, a refused write is what keeps a deposed owner from sending.
	ErrFenced = errors.New("this replica no longer owns the work it wrote for")
	// ErrNewerSchema: the store was written by a newer aksbot.
	ErrNewerSchema = errors.New("the store was written by a newer aksbot")
)

// Filter selects jobs. The zero Filter selects all jobs.
type Filter struct {
	States     []JobState // any of these; empty = any state
	ClusterKey string     // Target.ClusterKey(); empty = any cluster
	Requester  string     // user ID; empty = anyone
	Limit      int        // the newest Limit matching jobs (still returned oldest first); 0 = no limit
}

// Matches reports whether the filter selects job (Limit aside).
func (f Filter) Matches(job Job) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, job.State) {
		return false
	}
	if f.ClusterKey != "" && job.Op.Target.ClusterKey() != f.ClusterKey {
		return false
	}
	if f.Requester != "" && job.Requester.ID != f.Requester {
		return false
	}
	return true
}

// OnlyUnfinished reports whether every state the filter asks for is non-final, so that a
// backend's index of unfinished jobs holds every job that can match.
func (f Filter) OnlyUnfinished() bool {
	if len(f.States) == 0 {
		return false
	}
	for _, s := range f.States {
		if s.Final() {
			return false
		}
	}
	return true
}

// AuditFilter selects audit records. The zero AuditFilter selects all of them.
type AuditFilter struct {
	Since      time.Time // records at or after Since; zero = from the start
	ClusterKey string    // Target.ClusterKey(); empty = any cluster (and records without one)
	Limit      int       // the newest Limit matching records (still returned oldest first); 0 = no limit
}

// JobStore keeps jobs, their events and the chat transport's message references.
type JobStore interface {
	// CreateJob assigns job.ID (the next decimal number of a sequence shared by all replicas,
	// so that IDs order jobs by creation), sets Version to 1 and stores the job together with
	// its first event, in one transaction. It returns the stored job.
	CreateJob(ctx context.Context, job Job, ev Event) (Job, error)
	// UpdateJob stores job if the stored version still equals job.Version (else ErrConflict)
	// and ctx's fence, if any, still holds (else ErrFenced), bumps Version, and appends ev (if
	// not nil) in the same transaction, setting ev.JobID and ev.Seq. It returns the stored job.
	UpdateJob(ctx context.Context, job Job, ev *Event) (Job, error)
	// Job returns one job, or an error matching ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// Jobs returns the jobs the filter selects, oldest first.
	Jobs(ctx context.Context, f Filter) ([]Job, error)
	// Events returns a job's events in order.
	Events(ctx context.Context, jobID string) ([]Event, error)
	// SetRef stores a transport's reference for a job (for Slack: "parent" -> message ts).
	SetRef(ctx context.Context, jobID, name, value string) error
	// Refs returns all references stored for a job.
	Refs(ctx context.Context, jobID string) (map[string]string, error)
}

// AuditStore is the append-only audit trail. The store records every stored job event itself
// (in the same transaction as the event); AppendAudit adds what has no event.
type AuditStore interface {
	// AppendAudit appends a record; the store assigns rec.Seq. Records are never changed.
	AppendAudit(ctx context.Context, rec AuditRecord) error
	// Audit returns the records f selects, oldest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
}

// Claims de-duplicates deliveries that may reach any replica (Slack envelopes and trigger IDs).
type Claims interface {
	// Claim records key unless it is already recorded and younger than ttl, and reports
	// whether this call recorded it: true means "first: handle it", false "already handled".
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// OutboxEntry is one stored message of a chat transport waiting for delivery.
type OutboxEntry struct {
	ID    uint64 // from OutboxTx.NextID: increasing across all jobs, so heads are in order
	JobID string
	Body  []byte // the transport's encoding
}

// OutboxHead is the first pending entry of one job's outbox, with the job's outbox state.
type OutboxHead struct {
	Entry OutboxEntry
	State []byte
}

// OutboxStore keeps a chat transport's undelivered messages per job until they are delivered,
// so that an outage or a crash loses none and a delivered one is never sent again.
type OutboxStore interface {
	// UpdateOutbox runs fn on one job's outbox in a single transaction and stores what fn did
	// when it returns nil. fn may be called more than once (optimistic backends retry it when
	// another writer changed the same outbox meanwhile), so it must have no other effects. A
	// fence in ctx is checked in the same transaction (ErrFenced).
	UpdateOutbox(ctx context.Context, jobID string, fn func(tx OutboxTx) error) error
	// OutboxHeads returns the first pending entry of every job that has one, ordered by entry
	// ID, with each job's outbox state.
	OutboxHeads(ctx context.Context) ([]OutboxHead, error)
	// OutboxState returns one job's outbox state (nil when it has none) and its pending
	// entries, by ID.
	OutboxState(ctx context.Context, jobID string) ([]byte, []OutboxEntry, error)
	// OutboxLen returns how many entries are pending over all jobs.
	OutboxLen(ctx context.Context) (int, error)
}

// OutboxTx is one job's outbox inside an UpdateOutbox transaction.
type OutboxTx interface {
	// State returns the job's outbox state, nil when it has none.
	State() []byte
	// SetState replaces the job's outbox state.
	SetState(state []byte)
	// Entries returns the job's pending entries (as changed so far in this transaction), by ID.
	Entries() []OutboxEntry
	// NextID reserves the next entry ID.
	NextID() (uint64, error)
	// Put adds or replaces an entry of this job (an empty JobID is taken as this job).
	Put(e OutboxEntry)
	// Delete removes an entry of this job; removing a missing one does nothing.
	Delete(id uint64)
}

// Fence is the proof of ownership a write carries. A backend shared by several replicas stores
// a write whose context carries a fence only if, in the same transaction, the fence's key
// still exists with the creation revision it had when it was acquired; else ErrFenced. A
// backend used by one process only (the bbolt file) has nothing to fence and ignores it.
type Fence struct {
	Key      string // the ownership key, relative to the backend's prefix ("lanes/rg/demo")
	Revision int64  // the key's creation revision when this replica acquired it
}

type fenceKey struct{}

// WithFence returns a context whose store writes are fenced by f.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceFrom returns the fence ctx carries, if any.
func FenceFrom(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}

// JobChange tells that a job was stored by this or another replica.
type JobChange struct {
	ID         string
	ClusterKey string
	State      JobState
	// Resync: changes may have been missed (the watch restarted past a compaction); the
	// receiver should look at all unfinished jobs again. The other fields are empty.
	Resync bool
}

// JobWatcher tells a replica about jobs stored by any replica, so that a job queued through
// one replica reaches the lane owner on another without polling.
type JobWatcher interface {
	// WatchJobs sends every job change stored after the call, in store order, until ctx ends;
	// then it closes the channel. A slow receiver may see changes coalesced or a Resync.
	WatchJobs(ctx context.Context) <-chan JobChange
}

// Coordinator shares the work between replicas: each cluster's lane (the queue that runs one
// operation at a time) is owned by one replica, and bot-wide work (approval expiry,
// redelivery of final reports, the outbox deliverer, the jobs gauge) runs on one elected
// replica. With one replica every call succeeds at once.
type Coordinator interface {
	// ReplicaID names this replica in logs and in /aks job.
	ReplicaID() string
	// AcquireLane tries to make this replica the owner of a cluster's lane. It returns
	// (nil, nil) when another replica owns it: that one runs its jobs.
	AcquireLane(ctx context.Context, clusterKey string) (Lease, error)
	// Released delivers the cluster keys of lanes whose owner gave them up or died, so that a
	// replica can take them over. The channel closes when ctx (of the coordinator) ends.
	Released() <-chan string
	// Lead blocks until this replica is elected for bot-wide work, or ctx ends. The lease ends
	// when the replica loses its session.
	Lead(ctx context.Context) (Lease, error)
	// Ready reports an error while this replica cannot own work (its session is lost).
	Ready(ctx context.Context) error
}

// Lease is ownership of a lane or of the leadership.
type Lease interface {
	// Fence is what writes made under this lease carry (WithFence).
	Fence() Fence
	// Done is closed when the lease is lost (session expired, revoked, or released).
	Done() <-chan struct{}
	// Release gives the lease up at once, so that another replica may take it.
	Release(ctx context.Context) error
}

// Cache keeps what was read from elsewhere and can be read again (list prices), shared by the
// replicas so that each price is fetched once a day rather than once per replica.
type Cache interface {
	// CachePut stores value under key until ttl has passed (ttl > 0), replacing what was there.
	// A backend may drop entries early; they are not part of any job.
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// CacheGet returns the value stored under key and true, or nil and false when there is none
	// or it expired. An error means the backend failed, never a miss.
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
}
