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
	if onlyActive(f.States) {
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
		if !matches(job, f) {
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

// onlyActive reports whether every state asked for is non-final, so that the active index
// holds every job that can match.
func onlyActive(states []aks.JobState) bool {
	if len(states) == 0 {
		return false
	}
	for _, s := range states {
		if s.Final() {
			return false
		}
	}
	return true
}

func matches(job aks.Job, f jobs.Filter) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, job.State) {
		return false
	}
	if f.ClusterKey != "" && job.Op.Target.ClusterKey() != f.ClusterKey {
		return false
	}
	if f.Requester != "" && job.Requester.ID != f.Requester {
		return false
	}
	return true
}
