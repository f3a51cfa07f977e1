package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	bolterrors "go.etcd.io/bbolt/errors"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/store"
)

const doctorHelp = `Checks what the bot needs before it runs, and prints one line per check: ok, warn or FAIL, what
was checked and, when something is wrong, what to do. It reads the same environment and file as
the bot and prints no secrets.

  configuration  the environment and the configuration file load and validate
  Slack          (with tokens) the bot token passes auth.test and has every scope manifest.yaml
                 asks for; the app token can open a socket mode connection (none is kept open)
  Azure          (with AZURE_SUBSCRIPTION_ID) the credential gets a token for Azure Resource
                 Manager, and each configured resource group's clusters can be listed
  AWS            (with an aws section or AKSBOT_EKS=1) STS says who the credentials are, of the
                 account aws.account names if set, and each region's EKS clusters can be listed
  data file      it opens and takes a write, or can be created; in use by a running bot is a warning
  etcd           (with AKSBOT_ETCD_ENDPOINTS, instead of the data file) etcd answers within
                 store.etcd.dialTimeout, accepts the credentials, completes the TLS handshake, lets
                 the prefix be read (keys, jobs, schema version), and answers a read within 100 ms

Exit code 0 when nothing FAILed, 1 otherwise.`

// requiredBotScopes are the bot token scopes manifest.yaml asks for; a test keeps them equal.
var requiredBotScopes = []string{"commands", "chat:write", "chat:write.public", "usergroups:read", "users:read", "channels:history", "groups:history"}

// defaultSlackAPIURL is Slack's Web API when SLACK_API_URL is not set.
const defaultSlackAPIURL = "https://slack.com/api/"

func doctorSetup(fs *flag.FlagSet) runFunc {
	timeout := fs.Duration("timeout", 20*time.Second, "how long each check that calls Slack or Azure may take")
	return func(ctx context.Context, inv *invocation, _ []string) int {
		if *timeout <= 0 {
			return inv.usageError("-timeout must be above 0, like 20s")
		}
		d := &doctor{out: inv.stdout, getenv: inv.getenv, ov: inv.ov, timeout: *timeout,
			log: slog.New(slog.DiscardHandler)}
		if lvl := inv.getenv(envLogLevel); lvl != "" {
			// Debug logs of the checks' requests, for when a FAIL needs a closer look.
			// No replica: doctor is not one, and its logs go to the person who runs it.
			if log, err := newLogger(inv.stderr, config.ModeSlack, lvl, ""); err == nil {
				d.log = log
			}
		}
		d.run(ctx)
		if d.failed {
			return exitFailure
		}
		return exitOK
	}
}

// Outcomes of a check, as doctor prints them.
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "FAIL"
)

type doctor struct {
	out     io.Writer
	getenv  func(string) string
	ov      overrides
	timeout time.Duration
	log     *slog.Logger

	counts map[string]int
	failed bool
}

// report prints one check: its status, what was checked, what was found and, unless it is
// empty, what to do about it. Line breaks in messages are folded so each check stays one line.
func (d *doctor) report(status, what, found, fix string) {
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[status]++
	if status == statusFail {
		d.failed = true
	}
	line := fmt.Sprintf("%-4s %s: %s", status, what, oneLine(found))
	if fix != "" {
		line += "; fix: " + oneLine(fix)
	}
	fmt.Fprintln(d.out, line)
}

