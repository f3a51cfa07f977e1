package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/azure/aadtest"
	"github.com/aksbot/aksbot/internal/azure/sim"
)

// The fault-injection suite: many jobs against the simulated cloud while the bot is killed
// with SIGKILL and started again at random points, Slack answers 429, ARM answers 429 and
// 500 and loses answers to mutations, and clusters get busy with operations started outside
// the bot (409). Everything random comes from one seed: the workload, the kill times, the
// Slack bursts and the sim's fault draws. (The interleaving of the bot's goroutines with the
// test is not seeded, so one seed reproduces the same storm, not the same exact schedule.)
// After the storm, faults stop, the bot runs until every job is final and its messages are
// delivered, and the invariants of faultInvariants must hold.
//
// The default run is short enough for CI. AKSBOT_FAULT_LONG=1 runs the long suite;
// AKSBOT_FAULT_SEED=N fixes the seed (default: a fixed seed for CI, a random one for the long
// suite). Each run logs one summary line starting with "fault summary:" (go test -v shows it).
// AKSBOT_FAULT_TRACE=1 also logs the settling and keeps the bot's logs in a file, as a failed
// run always does.
func TestFaultInjection(t *testing.T) {
	cfg := faultSettings(t)
	if err := runFaultSuite(t, cfg); err != nil {
		t.Fatal(err)
	}
}

// faultConfig sizes one run.
type faultConfig struct {
	seed     int64
	jobs     int           // jobs the bot must acknowledge (some commands are refused: not jobs)
	crashes  int           // SIGKILLs during the storm (at least)
	clusters int           // seeded clusters without approval, plus one that needs approvals
	creates  int           // cluster creates in the workload
	meanUp   time.Duration // mean time between kills (exponential)
	settle   time.Duration // how long the bot may take to finish everything after the storm
}

func faultSettings(t *testing.T) faultConfig {
	long := os.Getenv("AKSBOT_FAULT_LONG") == "1"
	cfg := faultConfig{seed: 20261127, jobs: 12, crashes: 4, clusters: 2, creates: 1, meanUp: 1500 * time.Millisecond, settle: 90 * time.Second}
	if long {
		cfg = faultConfig{seed: time.Now().UnixNano() % 1e9, jobs: 210, crashes: 32, clusters: 4, creates: 4, meanUp: 3 * time.Second, settle: 20 * time.Minute}
	}
	if s := os.Getenv("AKSBOT_FAULT_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("AKSBOT_FAULT_SEED=%q is not a number", s)
		}
		cfg.seed = n
	}
	return cfg
}

// faultRun is the state of one run.
type faultRun struct {
	t    *testing.T
	cfg  faultConfig
	w    *world
	aad  *aadtest.Server
	bot  *process
	logs []*syncBuffer // of every process, for the failure dump

	seeded   []string // clusters seeded without approval
	gated    string   // the cluster whose scale-ups need an approval
	created  int      // creates asked for so far
	commands int      // job commands sent and acknowledged
	crashes  int
	restarts int
	clicked  map[string]time.Time // job ID -> last Approve click
	external int                  // StartExternal calls that took
	bursts   int                  // Slack 429 bursts set up
}

