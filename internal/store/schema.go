package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

// migration moves the data file from one schema version to the next, inside the open
// transaction: if it fails, the file is left as it was.
type migration func(tx *bbolt.Tx, env migrateEnv) error

// migrateEnv is what a migration may need besides the file.
type migrateEnv struct {
	log *slog.Logger
	// defaultSubscription is the ID of the subscription jobs stored before subscriptions were
	// named belong to (Options.DefaultSubscription).
	defaultSubscription string
}

// migrations[i] migrates schema version i+1 to i+2; the current version is 1+len(migrations).
//
//	1: jobs, active, events, refs (files made before the version was recorded are version 1)
//	2: + audit, filled from the events already stored
//	3: targets name their subscription (the default one for older jobs); active index keys
//	   (and audit records) follow
var migrations = []migration{addAuditLog, nameSubscriptions}

// ErrNewerSchema: the data file was written by a newer aksbot, whose records this one may not
// understand; it is refused rather than read wrongly or downgraded.
var ErrNewerSchema = aks.ErrNewerSchema

func currentSchema(steps []migration) int { return 1 + len(steps) }

// init creates the store's buckets in a new file, or checks and migrates an existing one. A file
// that is already current is only read, so that opening it writes nothing; a migration runs in
// one transaction, so that a failed one leaves the file as it was.
func (s *Store) init(ctx context.Context, steps []migration) error {
	target := currentSchema(steps)
	var current bool
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v, err := s.schemaVersion(tx, target)
		current = v == target && hasBuckets(tx)
		return err
	})
	if err != nil || current {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		v, err := s.schemaVersion(tx, target)
		if err != nil {
			return err
		}
		if v == 0 {
			if err := createBuckets(tx); err != nil {
				return err
			}
			s.log.Info("store: new data file", "path", s.path, "schema", target)
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(target)))
		}
		for ; v < target; v++ {
			if err := steps[v-1](tx, migrateEnv{log: s.log, defaultSubscription: s.defaultSub}); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
			s.log.Info("store: migrated data file", "path", s.path, "from", v, "to", v+1)
		}
		if err := createBuckets(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(target)))
	})
}

// schemaVersion returns the file's schema version: 0 for a new (empty) file, 1 for a file with
// jobs but no recorded version (written before versions were recorded). A version above target
// is refused with an error matching ErrNewerSchema that names the file and both versions.
func (s *Store) schemaVersion(tx *bbolt.Tx, target int) (int, error) {
	var raw []byte
	if meta := tx.Bucket(bucketMeta); meta != nil {
		raw = meta.Get(keySchema)
	}
	if raw == nil {
		if tx.Bucket(bucketJobs) != nil {
			return 1, nil
		}
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("unreadable schema version %q", raw)
	}
	if v > target {
		return v, &aks.Error{
			Code: aks.EUnavailable,
			Message: fmt.Sprintf("the data file %s was written by a newer aksbot: it has schema version %d and this aksbot reads versions up to %d",
				s.path, v, target),
			Hint: "run the newer aksbot on this file, or give this one its own data file",
			Err:  ErrNewerSchema,
		}
	}
	return v, nil
}

var storeBuckets = [][]byte{bucketMeta, bucketJobs, bucketActive, bucketEvents, bucketRefs, bucketAudit}

func hasBuckets(tx *bbolt.Tx) bool {
	for _, name := range storeBuckets {
		if tx.Bucket(name) == nil {
			return false
		}
	}
	return true
}

