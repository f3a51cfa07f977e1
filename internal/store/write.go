package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
)

// maxGroup bounds how many writes share one transaction, so one commit stays short.
const maxGroup = 256

// errClosed: a write was asked for after Close.
var errClosed = errors.New("store is closed")

// writeReq is one write waiting for the writer. fn may run more than once (see commitGroup), so
// it must not keep changes to captured state from a failed run.
type writeReq struct {
	fn     func(tx *bbolt.Tx) error
	change *aks.JobChange // set by fn to a job it stored: published once committed
	err    error          // fn's own error, from its last run
	commit error          // starting or committing the transaction failed
	done   chan struct{}
}

// update runs fn in a write transaction. Writes from concurrent callers are committed together
// (group commit): bbolt fsyncs every commit, and one fsync per write would cap the engine at a
// few hundred transitions a second. A lone write is committed at once, without waiting for
// company. An error that fn did not return came from the file (read-only, disk full, I/O
// error): it says the data file cannot be written, with code aks.EUnavailable.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return s.updateJob(ctx, nil, fn)
}

// updateJob is update for a write that stores a job: fn sets *change to it, and the change is
// published to WatchJobs once the transaction is committed (in commit order).
func (s *Store) updateJob(ctx context.Context, change *aks.JobChange, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{fn: fn, change: change, done: make(chan struct{})}
	select {
	case s.writes <- r:
	case <-s.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over the write is not abandoned: the caller must learn whether it was stored.
	<-r.done
	if r.err != nil {
		return r.err
	}
	if r.commit != nil {
		s.log.Error("store: data file cannot be written", "path", s.path, "err", r.commit)
		return &aks.Error{
			Code:    aks.EUnavailable,
			Message: fmt.Sprintf("the data file %s cannot be written", s.path),
			Hint:    "check that its disk is not full and the file is writable",
			Err:     r.commit,
		}
	}
	return nil
}

// writer commits the writes handed to it, one group per transaction. s.writes is unbuffered, so
// a write is either taken by the writer or refused on close: none is left behind in a buffer.
func (s *Store) writer() {
	defer close(s.writerDone)
	for {
		var group []*writeReq
		select {
		case r := <-s.writes:
			group = append(group, r)
		case <-s.closing:
			return
		}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-s.writes:
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup runs the group's writes in one transaction. If one fails, the transaction is rolled
// back, the failing write is set aside and the rest are run again; each write set aside is then
// run on its own, after the others are committed, so its result does not depend on uncommitted
// writes of a group that was rolled back.
func (s *Store) commitGroup(group []*writeReq) {
	var solo []*writeReq
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, r := range group {
				if r.err = r.fn(tx); r.err != nil {
					failed = i
					return r.err
				}
			}
			return nil
		})
		if failed >= 0 && len(group) > 1 {
			r := group[failed]
			r.err = nil
			solo = append(solo, r)
			group = append(group[:failed], group[failed+1:]...)
			continue
		}
		for _, r := range group {
			if r.err == nil {
				r.commit = err
				if err == nil && r.change != nil && r.change.ID != "" {
					s.watchers.publish(*r.change)
				}
			}
			close(r.done)
		}
		break
	}
	for _, r := range solo {
		s.commitGroup([]*writeReq{r})
	}
}
