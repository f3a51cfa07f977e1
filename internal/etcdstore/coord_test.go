package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

const testPrefix = "/aksbot-test/"

func testClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := Connect(context.Background(), ClientOptions{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

type countMetrics struct {
	lanes, lost atomic.Int64
	leader      atomic.Bool
}

func (m *countMetrics) LanesOwned(n int) { m.lanes.Store(int64(n)) }
func (m *countMetrics) Leader(is bool)   { m.leader.Store(is) }
func (m *countMetrics) SessionLost()     { m.lost.Add(1) }

func testCoord(t *testing.T, cli *clientv3.Client, id string, ttl time.Duration) (*Coordinator, *countMetrics) {
	t.Helper()
	m := &countMetrics{}
	c, err := NewCoordinator(context.Background(), cli, testPrefix, id, CoordOptions{LeaseTTL: ttl, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, m
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitClosed(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s: not closed within %s", what, within)
	}
}

// waitReleased reads c.Released() until key comes.
func waitReleased(t *testing.T, c *Coordinator, key string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case k, ok := <-c.Released():
			if !ok {
				t.Fatalf("Released closed before %q came", key)
			}
			if k == key {
				return
			}
		case <-timeout:
			t.Fatalf("%q not on Released within 10s", key)
		}
	}
}

// eventually retries f until it returns nil or the time is up.
func eventually(t *testing.T, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNewCoordinatorRefusesBadOptions(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	for _, tc := range []struct {
		prefix, id string
		ttl        time.Duration
		want       string
	}{
		{"aksbot/", "a", 0, "prefix"},
		{"/aksbot", "a", 0, "prefix"},
		{"/aksbot/", "", 0, "replica ID"},
		{"/aksbot/", "a/b", 0, "replica ID"},
		{"/aksbot/", "a", time.Second, "out of range"},
		{"/aksbot/", "a", 2 * time.Minute, "out of range"},
	} {
		_, err := NewCoordinator(ctx, cli, tc.prefix, tc.id, CoordOptions{LeaseTTL: tc.ttl})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewCoordinator(%q, %q, %s) = %v, want an error about %s", tc.prefix, tc.id, tc.ttl, err, tc.want)
		}
	}
}

func TestLaneHasOneOwnerAndPassesOnAfterRelease(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	a, am := testCoord(t, cli, "a", 2*time.Second)
	b, _ := testCoord(t, cli, "b", 2*time.Second)

	// Both try at once, as two engines would on the same job change.
	var la, lb aks.Lease
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); la, ea = a.AcquireLane(ctx, "rg/demo") }()
	go func() { defer wg.Done(); lb, eb = b.AcquireLane(ctx, "rg/demo") }()
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	if (la == nil) == (lb == nil) {
		t.Fatalf("owners: a=%v b=%v, want exactly one", la != nil, lb != nil)
	}
	owner, other, l := a, b, la
	if la == nil {
		owner, other, l = b, a, lb
	}
	if again, err := owner.AcquireLane(ctx, "rg/demo"); err != nil || again != l {
		t.Errorf("the owner acquiring again = %v, %v; want its lease", again, err)
	}
	if got, err := other.AcquireLane(ctx, "rg/demo"); err != nil || got != nil {
		t.Fatalf("the other replica acquired an owned lane: %v, %v", got, err)
	}
	if f := l.Fence(); f.Key != "lanes/rg/demo" || f.Revision <= 0 {
		t.Errorf("fence = %+v", f)
	}
	if owner == a && am.lanes.Load() != 1 {
		t.Errorf("LanesOwned = %d, want 1", am.lanes.Load())
	}

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, l.Done(), time.Second, "Done after Release")
	waitReleased(t, other, "rg/demo")
	got, err := other.AcquireLane(ctx, "rg/demo")
	if err != nil || got == nil {
		t.Fatalf("after the release: %v, %v; want the lane", got, err)
	}
	if got.Fence().Revision <= l.Fence().Revision {
		t.Errorf("the new fence %+v is not newer than the old %+v", got.Fence(), l.Fence())
	}
}

