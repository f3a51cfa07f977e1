package aks

import (
	"context"
	"sync"
)

// MaxPendingChanges is how many changes a slow receiver of WatchJobs may fall behind before
// they are replaced by one Resync (the receiver then looks at all unfinished jobs again).
const MaxPendingChanges = 1024

// ChangeQueue holds the job changes a WatchJobs receiver has not taken yet, so that whoever
// publishes them (a store's writer, an etcd watch) never waits for the receiver: a job's changes
// coalesce into its latest, and a receiver more than MaxPendingChanges behind gets one Resync
// instead. Both store backends use it, so a slow receiver sees the same on both.
type ChangeQueue struct {
	mu      sync.Mutex
	pending []JobChange
	index   map[string]int // job ID -> its change in pending
	wake    chan struct{}  // capacity 1: "pending is not empty"
}

// NewChangeQueue makes an empty queue.
func NewChangeQueue() *ChangeQueue {
	return &ChangeQueue{index: map[string]int{}, wake: make(chan struct{}, 1)}
}

// Push queues c; it never blocks.
func (q *ChangeQueue) Push(c JobChange) {
	q.mu.Lock()
	switch i, ok := q.index[c.ID]; {
	case ok && !c.Resync:
		q.pending[i] = c // the receiver needs the job's latest state, not each step
	case len(q.pending) >= MaxPendingChanges:
		q.pending = []JobChange{{Resync: true}}
		clear(q.index)
	default:
		if !c.Resync {
			q.index[c.ID] = len(q.pending)
		}
		q.pending = append(q.pending, c)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Deliver sends the queued changes to out, in order, until ctx ends; then it closes out.
func (q *ChangeQueue) Deliver(ctx context.Context, out chan<- JobChange) {
	defer close(out)
	for {
		select {
		case <-q.wake:
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		clear(q.index)
		q.mu.Unlock()
		for _, c := range batch {
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}
}
