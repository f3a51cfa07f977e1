package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

const etcdPassword = "Doctor-etcd-pw-4c1d"

func etcdClient(t *testing.T, endpoints []string, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 20 * time.Second, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// runEtcdDoctor runs doctor in etcd mode and checks that the password appears nowhere.
func runEtcdDoctor(t *testing.T, env map[string]string) ([]string, int) {
	t.Helper()
	lines, code := runDoctor(t, env, overrides{})
	if out := strings.Join(lines, "\n"); strings.Contains(out, etcdPassword) || strings.Contains(out, "wrong-pw") {
		t.Errorf("doctor's output contains the etcd password:\n%s", out)
	}
	for _, l := range lines {
		if strings.Contains(l, "data file") {
			t.Errorf("the data file is checked in etcd mode: %q", l)
		}
	}
	return lines, code
}

func TestDoctorEtcd(t *testing.T) {
	c := etcdtest.Start(t)
	cli := etcdClient(t, c.Endpoints(), "", "")
	ctx := context.Background()
	for k, v := range map[string]string{"/doc/schema": "1", "/doc/v1/jobs/00000000000000000001": "{}",
		"/doc/v1/jobs/00000000000000000002": "{}", "/doc/v1/events/1/1": "{}", "/other/x": "y"} {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	env := doctorEnv(t, "store: {etcd: {prefix: /doc/, dialTimeout: 5s}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = strings.Join(c.Endpoints(), ",")
	lines, code := runEtcdDoctor(t, env)
	if code != exitOK {
		t.Errorf("exit %d:\n%s", code, strings.Join(lines, "\n"))
	}
	wantLine(t, lines, "etcd connection", "ok", "reached "+c.Endpoints()[0], "etcd 3.")
	wantLine(t, lines, "etcd auth", "ok", "no username")
	wantLine(t, lines, "etcd TLS", "ok", "plain http")
	wantLine(t, lines, "etcd prefix /doc/", "ok", "4 keys", "schema version 1", "2 jobs")
	// How fast it is depends on the machine: the line must give the figure, and warns only above
	// 100 ms (a speed target is a benchmark's, not this test's).
	if l := line(t, lines, "etcd latency"); !(strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "warn ") && strings.Contains(l, "above 100ms")) || !strings.Contains(l, " ms") {
		t.Errorf("etcd latency line: %q", l)
	}

	// An empty prefix is fine: the bot sets it up.
	env = doctorEnv(t, "store: {etcd: {prefix: /fresh/}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = c.Endpoints()[0]
	lines, _ = runEtcdDoctor(t, env)
	wantLine(t, lines, "etcd prefix /fresh/", "ok", "0 keys", "empty")

	// Keys without a schema key are not aksbot's.
	env = doctorEnv(t, "store: {etcd: {prefix: /other/}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = c.Endpoints()[0]
	lines, _ = runEtcdDoctor(t, env)
	wantLine(t, lines, "etcd prefix /other/", "warn", "no schema key", "fix:")
}

func TestDoctorEtcdAuth(t *testing.T) {
	c := etcdtest.Start(t)
	ctx := context.Background()
	cli := etcdClient(t, c.Endpoints(), "", "")
	if _, err := cli.UserAdd(ctx, "root", etcdPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}

	env := doctorEnv(t, "store: {etcd: {username: root}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = c.Endpoints()[0]
	env["AKSBOT_ETCD_PASSWORD"] = "wrong-pw"
	lines, code := runEtcdDoctor(t, env)
	if code != exitFailure {
		t.Errorf("exit %d with a wrong password", code)
	}
	wantLine(t, lines, "etcd auth", "FAIL", `user "root"`, "fix:", "AKSBOT_ETCD_PASSWORD")

	env["AKSBOT_ETCD_PASSWORD"] = etcdPassword
	lines, code = runEtcdDoctor(t, env)
	if code != exitOK {
		t.Errorf("exit %d with the right password:\n%s", code, strings.Join(lines, "\n"))
	}
	wantLine(t, lines, "etcd auth", "ok", `signed in as "root"`)
	wantLine(t, lines, "etcd TLS", "warn", "plain http", "unencrypted")
	wantLine(t, lines, "etcd prefix /aksbot/", "ok", "empty")

	// A user whose role covers another prefix only.
	root := etcdClient(t, c.Endpoints(), "root", etcdPassword)
	if _, err := root.RoleAdd(ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RoleGrantPermission(ctx, "elsewhere", "/else/", clientv3.GetPrefixRangeEnd("/else/"), clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserAdd(ctx, "bot", etcdPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserGrantRole(ctx, "bot", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	env = doctorEnv(t, "store: {etcd: {username: bot}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = c.Endpoints()[0]
	env["AKSBOT_ETCD_PASSWORD"] = etcdPassword
	lines, _ = runEtcdDoctor(t, env)
	wantLine(t, lines, "etcd auth", "ok", `signed in as "bot"`)
	wantLine(t, lines, "etcd prefix /aksbot/", "FAIL", "cannot be read", "permission denied", `grant "bot" a role`)

	// Without a username etcd refuses everything.
	env = doctorEnv(t, "")
	env["AKSBOT_ETCD_ENDPOINTS"] = c.Endpoints()[0]
	lines, _ = runEtcdDoctor(t, env)
	wantLine(t, lines, "etcd auth", "FAIL", "user name is empty", "fix: etcd has auth enabled: set store.etcd.username")
}

func TestDoctorEtcdUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := doctorEnv(t, "store: {etcd: {dialTimeout: 500ms}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = "http://" + addr
	lines, code := runEtcdDoctor(t, env)
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	wantLine(t, lines, "etcd connection", "FAIL", addr, "500ms", "fix:", "AKSBOT_ETCD_ENDPOINTS")
}

func TestDoctorEtcdTLSAgainstPlainServer(t *testing.T) {
	c := etcdtest.Start(t)
	env := doctorEnv(t, "store: {etcd: {dialTimeout: 1s}}")
	env["AKSBOT_ETCD_ENDPOINTS"] = strings.Replace(c.Endpoints()[0], "http://", "https://", 1)
	lines, code := runEtcdDoctor(t, env)
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
	wantLine(t, lines, "etcd TLS", "FAIL", "handshake", "fix:")
}
