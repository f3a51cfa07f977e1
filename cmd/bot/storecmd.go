package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/store"
)

const storeMigrateHelp = `Copies a bbolt data file into etcd, for running several replicas: every job with its ID,
version, events and message references, the audit log, and the undelivered chat messages; the job
ID counter is set past the highest ID copied, so new jobs continue the sequence.

The bot must not run on the data file meanwhile. The target must be empty unless --force is
given; copying again with --force skips what is already there, so a migration cut short can be
run again. The etcd endpoints come from $AKSBOT_ETCD_ENDPOINTS (comma-separated).

Example:
  aksbot store migrate --from /data/aksbot.db`

// connectEtcd returns the etcd client and key prefix of the store to write to.
type connectEtcd func(ctx context.Context) (*clientv3.Client, string, error)

func storeMigrateSetup(fs *flag.FlagSet) runFunc {
	from := fs.String("from", "", "the bbolt data `FILE` to copy (required)")
	force := fs.Bool("force", false, "copy into a store that is not empty, skipping what is there")
	return func(ctx context.Context, inv *invocation, _ []string) int {
		if *from == "" {
			return inv.usageError("--from is required")
		}
		connect := configuredEtcd(inv.getenv)
		counts, err := migrateStore(ctx, *from, defaultSubscription(inv.getenv), connect, *force)
		if err != nil {
			fmt.Fprintf(inv.stderr, "aksbot store migrate: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(inv.stdout, "copied %d jobs, %d events, %d refs, %d audit records, %d outbox entries, %d schedules\n",
			counts.jobs, counts.events, counts.refs, counts.audit, counts.outbox, counts.schedules)
		if counts.skippedJobs+counts.skippedAudit+counts.skippedOutbox+counts.skippedSchedules > 0 {
			fmt.Fprintf(inv.stdout, "already there, skipped: %d jobs, %d audit records, %d outboxes, %d schedules\n",
				counts.skippedJobs, counts.skippedAudit, counts.skippedOutbox, counts.skippedSchedules)
		}
		return exitOK
	}
}

type migrateCounts struct {
	jobs, events, refs, audit, outbox, schedules               int
	skippedJobs, skippedAudit, skippedOutbox, skippedSchedules int
}

// migrateStore copies the bbolt file at path into the etcd store connect gives.
// Jobs of a file written before subscriptions were named are put in defaultSub by opening it
// (the bbolt schema migration), so they reach etcd with their subscription.
func migrateStore(ctx context.Context, path, defaultSub string, connect connectEtcd, force bool) (migrateCounts, error) {
	var n migrateCounts
	// Opening would create a missing file: copying an empty one would hide a wrong path.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return n, fmt.Errorf("no data file at %s", path)
	}
	src, err := store.Open(path, store.Options{DefaultSubscription: defaultSub})
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return n, fmt.Errorf("%w (stop the bot before migrating its data file)", err)
		}
		return n, err
	}
	defer src.Close()
	cli, prefix, err := connect(ctx)
	if err != nil {
		return n, err
	}
	defer cli.Close()
	dst, err := etcdstore.Open(ctx, cli, prefix, etcdstore.Options{})
	if err != nil {
		return n, err
	}
	defer dst.Close()
	empty, err := dst.Empty(ctx)
	if err != nil {
		return n, err
	}
	if !empty && !force {
		return n, fmt.Errorf("the etcd store under %s is not empty: give --force to copy into it anyway (what is there is kept)", prefix)
	}

	jobs, err := src.Jobs(ctx, aks.Filter{})
	if err != nil {
		return n, err
	}
	for _, job := range jobs {
		events, err := src.Events(ctx, job.ID)
		if err != nil {
			return n, err
		}
		refs, err := src.Refs(ctx, job.ID)
		if err != nil {
			return n, err
		}
		copied, err := dst.ImportJob(ctx, job, events, refs)
		if err != nil {
			return n, err
		}
		if !copied {
			n.skippedJobs++
			continue
		}
		n.jobs++
		n.events += len(events)
		n.refs += len(refs)
	}

	recs, err := src.Audit(ctx, aks.AuditFilter{})
	if err != nil {
		return n, err
	}
	if n.audit, err = dst.ImportAudit(ctx, recs); err != nil {
		return n, err
	}
	n.skippedAudit = len(recs) - n.audit

	// The bbolt outbox (the chat transport's undelivered messages) is copied once the data
	// file's store implements it.
	if ob, ok := any(src).(aks.OutboxStore); ok {
		heads, err := ob.OutboxHeads(ctx)
		if err != nil {
			return n, err
		}
		for _, h := range heads {
			state, entries, err := ob.OutboxState(ctx, h.Entry.JobID)
			if err != nil {
				return n, err
			}
			copied, err := dst.ImportOutbox(ctx, h.Entry.JobID, state, entries)
			if err != nil {
				return n, err
			}
			if !copied {
				n.skippedOutbox++
				continue
			}
			n.outbox += len(entries)
		}
	}

	// Schedules, with the approvals that cover their runs and how far they have run. One that
	// is there already (a second run of migrate) is left as it is.
	scheds, err := src.Schedules(ctx)
	if err != nil {
		return n, err
	}
	for _, sc := range scheds {
		sc.Version = 0 // versions are the store's own: create it in etcd
		_, err := dst.PutSchedule(ctx, sc)
		switch {
		case errors.Is(err, aks.ErrConflict):
			n.skippedSchedules++
		case err != nil:
			return n, fmt.Errorf("copy schedule %s: %w", sc.Name, err)
		default:
			n.schedules++
		}
	}
	return n, nil
}
