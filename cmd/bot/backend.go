package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/store"
	"github.com/aksbot/aksbot/internal/telemetry"
)

// stateStore is everything the bot persists, whichever backend keeps it.
type stateStore interface {
	aks.JobStore
	aks.AuditStore
	aks.Claims
	aks.JobWatcher
	aks.OutboxStore
	aks.Cache
	aks.ScheduleStore
	Probe(ctx context.Context) error
}

// backend is where the bot keeps its state and how it shares work: the bbolt data file for
// one process (the default), or etcd for several replicas.
type backend struct {
	store stateStore
	coord aks.Coordinator
	// file is the bbolt store in data-file mode: the simulated cloud keeps its state in it, and
	// the exports reach it through the admin socket while the bot holds its lock. Nil with etcd.
	file *store.Store
	// release gives the lanes and the leadership up at once (SIGTERM), so that a survivor takes
	// over without waiting for the lease to run out.
	release func(ctx context.Context) error
	close   func()
}

var (
	_ stateStore = (*store.Store)(nil)
	_ stateStore = (*etcdstore.Store)(nil)
)

// openBackend opens the data file, or with AKSBOT_ETCD_ENDPOINTS set connects to etcd, opens
// the store under the configured prefix and joins the other replicas.
func openBackend(ctx context.Context, cfg config.Config, log *slog.Logger, m *telemetry.Metrics) (*backend, error) {
	if !cfg.Etcd() {
		st, err := store.Open(cfg.DBPath, store.Options{Logger: log, DefaultSubscription: subscriptionsOf(cfg).Default})
		if err != nil {
			return nil, fmt.Errorf("open data file: %w", err)
		}
		// One process owns the file: it owns every lane and leads. Its replica ID stays off the
		// job views (there is no other replica to tell it from).
		return &backend{store: st, file: st, coord: &jobs.SingleReplica{},
			release: func(context.Context) error { return nil },
			close: func() {
				if err := st.Close(); err != nil {
					log.Warn("close data file", "err", err)
				}
			}}, nil
	}
	if cfg.Simulated() {
		return nil, errors.New("several replicas cannot share the built-in simulated cloud, which lives in one process's data file: " +
			"run `aksbot sim` and give each replica the environment it prints, or set AZURE_SUBSCRIPTION_ID for Azure")
	}
	e := cfg.File.Store.Etcd
	cli, err := etcdstore.Connect(ctx, etcdClientOptions(cfg, log))
	if err != nil {
		return nil, fmt.Errorf("connect to etcd: %w", err)
	}
	st, err := etcdstore.Open(ctx, cli, e.Prefix, etcdstore.Options{Logger: log, Observe: m.StoreOperation})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("open the store in etcd: %w", err)
	}
	coord, err := etcdstore.NewCoordinator(ctx, cli, e.Prefix, cfg.ReplicaID,
		etcdstore.CoordOptions{LeaseTTL: e.LeaseTTL.Duration, Logger: log, Metrics: m})
	if err != nil {
		st.Close()
		cli.Close()
		return nil, fmt.Errorf("join the other replicas in etcd: %w", err)
	}
	log.Info("state in etcd", "endpoints", cfg.EtcdEndpoints, "prefix", e.Prefix, "leaseTTL", e.LeaseTTL.Duration)
	return &backend{store: st, coord: coord, release: coord.Close,
		close: func() {
			if err := st.Close(); err != nil {
				log.Warn("close etcd store", "err", err)
			}
			if err := cli.Close(); err != nil {
				log.Warn("close etcd client", "err", err)
			}
		}}, nil
}

// etcdClientOptions is how the configuration reaches etcd. The password is only handed to the
// client: Connect's errors never contain it.
func etcdClientOptions(cfg config.Config, log *slog.Logger) etcdstore.ClientOptions {
	e := cfg.File.Store.Etcd
	o := etcdstore.ClientOptions{Endpoints: cfg.EtcdEndpoints, DialTimeout: e.DialTimeout.Duration,
		Username: e.Username, Password: cfg.EtcdPassword, Logger: log}
	o.TLS.CA, o.TLS.Cert, o.TLS.Key = e.TLS.CA, e.TLS.Cert, e.TLS.Key
	return o
}

// configuredEtcd connects to the etcd the configuration names (for `aksbot store migrate` and
// the exports).
func configuredEtcd(getenv func(string) string) connectEtcd {
	return func(ctx context.Context) (*clientv3.Client, string, error) {
		cfg, err := config.Load(getenv)
		if err != nil {
			return nil, "", err
		}
		if !cfg.Etcd() {
			return nil, "", fmt.Errorf("no etcd endpoints: set %s", config.EnvEtcdEndpoints)
		}
		cli, err := etcdstore.Connect(ctx, etcdClientOptions(cfg, nil))
		if err != nil {
			return nil, "", fmt.Errorf("connect to etcd: %w", err)
		}
		return cli, cfg.File.Store.Etcd.Prefix, nil
	}
}

// publishJobsWhileLeading keeps the jobs-by-state gauge while this replica leads, and takes it
// off /metrics when it stops leading, so that the replicas together publish it once.
func publishJobsWhileLeading(st jobs.Store, m *telemetry.Metrics) func(context.Context) {
	return func(ctx context.Context) {
		m.PublishJobs(true)
		defer m.PublishJobs(false)
		countJobs(ctx, st, m)
	}
}

// releaseTimeout bounds giving the lanes up at SIGTERM: etcd answers a revoke in milliseconds;
// past this the lease runs out on its own.
const releaseTimeout = time.Second
