package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/aksbot/aksbot/internal/aks"
)

// Coordination keys, under the store's prefix. Every key a replica writes here is bound to the
// lease of its session, so a replica that dies or loses etcd for longer than the TTL leaves
// nothing behind, and Close (revoking the lease) frees everything at once.
const (
	membersDir = "members/" // members/<replicaID> = replicaID: the live replicas
	lanesDir   = "lanes/"   // lanes/<clusterKey> = replicaID: who runs that cluster's jobs
	leaderDir  = "leader"   // leader/<lease ID in hex>: the election (concurrency.Election adds "/")
)

// Limits of CoordOptions.LeaseTTL.
const (
	DefaultLeaseTTL = 10 * time.Second
	MinLeaseTTL     = 2 * time.Second
	MaxLeaseTTL     = 60 * time.Second
)

// preferDelay is how long a replica that is not a lane's preferred owner waits before trying to
// acquire it, so that the preferred one (which tries at once) usually wins and lanes spread.
const preferDelay = 300 * time.Millisecond

// CoordMetrics receives the coordinator's state changes; any method may be called from any
// goroutine.
type CoordMetrics interface {
	LanesOwned(n int) // how many lanes this replica owns now
	Leader(is bool)   // whether this replica is the elected one now
	SessionLost()     // the etcd session ended without Close (counted)
}

// CoordOptions tune a Coordinator.
type CoordOptions struct {
	LeaseTTL time.Duration // of the session lease: how long a dead replica keeps its lanes; 0 = 10s
	Logger   *slog.Logger  // nil = discard
	Metrics  CoordMetrics  // nil = none
}

// Coordinator is aks.Coordinator on etcd: one session (a lease kept alive) per replica, lane
// keys and the election key bound to it. When the session ends, everything it owned ends with
// it; the coordinator then makes a new session (with backoff) and the replica rejoins.
type Coordinator struct {
	cli     *clientv3.Client
	prefix  string
	id      string
	ttl     int // seconds
	log     *slog.Logger
	metrics CoordMetrics

	ctx      context.Context // the coordinator's life: NewCoordinator's ctx, until Close
	cancel   context.CancelFunc
	released chan string
	wg       sync.WaitGroup

	mu      sync.Mutex
	sess    *concurrency.Session // nil while the session is lost
	ready   chan struct{}        // closed when sess is set; replaced when it is lost
	lostErr error                // why sess is nil
	closed  bool
	lanes   map[string]*lease // by full key
	leader  *lease

	membersMu  sync.Mutex
	members    []string
	membersAge time.Time
}

var _ aks.Coordinator = (*Coordinator)(nil)

// ErrClosed: the coordinator was closed.
var ErrClosed = errors.New("the coordinator is closed")

