package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// The audit log is keyed by the record's time (then a unique tag), not by a counter: every job
// event appends a record, and one counter key would make every transition of every job contend
// on it. A record's Seq is the etcd revision that stored it, which increases with every write
// of the whole store, so it orders records as they were committed.

// auditClockSlack is how far back past AuditFilter.Since a scan keeps looking (as in the bbolt
// store): records' times come from callers whose writes may commit in a slightly different
// order than their clocks read.
const auditClockSlack = 5 * time.Minute

func (s *Store) auditPrefix() string { return s.v + "audit/" }

// auditPut returns the write that appends rec. tag makes the key unique among records of the
// same nanosecond: this Store's random ID and a counter for new records, derived from the
// source for imported ones (so that importing twice writes the same key).
func (s *Store) auditPut(rec aks.AuditRecord, tag string) (clientv3.Op, error) {
	if tag == "" {
		tag = fmt.Sprintf("%s-%x", s.instance, s.auditTags.Add(1))
	}
	rec.Seq = 0 // the revision is the sequence
	data, err := json.Marshal(rec)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("encode audit record: %w", err)
	}
	return clientv3.OpPut(s.auditKey(rec.At, tag), string(data)), nil
}

func (s *Store) auditKey(at time.Time, tag string) string {
	ns := max(at.UnixNano(), 0)
	return fmt.Sprintf("%s%020d/%s", s.auditPrefix(), ns, tag)
}

// AppendAudit appends a record that has no job event. The store assigns rec.Seq; a zero rec.At
// is set to now.
func (s *Store) AppendAudit(ctx context.Context, rec aks.AuditRecord) error {
	defer s.timed("append_audit")()
	if rec.Action == "" {
		return errors.New("etcdstore: append audit record: no action")
	}
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	op, err := s.auditPut(rec, "")
	if err == nil {
		_, err = s.cli.Do(ctx, op)
	}
	if err != nil {
		return fmt.Errorf("etcdstore: append audit record %s: %w", rec.Action, err)
	}
	return nil
}

// Audit returns the records f selects, oldest first. Like the bbolt store it walks the log
// from the newest record back and stops at the first record older than f.Since less
// auditClockSlack, so a recent window costs the same however long the log is.
func (s *Store) Audit(ctx context.Context, f aks.AuditFilter) ([]aks.AuditRecord, error) {
	defer s.timed("audit")()
	if f.Limit < 0 {
		return nil, fmt.Errorf("etcdstore: audit: negative limit %d", f.Limit)
	}
	out, err := s.audit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: audit: %w", err)
	}
	// Keys order records by time; Seq (the commit order) is what callers rely on.
	slices.SortFunc(out, func(a, b aks.AuditRecord) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out, nil
}

func (s *Store) audit(ctx context.Context, f aks.AuditFilter) ([]aks.AuditRecord, error) {
	var out []aks.AuditRecord
	stop := f.Since.Add(-auditClockSlack)
	err := s.scanNewestFirst(ctx, s.auditPrefix(), func(kv *mvccpb.KeyValue) (bool, error) {
		var rec aks.AuditRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return false, fmt.Errorf("audit record %s: %w", kv.Key, err)
		}
		rec.Seq = uint64(kv.ModRevision)
		if !f.Since.IsZero() && rec.At.Before(f.Since) {
			return !rec.At.Before(stop), nil
		}
		if f.ClusterKey != "" && rec.Target.ClusterKey() != f.ClusterKey {
			return true, nil
		}
		out = append(out, rec)
		return f.Limit <= 0 || len(out) < f.Limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
