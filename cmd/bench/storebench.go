package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/store"
)

// benchStore: job state transitions (UpdateJob with an event, each durably committed) from
// many goroutines at once on a real bbolt file, as the engine's lanes make them.
func benchStore(ctx context.Context, sz sizes, _ io.Writer) (Result, error) {
	res := Result{Setup: fmt.Sprintf("%d jobs, %d goroutines, each moving its own jobs between queued and running with an event, for %s, on a bbolt file in %s",
		sz.storeJobs, sz.storeWorkers, sz.storeFor, os.TempDir())}
	dir, err := os.MkdirTemp("", "aksbot-bench-store-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "aksbot.db"), store.Options{})
	if err != nil {
		return res, err
	}
	defer st.Close()

	created := make([]aks.Job, sz.storeJobs)
	for i := range created {
		count := 4
		now := time.Now()
		job := aks.Job{
			State: aks.StateQueued,
			Op: aks.Operation{Kind: aks.OpPoolScale, NodeCount: &count,
				Target: aks.Target{ResourceGroup: clusterRG(i), Cluster: clusterName(i), Pool: "np1"}},
			Plan:      aks.Plan{Summary: "np1: 3 -> 4 nodes", ScaleUp: true, FromNodes: 3, ToNodes: 4},
			Requester: aks.User{ID: benchUser, Name: "bench"}, Channel: benchChannel,
			CreatedAt: now, UpdatedAt: now,
		}
		ev := aks.Event{At: now, Kind: aks.EventCreated, To: aks.StateQueued, Message: "created"}
		if created[i], err = st.CreateJob(ctx, job, ev); err != nil {
			return res, fmt.Errorf("create job %d: %w", i, err)
		}
	}

	var transitions atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, sz.storeFor)
	defer cancel()
	errs := make(chan error, sz.storeWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range sz.storeWorkers {
		wg.Go(func() {
			// Worker w owns jobs w, w+workers, ...: no two goroutines write the same job, as
			// no two lanes drive the same job.
			var mine []aks.Job
			for i := w; i < len(created); i += sz.storeWorkers {
				mine = append(mine, created[i])
			}
			for k := 0; runCtx.Err() == nil; k++ {
				job := &mine[k%len(mine)]
				from, to := job.State, aks.StateRunning
				if from == aks.StateRunning {
					to = aks.StateQueued
				}
				next := *job
				next.State, next.UpdatedAt = to, time.Now()
				ev := aks.Event{At: next.UpdatedAt, Kind: aks.EventProgress, From: from, To: to, Message: "bench transition"}
				stored, err := st.UpdateJob(runCtx, next, &ev)
				if err != nil {
					if runCtx.Err() == nil {
						errs <- fmt.Errorf("update job %s: %w", job.ID, err)
					}
					return
				}
				*job = stored
				transitions.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return res, err
	default:
	}
	n := transitions.Load()
	res.Metrics = []Metric{
		info("transitions", float64(n), ""),
		above("transitions per second", float64(n)/elapsed.Seconds(), "/s", 2000),
	}
	return res, nil
}
