package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/azure/aadtest"
	ekssim "github.com/aksbot/aksbot/internal/eks/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// EKS end to end: the bot binary, configured only through its environment and an aws section,
// against the fake Slack and the simulated EKS over HTTP, reached by the real AWS SDK through
// AWS_ENDPOINT_URL_EKS and AWS_ENDPOINT_URL_STS with static credentials.

const (
	awsAccessKeyID = "AKIAE2ETESTEXAMPLE01"
	// awsSecretKey must never show in a log line, a Slack message or doctor's output.
	awsSecretKey = "e2e-aws-secret-wJalrXUtnFEMIK7MDENGbPxRfiCY"
)

// eksPolicy: the default rule asks approver's approval, which covers EKS scale-ups
// (config.DefaultEKSRequireApprovalFor). aws.account is left out: the bot asks STS.
const eksPolicy = `azure:
  resourceGroup: rg-aks
  location: westeurope
aws:
  regions: [eu-west-1, us-east-1]
policy:
  approvers: [` + approver + `]
jobs:
  pollInterval: 1s
  progressInterval: 10s
`

// awsEnv is what points the AWS SDK at a simulated EKS (and STS) served at endpoint, with static
// credentials from the environment. The shared files are ones that do not exist, so nothing of
// the machine's ~/.aws is read.
func awsEnv(t *testing.T, endpoint string) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		"AWS_ENDPOINT_URL_EKS":        endpoint,
		"AWS_ENDPOINT_URL_STS":        endpoint,
		"AWS_ACCESS_KEY_ID":           awsAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       awsSecretKey,
		"AWS_REGION":                  "eu-west-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
	}
}

// eksWorld is a world whose bots run as processes (world.spawn) with /eks on the simulated EKS.
type eksWorld struct {
	*world
	eks   *ekssim.Sim
	aad   *aadtest.Server
	procs []*process
}

func newEKSWorld(t *testing.T, durations ekssim.Durations) *eksWorld {
	t.Helper()
	w, aad := newProcessWorld(t, fastAzure())
	s := ekssim.New(ekssim.Options{Durations: durations, Speed: 1})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	w.config, w.extraEnv = eksPolicy, awsEnv(t, srv.URL)
	return &eksWorld{world: w, eks: s, aad: aad}
}

// startBot spawns a bot process and waits until it is connected to Slack.
func (e *eksWorld) startBot() *process {
	e.t.Helper()
	n := e.slack.Connections()
	p := e.spawn(e.t, e.aad)
	e.procs = append(e.procs, p)
	waitConnected(e.t, e.world, p, n+1)
	return p
}

// eksReply types an /eks command and waits for its private answer.
func (e *eksWorld) eksReply(user, text string) slacktest.Message {
	e.t.Helper()
	return e.commandReply("/eks", user, text)
}

// updates returns the UpdateNodegroupConfig requests the simulated EKS received.
func (e *eksWorld) updates() []ekssim.Request {
	var out []ekssim.Request
	for _, r := range e.eks.Requests() {
		if r.Operation == "UpdateNodegroupConfig" {
			out = append(out, r)
		}
	}
	return out
}

// noSecrets stops the bot (SIGINT, so that its last words are logged too) and fails the test
// when the AWS secret key or a Slack token shows in a bot's log, in a message of the channel
// (its text or blocks) or in a private answer.
func (e *eksWorld) noSecrets() {
	e.t.Helper()
	for _, p := range e.procs {
		select {
		case <-p.done:
			continue
		default:
		}
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			e.t.Fatal(err)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			e.t.Error("the bot still runs 10 s after SIGINT")
		}
	}
	var seen strings.Builder
	for _, p := range e.procs {
		seen.WriteString(p.logs.String())
	}
	logs := seen.String()
	seen.Reset()
	for _, m := range e.slack.Messages(channel) {
		seen.WriteString(m.Text)
		seen.Write(m.Blocks)
	}
	for _, u := range []string{requester, approver, outsider} {
		for _, m := range e.ephemeralsTo(u) {
			seen.WriteString(m.Text)
			seen.Write(m.Blocks)
		}
	}
	slack := seen.String()
	for name, secret := range map[string]string{"the AWS secret access key": awsSecretKey, "the Slack app token": appToken, "the Slack bot token": botToken} {
		if strings.Contains(logs, secret) {
			e.t.Errorf("%s appears in the bot's logs", name)
		}
		if strings.Contains(slack, secret) {
			e.t.Errorf("%s appears in a Slack message", name)
		}
	}
	if logs == "" || slack == "" {
		e.t.Error("nothing to look for secrets in")
	}
}

