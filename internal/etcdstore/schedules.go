package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

var _ aks.ScheduleStore = (*Store)(nil)

func (s *Store) scheduleKey(name string) string {
	return s.v + "schedules/" + url.PathEscape(strings.ToLower(name))
}

// getSchedule reads one schedule and its key's mod revision (0 when absent).
func (s *Store) getSchedule(ctx context.Context, name string) (aks.Schedule, int64, error) {
	resp, err := s.cli.Get(ctx, s.scheduleKey(name))
	if err != nil {
		return aks.Schedule{}, 0, err
	}
	if len(resp.Kvs) == 0 {
		return aks.Schedule{}, 0, aks.ErrScheduleNotFound
	}
	var sc aks.Schedule
	if err := json.Unmarshal(resp.Kvs[0].Value, &sc); err != nil {
		return aks.Schedule{}, 0, fmt.Errorf("decode schedule: %w", err)
	}
	return sc, resp.Kvs[0].ModRevision, nil
}

// PutSchedule stores sc if the stored version equals sc.Version (0 = must not exist yet). The
// write is a transaction on the key's mod revision as read, so two replicas cannot both win.
func (s *Store) PutSchedule(ctx context.Context, sc aks.Schedule) (aks.Schedule, error) {
	defer s.timed("put_schedule")()
	if sc.Name == "" {
		return aks.Schedule{}, errors.New("etcdstore: put schedule: empty name")
	}
	old, rev, err := s.getSchedule(ctx, sc.Name)
	if err != nil && !errors.Is(err, aks.ErrScheduleNotFound) {
		return aks.Schedule{}, fmt.Errorf("etcdstore: put schedule %s: %w", sc.Name, err)
	}
	if old.Version != sc.Version {
		return aks.Schedule{}, fmt.Errorf("etcdstore: put schedule %s: %w: stored version %d, given %d", sc.Name, aks.ErrConflict, old.Version, sc.Version)
	}
	sc.Version++
	data, err := json.Marshal(sc)
	if err != nil {
		return aks.Schedule{}, fmt.Errorf("etcdstore: encode schedule %s: %w", sc.Name, err)
	}
	k := s.scheduleKey(sc.Name)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).Then(clientv3.OpPut(k, string(data))).Commit()
	if err != nil {
		return aks.Schedule{}, fmt.Errorf("etcdstore: put schedule %s: %w", sc.Name, err)
	}
	if !resp.Succeeded {
		return aks.Schedule{}, fmt.Errorf("etcdstore: put schedule %s: %w: written by another writer", sc.Name, aks.ErrConflict)
	}
	return sc, nil
}

// Schedule returns one schedule by name.
func (s *Store) Schedule(ctx context.Context, name string) (aks.Schedule, error) {
	defer s.timed("schedule")()
	sc, _, err := s.getSchedule(ctx, name)
	if err != nil {
		return aks.Schedule{}, fmt.Errorf("etcdstore: schedule %s: %w", name, err)
	}
	return sc, nil
}

// Schedules returns all schedules by name.
func (s *Store) Schedules(ctx context.Context) ([]aks.Schedule, error) {
	defer s.timed("schedules")()
	resp, err := s.cli.Get(ctx, s.v+"schedules/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("etcdstore: list schedules: %w", err)
	}
	out := make([]aks.Schedule, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var sc aks.Schedule
		if err := json.Unmarshal(kv.Value, &sc); err != nil {
			return nil, fmt.Errorf("etcdstore: decode schedule %s: %w", kv.Key, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// DeleteSchedule removes a schedule if its stored version equals version.
func (s *Store) DeleteSchedule(ctx context.Context, name string, version int64) error {
	defer s.timed("delete_schedule")()
	old, rev, err := s.getSchedule(ctx, name)
	if err != nil {
		return fmt.Errorf("etcdstore: delete schedule %s: %w", name, err)
	}
	if old.Version != version {
		return fmt.Errorf("etcdstore: delete schedule %s: %w: stored version %d, given %d", name, aks.ErrConflict, old.Version, version)
	}
	k := s.scheduleKey(name)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).Then(clientv3.OpDelete(k)).Commit()
	if err != nil {
		return fmt.Errorf("etcdstore: delete schedule %s: %w", name, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcdstore: delete schedule %s: %w: written by another writer", name, aks.ErrConflict)
	}
	return nil
}