func (d *doctor) run(ctx context.Context) {
	cfg, ok := d.checkConfig()
	switch {
	case cfg.Mode == config.ModeSlack:
		d.checkSlack(ctx, cfg)
	case ok:
		d.report(statusOK, "slack", "console mode (SLACK_APP_TOKEN and SLACK_BOT_TOKEN are not set): no Slack checks", "")
	}
	switch {
	case !cfg.Simulated():
		d.checkAzure(ctx, cfg)
	case ok:
		d.report(statusOK, "azure", "simulated cloud (AZURE_SUBSCRIPTION_ID is not set): no Azure checks", "")
	}
	switch {
	case cfg.File.AWS.Enabled():
		d.checkEKS(ctx, cfg)
	case ok && cfg.Simulated() && !cfg.File.AWS.SwitchedOff():
		d.report(statusOK, "aws", "simulated EKS (no aws section and no Azure subscription): no AWS checks", "")
	}
	switch {
	case cfg.Etcd():
		d.checkEtcd(ctx, cfg)
	case !ok && strings.TrimSpace(d.getenv(config.EnvEtcdEndpoints)) != "":
		d.report(statusFail, "etcd", "not checked: the configuration above is invalid", "fix the configuration first")
	default:
		d.checkDataFile(ctx, cfg.DBPath)
	}
	fmt.Fprintf(d.out, "doctor: %d ok, %d warn, %d FAIL\n", d.counts[statusOK], d.counts[statusWarn], d.counts[statusFail])
}

// checkConfig loads the configuration as the bot does. When it is invalid, every problem gets a
// FAIL line, and the other checks run on what the environment says, so that one mistake does not
// hide the rest.
func (d *doctor) checkConfig() (config.Config, bool) {
	cfg, err := config.Load(d.getenv)
	if err == nil {
		file := cfg.ConfigFile
		if file == "" {
			file = "no configuration file (" + config.DefaultConfigFile + " not found, " + config.EnvConfigFile + " not set): defaults apply"
		}
		d.report(statusOK, "configuration", file+"; environment valid", "")
		return cfg, true
	}
	msg := strings.TrimPrefix(err.Error(), "configuration: ")
	for _, problem := range strings.Split(msg, "\n") {
		if problem = strings.TrimSpace(problem); problem != "" {
			d.report(statusFail, "configuration", problem, "")
		}
	}
	return fallbackConfig(d.getenv), false
}

// fallbackConfig reads the environment without validating it, for the checks that can still run
// when config.Load refuses the configuration. An unusable value then fails its own check.
func fallbackConfig(getenv func(string) string) config.Config {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := config.Config{
		SlackAppToken: env(config.EnvSlackAppToken), SlackBotToken: env(config.EnvSlackBotToken),
		SlackAPIURL: env(config.EnvSlackAPIURL), SubscriptionID: env(config.EnvSubscriptionID),
		ARMEndpoint: env(config.EnvARMEndpoint), AuthorityHost: env(config.EnvAuthorityHost),
		ARMAudience: env(config.EnvARMAudience), DBPath: env(config.EnvDB),
	}
	c.Mode = config.ModeConsole
	if c.SlackAppToken != "" && c.SlackBotToken != "" {
		c.Mode = config.ModeSlack
	}
	if c.ARMAudience == "" {
		c.ARMAudience = config.DefaultARMAudience
	}
	if c.DBPath == "" {
		c.DBPath = config.DefaultDBPath
	}
	c.File, _ = config.Parse(nil) // the defaults; the file itself was refused
	return c
}

// slackReply is the part of a Web API answer doctor reads.
type slackReply struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Needed string `json:"needed"` // with missing_scope
	Team   string `json:"team"`
	User   string `json:"user"`
	URL    string `json:"url"`
}

// slackCall POSTs a Web API method with token as a bearer token. The token goes only into the
// Authorization header, so no error message can contain it.
func (d *doctor) slackCall(ctx context.Context, apiURL, method, token string) (slackReply, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+method, strings.NewReader(""))
	if err != nil {
		return slackReply{}, nil, fmt.Errorf("make the %s request: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is said once, by the caller
		}
		return slackReply{}, nil, fmt.Errorf("cannot reach Slack at %s: %w", apiURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		return slackReply{Error: "ratelimited"}, resp.Header, nil
	}
	var r slackReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return slackReply{}, resp.Header, fmt.Errorf("%s at %s answered HTTP %d, not a Slack Web API reply: %w", method, apiURL, resp.StatusCode, err)
	}
	return r, resp.Header, nil
}

