package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"time"
)

// CachePut stores value under key until ttl has passed, bound to a lease so that etcd drops it
// then. Leases are shared by the puts of one TTL made within a short window (see leaseCache):
// an entry may live a little longer than ttl, never shorter.
func (s *Store) CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.timed("cache_put")()
	if ttl <= 0 {
		return fmt.Errorf("etcdstore: cache %q: ttl %v is not positive", key, ttl)
	}
	if key == "" {
		return errors.New("etcdstore: cache: empty key")
	}
	k := s.v + "cache/" + url.PathEscape(key)
	for try := 0; ; try++ {
		lease, err := s.leases.get(ctx, s.cli, ttl)
		if err != nil {
			return fmt.Errorf("etcdstore: cache %q: %w", key, err)
		}
		_, err = s.cli.Put(ctx, k, string(value), clientv3.WithLease(lease))
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && try == 0 {
			s.leases.forget(lease) // expired or revoked under us: grant a new one
			continue
		}
		if err != nil {
			return fmt.Errorf("etcdstore: cache %q: %w", key, err)
		}
		return nil
	}
}

// CacheGet returns the value under key, or false when there is none (etcd removed it with its
// lease once its time was up).
func (s *Store) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	defer s.timed("cache_get")()
	resp, err := s.cli.Get(ctx, s.v+"cache/"+url.PathEscape(key))
	if err != nil {
		return nil, false, fmt.Errorf("etcdstore: read cache %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}
