package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aksbot/aksbot/internal/azure/aadtest"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// Benchmarks 6 to 9 run aksbot as several replicas on etcd (issue 9): each replica is the bot
// binary (cmd/bot) in a process of its own, configured the way an operator configures it:
//
//	AKSBOT_ETCD_ENDPOINTS  the etcd client URLs (set: the store is etcd, the replica shares work)
//	AKSBOT_REPLICA_ID      the replica's name (r1, r2, r3)
//	AKSBOT_CONFIG          a file with store.etcd.prefix and store.etcd.leaseTTL
//
// and the usual Slack and Azure variables, pointed at the fake Slack and at the simulated cloud
// over HTTPS with a fake Entra ID (both in this process, which is not measured: the figures are
// the replicas'). ARM requests name their replica in the x-aksbot-replica header, which the
// recorder in front of the simulated cloud reads to tell who polled.
//
// They need the multi-replica bot, so they run only when asked for: -replicas runs all four,
// -only N one of them. -bot names a built bot binary (default: go build ./cmd/bot), -etcd the
// endpoints of a running etcd (default: the etcd binary on PATH, started in a temp directory).

const replicaHeader = "x-aksbot-replica" // azure.ReplicaHeader

// replicaOptions are the flags of the replica benchmarks.
type replicaOptions struct {
	bot  string   // the bot binary; "" builds it
	etcd []string // etcd endpoints; nil starts one
}

var replicaOpts replicaOptions

// Settings of the replica benchmarks. Time runs as in Azure except for the operations, which
// last long enough that none ends during a measurement.
const (
	replicaLeaseTTL = 5 * time.Second  // store.etcd.leaseTTL
	replicaPoll     = 15 * time.Second // jobs.pollInterval (the engine's floor for Azure)
	replicaOp       = 30 * time.Minute // every simulated operation
	replicaRA       = 20 * time.Second // Retry-After of the simulated status answers
)

// replicaWorld is one etcd, the fake Slack, the simulated cloud over HTTPS with a fake Entra ID,
// and up to three replicas.
type replicaWorld struct {
	dir      string
	bot      string
	etcd     []string
	slack    *slacktest.Server
	arm      *httptest.Server
	aad      *aadtest.Server
	rec      *armRecorder
	cfgFile  string
	certFile string
	replicas []*replicaProc

	closers []func()
}

type replicaProc struct {
	id   string
	cmd  *exec.Cmd
	done chan struct{}
	logs *os.File
}

func startReplicaWorld(ctx context.Context, clusters int, progress io.Writer) (*replicaWorld, error) {
	dir, err := os.MkdirTemp("", "aksbot-bench-replicas-")
	if err != nil {
		return nil, err
	}
	rw := &replicaWorld{dir: dir, rec: newARMRecorder()}
	rw.closers = append(rw.closers, func() { os.RemoveAll(dir) })
	fail := func(err error) (*replicaWorld, error) { rw.close(); return nil, err }

	rw.bot = replicaOpts.bot
	if rw.bot == "" {
		rw.bot = filepath.Join(dir, "aksbot")
		fmt.Fprintf(progress, "bench: building the bot (go build ./cmd/bot)\n")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", rw.bot, "github.com/aksbot/aksbot/cmd/bot").CombinedOutput(); err != nil {
			return fail(fmt.Errorf("build the bot: %v\n%s", err, out))
		}
	}
	rw.etcd = replicaOpts.etcd
	if len(rw.etcd) == 0 {
		stop, endpoint, err := startEtcd(filepath.Join(dir, "etcd"))
		if err != nil {
			return fail(err)
		}
		rw.closers = append(rw.closers, stop)
		rw.etcd = []string{endpoint}
	}
	router, closeARM, err := newShardedARM(ctx, worldConfig{Dir: dir, Clusters: clusters, Duration: replicaOp, RetryAfter: replicaRA})
	if err != nil {
		return fail(err)
	}
	rw.closers = append(rw.closers, closeARM)
	rw.arm = httptest.NewTLSServer(rw.rec.wrap(router))
	rw.closers = append(rw.closers, rw.arm.Close)
	rw.aad = aadtest.NewServer() // httptest's certificate, as the ARM server's
	rw.closers = append(rw.closers, rw.aad.Close)
	rw.slack = slacktest.NewServer(slacktest.WithAppToken(benchAppToken), slacktest.WithBotToken(benchBotToken))
	rw.closers = append(rw.closers, rw.slack.Close)

	rw.certFile = filepath.Join(dir, "arm-ca.pem")
	if err := os.WriteFile(rw.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rw.arm.Certificate().Raw}), 0o600); err != nil {
		return fail(err)
	}
	rw.cfgFile = filepath.Join(dir, "aksbot.yaml")
	if err := os.WriteFile(rw.cfgFile, []byte(replicaConfig()), 0o600); err != nil {
		return fail(err)
	}
	return rw, nil
}

