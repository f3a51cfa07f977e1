package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// The multi-replica fault suite: three bot processes (the built binary) share one etcd (embedded
// by the test, etcdtest), one fake Slack (each its own socket-mode connection) and one simulated
// cloud over HTTPS, and run the fault suite's workload while the test
//
//   - kills replicas with SIGKILL at seeded random times and starts them again,
//   - stops one with SIGSTOP for longer than its lease TTL (store.etcd.leaseTTL: 2s) and lets it
//     go on with SIGCONT: it must find itself deposed and write nothing more for its old lanes,
//   - (with a three-member etcd) stops the etcd leader and starts it again,
//   - and injects the Slack and ARM faults of TestFaultInjection.
//
// After the storm the faults stop, every replica runs until all jobs are final and reported and
// the outbox is empty, and faultInvariants must hold, plus checkReplicaMutations and
// checkOwnerEvents (ha_check_test.go): one replica at a time mutates a cluster, and no event
// of a deposed lane owner is stored.
//
// The default run is short enough for CI. AKSBOT_HA_LONG=1 runs the long suite (random seed,
// printed); AKSBOT_HA_SEED=N replays a seed. Each run logs a line starting with "ha summary:".
func TestReplicasFaultInjection(t *testing.T) {
	t.Run("one etcd member", func(t *testing.T) {
		if err := runHASuite(t, haSettings(t, 1)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("three etcd members, leader restarted", func(t *testing.T) {
		if err := runHASuite(t, haSettings(t, 3)); err != nil {
			t.Fatal(err)
		}
	})
}

// replicaStore is what the suite reads after a run: the jobs, their events, the audit log and
// the outbox's length, from the etcd store the replicas shared.
type replicaStore interface {
	checkedStore
	OutboxLen(ctx context.Context) (int, error)
}

// haLeaseTTL is the replicas' store.etcd.leaseTTL: the time a dead or stopped replica keeps its
// lanes.
const haLeaseTTL = 2 * time.Second

// haConfig sizes one multi-replica run.
type haConfig struct {
	faultConfig     // seed, jobs, kills (crashes), clusters, creates, mean time between kills, settle
	members     int // etcd members
	replicas    int
	sigstops    int // replicas stopped past their lease TTL
	leaderStops int // etcd leader stops (members > 1)
}

func haSettings(t *testing.T, members int) haConfig {
	long := os.Getenv("AKSBOT_HA_LONG") == "1"
	cfg := haConfig{members: members, replicas: 3, sigstops: 1,
		faultConfig: faultConfig{seed: 20261204, jobs: 8, crashes: 3, clusters: 2, creates: 1, meanUp: 2 * time.Second, settle: 90 * time.Second}}
	if long {
		cfg.faultConfig = faultConfig{seed: time.Now().UnixNano() % 1e9, jobs: 200, crashes: 30, clusters: 4, creates: 4, meanUp: 3 * time.Second, settle: 20 * time.Minute}
		cfg.sigstops = 8
	}
	if members > 1 {
		// The short run of the three-member variant is about the leader stop; the kills and the
		// SIGSTOP are the one-member variant's (together about a minute under -race).
		cfg.leaderStops = 1
		if long {
			cfg.leaderStops = 6
		} else {
			cfg.jobs, cfg.crashes, cfg.sigstops = 6, 1, 0
		}
	}
	if s := os.Getenv("AKSBOT_HA_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("AKSBOT_HA_SEED=%q is not a number", s)
		}
		cfg.seed = n
	}
	return cfg
}

// haReplica is one bot process slot: its ID stays, its process changes with every restart.
type haReplica struct {
	id      string
	dir     string
	proc    *process
	stopped time.Time // when it was SIGSTOPped; zero when it runs
}

func (rep *haReplica) alive() bool {
	if rep.proc == nil {
		return false
	}
	select {
	case <-rep.proc.done:
		return false
	default:
		return true
	}
}

// haRun is the state of one run. The workload, the fakes and the fault checks are the fault
// suite's (faultRun); its single bot is replaced by the replicas.
type haRun struct {
	*faultRun
	hc       haConfig
	etcd     *etcdtest.Cluster
	prefix   string
	cfgFile  string
	certFile string
	replicas []*haReplica

	sigstops, leaderStops int
	usesEtcd              bool // the first replica was seen writing to etcd
}

// haConfigYAML is the fault suite's policy plus the etcd store settings.
const haStoreYAML = `store:
  etcd:
    prefix: %s
    leaseTTL: %s
`

func newHARun(t *testing.T, hc haConfig) *haRun {
	t.Helper()
	h := &haRun{faultRun: newFaultRun(t, hc.faultConfig), hc: hc, prefix: fmt.Sprintf("/aksbot-ha-%d/", hc.seed)}
	h.etcd = etcdtest.StartCluster(t, hc.members)
	dir := filepath.Dir(h.w.dbPath)
	h.certFile = filepath.Join(dir, "arm-ca.pem")
	if err := os.WriteFile(h.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.w.arm.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cfgFile = filepath.Join(dir, "ha.yaml")
	yaml := fmt.Sprintf(faultPolicy, approver) + fmt.Sprintf(haStoreYAML, h.prefix, haLeaseTTL)
	if err := os.WriteFile(h.cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range hc.replicas {
		rep := &haReplica{id: fmt.Sprintf("ha-r%d", i+1), dir: t.TempDir()}
		h.replicas = append(h.replicas, rep)
	}
	return h
}

// replicaEnv is the environment of one replica: the fault suite's, plus etcd mode and the
// replica's own ID, data file path and health address.
func (h *haRun) replicaEnv(rep *haReplica) map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN":       appToken,
		"SLACK_BOT_TOKEN":       botToken,
		"SLACK_API_URL":         h.w.slack.APIURL(),
		"AZURE_SUBSCRIPTION_ID": sim.SubscriptionID,
		"AKSBOT_ARM_ENDPOINT":   h.w.arm.URL,
		"AKSBOT_CONFIG":         h.cfgFile,
		"AKSBOT_DB":             filepath.Join(rep.dir, "aksbot.db"), // unused in etcd mode
		"AKSBOT_HTTP_ADDR":      "off",
		"AKSBOT_LOG_LEVEL":      "debug",
		"AKSBOT_ETCD_ENDPOINTS": strings.Join(h.etcd.Endpoints(), ","),
		"AKSBOT_REPLICA_ID":     rep.id,
		"AZURE_AUTHORITY_HOST":  h.aad.URL,
		"AZURE_TENANT_ID":       "00000000-0000-0000-0000-00000000beef",
		"AZURE_CLIENT_ID":       "00000000-0000-0000-0000-00000000c1d0",
		"AZURE_CLIENT_SECRET":   "ha-client-secret",
		"SSL_CERT_FILE":         h.certFile,
	}
}

// startReplica runs a new process for rep and waits until it is connected to Slack.
func (h *haRun) startReplica(rep *haReplica) {
	h.t.Helper()
	n := h.w.slack.Connections()
	rep.proc = spawnEnv(h.t, rep.dir, h.replicaEnv(rep))
	rep.stopped = time.Time{}
	h.logs = append(h.logs, rep.proc.logs)
	waitConnected(h.t, h.w, rep.proc, n+1)
	if !h.usesEtcd {
		h.waitEtcdKeys(rep)
		h.usesEtcd = true
	}
}

// waitEtcdKeys fails the test unless the replica wrote under the store's prefix in etcd soon
// after it connected: a binary that ignores AKSBOT_ETCD_ENDPOINTS would otherwise run on its
// own bbolt file and make every check fail for a reason that is not theirs.
func (h *haRun) waitEtcdKeys(rep *haReplica) {
	h.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: h.etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cli.Get(ctx, h.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err == nil && resp.Count > 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("replica %s wrote nothing under %q in etcd (err %v): does the binary honour AKSBOT_ETCD_ENDPOINTS and store.etcd.prefix?\n%s",
				rep.id, h.prefix, err, rep.proc.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// live returns the replicas that run and are not stopped.
func (h *haRun) live() []*haReplica {
	var out []*haReplica
	for _, rep := range h.replicas {
		if rep.alive() && rep.stopped.IsZero() {
			out = append(out, rep)
		}
	}
	return out
}

// useLive points the fault suite's helpers (approvePending checks that "the bot" runs) at a
// live replica.
func (h *haRun) useLive() bool {
	live := h.live()
	if len(live) == 0 {
		h.bot = nil
		return false
	}
	h.bot = live[0].proc
	return true
}

func runHASuite(t *testing.T, hc haConfig) error {
	began := time.Now()
	t.Logf("multi-replica suite: seed %d, %d etcd members (reproduce with AKSBOT_HA_SEED=%d)", hc.seed, hc.members, hc.seed)
	h := newHARun(t, hc)
	h.storm()
	t.Logf("storm over after %s: %d commands, %d jobs acknowledged, %d kills, %d SIGSTOPs, %d etcd leader stops",
		time.Since(began).Round(100*time.Millisecond), h.commands, len(h.ackedJobs()), h.crashes, h.sigstops, h.leaderStops)
	counts := h.w.sim.Faults()
	h.w.sim.SetFaults(sim.Faults{})
	h.w.slack.RateLimit("chat.postMessage", 0, 0)
	h.w.slack.RateLimit("chat.update", 0, 0)
	st, closeStore, outboxLeft := h.settle()
	defer closeStore()

	violations, njobs := faultInvariants(h.faultRun, st, outboxLeft)
	bad := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }
	checkReplicaMutations(h.w.sim.Requests(), shortestOp(h.w.sim), bad)
	checkOwnerEvents(readEvents(st, bad), eventReplica, bad)
	slack429 := h.w.slack.Throttled("chat.postMessage") + h.w.slack.Throttled("chat.update")
	conflicts := 0
	for _, req := range h.w.sim.Requests() {
		if req.Status == 409 {
			conflicts++
		}
	}
	for _, k := range []struct {
		name string
		n    int
	}{{"ARM 429 (throttle)", counts.Throttle}, {"ARM lost answer", counts.LostResponse}, {"ARM 409", conflicts}, {"Slack 429", slack429}} {
		if k.n == 0 {
			bad("the run met no %s: it proves nothing about that fault", k.name)
		}
	}

	summary := fmt.Sprintf("ha summary: seed=%d members=%d replicas=%d jobs=%d acked_jobs=%d commands=%d kills=%d restarts=%d sigstops=%d leader_stops=%d sim_faults={throttle:%d server_error:%d lost_response:%d conflict:%d} external_ops=%d slack_429=%d arm_409=%d violations=%d duration=%s",
		hc.seed, hc.members, hc.replicas, njobs, len(h.ackedJobs()), h.commands, h.crashes, h.restarts, h.sigstops, h.leaderStops,
		counts.Throttle, counts.ServerError, counts.LostResponse, counts.Conflict, h.external, slack429, conflicts, len(violations), time.Since(began).Round(100*time.Millisecond))
	t.Log(summary)
	if len(violations) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d invariant violations with seed %d (reproduce: AKSBOT_HA_SEED=%d):", len(violations), hc.seed, hc.seed)
	for _, v := range violations {
		msg += "\n  - " + v
	}
	return fmt.Errorf("%s\nreplica logs: %s", msg, h.dumpLogs())
}

// shortestOp is the shortest operation the simulated cloud of newFaultRun runs (its durations
// are all 1.2 s but the create's): an operation accepted less than this ago is still running.
func shortestOp(*sim.Cloud) time.Duration { return 1200 * time.Millisecond }

// storm runs the workload and every fault until enough jobs were acknowledged and every fault
// happened as often as configured.
func (h *haRun) storm() {
	t := h.t
	g := rngs(h.hc.seed, 6)
	cmdRng, killRng, stepRng, stopRng := g[0], g[1], g[2], g[3]
	h.w.sim.SetFaults(sim.Faults{Seed: h.hc.seed, Throttle: 0.04, ServerError: 0.04, LostResponse: 0.12, Conflict: 0.08, EnsureEach: true})
	// Every run meets each kind of fault at least once, whatever its seed draws: the first
	// posts to Slack are refused with 429 (more bursts come at random below).
	h.w.slack.RateLimit("chat.postMessage", 1, time.Second)
	h.bursts++
	for _, rep := range h.replicas {
		h.startReplica(rep)
	}
	upTime := func() time.Duration {
		d := time.Duration(killRng.ExpFloat64() * float64(h.hc.meanUp))
		return min(max(d, 300*time.Millisecond), 3*h.hc.meanUp)
	}
	hardStop := time.Now().Add(20*time.Minute + time.Duration(h.hc.jobs)*3*time.Second)
	nextKill := time.Now().Add(upTime())
	// SIGSTOPs and leader stops are spread over the storm at seeded moments after the first jobs.
	nextStop := time.Now().Add(time.Duration(1+stopRng.IntN(3)) * time.Second)
	nextLeaderStop := time.Now().Add(time.Duration(2+stopRng.IntN(4)) * time.Second)
	var stoppedMember *etcdtest.Member
	var memberBack time.Time

	for len(h.ackedJobs()) < h.hc.jobs || h.crashes < h.hc.crashes || h.sigstops < h.hc.sigstops || h.leaderStops < h.hc.leaderStops {
		if time.Now().After(hardStop) || h.commands > 4*h.hc.jobs+40 {
			t.Fatalf("storm did not finish: %d commands made %d jobs, %d kills, %d SIGSTOPs, %d leader stops",
				h.commands, len(h.ackedJobs()), h.crashes, h.sigstops, h.leaderStops)
		}
		for _, rep := range h.replicas {
			if rep.proc != nil && !rep.alive() {
				// Exited by itself: a finding, not a fault we injected.
				t.Fatalf("replica %s exited by itself (seed %d): %s", rep.id, h.hc.seed, rep.proc.logs.String())
			}
			if !rep.stopped.IsZero() && time.Since(rep.stopped) > haLeaseTTL+time.Second {
				_ = rep.proc.cmd.Process.Signal(syscall.SIGCONT)
				rep.stopped = time.Time{}
			}
		}
		if stoppedMember != nil && time.Now().After(memberBack) {
			if err := stoppedMember.Start(); err != nil {
				t.Fatalf("restart etcd member %s: %v", stoppedMember.Name, err)
			}
			stoppedMember = nil
		}
		now := time.Now()
		switch {
		case now.After(nextKill) && h.crashes < h.hc.crashes+h.hc.crashes/2:
			live := h.live()
			if len(live) > 0 {
				rep := live[killRng.IntN(len(live))]
				rep.proc.kill()
				h.crashes++
				time.Sleep(time.Duration(killRng.IntN(500)) * time.Millisecond)
				h.startReplica(rep)
				h.restarts++
			}
			nextKill = time.Now().Add(upTime())
			continue
		case now.After(nextStop) && h.sigstops < h.hc.sigstops:
			live := h.live()
			if len(live) > 1 { // keep one replica serving
				rep := live[stopRng.IntN(len(live))]
				if err := rep.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				rep.stopped = time.Now()
				h.sigstops++
			}
			nextStop = time.Now().Add(haLeaseTTL + time.Duration(2+stopRng.IntN(4))*time.Second)
			continue
		case h.hc.members > 1 && stoppedMember == nil && now.After(nextLeaderStop) && h.leaderStops < h.hc.leaderStops:
			if m := h.etcd.Leader(); m != nil {
				m.Stop()
				stoppedMember, memberBack = m, time.Now().Add(time.Duration(1500+stopRng.IntN(2000))*time.Millisecond)
				h.leaderStops++
			}
			nextLeaderStop = time.Now().Add(time.Duration(5+stopRng.IntN(5)) * time.Second)
			continue
		}
		if h.useLive() {
			h.approvePending(6 * time.Second)
		}
		x := stepRng.Float64()
		switch {
		case x < 0.75:
			if len(h.ackedJobs()) < h.hc.jobs {
				h.command(h.nextCommand(cmdRng))
			}
		case x < 0.87:
			method := []string{"chat.postMessage", "chat.update"}[stepRng.IntN(2)]
			h.w.slack.RateLimit(method, 1+stepRng.IntN(3), time.Second)
			h.bursts++
		case x < 0.95:
			all := append(append([]string(nil), h.seeded...), h.gated)
			c := all[stepRng.IntN(len(all))]
			if h.w.sim.StartExternal("rg-aks", c, time.Duration(800+stepRng.IntN(2000))*time.Millisecond) == nil {
				h.external++
			}
		}
		time.Sleep(time.Duration(40+stepRng.IntN(200)) * time.Millisecond)
	}
	if stoppedMember != nil {
		if err := stoppedMember.Start(); err != nil {
			t.Fatalf("restart etcd member %s: %v", stoppedMember.Name, err)
		}
	}
}

// settle lets the replicas finish everything without faults: every replica runs, Slack goes
// quiet, all stop gracefully, and the store is read. Jobs still open, or messages left in the
// outbox, mean another round.
func (h *haRun) settle() (replicaStore, func(), int) {
	t := h.t
	deadline := time.Now().Add(h.hc.settle)
	for round := 1; ; round++ {
		for _, rep := range h.replicas {
			if !rep.stopped.IsZero() {
				_ = rep.proc.cmd.Process.Signal(syscall.SIGCONT)
				rep.stopped = time.Time{}
			}
			if !rep.alive() {
				h.startReplica(rep)
			}
		}
		last, since := "", time.Now()
		for time.Now().Before(deadline) {
			if h.useLive() {
				h.approvePending(3 * time.Second)
			}
			done, fp := h.quiet()
			if fp != last {
				last, since = fp, time.Now()
			}
			if done && time.Since(since) > 2*time.Second {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		h.stopAll()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, closeStore, err := openReplicaStore(ctx, h.etcd.Endpoints(), h.prefix)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		open, left, err := unfinishedIn(ctx, st)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if (open == 0 && left == 0) || time.Now().After(deadline) {
			t.Logf("settled after %d rounds: %d jobs not final or not reported, %d outbox entries left", round, open, left)
			return st, closeStore, left
		}
		closeStore()
	}
}

// stopAll sends SIGTERM to every replica at once and waits for them (SIGKILL after 15 s).
func (h *haRun) stopAll() {
	var wg sync.WaitGroup
	for _, rep := range h.replicas {
		if !rep.alive() {
			continue
		}
		wg.Go(func() {
			_ = rep.proc.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-rep.proc.done:
			case <-time.After(15 * time.Second):
				h.t.Errorf("replica %s did not stop within 15 s of SIGTERM", rep.id)
				rep.proc.kill()
			}
		})
	}
	wg.Wait()
}

// unfinishedIn counts the jobs that are not final or whose end is not reported, and the outbox
// entries not delivered, through the store ports.
func unfinishedIn(ctx context.Context, st replicaStore) (open, outboxLeft int, err error) {
	all, err := st.Jobs(ctx, aks.Filter{})
	if err != nil {
		return 0, 0, fmt.Errorf("read jobs: %w", err)
	}
	for _, j := range all {
		if !j.State.Final() || !j.FinalReported {
			open++
		}
	}
	outboxLeft, err = st.OutboxLen(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read the outbox: %w", err)
	}
	return open, outboxLeft, nil
}

// newHAWorld is three replicas (not started) on one embedded etcd under prefix, one fake
// Slack and the simulated cloud with cluster rg-aks/demo, for the tests that script a scene.
func newHAWorld(t *testing.T, durations sim.Durations, prefix string) (*haRun, *world, *sim.Cloud) {
	t.Helper()
	w, aad := newProcessWorld(t, durations)
	cloud := w.sim
	h := &haRun{faultRun: &faultRun{t: t, w: w, aad: aad, clicked: map[string]time.Time{}}, prefix: prefix}
	h.etcd = etcdtest.Start(t)
	dir := filepath.Dir(w.dbPath)
	h.certFile = filepath.Join(dir, "arm-ca.pem")
	if err := os.WriteFile(h.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.arm.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cfgFile = filepath.Join(dir, "ha.yaml")
	yaml := fmt.Sprintf("azure:\n  resourceGroup: rg-aks\n  location: westeurope\npolicy:\n  approvers: [%s]\njobs:\n  pollInterval: 1s\n  progressInterval: 10s\n", approver) +
		fmt.Sprintf(haStoreYAML, h.prefix, haLeaseTTL)
	if err := os.WriteFile(h.cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		h.replicas = append(h.replicas, &haReplica{id: fmt.Sprintf("ha-r%d", i+1), dir: t.TempDir()})
	}
	return h, w, cloud
}

// The happy path of a handover: a job is requested through replica 1's connection and approved
// through replica 2's; its lane owner starts it in Azure and is killed with SIGKILL in the
// middle of the operation; a survivor takes the lane over within the lease TTL and finishes
// the job: one status card (naming the replica that runs the job), one final message, one
// Azure mutation.
//
// Slack delivers an envelope to one of the app's connections; the fake delivers to the newest,
// so the replicas are started in the order that routes the request and the click.
func TestReplicasHandOverARunningJob(t *testing.T) {
	durations := fastAzure()
	durations.Scale = 8 * time.Second
	h, w, cloud := newHAWorld(t, durations, "/aksbot-handover/")
	dump := func() string { return w.dump() + "\nreplica logs: " + h.dumpLogs() }

	h.startReplica(h.replicas[0])
	w.slash(requester, "nodepool scale demo np2 --node-count 3") // through replica 1
	parent := w.newParent(0)
	appr := w.approval(parent)
	h.startReplica(h.replicas[1])
	w.click(approver, parent, appr, "aksbot_approve", "1") // through replica 2
	h.startReplica(h.replicas[2])
	w.waitFor("the operation to start in Azure", func() bool { return countContaining(w.thread(parent), "Started in Azure") == 1 })

	// The owner is the replica whose PUT Azure accepted.
	owner := ""
	for _, r := range cloud.Requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "agentPools/np2") && r.Accepted() {
			owner = r.Header.Get(azure.ReplicaHeader)
		}
	}
	var victim *haReplica
	for _, rep := range h.replicas {
		if rep.id == owner {
			victim = rep
		}
	}
	if victim == nil {
		t.Fatalf("the accepted PUT names replica %q (%s), not one of the replicas: %s", owner, azure.ReplicaHeader, dump())
	}
	killed := time.Now()
	victim.proc.kill()
	if c := countContaining(w.thread(parent), "succeeded"); c != 0 {
		t.Fatalf("the job ended before the kill (make the simulated scale slower): %s", dump())
	}

	th := w.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d thread messages say succeeded, want 1: %s", n, dump())
	}
	if ps := w.parents(); len(ps) != 1 {
		t.Errorf("%d status cards, want 1: %s", len(ps), dump())
	}
	accepted := 0
	var survivor string
	for _, r := range cloud.Requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "agentPools/np2") && r.Accepted() {
			accepted++
		}
		// The survivor is the replica that next looked at the operation or the pool.
		following := strings.Contains(r.Path, "agentPools/np2") || strings.Contains(strings.ToLower(r.Path), "/operations/")
		if r.At.After(killed) && following && survivor == "" {
			survivor = r.Header.Get(azure.ReplicaHeader)
		}
	}
	if accepted != 1 {
		t.Errorf("%d PUTs of np2 accepted by Azure, want 1", accepted)
	}
	if survivor == "" || survivor == owner {
		t.Errorf("after the kill of %s, Azure was asked by %q, want a survivor", owner, survivor)
	}
	w.waitFor("the status card to say succeeded", func() bool { return strings.HasSuffix(w.parents()[0].Text, "succeeded") })
	card := w.parents()[0]
	if !strings.Contains(card.Text+string(card.Blocks), survivor) {
		t.Errorf("the status card does not name the replica that ran the job to its end (%s): %q", survivor, card.Text)
	}
	if took := time.Since(killed); took > durations.Scale+haLeaseTTL+5*time.Second {
		t.Errorf("the survivor took %s to finish the job", took)
	}

	var violations []string
	bad := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }
	checkReplicaMutations(cloud.Requests(), durations.Update, bad)
	h.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, closeStore, err := openReplicaStore(ctx, h.etcd.Endpoints(), h.prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	checkOwnerEvents(readEvents(st, bad), eventReplica, bad)
	for _, v := range violations {
		t.Error(v)
	}
}

// A rolling restart of every replica (SIGTERM, then a new process) under a stream of slash
// commands: each replica closes its socket first, so Slack sends to the others (and sends an
// envelope the closing socket did not acknowledge again elsewhere), and no command goes
// unacknowledged. Each replica exits within 10 s of SIGTERM.
func TestReplicasRollingRestartLeavesNoCommandUnacked(t *testing.T) {
	h, w, _ := newHAWorld(t, fastAzure(), "/aksbot-rolling/")
	for _, rep := range h.replicas {
		h.startReplica(rep)
	}

	var mu sync.Mutex
	var sent int
	var unacked []string
	stop := make(chan struct{})
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := w.slack.SendSlash(ctx, slacktest.Slash{User: requester, UserName: strings.ToLower(requester), Channel: channel, Text: "jobs"})
			cancel()
			mu.Lock()
			sent++
			if err != nil {
				unacked = append(unacked, fmt.Sprintf("command %d: %v", i, err))
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	for _, rep := range h.replicas {
		time.Sleep(300 * time.Millisecond) // commands flow before each restart
		asked := time.Now()
		_ = rep.proc.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-rep.proc.done:
		case <-time.After(15 * time.Second):
			rep.proc.kill()
			t.Fatalf("replica %s did not exit within 15 s of SIGTERM:\n%s", rep.id, rep.proc.logs.String())
		}
		if took := time.Since(asked); took > 10*time.Second {
			t.Errorf("replica %s took %s to exit after SIGTERM, want at most 10 s", rep.id, took.Round(time.Millisecond))
		}
		h.startReplica(rep)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-streamDone

	mu.Lock()
	defer mu.Unlock()
	if sent < 20 {
		t.Errorf("only %d commands were sent during the restarts: the stream proves little", sent)
	}
	for _, u := range unacked {
		t.Errorf("unacknowledged during the rolling restart: %s", u)
	}
	t.Logf("%d commands during the rolling restart of %d replicas; %d envelopes sent again to another connection", sent, len(h.replicas), w.slack.Redeliveries())
	h.stopAll()
}