func runFaultSuite(t *testing.T, cfg faultConfig) error {
	began := time.Now()
	t.Logf("fault suite: seed %d (reproduce with AKSBOT_FAULT_SEED=%d)", cfg.seed, cfg.seed)
	r := newFaultRun(t, cfg)
	r.storm()
	t.Logf("storm over after %s: %d commands, %d jobs acknowledged, %d crashes", time.Since(began).Round(100*time.Millisecond), r.commands, len(r.ackedJobs()), r.crashes)
	counts := r.w.sim.Faults()
	r.w.sim.SetFaults(sim.Faults{})
	r.w.slack.RateLimit("chat.postMessage", 0, 0)
	r.w.slack.RateLimit("chat.update", 0, 0)
	st, outboxLeft := r.settle()
	defer st.Close()
	violations, njobs := faultInvariants(r, st, outboxLeft)
	slack429 := r.w.slack.Throttled("chat.postMessage") + r.w.slack.Throttled("chat.update")
	conflicts := 0
	for _, req := range r.w.sim.Requests() {
		if req.Status == 409 {
			conflicts++
		}
	}
	// A run that met no fault of some kind proves nothing about it (the storm ensures each).
	for _, k := range []struct {
		name string
		n    int
	}{{"ARM 429 (throttle)", counts.Throttle}, {"ARM lost answer", counts.LostResponse}, {"ARM 409", conflicts}, {"Slack 429", slack429}} {
		if k.n == 0 {
			violations = append(violations, "the run met no "+k.name+": it proves nothing about that fault")
		}
	}
	summary := fmt.Sprintf("fault summary: seed=%d jobs=%d acked_jobs=%d commands=%d crashes=%d restarts=%d sim_faults={throttle:%d server_error:%d lost_response:%d conflict:%d} external_ops=%d slack_429=%d arm_409=%d violations=%d duration=%s",
		cfg.seed, njobs, len(r.ackedJobs()), r.commands, r.crashes, r.restarts, counts.Throttle, counts.ServerError, counts.LostResponse, counts.Conflict,
		r.external, slack429, conflicts, len(violations), time.Since(began).Round(100*time.Millisecond))
	t.Log(summary)
	if os.Getenv("AKSBOT_FAULT_TRACE") != "" {
		t.Logf("logs: %s", r.dumpLogs())
	}
	if len(violations) == 0 {
		return nil
	}
	dump := r.dumpLogs()
	msg := fmt.Sprintf("%d invariant violations with seed %d (reproduce: AKSBOT_FAULT_SEED=%d):", len(violations), cfg.seed, cfg.seed)
	for _, v := range violations {
		msg += "\n  - " + v
	}
	var channels strings.Builder
	for _, m := range r.messages() {
		fmt.Fprintf(&channels, "\n  [%s %s thread=%s updates=%d] %s", m.Channel, m.TS, m.ThreadTS, m.Updates, m.Text)
	}
	return fmt.Errorf("%s\nbot logs: %s\nchannels:%s", msg, dump, channels.String())
}

// dumpLogs writes the logs of every bot process to a file that outlives the test.
func (r *faultRun) dumpLogs() string {
	f, err := os.CreateTemp("", fmt.Sprintf("aksbot-fault-%d-*.log", r.cfg.seed))
	if err != nil {
		return "(could not write: " + err.Error() + ")"
	}
	defer f.Close()
	for i, l := range r.logs {
		fmt.Fprintf(f, "===== process %d =====\n%s\n", i+1, l.String())
	}
	return f.Name()
}

func newFaultRun(t *testing.T, cfg faultConfig) *faultRun {
	t.Helper()
	r := &faultRun{t: t, cfg: cfg, clicked: map[string]time.Time{}}
	d := 1200 * time.Millisecond
	durations := sim.Durations{Create: 2 * d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}
	cloud, err := sim.New(sim.Options{DB: simDB(t), Durations: durations, RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	r.w = &world{t: t, sim: cloud, dbPath: filepath.Join(t.TempDir(), "aksbot.db"), logs: &syncBuffer{}, httpAddr: "off"}
	r.w.arm = newTLS(t, cloud)
	r.w.slack = newSlack(t)
	r.aad = aadtest.NewServer()
	t.Cleanup(r.aad.Close)
	for i := range cfg.clusters {
		r.seeded = append(r.seeded, fmt.Sprintf("flt%d", i+1))
	}
	r.gated = "appr1"
	for _, name := range append(append([]string(nil), r.seeded...), r.gated) {
		if err := cloud.Seed(context.Background(), "rg-aks", name, "westeurope", faultPools...); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// faultPools are the pools of every seeded cluster: a system pool, two user pools to scale,
// and an autoscaled pool whose bounds the workload updates (its count 2 fits every bound it
// may get, so the autoscaler never has to move it).
var faultPools = []sim.SeedPool{
	{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 1},
	{Name: "np1", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1},
	{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 2},
	{Name: "asp", Mode: "User", VMSize: "Standard_DS2_v2", Count: 2, Autoscale: true, Min: 1, Max: 3},
}
