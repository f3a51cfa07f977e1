package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// example is one ARM example file from testdata (Azure REST API specs, MIT).
type example struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]struct {
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

func loadExample(t *testing.T, name string) example {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	var ex example
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatalf("decode example %s: %v", name, err)
	}
	return ex
}

// Objects whose keys are data (tags, labels, ids), not fields: compared as "*".
var dynamicKeys = map[string]bool{"tags": true, "nodeLabels": true, "patchVersions": true, "userAssignedIdentities": true}

// keyPaths lists the field paths of a JSON document: "properties.agentPoolProfiles[].count".
func keyPaths(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode body: %v\n%s", err, raw)
	}
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				name := k
				last := prefix[strings.LastIndex(prefix, ".")+1:]
				if dynamicKeys[last] {
					name = "*"
				}
				p := name
				if prefix != "" {
					p = prefix + "." + name
				}
				out[p] = true
				walk(p, child)
			}
		case []any:
			out[prefix+"[]"] = true
			for _, child := range x {
				walk(prefix+"[]", child)
			}
		}
	}
	walk("", v)
	return out
}

// assertShape checks that every field path of the example is in the simulator's answer,
// apart from the listed optional ones the example's resource happens to have.
func assertShape(t *testing.T, what string, example, got []byte, optional ...string) {
	t.Helper()
	if missing := missingPaths(t, example, got, optional...); len(missing) > 0 {
		t.Errorf("%s: fields of the ARM example missing from the simulator's answer: %v\nanswer: %s", what, missing, got)
	}
}

