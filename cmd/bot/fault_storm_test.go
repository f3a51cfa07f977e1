package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

// faultPolicy needs no approval anywhere except for scale-ups on the appr* clusters, where
// the approver must click Approve.
const faultPolicy = `azure:
  resourceGroup: rg-aks
  location: westeurope
policy:
  requireApproval: false
  approvers: [%s]
  rules:
    - name: gated
      match: {clusters: ["appr*"]}
      requireApprovalFor: [nodepool.scale]
      approvals: 1
jobs:
  pollInterval: 1s
  progressInterval: 10s
`

// rngs derives independent generators from the seed, one per concern, so that the workload,
// the kill times and the faults do not shift each other when timing changes how often the
// storm loop turns.
func rngs(seed int64, n int) []*rand.Rand {
	out := make([]*rand.Rand, n)
	for i := range out {
		s := uint64(seed)*0x9e3779b97f4a7c15 + uint64(i)
		out[i] = rand.New(rand.NewPCG(s, s^0xda3e39cb94b95bdb))
	}
	return out
}

// spawnBot starts the bot binary with the fault policy, as restart_test's spawn does.
func (r *faultRun) spawnBot() *process {
	t, w := r.t, r.w
	t.Helper()
	dir := filepath.Dir(w.dbPath)
	certFile := filepath.Join(dir, "arm-ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.arm.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "fault.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(faultPolicy, approver)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SLACK_APP_TOKEN":       appToken,
		"SLACK_BOT_TOKEN":       botToken,
		"SLACK_API_URL":         w.slack.APIURL(),
		"AZURE_SUBSCRIPTION_ID": sim.SubscriptionID,
		"AKSBOT_ARM_ENDPOINT":   w.arm.URL,
		"AKSBOT_CONFIG":         cfgFile,
		"AKSBOT_DB":             w.dbPath,
		"AKSBOT_HTTP_ADDR":      "off",
		"AKSBOT_LOG_LEVEL":      "debug",
		"AZURE_AUTHORITY_HOST":  r.aad.URL,
		"AZURE_TENANT_ID":       "00000000-0000-0000-0000-00000000beef",
		"AZURE_CLIENT_ID":       "00000000-0000-0000-0000-00000000c1d0",
		"AZURE_CLIENT_SECRET":   "fault-client-secret",
		"SSL_CERT_FILE":         certFile,
	}
	cmd := exec.Command(botBinary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	r.logs = append(r.logs, p.logs)
	return p
}

// start runs a new bot process and waits until it is connected to Slack.
func (r *faultRun) start() {
	r.t.Helper()
	n := r.w.slack.Connections()
	r.bot = r.spawnBot()
	waitConnected(r.t, r.w, r.bot, n+1)
}

func (r *faultRun) running() bool {
	if r.bot == nil {
		return false
	}
	select {
	case <-r.bot.done:
		return false
	default:
		return true
	}
}

// storm runs the workload and the faults, killing and restarting the bot, until enough job
// commands were acknowledged and enough kills happened.
func (r *faultRun) storm() {
	g := rngs(r.cfg.seed, 4)
	cmdRng, killRng, stepRng := g[0], g[1], g[2]
	r.w.sim.SetFaults(sim.Faults{Seed: r.cfg.seed, Throttle: 0.04, ServerError: 0.04, LostResponse: 0.12, Conflict: 0.08, EnsureEach: true})
	// Every run meets each kind of fault at least once, whatever its seed draws: the first
	// posts to Slack are refused with 429 (more bursts come at random below).
	r.w.slack.RateLimit("chat.postMessage", 1, time.Second)
	r.bursts++
	upTime := func() time.Duration {
		d := time.Duration(killRng.ExpFloat64() * float64(r.cfg.meanUp))
		return min(max(d, 300*time.Millisecond), 3*r.cfg.meanUp)
	}
	hardStop := time.Now().Add(20*time.Minute + time.Duration(r.cfg.jobs)*2*time.Second)
	r.start()
	nextKill := time.Now().Add(upTime())
	for len(r.ackedJobs()) < r.cfg.jobs || r.crashes < r.cfg.crashes {
		if time.Now().After(hardStop) || r.commands > 4*r.cfg.jobs {
			r.t.Fatalf("storm did not finish: %d commands made %d jobs, %d crashes", r.commands, len(r.ackedJobs()), r.crashes)
		}
		if !r.running() {
			// The bot exited on its own: that is a finding, not a fault we injected.
			r.t.Fatalf("the bot exited by itself (seed %d): %s", r.cfg.seed, r.bot.logs.String())
		}
		if time.Now().After(nextKill) {
			r.bot.kill()
			r.crashes++
			time.Sleep(time.Duration(killRng.IntN(500)) * time.Millisecond)
			r.start()
			r.restarts++
			nextKill = time.Now().Add(upTime())
			continue
		}
		r.approvePending(6 * time.Second)
		x := stepRng.Float64()
		switch {
		case x < 0.75:
			if len(r.ackedJobs()) < r.cfg.jobs {
				r.command(r.nextCommand(cmdRng))
			}
		case x < 0.87:
			method := []string{"chat.postMessage", "chat.update"}[stepRng.IntN(2)]
			r.w.slack.RateLimit(method, 1+stepRng.IntN(3), time.Second)
			r.bursts++
		case x < 0.95:
			all := append(append([]string(nil), r.seeded...), r.gated)
			c := all[stepRng.IntN(len(all))]
			d := time.Duration(800+stepRng.IntN(2000)) * time.Millisecond
			if r.w.sim.StartExternal("rg-aks", c, d) == nil {
				r.external++
			}
		}
		time.Sleep(time.Duration(40+stepRng.IntN(200)) * time.Millisecond)
	}
}

// nextCommand draws the next job command. Some of them are refused or fail at plan time (a
// pool added twice, deleted before it exists): that is part of the workload.
func (r *faultRun) nextCommand(g *rand.Rand) (cluster, text string) {
	if r.created < r.cfg.creates && r.commands >= (r.created+1)*r.cfg.jobs/(r.cfg.creates+1) {
		r.created++
		return "fltnew", fmt.Sprintf("create fltnew%d --node-count %d", r.created, 1+g.IntN(2))
	}
	cluster = r.gated
	if g.IntN(len(r.seeded)+1) < len(r.seeded) {
		cluster = r.seeded[g.IntN(len(r.seeded))]
	}
	x := g.Float64()
	switch {
	case x < 0.62:
		pool := []string{"np1", "np2", "sys"}[g.IntN(3)]
		return cluster, fmt.Sprintf("nodepool scale %s %s --node-count %d", cluster, pool, 1+g.IntN(4))
	case x < 0.78:
		lo := 1 + g.IntN(2)
		return cluster, fmt.Sprintf("nodepool update %s asp --update-cluster-autoscaler --min-count %d --max-count %d", cluster, lo, lo+1+g.IntN(3))
	case x < 0.89:
		return cluster, fmt.Sprintf("nodepool add %s extra --node-count %d", cluster, 1+g.IntN(2))
	default:
		return cluster, fmt.Sprintf("nodepool delete %s extra", cluster)
	}
}

// channelOf is where jobs on a cluster are asked for: a channel per cluster, because Slack
// (and the outbox, which keeps to its limits) posts about once a second per channel.
func channelOf(cluster string) string {
	return "C0" + strings.ToUpper(cluster)
}

// channels are all the channels the workload uses.
func (r *faultRun) channels() []string {
	var out []string
	for _, c := range append(append([]string(nil), r.seeded...), r.gated, "fltnew") {
		out = append(out, channelOf(c))
	}
	return out
}

// messages returns the messages of every channel the workload uses.
func (r *faultRun) messages() []slacktest.Message {
	var out []slacktest.Message
	for _, c := range r.channels() {
		out = append(out, r.w.slack.Messages(c)...)
	}
	return out
}

// command sends a slash command in its cluster's channel; only an acknowledged one counts
// (the bot may be gone).
func (r *faultRun) command(cluster, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := r.w.slack.SendSlash(ctx, slacktest.Slash{User: requester, UserName: "req", Channel: channelOf(cluster), Text: text}); err == nil {
		r.commands++
	}
}

var jobReply = regexp.MustCompile(`^Job (\d+) is (waiting for approval|queued)`)

// ackedJobs returns the IDs of the jobs the bot told the requester it made.
func (r *faultRun) ackedJobs() map[string]bool {
	ids := map[string]bool{}
	for _, c := range r.channels() {
		for _, m := range r.w.slack.Ephemerals(c, requester) {
			if id := jobReply.FindStringSubmatch(m.Text); id != nil {
				ids[id[1]] = true
			}
		}
	}
	return ids
}

var approvalBlock = regexp.MustCompile(`aksbot_approval_(\d+)`)

// approvePending clicks Approve, as the approver, on every approval message that still has
// its buttons, at most once per every interval per job (a click may be lost in a kill).
func (r *faultRun) approvePending(every time.Duration) {
	if !r.running() {
		return
	}
	for _, m := range r.messages() {
		if !bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) {
			continue
		}
		id := approvalBlock.FindSubmatch(m.Blocks)
		if id == nil {
			continue
		}
		jobID := string(id[1])
		if time.Since(r.clicked[jobID]) < every {
			continue
		}
		r.clicked[jobID] = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, _ = r.w.slack.Click(ctx, slacktest.Click{User: approver, Channel: m.Channel, MessageTS: m.TS, ThreadTS: m.ThreadTS,
			ActionID: "aksbot_approve", BlockID: "aksbot_approval_" + jobID, Value: jobID})
		cancel()
	}
}

