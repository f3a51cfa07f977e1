package etcdstore

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

func TestConnectReachesEtcd(t *testing.T) {
	c := etcdtest.Start(t)
	cli, err := Connect(context.Background(), ClientOptions{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = Connect(context.Background(), ClientOptions{Endpoints: []string{"http://" + addr}, DialTimeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("the error does not name the endpoint: %v", err)
	}
}

// enableAuth turns etcd's auth on with a root user whose password is password.
func enableAuth(t *testing.T, endpoints []string, password string) {
	t.Helper()
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.UserAdd(ctx, "root", password); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConnectAuth(t *testing.T) {
	c := etcdtest.Start(t)
	const password = "s3cret-Pa55word"
	enableAuth(t, c.Endpoints(), password)

	_, err := Connect(context.Background(), ClientOptions{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second,
		Username: "root", Password: "wrong-" + password})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password: err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the error contains the password: %v", err)
	}

	cli, err := Connect(context.Background(), ClientOptions{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second,
		Username: "root", Password: password})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	defer cli.Close()
	if _, err := cli.Put(context.Background(), "k", "v"); err != nil {
		t.Fatalf("write as root: %v", err)
	}
}

func TestConnectTLSProblems(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := ClientOptions{Endpoints: []string{"https://127.0.0.1:1"}}
	o.TLS.CA = notPEM
	if _, err := Connect(context.Background(), o); !errors.Is(err, ErrTLS) {
		t.Errorf("CA file without PEM: err = %v, want ErrTLS", err)
	}
	o.TLS.CA = filepath.Join(dir, "missing.pem")
	if _, err := Connect(context.Background(), o); !errors.Is(err, ErrTLS) {
		t.Errorf("missing CA file: err = %v, want ErrTLS", err)
	}

	// https against a plain-http etcd: the handshake fails.
	c := etcdtest.Start(t)
	ep := strings.Replace(c.Endpoints()[0], "http://", "https://", 1)
	_, err := Connect(context.Background(), ClientOptions{Endpoints: []string{ep}, DialTimeout: time.Second})
	if !errors.Is(err, ErrTLS) {
		t.Errorf("https to a plain server: err = %v, want ErrTLS", err)
	}
}

// A member that is down, first in the list, does not keep a replica from starting while the
// others answer (asked in turn, the first took the whole dial timeout and Connect gave up).
func TestConnectWithTheFirstMemberDown(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	c.Members()[0].Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli, err := Connect(ctx, ClientOptions{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Connect with %s down and two members up: %v", c.Endpoints()[0], err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("write through the connection: %v", err)
	}
}
