// Package config reads aksbot's configuration: secrets and endpoints from the environment, the
// rest (Azure defaults, policy, job tuning) from a YAML file. Load validates everything up front so
// that a mistake stops the bot at start with a message naming the variable or key, never later in
// the middle of a job.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// Mode says which chat transport runs.
type Mode string

const (
	ModeSlack   Mode = "slack"   // both Slack tokens are set: socket mode
	ModeConsole Mode = "console" // no Slack tokens: a chat in the terminal
)

// Environment variable names.
const (
	EnvSlackAppToken  = "SLACK_APP_TOKEN"
	EnvSlackBotToken  = "SLACK_BOT_TOKEN"
	EnvSlackAPIURL    = "SLACK_API_URL"
	EnvSubscriptionID = "AZURE_SUBSCRIPTION_ID"
	EnvARMEndpoint    = "AKSBOT_ARM_ENDPOINT"
	EnvAuthorityHost  = "AZURE_AUTHORITY_HOST"
	EnvARMAudience    = "AKSBOT_ARM_AUDIENCE"
	EnvConfigFile     = "AKSBOT_CONFIG"
	EnvDB             = "AKSBOT_DB"
	EnvHTTPAddr       = "AKSBOT_HTTP_ADDR"
	EnvEtcdEndpoints  = "AKSBOT_ETCD_ENDPOINTS" // set: state in etcd (several replicas); unset: the data file
	EnvEtcdPassword   = "AKSBOT_ETCD_PASSWORD"  // with store.etcd.username in the file
	EnvReplicaID      = "AKSBOT_REPLICA_ID"     // default: the hostname
	EnvPricesURL      = "AKSBOT_PRICES_URL"
	// EnvEKS turns /eks on (1) or off (0) whatever the file says; unset, it is on when the
	// file's aws section sets anything. AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL_EKS only say
	// how to reach AWS, never whether to: an AKS bot on an EC2 host or under IRSA has them set.
	EnvEKS = "AKSBOT_EKS"
)

// Defaults of the environment.
const (
	DefaultConfigFile  = "aksbot.yaml"
	DefaultDBPath      = "aksbot.db"
	DefaultHTTPAddr    = ":8080"
	DefaultARMAudience = "https://management.core.windows.net/"
)

// Config is everything aksbot is configured with. Its String and LogValue leave the tokens out,
// so it can be printed and logged.
type Config struct {
	Mode                                      Mode
	SlackAppToken, SlackBotToken, SlackAPIURL string
	SubscriptionID                            string // the default subscription's ID; "" = simulated cloud
	// Subscriptions are the subscriptions commands may name (azure.subscriptions, or
	// AZURE_SUBSCRIPTION_ID alone, named by its ID). Empty on the simulated cloud, whose own
	// subscriptions the bot sets when it starts it.
	Subscriptions                           aks.Subscriptions
	ARMEndpoint, AuthorityHost, ARMAudience string
	ConfigFile                              string // "" when none was read
	DBPath                                  string
	HTTPAddr                                string // health, readiness and metrics; "off" disables
	// EtcdEndpoints are etcd's client URLs; empty = the data file (DBPath) keeps the state.
	EtcdEndpoints []string
	// EtcdPassword goes with File.Store.Etcd.Username; it is never printed or logged.
	EtcdPassword string
	// ReplicaID names this replica (in etcd, logs and /aks job): AKSBOT_REPLICA_ID or the hostname.
	ReplicaID string
	// PricesURL is the Azure Retail Prices API's base URL; "" = https://prices.azure.com, or the
	// simulated one on the simulated cloud.
	PricesURL string
	// AWS is the file's aws section with AKSBOT_EKS applied (File.AWS holds the same value):
	// whether /eks is offered, in which regions, and the node-group defaults.
	AWS  AWS
	File File // the YAML
}

// Etcd reports whether the state is kept in etcd (AKSBOT_ETCD_ENDPOINTS is set).
func (c Config) Etcd() bool { return len(c.EtcdEndpoints) > 0 }

