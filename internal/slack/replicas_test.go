package slack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

// Several replicas: Bots sharing one store and one Slack app, as the etcd backend allows. The
// bbolt store stands in for the shared store here; the fencing it ignores is played by
// fencedOutbox.

// memClaims is an in-memory aks.Claims shared by the Bots of a test; fail makes it fail.
type memClaims struct {
	mu    sync.Mutex
	keys  map[string]bool
	fail  error
	calls int
}

func (c *memClaims) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if ttl <= 0 {
		return false, errors.New("claim without a TTL")
	}
	if c.fail != nil {
		return false, c.fail
	}
	if c.keys[key] {
		return false, nil
	}
	if c.keys == nil {
		c.keys = map[string]bool{}
	}
	c.keys[key] = true
	return true, nil
}

func (c *memClaims) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[key]
}

// A retried envelope that reaches another replica is acked there and not handled again; so is
// a retry under a new envelope ID (same trigger).
func TestDuplicatesAcrossReplicasHandledOnce(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	claims := &memClaims{}
	var hs [2]*handler
	var xs [2]*harness
	for i := range hs {
		hs[i] = &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "ok"} }}
		xs[i] = startWith(t, srv, hs[i], Config{Claims: claims})
	}
	ack, err := srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "list"})
	if err != nil {
		t.Fatal(err)
	}
	// With two connections the fake sends each envelope to the other one in turn: the resend
	// and the redelivery reach the replica that did not handle the first delivery.
	if _, err := srv.Resend(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Redeliver(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		x.stop()
	}
	var handled int
	for _, h := range hs {
		cmds, _ := h.calls()
		handled += len(cmds)
	}
	if handled != 1 {
		t.Errorf("commands handled over both replicas = %d, want 1", handled)
	}
	if !claims.has("slack/envelope/" + ack.EnvelopeID) {
		t.Errorf("no claim of the envelope; claims: %v", claims.keys)
	}
	var logs []string
	for _, x := range xs {
		logs = append(logs, x.logs.String())
	}
	wantContains(t, "logs", strings.Join(logs, "\n"), "slack envelope already handled", "slack envelope repeats a trigger already handled")
}

// When the store cannot answer, a command is handled anyway (it was acked, and Slack will not
// send it again), with a warning; a repeat on the same replica is still caught.
func TestCommandHandledWhenClaimsFail(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	claims := &memClaims{fail: errors.New("etcd: no leader")}
	h := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "ok"} }}
	x := startWith(t, srv, h, Config{Claims: claims})
	ack, err := srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "list"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Resend(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	x.stop()
	if cmds, _ := h.calls(); len(cmds) != 1 {
		t.Errorf("commands handled = %d, want 1", len(cmds))
	}
	if claims.calls == 0 {
		t.Error("the claims were never asked")
	}
	wantContains(t, "logs", x.logs.String(), "not checked against other replicas", "etcd: no leader")
}

// SIGTERM on one replica: its socket closes first, so that Slack sends the next envelopes to
// the other replicas; the command it was running finishes and replies; then Run returns.
func TestStopClosesSocketFirstAndFinishesHandlers(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	entered := make(chan struct{})
	release := make(chan struct{})
	ha := &handler{command: func(context.Context, chatops.Request) chatops.Reply {
		close(entered)
		<-release
		return chatops.Reply{Text: "job 3 created"}
	}}
	a := startWith(t, srv, ha, Config{})
	if _, err := srv.SendSlash(ctx, slacktest.Slash{User: "U1", Channel: "C1", Text: "cluster stop demo"}); err != nil {
		t.Fatal(err)
	}
	<-entered
	hb := &handler{command: func(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{Text: "from b"} }}
	b := startWith(t, srv, hb, Config{})

	stopped := make(chan struct{})
	go func() {
		a.stop()
		close(stopped)
	}()
	if err := srv.WaitFor(ctx, func() bool { return srv.OpenConnections() == 1 }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
		t.Fatal("Run returned before the command in flight finished")
	default:
	}
	for range 4 {
		if _, err := srv.SendSlash(ctx, slacktest.Slash{User: "U2", Channel: "C1", Text: "list"}); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	<-stopped
	b.stop()
	if cmds, _ := ha.calls(); len(cmds) != 1 {
		t.Errorf("the stopping replica handled %d commands, want only the one in flight", len(cmds))
	}
	if cmds, _ := hb.calls(); len(cmds) != 4 {
		t.Errorf("the other replica handled %d commands, want the 4 sent after the stop", len(cmds))
	}
	if e := srv.Ephemerals("C1", "U1"); len(e) != 1 || e[0].Text != "job 3 created" {
		t.Errorf("replies to U1 = %+v, want the reply of the command in flight", e)
	}
}

// fencedOutbox plays the etcd backend's fencing over the bbolt store: a write whose context
// carries a fence other than the current owner's is refused with aks.ErrFenced.
type fencedOutbox struct {
	*store.Store
	mu    sync.Mutex
	owner int64 // the revision of the current leader's fence
}

func (f *fencedOutbox) UpdateOutbox(ctx context.Context, jobID string, fn func(tx aks.OutboxTx) error) error {
	if fe, ok := aks.FenceFrom(ctx); ok {
		f.mu.Lock()
		owner := f.owner
		f.mu.Unlock()
		if fe.Revision != owner {
			return fmt.Errorf("outbox of job %s: %w", jobID, aks.ErrFenced)
		}
	}
	return f.Store.UpdateOutbox(ctx, jobID, fn)
}

func (f *fencedOutbox) setOwner(rev int64) {
	f.mu.Lock()
	f.owner = rev
	f.mu.Unlock()
}

// replica is a Bot that only reports, on a shared outbox.
func replica(t *testing.T, srv *slacktest.Server, out aks.OutboxStore, refs *refs) (*Bot, *syncBuffer) {
	t.Helper()
	log, buf := logger(t)
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: srv.APIURL(), Logger: log, Outbox: out}, &handler{}, refs)
	if err != nil {
		t.Fatal(err)
	}
	bot.out.limits = fastLimits()
	bot.now = func() time.Time { return t0 }
	return bot, buf
}

