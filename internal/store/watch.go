package store

import (
	"context"
	"sync"

	"github.com/aksbot/aksbot/internal/aks"
)

var _ aks.JobWatcher = (*Store)(nil)

// maxPendingChanges is how many changes a slow receiver may fall behind before they are
// replaced by one Resync (the receiver then looks at all unfinished jobs again).
const maxPendingChanges = 1024

func changeOf(job aks.Job) aks.JobChange {
	return aks.JobChange{ID: job.ID, ClusterKey: job.Op.Target.ClusterKey(), State: job.State}
}

// WatchJobs sends a change for every job stored after the call (in commit order), until ctx
// ends or the store is closed; then it closes the channel. Only this process writes the file,
// so the changes are published by the writer after each commit. Publishing never waits for a
// receiver: a slow one gets a job's changes coalesced into its latest, or a Resync when it
// falls far behind.
func (s *Store) WatchJobs(ctx context.Context) <-chan aks.JobChange {
	out := make(chan aks.JobChange)
	sub := &watchSub{wake: make(chan struct{}, 1), index: map[string]int{}}
	s.watchers.add(sub)
	go func() {
		defer close(out)
		defer s.watchers.remove(sub)
		for {
			select {
			case <-sub.wake:
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
			for _, c := range sub.take() {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				case <-s.closing:
					return
				}
			}
		}
	}()
	return out
}

// watchHub fans job changes out to the WatchJobs receivers.
type watchHub struct {
	mu   sync.Mutex
	subs map[*watchSub]struct{}
}

func (h *watchHub) add(sub *watchSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*watchSub]struct{}{}
	}
	h.subs[sub] = struct{}{}
}

func (h *watchHub) remove(sub *watchSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
}

func (h *watchHub) publish(c aks.JobChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.push(c)
	}
}

// watchSub is one receiver's queue of changes not yet sent.
type watchSub struct {
	mu      sync.Mutex
	pending []aks.JobChange
	index   map[string]int // job ID -> its change in pending
	wake    chan struct{}  // capacity 1: "pending is not empty"
}

func (w *watchSub) push(c aks.JobChange) {
	w.mu.Lock()
	switch i, ok := w.index[c.ID]; {
	case ok:
		w.pending[i] = c // the receiver needs the job's latest state, not each step
	case len(w.pending) >= maxPendingChanges:
		w.pending = []aks.JobChange{{Resync: true}}
		clear(w.index)
	default:
		w.index[c.ID] = len(w.pending)
		w.pending = append(w.pending, c)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watchSub) take() []aks.JobChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.pending
	w.pending = nil
	clear(w.index)
	return out
}