// replicaConfig is the configuration file every replica reads (AKSBOT_CONFIG).
func replicaConfig() string {
	return fmt.Sprintf(`azure:
  resourceGroup: %s
  location: westeurope
policy:
  requireApproval: false
jobs:
  pollInterval: %s
  progressInterval: 1m
store:
  etcd:
    prefix: /aksbot-bench/
    leaseTTL: %s
`, clusterRG(0), replicaPoll, replicaLeaseTTL)
}

// startReplica starts replica id and waits until it is connected to Slack.
func (rw *replicaWorld) startReplica(ctx context.Context, id string) (*replicaProc, error) {
	logs, err := os.Create(filepath.Join(rw.dir, id+".log"))
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"SLACK_APP_TOKEN":       benchAppToken,
		"SLACK_BOT_TOKEN":       benchBotToken,
		"SLACK_API_URL":         rw.slack.APIURL(),
		"AZURE_SUBSCRIPTION_ID": sim.SubscriptionID,
		"AKSBOT_ARM_ENDPOINT":   rw.arm.URL,
		"AZURE_AUTHORITY_HOST":  rw.aad.URL,
		"AZURE_TENANT_ID":       "00000000-0000-0000-0000-00000000beef",
		"AZURE_CLIENT_ID":       "00000000-0000-0000-0000-00000000c1d0",
		"AZURE_CLIENT_SECRET":   "bench-client-secret",
		"SSL_CERT_FILE":         rw.certFile,
		"AKSBOT_CONFIG":         rw.cfgFile,
		"AKSBOT_DB":             filepath.Join(rw.dir, id+".db"),
		"AKSBOT_HTTP_ADDR":      "off",
		"AKSBOT_ETCD_ENDPOINTS": strings.Join(rw.etcd, ","),
		"AKSBOT_REPLICA_ID":     id,
	}
	cmd := exec.Command(rw.bot)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + rw.dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	before := rw.slack.Connections()
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("start replica %s: %w", id, err)
	}
	p := &replicaProc{id: id, cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() { _ = cmd.Wait(); close(p.done) }()
	rw.replicas = append(rw.replicas, p)
	if err := waitConnected(ctx, rw.slack, before); err != nil {
		return nil, fmt.Errorf("replica %s (logs in %s): %w", id, logs.Name(), err)
	}
	return p, nil
}

// stop stops the replica with sig and waits for it to exit (SIGKILL after 15 s).
func (p *replicaProc) stop(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (rw *replicaWorld) close() {
	for _, p := range rw.replicas {
		p.stop(syscall.SIGKILL)
		p.logs.Close()
	}
	for i := len(rw.closers) - 1; i >= 0; i-- {
		rw.closers[i]()
	}
}

// submit sends one node pool scale (3 -> 4 nodes) on each of clusters [from, to) as slash
// commands, a few at a time, through whichever replicas are connected.
func (rw *replicaWorld) submit(ctx context.Context, from, to int) error {
	const parallel = 8
	idx := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range idx {
				text := fmt.Sprintf("nodepool scale %s np1 --node-count 4 -g %s", clusterName(i), clusterRG(i))
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := rw.slack.SendSlash(cctx, slacktest.Slash{User: benchUser, UserName: "bench", Channel: benchChannel, Text: text})
				cancel()
				if err != nil {
					errs <- fmt.Errorf("submit a scale of %s: %w", clusterName(i), err)
					return
				}
			}
		})
	}
	var err error
loop:
	for i := from; i < to; i++ {
		select {
		case idx <- i:
		case err = <-errs:
			break loop
		}
	}
	close(idx)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// waitStarted waits until n operations were accepted by the simulated cloud.
func (rw *replicaWorld) waitStarted(ctx context.Context, n int, limit time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := waitUntil(wctx, 100*time.Millisecond, func() (bool, error) { return rw.rec.started() >= n, nil })
	if err != nil {
		return fmt.Errorf("%d of %d operations started in Azure: %w", rw.rec.started(), n, err)
	}
	return nil
}