func (d *doctor) checkSlack(ctx context.Context, cfg config.Config) {
	apiURL := cfg.SlackAPIURL
	if apiURL == "" {
		apiURL = defaultSlackAPIURL
	}
	reachFix := "check the network and proxy (HTTPS_PROXY) of this machine" + ifSet(cfg.SlackAPIURL, ", and SLACK_API_URL")

	r, header, err := d.slackCall(ctx, apiURL, "auth.test", cfg.SlackBotToken)
	switch {
	case err != nil:
		d.report(statusFail, "slack bot token", "auth.test: "+err.Error(), reachFix)
	case r.Error == "ratelimited":
		d.report(statusWarn, "slack bot token", "Slack rate-limited auth.test, so the token and its scopes were not checked", rateLimitFix)
	case !r.OK:
		d.report(statusFail, "slack bot token", "auth.test refused SLACK_BOT_TOKEN ("+r.Error+")", slackTokenFix(r.Error, "bot"))
	default:
		d.report(statusOK, "slack bot token", fmt.Sprintf("auth.test: signed in as @%s in workspace %s", r.User, r.Team), "")
		d.checkScopes(header)
	}

	r, _, err = d.slackCall(ctx, apiURL, "apps.connections.open", cfg.SlackAppToken)
	switch {
	case err != nil:
		d.report(statusFail, "slack socket mode", "apps.connections.open: "+err.Error(), reachFix)
	case r.Error == "ratelimited":
		d.report(statusWarn, "slack socket mode", "Slack rate-limited apps.connections.open, so the app token was not checked", rateLimitFix)
	case !r.OK:
		d.report(statusFail, "slack socket mode", "apps.connections.open refused SLACK_APP_TOKEN ("+r.Error+")", slackTokenFix(r.Error, "app"))
	default:
		// The answer is a one-time WebSocket URL; not dialling it leaves no connection behind.
		d.report(statusOK, "slack socket mode", "apps.connections.open: the app token can open a connection", "")
	}
}

const rateLimitFix = "run doctor again in a minute (a running bot shares the rate limit)"

