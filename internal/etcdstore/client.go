package etcdstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ClientOptions say how to reach etcd.
type ClientOptions struct {
	Endpoints   []string      // client URLs, like https://etcd-0:2379
	DialTimeout time.Duration // bounds the dial, the sign-in and the reachability check; 0 = 5s
	// TLS names PEM files. CA alone: the server's certificate is verified against it. Cert and Key
	// (together): the client presents this certificate. Nothing set with https endpoints: the
	// system's roots verify the server.
	TLS struct{ CA, Cert, Key string }
	// Username and Password sign in when both are set (etcd's auth). The password is never put
	// into an error or a log line.
	Username, Password string
	Logger             *slog.Logger // nil = discard
}

// Errors of Connect, to match with errors.Is; the wrapped error says more.
var (
	ErrUnreachable = errors.New("etcd is unreachable")
	ErrAuth        = errors.New("etcd refused the credentials")
	ErrTLS         = errors.New("TLS with etcd failed")
	ErrClientSetup = errors.New("the etcd client options are invalid")
)

// DefaultDialTimeout is used when ClientOptions.DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// Connect dials etcd and checks within DialTimeout that a member answers (Status) and, with a
// username, that the sign-in succeeded. Its errors wrap ErrUnreachable, ErrAuth, ErrTLS or
// ErrClientSetup and never contain the password.
func Connect(ctx context.Context, o ClientOptions) (*clientv3.Client, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(o.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints", ErrClientSetup)
	}
	if (o.Username == "") != (o.Password == "") {
		return nil, fmt.Errorf("%w: set both the username and the password, or neither", ErrClientSetup)
	}
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	where := strings.Join(o.Endpoints, ",")

	// The server's gRPC retries and zap messages are not ours to print; failures come back as errors.
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: timeout,
		TLS:         tlsCfg,
		Username:    o.Username,
		Password:    o.Password,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		// New signs in when a username is set; its error is the first answer from the server.
		return nil, classify(ctx, err, where, o, tlsCfg)
	}
	// Ask every member at once: the client waits for a member to come up, so asking them in
	// turn would spend the whole timeout on the first one when it is down (a member restarting
	// is exactly when replicas restart too), and one answer is enough.
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	type answer struct {
		ep      string
		version string
		err     error
	}
	answers := make(chan answer, len(o.Endpoints))
	for _, ep := range o.Endpoints {
		go func() {
			st, err := cli.Status(cctx, ep)
			a := answer{ep: ep, err: err}
			if err == nil {
				a.version = st.Version
			}
			answers <- a
		}()
	}
	var lastErr error
	for range o.Endpoints {
		a := <-answers
		if a.err == nil {
			log.Debug("etcd reached", "endpoint", a.ep, "version", a.version, "took", time.Since(start))
			return cli, nil
		}
		lastErr = a.err
	}
	cli.Close()
	return nil, classify(ctx, lastErr, where, o, tlsCfg)
}

func tlsConfig(o ClientOptions) (*tls.Config, error) {
	https := false
	for _, ep := range o.Endpoints {
		if u, err := url.Parse(ep); err == nil && u.Scheme == "https" {
			https = true
		}
	}
	if o.TLS.CA == "" && o.TLS.Cert == "" && o.TLS.Key == "" && !https {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLS.CA != "" {
		pem, err := os.ReadFile(o.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("%w: read the CA file: %w", ErrTLS, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: the CA file %s holds no PEM certificate", ErrTLS, o.TLS.CA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.TLS.Cert != "" && o.TLS.Key != "":
		cert, err := tls.LoadX509KeyPair(o.TLS.Cert, o.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: load the client certificate %s and key %s: %w", ErrTLS, o.TLS.Cert, o.TLS.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.TLS.Cert != "" || o.TLS.Key != "":
		return nil, fmt.Errorf("%w: set both the client certificate and its key, or neither", ErrClientSetup)
	}
	return cfg, nil
}

// classify maps a dial, sign-in or Status error to one of Connect's errors. gRPC reports a
// wait for a connection that never came as DeadlineExceeded, without the reason, so then the
// first endpoint is dialled directly (TCP, then the TLS handshake) to find out.
func classify(ctx context.Context, err error, where string, o ClientOptions, tlsCfg *tls.Config) error {
	msg := redact(err.Error(), o.Password)
	cause := errors.New(msg)
	lower := strings.ToLower(msg)
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrGRPCAuthFailed),
		errors.Is(err, rpctypes.ErrInvalidAuthToken), errors.Is(err, rpctypes.ErrGRPCInvalidAuthToken),
		errors.Is(err, rpctypes.ErrUserEmpty), errors.Is(err, rpctypes.ErrGRPCUserEmpty),
		strings.Contains(lower, "authentication failed"), strings.Contains(lower, "user name is empty"),
		strings.Contains(lower, "invalid auth token"):
		return fmt.Errorf("%w (user %q at %s): %w", ErrAuth, o.Username, where, cause)
	case strings.Contains(lower, "handshake"), strings.Contains(lower, "x509"), strings.Contains(lower, "tls:"):
		return fmt.Errorf("%w at %s: %w", ErrTLS, where, cause)
	}
	if perr := probe(ctx, o.Endpoints[0], tlsCfg); perr != nil {
		return perr
	}
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, where, cause)
}

// probe dials an endpoint over TCP and, with TLS, shakes hands, to say which of the two fails.
// It returns nil when both work (the problem is elsewhere).
func probe(ctx context.Context, endpoint string, tlsCfg *tls.Config) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: %q is not a URL like https://etcd-0:2379", ErrClientSetup, endpoint)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, endpoint, err)
	}
	defer conn.Close()
	if tlsCfg == nil {
		return nil
	}
	cfg := tlsCfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w at %s: handshake: %w", ErrTLS, endpoint, err)
	}
	return nil
}

// redact removes the password from a message, should any layer below ever quote it.
func redact(msg, password string) string {
	if password == "" {
		return msg
	}
	return strings.ReplaceAll(msg, password, "[password]")
}
