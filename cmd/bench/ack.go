package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

// simEndpoint is the ARM address of the in-process simulated cloud, as in cmd/bot.
const simEndpoint = "https://management.sim.aksbot.invalid"

// inProcess is aksbot wired as cmd/bot wires it on the simulated cloud, minus the transport:
// store and simulated cloud in one data file, Azure SDK client, job engine, chat service.
type inProcess struct {
	st     *store.Store
	svc    *chatops.Service
	eng    *jobs.Engine
	cancel context.CancelFunc
	done   chan error
}

type inProcessConfig struct {
	dir string
	// arm is the world's ARM endpoint; "" runs the simulated cloud in this process, in the
	// bot's data file, as cmd/bot does without Azure.
	arm                    string
	clusters               int // in-process: seeded in rg-aks as c0000, c0001, ...
	opDuration, retryAfter time.Duration
	poll, progress         time.Duration
	approvals              int
	reporter               func(*inProcess) (jobs.Reporter, error)
}

func startInProcess(ctx context.Context, cfg inProcessConfig) (*inProcess, error) {
	log := benchLogger()
	st, err := store.Open(filepath.Join(cfg.dir, "aksbot.db"), store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	rg := "rg-aks"
	azCfg := azure.Config{SubscriptionID: sim.SubscriptionID, Credential: staticCredential{}, Endpoint: cfg.arm, Logger: log}
	if cfg.arm == "" {
		d := cfg.opDuration
		cloud, err := sim.New(sim.Options{DB: st.DB(), RetryAfter: cfg.retryAfter, Logger: log,
			Durations: sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("start simulated cloud: %w", err)
		}
		for i := range cfg.clusters {
			if err := cloud.Seed(ctx, rg, clusterName(i), "westeurope",
				sim.SeedPool{Name: "np1", Mode: "System", VMSize: "Standard_DS2_v2", Count: 3}); err != nil {
				st.Close()
				return nil, fmt.Errorf("seed cluster %d: %w", i, err)
			}
		}
		azCfg.Endpoint, azCfg.Transport = simEndpoint, cloud.Transport()
	} else {
		rg = clusterRG(0) // the world's first shard
	}
	az, err := azure.New(azCfg)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("set up Azure client: %w", err)
	}
	p := &inProcess{st: st, done: make(chan error, 1),
		svc: &chatops.Service{Jobs: st, Azure: az, Defaults: chatops.Defaults{ResourceGroup: rg, Location: "westeurope"}, Logger: log}}
	reporter, err := cfg.reporter(p)
	if err != nil {
		st.Close()
		return nil, err
	}
	p.eng, err = jobs.New(jobs.Config{Store: st, Cloud: az, Reporter: reporter, Policy: benchPolicy{approvals: cfg.approvals},
		Logger: log, PollInterval: cfg.poll, ProgressInterval: cfg.progress})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("set up job engine: %w", err)
	}
	p.svc.Engine = p.eng
	runCtx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	go func() { p.done <- p.eng.Run(runCtx) }()
	return p, nil
}

func (p *inProcess) stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
	p.st.Close()
}

// transport is a socket-mode bot connected to the fake Slack.
type transport interface {
	stop()
}

type aksbotTransport struct {
	cancel context.CancelFunc
	done   chan error
}

func (t *aksbotTransport) stop() {
	t.cancel()
	<-t.done
}

// noopHandler answers nothing: with it the Slack transport's own cost shows.
type noopHandler struct{}

func (noopHandler) Command(context.Context, chatops.Request) chatops.Reply { return chatops.Reply{} }
func (noopHandler) Decide(context.Context, string, aks.User, bool, string) chatops.Reply {
	return chatops.Reply{}
}
func (noopHandler) CanDecide(context.Context, string, aks.User) chatops.Reply { return chatops.Reply{} }