// takeover measures how long after a replica that owns every running operation is stopped
// with sig the survivors poll each of them for the first time: the returned times since the
// stop, sorted (the last is the figure).
func takeover(ctx context.Context, jobs int, sig syscall.Signal, progress io.Writer) ([]time.Duration, error) {
	rw, err := startReplicaWorld(ctx, jobs, progress)
	if err != nil {
		return nil, err
	}
	defer rw.close()
	// r1 alone takes every lane; the others start once the jobs run.
	victim, err := rw.startReplica(ctx, "r1")
	if err != nil {
		return nil, err
	}
	if err := rw.submit(ctx, 0, jobs); err != nil {
		return nil, err
	}
	if err := rw.waitStarted(ctx, jobs, 5*time.Minute); err != nil {
		return nil, err
	}
	for _, id := range []string{"r2", "r3"} {
		if _, err := rw.startReplica(ctx, id); err != nil {
			return nil, err
		}
	}
	time.Sleep(2 * time.Second) // the survivors' sessions are up
	fmt.Fprintf(progress, "bench: %d operations running, owned by r1; stopping it with %s\n", jobs, sig)
	mark := time.Now()
	rw.rec.startMark("r1")
	go victim.stop(sig)
	wctx, cancel := context.WithTimeout(ctx, replicaLeaseTTL+3*replicaPoll+2*time.Minute)
	defer cancel()
	if err := waitUntil(wctx, 20*time.Millisecond, func() (bool, error) { return rw.rec.polledSinceMark() >= jobs, nil }); err != nil {
		return nil, fmt.Errorf("%d of %d operations polled by a survivor: %w", rw.rec.polledSinceMark(), jobs, err)
	}
	return rw.rec.firstPollsSince(mark), nil
}

// benchFailover: the replica that owns 300 running jobs is killed with SIGKILL.
func benchFailover(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	n := sz.failoverJobs
	res := Result{Setup: fmt.Sprintf("3 replicas on etcd; r1 alone owns %d running jobs (one per cluster) and is killed with SIGKILL; lease TTL %s, poll interval %s",
		n, replicaLeaseTTL, replicaPoll)}
	polls, err := takeover(ctx, n, syscall.SIGKILL, progress)
	if err != nil {
		return res, err
	}
	limit := replicaLeaseTTL + replicaPoll
	res.Metrics = []Metric{
		info("jobs owned by the killed replica", float64(n), "jobs"),
		info("first polled by a survivor after SIGKILL", polls[0].Seconds(), "s"),
		info("half polled by a survivor after SIGKILL", percentile(polls, 50).Seconds(), "s"),
		below("every job polled by a survivor after SIGKILL", polls[len(polls)-1].Seconds(), "s", limit.Seconds(), false),
	}
	return res, nil
}

// benchRevoke: the replica that owns the running jobs is stopped with SIGTERM and revokes its
// lease, so the survivors need not wait for the TTL.
func benchRevoke(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	n := sz.revokeJobs
	res := Result{Setup: fmt.Sprintf("3 replicas on etcd; r1 alone owns %d running jobs and is stopped with SIGTERM (it revokes its lease); lease TTL %s",
		n, replicaLeaseTTL)}
	polls, err := takeover(ctx, n, syscall.SIGTERM, progress)
	if err != nil {
		return res, err
	}
	res.Metrics = []Metric{
		info("jobs owned by the stopped replica", float64(n), "jobs"),
		info("first polled by a survivor after SIGTERM", polls[0].Seconds(), "s"),
		info("half polled by a survivor after SIGTERM", percentile(polls, 50).Seconds(), "s"),
		below("every job polled by a survivor after SIGTERM", polls[len(polls)-1].Seconds(), "s", 2, false),
	}
	return res, nil
}

// benchReplicaAck: slash command acks with three replicas connected to Slack.
func benchReplicaAck(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	res := Result{Setup: fmt.Sprintf("3 replicas on etcd, each with its own socket-mode connection; %d rounds of %d slash commands over %s (the mix of benchmark 1)",
		sz.ackRounds, sz.ackBurst, sz.ackSpread)}
	rw, err := startReplicaWorld(ctx, ackClusters, progress)
	if err != nil {
		return res, err
	}
	defer rw.close()
	for _, id := range []string{"r1", "r2", "r3"} {
		if _, err := rw.startReplica(ctx, id); err != nil {
			return res, err
		}
	}
	var lat []time.Duration
	for round := range sz.ackRounds {
		l, err := burst(ctx, rw.slack, sz.ackBurst, round, sz.ackSpread)
		if err != nil {
			return res, err
		}
		lat = append(lat, l...)
		sleepCtx(ctx, time.Second)
	}
	s := sortedCopy(lat)
	res.Metrics = []Metric{
		info("ack p50, three replicas", ms(percentile(s, 50)), "ms"),
		info("ack max, three replicas", ms(s[len(s)-1]), "ms"),
		below("ack p99, three replicas", ms(percentile(s, 99)), "ms", 20, false),
	}
	return res, nil
}

