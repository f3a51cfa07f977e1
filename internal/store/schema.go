package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// migration moves the data file from one schema version to the next, inside the open
// transaction.
type migration func(tx *bbolt.Tx) error

// migrations[i] migrates schema version i+1 to i+2; the current version is 1+len(migrations).
// Version 1 is the first: there is nothing to migrate from yet.
var migrations []migration

// ErrNewerSchema: the data file was written by a newer aksbot, whose records this one may not
// understand; it is refused rather than read wrongly or downgraded.
var ErrNewerSchema = errors.New("data file written by a newer aksbot")

func currentSchema(steps []migration) int { return 1 + len(steps) }

// init creates the store's buckets in a new file, or checks and migrates an existing one, in
// one transaction so that a failed migration leaves the file as it was.
func (s *Store) init(ctx context.Context, steps []migration) error {
	target := currentSchema(steps)
	return s.update(ctx, func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if err := createBuckets(tx); err != nil {
				return err
			}
			s.log.Info("store: new data file", "path", s.path, "schema", target)
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(target)))
		}
		raw := meta.Get(keySchema)
		v, err := strconv.Atoi(string(raw))
		if err != nil || v < 1 {
			return fmt.Errorf("unreadable schema version %q", raw)
		}
		if v > target {
			return fmt.Errorf("%w: the file has schema version %d and this aksbot reads versions up to %d; run the newer aksbot",
				ErrNewerSchema, v, target)
		}
		if v == target {
			return createBuckets(tx)
		}
		for ; v < target; v++ {
			if err := steps[v-1](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
			s.log.Info("store: migrated data file", "path", s.path, "from", v, "to", v+1)
		}
		if err := createBuckets(tx); err != nil {
			return err
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(target)))
	})
}

func createBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketJobs, bucketActive, bucketEvents, bucketRefs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}
