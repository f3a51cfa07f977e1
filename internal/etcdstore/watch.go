package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
)

// WatchJobs sends a change for every job stored (by any replica) after the call, until ctx
// ends or the store is closed; then it closes the channel. When the watch has to restart and
// etcd no longer has the revisions it missed (compacted), it sends {Resync: true} and goes on
// from the current revision. The watch never waits for the receiver: a slow one gets a job's
// changes coalesced into its latest, or one Resync when it falls far behind.
func (s *Store) WatchJobs(ctx context.Context) <-chan aks.JobChange {
	// The start revision is read now, so that a change stored after the call is seen even if
	// the watch itself starts later.
	rev, err := s.currentRevision(ctx)
	resync := err != nil
	if err != nil && ctx.Err() == nil {
		s.log.Warn("etcdstore: watch jobs: cannot read the current revision; will resync", "err", err)
	}
	return s.watchFrom(ctx, rev, resync)
}

// watchFrom watches the jobs stored after rev; resync says that changes may have been missed
// before.
func (s *Store) watchFrom(ctx context.Context, rev int64, resync bool) <-chan aks.JobChange {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel) // Close ends the watch too
	out := make(chan aks.JobChange)
	q := aks.NewChangeQueue()
	go func() {
		defer cancel()
		defer stop()
		s.watchJobs(ctx, q, rev, resync)
	}()
	go q.Deliver(ctx, out)
	return out
}

func (s *Store) currentRevision(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"schema", clientv3.WithKeysOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// watchJobs watches from after rev until ctx ends, and queues the changes for q's receiver.
func (s *Store) watchJobs(ctx context.Context, q *aks.ChangeQueue, rev int64, resync bool) {
	for try := 0; ctx.Err() == nil; try++ {
		if try > 0 {
			sleep(ctx, min(time.Duration(try)*100*time.Millisecond, 2*time.Second))
		}
		if resync {
			r, err := s.currentRevision(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("etcdstore: watch jobs: read current revision", "err", err)
				}
				continue
			}
			rev, resync = r, false
			q.Push(aks.JobChange{Resync: true})
		}
		// WithRequireLeader: a member cut off from its leader ends the watch at once instead
		// of going silent; it then resumes from the last revision seen, on any member.
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cli.Watch(wctx, s.jobsPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) || wr.CompactRevision != 0 {
					resync = true
				} else if ctx.Err() == nil {
					s.log.Info("etcdstore: watch jobs restarts", "err", err, "from", rev+1)
				}
				break
			}
			try = 0
			for _, ev := range wr.Events {
				rev = ev.Kv.ModRevision
				if ev.Type != mvccpb.PUT {
					continue
				}
				var r record
				if err := json.Unmarshal(ev.Kv.Value, &r); err != nil {
					s.log.Warn("etcdstore: watch jobs: undecodable job record", "key", string(ev.Kv.Key), "err", err)
					continue
				}
				q.Push(aks.JobChange{ID: r.Job.ID, ClusterKey: r.Job.Op.Target.ClusterKey(), State: r.Job.State})
			}
		}
		wcancel()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