func TestOldFenceFailsTheStoreCompare(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	a, _ := testCoord(t, cli, "a", 2*time.Second)
	b, _ := testCoord(t, cli, "b", 2*time.Second)

	la, err := a.AcquireLane(ctx, "rg/x")
	if err != nil || la == nil {
		t.Fatal(la, err)
	}
	old := la.Fence()
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.AcquireLane(ctx, "rg/x")
	if err != nil || lb == nil {
		t.Fatal(lb, err)
	}
	// What the store's UpdateJob does: compare the fence key's creation revision in the write.
	write := func(f aks.Fence) bool {
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(testPrefix+f.Key), "=", f.Revision)).
			Then(clientv3.OpPut(testPrefix+"jobs/1", "x")).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return resp.Succeeded
	}
	if write(old) {
		t.Error("a write fenced by the old owner's fence succeeded")
	}
	if !write(lb.Fence()) {
		t.Error("a write fenced by the new owner's fence failed")
	}
}

func TestLanesSpreadOverReplicas(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	coords := map[string]*Coordinator{}
	for _, id := range []string{"r1", "r2", "r3"} {
		coords[id], _ = testCoord(t, cli, id, 2*time.Second)
	}
	owned := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 30 {
		key := fmt.Sprintf("rg/cluster-%d", i)
		for id, c := range coords {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := c.AcquireLane(ctx, key)
				if err != nil {
					t.Error(err)
				}
				if l != nil {
					mu.Lock()
					owned[id]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	total := 0
	for id := range coords {
		if owned[id] == 0 {
			t.Errorf("%s owns no lane: %v", id, owned)
		}
		total += owned[id]
	}
	if total != 30 {
		t.Errorf("%d lanes owned in all, want 30: %v", total, owned)
	}
}

func TestRevokedSessionEndsLeasesAndRejoins(t *testing.T) {
	endpoints := etcdtest.Start(t).Endpoints()
	cli := testClient(t, endpoints)
	ctx := testCtx(t)
	a, am := testCoord(t, cli, "a", 2*time.Second)
	la, err := a.AcquireLane(ctx, "rg/demo")
	if err != nil || la == nil {
		t.Fatal(la, err)
	}
	lead, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !am.leader.Load() {
		t.Error("metrics: not leader")
	}

	// Another client revokes a's lease, as if etcd had expired it.
	other := testClient(t, endpoints)
	if _, err := other.Revoke(ctx, a.leaseID()); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, la.Done(), 5*time.Second, "lane Done after the revoke")
	waitClosed(t, lead.Done(), time.Second, "leader Done after the revoke")
	// The keep-alive notices within a third of the TTL; the rejoin waits a backoff first, so a
	// tight poll sees Ready fail in between.
	var readyErr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if readyErr = a.Ready(ctx); readyErr != nil {
			break
		}
	}
	if readyErr == nil || !strings.Contains(readyErr.Error(), "etcd session lost") {
		t.Errorf("Ready after the revoke = %v, want etcd session lost", readyErr)
	}
	eventually(t, 10*time.Second, "metrics SessionLost", func() error {
		if am.lost.Load() == 0 {
			return errors.New("not counted")
		}
		return nil
	})
	eventually(t, 10*time.Second, "rejoin", func() error { return a.Ready(ctx) })
	l2, err := a.AcquireLane(ctx, "rg/demo")
	if err != nil || l2 == nil {
		t.Fatalf("after rejoining: %v, %v; want the lane", l2, err)
	}
	if l2.Fence().Revision <= la.Fence().Revision {
		t.Errorf("fence %+v not newer than %+v", l2.Fence(), la.Fence())
	}
	if am.lanes.Load() != 1 || am.leader.Load() {
		t.Errorf("metrics: lanes %d leader %v, want 1 false", am.lanes.Load(), am.leader.Load())
	}
}

func TestCloseReleasesEverythingAtOnce(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	// A long TTL: a takeover within a few seconds shows the keys went without expiring.
	a, _ := testCoord(t, cli, "a", 30*time.Second)
	b, _ := testCoord(t, cli, "b", 30*time.Second)
	la, err := a.AcquireLane(ctx, "rg/demo")
	if err != nil || la == nil {
		t.Fatal(la, err)
	}
	lead, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	led := make(chan aks.Lease, 1)
	go func() {
		l, err := b.Lead(ctx)
		if err != nil {
			t.Error(err)
		}
		led <- l
	}()
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, la.Done(), time.Second, "lane Done after Close")
	waitClosed(t, lead.Done(), time.Second, "leader Done after Close")
	if err := a.Ready(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close = %v", err)
	}
	waitReleased(t, b, "rg/demo")
	lb, err := b.AcquireLane(ctx, "rg/demo")
	if err != nil || lb == nil {
		t.Fatalf("b after a's Close: %v, %v", lb, err)
	}
	select {
	case l := <-led:
		if l == nil || !strings.HasPrefix(l.Fence().Key, "leader/") {
			t.Errorf("b's leader lease = %v", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b was not elected after a's Close")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("takeover took %s; the TTL is 30s", took)
	}
	if _, ok := <-a.Released(); ok {
		// Drain: what is left may be delivered, but the channel must close.
		for range a.Released() {
		}
	}
}

func TestOneLeaderAmongThree(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx := testCtx(t)
	type won struct {
		c *Coordinator
		l aks.Lease
	}
	wins := make(chan won, 3)
	for _, id := range []string{"r1", "r2", "r3"} {
		c, _ := testCoord(t, cli, id, 2*time.Second)
		go func() {
			l, err := c.Lead(ctx)
			if err == nil {
				wins <- won{c, l}
			}
		}()
	}
	first := <-wins
	select {
	case w := <-wins:
		t.Fatalf("two leaders: %s and %s", first.c.ReplicaID(), w.c.ReplicaID())
	case <-time.After(time.Second):
	}
	if err := first.c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, first.l.Done(), time.Second, "leader Done after Close")
	var second won
	select {
	case second = <-wins:
	case <-time.After(5 * time.Second):
		t.Fatal("no new leader after the leader closed")
	}
	if second.l.Fence().Revision <= first.l.Fence().Revision {
		t.Errorf("fence %+v not newer than %+v", second.l.Fence(), first.l.Fence())
	}
	select {
	case w := <-wins:
		t.Fatalf("two leaders again: %s and %s", second.c.ReplicaID(), w.c.ReplicaID())
	case <-time.After(500 * time.Millisecond):
	}
	// Resigning hands over to the last one.
	if err := second.l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case third := <-wins:
		if third.c == second.c || third.c == first.c {
			t.Errorf("the third leader is %s", third.c.ReplicaID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no new leader after the leader resigned")
	}
}

func TestSurvivesEtcdLeaderRestart(t *testing.T) {
	cluster := etcdtest.StartCluster(t, 3)
	cli := testClient(t, cluster.Endpoints())
	ctx := testCtx(t)
	a, _ := testCoord(t, cli, "a", 3*time.Second)
	la, err := a.AcquireLane(ctx, "rg/before")
	if err != nil || la == nil {
		t.Fatal(la, err)
	}
	leader := cluster.Leader()
	if leader == nil {
		t.Fatal("no etcd leader")
	}
	leader.Stop()
	time.Sleep(4 * time.Second) // past the TTL: the session survives or is lost and re-made
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ready after the etcd leader restart", func() error { return a.Ready(ctx) })
	eventually(t, 30*time.Second, "acquire after the etcd leader restart", func() error {
		l, err := a.AcquireLane(ctx, "rg/after")
		if err == nil && l == nil {
			err = errors.New("not acquired")
		}
		return err
	})
	select {
	case <-la.Done():
		// The session was lost: the lane can be acquired anew.
		eventually(t, 10*time.Second, "re-acquire the lost lane", func() error {
			l, err := a.AcquireLane(ctx, "rg/before")
			if err == nil && l == nil {
				err = errors.New("not acquired")
			}
			return err
		})
	default:
		// The session survived: the lane is still ours in etcd.
		resp, err := cli.Get(ctx, testPrefix+"lanes/rg/before")
		if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].CreateRevision != la.Fence().Revision {
			t.Errorf("the surviving lease's key: %v, %v", resp, err)
		}
	}
}

func TestCoordinatorEndsWithItsContext(t *testing.T) {
	cli := testClient(t, etcdtest.Start(t).Endpoints())
	ctx, cancel := context.WithCancel(context.Background())
	c, err := NewCoordinator(ctx, cli, testPrefix, "a", CoordOptions{LeaseTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	l, err := c.AcquireLane(testCtx(t), "rg/demo")
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	cancel()
	waitClosed(t, l.Done(), 5*time.Second, "lane Done after the coordinator's ctx ended")
	select {
	case _, ok := <-c.Released():
		if ok {
			t.Error("Released delivered after the ctx ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Released not closed after the ctx ended")
	}
	if err := c.Ready(context.Background()); err == nil {
		t.Error("Ready is nil after the coordinator's ctx ended")
	}
}