func TestEKSScaleWithApprovalThroughSlack(t *testing.T) {
	e := newEKSWorld(t, ekssim.Durations{Config: 2 * time.Second})
	e.startBot()

	// Reads answer the typer only, and a scale EKS would refuse is refused before any job.
	list := e.eksReply(requester, "list")
	for _, want := range []string{"web-prod  eu-west-1", "data-dev  us-east-1"} {
		if !strings.Contains(list.Text, want) {
			t.Errorf("/eks list answered %q, lacking %q", list.Text, want)
		}
	}
	desc := e.eksReply(requester, "nodegroup describe web-prod ng-web")
	for _, want := range []string{"Node group ng-web", "Nodes: 2 (min 1, max 10)", "m6i.large", "ACTIVE"} {
		if !strings.Contains(desc.Text, want) {
			t.Errorf("/eks nodegroup describe answered %q, lacking %q", desc.Text, want)
		}
	}
	bad := e.eksReply(requester, "nodegroup scale web-prod ng-web --desired-size 50 --max-size 10")
	for _, want := range []string{"50 nodes is above the max size 10", "Usage: /eks nodegroup scale"} {
		if !strings.Contains(bad.Text, want) {
			t.Errorf("the bad scale answered %q, lacking %q", bad.Text, want)
		}
	}
	if len(e.slack.Messages(channel)) != 0 || e.eks.Mutations() != 0 || len(e.updates()) != 0 {
		t.Fatalf("a read or a bad command posted or reached EKS: %s", e.dump())
	}

	answer := e.eksReply(requester, "nodegroup scale web-prod ng-web --desired-size 5 --max-size 10")
	if !strings.Contains(answer.Text, "Job 1 is waiting for approval") {
		t.Errorf("the scale's answer %q does not say job 1 waits for approval", answer.Text)
	}
	parent := e.newParent(0)
	const where = "eks · eu-west-1 · web-prod"
	if !strings.Contains(parent.Text, "scale node group ng-web of "+where+" to 5 nodes, max 10") || !strings.Contains(string(parent.Blocks), where) {
		t.Errorf("the card does not name the node group and where it is: %s\n%s", parent.Text, parent.Blocks)
	}
	appr := e.approval(parent)
	for _, want := range []string{"*Account:* 111122223333", "*Region:* eu-west-1", "*Cluster:* web-prod", "*Node group:* ng-web", "*Instance types:* m6i.large"} {
		if !strings.Contains(string(appr.Blocks), want) {
			t.Errorf("the approval message lacks %q: %s", want, appr.Blocks)
		}
	}

	refusal := e.clickReply(requester, parent, appr, "aksbot_approve", "1")
	if !strings.Contains(refusal.Text, "own request") {
		t.Errorf("self-approval refusal says %q", refusal.Text)
	}
	if e.eks.Mutations() != 0 {
		t.Fatal("the requester's own approval started the job")
	}
	e.click(approver, parent, appr, "aksbot_approve", "1")
	th := e.waitThreadEnds(parent, "succeeded")
	if countContaining(th, "Approved by <@"+approver+">") != 1 || countContaining(th, "Started in EKS") != 1 || countContaining(th, "succeeded") != 1 {
		t.Errorf("the thread does not report approval, start and success once each: %s", e.dump())
	}
	if ps := e.parents(); len(ps) != 1 {
		t.Fatalf("%d messages in the channel, want one parent: %s", len(ps), e.dump())
	}
	e.waitFor("the card to say succeeded", func() bool { return strings.Contains(e.parents()[0].Text, "succeeded") })

	ups := e.updates()
	if len(ups) != 1 || ups[0].Token == "" || ups[0].Status != 200 || ups[0].Region != "eu-west-1" {
		t.Errorf("EKS got %+v, want one accepted UpdateNodegroupConfig in eu-west-1 with a clientRequestToken", ups)
	}
	if n := e.eks.Mutations(); n != 1 {
		t.Errorf("%d changes reached EKS, want 1", n)
	}
	if ng, ok := e.eks.Nodegroup("eu-west-1", "web-prod", "ng-web"); !ok || ng.Desired != 5 || ng.Max != 10 || ng.Min != 1 {
		t.Errorf("ng-web is %+v, want desired 5, min 1, max 10", ng)
	}
	if !slices.ContainsFunc(e.eks.Requests(), func(r ekssim.Request) bool { return r.Operation == "GetCallerIdentity" && r.Status == 200 }) {
		t.Error("the bot did not learn its account from STS")
	}
	e.noSecrets()
}

