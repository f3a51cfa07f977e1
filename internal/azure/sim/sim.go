// Package sim is a simulated Azure cloud: an ARM server for Microsoft.ContainerService
// (managed clusters and their agent pools) good enough that the real armcontainerservice
// client, with its long-running-operation pollers and resume tokens, drives it as it drives
// Azure. aksbot uses it as the default cloud when it has no Azure credentials, and tests put it
// behind httptest.NewTLSServer.
//
// State lives in bbolt buckets named "sim.*", so a restarted process continues where it was.
// Operations advance with the clock, lazily on each request: nothing runs in the background.
//
// For fault-injection tests it can misbehave on purpose: SetFaults throttles, fails and loses
// responses at random (reproducibly per seed), StartExternal keeps a cluster busy as a change
// made outside the bot would, and POST .../abort cancels the running operation as AKS does.
package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	bolt "go.etcd.io/bbolt"
)

// SubscriptionID is the default subscription of the simulated cloud. Any subscription works:
// each has its own clusters, quotas and VM sizes.
const SubscriptionID = "00000000-0000-0000-0000-0000000a4b5c"

// ProdSubscriptionID is a second subscription, so that the console can show several.
const ProdSubscriptionID = "00000000-0000-0000-0000-0000000b4b5c"

// Subscriptions are the names the console gives the simulated subscriptions: dev (the
// default, SubscriptionID) and prod.
var Subscriptions = map[string]string{"dev": SubscriptionID, "prod": ProdSubscriptionID}

// DefaultSubscription is the name of the console's default subscription.
const DefaultSubscription = "dev"

// Options configures a simulated cloud.
type Options struct {
	DB        *bolt.DB         // state lives in this file's buckets (prefix "sim."), so restarts keep it
	Durations Durations        // zero fields = defaults
	Now       func() time.Time // nil = time.Now; tests pass a controllable clock
	// RetryAfter is the Retry-After the status endpoints (and injected 429/503 answers) send.
	// Zero means the default, 2s; a negative value means none is sent.
	RetryAfter time.Duration
	Logger     *slog.Logger
}

// Durations are how long each kind of operation takes, shortened from Azure's minutes.
type Durations struct{ Create, Delete, Scale, Update, Upgrade, StartStop, NodeImage time.Duration }

// DefaultDurations are used for the zero fields of Options.Durations.
var DefaultDurations = Durations{
	Create:    40 * time.Second,
	Delete:    30 * time.Second,
	Scale:     15 * time.Second,
	Update:    10 * time.Second,
	Upgrade:   45 * time.Second,
	StartStop: 20 * time.Second,
	NodeImage: 30 * time.Second,
}

const defaultRetryAfter = 2 * time.Second

// Request is one request the simulated cloud received.
type Request struct {
	Method string
	Path   string
	At     time.Time
	// Status is the HTTP status of the answer sent (0 until it is written).
	Status int
	// Served is the status the simulated cloud served the request with. It differs from Status
	// only when Lost.
	Served int
	// Lost: the request was applied, but its answer was replaced by a server error
	// (Faults.LostResponse), so the caller could not tell.
	Lost bool
	// Done is when the answer was decided (zero until then): the request was in flight from At
	// to Done.
	Done time.Time
	// Header holds the request's headers, without Authorization, so that a test can tell which
	// client sent it (User-Agent, or a header of its own such as aksbot's x-aksbot-replica).
	Header http.Header
}

// Accepted reports whether the simulated cloud acted on the request: it served it with 2xx,
// whether the answer reached the caller or was lost. (A DELETE served 204 found nothing to
// delete.)
func (r Request) Accepted() bool { return r.Served >= 200 && r.Served < 300 }

// Cloud is a simulated Azure cloud. Its methods are safe for concurrent use.
type Cloud struct {
	db         *bolt.DB
	dur        Durations
	now        func() time.Time
	retryAfter time.Duration
	log        *slog.Logger

	mu        sync.Mutex
	requests  []Request
	failures  []failure
	injection []injection

	faults      Faults
	faultRand   *rand.Rand
	faultCounts FaultCounts
}

type failure struct {
	match         string
	code, message string
}

type injection struct {
	match  string
	status int
	code   string
	left   int
}

