// Command bot is aksbot: a Slack bot (socket mode) that runs AKS cluster and node-pool
// operations as durable jobs. Without Slack tokens it is a console chat; without an Azure
// subscription it runs on a built-in simulated cloud. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
	// The zone database is embedded so that schedules' IANA time zones work in an image
	// without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/assess"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/console"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/policy"
	"github.com/aksbot/aksbot/internal/prices"
	"github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/store"
	"github.com/aksbot/aksbot/internal/telemetry"
)

// shutdownGrace bounds how long the engine may take to stop once the transport has: a replica
// has 10 s from SIGTERM to exit (Slack's handlers in flight get 5 s of it, giving the lanes up
// in etcd 1 s). Everything is persisted as it happens, so stopping early loses nothing; jobs
// keep running in Azure and are resumed by another replica or at the next start.
const shutdownGrace = 3 * time.Second

// Console demo users, when console mode runs without a configuration file.
const (
	demoRequester = "alice"
	demoApprover  = "bob"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// overrides replace what tests running the bot in process cannot set through the environment:
// TLS trust of a local ARM server is read from SSL_CERT_FILE once per process.
type overrides struct {
	armTransport  azpolicy.Transporter
	armCredential azcore.TokenCredential
	// clock and retryDelay let a test move time past an approval's expiry and see the running
	// bot act on it within retryDelay.
	clock      func() time.Time
	retryDelay time.Duration
}

// serve wires the bot together and runs it until ctx is done (or, in console mode, until the
// input ends and no job is left to follow).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdin io.Reader, stdout io.Writer, ov overrides) error {
	metrics := telemetry.NewMetrics()
	cfg.Subscriptions = subscriptionsOf(cfg)
	be, err := openBackend(ctx, cfg, log, metrics)
	if err != nil {
		return err
	}
	defer be.close()
	st := be.store
	if be.file != nil {
		// bbolt lets one process open the data file: `aksbot audit export` and `aksbot jobs
		// export` run beside the bot ask it through a Unix socket instead. (With etcd they read
		// etcd themselves.)
		adminCtx, stopAdmin := context.WithCancel(ctx)
		adminDone := make(chan struct{})
		go func() {
			defer close(adminDone)
			if err := serveAdmin(adminCtx, adminSocketPath(cfg.DBPath), be.file, log); err != nil {
				log.Warn("admin socket unavailable; exports while the bot runs will fail", "err", err)
			}
		}()
		defer func() { stopAdmin(); <-adminDone }() // before the store closes: requests in flight read it
	}

	cloud, simPrices, err := newCloud(ctx, cfg, be.file, log, ov, metrics)
	if err != nil {
		return err
	}
	assessor, err := newAssessor(cfg, st, cloud, simPrices)
	if err != nil {
		return err
	}
	eksSide, err := newEKS(ctx, cfg, log)
	if err != nil {
		return err
	}
	probe := telemetry.WriteProbe(func() error { return st.Probe(context.Background()) })
	ready := map[string]telemetry.Check{"datafile": probe}
	if cfg.Etcd() {
		// Not ready while the etcd session is lost: the replica then owns no lane and delivers
		// nothing (Slack sends its envelopes to the other replicas' sockets).
		ready = map[string]telemetry.Check{"etcd": probe, "etcd-session": be.coord.Ready}
	}

	svc := &chatops.Service{
		Jobs:          st,
		Azure:         cloud.Default(),
		AzureIn:       func(sub string) (chatops.Reader, error) { return cloud.In(sub) },
		Subscriptions: cfg.Subscriptions,
		Audit:         auditTrail{st},
		Costs:         assessor,
		Defaults:      chatops.Defaults{ResourceGroup: cfg.File.Azure.ResourceGroup, Location: cfg.File.Azure.Location},
		EKS:           eksSide.chat(),
		Logger:        log,
		Now:           ov.clock,
	}

	var reporter jobs.Reporter
	var transport func(context.Context) error
	leaderTasks := []func(context.Context){publishJobsWhileLeading(st, metrics)}
	var pol *policy.Policy
	switch cfg.Mode {
	case config.ModeSlack:
		// Envelopes and trigger IDs are de-duplicated through the store's claims, so an envelope
		// Slack sends again to another replica's socket is still handled once.
		bot, err := slack.New(slack.Config{AppToken: cfg.SlackAppToken, BotToken: cfg.SlackBotToken, APIURL: cfg.SlackAPIURL,
			Logger: log, Metrics: metrics, Outbox: st, Claims: st}, svc, st)
		if err != nil {
			return fmt.Errorf("set up Slack: %w", err)
		}
		// User groups named in the policy are resolved through Slack (usergroups.users.list).
		if pol, err = policy.New(cfg.File.Policy, bot); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		reporter, transport = bot, bot.Run
		// One replica at a time delivers the stored messages, so that Slack's per-channel pace
		// holds for the whole bot and nothing is posted twice; its writes carry the leader's
		// fence, and a deposed deliverer stops at its first refused write.
		leaderTasks = append(leaderTasks, func(ctx context.Context) {
			if err := bot.RunOutbox(ctx); err != nil && !errors.Is(err, aks.ErrFenced) {
				log.Error("slack outbox worker stopped", "err", err)
			}
		})
		ready["slack"] = func(context.Context) error {
			if !bot.Connected() {
				return errors.New("socket mode is not connected")
			}
			return nil
		}
	default:
		var users []string
		if pol, users, err = consolePolicy(cfg); err != nil {
			return err
		}
		interactive := isTerminal(stdin)
		con := console.New(svc, stdout, console.Options{
			User: users[0], KnownUsers: users, Prompt: interactive,
			Wait: func(ctx context.Context) error { return waitIdle(ctx, st) },
		})
		reporter = con
		transport = func(ctx context.Context) error {
			if err := con.Run(ctx, stdin); err != nil {
				return err
			}
			if !interactive {
				// A script has ended: let the jobs it started finish before exiting.
				return waitIdle(ctx, st)
			}
			return nil
		}
	}
	pol.SetCurrency(cfg.File.Prices.Currency)
	pol.SetSubscriptions(cfg.Subscriptions)
	svc.Policy = pol

	engine, err := jobs.New(jobs.Config{
		Store: st, Cloud: byProvider{azure: cloud, eks: eksSide.cloud()}, DefaultSubscription: cfg.Subscriptions.Default, Reporter: reporter, Policy: pol, Assessor: assessor, Audit: st, Observer: metrics, Logger: log,
		Coordinator: be.coord, Watcher: st, LeaderTasks: leaderTasks,
		PollInterval:     pollInterval(cfg),
		ProgressInterval: progressInterval(cfg),
		Now:              ov.clock,
		RetryDelay:       ov.retryDelay,
		SlowAfter:        cfg.File.Jobs.SlowAfter.Kinds(),
		Schedules:        st,
		Claims:           st,
		CatchUp:          cfg.File.Schedules.CatchUp.Duration,
	})
	if err != nil {
		return fmt.Errorf("set up job engine: %w", err)
	}
	svc.Engine = engine
	svc.Schedules = engine

	log.Info("aksbot starting", "config", cfg)
	// The engine (with the Slack outbox it leads) outlives the transport by a moment at SIGTERM:
	// Slack's socket closes first, the commands in flight finish and their answers are
	// delivered, and only then do the lanes and the leadership stop.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- engine.Run(runCtx) }()
	if cfg.HTTPAddr != "off" {
		srv := telemetry.NewServer(cfg.HTTPAddr, metrics, ready, log)
		go func() {
			if err := srv.Run(runCtx); err != nil {
				// Probes that cannot be served would restart a healthy pod in a loop; in the
				// console nobody probes. Say so and carry on.
				log.Error("health and metrics listener stopped", "addr", cfg.HTTPAddr, "err", err)
			}
		}()
	}

	terr := transport(ctx)
	cancel()
	select {
	case err := <-engineDone:
		if err != nil && terr == nil {
			terr = err
		}
	case <-time.After(shutdownGrace):
		log.Warn("job engine did not stop in time; exiting anyway (jobs resume at the next start)")
	}
	// Give the lanes and the leadership up now rather than when the lease runs out, so that
	// another replica takes this one's jobs over within a second.
	rctx, rcancel := context.WithTimeout(context.Background(), releaseTimeout)
	if err := be.release(rctx); err != nil {
		log.Warn("give up lanes in etcd; another replica takes them when the lease expires", "err", err)
	}
	rcancel()
	if terr != nil && !errors.Is(terr, context.Canceled) {
		return terr
	}
	log.Info("aksbot stopped")
	return nil
}