// Simulated reports whether the bot runs on the built-in simulated cloud.
func (c Config) Simulated() bool { return c.SubscriptionID == "" }

// Load reads the environment through getenv (os.Getenv in production) and the configuration
// file, fills defaults and validates. Its errors name the variable or key at fault and never
// contain token values.
func Load(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var c Config
	var errs []error

	c.SlackAppToken, c.SlackBotToken = env(EnvSlackAppToken), env(EnvSlackBotToken)
	mode, err := slackMode(c.SlackAppToken, c.SlackBotToken)
	if err != nil {
		errs = append(errs, err)
	}
	c.Mode = mode

	c.SlackAPIURL = env(EnvSlackAPIURL)
	if c.SlackAPIURL != "" {
		if err := checkURL(c.SlackAPIURL, "http", "https"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvSlackAPIURL, err))
		} else if !strings.HasSuffix(c.SlackAPIURL, "/") {
			errs = append(errs, fmt.Errorf("%s must end with \"/\" (like https://slack.com/api/)", EnvSlackAPIURL))
		}
	}

	c.SubscriptionID = env(EnvSubscriptionID)
	if c.SubscriptionID != "" && !guidRE.MatchString(c.SubscriptionID) {
		errs = append(errs, fmt.Errorf("%s: %q is not a subscription ID (a GUID like 00000000-0000-0000-0000-000000000000)",
			EnvSubscriptionID, c.SubscriptionID))
	}

	c.ARMEndpoint, c.AuthorityHost, c.ARMAudience = env(EnvARMEndpoint), env(EnvAuthorityHost), env(EnvARMAudience)
	if c.ARMEndpoint != "" {
		// Bearer tokens are only sent over TLS, so a plain-http endpoint could never work.
		if err := checkURL(c.ARMEndpoint, "https"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvARMEndpoint, err))
		}
	} else if c.ARMAudience != "" {
		errs = append(errs, fmt.Errorf("%s is set but %s is not: the audience is only used with a custom endpoint",
			EnvARMAudience, EnvARMEndpoint))
	}
	if c.AuthorityHost != "" {
		if err := checkURL(c.AuthorityHost, "https"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvAuthorityHost, err))
		}
	}
	if c.ARMAudience == "" {
		c.ARMAudience = DefaultARMAudience
	}

	c.PricesURL = env(EnvPricesURL)
	if c.PricesURL != "" {
		if err := checkURL(c.PricesURL, "http", "https"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvPricesURL, err))
		}
	}

	c.HTTPAddr = env(EnvHTTPAddr)
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	c.DBPath = env(EnvDB)
	if c.DBPath == "" {
		c.DBPath = DefaultDBPath
	}

	c.ReplicaID = env(EnvReplicaID)
	if c.ReplicaID == "" {
		host, herr := os.Hostname()
		if herr != nil {
			errs = append(errs, fmt.Errorf("%s is not set and the hostname cannot be read (%v): set %s", EnvReplicaID, herr, EnvReplicaID))
		}
		c.ReplicaID = host
		if c.ReplicaID != "" && !replicaIDRE.MatchString(c.ReplicaID) {
			errs = append(errs, fmt.Errorf("%s is not set and the hostname %q is no replica ID (%s): set %s", EnvReplicaID, c.ReplicaID, replicaIDRule, EnvReplicaID))
		}
	} else if !replicaIDRE.MatchString(c.ReplicaID) {
		errs = append(errs, fmt.Errorf("%s: %q is no replica ID (%s)", EnvReplicaID, c.ReplicaID, replicaIDRule))
	}

	var endpointErrs []error
	c.EtcdEndpoints, endpointErrs = etcdEndpoints(env(EnvEtcdEndpoints))
	errs = append(errs, endpointErrs...)
	// Not trimmed: a password may begin or end with a space.
	c.EtcdPassword = getenv(EnvEtcdPassword)

	file, name, err := loadFile(env(EnvConfigFile))
	if err != nil {
		errs = append(errs, err)
	}
	c.File, c.ConfigFile = file, name
	if serr := c.File.AWS.setSwitch(env(EnvEKS)); serr != nil {
		errs = append(errs, serr)
	}
	c.AWS = c.File.AWS
	if err == nil {
		errs = append(errs, c.checkEtcd()...)
		errs = append(errs, c.subscriptions()...)
	}
	if c.ARMEndpoint != "" && c.SubscriptionID == "" && len(c.File.Azure.Subscriptions) == 0 {
		errs = append(errs, fmt.Errorf("%s is set but %s is not: the endpoint is only used with a subscription",
			EnvARMEndpoint, EnvSubscriptionID))
	}

	// Without approvers anywhere in Slack every operation that needs approval would be refused.
	// (A rule without approvers refuses such requests itself, saying so.)
	if err == nil && c.Mode == ModeSlack && !c.File.Policy.HasApprovers() && c.File.Policy.ApprovalsRequired() {
		where := "the configuration file (" + DefaultConfigFile + ", or the file named by " + EnvConfigFile + ")"
		if c.ConfigFile != "" {
			where = c.ConfigFile
		}
		errs = append(errs, fmt.Errorf("no approvers: operations that need approval could never run; "+
			"in %s either list approvers' Slack user IDs under policy.approvers, "+
			"or set policy.requireApproval: false to run every operation without approval", where))
	}

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// subscriptions works out the subscriptions and the default one from azure.subscriptions,
// azure.defaultSubscription and AZURE_SUBSCRIPTION_ID, and checks that the policy's rules name
// only subscriptions that exist.
func (c *Config) subscriptions() []error {
	var errs []error
	az := c.File.Azure
	byName := az.Subscriptions
	def := az.DefaultSubscription
	switch {
	case len(byName) == 0 && c.SubscriptionID != "":
		// AZURE_SUBSCRIPTION_ID alone, as before: one subscription, named by its ID.
		byName = map[string]string{c.SubscriptionID: c.SubscriptionID}
		def = c.SubscriptionID
	case len(byName) > 0 && def == "":
		for name, id := range byName {
			if strings.EqualFold(id, c.SubscriptionID) || len(byName) == 1 {
				def = name
			}
		}
		if def == "" {
			errs = append(errs, fmt.Errorf("azure.defaultSubscription: must name the subscription commands without --subscription act in (one of %s)",
				strings.Join(sortedNames(byName), ", ")))
		}
	}
	if len(az.Subscriptions) > 0 && c.SubscriptionID != "" {
		listed := false
		for _, id := range byName {
			listed = listed || strings.EqualFold(id, c.SubscriptionID)
		}
		if !listed {
			errs = append(errs, fmt.Errorf("%s: %s is not listed under azure.subscriptions; list it there, or unset %s",
				EnvSubscriptionID, c.SubscriptionID, EnvSubscriptionID))
		}
	}
	if len(byName) == 0 || len(errs) > 0 {
		return errs
	}
	c.Subscriptions = aks.NewSubscriptions(byName, def)
	c.SubscriptionID = c.Subscriptions.Default
	for i, r := range c.File.Policy.Rules {
		for j, pat := range r.Match.Subscriptions {
			if strings.ContainsAny(pat, "*?[") || guidRE.MatchString(pat) {
				continue
			}
			if _, err := c.Subscriptions.Resolve(pat); err != nil {
				errs = append(errs, fmt.Errorf("policy.rules[%d].match.subscriptions[%d]: %q is not a configured subscription (known: %s)",
					i, j, pat, strings.Join(c.Subscriptions.Names(), ", ")))
			}
		}
	}
	return errs
}

var replicaIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const replicaIDRule = "up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"

// etcdEndpoints splits and checks AKSBOT_ETCD_ENDPOINTS: http or https URLs with host and port.
func etcdEndpoints(raw string) ([]string, []error) {
	if raw == "" {
		return nil, nil
	}
	var eps []string
	var errs []error
	for i, ep := range strings.Split(raw, ",") {
		ep = strings.TrimSpace(ep)
		u, err := url.Parse(ep)
		switch {
		case ep == "":
			errs = append(errs, fmt.Errorf("%s: endpoint %d is empty (write URLs separated by commas)", EnvEtcdEndpoints, i+1))
			continue
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("%s: %q is not an http or https URL like https://etcd-0:2379", EnvEtcdEndpoints, ep))
			continue
		case u.User != nil:
			// Credentials in the URL would be printed with it; the password has its own variable.
			errs = append(errs, fmt.Errorf("%s: endpoint %d holds credentials; put the user in store.etcd.username and the password in %s",
				EnvEtcdEndpoints, i+1, EnvEtcdPassword))
			continue
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("%s: %q must be scheme://host:port only", EnvEtcdEndpoints, ep))
			continue
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s: %q has no port (etcd listens on 2379 by default: %s://%s:2379)", EnvEtcdEndpoints, ep, u.Scheme, u.Host))
			continue
		}
		eps = append(eps, u.Scheme+"://"+u.Host)
	}
	return eps, errs
}

