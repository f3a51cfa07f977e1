package main

// The admin socket: bbolt locks the data file exclusively, so while the bot runs no other process
// can open it. The running bot therefore answers the export commands itself, on a Unix socket
// next to the data file that only its user can connect to. The export commands open the data
// file when they can and ask the socket when the bot holds it; both paths write with the same
// functions, so their output is the same.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/export"
	"github.com/aksbot/aksbot/internal/store"
)

// maxSocketPathLen is the longest Unix socket path that works everywhere: sun_path holds 108
// bytes on Linux and 104 on macOS and the BSDs, including the terminating NUL.
const maxSocketPathLen = 103

// adminSocketPath is where the bot serves its admin socket for the data file dbPath, and where
// the export commands look for it: dbPath + ".sock", or, when that is too long for a Unix socket,
// a file in a directory of the user's own under os.TempDir() named by a hash of the data file's
// absolute path. Both sides call it with the same AKSBOT_DB.
func adminSocketPath(dbPath string) string {
	p := dbPath + ".sock"
	if len(p) <= maxSocketPathLen {
		return p
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = filepath.Clean(dbPath)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(privateSocketDir(), hex.EncodeToString(sum[:10])+".sock")
}

// privateSocketDir holds the admin sockets whose natural path is too long. It is per user and
// mode 0700: os.TempDir() is shared, and nobody else may create, replace or connect to them.
func privateSocketDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("aksbot-%d", os.Getuid()))
}

// adminShutdownGrace bounds how long requests in flight may finish when the bot stops.
const adminShutdownGrace = 3 * time.Second

// serveAdmin serves the admin socket at path (see adminSocketPath) for the data file st until ctx
// is done, then removes the socket file. The socket's mode is 0600: only the bot's user (and
// root) can connect. A socket file left by a bot that crashed is replaced; any other file at path
// is an error, and so is a socket something still answers on. It returns at once with an error
// when the socket cannot be made: the bot runs without it, only exports while it runs need it.
// Close st only after serveAdmin has returned: requests in flight read it until then.
//
//	GET /audit?since=T&format=jsonl|csv&cluster=RG/NAME  the audit log, as aksbot audit export writes it
//	GET /jobs                                            every job with its events (JSON lines)
//
// since is an RFC 3339 time, a duration back from now ("24h", "7d") or "all" (the default).
func serveAdmin(ctx context.Context, path string, st *store.Store, log *slog.Logger) error {
	if ctx.Err() != nil {
		return nil // the bot is already stopping
	}
	if err := prepareSocket(path); err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err)
	}
	lc := net.ListenConfig{Control: restrictSocket}
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	// restrictSocket already made it 0600 where the OS allows; this covers the others.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("admin socket %s: restrict to the bot's user: %w", path, err)
	}
	srv := &http.Server{
		Handler:           adminHandler(st, log, time.Now),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("admin socket listening", "path", path)

	select {
	case err := <-done:
		return fmt.Errorf("admin socket %s: %w", path, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("admin socket: requests still running at shutdown were cut", "err", err)
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin socket %s: %w", path, err)
	}
	// Shutdown closed the listener, which removed the socket file.
	return nil
}

// prepareSocket makes the place for a new socket at path: the private directory when path is in
// it, and no file at path, removing a socket file nothing answers on (left by a crash).
func prepareSocket(path string) error {
	if dir := filepath.Dir(path); dir == privateSocketDir() {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		fi, err := os.Lstat(dir)
		if err != nil {
			return fmt.Errorf("check directory %s: %w", dir, err)
		}
		if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s must be a directory only its owner can use (mode 0700); remove it and restart the bot", dir)
		}
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check the path: %w", err)
	case fi.Mode()&fs.ModeSocket == 0:
		return errors.New("a file that is not a socket is in the way; move it, or give the data file (AKSBOT_DB) another name")
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return errors.New("another process answers on this socket; stop it, or give this bot its own data file (AKSBOT_DB)")
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the stale socket file: %w", err)
	}
	return nil
}

// adminHandler serves the admin requests from st. now is the clock for relative "since" values.
func adminHandler(st exportSource, log *slog.Logger, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseAuditQuery(r.URL.Query(), now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		respond(w, r, log, q.contentType(), func(buf *bytes.Buffer) error { return writeAudit(r.Context(), buf, st, q) })
	})
	mux.HandleFunc("GET /jobs", func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.Query()) > 0 {
			http.Error(w, "/jobs takes no parameters", http.StatusBadRequest)
			return
		}
		respond(w, r, log, "application/x-ndjson", func(buf *bytes.Buffer) error { return export.WriteJobs(r.Context(), st, buf) })
	})
	return mux
}