func createBuckets(tx *bbolt.Tx) error {
	for _, name := range storeBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// addAuditLog (schema 1 to 2) creates the audit log and fills it with the records of the
// events already stored, in time order, so that the log covers the jobs made before it existed.
// The job's fields (plan, rule, operation ID) are as stored now, not as they were at each
// event. Records that cannot be decoded are skipped and counted: they are already errors when
// read, and must not stop the upgrade.
func addAuditLog(tx *bbolt.Tx, env migrateEnv) error {
	log := env.log
	audit, err := tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketAudit, err)
	}
	if audit.Sequence() > 0 {
		return nil
	}
	jobsB, eventsB := tx.Bucket(bucketJobs), tx.Bucket(bucketEvents)
	if jobsB == nil || eventsB == nil {
		return nil
	}
	var recs []aks.AuditRecord
	skipped := 0
	err = jobsB.ForEach(func(k, v []byte) error {
		job, err := decodeStoredJob(k, v)
		if err != nil {
			skipped++
			return nil
		}
		eb := eventsB.Bucket(k)
		if eb == nil {
			return nil
		}
		var evs []aks.Event
		if err := eb.ForEach(func(_, v []byte) error {
			ev, err := decodeEvent(v)
			if err != nil {
				skipped++
				return nil
			}
			evs = append(evs, ev)
			return nil
		}); err != nil {
			return err
		}
		for i, ev := range evs {
			rec := aks.AuditOfEvent(job, ev, job.CreatedAt)
			if ev.To == "" && i < len(evs)-1 {
				rec.State = "" // only the last event's state is known
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Jobs and events were read in order, so a stable sort keeps it among equal times.
	slices.SortStableFunc(recs, func(a, b aks.AuditRecord) int { return a.At.Compare(b.At) })
	for _, rec := range recs {
		if _, err := appendAudit(tx, rec); err != nil {
			return err
		}
	}
	if skipped > 0 {
		log.Warn("store: audit log migration skipped damaged records", "skipped", skipped)
	}
	return nil
}

// nameSubscriptions (schema 2 to 3) puts the jobs stored before aksbot knew several
// subscriptions in the default one: their targets get its ID, so their lane keys become
// "sub/rg/cluster" like those of new jobs, and the active index is rewritten with those keys
// (entries of schema 1 files had none). Audit records get the ID in their targets too, so that
// `/aks audit CLUSTER` still finds them. Without a default (a store opened by a tool that does
// not know the configuration) the targets are left as they are: they then stay in the lane of
// the "" subscription, which is what a bot without subscriptions uses. Records that cannot be
// decoded are skipped and counted, as in addAuditLog.
func nameSubscriptions(tx *bbolt.Tx, env migrateEnv) error {
	jobsB, active := tx.Bucket(bucketJobs), tx.Bucket(bucketActive)
	if jobsB == nil || active == nil {
		return nil
	}
	sub := env.defaultSubscription
	skipped, moved := 0, 0
	type rewrite struct {
		key  []byte
		job  aks.Job
		data []byte
	}
	var rewrites []rewrite
	err := jobsB.ForEach(func(k, v []byte) error {
		job, err := decodeStoredJob(k, v)
		if err != nil {
			skipped++
			return nil
		}
		if job.Op.Target.Subscription == "" && sub != "" {
			job.Op.Target.Subscription = sub
			if job.Plan.Subscription == "" {
				job.Plan.Subscription = sub
			}
			data, err := encodeJob(job)
			if err != nil {
				return err
			}
			rewrites = append(rewrites, rewrite{key: slices.Clone(k), job: job, data: data})
			moved++
		} else if active.Get(k) != nil {
			rewrites = append(rewrites, rewrite{key: slices.Clone(k), job: job})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Written after the walk: bbolt does not allow changing a bucket while iterating over it.
	for _, r := range rewrites {
		if r.data != nil {
			if err := jobsB.Put(r.key, r.data); err != nil {
				return fmt.Errorf("rewrite job %s: %w", r.job.ID, err)
			}
		}
		if active.Get(r.key) != nil {
			if err := active.Put(r.key, activeEntry(r.job)); err != nil {
				return fmt.Errorf("rewrite active index of job %s: %w", r.job.ID, err)
			}
		}
	}
	if audit := tx.Bucket(bucketAudit); audit != nil && sub != "" {
		var recs [][2][]byte
		err := audit.ForEach(func(k, v []byte) error {
			rec, err := decodeAudit(k, v)
			if err != nil {
				skipped++
				return nil
			}
			if rec.Target.Subscription != "" || rec.Target.Cluster == "" {
				return nil
			}
			rec.Target.Subscription = sub
			data, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("encode audit record: %w", err)
			}
			recs = append(recs, [2][]byte{slices.Clone(k), data})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := audit.Put(r[0], r[1]); err != nil {
				return fmt.Errorf("rewrite audit record: %w", err)
			}
		}
	}
	if sub == "" && moved == 0 {
		env.log.Info("store: no default subscription given; jobs stored before subscriptions were named keep their targets")
	} else {
		env.log.Info("store: jobs put in the default subscription", "subscription", sub, "jobs", moved)
	}
	if skipped > 0 {
		env.log.Warn("store: subscription migration skipped damaged records", "skipped", skipped)
	}
	return nil
}
