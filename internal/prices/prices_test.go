package prices_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/prices"
	"github.com/aksbot/aksbot/internal/store"
)

// priceServer serves the simulated cloud's Retail Prices API over HTTP and counts requests.
func priceServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "sim.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cloud, err := sim.New(sim.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		cloud.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func TestVMPriceFollowsPagesAndPicksTheMeter(t *testing.T) {
	srv, seen := priceServer(t)
	c, err := prices.New(prices.Options{Base: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Four meters (Linux, Spot, Low Priority, Windows) at three per page: two pages.
	p, err := c.VM(ctx, "eastus", "Standard_D4s_v5", "Linux")
	if err != nil {
		t.Fatal(err)
	}
	if p.Hourly != 0.192 || p.Currency != "USD" || p.Meter != "pay-as-you-go, Linux" {
		t.Fatalf("Linux price = %+v", p)
	}
	if n := len(seen()); n != 2 {
		t.Fatalf("%d requests, want 2 (one NextPageLink followed): %v", n, seen())
	}
	q := seen()[0]
	for _, want := range []string{"api-version=2023-01-01-preview", "serviceName+eq+%27Virtual+Machines%27", "armSkuName+eq+%27Standard_D4s_v5%27", "priceType+eq+%27Consumption%27", "armRegionName+eq+%27eastus%27"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
	w, err := c.VM(ctx, "eastus", "Standard_D4s_v5", "Windows")
	if err != nil || w.Hourly != 0.376 {
		t.Fatalf("Windows price = %+v, %v (want 0.192 + 4 x 0.046)", w, err)
	}
	cp, err := c.ControlPlane(ctx, "westeurope", "Standard")
	if err != nil || cp.Hourly != 0.10 {
		t.Fatalf("Standard tier = %+v, %v", cp, err)
	}
	if free, err := c.ControlPlane(ctx, "westeurope", "Free"); err != nil || free.Hourly != 0 {
		t.Fatalf("Free tier = %+v, %v", free, err)
	}
	if _, err := c.VM(ctx, "eastus", "Standard_Nope_v9", "Linux"); aks.ErrorCode(err) != aks.ENotFound {
		t.Fatalf("unknown size: %v", err)
	}
}

func TestPricesAreCachedInTheStore(t *testing.T) {
	srv, seen := priceServer(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "aksbot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := prices.New(prices.Options{Base: srv.URL, Cache: st, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if p, err := c.VM(ctx, "westeurope", "Standard_DS2_v2", ""); err != nil || p.Hourly != 0.171 {
			t.Fatalf("price = %+v, %v", p, err)
		}
	}
	if n := len(seen()); n != 2 {
		t.Fatalf("%d requests for three asks, want the 2 pages of the first", n)
	}
}

func TestPricesUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, _ := prices.New(prices.Options{Base: srv.URL})
	_, err := c.VM(context.Background(), "eastus", "Standard_D4s_v5", "Linux")
	if aks.ErrorCode(err) != aks.EUnavailable || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("err = %v", err)
	}
	if _, err := prices.New(prices.Options{Base: "ftp://x"}); err == nil {
		t.Fatal("ftp base accepted")
	}
}