// NewCoordinator makes the replica's session and registers it under prefix+"members/". It
// fails when no session can be made within the TTL; later losses are survived (see Ready). The
// coordinator ends when ctx ends (its lease then expires after the TTL) or at Close (at once).
func NewCoordinator(ctx context.Context, cli *clientv3.Client, prefix, replicaID string, o CoordOptions) (*Coordinator, error) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("etcd coordinator: prefix %q must start and end with \"/\"", prefix)
	}
	if replicaID == "" || strings.ContainsAny(replicaID, "/ \t\n") {
		return nil, fmt.Errorf("etcd coordinator: replica ID %q must be non-empty, without \"/\" or spaces", replicaID)
	}
	ttl := o.LeaseTTL
	if ttl == 0 {
		ttl = DefaultLeaseTTL
	}
	if ttl < MinLeaseTTL || ttl > MaxLeaseTTL {
		return nil, fmt.Errorf("etcd coordinator: lease TTL %s is out of range: use %s to %s", ttl, MinLeaseTTL, MaxLeaseTTL)
	}
	c := &Coordinator{
		cli: cli, prefix: prefix, id: replicaID, ttl: int((ttl + time.Second - 1) / time.Second),
		log: o.Logger, metrics: o.Metrics,
		released: make(chan string, 1024),
		ready:    make(chan struct{}),
		lanes:    map[string]*lease{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// The bot's root logger names the replica on every line already (a second "replica" key
	// would repeat it in the JSON).
	if c.metrics == nil {
		c.metrics = nopMetrics{}
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, c.cancel)

	sess, err := c.newSession(ctx)
	if err != nil {
		stop()
		c.cancel()
		return nil, fmt.Errorf("etcd coordinator: %w", err)
	}
	// Watch lane deletions from the revision the session started at, so that none made after
	// NewCoordinator returns is missed.
	resp, err := cli.Get(ctx, prefix+lanesDir, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		stop()
		c.cancel()
		c.revoke(sess)
		return nil, fmt.Errorf("etcd coordinator: read %s: %w", prefix+lanesDir, err)
	}
	c.setSession(sess)
	c.wg.Add(2)
	go c.keepSession(sess)
	go c.watchLanes(resp.Header.Revision)
	return c, nil
}

// ReplicaID names this replica.
func (c *Coordinator) ReplicaID() string { return c.id }

// Released delivers the cluster keys of lanes whose key was deleted: released by their owner
// (this replica's own releases included) or expired with a dead replica's lease. It closes when
// the coordinator ends. The engine also scans for lanes without an owner at start, so nothing
// is sent for lanes that were free before.
func (c *Coordinator) Released() <-chan string { return c.released }

// Ready returns an error while the session is lost ("etcd session lost: ..."): the replica owns
// nothing then and acquires nothing until the coordinator has made a new session.
func (c *Coordinator) Ready(ctx context.Context) error {
	_, err := c.session()
	return err
}

// session returns the live session or why there is none.
func (c *Coordinator) session() (*concurrency.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, ErrClosed
	case c.ctx.Err() != nil:
		// Stopped: the session may not have noticed yet, but nothing here owns work any more.
		return nil, fmt.Errorf("coordinator stopped: %w", c.ctx.Err())
	case c.sess == nil:
		return nil, fmt.Errorf("etcd session lost: %w", c.lostErr)
	}
	select {
	case <-c.sess.Done():
		return nil, errors.New("etcd session lost: its lease ended")
	default:
		return c.sess, nil
	}
}

// waitSession waits until there is a live session.
func (c *Coordinator) waitSession(ctx context.Context) (*concurrency.Session, error) {
	for {
		c.mu.Lock()
		sess, ready, closed := c.sess, c.ready, c.closed
		c.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if sess != nil {
			select {
			case <-sess.Done():
				// keepSession is about to notice; wait for the next session.
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
				continue
			default:
				return sess, nil
			}
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// AcquireLane makes this replica the owner of a cluster's lane if nobody owns it: it creates
// prefix+"lanes/"+clusterKey bound to the session lease, in a transaction that succeeds only if
// the key does not exist. It returns (nil, nil) when another replica owns the lane, and the
// existing lease when this replica already does.
//
// Lanes spread over the replicas by rendezvous hashing of clusterKey over the live members:
// the preferred replica tries at once, the others wait preferDelay (bounded by ctx) first, so
// the preferred one usually wins; if it is busy or dead, another one takes the lane anyway.
//
// The returned lease is what this process believes: a process paused past its TTL (GC, SIGSTOP,
// a slow disk) wakes up still holding a lease whose Done has not closed yet. What actually
// protects the lane is the fence: the store writes a job only if the lane key still has the
// creation revision of Fence(), in the same transaction.
func (c *Coordinator) AcquireLane(ctx context.Context, clusterKey string) (aks.Lease, error) {
	if clusterKey == "" {
		return nil, errors.New("acquire lane: empty cluster key")
	}
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	key := c.prefix + lanesDir + clusterKey
	if l := c.ownedLane(key); l != nil {
		return l, nil
	}

	if preferred := c.preferred(ctx, clusterKey); preferred != c.id {
		// Not ours by preference: do not wait for a lane that is plainly taken.
		resp, err := c.cli.Get(ctx, key, clientv3.WithCountOnly())
		if err != nil {
			return nil, fmt.Errorf("acquire lane %s: read its owner: %w", clusterKey, err)
		}
		if resp.Count > 0 {
			return nil, nil
		}
		t := time.NewTimer(preferDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}

	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, c.id, clientv3.WithLease(sess.Lease()))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("acquire lane %s: %w", clusterKey, err)
	}
	rev := resp.Header.Revision // the Put's revision is the key's creation revision
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 || clientv3.LeaseID(kvs[0].Lease) != sess.Lease() {
			return nil, nil // another replica's (or deleted just now: the Released event follows)
		}
		rev = kvs[0].CreateRevision // ours already, from an earlier call whose lease object is gone
	}
	l := &lease{c: c, key: key, lane: clusterKey, fence: aks.Fence{Key: lanesDir + clusterKey, Revision: rev},
		done: make(chan struct{})}
	if !c.register(sess, l) {
		return nil, errors.New("etcd session lost while acquiring the lane")
	}
	c.log.Debug("lane acquired", "cluster", clusterKey, "revision", rev)
	return l, nil
}

func (c *Coordinator) ownedLane(key string) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.lanes[key]; l != nil && !l.ended() {
		return l
	}
	return nil
}

