package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Claim records key unless it is already recorded and younger than ttl, and reports whether
// this call recorded it. The key is created only if absent, bound to a lease, so etcd removes
// it when the lease expires.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	defer s.timed("claim")()
	ok, err := s.claim(ctx, key, ttl)
	if err != nil {
		return false, fmt.Errorf("etcdstore: claim %q: %w", key, err)
	}
	return ok, nil
}

func (s *Store) claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("ttl %v is not positive", ttl)
	}
	if key == "" {
		return false, errors.New("empty key")
	}
	k := s.v + "claims/" + url.PathEscape(key)
	for try := 0; ; try++ {
		lease, err := s.leases.get(ctx, s.cli, ttl)
		if err != nil {
			return false, err
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, "", clientv3.WithLease(lease))).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && try == 0 {
			s.leases.forget(lease) // expired or revoked under us: grant a new one
			continue
		}
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	}
}

// leaseCache shares one lease among the claims of one TTL made within a short window, so that
// a busy bot holds a few leases rather than one per delivery. A lease granted at g with TTL
// ttl+w is used only until g+w: every key bound to it then lives at least ttl (and at most
// ttl+w, so a claim is forgotten a little late, never early).
type leaseCache struct {
	mu sync.Mutex
	m  map[int64]cachedLease // by TTL in seconds
}

type cachedLease struct {
	id    clientv3.LeaseID
	until time.Time // use it for new claims until then
}

func (c *leaseCache) get(ctx context.Context, cli *clientv3.Client, ttl time.Duration) (clientv3.LeaseID, error) {
	sec := int64(math.Ceil(ttl.Seconds())) // etcd leases count whole seconds: round up
	window := max(sec/4, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.m[sec]; ok && time.Now().Before(l.until) {
		return l.id, nil
	}
	start := time.Now()
	resp, err := cli.Grant(ctx, sec+window)
	if err != nil {
		return 0, fmt.Errorf("grant lease: %w", err)
	}
	if c.m == nil {
		c.m = map[int64]cachedLease{}
	}
	c.m[sec] = cachedLease{id: resp.ID, until: start.Add(time.Duration(window) * time.Second)}
	return resp.ID, nil
}

func (c *leaseCache) forget(id clientv3.LeaseID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sec, l := range c.m {
		if l.id == id {
			delete(c.m, sec)
		}
	}
}
