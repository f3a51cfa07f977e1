package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// How a bot reaches the sim: over HTTP (Handler on a listener, ClientOptions with its URL), or in
// process like the console's simulated Azure (HTTPClient and ClientOptions(Endpoint): no
// listener, no request leaves the process).

// Endpoint is the address of the in-process sim; no request to it leaves the process.
const Endpoint = "https://eks.sim.aksbot.invalid"

// ClientOptions are the AWS SDK load options (eks.Config.LoadOptions) that point a client at a
// sim served at endpoint, for EKS and STS, with static credentials: the sim reads only the region
// from a request's signature.
func ClientOptions(endpoint string) []func(*config.LoadOptions) error {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIASIMULATEDEXAMPLE", SecretAccessKey: "simulated-secret-not-a-credential",
			Source: "aksbot EKS simulator"}, nil
	})
	return []func(*config.LoadOptions) error{config.WithBaseEndpoint(endpoint), config.WithCredentialsProvider(creds)}
}

// HTTPClient sends every request to the sim's handler in process, whatever its host: with it
// (eks.Config.HTTPClient) and ClientOptions(Endpoint), a client needs no listener.
func (s *Sim) HTTPClient() *http.Client { return &http.Client{Transport: transport{s.Handler()}} }

type transport struct{ h http.Handler }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, fmt.Errorf("simulated EKS request %s %s: %w", req.Method, req.URL.Path, err)
	}
	// The handler reads the request as a server would: it gets its own copy of the body, and
	// the caller's request is left as it was.
	in := req.Clone(req.Context())
	in.Body = http.NoBody
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read simulated EKS request body: %w", err)
		}
		in.Body = io.NopCloser(bytes.NewReader(body))
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Regions returns the regions that have clusters, sorted: what the bot's configuration lists to
// see them all.
func (s *Sim) Regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, c := range s.clusters {
		if !seen[c.region] {
			seen[c.region] = true
			out = append(out, c.region)
		}
	}
	sort.Strings(out)
	return out
}