// A bot killed (SIGKILL) while EKS updates a node group resumes the job when it starts again:
// it follows the update it started, or sends the request again with the same token, which EKS
// answers with the same update; either way EKS makes one change and the thread ends once.
func TestEKSKilledMidUpdateResumes(t *testing.T) {
	e := newEKSWorld(t, ekssim.Durations{Config: 10 * time.Second})
	first := e.startBot()
	e.slashCommand("/eks", requester, "nodegroup scale web-prod ng-web --desired-size 5 --max-size 10")
	parent := e.newParent(0)
	e.click(approver, parent, e.approval(parent), "aksbot_approve", "1")
	e.waitFor("the update to start in EKS", func() bool { return countContaining(e.thread(parent), "Started in EKS") == 1 })
	first.kill()

	if ups := e.updates(); len(ups) != 1 || ups[0].Token == "" {
		t.Fatalf("EKS got %+v before the kill, want one UpdateNodegroupConfig with a token", ups)
	}
	token := e.updates()[0].Token
	if ng, _ := e.eks.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Status != "UPDATING" || countContaining(e.thread(parent), "succeeded") != 0 {
		t.Fatalf("the update ended before the kill (ng-web %+v; make the simulated update slower): %s", ng, e.dump())
	}

	e.startBot()
	th := e.waitThreadEnds(parent, "succeeded")
	if n := countContaining(th, "succeeded"); n != 1 {
		t.Errorf("%d thread messages say succeeded, want 1: %s", n, e.dump())
	}
	if n := countContaining(th, "restarted"); n != 1 {
		t.Errorf("%d messages say the job was picked up again, want 1: %s", n, e.dump())
	}
	for _, u := range e.updates() {
		if u.Token != token {
			t.Errorf("an update with another token (%q, the first had %q): the restarted bot sent a new request", u.Token, token)
		}
	}
	if n := e.eks.Mutations(); n != 1 {
		t.Errorf("%d changes reached EKS, want 1: the restarted bot must resume, not scale again", n)
	}
	if ps := e.parents(); len(ps) != 1 {
		t.Errorf("%d parent messages, want 1: %s", len(ps), e.dump())
	}
	e.waitFor("the card to say succeeded", func() bool { return strings.Contains(e.parents()[0].Text, "succeeded") })
	if ng, _ := e.eks.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 5 || ng.Max != 10 || ng.Status != "ACTIVE" {
		t.Errorf("ng-web is %+v, want ACTIVE with desired 5, max 10", ng)
	}
	e.noSecrets()
}

