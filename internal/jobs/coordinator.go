package jobs

import (
	"context"
	"sync"

	"github.com/aksbot/aksbot/internal/aks"
)

// SingleReplica is the Coordinator of a bot that runs as one process (the bbolt data file allows
// no other): it owns every lane and leads at once, and its leases never end before they are
// released. Its fences are empty, so writes carry none.
type SingleReplica struct {
	ID string // the replica ID, for logs and /aks job

	mu       sync.Mutex
	released chan string
}

var _ aks.Coordinator = (*SingleReplica)(nil)

// ReplicaID returns s.ID.
func (s *SingleReplica) ReplicaID() string { return s.ID }

// AcquireLane always succeeds: one process owns every lane.
func (s *SingleReplica) AcquireLane(context.Context, string) (aks.Lease, error) {
	return newLocalLease(), nil
}

// Released never delivers anything: nobody else could have held a lane.
func (s *SingleReplica) Released() <-chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = make(chan string)
	}
	return s.released
}

// Lead returns at once: the only replica leads.
func (s *SingleReplica) Lead(ctx context.Context) (aks.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newLocalLease(), nil
}

// Ready is always nil: there is no session to lose.
func (s *SingleReplica) Ready(context.Context) error { return nil }

type localLease struct {
	once sync.Once
	done chan struct{}
}

func newLocalLease() *localLease { return &localLease{done: make(chan struct{})} }

func (l *localLease) Fence() aks.Fence      { return aks.Fence{} }
func (l *localLease) Done() <-chan struct{} { return l.done }
func (l *localLease) Release(context.Context) error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// leaseContext returns a context that ends when ctx does or the lease is lost, and carries the
// lease's fence for the store writes made under it.
func leaseContext(ctx context.Context, lease aks.Lease) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-lease.Done():
			cancel()
		case <-lctx.Done():
		}
	}()
	if f := lease.Fence(); f.Key != "" {
		return aks.WithFence(lctx, f), cancel
	}
	return lctx, cancel
}