// runWorker runs bot's outbox worker as the leader with fence revision rev; the returned
// channel has its result.
func runWorker(t *testing.T, bot *Bot, rev int64) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(aks.WithFence(context.Background(), aks.Fence{Key: "leader", Revision: rev}))
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- bot.RunOutbox(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
}

func sharedStore(t *testing.T) *fencedOutbox {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "aksbot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &fencedOutbox{Store: st, owner: 1}
}

// Reports stored through a replica that does not deliver reach Slack through the one that
// does (its rescan finds them: no wake-up crosses replicas), and both can Flush.
func TestOutboxDeliversReportsOfOtherReplicas(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(slacktest.WithBotToken(testBotToken))
	t.Cleanup(srv.Close)
	out, refs := sharedStore(t), newRefs()
	leader, _ := replica(t, srv, out, refs)
	other, _ := replica(t, srv, out, refs)
	runWorker(t, leader, 1)

	var jobs []aks.Job
	for i := range 4 {
		jobs = append(jobs, queuedJob(fmt.Sprint(300+i), "C1"))
	}
	// Each event of a job is reported through both replicas at once (as after a lane moved
	// while a report was being retried): it is stored once, whichever comes first.
	var wg sync.WaitGroup
	for _, job := range jobs {
		for _, bot := range []*Bot{other, leader} {
			wg.Go(func() {
				for _, ev := range milestones(job) {
					if err := bot.Report(testCtx(t), job, ev); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	if err := other.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := leader.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r := &reporter{srv: srv}
	for _, job := range jobs {
		r.checkJobThread(t, job, milestones(job))
	}

	// Only the replica that does not deliver stores this one: nothing wakes the worker but
	// its rescan.
	late := queuedJob("399", "C1")
	for _, ev := range milestones(late)[:2] {
		if err := other.Report(testCtx(t), late, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r.checkJobThread(t, late, milestones(late)[:2])
}

// A deposed deliverer stops at its next write, sending nothing more; the new leader delivers
// what it left, without posting twice.
func TestDeposedWorkerStopsAndSendsNothing(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(slacktest.WithBotToken(testBotToken))
	t.Cleanup(srv.Close)
	out, refs := sharedStore(t), newRefs()
	first, firstLogs := replica(t, srv, out, refs)
	second, _ := replica(t, srv, out, refs)
	done := runWorker(t, first, 1)

	job := queuedJob("50", "C1")
	evs := milestones(job)
	if err := first.Report(testCtx(t), job, evs[0]); err != nil {
		t.Fatal(err)
	}
	if err := first.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	posts, updates := srv.Calls("chat.postMessage"), srv.Calls("chat.update")

	out.setOwner(2) // another replica won the leadership; the first one has not noticed yet
	for _, ev := range evs[1:3] {
		if err := second.Report(testCtx(t), job, ev); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, aks.ErrFenced) {
			t.Fatalf("RunOutbox of the deposed worker = %v, want an error matching aks.ErrFenced", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("the deposed worker kept running")
	}
	if p, u := srv.Calls("chat.postMessage"), srv.Calls("chat.update"); p != posts || u != updates {
		t.Errorf("the deposed worker called Slack: %d posts and %d updates after it lost the lead", p-posts, u-updates)
	}
	wantContains(t, "logs", firstLogs.String(), "another replica delivers now")

	runWorker(t, second, 2)
	if err := second.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r := &reporter{srv: srv}
	r.checkJobThread(t, job, evs[:3])
}

// The worker's decoded heads follow the store: a mark made by another deliverer is seen at the
// next scan, and the worker's own changes to a head do not leak into the cache.
func TestOutboxHeadsCacheFollowsTheStore(t *testing.T) {
	srv := slacktest.NewServer(slacktest.WithBotToken(testBotToken))
	t.Cleanup(srv.Close)
	out, refs := sharedStore(t), newRefs()
	a, _ := replica(t, srv, out, refs)
	b, _ := replica(t, srv, out, refs)
	ctx := testCtx(t)
	job := queuedJob("60", "C1")
	if err := b.Report(ctx, job, milestones(job)[0]); err != nil {
		t.Fatal(err)
	}
	heads, _, err := a.out.pendingHeads(ctx)
	if err != nil || len(heads) != 1 || heads[0].InFlight {
		t.Fatalf("heads = %+v, %v; want the card, not in flight", heads, err)
	}
	heads[0].InFlight = true // the worker's own copy
	if again, _, _ := a.out.pendingHeads(ctx); again[0].InFlight {
		t.Error("a change to a returned head leaked into the cache")
	}
	if ok, err := b.out.mark(ctx, heads[0], true); err != nil || !ok {
		t.Fatalf("mark = %v, %v", ok, err)
	}
	if again, _, _ := a.out.pendingHeads(ctx); !again[0].InFlight {
		t.Error("the in-flight mark stored by another deliverer is not seen")
	}
}
