package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseEtcdDefaultsAndValues(t *testing.T) {
	f, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := f.Store.Etcd
	if e.Prefix != "/aksbot/" || e.LeaseTTL.Duration != 10*time.Second || e.DialTimeout.Duration != 5*time.Second || e.TLS.Set() || e.Username != "" {
		t.Errorf("defaults = %+v", e)
	}

	f, err = Parse([]byte(`
store:
  etcd:
    prefix: /bots/prod/
    leaseTTL: 15s
    dialTimeout: 2s
    tls: {ca: ca.pem, cert: bot.pem, key: bot-key.pem}
    username: aksbot
`))
	if err != nil {
		t.Fatal(err)
	}
	e = f.Store.Etcd
	if e.Prefix != "/bots/prod/" || e.LeaseTTL.Duration != 15*time.Second || e.DialTimeout.Duration != 2*time.Second ||
		e.TLS != (EtcdTLSFile{CA: "ca.pem", Cert: "bot.pem", Key: "bot-key.pem"}) || e.Username != "aksbot" {
		t.Errorf("values = %+v", e)
	}
}

func TestParseEtcdRejects(t *testing.T) {
	for doc, want := range map[string]string{
		"store: {etcd: {prefix: aksbot/}}":             `store.etcd.prefix: "aksbot/" must start and end with "/"`,
		"store: {etcd: {prefix: /aksbot}}":             `store.etcd.prefix: "/aksbot" must start and end with "/"`,
		"store: {etcd: {prefix: ''}}":                  `store.etcd.prefix: "" must start and end`,
		"store: {etcd: {prefix: '/a b/'}}":             `store.etcd.prefix: "/a b/" must not contain spaces`,
		"store: {etcd: {leaseTTL: 1s}}":                "store.etcd.leaseTTL: 1s is out of range: use 2s to 1m0s",
		"store: {etcd: {leaseTTL: 2m}}":                "store.etcd.leaseTTL: 2m0s is out of range",
		"store: {etcd: {leaseTTL: 0s}}":                "store.etcd.leaseTTL: 0s is out of range",
		"store: {etcd: {leaseTTL: ten}}":               `store.etcd.leaseTTL: "ten" is not a duration`,
		"store: {etcd: {dialTimeout: 0s}}":             "store.etcd.dialTimeout: 0s: must be above 0",
		"store: {etcd: {dialTimeout: -1s}}":            "store.etcd.dialTimeout: -1s: must be above 0",
		"store: {etcd: {tls: {cert: a.pem}}}":          "store.etcd.tls: cert and key go together",
		"store: {etcd: {tls: {key: a.pem}}}":           "store.etcd.tls: cert and key go together",
		"store: {etcd: {tls: {crt: a.pem}}}":           "store.etcd.tls.crt: unknown key (known keys in store.etcd.tls: ca, cert, key)",
		"store: {etcd: {endpoints: [http://x:1]}}":     "store.etcd.endpoints: unknown key",
		"store: {etcd: {password: x}}":                 "store.etcd.password: unknown key",
		"store: {bolt: {}}":                            "store.bolt: unknown key (known keys in store: etcd)",
		"store: {etcd: {username: 'a b'}}":             `store.etcd.username: "a b" must not contain spaces`,
		"store: {etcd: {username: [a]}}":               "store.etcd.username: expected a single value",
		"store: {etcd: {prefix: /x/, leaseTTL: 1m1s}}": "store.etcd.leaseTTL",
	} {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", doc, err, want)
		}
	}
}

