package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

var bucketClaims = []byte("claims")

var _ aks.Claims = (*Store)(nil)

// pruneEvery is how often a Claim also removes the expired claims.
const pruneEvery = time.Minute

// claimPruner remembers when the claims were last pruned.
type claimPruner struct {
	mu   sync.Mutex
	last time.Time
}

// due reports whether a prune is due now, and if so marks it done.
func (p *claimPruner) due(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.last) < pruneEvery {
		return false
	}
	p.last = now
	return true
}

// Claim records key unless it is already recorded and younger than ttl, and reports whether
// this call recorded it. A claim is stored with its expiry; expired ones are replaced when
// claimed again, and removed in passing about once a minute.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("store: claim %q: ttl %v is not positive", key, ttl)
	}
	if key == "" {
		return false, fmt.Errorf("store: claim: empty key")
	}
	var claimed bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		now := time.Now()
		b, err := tx.CreateBucketIfNotExists(bucketClaims)
		if err != nil {
			return fmt.Errorf("claims bucket: %w", err)
		}
		if v := b.Get([]byte(key)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.UnixNano() {
			claimed = false
			return nil
		}
		exp := make([]byte, 8)
		binary.BigEndian.PutUint64(exp, uint64(now.Add(ttl).UnixNano()))
		if err := b.Put([]byte(key), exp); err != nil {
			return fmt.Errorf("put claim: %w", err)
		}
		claimed = true
		if s.claims.due(now) {
			return pruneClaims(b, now)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: claim %q: %w", key, err)
	}
	return claimed, nil
}

func pruneClaims(b *bbolt.Bucket, now time.Time) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; {
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.UnixNano() {
			k, v = c.Next()
			continue
		}
		at := append([]byte(nil), k...) // k points into the page that Delete changes
		if err := c.Delete(); err != nil {
			return fmt.Errorf("prune claims: %w", err)
		}
		k, v = c.Seek(at) // after a delete the cursor must be repositioned
	}
	return nil
}
