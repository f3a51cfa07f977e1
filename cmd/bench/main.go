// Command bench measures aksbot against its performance targets (issue 5) on this machine,
// with the fake Slack (internal/slack/slacktest) and the simulated Azure cloud (internal/azure/sim)
// on loopback. It prints every figure next to its target with PASS or MISS:
//
//  1. ack latency of slash commands through the Slack transport, next to a bare socket-mode bot;
//  2. 1,000 concurrent running jobs: memory, CPU while they poll, status polls per operation;
//  3. Slack Web API calls per job, and 429s during a burst of jobs in one channel;
//  4. restart with 1,000 jobs in flight: time until every job has polled Azure again;
//  5. job state transitions per second in the store;
//
// and, with -replicas (or -only 6..9), aksbot as three replicas on etcd (replicas.go):
//
//  6. failover: SIGKILL of the replica owning 300 running jobs, until survivors poll them all;
//  7. takeover after SIGTERM (the lease is revoked);
//  8. ack latency with three replicas connected;
//  9. resident memory per replica with 1,000 running jobs over three.
//
// Usage: go run ./cmd/bench [-only N] [-quick] [-json] [-replicas [-bot FILE] [-etcd URLS]]
//
// The simulated cloud (and, for 2 and 4, the fake Slack) run in a child process (this binary
// started again), so the CPU and memory figures are the bot's alone. See BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(worldEnv) != "" {
		os.Exit(serveWorldFromEnv())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Result is what one benchmark measured.
type Result struct {
	ID      int      `json:"id"`
	Name    string   `json:"name"`
	Setup   string   `json:"setup"` // sizes and scaling, in words
	Metrics []Metric `json:"metrics"`
	Err     string   `json:"error,omitempty"`
}

// Metric is one figure. Target is empty for figures shown for context only.
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"` // e.g. "< 20 ms"
	Pass   *bool   `json:"pass,omitempty"`
}

// info is a figure without a target.
func info(name string, v float64, unit string) Metric {
	return Metric{Name: name, Value: v, Unit: unit}
}

// below is a figure with the target v < limit (v <= limit when orEqual).
func below(name string, v float64, unit string, limit float64, orEqual bool) Metric {
	op, ok := "<", v < limit
	if orEqual {
		op, ok = "<=", v <= limit
	}
	return Metric{Name: name, Value: v, Unit: unit, Target: fmt.Sprintf("%s %s %s", op, trim(limit), unit), Pass: &ok}
}

// above is a figure with the target v > limit.
func above(name string, v float64, unit string, limit float64) Metric {
	ok := v > limit
	return Metric{Name: name, Value: v, Unit: unit, Target: fmt.Sprintf("> %s %s", trim(limit), unit), Pass: &ok}
}

// sizes are the knobs that -quick turns down.
type sizes struct {
	quick bool

	ackBurst int // slash commands per burst
	// ackSpread is the time over which a burst's commands arrive: 500 in a second is a busy
	// workspace at its worst. All at once measures the fake's and the socket's throughput
	// instead; it is shown for context.
	ackSpread time.Duration
	ackRounds int // bursts per bot, alternating between the bots

	fleetJobs  int     // concurrent jobs (benchmark 2)
	fleetScale float64 // time runs this many times faster than in Azure

	restartJobs  int
	restartScale float64

	slackScale float64 // benchmark 3
	burstJobs  int

	storeJobs    int
	storeWorkers int
	storeFor     time.Duration

	failoverJobs int // benchmark 6
	revokeJobs   int // benchmark 7
	replicaJobs  int // benchmark 9
}

func fullSizes() sizes {
	return sizes{ackBurst: 500, ackSpread: time.Second, ackRounds: 2, fleetJobs: 1000, fleetScale: 1, restartJobs: 1000, restartScale: 1,
		slackScale: 20, burstJobs: 50, storeJobs: 512, storeWorkers: 64, storeFor: 5 * time.Second,
		failoverJobs: 300, revokeJobs: 100, replicaJobs: 1000}
}

func quickSizes() sizes {
	// fleetScale 8: operations of 15 s, so that starting the jobs slowed down by -race on a busy
	// machine still leaves a window in which all of them poll.
	return sizes{quick: true, ackBurst: 40, ackSpread: 200 * time.Millisecond, ackRounds: 1, fleetJobs: 20, fleetScale: 8, restartJobs: 20, restartScale: 20,
		slackScale: 600, burstJobs: 8, storeJobs: 32, storeWorkers: 8, storeFor: 300 * time.Millisecond,
		failoverJobs: 10, revokeJobs: 10, replicaJobs: 15}
}

type benchmark struct {
	id   int
	name string
	run  func(ctx context.Context, sz sizes, log io.Writer) (Result, error)
}

