package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"go.yaml.in/yaml/v3"

	"github.com/aksbot/aksbot/internal/azure/aadtest"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// doctorEnv is a console environment in a fresh directory: a configuration file with content
// and a data file path that does not exist yet.
func doctorEnv(t *testing.T, content string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aksbot.yaml")
	writeConfig(t, cfg, content)
	return map[string]string{"AKSBOT_CONFIG": cfg, "AKSBOT_DB": filepath.Join(dir, "aksbot.db"), "AKSBOT_HTTP_ADDR": "off"}
}

// runDoctor runs `aksbot doctor` in process and returns its lines.
func runDoctor(t *testing.T, env map[string]string, ov overrides) ([]string, int) {
	t.Helper()
	out, errOut, code := runCLIWith(t, &invocation{ov: ov}, env, "doctor")
	if errOut != "" {
		t.Errorf("doctor wrote to stderr: %s", errOut)
	}
	for _, secret := range []string{appToken, botToken, "e2e-client-secret", aadtest.Token, "simulated-arm-token"} {
		if strings.Contains(out, secret) {
			t.Errorf("doctor's output contains a secret:\n%s", out)
		}
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), code
}

// line returns the line about what, failing the test when there is none.
func line(t *testing.T, lines []string, what string) string {
	t.Helper()
	for _, l := range lines {
		if _, rest, ok := strings.Cut(l, " "); ok && strings.HasPrefix(strings.TrimLeft(rest, " "), what+":") {
			return l
		}
	}
	t.Fatalf("no line about %q:\n%s", what, strings.Join(lines, "\n"))
	return ""
}

func wantLine(t *testing.T, lines []string, what, status string, contains ...string) {
	t.Helper()
	l := line(t, lines, what)
	if !strings.HasPrefix(l, status+" ") {
		t.Errorf("%s: status is not %s: %q", what, status, l)
	}
	for _, c := range contains {
		if !strings.Contains(l, c) {
			t.Errorf("%s: line lacks %q: %q", what, c, l)
		}
	}
}

func TestRequiredScopesMatchManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	got, want := slices.Clone(requiredBotScopes), m.OAuth.Scopes.Bot
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("doctor requires %v, manifest.yaml asks for %v", got, want)
	}
}