// benchReplicaRSS: resident memory of each of three replicas with 1,000 running jobs between them.
func benchReplicaRSS(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	n := sz.replicaJobs
	res := Result{Setup: fmt.Sprintf("3 replicas on etcd; %d running jobs (one per cluster) submitted through all of them; VmRSS of each replica over 10 s", n)}
	rw, err := startReplicaWorld(ctx, n, progress)
	if err != nil {
		return res, err
	}
	defer rw.close()
	var procs []*replicaProc
	for _, id := range []string{"r1", "r2", "r3"} {
		p, err := rw.startReplica(ctx, id)
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
	}
	if err := rw.submit(ctx, 0, n); err != nil {
		return res, err
	}
	if err := rw.waitStarted(ctx, n, 10*time.Minute); err != nil {
		return res, err
	}
	peak := make([]int64, len(procs))
	for range 10 {
		for i, p := range procs {
			rss, err := procRSS(p.cmd.Process.Pid)
			if err != nil {
				return res, err
			}
			peak[i] = max(peak[i], rss)
		}
		if !sleepCtx(ctx, time.Second) {
			return res, ctx.Err()
		}
	}
	owned := rw.rec.startedBy()
	for _, p := range procs {
		res.Metrics = append(res.Metrics, info("operations started by "+p.id, float64(owned[p.id]), "jobs"))
	}
	if n := owned[""]; n > 0 {
		// The bot does not name its replica on ARM requests (azure.ReplicaPolicy is not wired).
		res.Metrics = append(res.Metrics, info("operations started without "+replicaHeader, float64(n), "jobs"))
	}
	res.Metrics = append(res.Metrics, below("resident memory per replica (VmRSS, max)", float64(slices.Max(peak))/mib, "MB", 150, false))
	return res, nil
}

// procRSS reads VmRSS of a process.
func procRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read resident memory of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read resident memory of %d: %q: %w", pid, v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read resident memory of %d: no VmRSS", pid)
}

// armRecorder watches the ARM requests: operations started (accepted mutations) by replica, and
// the first status poll of each operation after a mark by a replica other than the one stopped.
type armRecorder struct {
	mu        sync.Mutex
	ops       int
	byReplica map[string]int
	mark      time.Time
	victim    string
	firstPoll map[string]time.Time
}

func newARMRecorder() *armRecorder {
	return &armRecorder{byReplica: map[string]int{}, firstPoll: map[string]time.Time{}}
}

func (a *armRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := r.Header.Get(replicaHeader)
		at := time.Now()
		if id, ok := statusOperationID(r.Method, r.URL.Path); ok {
			a.mu.Lock()
			// A poll without the header is counted: it cannot be the stopped replica's after a
			// SIGKILL. (After SIGTERM the header tells the survivors' polls apart.)
			if !a.mark.IsZero() && at.After(a.mark) && rep != a.victim {
				if _, seen := a.firstPoll[id]; !seen {
					a.firstPoll[id] = at
				}
			}
			a.mu.Unlock()
		}
		sw := &codeWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete) && sw.code/100 == 2 {
			a.mu.Lock()
			a.ops++
			a.byReplica[rep]++
			a.mu.Unlock()
		}
	})
}

func (a *armRecorder) started() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ops
}

func (a *armRecorder) startedBy() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.byReplica))
	for k, v := range a.byReplica {
		out[k] = v
	}
	return out
}

func (a *armRecorder) startMark(victim string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mark, a.victim = time.Now(), victim
	clear(a.firstPoll)
}

func (a *armRecorder) polledSinceMark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.firstPoll)
}

// firstPollsSince returns the times from mark to the first poll of each operation, sorted.
func (a *armRecorder) firstPollsSince(mark time.Time) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Duration, 0, len(a.firstPoll))
	for _, at := range a.firstPoll {
		out = append(out, at.Sub(mark))
	}
	slices.Sort(out)
	return out
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(p)
}

// startEtcd runs a one-member etcd (the etcd binary on PATH: Debian's etcd-server, or the
// release tarball) with its data in dir, on free loopback ports, and returns a function that
// stops it and its client URL. (Embedding etcd would link it into the bench, whose own memory
// and CPU are benchmarks 2 and 4's figures.)
func startEtcd(dir string) (func(), string, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, "", errors.New("benchmarks 6-9 need etcd: install it (apt install etcd-server) or pass -etcd URLS")
	}
	client, err := freeLoopback()
	if err != nil {
		return nil, "", err
	}
	peer, err := freeLoopback()
	if err != nil {
		return nil, "", err
	}
	logs, err := os.Create(dir + ".log")
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "--name", "bench", "--data-dir", dir, "--log-level", "error",
		"--listen-client-urls", client.String(), "--advertise-client-urls", client.String(),
		"--listen-peer-urls", peer.String(), "--initial-advertise-peer-urls", peer.String(),
		"--initial-cluster", "bench="+peer.String())
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, "", fmt.Errorf("start etcd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logs.Close()
	}
	// Ready when it answers its health endpoint.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(client.String() + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, client.String(), nil
			}
		}
		select {
		case <-done:
			stop()
			return nil, "", fmt.Errorf("etcd exited while starting (logs in %s)", logs.Name())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("etcd not ready after 30 s (logs in %s)", logs.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeLoopback() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}
