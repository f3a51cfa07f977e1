package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fake tokens: long enough that a leak of any part of them is found by containsSecret.
const (
	appToken = "xapp-1-A0SECRETAPP-1234567890-abcdefabcdefabcdefabcdef"
	botToken = "xoxb-1234567890-0987654321-SECRETBOTxyzxyzxyzxyz"
	subID    = "0b1f6471-1bf0-4dda-aec3-111122223333"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// inDir runs the test in an empty directory, so that an aksbot.yaml of the developer's is not read.
func inDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const approversFile = "policy:\n  approvers: [U0APPROVER]\n"

func TestLoadModes(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		file     string // aksbot.yaml content; "" = no file
		wantMode Mode
		wantErr  []string
	}{
		{name: "no tokens is console", env: map[string]string{}, wantMode: ModeConsole},
		{name: "blank tokens are unset", env: map[string]string{EnvSlackAppToken: "  ", EnvSlackBotToken: "\n"}, wantMode: ModeConsole},
		{name: "both tokens is slack", env: map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: botToken}, file: approversFile, wantMode: ModeSlack},
		{name: "tokens with a trailing newline", env: map[string]string{EnvSlackAppToken: appToken + "\n", EnvSlackBotToken: botToken + "\n"}, file: approversFile, wantMode: ModeSlack},
		{name: "bot token missing", env: map[string]string{EnvSlackAppToken: appToken},
			wantErr: []string{"SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is missing"}},
		{name: "app token missing", env: map[string]string{EnvSlackBotToken: botToken},
			wantErr: []string{"SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN is missing"}},
		{name: "app token wrong prefix", env: map[string]string{EnvSlackAppToken: "nope-" + appToken, EnvSlackBotToken: botToken}, file: approversFile,
			wantErr: []string{"SLACK_APP_TOKEN must be an app-level token (starting with xapp-"}},
		{name: "user token as bot token", env: map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: "xoxp-" + botToken[5:]}, file: approversFile,
			wantErr: []string{"SLACK_BOT_TOKEN must be a bot token (starting with xoxb-", "looks like a user token (xoxp-...)"}},
		{name: "swapped tokens", env: map[string]string{EnvSlackAppToken: botToken, EnvSlackBotToken: appToken}, file: approversFile,
			wantErr: []string{"look swapped", "SLACK_APP_TOKEN must be", "SLACK_BOT_TOKEN must be"}},
		{name: "slack without approvers", env: map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: botToken},
			wantErr: []string{"no approvers", "policy.approvers", "policy.requireApproval: false"}},
		{name: "slack without approvers, approvals on explicitly", env: map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: botToken},
			file: "policy:\n  requireApproval: true\n", wantErr: []string{"no approvers", "aksbot.yaml"}},
		{name: "slack with approvals off", env: map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: botToken},
			file: "policy:\n  requireApproval: false\n", wantMode: ModeSlack},
		{name: "console without approvers", env: map[string]string{}, file: "policy:\n  requireApproval: true\n", wantMode: ModeConsole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := inDir(t)
			if tt.file != "" {
				writeFile(t, filepath.Join(dir, DefaultConfigFile), tt.file)
			}
			c, err := Load(envOf(tt.env))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Load succeeded: %v", c)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				if s := containsSecret(err.Error()); s != "" {
					t.Errorf("error leaks token material %q: %v", s, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Mode != tt.wantMode {
				t.Errorf("mode = %s, want %s", c.Mode, tt.wantMode)
			}
			if c.Mode == ModeSlack && (c.SlackAppToken != appToken || c.SlackBotToken != botToken) {
				t.Errorf("tokens were not kept (trimmed) as given")
			}
		})
	}
}

func TestLoadEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if !c.Simulated() || c.SubscriptionID != "" {
				t.Errorf("want the simulated cloud, got subscription %q", c.SubscriptionID)
			}
			if c.DBPath != "aksbot.db" || c.ARMAudience != "https://management.core.windows.net/" || c.ConfigFile != "" {
				t.Errorf("defaults wrong: %+v", c)
			}
			if c.File.Azure.ResourceGroup != "rg-aks" || c.File.Azure.Location != "westeurope" {
				t.Errorf("file defaults not applied: %+v", c.File.Azure)
			}
		}},
		{name: "subscription means azure", env: map[string]string{EnvSubscriptionID: subID}, check: func(t *testing.T, c Config) {
			if c.Simulated() || c.SubscriptionID != subID {
				t.Errorf("subscription = %q", c.SubscriptionID)
			}
		}},
		{name: "bad subscription", env: map[string]string{EnvSubscriptionID: "my-sub"}, wantErr: `AZURE_SUBSCRIPTION_ID: "my-sub" is not a subscription ID`},
		{name: "custom cloud", env: map[string]string{EnvSubscriptionID: subID, EnvARMEndpoint: "https://127.0.0.1:8443",
			EnvAuthorityHost: "https://login.example.test/", EnvARMAudience: "https://arm.example.test/"},
			check: func(t *testing.T, c Config) {
				if c.ARMEndpoint != "https://127.0.0.1:8443" || c.AuthorityHost != "https://login.example.test/" || c.ARMAudience != "https://arm.example.test/" {
					t.Errorf("endpoints = %q %q %q", c.ARMEndpoint, c.AuthorityHost, c.ARMAudience)
				}
			}},
		{name: "custom endpoint, default audience", env: map[string]string{EnvSubscriptionID: subID, EnvARMEndpoint: "https://arm.example.test"},
			check: func(t *testing.T, c Config) {
				if c.ARMAudience != DefaultARMAudience {
					t.Errorf("audience = %q", c.ARMAudience)
				}
			}},
		{name: "endpoint over http", env: map[string]string{EnvSubscriptionID: subID, EnvARMEndpoint: "http://127.0.0.1:8080"},
			wantErr: `AKSBOT_ARM_ENDPOINT: "http://127.0.0.1:8080" is not an absolute https URL`},
		{name: "endpoint without host", env: map[string]string{EnvSubscriptionID: subID, EnvARMEndpoint: "https:///x"},
			wantErr: "AKSBOT_ARM_ENDPOINT"},
		{name: "endpoint without subscription", env: map[string]string{EnvARMEndpoint: "https://arm.example.test"},
			wantErr: "AKSBOT_ARM_ENDPOINT is set but AZURE_SUBSCRIPTION_ID is not"},
		{name: "audience without endpoint", env: map[string]string{EnvSubscriptionID: subID, EnvARMAudience: "https://x/"},
			wantErr: "AKSBOT_ARM_AUDIENCE is set but AKSBOT_ARM_ENDPOINT is not"},
		{name: "authority over http", env: map[string]string{EnvSubscriptionID: subID, EnvAuthorityHost: "http://login.example.test/"},
			wantErr: "AZURE_AUTHORITY_HOST"},
		{name: "slack api url", env: map[string]string{EnvSlackAPIURL: "http://127.0.0.1:3000/api/"}, check: func(t *testing.T, c Config) {
			if c.SlackAPIURL != "http://127.0.0.1:3000/api/" {
				t.Errorf("SlackAPIURL = %q", c.SlackAPIURL)
			}
		}},
		{name: "slack api url without slash", env: map[string]string{EnvSlackAPIURL: "https://slack.example.test/api"},
			wantErr: `SLACK_API_URL must end with "/"`},
		{name: "slack api url not a url", env: map[string]string{EnvSlackAPIURL: "slack/"},
			wantErr: `SLACK_API_URL: "slack/" is not an absolute http or https URL`},
		{name: "db path", env: map[string]string{EnvDB: "state/jobs.db"}, check: func(t *testing.T, c Config) {
			if c.DBPath != "state/jobs.db" {
				t.Errorf("DBPath = %q", c.DBPath)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			c, err := Load(envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadReportsAllProblems(t *testing.T) {
	inDir(t)
	_, err := Load(envOf(map[string]string{EnvSlackAppToken: appToken, EnvSlackAPIURL: "https://x/api", EnvSubscriptionID: "nope"}))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, w := range []string{EnvSlackBotToken, EnvSlackAPIURL, EnvSubscriptionID} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
}

func TestLoadFileDiscovery(t *testing.T) {
	t.Run("aksbot.yaml in the working directory", func(t *testing.T) {
		dir := inDir(t)
		writeFile(t, filepath.Join(dir, "aksbot.yaml"), "azure:\n  location: swedencentral\n")
		c, err := Load(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfigFile != "aksbot.yaml" || c.File.Azure.Location != "swedencentral" {
			t.Fatalf("file not read: %q %+v", c.ConfigFile, c.File.Azure)
		}
	})
	t.Run("AKSBOT_CONFIG wins over aksbot.yaml", func(t *testing.T) {
		dir := inDir(t)
		writeFile(t, filepath.Join(dir, "aksbot.yaml"), "azure:\n  location: swedencentral\n")
		other := filepath.Join(t.TempDir(), "prod.yaml")
		writeFile(t, other, "azure:\n  location: eastus2\n")
		c, err := Load(envOf(map[string]string{EnvConfigFile: other}))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfigFile != other || c.File.Azure.Location != "eastus2" {
			t.Fatalf("named file not read: %q %+v", c.ConfigFile, c.File.Azure)
		}
	})
	t.Run("named file missing", func(t *testing.T) {
		inDir(t)
		_, err := Load(envOf(map[string]string{EnvConfigFile: "missing.yaml"}))
		if err == nil || !strings.Contains(err.Error(), "AKSBOT_CONFIG names missing.yaml, which does not exist") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("no file", func(t *testing.T) {
		inDir(t)
		c, err := Load(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfigFile != "" {
			t.Fatalf("ConfigFile = %q, want none", c.ConfigFile)
		}
	})
	t.Run("named directory", func(t *testing.T) {
		dir := inDir(t)
		_, err := Load(envOf(map[string]string{EnvConfigFile: dir}))
		if err == nil || !strings.Contains(err.Error(), "directory") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("invalid file names the file and the key", func(t *testing.T) {
		dir := inDir(t)
		writeFile(t, filepath.Join(dir, "aksbot.yaml"), "policy:\n  approvers: [alice]\n")
		_, err := Load(envOf(nil))
		if err == nil || !strings.Contains(err.Error(), "configuration file aksbot.yaml") ||
			!strings.Contains(err.Error(), `policy.approvers[0]: "alice"`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		dir := inDir(t)
		writeFile(t, filepath.Join(dir, "aksbot.yaml"), "# "+strings.Repeat("x", maxFileSize)+"\n")
		_, err := Load(envOf(nil))
		if err == nil || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestConfigPrintingHidesTokens(t *testing.T) {
	dir := inDir(t)
	writeFile(t, filepath.Join(dir, "aksbot.yaml"), approversFile)
	c, err := Load(envOf(map[string]string{EnvSlackAppToken: appToken, EnvSlackBotToken: botToken}))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		if s := containsSecret(out); s != "" {
			t.Errorf("output leaks %q: %s", s, out)
		}
		if !strings.Contains(out, "slack") {
			t.Errorf("output does not say the mode: %s", out)
		}
	}
}

// containsSecret returns a piece of a token found in s, or "". Any 8 characters of the random
// part count: the prefixes (xapp-, xoxb-) are not secret, but nothing after them may appear.
func containsSecret(s string) string {
	for _, tok := range []string{appToken, botToken} {
		secret := tok[5:]
		for i := 0; i+8 <= len(secret); i++ {
			if strings.Contains(s, secret[i:i+8]) {
				return secret[i : i+8]
			}
		}
	}
	return ""
}

func TestSlackModeAcceptsApproversInRulesOnly(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/aksbot.yaml"
	write := func(yaml string) {
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{EnvSlackAppToken: "xapp-1-x", EnvSlackBotToken: "xoxb-x", EnvConfigFile: file}
	write("policy:\n  rules:\n    - name: prod\n      match: {clusters: [\"prod-*\"]}\n      approvers: [U0LEAD01]\n")
	if _, err := Load(func(k string) string { return env[k] }); err != nil {
		t.Errorf("approvers only in a rule: %v", err)
	}
	write("policy:\n  channels: [C0OPS01]\n")
	if _, err := Load(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "no approvers") {
		t.Errorf("no approvers anywhere: %v, want refused", err)
	}
}
