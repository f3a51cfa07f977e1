package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/store"
)

// Real-world settings that the job benchmarks divide by their time scale.
const (
	realPollInterval     = 15 * time.Second // the engine's floor for real Azure (README: jobs.pollInterval)
	realRetryAfter       = 20 * time.Second // what the simulated ARM answers while an operation runs
	realProgressInterval = time.Minute      // README default: jobs.progressInterval
	realFleetOp          = 2 * time.Minute  // benchmark 2: a node pool scale
	realRestartOp        = 10 * time.Minute // benchmark 4: long enough that none ends during the run
	realWindow           = time.Minute      // benchmark 2: CPU measurement window
)

// botProc is the bot's side of a job benchmark: store, engine, Azure client and Slack reporter,
// wired as cmd/bot wires them, on the world's ARM endpoint and fake Slack.
type botProc struct {
	st     *store.Store
	eng    *jobs.Engine
	cancel context.CancelFunc
	done   chan error

	stopOnce sync.Once
	stopErr  error
}

// benchLogger logs like the bot in Slack mode (JSON, info), into nothing: formatting is part of
// the cost, printing is not.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startBot(ctx context.Context, dbPath string, w *world, counter *armCounter, scale float64) (*botProc, error) {
	log := benchLogger()
	st, err := store.Open(dbPath, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	cloud, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: staticCredential{},
		Endpoint: w.ARM, Policies: []azpolicy.Policy{counter}, Logger: log})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("set up Azure client: %w", err)
	}
	svc := &chatops.Service{Jobs: st, Azure: cloud, Logger: log}
	bot, err := slack.New(slack.Config{AppToken: benchAppToken, BotToken: benchBotToken, APIURL: w.SlackAPI, Logger: log}, svc, st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("set up Slack: %w", err)
	}
	eng, err := jobs.New(jobs.Config{Store: st, Cloud: cloud, Reporter: bot, Policy: benchPolicy{}, Logger: log,
		PollInterval: scaled(realPollInterval, scale), ProgressInterval: scaled(realProgressInterval, scale)})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("set up job engine: %w", err)
	}
	svc.Engine = eng
	runCtx, cancel := context.WithCancel(ctx)
	b := &botProc{st: st, eng: eng, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- eng.Run(runCtx) }()
	return b, nil
}

// stop stops the engine and closes the data file, as a SIGTERM does.
// It may be called more than once.
func (b *botProc) stop() error {
	b.stopOnce.Do(func() {
		b.cancel()
		select {
		case b.stopErr = <-b.done:
		case <-time.After(30 * time.Second):
			b.stopErr = errors.New("the job engine did not stop within 30 s")
		}
		if cerr := b.st.Close(); cerr != nil && b.stopErr == nil {
			b.stopErr = cerr
		}
	})
	return b.stopErr
}

// submitFleet submits one node pool scale (3 -> 4 nodes) on each of the first n clusters,
// a few at a time as a busy channel would.
func submitFleet(ctx context.Context, eng *jobs.Engine, n int) error {
	const parallel = 16
	idx := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range idx {
				count := 4
				op := aks.Operation{Kind: aks.OpPoolScale, NodeCount: &count,
					Target: aks.Target{ResourceGroup: clusterRG(i), Cluster: clusterName(i), Pool: "np1"}}
				if _, err := eng.Submit(ctx, jobs.SubmitRequest{Op: op, Requester: aks.User{ID: benchUser, Name: "bench"}, Channel: benchChannel}); err != nil {
					errs <- fmt.Errorf("submit job on %s: %w", op.Target, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case idx <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(idx)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// waitJobs waits until n jobs are in state (running ones also with their resume token stored),
// failing early when a job failed.
func waitJobs(ctx context.Context, st *store.Store, n int, state aks.JobState, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := waitUntil(ctx, 200*time.Millisecond, func() (bool, error) {
		failed, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateFailed}, Limit: 1})
		if err != nil {
			return false, err
		}
		if len(failed) > 0 && state != aks.StateFailed {
			msg := ""
			if failed[0].Error != nil {
				msg = failed[0].Error.Code + ": " + failed[0].Error.Message
			}
			return false, fmt.Errorf("job %s failed: %s", failed[0].ID, msg)
		}
		list, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{state}})
		if err != nil {
			return false, err
		}
		got := 0
		for _, j := range list {
			if state != aks.StateRunning || j.ResumeToken != "" {
				got++
			}
		}
		return got >= n, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %d jobs %s: %w", n, state, err)
	}
	return nil
}

