package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/aksbot/aksbot/internal/views"
)

// Azure's own example answers, served over HTTPS by a minimal ARM server, read by the real
// client and rendered by the views that `/aks show`, `/aks list` and `/aks nodepool list` use.
func TestViewsRenderAzureExampleBodies(t *testing.T) {
	bodies := map[string]string{
		"/managedclusters/clustername1": "ManagedClustersGet.json",
		"/managedclusters":              "ManagedClustersList.json",
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.ToLower(r.URL.Path)
		for suffix, file := range bodies {
			if strings.HasSuffix(path, suffix) {
				raw, err := os.ReadFile(filepath.Join("testdata", "arm-examples", file))
				if err != nil {
					t.Error(err)
					return
				}
				var doc struct {
					Responses map[string]struct {
						Body json.RawMessage `json:"body"`
					} `json:"responses"`
				}
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Error(err)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(doc.Responses["200"].Body)
				return
			}
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c, err := New(Config{SubscriptionID: "00000000-0000-0000-0000-000000000000", Credential: staticToken{},
		Endpoint: srv.URL, Transport: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	cluster, err := c.GetCluster(ctx, "rg1", "clustername1")
	if err != nil {
		t.Fatal(err)
	}
	show := views.ClusterDetail(cluster)
	for _, want := range []string{"clustername1", "rg1", "1.9.6", "dnsprefix1-abcd1234.hcp.eastus.azmk8s.io", "Succeeded", "location1"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if !regexp.MustCompile(`nodepool1\s+\S+\s+3\s+Standard_DS1_v2`).MatchString(show) {
		t.Errorf("show does not list nodepool1 with 3 Standard_DS1_v2 nodes:\n%s", show)
	}
	if pools := views.PoolList(cluster); !regexp.MustCompile(`nodepool1\s+\S+\s+3\s+Standard_DS1_v2`).MatchString(pools) {
		t.Errorf("nodepool list:\n%s", pools)
	}

	list, err := c.ListClusters(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := views.ClusterList("", list)
	if !strings.Contains(out, "clustername1") || !strings.Contains(out, "rg1") {
		t.Errorf("list:\n%s", out)
	}
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test"}, nil
}