// checkScopes compares the scopes Slack reports for the bot token (X-OAuth-Scopes on every Web
// API answer) with the ones the manifest asks for.
func (d *doctor) checkScopes(h http.Header) {
	raw, present := h["X-Oauth-Scopes"]
	if !present {
		d.report(statusWarn, "slack scopes", "Slack did not say which scopes the bot token has (no X-OAuth-Scopes header), so they were not checked", "")
		return
	}
	have := map[string]bool{}
	for _, s := range strings.Split(strings.Join(raw, ","), ",") {
		have[strings.TrimSpace(s)] = true
	}
	var missing []string
	for _, s := range requiredBotScopes {
		if !have[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		d.report(statusFail, "slack scopes", "the bot token lacks "+strings.Join(missing, ", "),
			"add them under OAuth & Permissions -> Bot Token Scopes (or update the app from manifest.yaml), then reinstall the app to the workspace")
		return
	}
	d.report(statusOK, "slack scopes", "the bot token has "+strings.Join(requiredBotScopes, ", "), "")
}

// slackTokenFix says what to do about a Web API error for the bot or the app-level token.
func slackTokenFix(code, which string) string {
	switch {
	case code == "missing_scope" && which == "app":
		return "the app-level token needs the scope connections:write: generate one under Basic Information -> App-Level Tokens and set SLACK_APP_TOKEN"
	case which == "app":
		return "generate an app-level token with the scope connections:write under Basic Information -> App-Level Tokens, set SLACK_APP_TOKEN, and check that socket mode is on"
	default:
		return "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions (reinstall the app if it was revoked) into SLACK_BOT_TOKEN"
	}
}

func (d *doctor) checkAzure(ctx context.Context, cfg config.Config) {
	cred := d.ov.armCredential
	if cred == nil {
		var err error
		if cred, err = azure.NewCredential(cfg.ARMEndpoint, cfg.AuthorityHost, cfg.ARMAudience); err != nil {
			d.report(statusFail, "azure credential", err.Error(), credentialFix)
			return
		}
	}
	audience := cfg.ARMAudience
	if cfg.ARMEndpoint == "" || audience == "" {
		audience = azure.DefaultAudience
	}
	tctx, cancel := context.WithTimeout(ctx, d.timeout)
	tok, err := cred.GetToken(tctx, azpolicy.TokenRequestOptions{Scopes: []string{audience + "/.default"}})
	cancel()
	if err != nil {
		d.report(statusFail, "azure credential", "no token for Azure Resource Manager ("+audience+"): "+err.Error(), credentialFix)
		return
	}
	d.report(statusOK, "azure credential", fmt.Sprintf("got a token for Azure Resource Manager (%s), valid until %s",
		audience, tok.ExpiresOn.UTC().Format("15:04 UTC")), "")

	// Each configured subscription is checked on its own: reachable, and its clusters listable
	// in the resource groups the configuration names for it.
	subs := cfg.Subscriptions
	if len(subs.List) == 0 {
		subs = aks.NewSubscriptions(map[string]string{cfg.SubscriptionID: cfg.SubscriptionID}, cfg.SubscriptionID)
	}
	for _, sub := range subs.List {
		client, err := azure.New(azure.Config{SubscriptionID: sub.ID, Credential: cred,
			Endpoint: cfg.ARMEndpoint, Audience: cfg.ARMAudience, Transport: d.ov.armTransport, Logger: d.log})
		if err != nil {
			d.report(statusFail, "azure", err.Error(), "check AZURE_SUBSCRIPTION_ID, azure.subscriptions and AKSBOT_ARM_ENDPOINT")
			return
		}
		in := ""
		if subs.Several() {
			in = " (subscription " + sub.Name + ")"
		}
		for _, rg := range resourceGroupsIn(cfg, sub) {
			d.checkResourceGroup(ctx, client, sub.ID, rg, in)
		}
		d.checkCompute(ctx, client, sub.ID, cfg.File.Azure.Location, in)
	}
}

// checkCompute checks that the identity can read the subscription's vCPU quotas and VM sizes,
// which the quota and VM size preflight of every scale-up needs. Without them plans say "quota
// not checked" and jobs go on, so it is a warning.
func (d *doctor) checkCompute(ctx context.Context, client *azure.Client, sub, location, in string) {
	what := "azure quota " + location + in
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	usages, err := client.Usages(ctx, location)
	if err == nil {
		_, err = client.VMSize(ctx, location, azure.DefaultVMSize)
		if aks.ErrorCode(err) == aks.ENotFound {
			err = nil // the list was read; the size is just not offered there
		}
	}
	fix := fmt.Sprintf("assign the bot's identity Reader on the subscription (it has Microsoft.Compute/locations/usages/read and Microsoft.Compute/skus/read): "+
		"az role assignment create --assignee CLIENT_ID --role Reader --scope /subscriptions/%s", sub)
	switch {
	case err == nil:
		detail := "can read the vCPU quotas and VM sizes"
		for _, u := range usages {
			if u.Name == "cores" {
				detail += fmt.Sprintf(" (%s: %d of %d in use)", u.Label, u.Used, u.Limit)
			}
		}
		d.report(statusOK, what, detail, "")
	case aks.ErrorCode(err) == aks.EUnauthorized:
		d.report(statusWarn, what, "cannot read the vCPU quotas or VM sizes, so plans will say \"quota not checked\" ("+userText(err)+")", fix)
	default:
		d.report(statusWarn, what, "reading the vCPU quotas or VM sizes failed, so plans may say \"quota not checked\": "+userText(err), "")
	}
}

// userText is an *aks.Error's message, or the error.
func userText(err error) string {
	var ae *aks.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

const credentialFix = "give the bot an identity: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, " +
	"workload identity on AKS (AZURE_FEDERATED_TOKEN_FILE), a managed identity, or az login on your machine"

// resourceGroupsIn are the groups the configuration names for a subscription:
// azure.resourceGroup, the default for commands without -g, and the groups the policy's rules
// name literally (not as globs) for that subscription (rules naming no subscription apply to
// all).
func resourceGroupsIn(cfg config.Config, sub aks.Subscription) []string {
	var rgs []string
	if rg := cfg.File.Azure.ResourceGroup; rg != "" {
		rgs = append(rgs, rg)
	}
	for _, r := range cfg.File.Policy.Rules {
		if len(r.Match.Subscriptions) > 0 && !matchesSubscription(r.Match.Subscriptions, sub) {
			continue
		}
		for _, rg := range r.Match.ResourceGroups {
			if !strings.ContainsAny(rg, "*?[") && !slices.ContainsFunc(rgs, func(have string) bool { return strings.EqualFold(have, rg) }) {
				rgs = append(rgs, rg)
			}
		}
	}
	return rgs
}

// matchesSubscription reports whether one of a rule's subscription patterns selects sub, by
// name or ID, as the policy matches them.
func matchesSubscription(patterns []string, sub aks.Subscription) bool {
	for _, p := range patterns {
		p = strings.ToLower(p)
		for _, v := range []string{sub.Name, sub.ID} {
			if ok, err := path.Match(p, strings.ToLower(v)); err == nil && ok {
				return true
			}
		}
	}
	return false
}

func (d *doctor) checkResourceGroup(ctx context.Context, client *azure.Client, sub, rg, in string) {
	what := "azure resource group " + rg + in
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	clusters, err := client.ListClusters(ctx, rg)
	if err == nil {
		d.report(statusOK, what, fmt.Sprintf("can list its managed clusters (%d); write access is not checked", len(clusters)), "")
		return
	}
	roleFix := fmt.Sprintf(`assign the bot's identity "Azure Kubernetes Service Contributor Role" on the group: `+
		`az role assignment create --assignee CLIENT_ID --role "Azure Kubernetes Service Contributor Role" --scope /subscriptions/%s/resourceGroups/%s`, sub, rg)
	var az *aks.AzureError
	switch {
	case aks.ErrorCode(err) == aks.ENotFound:
		d.report(statusFail, what, "not found in subscription "+sub,
			"create it, or set azure.resourceGroup in the configuration file to an existing group")
	case errors.As(err, &az) && (az.StatusCode == http.StatusForbidden || az.StatusCode == http.StatusUnauthorized):
		d.report(statusFail, what, "no read access ("+az.Error()+")", roleFix)
	case errors.As(err, &az):
		d.report(statusFail, what, "listing its clusters failed ("+az.Error()+")", "")
	default:
		d.report(statusFail, what, "cannot list its clusters: "+err.Error(),
			"check the network of this machine"+ifSet(d.getenv(config.EnvARMEndpoint), " and AKSBOT_ARM_ENDPOINT"))
	}
}

// checkDataFile opens the data file as the bot does and writes to it, or, when it does not exist
// yet, checks that it can be created. It does not create it.
func (d *doctor) checkDataFile(ctx context.Context, path string) {
	what := "data file " + path
	fi, err := os.Stat(path)
	switch {
	case missing(err):
		dir, err := creatableIn(filepath.Dir(path))
		if err != nil {
			d.report(statusFail, what, "does not exist and cannot be created: "+err.Error(),
				"set AKSBOT_DB to a path in a writable directory, or make "+dir+" writable for the bot's user")
			return
		}
		d.report(statusOK, what, "does not exist yet; the bot creates it at start ("+dir+" is writable)", "")
		return
	case err != nil:
		d.report(statusFail, what, "cannot be read: "+err.Error(), "check the path in AKSBOT_DB and the permissions of its directories")
		return
	case fi.IsDir():
		d.report(statusFail, what, "is a directory", "set AKSBOT_DB to a file, like "+filepath.Join(path, config.DefaultDBPath))
		return
	}

	st, err := store.Open(path, store.Options{Logger: d.log, DefaultSubscription: defaultSubscription(d.getenv)})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		d.report(statusWarn, what, "in use by a running aksbot (fine if the bot is running)",
			"if no aksbot should be running, find the process that holds the file")
		return
	case errors.Is(err, fs.ErrPermission):
		d.report(statusFail, what, "cannot be written: "+err.Error(), "give the bot's user write access to the file and its directory")
		return
	case err != nil:
		d.report(statusFail, what, "cannot be opened: "+err.Error(),
			"if it is not an aksbot data file, set AKSBOT_DB to another path; if it was written by a newer aksbot, run that version")
		return
	}
	defer func() {
		if err := st.Close(); err != nil {
			d.report(statusFail, what, "closing it failed: "+err.Error(), "")
		}
	}()
	if err := st.Probe(ctx); err != nil {
		d.report(statusFail, what, "opened, but a write failed: "+err.Error(), "check the free space and that the file system is writable")
		return
	}
	open, err := st.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}})
	if err != nil {
		d.report(statusFail, what, "opened and written, but its jobs cannot be read: "+err.Error(), "")
		return
	}
	d.report(statusOK, what, fmt.Sprintf("opened and written; %d unfinished jobs", len(open)), "")
}

