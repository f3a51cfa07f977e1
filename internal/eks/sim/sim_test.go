package sim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/eks/sim"
)

// These tests speak raw HTTP to the sim, to pin the wire shapes the SDK relies on; the adapter's
// tests run the real SDK against it.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const auth = "AWS4-HMAC-SHA256 Credential=AKIASIMULATEDEXAMPLE/20261204/eu-west-1/eks/aws4_request, SignedHeaders=host, Signature=00"

func do(t *testing.T, srv *httptest.Server, method, path, body string, signed bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signed {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	return resp.StatusCode, doc
}

func newServer(t *testing.T) (*sim.Sim, *httptest.Server, *fakeClock) {
	t.Helper()
	ck := &fakeClock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	s := sim.New(sim.Options{Now: ck.Now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, ck
}

func TestUnsignedRequestIsRefused(t *testing.T) {
	_, srv, _ := newServer(t)
	status, doc := do(t, srv, "GET", "/clusters", "", false)
	if status != http.StatusForbidden || doc["__type"] != "UnrecognizedClientException" {
		t.Fatalf("unsigned: %d %v", status, doc)
	}
}

func TestErrorShapes(t *testing.T) {
	_, srv, _ := newServer(t)
	status, doc := do(t, srv, "GET", "/clusters/web-prod/node-groups/nope", "", true)
	if status != http.StatusNotFound || doc["__type"] != "ResourceNotFoundException" || doc["nodegroupName"] != "nope" ||
		!strings.Contains(doc["message"].(string), "No node group found") {
		t.Fatalf("missing node group: %d %v", status, doc)
	}
	// Clusters live in their region: data-dev is in us-east-1, not eu-west-1.
	if status, _ := do(t, srv, "GET", "/clusters/data-dev", "", true); status != http.StatusNotFound {
		t.Fatalf("data-dev in eu-west-1: %d", status)
	}
	status, doc = do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config",
		`{"clientRequestToken":"t1","scalingConfig":{"desiredSize":11}}`, true)
	if status != http.StatusBadRequest || doc["__type"] != "InvalidParameterException" {
		t.Fatalf("desired above max: %d %v", status, doc)
	}
}

func TestTokensMakeUpdatesIdempotent(t *testing.T) {
	s, srv, ck := newServer(t)
	body := `{"clientRequestToken":"aksbot-job-1-1","scalingConfig":{"desiredSize":4}}`
	status, first := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config", body, true)
	if status != http.StatusOK {
		t.Fatalf("update: %d %v", status, first)
	}
	u := first["update"].(map[string]any)
	if u["status"] != "InProgress" || u["type"] != "ConfigUpdate" {
		t.Fatalf("update %v", u)
	}
	_, again := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config", body, true)
	if again["update"].(map[string]any)["id"] != u["id"] {
		t.Fatalf("same token gave another update: %v vs %v", again, first)
	}
	status, doc := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config",
		`{"clientRequestToken":"aksbot-job-1-1","scalingConfig":{"desiredSize":5}}`, true)
	if status != http.StatusBadRequest || doc["__type"] != "InvalidRequestException" {
		t.Fatalf("token reused for another request: %d %v", status, doc)
	}
	status, doc = do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config",
		`{"clientRequestToken":"aksbot-job-2-1","scalingConfig":{"desiredSize":5}}`, true)
	if status != http.StatusConflict || doc["__type"] != "ResourceInUseException" || !strings.Contains(doc["message"].(string), "in progress") {
		t.Fatalf("second update while one runs: %d %v", status, doc)
	}
	if s.Mutations() != 1 {
		t.Fatalf("mutations %d, want 1", s.Mutations())
	}
	ck.Advance(sim.DefaultDurations.Config)
	_, doc = do(t, srv, "GET", "/clusters/web-prod/updates/"+u["id"].(string)+"?nodegroupName=ng-web", "", true)
	if got := doc["update"].(map[string]any)["status"]; got != "Successful" {
		t.Fatalf("update after its duration: %v", got)
	}
	if ng, _ := s.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Desired != 4 || ng.Status != "ACTIVE" {
		t.Fatalf("node group %+v", ng)
	}
	// The update belongs to ng-web: asked for under another node group, it is not found.
	if status, _ := do(t, srv, "GET", "/clusters/web-prod/updates/"+u["id"].(string)+"?nodegroupName=ng-batch", "", true); status != http.StatusNotFound {
		t.Fatalf("update under another node group: %d", status)
	}
}

