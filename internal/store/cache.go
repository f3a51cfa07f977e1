package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// bucketCache holds jobs.Store's cache: key -> 8-byte big-endian expiry (Unix nanoseconds) +
// value. It is created on the first CachePut, so files without it need no migration; its
// entries are not part of any job and may be dropped.
var bucketCache = []byte("cache")

// CachePut stores value under key until ttl has passed.
func (s *Store) CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("store: cache %q: ttl must be positive, not %s", key, ttl)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	entry := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(entry, uint64(time.Now().Add(ttl).UnixNano()))
	copy(entry[8:], value)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCache)
		if err != nil {
			return err
		}
		// Drop expired entries now and then, so the bucket does not grow without bound.
		if b.Stats().KeyN > 1000 {
			if err := dropExpired(b); err != nil {
				return err
			}
		}
		return b.Put([]byte(key), entry)
	})
	if err != nil {
		return fmt.Errorf("store: cache put %q: %w", key, err)
	}
	return nil
}

// CacheGet returns the value under key unless it is missing or expired.
func (s *Store) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	var out []byte
	var ok bool
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCache)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if len(v) < 8 || time.Now().UnixNano() >= int64(binary.BigEndian.Uint64(v)) {
			return nil
		}
		out, ok = append([]byte(nil), v[8:]...), true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: cache get %q: %w", key, err)
	}
	return out, ok, nil
}

func dropExpired(b *bbolt.Bucket) error {
	now := time.Now().UnixNano()
	var dead [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if len(v) < 8 || now >= int64(binary.BigEndian.Uint64(v)) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