func TestDoctorConsoleMode(t *testing.T) {
	env := doctorEnv(t, "simulator:\n  speed: 10\n")
	lines, code := runDoctor(t, env, overrides{})
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, strings.Join(lines, "\n"))
	}
	wantLine(t, lines, "configuration", "ok", env["AKSBOT_CONFIG"])
	wantLine(t, lines, "slack", "ok", "console mode")
	wantLine(t, lines, "azure", "ok", "simulated cloud")
	wantLine(t, lines, "aws", "ok", "simulated EKS")
	wantLine(t, lines, "data file "+env["AKSBOT_DB"], "ok", "does not exist yet")
	if _, err := os.Stat(env["AKSBOT_DB"]); err == nil {
		t.Error("doctor created the data file")
	}
	if last := lines[len(lines)-1]; last != "doctor: 5 ok, 0 warn, 0 FAIL" {
		t.Errorf("summary = %q", last)
	}

	// An existing data file is opened and written to.
	st, err := store.Open(env["AKSBOT_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	lines, code = runDoctor(t, env, overrides{})
	wantLine(t, lines, "data file "+env["AKSBOT_DB"], "ok", "opened and written; 0 unfinished jobs")
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// A data file held by a running bot is fine; doctor says so and does not fail.
func TestDoctorDataFileInUse(t *testing.T) {
	env := doctorEnv(t, "")
	st, err := store.Open(env["AKSBOT_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lines, code := runDoctor(t, env, overrides{})
	wantLine(t, lines, "data file "+env["AKSBOT_DB"], "warn", "in use by a running aksbot (fine if the bot is running)")
	if code != exitOK {
		t.Errorf("exit %d, want 0 for a warning", code)
	}
}

func TestDoctorDataFileUnusable(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) string // returns AKSBOT_DB
		want    []string
	}{
		{"its directory is a file", func(t *testing.T, dir string) string {
			writeConfig(t, filepath.Join(dir, "notadir"), "x")
			return filepath.Join(dir, "notadir", "sub", "aksbot.db")
		}, []string{"cannot be created", "is not a directory", "set AKSBOT_DB"}},
		{"it is a directory", func(t *testing.T, dir string) string {
			return dir
		}, []string{"is a directory", "set AKSBOT_DB to a file"}},
		{"it is not a data file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "aksbot.db")
			writeConfig(t, p, strings.Repeat("not a bbolt file\n", 1000))
			return p
		}, []string{"cannot be opened", "set AKSBOT_DB to another path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := doctorEnv(t, "")
			env["AKSBOT_DB"] = tt.prepare(t, t.TempDir())
			lines, code := runDoctor(t, env, overrides{})
			wantLine(t, lines, "data file "+env["AKSBOT_DB"], "FAIL", tt.want...)
			if code != exitFailure {
				t.Errorf("exit %d, want 1", code)
			}
		})
	}
}

// Every configuration problem gets its own line, and the data file is still checked.
func TestDoctorConfigurationProblems(t *testing.T) {
	env := doctorEnv(t, "azure:\n  resourceGroups: rg-aks\njobs:\n  pollInterval: 1h\n")
	env["SLACK_BOT_TOKEN"] = botToken
	lines, code := runDoctor(t, env, overrides{})
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"FAIL configuration: SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN is missing",
		"FAIL configuration: configuration file " + env["AKSBOT_CONFIG"] + ": azure.resourceGroups: unknown key",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	wantLine(t, lines, "data file "+env["AKSBOT_DB"], "ok")
}

// scopedSlack puts a proxy in front of the fake Slack that adds the X-OAuth-Scopes header real
// Slack sends with Web API answers (the fake does not).
func scopedSlack(t *testing.T, sl *slacktest.Server, scopes string) string {
	t.Helper()
	target, err := url.Parse(sl.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	proxy.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("X-OAuth-Scopes", scopes)
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL + target.Path
}

func slackEnv(t *testing.T, apiURL string) map[string]string {
	env := doctorEnv(t, "policy:\n  approvers: [UAPP0001]\n")
	env["SLACK_APP_TOKEN"], env["SLACK_BOT_TOKEN"], env["SLACK_API_URL"] = appToken, botToken, apiURL
	return env
}

const allScopes = "commands,chat:write,chat:write.public,usergroups:read,users:read,channels:history,groups:history,channels:read"

func TestDoctorSlack(t *testing.T) {
	tests := []struct {
		name     string
		opts     []slacktest.Option
		scopes   string // "" = no header (the bare fake)
		wantCode int
		want     map[string][]string // check -> status, then words in the line
	}{
		{"all good", []slacktest.Option{slacktest.WithAppToken(appToken), slacktest.WithBotToken(botToken)}, allScopes, exitOK,
			map[string][]string{
				"slack bot token":   {"ok", "signed in as @aksbot in workspace slacktest"},
				"slack scopes":      {"ok", "chat:write.public"},
				"slack socket mode": {"ok", "can open a connection"},
			}},
		{"scopes missing", nil, "commands,chat:write", exitFailure,
			map[string][]string{"slack scopes": {"FAIL", "lacks chat:write.public, usergroups:read, users:read, channels:history, groups:history", "reinstall the app"}}},
		{"no scopes header", nil, "", exitOK,
			map[string][]string{"slack scopes": {"warn", "no X-OAuth-Scopes header"}}},
		{"bot token refused", []slacktest.Option{slacktest.WithBotToken("xoxb-another-one")}, allScopes, exitFailure,
			map[string][]string{
				"slack bot token":   {"FAIL", "auth.test refused SLACK_BOT_TOKEN (invalid_auth)", "Bot User OAuth Token"},
				"slack socket mode": {"ok"},
			}},
		{"app token refused", []slacktest.Option{slacktest.WithAppToken("xapp-another-one")}, allScopes, exitFailure,
			map[string][]string{
				"slack bot token":   {"ok"},
				"slack socket mode": {"FAIL", "apps.connections.open refused SLACK_APP_TOKEN (invalid_auth)", "connections:write"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sl := slacktest.NewServer(tt.opts...)
			t.Cleanup(sl.Close)
			apiURL := sl.APIURL()
			if tt.scopes != "" {
				apiURL = scopedSlack(t, sl, tt.scopes)
			}
			lines, code := runDoctor(t, slackEnv(t, apiURL), overrides{})
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d:\n%s", code, tt.wantCode, strings.Join(lines, "\n"))
			}
			for what, want := range tt.want {
				wantLine(t, lines, what, want[0], want[1:]...)
			}
			if sl.Calls("auth.test") != 1 || sl.Calls("apps.connections.open") != 1 {
				t.Errorf("auth.test called %d times, apps.connections.open %d times; want 1 each",
					sl.Calls("auth.test"), sl.Calls("apps.connections.open"))
			}
			if n := sl.Connections(); n != 0 {
				t.Errorf("%d socket mode connections open after doctor", n)
			}
		})
	}
}

// Rate limits are Slack's answer for now, not a fault of the configuration: a warning.
func TestDoctorSlackRateLimited(t *testing.T) {
	sl := slacktest.NewServer()
	t.Cleanup(sl.Close)
	sl.RateLimit("auth.test", 1, time.Second)
	sl.RateLimit("apps.connections.open", 1, time.Second)
	lines, code := runDoctor(t, slackEnv(t, sl.APIURL()), overrides{})
	wantLine(t, lines, "slack bot token", "warn", "rate-limited auth.test", "run doctor again")
	wantLine(t, lines, "slack socket mode", "warn", "rate-limited apps.connections.open")
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
}

func TestDoctorSlackUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	apiURL := srv.URL + "/api/"
	srv.Close()
	lines, code := runDoctor(t, slackEnv(t, apiURL), overrides{})
	wantLine(t, lines, "slack bot token", "FAIL", "cannot reach Slack at "+apiURL, "SLACK_API_URL")
	wantLine(t, lines, "slack socket mode", "FAIL", "cannot reach Slack")
	if code != exitFailure {
		t.Errorf("exit %d", code)
	}
}

// armWorld is the simulated cloud behind HTTPS, with resource groups that answer as Azure does
// when the identity has no role on them or they do not exist.
func armWorld(t *testing.T) *httptest.Server {
	t.Helper()
	cloud, err := sim.New(sim.Options{DB: simDB(t), Durations: fastAzure(), RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Seed(context.Background(), "rg-aks", "demo", "westeurope"); err != nil {
		t.Fatal(err)
	}
	h := cloud.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.ToLower(r.URL.Path)
		switch {
		case strings.Contains(path, "/resourcegroups/rg-denied/"):
			armError(w, http.StatusForbidden, "AuthorizationFailed", "The client '00000000-0000-0000-0000-00000000c1d0' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/read' over scope '/subscriptions/x/resourceGroups/rg-denied'.")
		case strings.Contains(path, "/resourcegroups/rg-missing/"):
			armError(w, http.StatusNotFound, "ResourceGroupNotFound", "Resource group 'rg-missing' could not be found.")
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// entraCredential is azidentity's client-secret credential against a fake Entra ID; its TLS
// trust is handed in (in process, SSL_CERT_FILE cannot be set per test).
func entraCredential(t *testing.T, authority *httptest.Server) azcore.TokenCredential {
	t.Helper()
	opts := &azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true}
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority.URL + "/"}
	opts.Transport = authority.Client()
	cred, err := azidentity.NewClientSecretCredential("00000000-0000-0000-0000-00000000beef", "00000000-0000-0000-0000-00000000c1d0", "e2e-client-secret", opts)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func azureEnv(t *testing.T, arm *httptest.Server, rg string) map[string]string {
	env := doctorEnv(t, "azure:\n  resourceGroup: "+rg+"\n")
	env["AZURE_SUBSCRIPTION_ID"], env["AKSBOT_ARM_ENDPOINT"] = sim.SubscriptionID, arm.URL
	return env
}

func TestDoctorAzure(t *testing.T) {
	arm := armWorld(t)
	aad := aadtest.NewServer()
	t.Cleanup(aad.Close)
	ov := overrides{armTransport: arm.Client(), armCredential: entraCredential(t, aad.Server)}

	tests := []struct {
		rg       string
		wantCode int
		status   string
		want     []string
	}{
		{"rg-aks", exitOK, "ok", []string{"can list its managed clusters (1)"}},
		{"rg-empty", exitOK, "ok", []string{"can list its managed clusters (0)"}},
		{"rg-denied", exitFailure, "FAIL", []string{"no read access (Azure: AuthorizationFailed:", "Azure Kubernetes Service Contributor Role",
			"--scope /subscriptions/" + sim.SubscriptionID + "/resourceGroups/rg-denied"}},
		{"rg-missing", exitFailure, "FAIL", []string{"not found in subscription " + sim.SubscriptionID, "azure.resourceGroup"}},
	}
	for _, tt := range tests {
		t.Run(tt.rg, func(t *testing.T) {
			lines, code := runDoctor(t, azureEnv(t, arm, tt.rg), ov)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d:\n%s", code, tt.wantCode, strings.Join(lines, "\n"))
			}
			wantLine(t, lines, "azure credential", "ok", "got a token for Azure Resource Manager (https://management.core.windows.net/)")
			wantLine(t, lines, "azure resource group "+tt.rg, tt.status, tt.want...)
			wantLine(t, lines, "azure quota westeurope", "ok", "can read the vCPU quotas and VM sizes (Total Regional vCPUs: 6 of 100 in use)")
			wantLine(t, lines, "slack", "ok", "console mode")
		})
	}
	if aad.Tokens() == 0 {
		t.Error("no token was asked of the fake Entra ID")
	}
}

// An identity without Reader on the subscription cannot read Compute usages: a warning that
// names the role, and the bot still runs.
func TestDoctorAzureQuotaDenied(t *testing.T) {
	arm := armWorld(t)
	denied := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(strings.ToLower(r.URL.Path), "/providers/microsoft.compute/") {
			armError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.Compute/locations/usages/read'.")
			return
		}
		r.URL.Scheme, r.URL.Host = "https", strings.TrimPrefix(arm.URL, "https://")
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := arm.Client().Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(denied.Close)
	aad := aadtest.NewServer()
	t.Cleanup(aad.Close)
	lines, code := runDoctor(t, azureEnv(t, denied, "rg-aks"), overrides{armTransport: denied.Client(), armCredential: entraCredential(t, aad.Server)})
	if code != exitOK {
		t.Errorf("exit %d, want 0 (a warning):\n%s", code, strings.Join(lines, "\n"))
	}
	wantLine(t, lines, "azure resource group rg-aks", "ok")
	wantLine(t, lines, "azure quota westeurope", "warn", `plans will say "quota not checked"`, "Microsoft.Compute/locations/usages/read",
		"--role Reader --scope /subscriptions/"+sim.SubscriptionID)
}

// An identity Entra ID refuses fails the credential check, and no resource group is tried.
func TestDoctorAzureCredentialRefused(t *testing.T) {
	arm := armWorld(t)
	var authority *httptest.Server
	authority = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			base := authority.URL + "/00000000-0000-0000-0000-00000000beef"
			_ = json.NewEncoder(w).Encode(map[string]string{"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": base + "/oauth2/v2.0/token", "issuer": base + "/v2.0"})
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
	}))
	t.Cleanup(authority.Close)
	lines, code := runDoctor(t, azureEnv(t, arm, "rg-aks"), overrides{armTransport: arm.Client(), armCredential: entraCredential(t, authority)})
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, lines, "azure credential", "FAIL", "no token for Azure Resource Manager", "AADSTS7000215", "AZURE_CLIENT_SECRET")
	for _, l := range lines {
		if strings.Contains(l, "resource group") {
			t.Errorf("a resource group was checked without a token: %q", l)
		}
	}
}

