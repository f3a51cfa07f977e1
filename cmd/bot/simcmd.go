package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/aadtest"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/config"
	ekssim "github.com/aksbot/aksbot/internal/eks/sim"
)

// `aksbot sim` runs the simulated Azure cloud as a process of its own, over HTTPS, so that
// several aksbot processes (replicas) can share one simulated cloud. A replica reaches it the
// way it reaches any non-public Azure: AZURE_SUBSCRIPTION_ID, AKSBOT_ARM_ENDPOINT, and trust in
// the endpoint's certificate through SSL_CERT_FILE; with --with-login the same listener also
// answers as a Microsoft Entra ID authority (internal/azure/aadtest) for AZURE_AUTHORITY_HOST,
// so that azidentity gets a token with a client secret as in production.

const simHelp = `Runs the simulated Azure cloud (the one the bot uses in process without AZURE_SUBSCRIPTION_ID)
as a server of its own over HTTPS, so that several aksbot replicas can share one simulated cloud.
Its state is in its own data file (--db), so a restarted simulator continues where it was.

It writes a self-signed certificate and key next to the data file (or uses --cert and --key),
prints where the certificate is, and prints the environment a replica needs to use it (as
"export NAME=value" lines on stdout). With --with-login the same address also serves a fake
Microsoft Entra ID token endpoint, so a replica authenticates with a client secret as in Azure.
It runs until SIGINT or SIGTERM.`

// Fake Entra ID identity printed for replicas with --with-login: the fake authority accepts any
// client ID and secret, and the simulated cloud any bearer token.
const (
	simTenantID     = "00000000-0000-0000-0000-00000000beef"
	simClientID     = "00000000-0000-0000-0000-00000000c1d0"
	simClientSecret = "aksbot-sim-client-secret" // not a secret: the fake authority takes any
)

// simFlags are `aksbot sim`'s options.
type simFlags struct {
	addr, db, cert, key, requestLog string
	speed                           float64
	opDuration, retryAfter          time.Duration
	withLogin, withEKS              bool
	seeds                           seedList
}

// seedList is a repeatable --seed RG/NAME flag.
type seedList []string

func (s *seedList) String() string { return strings.Join(*s, ",") }

func (s *seedList) Set(v string) error {
	rg, name, ok := strings.Cut(v, "/")
	if !ok || rg == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("%q is not RESOURCE_GROUP/CLUSTER", v)
	}
	*s = append(*s, v)
	return nil
}

func simSetup(fs *flag.FlagSet) runFunc {
	f := &simFlags{}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8443", "address to listen on (`host:port`)")
	fs.StringVar(&f.db, "db", "./aksbot-sim.db", "the simulated cloud's data `file` (its own, not a replica's)")
	fs.StringVar(&f.cert, "cert", "", "TLS certificate `file` (PEM); default: a self-signed one written next to --db")
	fs.StringVar(&f.key, "key", "", "TLS key `file` (PEM) of --cert")
	fs.Float64Var(&f.speed, "speed", config.DefaultSimSpeed, "divide the operations' durations by this, as simulator.speed does for the console")
	fs.DurationVar(&f.opDuration, "op-duration", 0, "make every operation take this long (overrides --speed)")
	fs.DurationVar(&f.retryAfter, "retry-after", time.Second, "Retry-After of the status answers of running operations")
	fs.BoolVar(&f.withLogin, "with-login", false, "also serve a fake Microsoft Entra ID token endpoint on the same address")
	fs.BoolVar(&f.withEKS, "with-eks", false, "also serve a simulated EKS (and STS) on the same address, for /eks (its state is in memory only)")
	fs.Var(&f.seeds, "seed", "make an existing cluster `RG/NAME` (a system pool of 3 nodes and a user pool np1 of 1) if it is missing; repeatable")
	fs.StringVar(&f.requestLog, "request-log", "", "append every ARM request as a JSON line to `file` (method, path, replica, times, status)")
	return func(ctx context.Context, inv *invocation, _ []string) int { return runSim(ctx, inv, f) }
}

