package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/store"
)

// runningBot holds the data file at path open, as the bot does, and serves its admin socket until
// the test ends. It returns the socket's path once the socket answers.
func runningBot(t *testing.T, path string) string {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open data file: %v", err)
	}
	sock := adminSocketPath(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAdmin(ctx, sock, st, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serveAdmin: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serveAdmin did not return after its context ended")
		}
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket file is still there after serveAdmin returned (lstat: %v)", err)
		}
		st.Close()
	})
	waitForSocket(t, sock, done)
	return sock
}

// waitForSocket waits until something answers on sock, or fails when serve (done) ends first.
func waitForSocket(t *testing.T, sock string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("serveAdmin returned before answering: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing answers on %s", sock)
		}
	}
}

// socketClient makes HTTP requests to the admin socket at sock.
func socketClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func TestAdminSocketRefusesBadRequests(t *testing.T) {
	path, _ := newDataFile(t)
	client := socketClient(runningBot(t, path))
	tests := []struct {
		method, target string
		status         int
		want           string
	}{
		{"GET", "/audit?since=yesterday", 400, `since "yesterday": use a duration like 24h`},
		{"GET", "/audit?since=0s", 400, "must be above 0"},
		{"GET", "/audit?format=xml", 400, `format "xml": use jsonl or csv`},
		{"GET", "/audit?cluster=prod-1", 400, "write it as RESOURCE_GROUP/CLUSTER"},
		{"GET", "/audit?limit=3", 400, `unknown parameter "limit"`},
		{"GET", "/audit?format=csv&format=jsonl", 400, `parameter "format" is given 2 times`},
		{"GET", "/jobs?all=1", 400, "/jobs takes no parameters"},
		{"POST", "/audit", 405, ""},
		{"DELETE", "/jobs", 405, ""},
		{"GET", "/", 404, ""},
		{"GET", "/audit?since=all&format=csv", 200, "seq,at,action,"},
		{"GET", "/audit?since=2h", 200, `"action":"requested"`},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, "http://aksbot"+tt.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s %s: %d %q; want %d with %q", tt.method, tt.target, resp.StatusCode, body, tt.status, tt.want)
		}
	}
}

// A socket file left by a bot that crashed is replaced; any other file is left alone.
func TestAdminSocketReplacesStaleSocketOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "aksbot.db")
	seedData(t, path)
	sock := adminSocketPath(path)

	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // what a crash leaves: the file, and nobody listening
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("no stale socket file: %v", err)
	}
	runningBot(t, path) // fails the test unless it answers

	other := filepath.Join(dir, "other.db")
	seedData(t, other)
	otherSock := adminSocketPath(other)
	if err := os.WriteFile(otherSock, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(other, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = serveAdmin(context.Background(), otherSock, st, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("serveAdmin over a regular file: %v", err)
	}
	if data, _ := os.ReadFile(otherSock); string(data) != "keep me" {
		t.Errorf("the file in the way was changed: %q", data)
	}
}

// A second server on a socket that answers is refused rather than stealing it.
func TestAdminSocketInUseIsRefused(t *testing.T) {
	path, _ := newDataFile(t)
	sock := runningBot(t, path)
	err := serveAdmin(context.Background(), sock, nil, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "another process answers on this socket") {
		t.Errorf("second serveAdmin: %v", err)
	}
}

func TestAdminSocketPath(t *testing.T) {
	base := t.TempDir()
	t.Setenv("TMPDIR", base) // os.TempDir() for the fallback

	short := filepath.Join(base, "aksbot.db")
	if got := adminSocketPath(short); got != short+".sock" {
		t.Errorf("adminSocketPath(%s) = %s", short, got)
	}
	if got := adminSocketPath("aksbot.db"); got != "aksbot.db.sock" {
		t.Errorf("adminSocketPath(aksbot.db) = %s", got)
	}

	long := filepath.Join(base, strings.Repeat("d", 120), "aksbot.db")
	got := adminSocketPath(long)
	wantDir := filepath.Join(base, fmt.Sprintf("aksbot-%d", os.Getuid()))
	if filepath.Dir(got) != wantDir || !strings.HasSuffix(got, ".sock") || len(got) > maxSocketPathLen {
		t.Errorf("adminSocketPath(long) = %s; want a short .sock file in %s", got, wantDir)
	}
	if again := adminSocketPath(long); again != got {
		t.Errorf("adminSocketPath is not stable: %s, then %s", got, again)
	}
	otherLong := filepath.Join(base, strings.Repeat("e", 120), "aksbot.db")
	if adminSocketPath(otherLong) == got {
		t.Errorf("two data files share the socket %s", got)
	}
}

// A data file whose socket path would be too long for a Unix socket gets one in a private
// directory under the temp dir; the export finds it there.
func TestExportThroughFallbackSocket(t *testing.T) {
	base := t.TempDir()
	t.Setenv("TMPDIR", base)
	dir := filepath.Join(base, strings.Repeat("d", 100))
	path := filepath.Join(dir, "aksbot.db")
	seedData(t, path)
	env := dataEnv(path)
	direct := exportOK(t, env, "audit", "export", "--since", "all", "--format", "csv")

	sock := runningBot(t, path)
	if !strings.HasPrefix(sock, base) || strings.HasPrefix(sock, dir) {
		t.Fatalf("socket %s is not the fallback", sock)
	}
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("the socket directory has mode %v, want 0700", fi.Mode().Perm())
	}
	if got := exportOK(t, env, "audit", "export", "--since", "all", "--format", "csv"); got != direct {
		t.Errorf("through the fallback socket:\n%s\nwant:\n%s", got, direct)
	}
}

// A socket directory others can use is refused: they could replace the socket.
func TestAdminSocketRefusesOpenFallbackDirectory(t *testing.T) {
	base := t.TempDir()
	t.Setenv("TMPDIR", base)
	if err := os.Mkdir(privateSocketDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(privateSocketDir(), 0o777); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(privateSocketDir(), "x.sock")
	err := serveAdmin(context.Background(), sock, nil, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "must be a directory only its owner can use") {
		t.Errorf("serveAdmin: %v", err)
	}
}