// startAksbot runs aksbot's Slack transport (internal/slack) with handler h.
func startAksbot(ctx context.Context, sl *slacktest.Server, apiURL string, h chatops.Handler, refs slack.RefStore) (*slack.Bot, *aksbotTransport, error) {
	bot, err := slack.New(slack.Config{AppToken: benchAppToken, BotToken: benchBotToken, APIURL: apiURL, Logger: benchLogger()}, h, refs)
	if err != nil {
		return nil, nil, fmt.Errorf("set up Slack: %w", err)
	}
	before := sl.Connections()
	runCtx, cancel := context.WithCancel(ctx)
	t := &aksbotTransport{cancel: cancel, done: make(chan error, 1)}
	go func() { t.done <- bot.Run(runCtx) }()
	if err := waitConnected(ctx, sl, before); err != nil {
		t.stop()
		return nil, nil, err
	}
	return bot, t, nil
}

// bareTransport is the least a socket-mode bot can do: ack every envelope at once, with
// slack-go's socketmode client, and nothing else.
type bareTransport struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (t *bareTransport) stop() {
	t.cancel()
	t.wg.Wait()
}

func startBare(ctx context.Context, sl *slacktest.Server) (*bareTransport, error) {
	api := slackgo.New(benchBotToken, slackgo.OptionAppLevelToken(benchAppToken), slackgo.OptionAPIURL(sl.APIURL()))
	sm := socketmode.New(api)
	before := sl.Connections()
	runCtx, cancel := context.WithCancel(ctx)
	t := &bareTransport{cancel: cancel}
	t.wg.Go(func() { _ = sm.RunContext(runCtx) })
	t.wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case evt := <-sm.Events:
				if evt.Request != nil && evt.Request.EnvelopeID != "" {
					_ = sm.Ack(*evt.Request)
				}
			}
		}
	})
	if err := waitConnected(ctx, sl, before); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// waitConnected waits for a socket opened after the server had seen before of them.
func waitConnected(ctx context.Context, sl *slacktest.Server, before int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sl.WaitFor(ctx, func() bool { return sl.Connections() > before }); err != nil {
		return fmt.Errorf("wait for the bot to connect to Slack: %w", err)
	}
	return sl.Connected(ctx)
}

// burst sends n slash commands, spread evenly over spread (0: all at once), and returns their
// ack latencies as the fake Slack measured them: from writing the envelope to reading the ack.
func burst(ctx context.Context, sl *slacktest.Server, n, round int, spread time.Duration) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if spread > 0 {
			time.Sleep(time.Until(start.Add(spread * time.Duration(i) / time.Duration(n))))
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			ack, err := sl.SendSlash(ctx, slacktest.Slash{User: benchUser, UserName: "bench", Channel: benchChannel, Text: ackCommand(i, round)})
			if err != nil {
				errs <- err
				return
			}
			lat[i] = ack.Latency
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("slash command burst: %w", err)
	default:
	}
	return lat, nil
}

// ackClusters are the clusters the ack benchmark's commands name: those of the world's first shard, the default resource group.
const ackClusters = clustersPerShard

// ackCommand is the i-th command of a burst: reads, and one in ten a node pool scale that
// becomes a job (the engine plans it against Azure, stores it and posts it while acks go on).
func ackCommand(i, round int) string {
	c := clusterName(i % ackClusters)
	switch i % 10 {
	case 0:
		return fmt.Sprintf("nodepool scale %s np1 --node-count %d", c, 2+(i/10+round)%4)
	case 1, 2, 3, 4:
		return "list"
	case 5, 6:
		return "show " + c
	case 7, 8:
		return "jobs"
	}
	return "help"
}

