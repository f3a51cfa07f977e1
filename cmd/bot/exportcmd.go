package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/export"
	"github.com/aksbot/aksbot/internal/store"
)

const dataFileHelp = `The data file is $AKSBOT_DB (default aksbot.db). While the bot runs it holds the file, and the
command asks the bot instead, through its admin socket next to the data file (AKSBOT_DB + ".sock",
only for the bot's user); run it where the bot runs, with the same AKSBOT_DB, for example
  kubectl -n aksbot exec deploy/aksbot -- /aksbot ...`

const auditExportHelp = `Writes the audit log to stdout for a SIEM or an archive: every record at or after --since,
oldest first, as JSON lines (one record per line, the store's JSON form) or CSV (a header row,
times in RFC 3339 UTC with nanoseconds). Exit code 0 when everything was written, 1 otherwise.

` + dataFileHelp + `

Examples:
  aksbot audit export                                  the last 24 hours as JSON lines
  aksbot audit export --since 7d --format csv > audit.csv
  aksbot audit export --since all --cluster rg-prod/prod-1
  aksbot audit export --since 2026-01-01T00:00:00Z`

const jobsExportHelp = `Writes every job, oldest first, with its events to stdout, one JSON object per line
({"job": ..., "events": [...]}), for support. Azure resume tokens are replaced by "present".
Exit code 0 when everything was written, 1 otherwise.

` + dataFileHelp + `

Example:
  aksbot jobs export > jobs.jsonl`

func auditExportSetup(fs *flag.FlagSet) runFunc {
	since := fs.String("since", "24h", "export records at or after this: a duration back from now (24h, 90m, 7d), an RFC 3339 time, or all")
	format := fs.String("format", formatJSONL, "jsonl or csv")
	cluster := fs.String("cluster", "", "only the records of this cluster, as `RG/NAME` (in every subscription) or SUBSCRIPTION_ID/RG/NAME, or eks/REGION/NAME (default every cluster)")
	return func(ctx context.Context, inv *invocation, _ []string) int {
		q := auditQuery{Cluster: *cluster}
		var err error
		if q.Since, err = parseSince(*since, time.Now()); err != nil {
			return inv.usageError("--%v", err)
		}
		if q.Format, err = parseFormat(*format); err != nil {
			return inv.usageError("--%v", err)
		}
		if q.Cluster != "" {
			if _, err := clusterKey(q.Cluster); err != nil {
				return inv.usageError("--%v", err)
			}
		}
		return exportData(ctx, inv,
			func(src exportSource) error { return writeAudit(ctx, inv.stdout, src, q) },
			"/audit?"+q.values().Encode())
	}
}

func runJobsExport(ctx context.Context, inv *invocation, _ []string) int {
	return exportData(ctx, inv,
		func(src exportSource) error { return export.WriteJobs(ctx, src, inv.stdout) },
		"/jobs")
}

// exportSource is what the exports read: the audit log and the jobs with their events, from
// the bbolt file or from etcd.
type exportSource interface {
	aks.AuditStore
	export.JobSource
}

// exportData runs direct on the data file when it can be opened, and otherwise, when the bot
// holds it, asks the bot's admin socket for adminPath and copies the answer to stdout.
func exportData(ctx context.Context, inv *invocation, direct func(exportSource) error, adminPath string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(inv.stderr, "aksbot %s: %s\n", inv.cmd.Name, fmt.Sprintf(format, a...))
		return exitFailure
	}
	if strings.TrimSpace(inv.getenv(config.EnvEtcdEndpoints)) != "" {
		// With etcd there is no file lock to work around: read the store directly, beside the
		// running replicas.
		if err := exportFromEtcd(ctx, inv, direct); err != nil {
			return fail("%v", err)
		}
		return exitOK
	}
	dbPath := strings.TrimSpace(inv.getenv(config.EnvDB))
	if dbPath == "" {
		dbPath = config.DefaultDBPath
	}
	// Opening would create a missing file: an empty export would hide a wrong path.
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return fail("no data file at %s: set %s to the bot's data file", dbPath, config.EnvDB)
	}

	st, err := store.Open(dbPath, store.Options{DefaultSubscription: defaultSubscription(inv.getenv)})
	if err == nil {
		werr := direct(st)
		if cerr := st.Close(); werr == nil && cerr != nil {
			werr = cerr
		}
		if werr != nil {
			return fail("%v", werr)
		}
		return exitOK
	}
	if !errors.Is(err, store.ErrInUse) {
		return fail("%v", err)
	}

	sock := adminSocketPath(dbPath)
	err = adminGet(ctx, sock, adminPath, inv.stdout)
	var silent *errSocketSilent
	switch {
	case errors.As(err, &silent):
		return fail("the data file is in use and the bot's admin socket %s does not answer: %v "+
			"(run the command where the bot runs, with the same %s, as the bot's user; or stop the bot and retry)",
			sock, silent.err, config.EnvDB)
	case err != nil:
		return fail("%v", err)
	}
	return exitOK
}

// exportFromEtcd runs direct on the store in the etcd the configuration names.
func exportFromEtcd(ctx context.Context, inv *invocation, direct func(exportSource) error) error {
	cli, prefix, err := configuredEtcd(inv.getenv)(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	st, err := etcdstore.Open(ctx, cli, prefix, etcdstore.Options{})
	if err != nil {
		return fmt.Errorf("open the store in etcd: %w", err)
	}
	defer st.Close()
	return direct(st)
}