// etcdSlowRead is the round-trip time above which doctor warns: every job step is a few reads
// and a transaction, and lane takeover waits on them.
const etcdSlowRead = 100 * time.Millisecond

// checkEtcd checks the etcd the state is kept in: reach, sign-in, TLS, the prefix and the
// latency. The password is only handed to the client; no line quotes it (Connect's errors
// never contain it).
func (d *doctor) checkEtcd(ctx context.Context, cfg config.Config) {
	e := cfg.File.Store.Etcd
	where := strings.Join(cfg.EtcdEndpoints, ",")
	o := etcdClientOptions(cfg, d.log) // as the bot connects
	useTLS := e.TLS.Set() || strings.HasPrefix(where, "https://") || strings.Contains(where, ",https://")

	cli, err := etcdstore.Connect(ctx, o)
	switch {
	case errors.Is(err, etcdstore.ErrAuth):
		d.report(statusOK, "etcd connection", "reached "+where, "")
		fix := "check store.etcd.username and " + config.EnvEtcdPassword + " (etcdctl user get " + orQuoted(e.Username) + " shows the user and its roles)"
		if e.Username == "" {
			fix = "etcd has auth enabled: set store.etcd.username in the configuration file and the password in " + config.EnvEtcdPassword
		}
		d.report(statusFail, "etcd auth", err.Error(), fix)
		return
	case errors.Is(err, etcdstore.ErrTLS):
		d.report(statusFail, "etcd TLS", err.Error(),
			"check store.etcd.tls: ca must have signed the server's certificate and its names must include the endpoint's host; "+
				"cert and key must be a pair the server's CA accepts; https:// endpoints need a TLS listener")
		return
	case err != nil:
		d.report(statusFail, "etcd connection", fmt.Sprintf("no answer within store.etcd.dialTimeout (%s): %v", e.DialTimeout.Duration, err),
			"check "+config.EnvEtcdEndpoints+" (client URLs, usually port 2379), that etcd runs, and the network between; raise store.etcd.dialTimeout for a slow link")
		return
	}
	defer cli.Close()

	st, err := cli.Status(ctx, cfg.EtcdEndpoints[0])
	found := "reached " + where
	if err == nil {
		found += fmt.Sprintf(" (etcd %s, member %x, leader %x)", st.Version, st.Header.MemberId, st.Leader)
	}
	d.report(statusOK, "etcd connection", found, "")
	if e.Username != "" {
		d.report(statusOK, "etcd auth", "signed in as "+strconv.Quote(e.Username), "")
	} else {
		d.report(statusOK, "etcd auth", "no username: etcd's auth is not used", "")
	}
	switch {
	case useTLS:
		how := "the system's CA certificates"
		if e.TLS.CA != "" {
			how = e.TLS.CA
		}
		found := "handshake done, the server's certificate verified against " + how
		if e.TLS.Cert != "" {
			found += "; client certificate " + e.TLS.Cert + " presented"
		}
		d.report(statusOK, "etcd TLS", found, "")
	case cfg.EtcdPassword != "":
		d.report(statusWarn, "etcd TLS", "plain http: the password and all state cross the network unencrypted",
			"use https:// endpoints and store.etcd.tls")
	default:
		d.report(statusOK, "etcd TLS", "plain http (no TLS)", "")
	}

	d.checkEtcdPrefix(ctx, cli, e.Prefix, e.Username)
}