func benchAck(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	res := Result{Setup: fmt.Sprintf("%d rounds per bot, in turn; each a burst of %d slash commands arriving over %s (4/10 list, 2/10 show, 2/10 jobs, 1/10 help, 1/10 nodepool scale), then the same burst all at once; latency from the fake Slack writing the envelope to reading the ack",
		sz.ackRounds, sz.ackBurst, sz.ackSpread)}
	dir, err := os.MkdirTemp("", "aksbot-bench-ack-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	// Azure is the world process: in production it is not this process's CPU either.
	w, err := startWorld(ctx, worldConfig{Dir: dir, Clusters: ackClusters, Duration: 2 * time.Second, RetryAfter: time.Second})
	if err != nil {
		return res, err
	}
	defer w.close()
	sl := slacktest.NewServer(slacktest.WithAppToken(benchAppToken), slacktest.WithBotToken(benchBotToken))
	defer sl.Close()
	p, err := startInProcess(ctx, inProcessConfig{dir: dir, arm: w.ARM,
		poll: 2 * time.Second, progress: 10 * time.Second,
		reporter: func(p *inProcess) (jobs.Reporter, error) {
			// The engine reports through a Bot of its own; the transports below come and go.
			return slack.New(slack.Config{AppToken: benchAppToken, BotToken: benchBotToken, APIURL: sl.APIURL(), Logger: benchLogger()}, p.svc, p.st)
		}})
	if err != nil {
		return res, err
	}
	defer p.stop()

	variants := []string{"bare", "aksbot", "aksbot-noop"}
	paced := map[string][]time.Duration{}
	pacedCPU, pacedWall := map[string]time.Duration{}, map[string]time.Duration{}
	atOnce := map[string][]time.Duration{}
	for round := range sz.ackRounds {
		for k := range variants {
			which := variants[(k+round)%len(variants)]
			var t transport
			switch which {
			case "bare":
				t, err = startBare(ctx, sl)
			case "aksbot":
				_, t, err = startAksbot(ctx, sl, sl.APIURL(), p.svc, p.st)
			default:
				_, t, err = startAksbot(ctx, sl, sl.APIURL(), noopHandler{}, p.st)
			}
			if err != nil {
				return res, err
			}
			err = func() error {
				defer t.stop()
				// Warm up connections and code paths; not measured.
				if _, err := burst(ctx, sl, 10, round, 0); err != nil {
					return err
				}
				cpu0, wall0 := cpuTime(), time.Now()
				lat, err := burst(ctx, sl, sz.ackBurst, round, sz.ackSpread)
				if err != nil {
					return err
				}
				pacedCPU[which] += cpuTime() - cpu0
				pacedWall[which] += time.Since(wall0)
				paced[which] = append(paced[which], lat...)
				// Let the paced burst's commands finish before the next one.
				sleepCtx(ctx, sz.ackSpread)
				lat, err = burst(ctx, sl, sz.ackBurst, round, 0)
				if err != nil {
					return err
				}
				atOnce[which] = append(atOnce[which], lat...)
				sleepCtx(ctx, sz.ackSpread)
				return nil
			}()
			if err != nil {
				return res, fmt.Errorf("%s bot: %w", which, err)
			}
			fmt.Fprintf(progress, "bench: round %d, %s bot: p99 %.2f ms over %s, %.2f ms all at once\n", round+1, which,
				ms(percentile(sortedCopy(paced[which]), 99)), sz.ackSpread, ms(percentile(sortedCopy(atOnce[which]), 99)))
		}
	}
	a, b, noop := sortedCopy(paced["aksbot"]), sortedCopy(paced["bare"]), sortedCopy(paced["aksbot-noop"])
	if len(a) == 0 || len(b) == 0 || len(noop) == 0 {
		return res, errors.New("no acks measured")
	}
	ratio := ms(percentile(a, 99)) / ms(percentile(b, 99))
	a0, b0 := sortedCopy(atOnce["aksbot"]), sortedCopy(atOnce["bare"])
	res.Metrics = []Metric{
		info("acks per bot", float64(len(a)), ""),
		info("aksbot ack p50", ms(percentile(a, 50)), "ms"),
		below("aksbot ack p99", ms(percentile(a, 99)), "ms", 20, false),
		info("aksbot ack max", ms(a[len(a)-1]), "ms"),
		info("bare socket-mode bot ack p50", ms(percentile(b, 50)), "ms"),
		info("bare socket-mode bot ack p99", ms(percentile(b, 99)), "ms"),
		below("p99 aksbot / bare", ratio, "x", 1.3, true),
		info("aksbot transport, no-op handler, ack p99", ms(percentile(noop, 99)), "ms"),
		info("process CPU during aksbot's bursts (of one core)", 100*float64(pacedCPU["aksbot"])/float64(pacedWall["aksbot"]), "%"),
		info("process CPU during the bare bot's bursts", 100*float64(pacedCPU["bare"])/float64(pacedWall["bare"]), "%"),
		info("all at once: aksbot ack p99", ms(percentile(a0, 99)), "ms"),
		info("all at once: bare bot ack p99", ms(percentile(b0, 99)), "ms"),
	}
	return res, nil
}