// checkEtcd checks what the etcd mode needs from the environment and the file together: the
// password with the username (both or neither: one alone would silently connect without
// auth), TLS with https, and readable TLS files. Outside the etcd mode only a stray password is
// an error; store.etcd is ignored then (the same file may serve both modes).
func (c Config) checkEtcd() []error {
	e := c.File.Store.Etcd
	if !c.Etcd() {
		if c.EtcdPassword != "" {
			return []error{fmt.Errorf("%s is set but %s is not: the password is only used with etcd", EnvEtcdPassword, EnvEtcdEndpoints)}
		}
		return nil
	}
	var errs []error
	switch {
	case e.Username != "" && c.EtcdPassword == "":
		errs = append(errs, fmt.Errorf("store.etcd.username is set but %s is not: set both, or neither without etcd auth", EnvEtcdPassword))
	case e.Username == "" && c.EtcdPassword != "":
		errs = append(errs, fmt.Errorf("%s is set but store.etcd.username is not: set both, or neither without etcd auth", EnvEtcdPassword))
	}
	if e.TLS.Set() {
		for _, ep := range c.EtcdEndpoints {
			if strings.HasPrefix(ep, "http://") {
				errs = append(errs, fmt.Errorf("store.etcd.tls: is set but %s has %s: use https:// endpoints", EnvEtcdEndpoints, ep))
				break
			}
		}
	}
	for _, f := range []struct{ key, path string }{{"store.etcd.tls.ca", e.TLS.CA}, {"store.etcd.tls.cert", e.TLS.Cert}, {"store.etcd.tls.key", e.TLS.Key}} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: cannot read %s: %w", f.key, f.path, err))
		}
	}
	return errs
}

func readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return errors.Unwrap(err) // the *PathError repeats the path
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("it is a directory")
	}
	_, err = fh.Read(make([]byte, 1))
	if err == io.EOF {
		return errors.New("it is empty")
	}
	return err
}

// slackMode decides the mode from the tokens. Its errors say which variable is wrong and name a
// token kind only by its well-known prefix, never by the value.
func slackMode(app, bot string) (Mode, error) {
	switch {
	case app == "" && bot == "":
		return ModeConsole, nil
	case app == "":
		return ModeSlack, fmt.Errorf("%s is set but %s is missing: set both for Slack (socket mode), or neither for the console",
			EnvSlackBotToken, EnvSlackAppToken)
	case bot == "":
		return ModeSlack, fmt.Errorf("%s is set but %s is missing: set both for Slack (socket mode), or neither for the console",
			EnvSlackAppToken, EnvSlackBotToken)
	}
	var errs []error
	if !strings.HasPrefix(app, "xapp-") {
		errs = append(errs, fmt.Errorf("%s must be an app-level token (starting with xapp-, made under Basic Information -> App-Level Tokens with scope connections:write)%s",
			EnvSlackAppToken, tokenKind(app)))
	}
	if !strings.HasPrefix(bot, "xoxb-") {
		errs = append(errs, fmt.Errorf("%s must be a bot token (starting with xoxb-, from OAuth & Permissions)%s",
			EnvSlackBotToken, tokenKind(bot)))
	}
	if strings.HasPrefix(app, "xoxb-") && strings.HasPrefix(bot, "xapp-") {
		errs = append(errs, fmt.Errorf("%s and %s look swapped", EnvSlackAppToken, EnvSlackBotToken))
	}
	return ModeSlack, errors.Join(errs...)
}

