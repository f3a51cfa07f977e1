package store

import (
	"context"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// selectJobs walks either the active index (when f asks only for non-final states) or the whole
// jobs bucket, newest first so a Limit stops the walk early, and returns the matches oldest first.
func selectJobs(ctx context.Context, tx *bbolt.Tx, f jobs.Filter) ([]aks.Job, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("negative limit %d", f.Limit)
	}
	jobsB := tx.Bucket(bucketJobs)
	walk := jobsB
	if f.OnlyUnfinished() {
		walk = tx.Bucket(bucketActive)
	}

	var out []aks.Job
	c := walk.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if walk != jobsB {
			// The index holds the state and the cluster, so most non-matching jobs are
			// skipped undecoded.
			state, cluster := splitActive(v)
			if !slices.Contains(f.States, state) || (f.ClusterKey != "" && cluster != "" && cluster != f.ClusterKey) {
				continue
			}
			v = jobsB.Get(k)
			if v == nil {
				return nil, fmt.Errorf("active index names job %x, which is not stored", k)
			}
		}
		job, err := decodeStoredJob(k, v)
		if err != nil {
			return nil, err
		}
		if !f.Matches(job) {
			continue
		}
		out = append(out, job)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}
