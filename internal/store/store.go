// Package store keeps aksbot's jobs, their events, the chat transports' message references,
// the audit log and delivery claims in one bbolt data file. It implements the store ports of
// package aks (JobStore, AuditStore, Claims, JobWatcher).
//
// Fences (aks.WithFence) are ignored: bbolt locks the file for one process, so there is no
// other replica that could own a lane or the outbox, and no deposed owner to stop. The etcd
// backend (package etcdstore) is the one that checks them.
//
// Buckets (the simulated cloud keeps its own buckets, under other names, in the same file):
//
//	meta    "schema" -> decimal schema version (see schema.go); "probe" -> last readiness write
//	jobs    8-byte big-endian job sequence -> JSON aks.Job (so iteration is creation order)
//	active  job key -> state, for the jobs that are not final (read at every start and by the scheduler)
//	events  job key -> bucket: 8-byte big-endian event seq -> JSON aks.Event
//	refs    job key -> bucket: name -> value
//	audit   8-byte big-endian record sequence -> JSON aks.AuditRecord (append-only)
//	claims  claim key -> 8-byte big-endian expiry (Unix ns); made on the first Claim, pruned lazily
//	slack_outbox  the chat transport's undelivered messages (aks.OutboxStore; see outbox.go)
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

var (
	bucketMeta   = []byte("meta")
	bucketJobs   = []byte("jobs")
	bucketActive = []byte("active")
	bucketEvents = []byte("events")
	bucketRefs   = []byte("refs")

	keySchema = []byte("schema")
	keyProbe  = []byte("probe") // written by readiness probes
)

// ErrInUse is what Open's error wraps when another process holds the data file (bbolt locks it
// exclusively), so that callers can fall back, for example to the running bot's admin socket.
var ErrInUse = errors.New("the data file is in use by another process")

// inUseError marks an error as ErrInUse without changing its message.
type inUseError struct{ err error }

func (e inUseError) Error() string        { return e.err.Error() }
func (e inUseError) Unwrap() error        { return e.err }
func (e inUseError) Is(target error) bool { return target == ErrInUse }

// lockTimeout is how long Open waits for the file lock: long enough to ride out a restart,
// short enough that a second aksbot on the same file is told at once.
const lockTimeout = time.Second

