package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// simProcess is `aksbot sim` running as its own process.
type simProcess struct {
	*process
	env        map[string]string // the replica environment it printed
	requestLog string            // its --request-log file
}

// startSim runs `aksbot sim` on a free loopback port with extra flags, and waits until it has
// printed the environment of a replica.
func startSim(t *testing.T, dir string, args ...string) *simProcess {
	t.Helper()
	s := &simProcess{env: map[string]string{}, requestLog: filepath.Join(dir, "arm-requests.jsonl")}
	args = append([]string{"sim", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "sim.db"), "--request-log", s.requestLog}, args...)
	cmd := exec.Command(botBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AKSBOT_LOG_LEVEL=debug"}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.process = &process{cmd: cmd, logs: logs, done: make(chan struct{})}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.kill)
	var printed []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("aksbot sim exited before it served:\n%s\n%s", strings.Join(printed, "\n"), logs.String())
			}
			printed = append(printed, line)
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				s.env[k] = v
			}
			// SSL_CERT_FILE comes after the endpoint; without --with-login it is the last line,
			// with it AZURE_CLIENT_SECRET is.
			if s.env["SSL_CERT_FILE"] != "" && (!strings.Contains(strings.Join(args, " "), "--with-login") || s.env["AZURE_CLIENT_SECRET"] != "") {
				go func() {
					for range lines {
					}
				}()
				return s
			}
		case <-timeout:
			t.Fatalf("aksbot sim printed no environment in 30 s:\n%s\n%s", strings.Join(printed, "\n"), logs.String())
		}
	}
}

// requests reads the sim's request log.
func (s *simProcess) requests(t *testing.T) []loggedRequest {
	t.Helper()
	raw, err := os.ReadFile(s.requestLog)
	if err != nil {
		t.Fatal(err)
	}
	var out []loggedRequest
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r loggedRequest
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("request log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// A real bot process runs a scale on a simulated cloud that is a process of its own: the
// replica reaches it over HTTPS with only the environment `aksbot sim` printed, and gets its
// token from the simulator's fake Entra ID through azidentity.
func TestSimProcessServesABotProcess(t *testing.T) {
	dir := t.TempDir()
	s := startSim(t, dir, "--with-login", "--with-eks", "--seed", "rg-aks/demo", "--op-duration", "2s")
	for _, k := range []string{"AZURE_SUBSCRIPTION_ID", "AKSBOT_ARM_ENDPOINT", "SSL_CERT_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
		"AKSBOT_EKS", "AWS_ENDPOINT_URL_EKS", "AWS_ENDPOINT_URL_STS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if s.env[k] == "" {
			t.Fatalf("aksbot sim did not print %s: %v", k, s.env)
		}
	}
	if !strings.HasPrefix(s.env["AKSBOT_ARM_ENDPOINT"], "https://127.0.0.1:") {
		t.Errorf("endpoint %q, want https on loopback", s.env["AKSBOT_ARM_ENDPOINT"])
	}

	w := &world{t: t, slack: newSlack(t), dbPath: filepath.Join(dir, "aksbot.db"), logs: &syncBuffer{}}
	cfgFile := filepath.Join(dir, "aksbot.yaml")
	yaml := "azure:\n  resourceGroup: rg-aks\n  location: westeurope\npolicy:\n  approvers: [" + approver + "]\njobs:\n  pollInterval: 1s\n  progressInterval: 10s\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SLACK_APP_TOKEN": appToken, "SLACK_BOT_TOKEN": botToken, "SLACK_API_URL": w.slack.APIURL(),
		"AKSBOT_CONFIG": cfgFile, "AKSBOT_DB": w.dbPath, "AKSBOT_HTTP_ADDR": "off", "AKSBOT_LOG_LEVEL": "debug",
	}
	for k, v := range s.env {
		env[k] = v
	}
	bot := spawnEnv(t, dir, env)
	waitConnected(t, w, bot, 1)

	w.slash(requester, "nodepool scale demo np1 --node-count 3")
	parent := w.newParent(0)
	w.click(approver, parent, w.approval(parent), "aksbot_approve", "1")
	th := w.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d messages say succeeded, want 1: %s", n, w.dump())
	}
	w.waitFor("the status card to say succeeded", func() bool { return strings.HasSuffix(w.parents()[0].Text, "succeeded") })

	puts, tokens := 0, 0
	for _, r := range s.requests(t) {
		if r.Method == "PUT" && strings.Contains(r.Path, "/agentPools/np1") && r.Status/100 == 2 {
			puts++
		}
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			tokens++
		}
	}
	if puts != 1 {
		t.Errorf("%d PUTs of np1 were accepted, want 1", puts)
	}
	if tokens != 0 {
		t.Errorf("the fake login's requests are in the ARM request log (%d)", tokens)
	}

	// With --with-eks the same address is the replica's EKS (over the same certificate).
	n := len(w.ephemeralsTo(requester))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := w.slack.SendSlash(ctx, slacktest.Slash{User: requester, UserName: "requester", Channel: channel, Command: "/eks", Text: "nodegroup list web-prod"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if reply := w.nextEphemeral(requester, n); !strings.Contains(reply.Text, "ng-web") {
		t.Errorf("/eks nodegroup list web-prod answered %q, want the simulated EKS's node groups", reply.Text)
	}
	// The sim stops on SIGTERM, and a new one on the same file knows the scale.
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("aksbot sim did not stop within 10 s of SIGINT")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("aksbot sim exited %d after SIGINT:\n%s", code, s.logs.String())
	}
	for _, secret := range []string{simClientSecret, simAWSSecretKey} {
		if strings.Contains(bot.logs.String(), secret) {
			t.Errorf("the secret %q appears in the bot's logs", secret)
		}
	}
}

// spawnEnv starts the bot binary with exactly env (and PATH, HOME).
func spawnEnv(t *testing.T, home string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(botBinary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// The request log names the replica a request came from.
func TestLogRequestsRecordsReplica(t *testing.T) {
	var buf bytes.Buffer
	h := logARMRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) }), &buf)
	req := httptest.NewRequest(http.MethodPut, "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1", nil)
	req.Header.Set(azure.ReplicaHeader, "r3")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var got loggedRequest
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if got.Replica != "r3" || got.Status != 409 || got.Method != "PUT" || got.Done.Before(got.At) {
		t.Errorf("logged %+v", got)
	}
}

// The self-signed certificate is its own CA for the loopback addresses, and a restarted
// simulator keeps it, so that replicas keep trusting it.
func TestSelfSignedCertificateIsKept(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "key.pem")
	if err := ensureSelfSigned(cert, key, "127.0.0.1:8443"); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureSelfSigned(cert, key, "127.0.0.1:8443"); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(cert); !bytes.Equal(first, again) {
		t.Error("a second start replaced the certificate")
	}
	block, _ := pem.Decode(first)
	if block == nil {
		t.Fatal("no PEM certificate written")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c)
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("the certificate does not verify for %s: %v", name, err)
		}
	}
	if d := simDurations(60, 0); d.Scale != max(sim.DefaultDurations.Scale/60, time.Second) {
		t.Errorf("--speed 60: scale takes %s", d.Scale)
	}
	if d := simDurations(60, 3*time.Second); d.Create != 3*time.Second || d.Scale != 3*time.Second {
		t.Errorf("--op-duration 3s: %+v", d)
	}
}