// The binary as it runs in production: configured only through the environment, real
// azidentity from AZURE_* variables against a fake Entra ID, TLS trust from SSL_CERT_FILE.
func TestDoctorBinaryAgainstSlackAndAzure(t *testing.T) {
	arm := armWorld(t)
	aad := aadtest.NewServer()
	t.Cleanup(aad.Close)
	sl := slacktest.NewServer(slacktest.WithAppToken(appToken), slacktest.WithBotToken(botToken))
	t.Cleanup(sl.Close)

	env := slackEnv(t, scopedSlack(t, sl, allScopes))
	writeConfig(t, env["AKSBOT_CONFIG"], "azure:\n  resourceGroup: rg-aks\npolicy:\n  approvers: [UAPP0001]\n")
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	// httptest's TLS servers share one certificate, so trusting the ARM server's trusts Entra ID's.
	writeConfig(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: arm.Certificate().Raw})))
	env["AZURE_SUBSCRIPTION_ID"], env["AKSBOT_ARM_ENDPOINT"] = sim.SubscriptionID, arm.URL
	env["AZURE_AUTHORITY_HOST"] = aad.URL
	env["AZURE_TENANT_ID"] = "00000000-0000-0000-0000-00000000beef"
	env["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-00000000c1d0"
	env["AZURE_CLIENT_SECRET"] = "e2e-client-secret"
	env["SSL_CERT_FILE"] = certFile

	cmd := exec.Command(botBinary(t), "doctor")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String()
	if err != nil {
		t.Fatalf("aksbot doctor: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, what := range []string{"configuration", "slack bot token", "slack scopes", "slack socket mode", "azure credential",
		"azure resource group rg-aks", "azure quota westeurope", "data file " + env["AKSBOT_DB"]} {
		wantLine(t, lines, what, "ok")
	}
	if last := lines[len(lines)-1]; last != "doctor: 8 ok, 0 warn, 0 FAIL" {
		t.Errorf("summary = %q", last)
	}
	for _, secret := range []string{appToken, botToken, "e2e-client-secret", aadtest.Token} {
		if strings.Contains(out+stderr.String(), secret) {
			t.Errorf("a secret appears in doctor's output")
		}
	}
	if aad.Tokens() == 0 {
		t.Error("the binary did not get its token from the fake Entra ID")
	}
}

// Each configured subscription is checked: its resource groups (the default one and those the
// policy names for it) and its quota, each line naming the subscription.
func TestDoctorAzureSubscriptions(t *testing.T) {
	arm := armWorld(t)
	aad := aadtest.NewServer()
	t.Cleanup(aad.Close)
	ov := overrides{armTransport: arm.Client(), armCredential: entraCredential(t, aad.Server)}
	env := doctorEnv(t, "azure:\n  resourceGroup: rg-aks\n  subscriptions:\n    dev: "+sim.SubscriptionID+"\n    prod: "+sim.ProdSubscriptionID+
		"\n  defaultSubscription: dev\npolicy:\n  approvers: [U0LEAD]\n  rules:\n    - name: prod\n      match: {subscriptions: [prod], resourceGroups: [rg-denied]}\n")
	env["AKSBOT_ARM_ENDPOINT"] = arm.URL
	lines, code := runDoctor(t, env, ov)
	if code != exitFailure {
		t.Errorf("exit %d, want %d (rg-denied in prod):\n%s", code, exitFailure, strings.Join(lines, "\n"))
	}
	wantLine(t, lines, "azure resource group rg-aks (subscription dev)", "ok", "can list its managed clusters (1)")
	wantLine(t, lines, "azure resource group rg-aks (subscription prod)", "ok", "can list its managed clusters (0)")
	wantLine(t, lines, "azure resource group rg-denied (subscription prod)", "FAIL", "no read access", "/subscriptions/"+sim.ProdSubscriptionID+"/resourceGroups/rg-denied")
	wantLine(t, lines, "azure quota westeurope (subscription dev)", "ok", "can read the vCPU quotas")
	wantLine(t, lines, "azure quota westeurope (subscription prod)", "ok", "can read the vCPU quotas")
	for _, l := range lines {
		if strings.Contains(l, "rg-denied (subscription dev)") {
			t.Errorf("dev checked for a group only prod's rule names: %s", l)
		}
	}
}