// New makes a simulated cloud on opts.DB, creating its buckets if needed.
func New(opts Options) (*Cloud, error) {
	if opts.DB == nil {
		return nil, errors.New("sim: Options.DB is required")
	}
	c := &Cloud{db: opts.DB, dur: opts.Durations, now: opts.Now, retryAfter: opts.RetryAfter, log: opts.Logger}
	d := &c.dur
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&d.Create, DefaultDurations.Create}, {&d.Delete, DefaultDurations.Delete},
		{&d.Scale, DefaultDurations.Scale}, {&d.Update, DefaultDurations.Update},
		{&d.Upgrade, DefaultDurations.Upgrade}, {&d.StartStop, DefaultDurations.StartStop},
		{&d.NodeImage, DefaultDurations.NodeImage},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case c.retryAfter == 0:
		c.retryAfter = defaultRetryAfter
	case c.retryAfter < 0:
		c.retryAfter = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "azure-sim")
	if err := c.db.Update(ensureBuckets); err != nil {
		return nil, fmt.Errorf("sim: prepare buckets: %w", err)
	}
	return c, nil
}

// Handler serves the ARM protocol for Microsoft.ContainerService, on any host.
func (c *Cloud) Handler() http.Handler { return http.HandlerFunc(c.serveHTTP) }

// Transport is an azcore transport that serves requests with Handler in process, without a
// socket. Pass it in arm.ClientOptions.Transport together with Credential.
func (c *Cloud) Transport() policy.Transporter { return transport{c} }

type transport struct{ c *Cloud }

// RoundTripper serves plain net/http clients in process, like Transport: the console's price
// list client uses it to reach the simulated Retail Prices API.
func (c *Cloud) RoundTripper() http.RoundTripper { return roundTripper{transport{c}} }

type roundTripper struct{ t transport }

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return r.t.Do(req) }

func (t transport) Do(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, fmt.Errorf("simulated ARM request %s %s: %w", req.Method, req.URL.Path, err)
	}
	// The handler reads the request as a server would; give it its own copy of the body so the
	// pipeline can rewind and retry the original.
	in := req.Clone(req.Context())
	in.Body = http.NoBody
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, fmt.Errorf("read simulated ARM request body: %w", err)
		}
		in.Body = io.NopCloser(bytes.NewReader(body))
	}
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	t.c.serveHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Credential is a static fake token credential the simulated cloud accepts.
func (c *Cloud) Credential() azcore.TokenCredential { return credential{} }

type credential struct{}

func (credential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, fmt.Errorf("get simulated token: %w", err)
	}
	// Token lifetimes are checked against the wall clock by azcore, not the simulated clock.
	return azcore.AccessToken{Token: "simulated-arm-token", ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// SeedPool describes a node pool of a seeded cluster.
type SeedPool struct {
	Name, Mode, VMSize string
	Count              int
	Autoscale          bool
	Min, Max           int
}

// Seed makes an existing, Succeeded cluster in SubscriptionID, for demos and tests. Without
// pools it gets one System pool "nodepool1" of 3 nodes. Seeding a cluster that exists already
// leaves it as it is, so a process can seed on every start.
func (c *Cloud) Seed(ctx context.Context, rg, name, location string, pools ...SeedPool) error {
	return c.SeedIn(ctx, SubscriptionID, rg, name, location, pools...)
}

// SeedIn is Seed in subscription sub.
func (c *Cloud) SeedIn(ctx context.Context, sub, rg, name, location string, pools ...SeedPool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("seed cluster %s/%s: %w", rg, name, err)
	}
	if len(pools) == 0 {
		pools = []SeedPool{{Name: "nodepool1", Mode: "System", VMSize: defaultVMSize, Count: 3}}
	}
	if rg == "" || location == "" {
		return fmt.Errorf("seed cluster %s/%s: resource group and location are required", rg, name)
	}
	if e := validateClusterName(name); e != nil {
		return fmt.Errorf("seed cluster %s/%s: %s", rg, name, e.Message)
	}
	cl := &clusterRec{
		Sub: sub, RG: rg, Name: name, Location: strings.ToLower(location),
		Cluster: &armcontainerservice.ManagedCluster{
			Tags:       map[string]*string{},
			Properties: &armcontainerservice.ManagedClusterProperties{},
		},
	}
	newClusterDefaults(cl, seedVersion)
	cl.Cluster.ETag = to.Ptr(newETag())
	cl.props().ProvisioningState = to.Ptr(statusSucceeded)
	for _, sp := range pools {
		mode := armcontainerservice.AgentPoolModeUser
		if strings.EqualFold(sp.Mode, "System") {
			mode = armcontainerservice.AgentPoolModeSystem
		}
		size := sp.VMSize
		if size == "" {
			size = defaultVMSize
		}
		p := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
			Count: to.Ptr(int32(sp.Count)), VMSize: to.Ptr(size), Mode: to.Ptr(mode),
			EnableAutoScaling: to.Ptr(sp.Autoscale),
		}
		if sp.Autoscale {
			p.MinCount, p.MaxCount = to.Ptr(int32(sp.Min)), to.Ptr(int32(sp.Max))
		}
		if e := validatePoolName(sp.Name, armcontainerservice.OSTypeLinux); e != nil {
			return fmt.Errorf("seed cluster %s/%s: %s", rg, name, e.Message)
		}
		if e := validatePoolSpec(sp.Name, p, nil, cl.Location); e != nil {
			return fmt.Errorf("seed cluster %s/%s: pool %s: %s", rg, name, sp.Name, e.Message)
		}
		newPoolDefaults(p, seedVersion, linuxNodeImageOld)
		p.ProvisioningState = to.Ptr(statusSucceeded)
		p.ETag = to.Ptr(newETag())
		cl.Pools = append(cl.Pools, &armcontainerservice.AgentPool{Name: to.Ptr(sp.Name), Properties: p})
	}
	if e := checkLimits(cl.Pools); e != nil {
		return fmt.Errorf("seed cluster %s/%s: %s", rg, name, e.Message)
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		existing, err := loadCluster(tx, cl.key())
		if err != nil || existing != nil {
			return err
		}
		return saveCluster(tx, cl)
	})
	if err != nil {
		return fmt.Errorf("seed cluster %s/%s: %w", rg, name, err)
	}
	return nil
}