// respond writes the whole answer into a buffer first, so that a failure midway is a 500 rather
// than a truncated 200, and sets Content-Length, so that a cut connection shows at the client.
func respond(w http.ResponseWriter, r *http.Request, log *slog.Logger, contentType string, write func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		log.Warn("admin socket: request failed", "path", r.URL.Path, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if _, err := buf.WriteTo(w); err != nil {
		log.Debug("admin socket: client went away", "path", r.URL.Path, "err", err)
		return
	}
	log.Debug("admin socket: answered", "path", r.URL.Path, "bytes", buf.Len())
}

// Audit export formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// auditQuery is what an audit export selects, and in which format it is written.
type auditQuery struct {
	Since   time.Time // zero: the whole log
	Format  string    // formatJSONL or formatCSV
	Cluster string    // "RG/NAME" as given; "" = every cluster
}

func (q auditQuery) contentType() string {
	if q.Format == formatCSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson"
}

// values is the query string that asks the admin socket for q. The time is absolute, so that the
// bot's answer covers the same window the command computed.
func (q auditQuery) values() url.Values {
	v := url.Values{"format": {q.Format}}
	if q.Since.IsZero() {
		v.Set("since", "all")
	} else {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Cluster != "" {
		v.Set("cluster", q.Cluster)
	}
	return v
}

// parseAuditQuery reads an admin request's parameters strictly: unknown or repeated parameters
// and bad values are errors that say what is accepted.
func parseAuditQuery(v url.Values, now time.Time) (auditQuery, error) {
	q := auditQuery{Format: formatJSONL}
	for name, vals := range v {
		if name != "since" && name != "format" && name != "cluster" {
			return q, fmt.Errorf("unknown parameter %q: /audit takes since, format and cluster", name)
		}
		if len(vals) != 1 {
			return q, fmt.Errorf("parameter %q is given %d times; give it once", name, len(vals))
		}
	}
	var err error
	if s := v.Get("since"); s != "" {
		if q.Since, err = parseSince(s, now); err != nil {
			return q, err
		}
	}
	if f := v.Get("format"); f != "" {
		if q.Format, err = parseFormat(f); err != nil {
			return q, err
		}
	}
	if c := v.Get("cluster"); c != "" {
		if _, err := clusterKey(c); err != nil {
			return q, err
		}
		q.Cluster = c
	}
	return q, nil
}

var daysRE = regexp.MustCompile(`^([0-9]{1,5})d$`)

// parseSince reads when an audit export starts: "all", a duration back from now ("24h", "90m",
// "7d") or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "all" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var d time.Duration
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1]) // at most 5 digits: no overflow
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, fmt.Errorf("since %q: use a duration like 24h, 90m or 7d, an RFC 3339 time like 2026-01-02T15:04:05Z, or all", s)
		}
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("since %q: the duration must be above 0 (all exports the whole log)", s)
	}
	return now.Add(-d), nil
}

func parseFormat(s string) (string, error) {
	switch s {
	case formatJSONL, formatCSV:
		return s, nil
	}
	return "", fmt.Errorf("format %q: use jsonl or csv", s)
}

// clusterKey reads "[SUBSCRIPTION_ID/]RG/NAME" into the key the store filters audit records by.
// Without a subscription the key is the old layout "rg/name", which matchCluster compares with
// every subscription's cluster of that name.
//
// EKS clusters are "eks/REGION/NAME", their key as it is (EKS names are case-sensitive).
func clusterKey(s string) (string, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 3 && parts[0] == aks.ProviderEKS {
		if parts[1] == "" || parts[2] == "" {
			return "", fmt.Errorf("cluster %q: write an EKS cluster as eks/REGION/CLUSTER, like eks/eu-west-1/web-prod", s)
		}
		return aks.Target{Provider: aks.ProviderEKS, Region: parts[1], Cluster: parts[2]}.ClusterKey(), nil
	}
	if len(parts) == 2 {
		parts = append([]string{""}, parts...)
	}
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("cluster %q: write it as RESOURCE_GROUP/CLUSTER (or SUBSCRIPTION_ID/RESOURCE_GROUP/CLUSTER), like rg-prod/prod-1, or an EKS cluster as eks/REGION/CLUSTER", s)
	}
	return aks.Target{Subscription: parts[0], ResourceGroup: parts[1], Cluster: parts[2]}.ClusterKey(), nil
}

// matchCluster reports whether a record is of the cluster key names: "sub/rg/name" exactly,
// "rg/name" in any subscription.
func matchCluster(key string, t aks.Target) bool {
	if strings.Count(key, "/") == 2 {
		return t.ClusterKey() == key
	}
	t.Subscription = ""
	return t.ClusterKey() == key
}

// writeAudit writes the records q selects, oldest first. Both the direct export and the admin
// socket use it.
func writeAudit(ctx context.Context, w io.Writer, st aks.AuditStore, q auditQuery) error {
	f := aks.AuditFilter{Since: q.Since}
	key := ""
	if q.Cluster != "" {
		var err error
		if key, err = clusterKey(q.Cluster); err != nil {
			return err
		}
	}
	all, err := st.Audit(ctx, f)
	if err != nil {
		return err
	}
	// Filtered here rather than by the store, so that RG/NAME finds the cluster's records in
	// every subscription (and those stored before subscriptions were named).
	recs := all
	if key != "" {
		recs = nil
		for _, r := range all {
			if matchCluster(key, r.Target) {
				recs = append(recs, r)
			}
		}
	}
	if q.Format == formatCSV {
		return export.WriteAuditCSV(w, recs)
	}
	return export.WriteAuditJSONL(w, recs)
}

// errSocketSilent is an admin socket that could not be connected to.
type errSocketSilent struct{ err error }

func (e *errSocketSilent) Error() string { return e.err.Error() }
func (e *errSocketSilent) Unwrap() error { return e.err }

// adminGet asks the admin socket at sockPath for path (with its query) and copies the answer to
// w. An error of type *errSocketSilent means nothing answered on the socket.
func adminGet(ctx context.Context, sockPath, path string, w io.Writer) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			conn, err := d.DialContext(ctx, "unix", sockPath)
			if err != nil {
				return nil, &errSocketSilent{err}
			}
			return conn, nil
		},
		DisableKeepAlives: true,
	}}
	// The host is a placeholder: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://aksbot"+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var silent *errSocketSilent
		if errors.As(err, &silent) {
			return silent
		}
		return fmt.Errorf("ask the bot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the bot answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read the bot's answer: %w", err)
	}
	return nil
}
