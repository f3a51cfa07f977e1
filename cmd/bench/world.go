package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// The world is Azure and Slack as the bot sees them: the simulated cloud and the fake Slack,
// served on loopback by a child process (this binary again, with worldEnv set) so that their CPU
// and memory are not counted as the bot's.
const worldEnv = "AKSBOT_BENCH_WORLD"

// clustersPerShard bounds the clusters in one simulated cloud: the simulator looks at every
// cluster of its data file on each request, which is fine for a demo and too slow for 1,000.
// The world runs one simulated cloud per shard behind one ARM endpoint.
const clustersPerShard = 5

type worldConfig struct {
	Dir        string        `json:"dir"`
	Clusters   int           `json:"clusters"`
	Duration   time.Duration `json:"duration"`   // of every simulated operation
	RetryAfter time.Duration `json:"retryAfter"` // on status answers of running operations
}

// worldAddrs is what the child prints once it serves.
type worldAddrs struct {
	ARM      string `json:"arm"`      // ARM base URL
	SlackAPI string `json:"slackAPI"` // Slack Web API base URL, ends in "/"
}

// clusterName and clusterRG name the i-th seeded cluster (0-based). Each has one System pool
// "np1" of 3 nodes.
func clusterName(i int) string { return fmt.Sprintf("c%04d", i) }
func clusterRG(i int) string   { return fmt.Sprintf("rg-bench-%03d", i/clustersPerShard) }

// world is a running child process.
type world struct {
	worldAddrs
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// startWorld starts the child and waits until it serves.
func startWorld(ctx context.Context, cfg worldConfig) (*world, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start world: find own executable: %w", err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("start world: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), worldEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start world: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start world: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start world: %w", err)
	}
	w := &world{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &w.worldAddrs)
	}
	go func() { w.done <- cmd.Wait() }()
	if err != nil {
		w.close()
		return nil, fmt.Errorf("start world: read its addresses: %w", err)
	}
	return w, nil
}

// cpu returns the CPU time the child has used.
func (w *world) cpu() (time.Duration, error) { return procCPUTime(w.cmd.Process.Pid) }

// close asks the child to exit (by closing its stdin) and waits for it.
func (w *world) close() {
	_ = w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// serveWorldFromEnv is the child's main.
func serveWorldFromEnv() int {
	var cfg worldConfig
	if err := json.Unmarshal([]byte(os.Getenv(worldEnv)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench world: bad configuration: %v\n", err)
		return 2
	}
	if err := serveWorld(cfg, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench world: %v\n", err)
		return 1
	}
	return 0
}

func serveWorld(cfg worldConfig, stdin io.Reader, stdout io.Writer) error {
	router, closeARM, err := newShardedARM(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer closeARM()
	arm := httptest.NewServer(router)
	defer arm.Close()
	sl := slacktest.NewServer(slacktest.WithAppToken(benchAppToken), slacktest.WithBotToken(benchBotToken))
	defer sl.Close()
	if err := json.NewEncoder(stdout).Encode(worldAddrs{ARM: arm.URL, SlackAPI: sl.APIURL()}); err != nil {
		return fmt.Errorf("write addresses: %w", err)
	}
	// Serve until the parent closes stdin (or dies).
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// newShardedARM makes the world's simulated clouds, one per shard of clustersPerShard seeded
// clusters, and the router in front of them; the function it returns closes their files.
func newShardedARM(ctx context.Context, cfg worldConfig) (*shardRouter, func(), error) {
	var dbs []*bbolt.DB
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	shards := (cfg.Clusters + clustersPerShard - 1) / clustersPerShard
	router := &shardRouter{byRG: map[string]http.Handler{}, byOp: map[string]http.Handler{}}
	d := cfg.Duration
	durations := sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}
	for s := range max(shards, 1) {
		db, err := bbolt.Open(filepath.Join(cfg.Dir, fmt.Sprintf("azure-%03d.db", s)), 0o600, nil)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open simulated cloud shard %d: %w", s, err)
		}
		dbs = append(dbs, db)
		// This plays Azure for a benchmark: its durability is not what is measured.
		db.NoSync = true
		cloud, err := sim.New(sim.Options{DB: db, Durations: durations, RetryAfter: cfg.RetryAfter})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("start simulated cloud shard %d: %w", s, err)
		}
		router.byRG[strings.ToLower(clusterRG(s*clustersPerShard))] = cloud.Handler()
		if s == 0 {
			router.fallback = cloud.Handler()
		}
		for i := s * clustersPerShard; i < min((s+1)*clustersPerShard, cfg.Clusters); i++ {
			if err := cloud.Seed(ctx, clusterRG(i), clusterName(i), "westeurope",
				sim.SeedPool{Name: "np1", Mode: "System", VMSize: "Standard_DS2_v2", Count: 3}); err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("seed cluster %d: %w", i, err)
			}
		}
	}
	return router, closeAll, nil
}

// shardRouter sends resource requests to the shard of their resource group, and operation
// status and result requests to the shard that started the operation (learnt from the
// Azure-AsyncOperation and Location headers of its answers).
type shardRouter struct {
	byRG     map[string]http.Handler // lower-case resource group -> shard
	fallback http.Handler

	mu   sync.Mutex
	byOp map[string]http.Handler // lower-case operation ID -> shard
}

func (s *shardRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var h http.Handler
	switch {
	case len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups"):
		h = s.byRG[strings.ToLower(segs[3])]
	case len(segs) >= 8 && strings.EqualFold(segs[4], "locations"):
		s.mu.Lock()
		h = s.byOp[strings.ToLower(segs[7])]
		s.mu.Unlock()
	}
	if h == nil {
		h = s.fallback
	}
	h.ServeHTTP(&sniffer{ResponseWriter: w, learn: func(hd http.Header) { s.learn(hd, h) }}, r)
}

func (s *shardRouter) learn(hd http.Header, h http.Handler) {
	for _, name := range []string{"Azure-AsyncOperation", "Location"} {
		v := hd.Get(name)
		if v == "" {
			continue
		}
		id := strings.ToLower(v[strings.LastIndexByte(v, '/')+1:])
		if i := strings.IndexByte(id, '?'); i >= 0 {
			id = id[:i]
		}
		s.mu.Lock()
		s.byOp[id] = h
		s.mu.Unlock()
	}
}

// sniffer shows the answer's headers to learn before they are sent.
type sniffer struct {
	http.ResponseWriter
	learn   func(http.Header)
	learned bool
}

func (s *sniffer) WriteHeader(code int) {
	if !s.learned {
		s.learned = true
		s.learn(s.Header())
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *sniffer) Write(p []byte) (int, error) {
	if !s.learned {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}