func TestSpeedScalesDurations(t *testing.T) {
	ck := &fakeClock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	s := sim.New(sim.Options{Now: ck.Now, Speed: 60})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	do(t, srv, "DELETE", "/clusters/web-prod/node-groups/ng-batch", "", true)
	ck.Advance(5 * time.Second) // 6 minutes at speed 60 is 6 s
	if ng, ok := s.Nodegroup("eu-west-1", "web-prod", "ng-batch"); !ok || ng.Status != "DELETING" {
		t.Fatalf("after 5 s: %+v %v, want DELETING", ng, ok)
	}
	ck.Advance(time.Second)
	if _, ok := s.Nodegroup("eu-west-1", "web-prod", "ng-batch"); ok {
		t.Fatal("after 6 s the node group is still there")
	}
}

func TestPaging(t *testing.T) {
	_, srv, _ := newServer(t)
	_, doc := do(t, srv, "GET", "/clusters/web-prod/node-groups?maxResults=1", "", true)
	if ngs := doc["nodegroups"].([]any); len(ngs) != 1 || ngs[0] != "ng-batch" || doc["nextToken"] == nil {
		t.Fatalf("first page %v", doc)
	}
	_, doc = do(t, srv, "GET", "/clusters/web-prod/node-groups?maxResults=1&nextToken="+doc["nextToken"].(string), "", true)
	if ngs := doc["nodegroups"].([]any); len(ngs) != 1 || ngs[0] != "ng-web" || doc["nextToken"] != nil {
		t.Fatalf("second page %v", doc)
	}
}

func TestRequestLog(t *testing.T) {
	s, srv, _ := newServer(t)
	s.ThrottleNext(1)
	do(t, srv, "GET", "/clusters", "", true)
	do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-version", `{"clientRequestToken":"tok-1"}`, true)
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v", reqs)
	}
	if r := reqs[0]; r.Status != 429 || r.Code != "ThrottlingException" || r.Operation != "ListClusters" || r.Mutating() {
		t.Errorf("first %+v", r)
	}
	if r := reqs[1]; r.Status != 200 || r.Operation != "UpdateNodegroupVersion" || r.Token != "tok-1" || !r.Mutating() || r.Region != "eu-west-1" {
		t.Errorf("second %+v", r)
	}
}

func TestSTSCallerIdentity(t *testing.T) {
	s := sim.New(sim.Options{Account: "444455556666"})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	post := func(form string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", strings.Replace(auth, "/eu-west-1/eks/", "/us-east-1/sts/", 1))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	status, body := post("Action=GetCallerIdentity&Version=2011-06-15")
	if status != http.StatusOK || !strings.Contains(body, "<Account>444455556666</Account>") ||
		!strings.Contains(body, "<Arn>"+s.CallerARN()+"</Arn>") || !strings.Contains(body, "<RequestId>sim-000001</RequestId>") {
		t.Fatalf("GetCallerIdentity: %d %s", status, body)
	}
	status, body = post("Action=AssumeRole&Version=2011-06-15")
	if status != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Fatalf("another action: %d %s", status, body)
	}
	if r := s.Requests()[0]; r.Operation != "GetCallerIdentity" || r.Region != "us-east-1" || r.Mutating() {
		t.Fatalf("request %+v", r)
	}
}