// register records a lease as owned if sess is still the live session; otherwise the session
// was lost meanwhile and the lease ends at once (its key went with the lease).
func (c *Coordinator) register(sess *concurrency.Session, l *lease) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != sess || c.closed {
		l.end()
		return false
	}
	if l.lane == "" {
		c.leader = l
		c.metrics.Leader(true)
		return true
	}
	if old := c.lanes[l.key]; old != nil && old != l {
		old.end()
	}
	c.lanes[l.key] = l
	c.metrics.LanesOwned(len(c.lanes))
	return true
}

// forget drops a lease that ended.
func (c *Coordinator) forget(l *lease) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.lane == "" {
		if c.leader == l {
			c.leader = nil
			c.metrics.Leader(false)
		}
		return
	}
	if c.lanes[l.key] == l {
		delete(c.lanes, l.key)
		c.metrics.LanesOwned(len(c.lanes))
	}
}

// preferred returns the live member that rendezvous hashing picks for clusterKey: the one with
// the highest hash of (member, key). Members joining or leaving move only their share of lanes.
// When the members cannot be read it returns this replica, which then simply tries at once.
func (c *Coordinator) preferred(ctx context.Context, clusterKey string) string {
	best, bestScore := c.id, score(c.id, clusterKey)
	for _, m := range c.liveMembers(ctx) {
		if s := score(m, clusterKey); s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

func score(member, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(key))
	// FNV's low bits mix poorly for similar inputs; a splitmix64 finish spreads them.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// liveMembers reads the registered replicas, at most once a second.
func (c *Coordinator) liveMembers(ctx context.Context) []string {
	c.membersMu.Lock()
	defer c.membersMu.Unlock()
	if time.Since(c.membersAge) < time.Second {
		return c.members
	}
	dir := c.prefix + membersDir
	resp, err := c.cli.Get(ctx, dir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		c.log.Debug("read the members", "err", err)
		return c.members
	}
	// A new slice: callers keep reading the one returned before.
	members := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		members = append(members, strings.TrimPrefix(string(kv.Key), dir))
	}
	c.members = members
	c.membersAge = time.Now()
	return c.members
}

// Lead campaigns in the election under prefix+"leader/" and returns when this replica leads, or
// ctx ends. It waits through session losses (campaigning again on the new session). The lease's
// Done closes when the leader key is deleted or the session is lost; Release resigns. Like a
// lane's, Done is this process's belief; writes of the elected work carry the fence.
func (c *Coordinator) Lead(ctx context.Context) (aks.Lease, error) {
	retry := newRetryBackoff()
	for {
		sess, err := c.waitSession(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		cur := c.leader
		c.mu.Unlock()
		if cur != nil && !cur.ended() {
			return cur, nil
		}
		l, err := c.campaign(ctx, sess)
		switch {
		case l != nil:
			c.log.Info("elected for bot-wide work", "revision", l.fence.Revision)
			return l, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			if err != nil {
				c.log.Warn("campaign for leadership failed; trying again", "err", err)
			}
			if err := retry.wait(ctx); err != nil {
				return nil, err
			}
		}
	}
}

// campaign runs one campaign on sess. It returns (nil, nil) when the session ended meanwhile.
func (c *Coordinator) campaign(ctx context.Context, sess *concurrency.Session) (*lease, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sess.Ctx(), cancel)
	defer stop()
	e := concurrency.NewElection(sess, c.prefix+leaderDir)
	if err := e.Campaign(cctx, c.id); err != nil {
		if sess.Ctx().Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("campaign: %w", err)
	}
	// Campaign returns once the keys before ours are gone; had our own key vanished with an
	// expiring lease meanwhile, it would still return. Check that the key is there and ours.
	resp, err := c.cli.Get(ctx, e.Key())
	if err != nil {
		return nil, fmt.Errorf("check the leader key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != e.Rev() {
		return nil, nil
	}
	l := &lease{c: c, key: e.Key(), election: e, fence: aks.Fence{Key: strings.TrimPrefix(e.Key(), c.prefix), Revision: e.Rev()},
		done: make(chan struct{})}
	if !c.register(sess, l) {
		return nil, nil
	}
	c.wg.Add(1)
	go c.watchLeader(l, resp.Header.Revision)
	return l, nil
}

// watchLeader ends the leader lease when its key is deleted (by anyone).
func (c *Coordinator) watchLeader(l *lease, rev int64) {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	retry := newRetryBackoff()
	for ctx.Err() == nil {
		wch := c.cli.Watch(clientv3.WithRequireLeader(ctx), l.key, clientv3.WithRev(rev+1), clientv3.WithFilterPut())
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					c.log.Info("leadership lost: the leader key was deleted")
					l.end()
					return
				}
			}
		}
		if ctx.Err() != nil || retry.wait(ctx) != nil {
			return
		}
		// The watch broke (no etcd leader, compaction): look whether the key is still ours.
		resp, err := c.cli.Get(ctx, l.key)
		if err != nil {
			continue
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.fence.Revision {
			l.end()
			return
		}
		rev = resp.Header.Revision
	}
}

