// Package azure runs aksbot's AKS operations on Azure Resource Manager through the Azure SDK for
// Go: it reads clusters and node pools, plans operations against their current state, and starts
// and follows the long-running operations that carry them out (aks.Cloud and aks.CloudOperation).
package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/aksbot/aksbot/internal/aks"
)

// DefaultAudience is the token audience of Azure Resource Manager in the public cloud.
const DefaultAudience = "https://management.core.windows.net/"

// Config says which subscription to work in and how to reach Azure Resource Manager.
type Config struct {
	SubscriptionID string
	Credential     azcore.TokenCredential
	Endpoint       string             // ARM base URL for other clouds / a local fake; "" = public Azure
	Audience       string             // token audience with Endpoint; "" = DefaultAudience
	Transport      policy.Transporter // nil = default HTTP; tests and the in-process simulated cloud set it
	Policies       []policy.Policy    // extra per-try policies (metrics)
	// Retry tunes azcore's retry policy; the zero value keeps its defaults (3 retries of 408,
	// 429, 500, 502, 503 and 504 on every method, 800 ms exponential backoff or Retry-After).
	// Tests shorten the delays.
	Retry  policy.RetryOptions
	Logger *slog.Logger
}

// Client reads and changes AKS clusters in one subscription. It is safe for concurrent use.
type Client struct {
	sub      string
	clusters *armcontainerservice.ManagedClustersClient
	pools    *armcontainerservice.AgentPoolsClient
	usages   *armcompute.UsageClient
	skus     *armcompute.ResourceSKUsClient
	log      *slog.Logger

	skuMu    sync.Mutex
	skuCache map[string]skuEntry // location -> VM sizes, for SKUTTL
}

var _ aks.Cloud = (*Client)(nil)

// New makes a Client. It sends nothing: a wrong credential shows up on the first call.
func New(cfg Config) (*Client, error) {
	if cfg.SubscriptionID == "" {
		return nil, errors.New("azure: subscription ID is required")
	}
	if cfg.Credential == nil {
		return nil, errors.New("azure: credential is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "azure")

	opts := &arm.ClientOptions{}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("azure: endpoint %q is not a URL", cfg.Endpoint)
		}
		audience := cfg.Audience
		if audience == "" {
			audience = DefaultAudience
		}
		opts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: cfg.Endpoint, Audience: audience},
			},
		}
		// A bearer token over plain HTTP is only acceptable to a fake on this machine.
		if u.Scheme == "http" {
			if !isLoopback(u.Hostname()) {
				return nil, fmt.Errorf("azure: endpoint %s: plain http is only allowed to localhost", cfg.Endpoint)
			}
			opts.InsecureAllowCredentialWithHTTP = true
		}
	}
	opts.Retry = cfg.Retry
	if cfg.Transport != nil {
		opts.Transport = cfg.Transport
	}
	// azcore's default retry policy stays: it retries throttling and 5xx and honours Retry-After.
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, &logPolicy{log: log}, triesPolicy{})
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, cfg.Policies...)

	factory, err := armcontainerservice.NewClientFactory(cfg.SubscriptionID, cfg.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: make ARM clients: %w", err)
	}
	compute, err := armcompute.NewClientFactory(cfg.SubscriptionID, cfg.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: make Compute clients: %w", err)
	}
	return &Client{
		sub:      cfg.SubscriptionID,
		clusters: factory.NewManagedClustersClient(),
		pools:    factory.NewAgentPoolsClient(),
		usages:   compute.NewUsageClient(),
		skus:     compute.NewResourceSKUsClient(),
		skuCache: map[string]skuEntry{},
		log:      log,
	}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewCredential returns azidentity's DefaultAzureCredential (environment, workload identity,
// managed identity, Azure CLI, ...). For another cloud (endpoint != "") it points the credential
// at that cloud's authority host (authorityHost, else AZURE_AUTHORITY_HOST, else the public one)
// and turns instance discovery off, which private authorities do not support.
func NewCredential(endpoint, authorityHost, audience string) (azcore.TokenCredential, error) {
	opts := &azidentity.DefaultAzureCredentialOptions{}
	if endpoint != "" {
		if authorityHost == "" {
			authorityHost = os.Getenv("AZURE_AUTHORITY_HOST")
		}
		if authorityHost == "" {
			authorityHost = cloud.AzurePublic.ActiveDirectoryAuthorityHost
		}
		if audience == "" {
			audience = DefaultAudience
		}
		opts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: authorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: endpoint, Audience: audience},
			},
		}
		opts.DisableInstanceDiscovery = true
	}
	cred, err := azidentity.NewDefaultAzureCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("azure: make default credential: %w", err)
	}
	return cred, nil
}

// logPolicy logs each HTTP attempt at Debug: method, URL, status and duration. It never logs
// headers, so the Authorization header cannot leak.
type logPolicy struct{ log *slog.Logger }

func (p *logPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	if !p.log.Enabled(ctx, slog.LevelDebug) {
		return req.Next()
	}
	start := time.Now()
	resp, err := req.Next()
	attrs := []any{
		"method", req.Raw().Method,
		"url", req.Raw().URL.Redacted(),
		"took", time.Since(start).Round(time.Millisecond),
	}
	if resp != nil {
		attrs = append(attrs, "status", resp.StatusCode)
		if id := resp.Header.Get("x-ms-request-id"); id != "" {
			attrs = append(attrs, "requestId", id)
		}
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	p.log.DebugContext(ctx, "ARM request", attrs...)
	return resp, err
}

// ctxErr reports whether err is the caller's context ending rather than Azure failing.
func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