// doctorAWSEnv sets the process environment the AWS SDK reads (doctor runs in process here) to
// reach endpoint, and returns doctor's environment with configYAML as the configuration file.
func doctorAWSEnv(t *testing.T, endpoint, configYAML string) map[string]string {
	t.Helper()
	for k, v := range awsEnv(t, endpoint) {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	return doctorEnv(t, configYAML)
}

// runEKSDoctor runs doctor and fails the test when its output holds the AWS secret key.
func runEKSDoctor(t *testing.T, env map[string]string) ([]string, int) {
	t.Helper()
	lines, code := runDoctor(t, env, overrides{})
	if strings.Contains(strings.Join(lines, "\n"), awsSecretKey) {
		t.Errorf("doctor's output contains the AWS secret access key:\n%s", strings.Join(lines, "\n"))
	}
	return lines, code
}

func TestDoctorEKS(t *testing.T) {
	s := ekssim.New(ekssim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	const regions = "aws:\n  regions: [eu-west-1, us-east-1]\n"

	t.Run("ok", func(t *testing.T) {
		lines, code := runEKSDoctor(t, doctorAWSEnv(t, srv.URL, regions))
		if code != exitOK {
			t.Errorf("exit %d, want 0:\n%s", code, strings.Join(lines, "\n"))
		}
		wantLine(t, lines, "aws credentials", "ok", s.CallerARN(), "(account "+ekssim.DefaultAccount+")")
		wantLine(t, lines, "eks eu-west-1", "ok", "can list clusters")
		wantLine(t, lines, "eks us-east-1", "ok", "can list clusters")
		var asked []string
		for _, r := range s.Requests() {
			asked = append(asked, r.Operation+" "+r.Region)
		}
		if want := []string{"GetCallerIdentity eu-west-1", "ListClusters eu-west-1", "DescribeCluster eu-west-1", "ListClusters us-east-1", "DescribeCluster us-east-1"}; !slices.Equal(asked, want) {
			t.Errorf("doctor asked the simulated AWS %q, want %q", asked, want)
		}
	})

	t.Run("the configured account", func(t *testing.T) {
		lines, code := runEKSDoctor(t, doctorAWSEnv(t, srv.URL, regions+"  account: \""+ekssim.DefaultAccount+"\"\n"))
		if code != exitOK {
			t.Errorf("exit %d, want 0:\n%s", code, strings.Join(lines, "\n"))
		}
		wantLine(t, lines, "aws credentials", "ok", ekssim.DefaultAccount)
	})

	t.Run("another account", func(t *testing.T) {
		lines, code := runEKSDoctor(t, doctorAWSEnv(t, srv.URL, regions+"  account: \"123456789012\"\n"))
		if code != exitFailure {
			t.Errorf("exit %d, want %d:\n%s", code, exitFailure, strings.Join(lines, "\n"))
		}
		wantLine(t, lines, "aws credentials", "FAIL", s.CallerARN(), "of account "+ekssim.DefaultAccount, "but aws.account is 123456789012",
			"fix: use credentials of the configured account, or correct aws.account")
	})

	// The simulated EKS takes any signed request: a stand-in for STS answers as AWS does for an
	// access key it does not know.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
			`<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error>`+
			`<RequestId>e2e-refused</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(refusing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	for _, tt := range []struct {
		name, endpoint string
		want           []string
	}{
		{"credentials refused", refusing.URL, []string{"AWS STS refused to say who the bot is: InvalidClientTokenId: The security token included in the request is invalid.",
			"fix: give the bot AWS credentials"}},
		{"unreachable", gone.URL, []string{"cannot reach AWS STS", strings.TrimPrefix(gone.URL, "http://"), "connection refused",
			"fix: check the network path", "AWS_ENDPOINT_URL_STS"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, code := runEKSDoctor(t, doctorAWSEnv(t, tt.endpoint, regions))
			if code != exitFailure {
				t.Errorf("exit %d, want %d:\n%s", code, exitFailure, strings.Join(lines, "\n"))
			}
			wantLine(t, lines, "aws credentials", "FAIL", tt.want...)
			for _, l := range lines {
				if strings.Contains(l, " eks ") {
					t.Errorf("a region was checked without working credentials: %q", l)
				}
			}
		})
	}
}