func TestFailNextUpdate(t *testing.T) {
	s, srv, ck := newServer(t)
	s.FailNextUpdate("eu-west-1", "web-prod", "ng-web", "NodeCreationFailure", "Instances failed to join the kubernetes cluster")
	scale := func(n int) string {
		t.Helper()
		status, doc := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config",
			fmt.Sprintf(`{"clientRequestToken":"t-%d","scalingConfig":{"desiredSize":%d}}`, n, n), true)
		if status != http.StatusOK {
			t.Fatalf("scale to %d: %d %v", n, status, doc)
		}
		ck.Advance(sim.DefaultDurations.Config)
		_, doc = do(t, srv, "GET", "/clusters/web-prod/updates/"+doc["update"].(map[string]any)["id"].(string), "", true)
		u := doc["update"].(map[string]any)
		if errs := u["errors"].([]any); len(errs) > 0 {
			return u["status"].(string) + " " + errs[0].(map[string]any)["errorCode"].(string)
		}
		return u["status"].(string)
	}
	if got := scale(4); got != "Failed NodeCreationFailure" {
		t.Fatalf("first scale %s, want it failed as asked", got)
	}
	if ng, _ := s.Nodegroup("eu-west-1", "web-prod", "ng-web"); ng.Status != "DEGRADED" || ng.Desired != 2 {
		t.Fatalf("after the failed update: %+v", ng)
	}
	if got := scale(3); got != "Successful" {
		t.Fatalf("second scale %s: the failure was for the next update only", got)
	}

	// A create can be made to fail too, before the node group exists.
	s.FailNextUpdate("eu-west-1", "web-prod", "ng-new", "NodeCreationFailure", "Instances failed to join the kubernetes cluster")
	status, doc := do(t, srv, "POST", "/clusters/web-prod/node-groups",
		`{"nodegroupName":"ng-new","nodeRole":"arn:aws:iam::111122223333:role/n","subnets":["subnet-0a1b2c3d"]}`, true)
	if status != http.StatusOK {
		t.Fatalf("create: %d %v", status, doc)
	}
	ck.Advance(sim.DefaultDurations.Create)
	_, doc = do(t, srv, "GET", "/clusters/web-prod/node-groups/ng-new", "", true)
	ng := doc["nodegroup"].(map[string]any)
	issues := ng["health"].(map[string]any)["issues"].([]any)
	if ng["status"] != "CREATE_FAILED" || len(issues) != 1 || issues[0].(map[string]any)["code"] != "NodeCreationFailure" {
		t.Fatalf("failed create: %v", ng)
	}
}

// outcomes runs n scales of ng-web (each after the last ended) and says how each ended.
func outcomes(t *testing.T, o sim.Options, n int) string {
	t.Helper()
	ck := &fakeClock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	o.Now = ck.Now
	s := sim.New(o)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var out []string
	for i := range n {
		status, doc := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config",
			fmt.Sprintf(`{"scalingConfig":{"desiredSize":%d}}`, 3+i%2), true)
		if status != http.StatusOK {
			t.Fatalf("scale %d: %d %v", i, status, doc)
		}
		ck.Advance(time.Hour)
		_, doc = do(t, srv, "GET", "/clusters/web-prod/updates/"+doc["update"].(map[string]any)["id"].(string), "", true)
		out = append(out, doc["update"].(map[string]any)["status"].(string)[:1])
	}
	return strings.Join(out, "")
}

func TestFailureRate(t *testing.T) {
	if got := outcomes(t, sim.Options{}, 8); got != "SSSSSSSS" {
		t.Errorf("without a failure rate: %s, want every update successful", got)
	}
	if got := outcomes(t, sim.Options{FailureRate: 1}, 3); got != "FFF" {
		t.Errorf("failure rate 1: %s, want every update failed", got)
	}
	half := outcomes(t, sim.Options{FailureRate: 0.5, Seed: 7}, 16)
	if !strings.Contains(half, "S") || !strings.Contains(half, "F") {
		t.Errorf("failure rate 0.5: %s, want some of each", half)
	}
	if again := outcomes(t, sim.Options{FailureRate: 0.5, Seed: 7}, 16); again != half {
		t.Errorf("the same seed gave %s, then %s", half, again)
	}
}

func TestRegions(t *testing.T) {
	s := sim.New(sim.Options{})
	s.AddCluster("ap-southeast-2", "sydney", "1.31")
	if got := strings.Join(s.Regions(), ","); got != "ap-southeast-2,eu-west-1,us-east-1" {
		t.Fatalf("regions %s", got)
	}
	if got := sim.New(sim.Options{Empty: true}).Regions(); len(got) != 0 {
		t.Fatalf("an empty sim has regions %v", got)
	}
}

func TestForgetTokens(t *testing.T) {
	s, srv, ck := newServer(t)
	body := `{"clientRequestToken":"aksbot-1-x","scalingConfig":{"desiredSize":4}}`
	_, first := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config", body, true)
	ck.Advance(time.Hour)
	s.ForgetTokens()
	status, again := do(t, srv, "POST", "/clusters/web-prod/node-groups/ng-web/update-config", body, true)
	if status != http.StatusOK || again["update"].(map[string]any)["id"] == first["update"].(map[string]any)["id"] || s.Mutations() != 2 {
		t.Fatalf("a forgotten token: %d %v, mutations %d; want a new update", status, again, s.Mutations())
	}
}