// Close gives everything up at once: it revokes the session lease, so the lane keys, the member
// key and the leader key vanish and a survivor takes over without waiting for the TTL. Every
// lease's Done closes and Released closes. Use it on SIGTERM.
func (c *Coordinator) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	sess := c.sess
	c.sess = nil
	c.endAllLocked()
	c.mu.Unlock()

	c.cancel()
	var err error
	if sess != nil {
		sess.Orphan()
		if _, rerr := c.cli.Revoke(ctx, sess.Lease()); rerr != nil {
			err = fmt.Errorf("close the etcd coordinator: revoke lease %x (its keys expire after the TTL instead): %w", sess.Lease(), rerr)
		}
	}
	c.wg.Wait()
	return err
}

// endAllLocked ends every lease; c.mu is held.
func (c *Coordinator) endAllLocked() {
	for k, l := range c.lanes {
		l.end()
		delete(c.lanes, k)
	}
	c.metrics.LanesOwned(0)
	if c.leader != nil {
		c.leader.end()
		c.leader = nil
		c.metrics.Leader(false)
	}
}

// newSession grants a lease (bounded by the TTL, so an unreachable etcd fails the attempt),
// keeps it alive for the coordinator's life, and registers the member key.
func (c *Coordinator) newSession(ctx context.Context) (*concurrency.Session, error) {
	gctx, cancel := context.WithTimeout(ctx, time.Duration(c.ttl)*time.Second)
	defer cancel()
	grant, err := c.cli.Grant(gctx, int64(c.ttl))
	if err != nil {
		return nil, fmt.Errorf("grant a %ds lease: %w", c.ttl, err)
	}
	// The session's keep-alive lives as long as the coordinator, not as this call.
	sess, err := concurrency.NewSession(c.cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(c.ttl),
		concurrency.WithContext(c.ctx))
	if err != nil {
		c.revokeID(grant.ID)
		return nil, fmt.Errorf("keep lease %x alive: %w", grant.ID, err)
	}
	key := c.prefix + membersDir + c.id
	put, err := c.cli.Put(gctx, key, c.id, clientv3.WithLease(sess.Lease()), clientv3.WithPrevKV())
	if err != nil {
		c.revoke(sess)
		return nil, fmt.Errorf("register %s: %w", key, err)
	}
	if put.PrevKv != nil && clientv3.LeaseID(put.PrevKv.Lease) != sess.Lease() {
		if ttl, err := c.cli.TimeToLive(gctx, clientv3.LeaseID(put.PrevKv.Lease)); err == nil && ttl.TTL > 0 {
			c.log.Warn("another process registered the same replica ID; give each replica its own AKSBOT_REPLICA_ID", "key", key)
		}
	}
	c.log.Info("etcd session started", "lease", fmt.Sprintf("%x", sess.Lease()), "ttl", c.ttl)
	return sess, nil
}

