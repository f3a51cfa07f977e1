package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
	"github.com/aksbot/aksbot/internal/store/storetest"
)

var prefixes atomic.Int64

// newClient connects to the test's etcd; the client is closed when the test ends.
func newClient(t testing.TB, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func openStore(t testing.TB, cli *clientv3.Client, prefix string) *etcdstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := etcdstore.Open(ctx, cli, prefix, etcdstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func backendOf(s *etcdstore.Store) storetest.Backend {
	return storetest.Backend{Jobs: s, Audit: s, Claims: s, Cache: s, Watch: s, Outbox: s, Schedules: s}
}

// fences makes fence keys the way the coordinator's lanes are: plain keys under the prefix,
// whose creation revision is the fence.
type fences struct {
	cli    *clientv3.Client
	prefix string
}

func (f fences) Acquire(t *testing.T, key string) aks.Fence {
	resp, err := f.cli.Put(context.Background(), f.prefix+key, "owner")
	if err != nil {
		t.Fatal(err)
	}
	return aks.Fence{Key: key, Revision: resp.Header.Revision}
}

func (f fences) Delete(t *testing.T, key string) {
	if _, err := f.cli.Delete(context.Background(), f.prefix+key); err != nil {
		t.Fatal(err)
	}
}

// TestContract runs the store ports' contract on one embedded etcd member (fsync on), each
// case under its own prefix, as bots sharing one etcd would be.
func TestContract(t *testing.T) {
	c := etcdtest.Start(t)
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		cli := newClient(t, c)
		prefix := fmt.Sprintf("/contract/%d/", prefixes.Add(1))
		s := openStore(t, cli, prefix)
		b := backendOf(s)
		b.Fences = fences{cli: cli, prefix: prefix}
		b.ClaimTTL = time.Second
		b.Replica = func(t *testing.T) storetest.Backend {
			return backendOf(openStore(t, newClient(t, c), prefix))
		}
		b.NewerSchema = func(t *testing.T) error {
			if _, err := cli.Put(context.Background(), prefix+"schema", "2"); err != nil {
				t.Fatal(err)
			}
			_, err := etcdstore.Open(context.Background(), cli, prefix, etcdstore.Options{})
			return err
		}
		return b
	})
}

// TestWatchResyncsAfterCompaction: a watch that has to restart past a compacted revision tells
// its receiver to look again (Resync) and goes on with later changes.
func TestWatchResyncsAfterCompaction(t *testing.T) {
	c := etcdtest.Start(t)
	cli := newClient(t, c)
	s := openStore(t, cli, "/resync/")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated}); err != nil {
		t.Fatal(err)
	}
	// Compact everything, then watch as if the last revision seen were 1: the revisions after
	// it are gone. (Compacting after the watch started would race with its first read.)
	resp, err := cli.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	ch := etcdstore.WatchFrom(s, ctx, 1)
	sawResync := false
	for !sawResync {
		select {
		case c := <-ch:
			sawResync = c.Resync
		case <-ctx.Done():
			t.Fatal("no Resync after the watch's revisions were compacted")
		}
	}
	j2, err := s.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case c := <-ch:
			if c.ID == j2.ID {
				return
			}
		case <-ctx.Done():
			t.Fatal("no change after the Resync")
		}
	}
}

func TestNewerSchemaNamesBothVersions(t *testing.T) {
	c := etcdtest.Start(t)
	cli := newClient(t, c)
	if _, err := cli.Put(context.Background(), "/newer/schema", "7"); err != nil {
		t.Fatal(err)
	}
	_, err := etcdstore.Open(context.Background(), cli, "/newer/", etcdstore.Options{})
	if !errors.Is(err, aks.ErrNewerSchema) || !strings.Contains(err.Error(), "version 7") || !strings.Contains(err.Error(), "up to 1") {
		t.Fatalf("err %v, want ErrNewerSchema naming versions 7 and 1", err)
	}
}