func TestLoadEtcd(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "ca.pem")
	writeFile(t, pem, "-----BEGIN CERTIFICATE-----\n")
	empty := filepath.Join(dir, "empty.pem")
	writeFile(t, empty, "")
	const eps = "https://etcd-0:2379, https://etcd-1:2379"
	tests := []struct {
		name    string
		env     map[string]string
		file    string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "unset: the data file", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if c.Etcd() || c.EtcdEndpoints != nil {
				t.Errorf("etcd mode without endpoints: %v", c.EtcdEndpoints)
			}
		}},
		{name: "endpoints", env: map[string]string{EnvEtcdEndpoints: eps}, check: func(t *testing.T, c Config) {
			if !c.Etcd() || strings.Join(c.EtcdEndpoints, " ") != "https://etcd-0:2379 https://etcd-1:2379" {
				t.Errorf("endpoints = %q", c.EtcdEndpoints)
			}
		}},
		{name: "ipv6 endpoint", env: map[string]string{EnvEtcdEndpoints: "http://[::1]:2379/"}, check: func(t *testing.T, c Config) {
			if strings.Join(c.EtcdEndpoints, " ") != "http://[::1]:2379" {
				t.Errorf("endpoints = %q", c.EtcdEndpoints)
			}
		}},
		{name: "no scheme", env: map[string]string{EnvEtcdEndpoints: "etcd-0:2379"}, wantErr: `AKSBOT_ETCD_ENDPOINTS: "etcd-0:2379" is not an http or https URL`},
		{name: "grpc scheme", env: map[string]string{EnvEtcdEndpoints: "unix://etcd.sock:0"}, wantErr: "is not an http or https URL"},
		{name: "no port", env: map[string]string{EnvEtcdEndpoints: "https://etcd-0"}, wantErr: `AKSBOT_ETCD_ENDPOINTS: "https://etcd-0" has no port`},
		{name: "empty item", env: map[string]string{EnvEtcdEndpoints: "https://etcd-0:2379,,"}, wantErr: "AKSBOT_ETCD_ENDPOINTS: endpoint 2 is empty"},
		{name: "path", env: map[string]string{EnvEtcdEndpoints: "https://etcd-0:2379/v3"}, wantErr: "must be scheme://host:port only"},
		{name: "credentials in the URL", env: map[string]string{EnvEtcdEndpoints: "https://root:hunter2@etcd-0:2379"},
			wantErr: "AKSBOT_ETCD_ENDPOINTS: endpoint 1 holds credentials"},
		{name: "username and password", env: map[string]string{EnvEtcdEndpoints: eps, EnvEtcdPassword: " p w "},
			file: "store: {etcd: {username: aksbot}}", check: func(t *testing.T, c Config) {
				if c.EtcdPassword != " p w " || c.File.Store.Etcd.Username != "aksbot" {
					t.Errorf("password kept as %q, username %q", c.EtcdPassword, c.File.Store.Etcd.Username)
				}
			}},
		{name: "username without password", env: map[string]string{EnvEtcdEndpoints: eps}, file: "store: {etcd: {username: aksbot}}",
			wantErr: "store.etcd.username is set but AKSBOT_ETCD_PASSWORD is not"},
		{name: "password without username", env: map[string]string{EnvEtcdEndpoints: eps, EnvEtcdPassword: "pw"},
			wantErr: "AKSBOT_ETCD_PASSWORD is set but store.etcd.username is not"},
		{name: "password without etcd", env: map[string]string{EnvEtcdPassword: "pw"},
			wantErr: "AKSBOT_ETCD_PASSWORD is set but AKSBOT_ETCD_ENDPOINTS is not"},
		{name: "username without etcd is ignored", env: map[string]string{}, file: "store: {etcd: {username: aksbot, tls: {ca: /nonexistent/ca.pem}}}",
			check: func(t *testing.T, c Config) {}},
		{name: "tls with https", env: map[string]string{EnvEtcdEndpoints: eps}, file: "store: {etcd: {tls: {ca: " + pem + "}}}",
			check: func(t *testing.T, c Config) {
				if c.File.Store.Etcd.TLS.CA != pem {
					t.Errorf("ca = %q", c.File.Store.Etcd.TLS.CA)
				}
			}},
		{name: "tls with http", env: map[string]string{EnvEtcdEndpoints: "http://etcd-0:2379"}, file: "store: {etcd: {tls: {ca: " + pem + "}}}",
			wantErr: "store.etcd.tls: is set but AKSBOT_ETCD_ENDPOINTS has http://etcd-0:2379"},
		{name: "missing tls file", env: map[string]string{EnvEtcdEndpoints: eps}, file: "store: {etcd: {tls: {ca: " + filepath.Join(dir, "nope.pem") + "}}}",
			wantErr: "store.etcd.tls.ca: cannot read " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{name: "empty tls file", env: map[string]string{EnvEtcdEndpoints: eps}, file: "store: {etcd: {tls: {cert: " + pem + ", key: " + empty + "}}}",
			wantErr: "store.etcd.tls.key: cannot read " + empty + ": it is empty"},
		{name: "tls file is a directory", env: map[string]string{EnvEtcdEndpoints: eps}, file: "store: {etcd: {tls: {ca: " + dir + "}}}",
			wantErr: "store.etcd.tls.ca: cannot read " + dir + ": it is a directory"},
		{name: "replica id", env: map[string]string{EnvReplicaID: "aksbot-0"}, check: func(t *testing.T, c Config) {
			if c.ReplicaID != "aksbot-0" {
				t.Errorf("ReplicaID = %q", c.ReplicaID)
			}
		}},
		{name: "replica id defaults to the hostname", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if host, _ := os.Hostname(); c.ReplicaID != host || host == "" {
				t.Errorf("ReplicaID = %q, hostname %q", c.ReplicaID, host)
			}
		}},
		{name: "bad replica id", env: map[string]string{EnvReplicaID: "a/b"}, wantErr: `AKSBOT_REPLICA_ID: "a/b" is no replica ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := inDir(t)
			if tt.file != "" {
				writeFile(t, filepath.Join(d, "aksbot.yaml"), tt.file)
			}
			c, err := Load(envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error contains the password: %v", err)
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

func TestConfigPrintingHidesEtcdPassword(t *testing.T) {
	dir := inDir(t)
	writeFile(t, filepath.Join(dir, "aksbot.yaml"), "store: {etcd: {username: aksbot, prefix: /bots/}}")
	const password = "etcd-Secret-9f8e7d"
	c, err := Load(envOf(map[string]string{EnvEtcdEndpoints: "http://127.0.0.1:2379", EnvEtcdPassword: password, EnvReplicaID: "r1"}))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		if strings.Contains(out, password) {
			t.Errorf("output leaks the etcd password: %s", out)
		}
		if !strings.Contains(out, "etcd(http://127.0.0.1:2379)/bots/") || !strings.Contains(out, "r1") {
			t.Errorf("output does not say the store and replica: %s", out)
		}
	}
}