func runSim(ctx context.Context, inv *invocation, f *simFlags) int {
	if !(f.speed > 0) || f.speed > config.MaxSimSpeed {
		return inv.usageError("--speed must be above 0 and at most %g", config.MaxSimSpeed)
	}
	if (f.cert == "") != (f.key == "") {
		return inv.usageError("--cert and --key go together")
	}
	log, err := newLogger(inv.stderr, config.ModeSlack, inv.getenv(envLogLevel), "") // not a replica: no replica ID
	if err != nil {
		fmt.Fprintf(inv.stderr, "aksbot sim: %v\n", err)
		return exitUsage
	}
	if err := serveSim(ctx, f, log, inv.stdout); err != nil {
		fmt.Fprintf(inv.stderr, "aksbot sim: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// simDurations are the durations of the simulated operations: the console's (the defaults
// divided by speed, at least a second each), or opDuration for all of them.
func simDurations(speed float64, opDuration time.Duration) sim.Durations {
	if opDuration > 0 {
		d := opDuration
		return sim.Durations{Create: d, Delete: d, Scale: d, Update: d, Upgrade: d, StartStop: d, NodeImage: d}
	}
	return scaled(sim.DefaultDurations, speed)
}

func serveSim(ctx context.Context, f *simFlags, log *slog.Logger, stdout io.Writer) error {
	dbPath, err := filepath.Abs(f.db)
	if err != nil {
		return err
	}
	db, err := bbolt.Open(dbPath, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open %s: %w (is another simulator using it?)", dbPath, err)
	}
	defer db.Close()
	cloud, err := sim.New(sim.Options{DB: db, Durations: simDurations(f.speed, f.opDuration), RetryAfter: f.retryAfter, Logger: log})
	if err != nil {
		return fmt.Errorf("start simulated cloud: %w", err)
	}
	for _, s := range f.seeds {
		rg, name, _ := strings.Cut(s, "/")
		if err := cloud.Seed(ctx, rg, name, "westeurope",
			sim.SeedPool{Name: "system", Mode: "System", VMSize: "Standard_DS2_v2", Count: 3},
			sim.SeedPool{Name: "np1", Mode: "User", VMSize: "Standard_DS2_v2", Count: 1}); err != nil {
			return fmt.Errorf("seed %s: %w", s, err)
		}
	}

	certFile, keyFile := f.cert, f.key
	if certFile == "" {
		base := strings.TrimSuffix(dbPath, filepath.Ext(dbPath))
		certFile, keyFile = base+"-ca.pem", base+"-key.pem"
		if err := ensureSelfSigned(certFile, keyFile, f.addr); err != nil {
			return err
		}
	}
	if certFile, err = filepath.Abs(certFile); err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("load the TLS certificate: %w", err)
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "https://" + ln.Addr().String()

	var handler http.Handler = cloud.Handler()
	if f.requestLog != "" {
		lf, err := os.OpenFile(f.requestLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			ln.Close()
			return fmt.Errorf("open the request log: %w", err)
		}
		defer lf.Close()
		handler = logARMRequests(handler, lf)
	}
	var authority *aadtest.Authority
	if f.withLogin {
		authority = &aadtest.Authority{URL: base}
		arm := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if aadtest.Handles(r.URL.Path) {
				authority.ServeHTTP(w, r)
				return
			}
			arm.ServeHTTP(w, r)
		})
	}
	if f.withEKS {
		handler = withSimulatedEKS(handler, f, log)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	writeSimEnv(stdout, base, dbPath, certFile, f.withLogin, f.withEKS)
	log.Info("simulated Azure serving", "url", base, "db", dbPath, "ca", certFile, "login", f.withLogin)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("simulated Azure did not stop cleanly", "err", err)
	}
	if authority != nil {
		log.Info("simulated Azure stopped", "tokens", authority.Tokens())
	}
	return nil
}

// Keys printed for replicas with --with-eks: the simulated EKS reads only the region from a
// request's signature, so any key works; these are not credentials.
const (
	simAWSAccessKeyID = "AKIASIMULATEDEXAMPLE"
	simAWSSecretKey   = "aksbot-sim-secret-not-a-credential"
)

// withSimulatedEKS serves the simulated EKS beside the simulated Azure: EKS's REST paths start
// with /clusters, and STS's query protocol posts to /; ARM and the fake login use neither.
func withSimulatedEKS(azure http.Handler, f *simFlags, log *slog.Logger) http.Handler {
	durations := consoleEKSDurations(f.speed)
	if f.opDuration > 0 {
		d := f.opDuration
		durations = ekssim.Durations{Config: d, Version: d, Create: d, Delete: d}
	}
	eks := ekssim.New(ekssim.Options{Durations: durations, Speed: 1, Logger: log}).Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/clusters") || r.URL.Path == "/" {
			eks.ServeHTTP(w, r)
			return
		}
		azure.ServeHTTP(w, r)
	})
}