// setSession makes sess the live session, unless the coordinator was closed meanwhile.
func (c *Coordinator) setSession(sess *concurrency.Session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sess, c.lostErr = sess, nil
	close(c.ready)
	return true
}

// keepSession waits for the session to end; then it ends every lease at once, reports the loss
// and makes new sessions (with backoff) until one works or the coordinator ends.
func (c *Coordinator) keepSession(sess *concurrency.Session) {
	defer c.wg.Done()
	defer func() {
		// The coordinator's ctx ended (or Close): nothing is owned any more. Without Close the
		// lease is left to expire; the keep-alive stopped with the ctx.
		c.mu.Lock()
		c.endAllLocked()
		c.mu.Unlock()
	}()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-sess.Done():
		}
		if c.ctx.Err() != nil {
			return
		}
		cause := fmt.Errorf("lease %x ended (expired, revoked, or etcd unreachable for longer than the %ds TTL)", sess.Lease(), c.ttl)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.sess, c.lostErr, c.ready = nil, cause, make(chan struct{})
		c.endAllLocked()
		c.mu.Unlock()
		c.metrics.SessionLost()
		c.log.Warn("etcd session lost: this replica gave up its lanes and leadership; rejoining", "err", cause)
		// Should the lease still exist (keep-alive answers lost, not the lease), its keys must go
		// now: the leases that guarded them have ended here.
		c.revokeID(sess.Lease())

		retry := newRetryBackoff()
		for {
			if retry.wait(c.ctx) != nil {
				return
			}
			next, err := c.newSession(c.ctx)
			if err == nil {
				sess = next
				break
			}
			c.mu.Lock()
			c.lostErr = fmt.Errorf("%w; rejoining failed: %w", cause, err)
			c.mu.Unlock()
			c.log.Warn("etcd session: rejoining failed; retrying", "err", err)
		}
		if !c.setSession(sess) {
			c.revoke(sess) // closed while rejoining: Close found no session to revoke
			return
		}
		c.log.Info("etcd session: rejoined")
	}
}

// watchLanes sends deleted lane keys to Released and ends this replica's lease of a lane whose
// key was deleted. After a broken watch it resumes from the last revision seen; past a
// compaction it checks its own lanes instead (the engine's scan covers the others).
func (c *Coordinator) watchLanes(rev int64) {
	defer c.wg.Done()
	defer close(c.released)
	dir := c.prefix + lanesDir
	retry := newRetryBackoff()
	for c.ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(c.ctx))
		wch := c.cli.Watch(wctx, dir, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithFilterPut())
		for wr := range wch {
			if wr.CompactRevision != 0 {
				c.log.Warn("lane watch fell behind a compaction; checking owned lanes", "compacted", wr.CompactRevision)
				rev = c.recheckLanes()
				break
			}
			if wr.Err() != nil {
				c.log.Debug("lane watch broke; resuming", "err", wr.Err())
				break
			}
			retry.reset()
			for _, ev := range wr.Events {
				if ev.Type != mvccpb.DELETE {
					continue
				}
				key := string(ev.Kv.Key)
				c.laneDeleted(key, ev.Kv.ModRevision)
				select {
				case c.released <- strings.TrimPrefix(key, dir):
				case <-c.ctx.Done():
					cancel()
					return
				}
				rev = ev.Kv.ModRevision
			}
			if wr.Header.Revision > rev && len(wr.Events) == 0 {
				rev = wr.Header.Revision // a progress notification
			}
		}
		cancel()
		if retry.wait(c.ctx) != nil {
			return
		}
	}
}