var finalCard = regexp.MustCompile(`: (succeeded|failed|denied|cancelled|expired)$`)

// quiet reports whether Slack shows every status card final and no buttons, and its
// fingerprint (messages and updates) to tell whether anything still moves.
func (r *faultRun) quiet() (bool, string) {
	msgs := r.messages()
	done := true
	updates := 0
	for _, m := range msgs {
		updates += m.Updates
		if m.ThreadTS == "" && !finalCard.MatchString(m.Text) {
			done = false
		}
		if bytes.Contains(m.Blocks, []byte(`"aksbot_approve"`)) {
			done = false
		}
	}
	return done, fmt.Sprintf("%d/%d", len(msgs), updates)
}

// settle lets the bot finish everything without faults: it waits until Slack looks done,
// stops the bot gracefully, and looks at the data file. Jobs still open, or messages left in
// the outbox, mean another round. It returns the open store and the outbox entries left.
func (r *faultRun) settle() (*store.Store, int) {
	t := r.t
	deadline := time.Now().Add(r.cfg.settle)
	for round := 1; ; round++ {
		if !r.running() {
			r.start()
		}
		last, since := "", time.Now()
		for time.Now().Before(deadline) {
			r.approvePending(3 * time.Second)
			done, fp := r.quiet()
			if fp != last {
				last, since = fp, time.Now()
			}
			if done && time.Since(since) > 2*time.Second {
				break
			}
			if os.Getenv("AKSBOT_FAULT_TRACE") != "" && time.Now().Second()%5 == 0 {
				r.t.Logf("settling: %s done=%v", fp, done)
			}
			time.Sleep(200 * time.Millisecond)
		}
		r.stopGracefully()
		st, err := store.Open(r.w.dbPath, store.Options{})
		if err != nil {
			t.Fatalf("open the data file after the bot stopped: %v", err)
		}
		open, left, err := unfinished(st)
		if err != nil {
			t.Fatal(err)
		}
		if (open == 0 && left == 0) || time.Now().After(deadline) {
			t.Logf("settled after %d rounds: %d jobs not final or not reported, %d outbox entries left", round, open, left)
			return st, left
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// stopGracefully sends SIGINT and waits for the exit (SIGKILL after 15 s).
func (r *faultRun) stopGracefully() {
	if !r.running() {
		return
	}
	_ = r.bot.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.bot.done:
	case <-time.After(15 * time.Second):
		r.t.Errorf("the bot did not stop within 15 s of SIGINT")
		r.bot.kill()
	}
}

// unfinished counts jobs that are not final or whose end is not reported, and the outbox
// entries not delivered.
func unfinished(st *store.Store) (open, outboxLeft int, err error) {
	all, err := st.Jobs(context.Background(), jobs.Filter{})
	if err != nil {
		return 0, 0, fmt.Errorf("read jobs: %w", err)
	}
	for _, j := range all {
		if !j.State.Final() || !j.FinalReported {
			open++
		}
	}
	if outboxLeft, err = st.OutboxLen(context.Background()); err != nil {
		return 0, 0, fmt.Errorf("read the slack outbox: %w", err)
	}
	return open, outboxLeft, nil
}

var finalKinds = map[aks.EventKind]bool{
	aks.EventSucceeded: true, aks.EventFailed: true, aks.EventDenied: true, aks.EventCancelled: true, aks.EventExpired: true,
}

// clusterOf returns the cluster name in an ARM path, lower case, or "".
func clusterOf(path string) string {
	segs := strings.Split(strings.ToLower(path), "/")
	for i, s := range segs {
		if s == "managedclusters" && i+1 < len(segs) {
			return segs[i+1]
		}
	}
	return ""
}