// writeSimEnv prints where the simulator serves and the environment of a replica that uses it.
func writeSimEnv(w io.Writer, base, dbPath, certFile string, withLogin, withEKS bool) {
	fmt.Fprintf(w, "# aksbot sim: simulated Azure on %s (state in %s)\n", base, dbPath)
	fmt.Fprintf(w, "# CA certificate: %s\n", certFile)
	fmt.Fprintf(w, "# Environment of a replica that uses it:\n")
	var env [][2]string
	if withEKS {
		// The AWS SDK trusts the certificate through SSL_CERT_FILE too; the sim takes any key.
		env = append(env, [][2]string{
			{config.EnvEKS, "1"},
			{"AWS_REGION", "eu-west-1"}, // where the simulated web-prod is
			{"AWS_ENDPOINT_URL_EKS", base},
			{"AWS_ENDPOINT_URL_STS", base},
			{"AWS_ACCESS_KEY_ID", simAWSAccessKeyID},
			{"AWS_SECRET_ACCESS_KEY", simAWSSecretKey},
		}...)
	}
	env = append(env, [][2]string{
		{config.EnvSubscriptionID, sim.SubscriptionID},
		{config.EnvARMEndpoint, base},
		{"SSL_CERT_FILE", certFile},
	}...)
	if withLogin {
		env = append(env, [][2]string{
			{config.EnvAuthorityHost, base},
			{"AZURE_TENANT_ID", simTenantID},
			{"AZURE_CLIENT_ID", simClientID},
			{"AZURE_CLIENT_SECRET", simClientSecret},
		}...)
	} else {
		fmt.Fprintf(w, "# (no --with-login: the replica needs a credential azidentity finds; the simulator accepts any bearer token)\n")
	}
	for _, kv := range env {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], kv[1])
	}
}

// ensureSelfSigned writes a self-signed certificate (its own CA) and its key, unless both files
// exist already: a restarted simulator keeps its certificate, so replicas keep trusting it. The
// certificate names localhost, the loopback addresses and the listen host.
func ensureSelfSigned(certFile, keyFile, addr string) error {
	_, errC := os.Stat(certFile)
	_, errK := os.Stat(keyFile)
	if errC == nil && errK == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("make a TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"aksbot"}, CommonName: "aksbot simulated Azure"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsLoopback() && !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("make a TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write the TLS key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write the TLS certificate: %w", err)
	}
	return nil
}

// loggedRequest is one line of --request-log.
type loggedRequest struct {
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Replica string    `json:"replica,omitempty"` // the azure.ReplicaHeader the request carried
	Agent   string    `json:"userAgent,omitempty"`
	At      time.Time `json:"at"`
	Done    time.Time `json:"done"`
	Status  int       `json:"status"`
}

// logARMRequests appends every request to w as a JSON line once it is answered.
func logARMRequests(next http.Handler, w io.Writer) http.Handler {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &simStatusWriter{ResponseWriter: rw, status: http.StatusOK}
		at := time.Now()
		next.ServeHTTP(rec, r)
		line := loggedRequest{Method: r.Method, Path: r.URL.Path, Replica: r.Header.Get(azure.ReplicaHeader),
			Agent: r.Header.Get("User-Agent"), At: at, Done: time.Now(), Status: rec.status}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(line)
	})
}

type simStatusWriter struct {
	http.ResponseWriter
	status int
}

func (s *simStatusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
