package main

import (
	"bytes"
	"context"
	"flag"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// runCLI runs the binary in process with args and the environment env.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIWith(t, &invocation{}, env, args...)
}

func runCLIWith(t *testing.T, inv *invocation, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	inv.getenv = func(k string) string { return env[k] }
	inv.stdin, inv.stdout, inv.stderr = strings.NewReader(""), &out, &errOut
	code := dispatch(context.Background(), args, inv)
	return out.String(), errOut.String(), code
}

func TestVersionPrintsBuildFacts(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "version")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"aksbot ", "module     github.com/aksbot/aksbot", "revision   ", "committed  ", "go         " + runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/aksbot/aksbot", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-27T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name, release string
		bi            *debug.BuildInfo
		want          []string
	}{
		{"release from ldflags", "v1.2.3", bi, []string{"aksbot v1.2.3\n", "module     github.com/aksbot/aksbot v0.3.0\n",
			"revision   0123abcd (with uncommitted changes)\n", "committed  2026-11-27T10:00:00Z\n", "go         go1.26.1 "}},
		{"module version without ldflags", "", bi, []string{"aksbot v0.3.0\n"}},
		{"no build info", "", nil, []string{"aksbot unknown\n", "revision   unknown (built without VCS information)\n", "committed  unknown\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeVersion(&b, tt.release, tt.bi)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// The release is set the way a release build sets it, and VCS facts come from the checkout.
func TestVersionSetWithLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "aksbot")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("aksbot version: %v", err)
	}
	if !strings.HasPrefix(string(out), "aksbot v9.8.7-test\n") {
		t.Errorf("version output does not start with the release:\n%s", out)
	}
}

func TestHelpGoesToStdoutWithExitZero(t *testing.T) {
	cases := [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}}
	for _, c := range commands() {
		words := strings.Fields(c.Name)
		cases = append(cases, append(words, "--help"), append(words, "-h"), append([]string{"help"}, words...))
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, args...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			want := "Usage: aksbot"
			if len(args) >= 2 {
				name := strings.Join(args[:len(args)-1], " ")
				if args[0] == "help" && !strings.HasPrefix(args[len(args)-1], "-") {
					name = strings.Join(args[1:], " ")
				}
				want = "Usage: aksbot " + name
			}
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		})
	}
	out, _, _ := runCLI(t, nil, "help")
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.Name) || !strings.Contains(out, c.Summary) {
			t.Errorf("the list of commands lacks %s:\n%s", c.Name, out)
		}
	}
	out, _, _ = runCLI(t, nil, "doctor", "--help")
	if !strings.Contains(out, "-timeout duration") {
		t.Errorf("doctor's usage does not list its flags:\n%s", out)
	}
}

func TestCommandLineMistakesExitTwoWithUsageOnStderr(t *testing.T) {
	tests := []struct {
		args      []string
		want      string // in stderr
		wantUsage string
	}{
		{[]string{"frobnicate"}, `aksbot: unknown command "frobnicate"`, "Usage: aksbot [COMMAND"},
		{[]string{"--verbose"}, "aksbot: unknown flag --verbose", "Usage: aksbot [COMMAND"},
		{[]string{"doctor", "--nope"}, "aksbot doctor: flag provided but not defined: -nope", "Usage: aksbot doctor"},
		{[]string{"doctor", "-timeout", "soon"}, `invalid value "soon" for flag -timeout`, "Usage: aksbot doctor"},
		{[]string{"doctor", "-timeout", "0s"}, "-timeout must be above 0", "Usage: aksbot doctor"},
		{[]string{"version", "extra"}, `aksbot version: unexpected argument "extra"`, "Usage: aksbot version"},
		{[]string{"run", "--db", "x"}, "aksbot run: flag provided but not defined: -db", "Usage: aksbot run"},
		{[]string{"help", "nosuch"}, `aksbot help: unknown command "nosuch"`, "Usage: aksbot help"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout should be empty, got %q", out)
			}
			if !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, tt.wantUsage) {
				t.Errorf("stderr lacks %q or %q:\n%s", tt.want, tt.wantUsage, errOut)
			}
		})
	}
}

// Commands of two words (policy check, audit export) are table entries like the others.
func TestCommandsOfTwoWords(t *testing.T) {
	var ran []string
	record := func(name string) func(*flag.FlagSet) runFunc {
		return func(fs *flag.FlagSet) runFunc {
			verbose := fs.Bool("v", false, "say more")
			return func(_ context.Context, inv *invocation, args []string) int {
				ran = append(ran, name+" "+strings.Join(args, ",")+map[bool]string{true: " -v"}[*verbose])
				return exitOK
			}
		}
	}
	// The real policy commands are left out: the test's own take their names.
	table := slices.DeleteFunc(commands(), func(c command) bool { return strings.HasPrefix(c.Name, "policy ") })
	table = append(table,
		command{Name: "policy check", Args: "[FILE]", Summary: "check the policy", Help: "Checks.", Setup: record("check")},
		command{Name: "policy explain", Args: "COMMAND...", Summary: "explain a decision", Help: "Explains.", Setup: record("explain")},
	)
	inv := func() *invocation { return &invocation{table: table} }

	if _, errOut, code := runCLIWith(t, inv(), nil, "policy", "check", "-v", "p.yaml"); code != exitOK {
		t.Fatalf("policy check: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCLIWith(t, inv(), nil, "policy", "explain", "scale", "demo"); code != exitOK {
		t.Fatalf("policy explain: exit %d: %s", code, errOut)
	}
	if got := strings.Join(ran, "|"); got != "check p.yaml -v|explain scale,demo" {
		t.Errorf("ran %q", got)
	}

	for _, args := range [][]string{{"policy", "-h"}, {"help", "policy"}} {
		out, _, code := runCLIWith(t, inv(), nil, args...)
		if code != exitOK || !strings.Contains(out, "Usage: aksbot policy COMMAND") || !strings.Contains(out, "explain COMMAND...") {
			t.Errorf("%v: exit %d, stdout:\n%s", args, code, out)
		}
	}
	out, _, code := runCLIWith(t, inv(), nil, "policy", "check", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: aksbot policy check [flags] [FILE]") {
		t.Errorf("policy check --help: exit %d:\n%s", code, out)
	}
	for args, want := range map[string]string{"policy": "aksbot policy: missing command", "policy nope": `aksbot policy: unknown command "nope"`} {
		_, errOut, code := runCLIWith(t, inv(), nil, strings.Fields(args)...)
		if code != exitUsage || !strings.Contains(errOut, want) || !strings.Contains(errOut, "check [FILE]") {
			t.Errorf("%s: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
}

func TestRunIsTheDefaultCommand(t *testing.T) {
	getenv := consoleEnv(t, t.TempDir())
	for _, args := range [][]string{nil, {"run"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, getenv, strings.NewReader("/aks list\n"), &out, &errOut)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		if !strings.Contains(out.String(), "No AKS clusters in resource group rg-aks") {
			t.Errorf("%v: the console did not answer /aks list:\n%s", args, out.String())
		}
	}
}

func TestBadLogLevelStopsTheBotAtStart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"AKSBOT_DB": filepath.Join(dir, "aksbot.db"), "AKSBOT_HTTP_ADDR": "off",
		"AKSBOT_CONFIG": filepath.Join(dir, "none.yaml"), "AKSBOT_LOG_LEVEL": "verbose"}
	writeConfig(t, env["AKSBOT_CONFIG"], "")
	_, errOut, code := runCLI(t, env)
	if code != exitUsage || !strings.Contains(errOut, `AKSBOT_LOG_LEVEL: "verbose" is not a log level; use debug, info, warn or error`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
