package store

import (
	"context"
	"sync"

	"github.com/aksbot/aksbot/internal/aks"
)

var _ aks.JobWatcher = (*Store)(nil)

func changeOf(job aks.Job) aks.JobChange {
	return aks.JobChange{ID: job.ID, ClusterKey: job.Op.Target.ClusterKey(), State: job.State}
}

// WatchJobs sends a change for every job stored after the call (in commit order), until ctx
// ends or the store is closed; then it closes the channel. Only this process writes the file,
// so the changes are published by the writer after each commit. Publishing never waits for a
// receiver: a slow one gets a job's changes coalesced into its latest, or a Resync when it
// falls far behind.
func (s *Store) WatchJobs(ctx context.Context) <-chan aks.JobChange {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan aks.JobChange)
	q := aks.NewChangeQueue()
	s.watchers.add(q)
	go func() {
		select {
		case <-s.closing: // Close ends the watch too
			cancel()
		case <-ctx.Done():
		}
	}()
	go func() {
		defer cancel()
		defer s.watchers.remove(q)
		q.Deliver(ctx, out)
	}()
	return out
}

// watchHub fans job changes out to the WatchJobs receivers.
type watchHub struct {
	mu   sync.Mutex
	subs map[*aks.ChangeQueue]struct{}
}

func (h *watchHub) add(sub *aks.ChangeQueue) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*aks.ChangeQueue]struct{}{}
	}
	h.subs[sub] = struct{}{}
}

func (h *watchHub) remove(sub *aks.ChangeQueue) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
}

func (h *watchHub) publish(c aks.JobChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.Push(c)
	}
}