// Options configures a Store. The zero value is usable.
type Options struct {
	Logger *slog.Logger // nil: no logs
	// DefaultSubscription is the ID of the default subscription: opening a file written before
	// subscriptions were named puts its jobs in it (schema 3). "" leaves them as they are.
	DefaultSubscription string

	// openFile replaces os.OpenFile for the data file, so that tests can make writes fail.
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

// Store is the bbolt-backed jobs.Store and jobs.AuditLog. It is safe for concurrent use.
type Store struct {
	db         *bbolt.DB
	path       string
	log        *slog.Logger
	defaultSub string // Options.DefaultSubscription, for the migration

	writes     chan *writeReq // unbuffered: see writer
	closing    chan struct{}
	closeOnce  sync.Once
	writerDone chan struct{}

	watchers watchHub // WatchJobs' receivers
	claims   claimPruner
}

var _ jobs.Store = (*Store)(nil)

// Open opens the data file at path, creating it (and its directory) if needed, and brings its
// schema to the current version. A file in use by another process is refused after about a
// second, and a file written by a newer aksbot is refused.
func Open(path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: open %s: create directory: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout, OpenFile: opts.openFile})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, &aks.Error{
				Code:    aks.EUnavailable,
				Message: "store: another aksbot is using " + path,
				Hint:    "stop the other aksbot or give this one its own data file",
				Err:     inUseError{err},
			}
		}
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, &aks.Error{
				Code:    aks.EUnavailable,
				Message: fmt.Sprintf("store: open %s: the data file cannot be written", path),
				Hint:    "check the file's permissions and that its file system is writable",
				Err:     err,
			}
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := newStore(db, path, log)
	s.defaultSub = opts.DefaultSubscription
	if err := s.init(context.Background(), migrations); err != nil {
		if cerr := s.Close(); cerr != nil {
			log.Warn("store: close after failed open", "path", path, "err", cerr)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	log.Debug("store opened", "path", path, "schema", currentSchema(migrations))
	return s, nil
}

func newStore(db *bbolt.DB, path string, log *slog.Logger) *Store {
	s := &Store{
		db: db, path: path, log: log,
		writes:     make(chan *writeReq),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go s.writer()
	return s
}

// Close closes the data file. Writes in flight finish first; later ones fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.writerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// DB returns the underlying bbolt database, for components that keep their own buckets in the
// same file (the simulated cloud). They must not touch the buckets listed in the package doc.
func (s *Store) DB() *bbolt.DB { return s.db }

// CreateJob assigns the job its ID (the jobs bucket's next sequence, in decimal), sets Version to
// 1 and stores it with ev as its first event (Seq 1), in one transaction.
func (s *Store) CreateJob(ctx context.Context, job aks.Job, ev aks.Event) (aks.Job, error) {
	var out aks.Job
	var change aks.JobChange
	err := s.updateJob(ctx, &change, func(tx *bbolt.Tx) error {
		seq, err := tx.Bucket(bucketJobs).NextSequence()
		if err != nil {
			return fmt.Errorf("next job sequence: %w", err)
		}
		j := job
		j.ID = strconv.FormatUint(seq, 10)
		j.Version = 1
		if err := putJob(tx, jobKey(seq), j, &ev); err != nil {
			return err
		}
		out, change = j, changeOf(j)
		return nil
	})
	if err != nil {
		return aks.Job{}, fmt.Errorf("store: create job: %w", err)
	}
	return out, nil
}

// UpdateJob stores job if the stored version still equals job.Version, bumps Version and
// appends ev (if not nil, setting its JobID and Seq), in one transaction. A changed job gives an error matching
// jobs.ErrConflict; an unknown one, jobs.ErrNotFound.
func (s *Store) UpdateJob(ctx context.Context, job aks.Job, ev *aks.Event) (aks.Job, error) {
	var out aks.Job
	var change aks.JobChange
	err := s.updateJob(ctx, &change, func(tx *bbolt.Tx) error {
		key, err := parseID(job.ID)
		if err != nil {
			return err
		}
		stored, err := getJob(tx, key)
		if err != nil {
			return err
		}
		if stored.Version != job.Version {
			return fmt.Errorf("%w: stored version %d, given %d", jobs.ErrConflict, stored.Version, job.Version)
		}
		j := job
		j.Version++
		if err := putJob(tx, key, j, ev); err != nil {
			return err
		}
		out, change = j, changeOf(j)
		return nil
	})
	if err != nil {
		return aks.Job{}, fmt.Errorf("store: update job %s: %w", job.ID, err)
	}
	return out, nil
}

// Job returns one job, or an error matching jobs.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (aks.Job, error) {
	var job aks.Job
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		key, err := parseID(id)
		if err != nil {
			return err
		}
		job, err = getJob(tx, key)
		return err
	})
	if err != nil {
		return aks.Job{}, fmt.Errorf("store: get job %s: %w", id, err)
	}
	return job, nil
}

// Jobs returns the jobs f selects, oldest first. When f asks only for non-final states it reads
// the index of active jobs instead of the whole history.
func (s *Store) Jobs(ctx context.Context, f jobs.Filter) ([]aks.Job, error) {
	var out []aks.Job
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = selectJobs(ctx, tx, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	return out, nil
}

// Events returns a job's events in order, or an error matching jobs.ErrNotFound.
func (s *Store) Events(ctx context.Context, jobID string) ([]aks.Event, error) {
	var out []aks.Event
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		key, err := existingJob(tx, jobID)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketEvents).Bucket(key)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			ev, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			out = append(out, ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of job %s: %w", jobID, err)
	}
	return out, nil
}

// SetRef stores a transport's reference for a job, replacing any value under the same name.
func (s *Store) SetRef(ctx context.Context, jobID, name, value string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if name == "" {
			return errors.New("empty reference name")
		}
		key, err := existingJob(tx, jobID)
		if err != nil {
			return err
		}
		b, err := tx.Bucket(bucketRefs).CreateBucketIfNotExists(key)
		if err != nil {
			return fmt.Errorf("refs bucket: %w", err)
		}
		return b.Put([]byte(name), []byte(value))
	})
	if err != nil {
		return fmt.Errorf("store: set ref %q of job %s: %w", name, jobID, err)
	}
	return nil
}