// FailNextOperation makes the next asynchronous operation whose request path contains match
// (case-insensitively) end Failed with that error when its time is up.
func (c *Cloud) FailNextOperation(match string, code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, failure{match: strings.ToLower(match), code: code, message: message})
}

// InjectStatus makes the next n requests whose path contains match (case-insensitively) fail
// with that HTTP status and error code, before they reach the simulated state. 429 and 503
// answers carry Retry-After.
func (c *Cloud) InjectStatus(match string, status int, code string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.injection = append(c.injection, injection{match: strings.ToLower(match), status: status, code: code, left: n})
}

// Requests returns the log of requests received, oldest first.
func (c *Cloud) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// CountMutations counts the PUT, DELETE and POST requests received whose path contains
// pathContains (case-insensitively).
func (c *Cloud) CountMutations(pathContains string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	match := strings.ToLower(pathContains)
	n := 0
	for _, r := range c.requests {
		switch r.Method {
		case http.MethodPut, http.MethodDelete, http.MethodPost:
			if strings.Contains(strings.ToLower(r.Path), match) {
				n++
			}
		}
	}
	return n
}

// record logs the request and returns its index in the log (for answered) and the injected
// error it must get, if any.
func (c *Cloud) record(r *http.Request, at time.Time) (int, *injection) {
	method, path := r.Method, r.URL.Path
	h := r.Header.Clone()
	h.Del("Authorization")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, Request{Method: method, Path: path, At: at, Header: h})
	idx := len(c.requests) - 1
	lower := strings.ToLower(path)
	for i := range c.injection {
		in := &c.injection[i]
		if in.left > 0 && strings.Contains(lower, in.match) {
			in.left--
			hit := *in
			if in.left == 0 {
				c.injection = append(c.injection[:i], c.injection[i+1:]...)
			}
			return idx, &hit
		}
	}
	return idx, nil
}

// answered notes how the request at idx in the log was served and what answer was sent.
func (c *Cloud) answered(idx, served, sent int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if idx >= 0 && idx < len(c.requests) {
		r := &c.requests[idx]
		r.Served, r.Status, r.Lost, r.Done = served, sent, served != sent, c.now()
	}
}

// takeFailure returns the injected failure for an operation started by path, if any.
func (c *Cloud) takeFailure(path string) *apiError {
	c.mu.Lock()
	defer c.mu.Unlock()
	lower := strings.ToLower(path)
	for i, f := range c.failures {
		if strings.Contains(lower, f.match) {
			c.failures = append(c.failures[:i], c.failures[i+1:]...)
			return &apiError{Status: http.StatusInternalServerError, Code: f.code, Message: f.message}
		}
	}
	return nil
}