// laneDeleted ends this replica's lease of the lane if the deletion is of the key it created
// (a deletion at a revision before the lease's own creation is of an earlier owner's key).
func (c *Coordinator) laneDeleted(key string, rev int64) {
	c.mu.Lock()
	l := c.lanes[key]
	c.mu.Unlock()
	if l != nil && rev > l.fence.Revision {
		c.log.Info("lane lost: its key was deleted", "cluster", l.lane)
		l.end()
	}
}

// recheckLanes ends the leases of owned lanes whose key is gone or was re-created, and returns
// the revision to watch from.
func (c *Coordinator) recheckLanes() int64 {
	resp, err := c.cli.Get(c.ctx, c.prefix+lanesDir, clientv3.WithPrefix())
	if err != nil {
		return 0 // watch from now
	}
	have := map[string]int64{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = kv.CreateRevision
	}
	c.mu.Lock()
	var gone []*lease
	for k, l := range c.lanes {
		if have[k] != l.fence.Revision {
			gone = append(gone, l)
		}
	}
	c.mu.Unlock()
	for _, l := range gone {
		l.end()
	}
	return resp.Header.Revision
}

func (c *Coordinator) revoke(sess *concurrency.Session) {
	sess.Orphan()
	c.revokeID(sess.Lease())
}

// revokeID revokes a lease, best effort: if etcd cannot be reached, the lease expires anyway.
func (c *Coordinator) revokeID(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 2*time.Second)
	defer cancel()
	if _, err := c.cli.Revoke(ctx, id); err != nil {
		c.log.Debug("revoke lease (it expires by itself)", "lease", fmt.Sprintf("%x", id), "err", err)
	}
}

// leaseID is the current session's lease, for tests.
func (c *Coordinator) leaseID() clientv3.LeaseID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return clientv3.NoLease
	}
	return c.sess.Lease()
}

// lease is ownership of a lane (lane != "") or of the leadership (election != nil).
//
// Done is only what this process believes: it closes when this process notices the loss (the
// session ended, the key was deleted, Release or Close). A process that was paused may run on
// for a moment after another replica took over; the fence in the store's transaction is what
// keeps its writes out.
type lease struct {
	c        *Coordinator
	key      string // full etcd key
	lane     string // cluster key; "" for the leadership
	election *concurrency.Election
	fence    aks.Fence

	once sync.Once
	done chan struct{}
}

func (l *lease) Fence() aks.Fence      { return l.fence }
func (l *lease) Done() <-chan struct{} { return l.done }
func (l *lease) end()                  { l.once.Do(func() { close(l.done); go l.c.forget(l) }) }
func (l *lease) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Release gives the lane or the leadership up: it deletes the key if it is still the one this
// lease created (compare on the creation revision, so a successor's key is never deleted).
func (l *lease) Release(ctx context.Context) error {
	defer l.end()
	if l.ended() {
		return nil
	}
	if l.election != nil {
		if err := l.election.Resign(ctx); err != nil {
			return fmt.Errorf("resign the leadership: %w", err)
		}
		return nil
	}
	_, err := l.c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.fence.Revision)).
		Then(clientv3.OpDelete(l.key)).
		Commit()
	if err != nil {
		return fmt.Errorf("release lane %s: %w", l.lane, err)
	}
	return nil
}

type nopMetrics struct{}

func (nopMetrics) LanesOwned(int) {}
func (nopMetrics) Leader(bool)    {}
func (nopMetrics) SessionLost()   {}

// retryBackoff waits 100 ms, doubling to 5 s, with jitter, between retries.
type retryBackoff struct{ next time.Duration }

func newRetryBackoff() *retryBackoff { return &retryBackoff{next: 100 * time.Millisecond} }

func (b *retryBackoff) reset() { b.next = 100 * time.Millisecond }

func (b *retryBackoff) wait(ctx context.Context) error {
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, 5*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