// checkEtcdPrefix reads the prefix: how many keys and jobs it holds, the schema version, and
// how long a read takes. The layout read here is the etcd store's (package etcdstore).
func (d *doctor) checkEtcdPrefix(ctx context.Context, cli *clientv3.Client, prefix, user string) {
	what := "etcd prefix " + prefix
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	all, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		fix := "check the network to etcd"
		if strings.Contains(strings.ToLower(err.Error()), "permission denied") || strings.Contains(err.Error(), "user name is empty") {
			fix = "grant " + orQuoted(user) + " a role with readwrite on the prefix: etcdctl role grant-permission ROLE --prefix=true readwrite " + prefix
		}
		d.report(statusFail, what, "cannot be read: "+err.Error(), fix)
		return
	}
	found := fmt.Sprintf("readable; %d keys", all.Count)
	schema, err := cli.Get(ctx, prefix+"schema")
	switch {
	case err != nil:
		d.report(statusFail, what, "reading its schema key failed: "+err.Error(), "")
		return
	case len(schema.Kvs) == 0 && all.Count == 0:
		found += "; empty: the bot sets it up at start"
	case len(schema.Kvs) == 0:
		d.report(statusWarn, what, found+", but no schema key: not written by aksbot?",
			"point store.etcd.prefix at a prefix of its own for aksbot")
		return
	default:
		v := string(schema.Kvs[0].Value)
		jobs, err := cli.Get(ctx, prefix+"v"+v+"/jobs/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			d.report(statusFail, what, "reading its jobs failed: "+err.Error(), "")
			return
		}
		found += fmt.Sprintf("; schema version %s; %d jobs", v, jobs.Count)
	}
	d.report(statusOK, what, found, "")

	// A linearizable read goes through the etcd leader: what every job step pays.
	start := time.Now()
	if _, err := cli.Get(ctx, prefix+"schema"); err != nil {
		d.report(statusFail, "etcd latency", "a read failed: "+err.Error(), "")
		return
	}
	took := time.Since(start)
	ms := fmt.Sprintf("%.1f ms", float64(took.Microseconds())/1000)
	if took > etcdSlowRead {
		d.report(statusWarn, "etcd latency", "a read took "+ms+" (above "+etcdSlowRead.String()+")",
			"run the bot near etcd (same region/zone), and check etcd's disk (fsync) and load")
		return
	}
	d.report(statusOK, "etcd latency", "a read took "+ms, "")
}

func orQuoted(user string) string {
	if user == "" {
		return "USER"
	}
	return strconv.Quote(user)
}

// creatableIn reports whether a file can be created in dir, or in its nearest existing parent
// when dir does not exist (the bot creates the missing directories). It returns the directory it
// tried. The probe file is removed again.
func creatableIn(dir string) (string, error) {
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return dir, fmt.Errorf("%s is not a directory", dir)
			}
			break
		}
		parent := filepath.Dir(dir)
		if !missing(err) || parent == dir {
			return dir, err
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".aksbot-doctor-*")
	if err != nil {
		return dir, fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return dir, os.Remove(name)
}

// missing reports whether a stat error means the path does not exist: a part of it is absent,
// or is a file where a directory should be.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func ifSet(v, s string) string {
	if v == "" {
		return ""
	}
	return s
}

// oneLine folds a message onto one line and bounds it: some errors (a credential chain's) run to
// many lines.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const limit = 600
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "..."
	}
	return s
}