var benchmarks = []benchmark{
	{1, "Ack latency of slash commands", benchAck},
	{2, "Concurrent running jobs in one process", benchFleet},
	{3, "Slack Web API calls per job and 429s in a burst", benchSlack},
	{4, "Restart with jobs in flight", benchRestart},
	{5, "Job state transitions per second in the store", benchStore},
}

// replicaBenchmarks need the multi-replica bot and an etcd; they run with -replicas or -only.
var replicaBenchmarks = []benchmark{
	{6, "Failover: SIGKILL of the replica owning the running jobs", benchFailover},
	{7, "Takeover after SIGTERM (lease revoked)", benchRevoke},
	{8, "Ack latency with three replicas", benchReplicaAck},
	{9, "Resident memory per replica, jobs spread over three", benchReplicaRSS},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.Int("only", 0, "run only benchmark N (1-9)")
	replicas := fs.Bool("replicas", false, "also run the multi-replica benchmarks 6-9 (three bot processes on etcd)")
	fs.StringVar(&replicaOpts.bot, "bot", "", "the bot binary for benchmarks 6-9 (default: go build ./cmd/bot)")
	etcd := fs.String("etcd", "", "comma-separated etcd endpoints for benchmarks 6-9 (default: start the etcd binary on PATH)")
	quick := fs.Bool("quick", false, "smaller sizes, for a smoke run")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	traceFile := fs.String("trace", "", "write an execution trace of the whole run to `file` (go tool trace)")
	blockProfile := fs.String("blockprofile", "", "write a profile of where goroutines waited (blocking and mutexes) to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	stopProfiles, err := startProfiles(*cpuProfile, *traceFile)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	defer stopProfiles()
	if *blockProfile != "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		defer writeProfile(stderr, "block", *blockProfile)
	}
	all := benchmarks
	if *replicas || *only > len(benchmarks) {
		all = append(slices.Clone(benchmarks), replicaBenchmarks...)
	}
	if *only < 0 || *only > len(benchmarks)+len(replicaBenchmarks) {
		fmt.Fprintf(stderr, "bench: -only %d: there are benchmarks 1 to %d\n", *only, len(benchmarks)+len(replicaBenchmarks))
		return 2
	}
	if *etcd != "" {
		replicaOpts.etcd = strings.Split(*etcd, ",")
	}
	sz := fullSizes()
	if *quick {
		sz = quickSizes()
	}
	// Progress goes to stderr so that -json output stays clean.
	progress := stderr
	results := make([]Result, 0, len(all))
	failed := false
	for _, b := range all {
		if *only != 0 && b.id != *only {
			continue
		}
		fmt.Fprintf(progress, "bench: %d. %s ...\n", b.id, b.name)
		start := time.Now()
		res, err := b.run(ctx, sz, progress)
		res.ID, res.Name = b.id, b.name
		if err != nil {
			res.Err = err.Error()
			failed = true
		}
		fmt.Fprintf(progress, "bench: %d. done in %s\n", b.id, time.Since(start).Round(100*time.Millisecond))
		results = append(results, res)
		if ctx.Err() != nil {
			break
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"machine": machine(), "quick": *quick, "results": results})
	} else {
		printText(stdout, results)
	}
	if failed {
		return 1
	}
	return 0
}

// startProfiles starts the CPU profile and the execution trace asked for; the function it
// returns stops them and closes their files.
func startProfiles(cpuFile, traceFile string) (func(), error) {
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err != nil {
			return nil, fmt.Errorf("create CPU profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("start CPU profile: %w", err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			stop()
			return nil, fmt.Errorf("create trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return nil, fmt.Errorf("start trace: %w", err)
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

// writeProfile writes the named runtime profile to file.
func writeProfile(stderr io.Writer, name, file string) {
	f, err := os.Create(file)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: write %s profile: %v\n", name, err)
	}
}

func machine() map[string]any {
	return map[string]any{"goVersion": runtime.Version(), "goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": runtime.NumCPU(), "loadavg": loadavg()}
}

// loadavg is /proc/loadavg's first three fields: other work on the machine skews the figures.
func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func printText(w io.Writer, results []Result) {
	fmt.Fprintf(w, "aksbot benchmarks · %s %s/%s · %d CPUs · load average at the end %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadavg())
	for _, r := range results {
		fmt.Fprintf(w, "\n%d. %s\n", r.ID, r.Name)
		if r.Setup != "" {
			fmt.Fprintf(w, "   (%s)\n", r.Setup)
		}
		for _, m := range r.Metrics {
			line := fmt.Sprintf("   %-46s %12s %-5s", m.Name, trim(m.Value), m.Unit)
			if m.Target != "" {
				verdict := "MISS"
				if m.Pass != nil && *m.Pass {
					verdict = "PASS"
				}
				line += fmt.Sprintf("  target %-14s %s", m.Target, verdict)
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		if r.Err != "" {
			fmt.Fprintf(w, "   ERROR: %s\n", r.Err)
		}
	}
}

// trim formats a figure with three significant digits or so, without trailing zeros.
func trim(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