// tokenKind names the kind of a wrong token by its prefix, from a fixed list, so no part of the
// value itself reaches the message.
func tokenKind(token string) string {
	kinds := []struct{ prefix, name string }{
		{"xoxb-", "bot token"}, {"xapp-", "app-level token"}, {"xoxp-", "user token"},
		{"xoxe", "refresh or configuration token"}, {"xoxa-", "workspace token"}, {"xoxc-", "browser session token"},
	}
	for _, k := range kinds {
		if strings.HasPrefix(token, k.prefix) {
			return "; it looks like a " + k.name + " (" + k.prefix + "...)"
		}
	}
	return ""
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("%q is not an absolute %s URL", raw, strings.Join(schemes, " or "))
}

// loadFile reads the named configuration file, or aksbot.yaml in the working directory when it
// exists. It returns the defaults and "" when there is no file to read.
func loadFile(named string) (File, string, error) {
	name := named
	if name == "" {
		name = DefaultConfigFile
	}
	data, err := readLimited(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && named == "":
		f, err := Parse(nil)
		return f, "", err
	case errors.Is(err, fs.ErrNotExist):
		return File{}, "", fmt.Errorf("%s names %s, which does not exist", EnvConfigFile, name)
	case err != nil:
		return File{}, "", fmt.Errorf("read configuration file %s: %w", name, err)
	}
	f, err := Parse(data)
	if err != nil {
		return File{}, "", fmt.Errorf("configuration file %s: %w", name, err)
	}
	return f, name, nil
}

func readLimited(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("it is a directory")
	}
	// One byte over the limit lets Parse report the size instead of silently truncating.
	return io.ReadAll(io.LimitReader(fh, maxFileSize+1))
}

// String describes the configuration without the tokens.
func (c Config) String() string {
	return fmt.Sprintf("mode=%s slackToken=%s slackAPI=%s cloud=%s config=%s store=%s replica=%s",
		c.Mode, secretState(c.SlackBotToken), orDefault(c.SlackAPIURL, "default"), c.cloud(),
		orDefault(c.ConfigFile, "none"), c.store(), c.ReplicaID)
}

// GoString keeps %#v from printing the tokens.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// LogValue logs the configuration without the tokens.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", string(c.Mode)),
		slog.String("slackAppToken", secretState(c.SlackAppToken)),
		slog.String("slackBotToken", secretState(c.SlackBotToken)),
		slog.String("slackAPIURL", c.SlackAPIURL),
		slog.String("cloud", c.cloud()),
		slog.String("armEndpoint", c.ARMEndpoint),
		slog.String("configFile", c.ConfigFile),
		slog.String("db", c.DBPath),
		slog.String("store", c.store()),
		slog.String("etcdPassword", secretState(c.EtcdPassword)),
		slog.String("replicaID", c.ReplicaID),
		slog.String("httpAddr", c.HTTPAddr),
		slog.String("pricesURL", c.PricesURL),
		slog.String("currency", c.File.Prices.Currency),
		slog.Int("approvers", len(c.File.Policy.Approvers)),
		slog.Int("policyRules", len(c.File.Policy.Rules)),
		slog.Bool("requireApproval", c.File.Policy.ApprovalsRequired()),
		slog.Bool("eks", c.AWS.Enabled()),
		slog.String("awsRegions", strings.Join(c.AWS.Regions, ",")),
	)
}

// store says where the state is kept, without the password.
func (c Config) store() string {
	if c.Etcd() {
		return "etcd(" + strings.Join(c.EtcdEndpoints, ",") + ")" + c.File.Store.Etcd.Prefix
	}
	return "file:" + c.DBPath
}

func (c Config) cloud() string {
	if c.Simulated() {
		return "simulated"
	}
	return "azure/" + c.SubscriptionID
}

func secretState(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
