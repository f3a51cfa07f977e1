package etcdstore_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

// BenchmarkTransitions measures job transitions (UpdateJob with an event, hence also an audit
// record) per second on a one-member embedded etcd with fsync on, one writer at a time and
// many at once (each on its own job, as lanes of different clusters are).
func BenchmarkTransitions(b *testing.B) {
	c := etcdtest.Start(b)
	cli := newClient(b, c)
	s := openStore(b, cli, "/bench/")
	ctx := context.Background()
	newJob := func(b *testing.B) aks.Job {
		j, err := s.CreateJob(ctx, aks.Job{State: aks.StateRunning, Op: aks.Operation{Kind: aks.OpPoolScale,
			Target: aks.Target{ResourceGroup: "rg", Cluster: "c"}}}, aks.Event{Kind: aks.EventCreated})
		if err != nil {
			b.Fatal(err)
		}
		return j
	}
	step := func(b *testing.B, j aks.Job) aks.Job {
		j.ProvisioningState = "Updating"
		j, err := s.UpdateJob(ctx, j, &aks.Event{At: time.Now(), Kind: aks.EventProgress, Message: "still updating"})
		if err != nil {
			b.Fatal(err)
		}
		return j
	}
	b.Run("sequential", func(b *testing.B) {
		j := newJob(b)
		for b.Loop() {
			j = step(b, j)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
	})
	b.Run("parallel", func(b *testing.B) {
		// 64 writers on 2 cores (as many lanes of different clusters): etcd commits concurrent
		// proposals with one fsync. Their jobs are made before the clock starts.
		const parallelism = 32
		b.SetParallelism(parallelism)
		jobs := make(chan aks.Job, parallelism*runtime.GOMAXPROCS(0))
		for range cap(jobs) {
			jobs <- newJob(b)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			j := <-jobs
			for pb.Next() {
				j = step(b, j)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
	})
}