func missingPaths(t *testing.T, example, got []byte, optional ...string) []string {
	t.Helper()
	want, have := keyPaths(t, example), keyPaths(t, got)
	var missing []string
	for p := range want {
		skip := false
		for _, o := range optional {
			if p == o || strings.HasPrefix(p, o+".") || strings.HasPrefix(p, o+"[]") {
				skip = true
			}
		}
		if !skip && !have[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	return missing
}

// The comparison itself must notice a missing nested field, or the shape test proves nothing.
func TestMissingPathsNoticesNestedFields(t *testing.T) {
	ex := loadExample(t, "AgentPoolsList.json").Responses["200"].Body
	var doc map[string]any
	if err := json.Unmarshal(ex, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["value"].([]any)[0].(map[string]any)["properties"].(map[string]any), "eTag")
	stripped, _ := json.Marshal(doc)
	got := missingPaths(t, ex, stripped)
	if len(got) != 1 || got[0] != "value[].properties.eTag" {
		t.Fatalf("missing = %v, want [value[].properties.eTag]", got)
	}
	if got := missingPaths(t, ex, stripped, "value[].properties.eTag"); len(got) != 0 {
		t.Fatalf("optional path still reported: %v", got)
	}
	if got := missingPaths(t, ex, ex); len(got) != 0 {
		t.Fatalf("identical documents differ: %v", got)
	}
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(method, path string, body []byte) rawResp {
	e.t.Helper()
	req := httptest.NewRequest(method, "https://management.azure.com"+path+"?api-version=2025-02-01", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer test")
	rec := httptest.NewRecorder()
	e.cloud.Handler().ServeHTTP(rec, req)
	return rawResp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (r rawResp) expect(t *testing.T, what string, status int) rawResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	return r
}

func TestShapeMatchesARMExamples(t *testing.T) {
	e := newEnv(t, Options{})
	const prefix = "/subscriptions/" + SubscriptionID + "/resourceGroups/rg1/providers/Microsoft.ContainerService"
	cluster := prefix + "/managedClusters/clustername1"

	// PUT the example's own request body: 201 with the example's fields and an absolute
	// Azure-AsyncOperation URL.
	create := loadExample(t, "ManagedClustersCreate_Update.json")
	created := e.do(http.MethodPut, cluster, create.Parameters["parameters"]).expect(t, "create", http.StatusCreated)
	assertShape(t, "PUT cluster 201", create.Responses["201"].Body, created.body)
	async := created.header.Get("Azure-AsyncOperation")
	if !strings.HasPrefix(async, "https://management.azure.com/subscriptions/"+SubscriptionID+"/providers/Microsoft.ContainerService/locations/location1/operations/") {
		t.Errorf("Azure-AsyncOperation = %q", async)
	}
	if bytes.Contains(created.body, []byte("replacePassword1234$")) || bytes.Contains(created.body, []byte(`"secret"`)) {
		t.Errorf("the answer echoes secrets from the request: %s", created.body)
	}
	opPath := strings.TrimPrefix(async, "https://management.azure.com")
	var st map[string]any
	status := e.do(http.MethodGet, opPath, nil).expect(t, "operation status", http.StatusOK)
	if err := json.Unmarshal(status.body, &st); err != nil || st["status"] != "InProgress" || st["startTime"] == nil || st["id"] == nil {
		t.Fatalf("status while running: %s", status.body)
	}
	if status.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2", status.header.Get("Retry-After"))
	}
	e.clock.Advance(DefaultDurations.Create)
	status = e.do(http.MethodGet, opPath, nil).expect(t, "operation status", http.StatusOK)
	if err := json.Unmarshal(status.body, &st); err != nil || st["status"] != "Succeeded" {
		t.Fatalf("status when done: %s", status.body)
	}

	// The example request carries a user-assigned identity, so the example's cluster differs
	// from ours only in customer-provided outbound IPs.
	get := e.do(http.MethodGet, cluster, nil).expect(t, "get cluster", http.StatusOK)
	assertShape(t, "GET cluster", loadExample(t, "ManagedClustersGet.json").Responses["200"].Body, get.body,
		"properties.networkProfile.loadBalancerProfile.outboundIPs")
	if !bytes.Contains(get.body, []byte(`"/subscriptions/`+SubscriptionID+`/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1"`)) {
		t.Errorf("cluster id not in Azure's form: %s", get.body)
	}
	listRG := e.do(http.MethodGet, prefix+"/managedClusters", nil).expect(t, "list by rg", http.StatusOK)
	assertShape(t, "list by resource group", loadExample(t, "ManagedClustersListByResourceGroup.json").Responses["200"].Body, listRG.body)
	list := e.do(http.MethodGet, "/subscriptions/"+SubscriptionID+"/providers/Microsoft.ContainerService/managedClusters", nil).expect(t, "list", http.StatusOK)
	assertShape(t, "list by subscription", loadExample(t, "ManagedClustersList.json").Responses["200"].Body, list.body)
	up := e.do(http.MethodGet, cluster+"/upgradeProfiles/default", nil).expect(t, "upgrade profile", http.StatusOK)
	assertShape(t, "cluster upgrade profile", loadExample(t, "ManagedClustersGetUpgradeProfile.json").Responses["200"].Body, up.body)
	versions := e.do(http.MethodGet, "/subscriptions/"+SubscriptionID+"/providers/Microsoft.ContainerService/locations/westus2/kubernetesVersions", nil).expect(t, "versions", http.StatusOK)
	assertShape(t, "kubernetes versions", loadExample(t, "KubernetesVersions_List.json").Responses["200"].Body, versions.body)
	avail := e.do(http.MethodGet, cluster+"/availableAgentPoolVersions", nil).expect(t, "available versions", http.StatusOK)
	assertShape(t, "available agent pool versions", loadExample(t, "AgentPoolsGetAgentPoolAvailableVersions.json").Responses["200"].Body, avail.body)

	// Agent pools: the example's PUT, then GET, list and the pool upgrade profile.
	pool := cluster + "/agentPools/agentpool1"
	poolEx := loadExample(t, "AgentPoolsCreate_Update.json")
	pcreated := e.do(http.MethodPut, pool, poolEx.Parameters["parameters"]).expect(t, "create pool", http.StatusCreated)
	assertShape(t, "PUT pool 201", poolEx.Responses["201"].Body, pcreated.body)
	e.clock.Advance(DefaultDurations.Create)
	pget := e.do(http.MethodGet, pool, nil).expect(t, "get pool", http.StatusOK)
	assertShape(t, "GET pool", loadExample(t, "AgentPoolsGet.json").Responses["200"].Body, pget.body)
	plist := e.do(http.MethodGet, cluster+"/agentPools", nil).expect(t, "list pools", http.StatusOK)
	assertShape(t, "list pools", loadExample(t, "AgentPoolsList.json").Responses["200"].Body, plist.body)

	// Upgrade only the control plane so the pool has upgrades to offer.
	var mc map[string]any
	if err := json.Unmarshal(get.body, &mc); err != nil {
		t.Fatal(err)
	}
	delete(mc["properties"].(map[string]any), "agentPoolProfiles")
	mc["properties"].(map[string]any)["kubernetesVersion"] = "1.32.0"
	body, _ := json.Marshal(mc)
	e.do(http.MethodPut, cluster, body).expect(t, "upgrade control plane", http.StatusOK)
	e.clock.Advance(DefaultDurations.Upgrade)
	pup := e.do(http.MethodGet, pool+"/upgradeProfiles/default", nil).expect(t, "pool upgrade profile", http.StatusOK)
	assertShape(t, "pool upgrade profile", loadExample(t, "AgentPoolsGetUpgradeProfile.json").Responses["200"].Body, pup.body)

	// POSTs and DELETEs: 202 with the polling headers the examples show.
	ni := e.do(http.MethodPost, pool+"/upgradeNodeImageVersion", nil).expect(t, "node image upgrade", http.StatusAccepted)
	assertShape(t, "node image upgrade 202", loadExample(t, "AgentPoolsUpgradeNodeImageVersion.json").Responses["202"].Body, ni.body)
	if ni.header.Get("Azure-AsyncOperation") == "" {
		t.Error("node image upgrade: no Azure-AsyncOperation header")
	}
	busy := e.do(http.MethodPost, cluster+"/stop", nil).expect(t, "stop while busy", http.StatusConflict)
	if busy.header.Get("x-ms-error-code") != "OperationNotAllowed" {
		t.Errorf("x-ms-error-code = %q", busy.header.Get("x-ms-error-code"))
	}
	abort := e.do(http.MethodPost, pool+"/abort", nil).expect(t, "abort", http.StatusAccepted)
	for _, h := range []string{"Location", "Azure-AsyncOperation"} {
		if abort.header.Get(h) == "" {
			t.Errorf("abort: no %s header (example has both)", h)
		}
	}
	stop := e.do(http.MethodPost, cluster+"/stop", nil).expect(t, "stop", http.StatusAccepted)
	loc := stop.header.Get("Location")
	if !strings.Contains(loc, "/operationresults/") || stop.header.Get("Azure-AsyncOperation") == "" {
		t.Fatalf("stop headers: %v", stop.header)
	}
	locPath := strings.TrimPrefix(loc, "https://management.azure.com")
	e.do(http.MethodGet, locPath, nil).expect(t, "operation result while running", http.StatusAccepted)
	e.clock.Advance(DefaultDurations.StartStop)
	e.do(http.MethodGet, locPath, nil).expect(t, "operation result when done", http.StatusNoContent)
	e.do(http.MethodPost, cluster+"/start", nil).expect(t, "start", http.StatusAccepted)
	e.clock.Advance(DefaultDurations.StartStop)

	del := e.do(http.MethodDelete, pool, nil).expect(t, "delete pool", http.StatusAccepted)
	if !strings.Contains(del.header.Get("Location"), "/operationresults/") {
		t.Errorf("delete pool Location = %q", del.header.Get("Location"))
	}
	e.clock.Advance(DefaultDurations.Delete)
	e.do(http.MethodDelete, pool, nil).expect(t, "delete absent pool", http.StatusNoContent)
	e.do(http.MethodGet, pool, nil).expect(t, "get deleted pool", http.StatusNotFound)

	// Errors have ARM's shape.
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, prefix + "/managedClusters/nosuch", http.StatusNotFound, "ResourceNotFound"},
		{http.MethodGet, prefix + "/managedClusters/clustername1/widgets", http.StatusNotFound, "InvalidResourceType"},
		{http.MethodGet, "/nothing/here", http.StatusNotFound, "NotFound"},
	} {
		r := e.do(tc.method, tc.path, nil).expect(t, tc.path, tc.status)
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s: error body %s, want code %s", tc.path, r.body, tc.code)
		}
		if r.header.Get("x-ms-error-code") != tc.code {
			t.Errorf("%s: x-ms-error-code %q", tc.path, r.header.Get("x-ms-error-code"))
		}
	}
	// Without a bearer token ARM answers 401.
	req := httptest.NewRequest(http.MethodGet, "https://management.azure.com"+cluster, nil)
	rec := httptest.NewRecorder()
	e.cloud.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: status %d", rec.Code)
	}

	// Every request was logged with the simulated time.
	reqs := e.cloud.Requests()
	if len(reqs) == 0 || !reqs[len(reqs)-1].At.Equal(e.clock.Now()) || reqs[0].At.After(reqs[len(reqs)-1].At) {
		t.Errorf("request log: first %v last %v now %v", reqs[0], reqs[len(reqs)-1], e.clock.Now().Format(time.RFC3339))
	}
}