// newAssessor prices plans and checks them against the subscription's quota: list prices from
// the Retail Prices API (AKSBOT_PRICES_URL, else the public one, else the simulated cloud's),
// cached in the data file for a day; quotas and VM sizes from Azure's Compute API.
func newAssessor(cfg config.Config, st prices.Cache, cloud *azure.Clouds, simPrices http.RoundTripper) (*assess.Assessor, error) {
	opts := prices.Options{Base: cfg.PricesURL, Currency: cfg.File.Prices.Currency, Cache: st}
	if opts.Base == "" && simPrices != nil {
		opts.Base, opts.HTTP = simPricesURL, &http.Client{Transport: simPrices, Timeout: 20 * time.Second}
	}
	pl, err := prices.New(opts)
	if err != nil {
		return nil, fmt.Errorf("set up the price list: %w", err)
	}
	// Quotas and VM sizes are those of the subscription each plan is made in.
	return &assess.Assessor{Prices: pl, Compute: cloud.Default(),
		ComputeIn: func(sub string) (assess.Compute, error) { return cloud.In(sub) }}, nil
}

// simPricesURL is where the in-process simulated cloud answers Retail Prices API requests; no
// request to it leaves the process.
const simPricesURL = "https://prices.sim.aksbot.invalid"

// newCloud returns Azure, real or simulated, with one client per subscription of
// cfg.Subscriptions. The simulated cloud keeps its state in the bot's data file and is driven
// through the same SDK client as real Azure, in process; for it, the second result serves its
// Retail Prices API in process (nil for real Azure).
func newCloud(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger, ov overrides, m *telemetry.Metrics) (*azure.Clouds, http.RoundTripper, error) {
	// Every ARM request names the replica that sent it, for support and for the multi-replica
	// tests, which check that one replica at a time mutates a cluster.
	policies := []azpolicy.Policy{azure.MetricsPolicy(m), azure.ReplicaPolicy(cfg.ReplicaID)}
	if !cfg.Simulated() {
		cred := ov.armCredential
		if cred == nil {
			var err error
			if cred, err = azure.NewCredential(cfg.ARMEndpoint, cfg.AuthorityHost, cfg.ARMAudience); err != nil {
				return nil, nil, fmt.Errorf("set up Azure credential: %w", err)
			}
		}
		var clients []*azure.Client
		for _, sub := range cfg.Subscriptions.List {
			c, err := azure.New(azure.Config{SubscriptionID: sub.ID, Credential: cred,
				Endpoint: cfg.ARMEndpoint, Audience: cfg.ARMAudience, Transport: ov.armTransport, Policies: policies, Logger: log})
			if err != nil {
				return nil, nil, fmt.Errorf("set up Azure client for subscription %s: %w", sub.Name, err)
			}
			clients = append(clients, c)
		}
		clouds, err := azure.NewClouds(cfg.Subscriptions.Default, clients...)
		if err != nil {
			return nil, nil, fmt.Errorf("set up Azure clients: %w", err)
		}
		return clouds, nil, nil
	}
	cloud, err := sim.New(sim.Options{DB: st.DB(), Durations: scaled(sim.DefaultDurations, cfg.File.Simulator.Speed), RetryAfter: time.Second, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("start simulated cloud: %w", err)
	}
	// prod holds a cluster of the same name as the one the console session creates in dev, to
	// show that they are two clusters (seeding again on the next start changes nothing).
	if err := cloud.SeedIn(ctx, sim.ProdSubscriptionID, cfg.File.Azure.ResourceGroup, "demo", "westeurope"); err != nil {
		return nil, nil, fmt.Errorf("seed the simulated prod subscription: %w", err)
	}
	var clients []*azure.Client
	for _, sub := range cfg.Subscriptions.List {
		c, err := azure.New(azure.Config{SubscriptionID: sub.ID, Credential: cloud.Credential(),
			Endpoint: simEndpoint, Transport: cloud.Transport(), Policies: policies, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("set up simulated Azure client for subscription %s: %w", sub.Name, err)
		}
		clients = append(clients, c)
	}
	clouds, err := azure.NewClouds(cfg.Subscriptions.Default, clients...)
	if err != nil {
		return nil, nil, fmt.Errorf("set up simulated Azure clients: %w", err)
	}
	return clouds, cloud.RoundTripper(), nil
}

// simEndpoint is the ARM address the in-process simulated cloud answers on; no request to it
// leaves the process.
const simEndpoint = "https://management.sim.aksbot.invalid"

// scaled divides the simulated durations by speed, keeping at least a second each so that
// operations still pass through their in-progress states.
func scaled(d sim.Durations, speed float64) sim.Durations {
	f := func(x time.Duration) time.Duration { return simDuration(x, speed) }
	return sim.Durations{Create: f(d.Create), Delete: f(d.Delete), Scale: f(d.Scale), Update: f(d.Update),
		Upgrade: f(d.Upgrade), StartStop: f(d.StartStop), NodeImage: f(d.NodeImage)}
}

// simDuration is d divided by speed (1 when speed is not above 0), at least a second, so that a
// simulated operation still passes through its in-progress state where a thread can show it.
func simDuration(d time.Duration, speed float64) time.Duration {
	if speed <= 0 {
		speed = 1
	}
	return max(time.Duration(float64(d)/speed), time.Second)
}

// consolePolicy returns the console's policy and the users to offer. A console with no
// approvers configured anywhere gets a demo policy where alice asks and bob approves, so that
// approvals can be tried at one keyboard. The console has no Slack to ask about user groups: a
// policy naming groups refuses what depends on them, and says so.
func consolePolicy(cfg config.Config) (*policy.Policy, []string, error) {
	p := cfg.File.Policy
	if !p.HasApprovers() && p.ApprovalsRequired() {
		return policy.Demo(demoApprover), []string{demoRequester, demoApprover}, nil
	}
	pol, err := policy.New(p, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	// Offer the approvers named by user ID (groups cannot be resolved without Slack).
	users := []string{demoRequester}
	approvers := slices.Clone(p.Approvers)
	for _, r := range p.Rules {
		approvers = append(approvers, r.Approvers...)
	}
	for _, id := range approvers {
		if !slices.Contains(users, id) && !config.ValidGroupID(id) {
			users = append(users, id)
		}
	}
	return pol, users, nil
}

// auditTrail reads the store's audit log for chat commands.
type auditTrail struct{ st aks.AuditStore }

func (a auditTrail) Audit(ctx context.Context, since time.Time, clusterKey string, limit int) ([]aks.AuditRecord, error) {
	return a.st.Audit(ctx, aks.AuditFilter{Since: since, ClusterKey: clusterKey, Limit: limit})
}

// pollInterval is the configured floor between status polls. The simulated cloud's operations
// take seconds, so it is polled more often unless the file asks for less.
func pollInterval(cfg config.Config) time.Duration {
	return simulatedAtMost(cfg, cfg.File.Jobs.PollInterval.Duration, 2*time.Second)
}

func progressInterval(cfg config.Config) time.Duration {
	return simulatedAtMost(cfg, cfg.File.Jobs.ProgressInterval.Duration, 10*time.Second)
}

// simulatedAtMost caps d on the simulated cloud, whose operations are minutes shorter than Azure's.
func simulatedAtMost(cfg config.Config, d, limit time.Duration) time.Duration {
	if cfg.Simulated() && (d == 0 || d > limit) {
		return limit
	}
	return d
}

// countJobs keeps the jobs-by-state gauge current from the store's index of unfinished jobs.
// With several replicas only the elected one publishes it (telemetry.Metrics.PublishJobs).
func countJobs(ctx context.Context, st jobs.Store, m *telemetry.Metrics) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		open, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}})
		if err == nil {
			counts := map[[2]string]int{}
			for _, j := range open {
				counts[[2]string{string(j.Op.Kind), string(j.State)}]++
			}
			m.SetJobsByState(counts)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitIdle returns once no job is queued or running (jobs awaiting approval do not count: they
// wait for a person).
func waitIdle(ctx context.Context, st jobs.Store) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		active, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}})
		if err != nil {
			return fmt.Errorf("read jobs: %w", err)
		}
		if len(active) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
