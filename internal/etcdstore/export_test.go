package etcdstore

import (
	"context"

	"github.com/aksbot/aksbot/internal/aks"
)

// WatchFrom starts a job watch as if the last revision seen were rev, for the compaction test.
func WatchFrom(s *Store, ctx context.Context, rev int64) <-chan aks.JobChange {
	return s.watchFrom(ctx, rev, false)
}