// benchFleet: many jobs running at once in one process.
func benchFleet(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	n, scale := sz.fleetJobs, sz.fleetScale
	opDur, poll, ra := scaled(realFleetOp, scale), scaled(realPollInterval, scale), scaled(realRetryAfter, scale)
	res := Result{Setup: fmt.Sprintf("%d clusters, one node pool scale each; operations take %s, poll interval %s, Retry-After %s, progress every %s (real-world values divided by %s)",
		n, opDur, poll, ra, scaled(realProgressInterval, scale), trim(scale))}
	dir, err := os.MkdirTemp("", "aksbot-bench-fleet-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	w, err := startWorld(ctx, worldConfig{Dir: dir, Clusters: n, Duration: opDur, RetryAfter: ra})
	if err != nil {
		return res, err
	}
	defer w.close()
	counter := newARMCounter()
	bot, err := startBot(ctx, filepath.Join(dir, "aksbot.db"), w, counter, scale)
	if err != nil {
		return res, err
	}
	defer bot.stop()

	submitted := time.Now()
	if err := submitFleet(ctx, bot.eng, n); err != nil {
		return res, err
	}
	if err := waitJobs(ctx, bot.st, n, aks.StateRunning, opDur); err != nil {
		return res, err
	}
	allRunning := time.Now()
	fmt.Fprintf(progress, "bench: %d jobs running after %s\n", n, allRunning.Sub(submitted).Round(100*time.Millisecond))

	// The window ends before the first operation can end, so all jobs poll throughout.
	windowEnd := allRunning.Add(scaled(realWindow, scale))
	if firstEnd := submitted.Add(opDur * 9 / 10); firstEnd.Before(windowEnd) {
		windowEnd = firstEnd
	}
	if windowEnd.Sub(allRunning) < opDur/10 {
		return res, fmt.Errorf("starting %d jobs took %s, too long to leave a window in which all of them poll", n, allRunning.Sub(submitted))
	}
	cpu0, wcpu0 := cpuTime(), orZero(w.cpu())
	var maxRSS int64
	for time.Now().Before(windowEnd) {
		if rss, err := rssBytes(); err == nil {
			maxRSS = max(maxRSS, rss)
		}
		if !sleepCtx(ctx, min(time.Second, time.Until(windowEnd))) {
			return res, ctx.Err()
		}
	}
	window := time.Since(allRunning)
	cpu, wcpu := cpuTime()-cpu0, orZero(w.cpu())-wcpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if rss, err := rssBytes(); err == nil {
		maxRSS = max(maxRSS, rss)
	}
	goroutines := runtime.NumGoroutine()

	fmt.Fprintf(progress, "bench: window of %s measured; waiting for the %d operations to end\n", window.Round(100*time.Millisecond), n)
	if err := waitJobs(ctx, bot.st, n, aks.StateSucceeded, opDur+4*max(poll, ra)+time.Minute); err != nil {
		return res, err
	}
	total, polls, _ := counter.snapshot()
	sum, most := 0, 0
	for _, p := range polls {
		sum += p
		most = max(most, p)
	}
	if len(polls) != n {
		return res, fmt.Errorf("saw status polls of %d operations, want %d", len(polls), n)
	}
	mean := float64(sum) / float64(n)
	minimum := math.Ceil(float64(opDur) / float64(max(poll, ra)))

	cpuPct := 100 * float64(cpu) / float64(window)
	res.Metrics = []Metric{
		info("jobs running at once", float64(n), "jobs"),
		info("time to submit and start them", allRunning.Sub(submitted).Seconds(), "s"),
		below("resident memory (VmRSS, max in window)", float64(maxRSS)/mib, "MB", 150, false),
		info("Go heap in use", float64(ms.HeapInuse)/mib, "MB"),
		info("Go runtime memory from the OS (Sys)", float64(ms.Sys)/mib, "MB"),
		info("goroutines", float64(goroutines), ""),
		info("measurement window", window.Seconds(), "s"),
	}
	if scale != 1 {
		res.Metrics = append(res.Metrics, info("CPU while polling, at this time scale", cpuPct, "%"))
	}
	res.Metrics = append(res.Metrics,
		below("CPU while polling (of one core, real time)", cpuPct/scale, "%", 5, false),
		info("fake Azure + Slack CPU (child process)", 100*float64(wcpu)/float64(window)/scale, "%"),
		info("status polls per operation (mean)", mean, ""),
		info("status polls per operation (max)", float64(most), ""),
		info("minimum: ceil(duration / max(poll, Retry-After))", minimum, ""),
		below("polls per operation vs minimum", mean/minimum, "x", 1.1, true),
		info("ARM requests per job, all kinds", float64(total)/float64(n), ""),
	)
	return res, bot.stop()
}

// benchRestart: a restart with many jobs running in Azure.
func benchRestart(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	n, scale := sz.restartJobs, sz.restartScale
	poll, ra := scaled(realPollInterval, scale), scaled(realRetryAfter, scale)
	res := Result{Setup: fmt.Sprintf("%d running jobs stored with resume tokens; poll interval %s, Retry-After %s (real-world values divided by %s)",
		n, poll, ra, trim(scale))}
	dir, err := os.MkdirTemp("", "aksbot-bench-restart-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	w, err := startWorld(ctx, worldConfig{Dir: dir, Clusters: n, Duration: scaled(realRestartOp, scale), RetryAfter: ra})
	if err != nil {
		return res, err
	}
	defer w.close()
	counter := newARMCounter()
	dbPath := filepath.Join(dir, "aksbot.db")
	first, err := startBot(ctx, dbPath, w, counter, scale)
	if err != nil {
		return res, err
	}
	if err := submitFleet(ctx, first.eng, n); err != nil {
		first.stop()
		return res, err
	}
	if err := waitJobs(ctx, first.st, n, aks.StateRunning, 5*time.Minute); err != nil {
		first.stop()
		return res, err
	}
	if err := first.stop(); err != nil {
		return res, fmt.Errorf("stop the first engine: %w", err)
	}
	fmt.Fprintf(progress, "bench: %d jobs running in Azure, engine stopped; restarting\n", n)

	counter.startMark()
	restarted := time.Now()
	second, err := startBot(ctx, dbPath, w, counter, scale)
	if err != nil {
		return res, err
	}
	defer second.stop()
	wctx, cancel := context.WithTimeout(ctx, 3*max(poll, ra)+2*time.Minute)
	defer cancel()
	err = waitUntil(wctx, 50*time.Millisecond, func() (bool, error) {
		_, _, firstPolls := counter.snapshot()
		return len(firstPolls) >= n, nil
	})
	if err != nil {
		return res, fmt.Errorf("wait for every job to poll again: %w", err)
	}
	_, _, firstPolls := counter.snapshot()
	var last time.Time
	for _, at := range firstPolls {
		if at.After(last) {
			last = at
		}
	}
	resumed, err := lastResumed(ctx, second.st)
	if err != nil {
		return res, err
	}
	res.Metrics = []Metric{
		info("jobs in flight", float64(n), "jobs"),
		info("every job resumed (its Resumed event stored)", resumed.Sub(restarted).Seconds(), "s"),
		info("poll interval (the engine waits this long before polling)", poll.Seconds(), "s"),
		below("every job polled Azure again", last.Sub(restarted).Seconds(), "s", 5, false),
	}
	return res, second.stop()
}

// lastResumed returns when the last running job stored its Resumed event.
func lastResumed(ctx context.Context, st *store.Store) (time.Time, error) {
	list, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateRunning}})
	if err != nil {
		return time.Time{}, fmt.Errorf("list running jobs: %w", err)
	}
	var last time.Time
	for _, j := range list {
		evs, err := st.Events(ctx, j.ID)
		if err != nil {
			return time.Time{}, fmt.Errorf("read events of job %s: %w", j.ID, err)
		}
		for _, ev := range evs {
			if ev.Kind == aks.EventResumed && ev.At.After(last) {
				last = ev.At
			}
		}
	}
	return last, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// orZero drops the error of a figure that is only shown for context (it is 0 then).
func orZero(d time.Duration, _ error) time.Duration { return d }
