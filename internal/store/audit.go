package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

var bucketAudit = []byte("audit")

var _ jobs.AuditLog = (*Store)(nil)

// auditClockSlack is how far back past AuditFilter.Since a scan keeps looking. Records are
// appended in about time order, but their times come from callers (job events, refusals) whose
// writes may be committed in a slightly different order than their clocks read.
const auditClockSlack = 5 * time.Minute

// AuditFilter selects audit records (aks.AuditFilter).
type AuditFilter = aks.AuditFilter

// AppendAudit appends a record that has no job event (a refused request or decision). The store
// assigns rec.Seq; a zero rec.At is set to now. Records are never changed or deleted.
func (s *Store) AppendAudit(ctx context.Context, rec aks.AuditRecord) error {
	if rec.Action == "" {
		return errors.New("store: append audit record: no action")
	}
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		_, err := appendAudit(tx, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append audit record %s: %w", rec.Action, err)
	}
	return nil
}

// Audit returns the records f selects, oldest first. It walks the log from the newest record
// back and stops at the first one older than f.Since (less auditClockSlack), so that a recent
// window costs the same however long the log is. A record whose time lies far before those
// appended around it therefore ends a Since scan early; the engine's records carry the time of
// the change they describe, so this does not happen in practice.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]aks.AuditRecord, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: audit: negative limit %d", f.Limit)
	}
	var out []aks.AuditRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		stop := f.Since.Add(-auditClockSlack)
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := decodeAudit(k, v)
			if err != nil {
				return err
			}
			if !f.Since.IsZero() && rec.At.Before(f.Since) {
				if rec.At.Before(stop) {
					break
				}
				continue
			}
			if f.ClusterKey != "" && rec.Target.ClusterKey() != f.ClusterKey {
				continue
			}
			out = append(out, rec)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// appendAudit stores rec under the audit bucket's next sequence, which it sets in rec.Seq.
func appendAudit(tx *bbolt.Tx, rec aks.AuditRecord) (aks.AuditRecord, error) {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return aks.AuditRecord{}, fmt.Errorf("next audit sequence: %w", err)
	}
	rec.Seq = seq
	data, err := json.Marshal(rec)
	if err != nil {
		return aks.AuditRecord{}, fmt.Errorf("encode audit record: %w", err)
	}
	if err := b.Put(seqKey(seq), data); err != nil {
		return aks.AuditRecord{}, fmt.Errorf("put audit record: %w", err)
	}
	return rec, nil
}

func decodeAudit(key, data []byte) (aks.AuditRecord, error) {
	var rec aks.AuditRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return aks.AuditRecord{}, fmt.Errorf("audit record %x: %w", key, err)
	}
	if len(key) != 8 || rec.Seq != binary.BigEndian.Uint64(key) {
		return aks.AuditRecord{}, fmt.Errorf("audit record %x holds sequence %d", key, rec.Seq)
	}
	return rec, nil
}

// auditOfEvent is the audit record of a stored job event. A zero event time becomes fallback.
func auditOfEvent(job aks.Job, ev aks.Event, fallback time.Time) aks.AuditRecord {
	rec := aks.AuditRecord{
		At:           ev.At,
		Action:       aks.AuditAction(ev.Kind),
		User:         ev.Actor,
		Channel:      job.Channel,
		JobID:        job.ID,
		Op:           job.Op.Kind,
		Target:       job.Op.Target,
		Subscription: cmp.Or(job.Plan.Subscription, job.Op.Target.Subscription),
		Plan:         job.Plan.Summary,
		Rule:         job.Rule,
		Detail:       ev.Message,
		OperationID:  job.OperationID,
		State:        ev.To,
	}
	if ev.Kind == aks.EventCreated {
		rec.Action = aks.AuditRequested
		if rec.User == (aks.User{}) {
			rec.User = job.Requester
		}
	}
	if rec.State == "" {
		rec.State = job.State
	}
	if rec.At.IsZero() {
		rec.At = fallback
	}
	return rec
}
