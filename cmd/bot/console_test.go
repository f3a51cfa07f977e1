package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Console mode end to end: the bot as `go run ./cmd/bot` starts it (no Slack tokens, no Azure
// subscription), driven by a script on stdin, on the embedded simulated cloud.

// consoleEnv returns the environment of a console bot in dir, with simulated operations sped up.
func consoleEnv(t *testing.T, dir string) func(string) string {
	t.Helper()
	cfg := filepath.Join(dir, "aksbot.yaml")
	if err := os.WriteFile(cfg, []byte("simulator:\n  speed: 40\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AKSBOT_CONFIG": cfg, "AKSBOT_DB": filepath.Join(dir, "aksbot.db"), "AKSBOT_HTTP_ADDR": "off"}
	return func(k string) string { return env[k] }
}

func runConsole(t *testing.T, ctx context.Context, getenv func(string) string, stdin io.Reader) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, nil, getenv, stdin, &out, &errOut)
	return out.String() + errOut.String(), code
}

func TestConsoleScriptCreatesAndScalesWithApproval(t *testing.T) {
	getenv := consoleEnv(t, t.TempDir())
	script := strings.Join([]string{
		"/aks create demo --node-count 2",
		"/as bob",
		"approve 1",
		"/wait",
		"/as alice",
		"/aks nodepool scale demo nodepool1 --node-count 4",
		"approve 2",
		"/as bob",
		"approve 2",
		"/wait",
		"/aks show demo",
		"/aks nodepool scale demo --node-count 3",
		"/aks jobs --all",
	}, "\n") + "\n"
	out, code := runConsole(t, context.Background(), getenv, strings.NewReader(script))
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Needs approval from @bob",
		"Approved by @bob",
		"Job 1 succeeded",
		"nodepool1: 2 -> 4 nodes",
		"You cannot approve your own request",
		"Job 2 succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`nodepool1\s+System\s+4\s`).MatchString(out) {
		t.Errorf("show demo does not list nodepool1 with 4 nodes:\n%s", out)
	}
	if !strings.Contains(out, "Usage: /aks nodepool scale") {
		t.Errorf("a nodepool scale without its pool did not get the usage:\n%s", out)
	}
	if strings.Count(out, "Job 2 succeeded") != 1 {
		t.Errorf("job 2's end printed %d times", strings.Count(out, "Job 2 succeeded"))
	}
}

// A console bot stopped in the middle of an operation resumes it at its next start: the
// simulated cloud's state lives in the same data file as the jobs.
func TestConsoleResumesAfterStop(t *testing.T) {
	dir := t.TempDir()
	getenv := consoleEnv(t, dir)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	outBuf := &syncBuffer{}
	go func() {
		done <- run(ctx, nil, getenv, pr, outBuf, outBuf)
	}()
	if _, err := io.WriteString(pw, "/aks create demo\n/as bob\napprove 1\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(outBuf.String(), "Started in Azure") {
		if time.Now().After(deadline) {
			t.Fatalf("job did not start:\n%s", outBuf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // SIGINT
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after interrupt:\n%s", code, outBuf.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("console bot did not stop within 10 s")
	}
	pw.Close()
	if strings.Contains(outBuf.String(), "succeeded") {
		t.Fatalf("the job ended before the stop; the test needs a slower operation:\n%s", outBuf.String())
	}

	out, code := runConsole(t, context.Background(), getenv, strings.NewReader(""))
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	if !strings.Contains(out, "Picked up again") || !strings.Contains(out, "Job 1 succeeded") {
		t.Errorf("the second run did not resume and finish job 1:\n%s", out)
	}
}

// The console's simulated cloud has two subscriptions, dev (the default) and prod, each with a
// rg-aks/demo of its own: --subscription picks one, and an unknown one is refused.
func TestConsoleSubscriptions(t *testing.T) {
	getenv := consoleEnv(t, t.TempDir())
	script := strings.Join([]string{
		"/aks list --subscription stage",
		"/aks nodepool scale demo nodepool1 --node-count 2 --subscription prod",
		"/wait",
		"/aks list --all-subscriptions",
		"/aks show demo",
	}, "\n") + "\n"
	out, code := runConsole(t, context.Background(), getenv, strings.NewReader(script))
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	for _, want := range []string{
		`Unknown subscription "stage": known: dev, prod.`,
		"── job 1 · scale pool nodepool1 of prod · rg-aks/demo to 2 nodes",
		"Job 1 succeeded",
		"SUBSCRIPTION  NAME  RESOURCE GROUP",
		"Cluster rg-aks/demo not found", // dev's demo was never created
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`\nprod\s+demo\s+rg-aks\s+westeurope\s+\S+\s+2\s`).MatchString(out) {
		t.Errorf("list --all-subscriptions does not show prod's demo with 2 nodes:\n%s", out)
	}
}

// `go run ./cmd/bot` offers /eks on a simulated EKS too: the same jobs and approvals as /aks,
// with cards that name the cloud, and AKSBOT_EKS=0 takes it away.
func TestConsoleEKSScaleWithApproval(t *testing.T) {
	getenv := consoleEnv(t, t.TempDir())
	script := strings.Join([]string{
		"/eks list",
		"/eks nodegroup scale web-prod ng-web --nodes 5 --nodes-max 10",
		"approve 1",
		"/as bob",
		"approve 1",
		"/wait",
		"/eks nodegroup describe web-prod ng-web",
		"/eks nodegroup scale web-prod ng-web --desired-size 12",
		"/aks jobs --all",
	}, "\n") + "\n"
	out, code := runConsole(t, context.Background(), getenv, strings.NewReader(script))
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	for _, want := range []string{
		"web-prod  eu-west-1",
		"job 1 · scale node group ng-web of eks · eu-west-1 · web-prod to 5 nodes, max 10",
		"Plan: ng-web: 2 -> 5 nodes, min 1, max 10",
		"Needs approval from @bob",
		"You cannot approve your own request",
		"Started in EKS",
		"Job 1 succeeded",
		"12 nodes is above the max size 10. Raise --max-size as well",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "Job 1 succeeded") != 1 {
		t.Errorf("job 1's end printed %d times", strings.Count(out, "Job 1 succeeded"))
	}
	if strings.Contains(out, "job 2 ·") {
		t.Errorf("a scale beyond the max size made a job:\n%s", out)
	}

	off := func(k string) string {
		if k == "AKSBOT_EKS" {
			return "0"
		}
		return getenv(k)
	}
	out, code = runConsole(t, context.Background(), off, strings.NewReader("/eks list\n"))
	if code != 0 || !strings.Contains(out, "EKS is not configured") {
		t.Errorf("with AKSBOT_EKS=0, /eks list answered (exit %d):\n%s", code, out)
	}
}
