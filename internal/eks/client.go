package eks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Config says where to look for clusters and how to reach EKS.
type Config struct {
	// Regions are the regions `/eks list` looks in; the first is the default for operations
	// without a region. Empty: the region of the environment or profile (AWS_REGION, ...).
	Regions []string
	// Profile is a shared config profile; "" = AWS_PROFILE, else "default".
	Profile string
	// HTTPClient sends the requests to EKS and STS; nil = the SDK's default, which honours
	// AWS_CA_BUNDLE. A client given is used as it is: AWS_CA_BUNDLE does not apply to it (the
	// in-process simulator's has no TLS at all).
	HTTPClient *http.Client
	// RetryMaxAttempts and RetryMaxBackoff tune the SDK's standard retryer (throttling, 5xx);
	// 0 keeps its defaults (3 attempts, 20 s). Tests shorten the backoff.
	RetryMaxAttempts int
	RetryMaxBackoff  time.Duration
	Logger           *slog.Logger
	// LoadOptions are passed on to config.LoadDefaultConfig after the ones above.
	LoadOptions []func(*config.LoadOptions) error
}

// Client reads and changes EKS node groups in one AWS account, in any region. It is safe for
// concurrent use.
type Client struct {
	aws     aws.Config
	regions []string
	log     *slog.Logger

	mu      sync.Mutex
	clients map[string]*awseks.Client // by region
	sts     *sts.Client

	// idMu guards account, the bot's account as STS last said: Identity records it, so the
	// account check of plans does not ask STS again.
	idMu    sync.Mutex
	account string
}

// New loads the AWS configuration (config.LoadDefaultConfig: environment, shared profile, IRSA
// web identity, EKS Pod Identity, instance metadata) and makes a Client. It sends nothing: wrong
// credentials show up on the first call.
func New(ctx context.Context, cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "eks")

	var opts []func(*config.LoadOptions) error
	if len(cfg.Regions) > 0 {
		opts = append(opts, config.WithRegion(cfg.Regions[0]))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			if cfg.RetryMaxAttempts > 0 {
				o.MaxAttempts = cfg.RetryMaxAttempts
			}
			if cfg.RetryMaxBackoff > 0 {
				o.MaxBackoff = cfg.RetryMaxBackoff
				o.Backoff = retry.NewExponentialJitterBackoff(cfg.RetryMaxBackoff)
			}
		})
	}))
	opts = append(opts, cfg.LoadOptions...)

	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("eks: load AWS configuration: %w", err)
	}
	// A client given replaces the SDK's after loading: given to LoadDefaultConfig, any client
	// but the SDK's own makes it fail when AWS_CA_BUNDLE is set.
	if cfg.HTTPClient != nil {
		awsCfg.HTTPClient = cfg.HTTPClient
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, logAttempts(log))
	regions := cfg.Regions
	if len(regions) == 0 {
		if awsCfg.Region == "" {
			return nil, errors.New("eks: no region: set one in the configuration, AWS_REGION or the profile")
		}
		regions = []string{awsCfg.Region}
	}
	for _, r := range regions {
		if !validRegion(r) {
			return nil, fmt.Errorf("eks: %q is not an AWS region", r)
		}
	}
	return &Client{aws: awsCfg, regions: regions, log: log, clients: map[string]*awseks.Client{}}, nil
}

// Regions returns the configured regions; the first is the default.
func (c *Client) Regions() []string { return append([]string(nil), c.regions...) }

// api returns the EKS client for a region ("" = the default region).
func (c *Client) api(region string) (*awseks.Client, string, error) {
	region = c.region(region)
	if !validRegion(region) {
		return nil, "", invalid(fmt.Sprintf("%q is not an AWS region", region), "regions look like eu-west-1")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.clients[region]
	if cl == nil {
		cl = awseks.NewFromConfig(c.aws, func(o *awseks.Options) { o.Region = region })
		c.clients[region] = cl
	}
	return cl, region, nil
}

// Endpoint returns the base endpoint the SDK resolved from the configuration (for example
// AWS_ENDPOINT_URL_EKS), or "" when it uses the public regional endpoints.
func (c *Client) Endpoint(region string) string {
	cl, _, err := c.api(region)
	if err != nil {
		return ""
	}
	if ep := cl.Options().BaseEndpoint; ep != nil {
		return *ep
	}
	return ""
}

// logAttempts logs each HTTP attempt at Debug: operation, region, status, request ID and
// duration. It never logs headers or bodies, so signatures and session tokens cannot leak.
func logAttempts(log *slog.Logger) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("aksbotLogAttempt",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				if !log.Enabled(ctx, slog.LevelDebug) {
					return next.HandleDeserialize(ctx, in)
				}
				start := time.Now()
				out, md, err := next.HandleDeserialize(ctx, in)
				attrs := []any{"op", middleware.GetOperationName(ctx), "region", awsmw.GetRegion(ctx),
					"took", time.Since(start).Round(time.Millisecond)}
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
					attrs = append(attrs, "status", resp.StatusCode, "requestId", resp.Header.Get("X-Amzn-Requestid"))
				}
				if err != nil {
					attrs = append(attrs, "err", err)
				}
				log.DebugContext(ctx, "EKS request", attrs...)
				return out, md, err
			}), middleware.After)
	}
}