// Refs returns all references stored for a job (an empty map if none), or an error matching
// jobs.ErrNotFound.
func (s *Store) Refs(ctx context.Context, jobID string) (map[string]string, error) {
	out := map[string]string{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		key, err := existingJob(tx, jobID)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketRefs).Bucket(key)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: refs of job %s: %w", jobID, err)
	}
	return out, nil
}

func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// activeEntry is the active index's value for a job: its state and its cluster key, so that a
// lane listing one cluster's jobs decodes only those. Files written before the cluster key was
// added hold the state alone; readers accept both.
func activeEntry(job aks.Job) []byte {
	return []byte(string(job.State) + "\x00" + job.Op.Target.ClusterKey())
}

// splitActive reads an active index value: the state, and the cluster key ("" when the entry
// predates it).
func splitActive(v []byte) (aks.JobState, string) {
	state, key, _ := strings.Cut(string(v), "\x00")
	return aks.JobState(state), key
}

// putJob writes job under key, keeps the active index right and appends ev (if not nil) with
// the job's next event sequence, and its audit record.
func putJob(tx *bbolt.Tx, key []byte, job aks.Job, ev *aks.Event) error {
	data, err := encodeJob(job)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketJobs).Put(key, data); err != nil {
		return fmt.Errorf("put job: %w", err)
	}
	active := tx.Bucket(bucketActive)
	if job.State.Final() {
		err = active.Delete(key)
	} else {
		err = active.Put(key, activeEntry(job))
	}
	if err != nil {
		return fmt.Errorf("update active index: %w", err)
	}
	if ev == nil {
		return nil
	}
	eb, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists(key)
	if err != nil {
		return fmt.Errorf("events bucket: %w", err)
	}
	seq, err := eb.NextSequence()
	if err != nil {
		return fmt.Errorf("next event sequence: %w", err)
	}
	e := *ev
	e.JobID = job.ID
	e.Seq = int64(seq)
	evData, err := encodeEvent(e)
	if err != nil {
		return err
	}
	if err := eb.Put(seqKey(seq), evData); err != nil {
		return fmt.Errorf("put event: %w", err)
	}
	// The audit record goes in the same transaction: an event is never stored without it.
	if _, err := appendAudit(tx, aks.AuditOfEvent(job, e, time.Now().UTC())); err != nil {
		return err
	}
	*ev = e // the caller learns the event's job and sequence number (a re-run sets the same)
	return nil
}

func getJob(tx *bbolt.Tx, key []byte) (aks.Job, error) {
	data := tx.Bucket(bucketJobs).Get(key)
	if data == nil {
		return aks.Job{}, jobs.ErrNotFound
	}
	return decodeStoredJob(key, data)
}

// decodeStoredJob decodes a record and checks that it is the job its key says.
func decodeStoredJob(key, data []byte) (aks.Job, error) {
	job, err := decodeJob(data)
	if err != nil {
		return aks.Job{}, fmt.Errorf("job record %x: %w", key, err)
	}
	if len(key) != 8 || job.ID != strconv.FormatUint(binary.BigEndian.Uint64(key), 10) {
		return aks.Job{}, fmt.Errorf("job record %x holds job %q", key, job.ID)
	}
	return job, nil
}

// existingJob returns the key of job id, or an error matching jobs.ErrNotFound.
func existingJob(tx *bbolt.Tx, id string) ([]byte, error) {
	key, err := parseID(id)
	if err != nil {
		return nil, err
	}
	if tx.Bucket(bucketJobs).Get(key) == nil {
		return nil, jobs.ErrNotFound
	}
	return key, nil
}

// parseID turns a job ID into its key. Only the canonical decimal form names a job, so "007"
// and "+7" are not found rather than aliases of job 7.
func parseID(id string) ([]byte, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != id {
		return nil, fmt.Errorf("%w: %q is not a job ID", jobs.ErrNotFound, id)
	}
	return jobKey(n), nil
}

func jobKey(seq uint64) []byte { return seqKey(seq) }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// Probe writes to the data file, for readiness checks: a bot that cannot write must not take
// commands it could not track.
func (s *Store) Probe(ctx context.Context) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyProbe, []byte(time.Now().UTC().Format(time.RFC3339)))
	})
	if err != nil {
		return fmt.Errorf("store: probe: %w", err)
	}
	return nil
}
