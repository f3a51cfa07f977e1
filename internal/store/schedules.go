package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

// bucketSchedules holds the schedules: lower-cased name -> JSON aks.Schedule. It is created on
// the first put, so files without it need no migration.
var bucketSchedules = []byte("schedules")

var _ aks.ScheduleStore = (*Store)(nil)

// PutSchedule stores sc if the stored version equals sc.Version (0 = must not exist yet).
func (s *Store) PutSchedule(ctx context.Context, sc aks.Schedule) (aks.Schedule, error) {
	key := []byte(strings.ToLower(sc.Name))
	if len(key) == 0 {
		return aks.Schedule{}, fmt.Errorf("store: put schedule: empty name")
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSchedules)
		if err != nil {
			return fmt.Errorf("schedules bucket: %w", err)
		}
		var stored int64
		if v := b.Get(key); v != nil {
			var old aks.Schedule
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("decode stored schedule: %w", err)
			}
			stored = old.Version
		}
		if stored != sc.Version {
			return fmt.Errorf("%w: schedule %s: stored version %d, given %d", aks.ErrConflict, sc.Name, stored, sc.Version)
		}
		sc.Version++
		data, err := json.Marshal(sc)
		if err != nil {
			return fmt.Errorf("encode schedule: %w", err)
		}
		return b.Put(key, data)
	})
	if err != nil {
		return aks.Schedule{}, fmt.Errorf("store: put schedule %s: %w", sc.Name, err)
	}
	return sc, nil
}

// Schedule returns one schedule by name.
func (s *Store) Schedule(ctx context.Context, name string) (aks.Schedule, error) {
	var out aks.Schedule
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSchedules)
		var v []byte
		if b != nil {
			v = b.Get([]byte(strings.ToLower(name)))
		}
		if v == nil {
			return aks.ErrScheduleNotFound
		}
		return json.Unmarshal(v, &out)
	})
	if err != nil {
		return aks.Schedule{}, fmt.Errorf("store: schedule %s: %w", name, err)
	}
	return out, nil
}

// Schedules returns all schedules by name.
func (s *Store) Schedules(ctx context.Context) ([]aks.Schedule, error) {
	var out []aks.Schedule
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSchedules)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var sc aks.Schedule
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("decode schedule: %w", err)
			}
			out = append(out, sc)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list schedules: %w", err)
	}
	return out, nil
}

// DeleteSchedule removes a schedule if its stored version equals version.
func (s *Store) DeleteSchedule(ctx context.Context, name string, version int64) error {
	key := []byte(strings.ToLower(name))
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSchedules)
		var v []byte
		if b != nil {
			v = b.Get(key)
		}
		if v == nil {
			return aks.ErrScheduleNotFound
		}
		var old aks.Schedule
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("decode stored schedule: %w", err)
		}
		if old.Version != version {
			return fmt.Errorf("%w: stored version %d, given %d", aks.ErrConflict, old.Version, version)
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("store: delete schedule %s: %w", name, err)
	}
	return nil
}
