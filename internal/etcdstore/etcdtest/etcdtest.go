// Package etcdtest runs a real etcd inside a Go test (go.etcd.io/etcd/server/v3/embed): one member
// or a cluster of several, on free loopback ports, with its data in the test's temp dir, so that
// the etcd backend is tested against etcd itself and `go test ./...` needs nothing installed.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Cluster is a running etcd cluster of one or more members.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	members []*Member
	initial string
}

// Member is one etcd member. Stop and Start restart it on the same ports and data directory.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	dir       string

	mu      sync.Mutex
	etcd    *embed.Etcd
	initial string
	started bool // at least once: a restart joins the existing cluster
}

// Start runs a one-member etcd for the test and returns it; it is stopped when the test ends.
func Start(t testing.TB) *Cluster { return StartCluster(t, 1) }

// StartCluster runs an etcd cluster of n members for the test; it is stopped when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	// The ports are picked free a moment before etcd binds them, and another test process may
	// take one meanwhile: then the whole cluster starts again on other ports.
	for attempt := 1; ; attempt++ {
		c, err := startCluster(t, n)
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("etcdtest: %v", err)
		}
	}
}

func startCluster(t testing.TB, n int) (*Cluster, error) {
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: "http://" + freeAddr(t),
			PeerURL:   "http://" + freeAddr(t),
			dir:       t.TempDir(),
		}
		c.members = append(c.members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	errs := make(chan error, n)
	for _, m := range c.members {
		m.initial = c.initial
		go func() { errs <- m.Start() }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		c.Close()
		return nil, first
	}
	return c, nil
}

// Endpoints returns the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.ClientURL)
	}
	return out
}

// Members returns the cluster's members.
func (c *Cluster) Members() []*Member { return c.members }

// Leader returns the member that currently leads, or nil.
func (c *Cluster) Leader() *Member {
	for _, m := range c.members {
		m.mu.Lock()
		e := m.etcd
		m.mu.Unlock()
		if e != nil && e.Server.Leader() == e.Server.MemberID() {
			return m
		}
	}
	return nil
}

// Close stops every member.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		m.Stop()
	}
}

// Start starts (or restarts) the member and waits until it serves clients.
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.dir
	// The embedded server logs an error for every listener it closes when it stops; the tests
	// judge it by what it does, so only a fatal problem is worth printing.
	cfg.LogLevel = "fatal"
	// Signing in checks a bcrypt hash; at the default cost that takes seconds under -race on a
	// busy machine, which tests of authentication would spend waiting.
	cfg.BcryptCost = 4 // bcrypt.MinCost
	cfg.ListenClientUrls = []url.URL{mustURL(m.ClientURL)}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.ListenPeerUrls = []url.URL{mustURL(m.PeerURL)}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.InitialCluster = m.initial
	cfg.InitialClusterToken = "aksbot-test"
	if m.started {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcd member %s failed while starting: %w", m.Name, err)
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("etcd member %s not ready after 60s", m.Name)
	}
	m.etcd, m.started = e, true
	return nil
}

// Stop stops the member (its data stays for Start).
func (m *Member) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etcd != nil {
		m.etcd.Close()
		m.etcd = nil
	}
}

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}

// freeAddr returns a loopback address with a port that was free a moment ago. etcd needs its
// peer URLs before it starts (every member names all of them), so port 0 cannot be used.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
