// Package prices reads list prices from the Azure Retail Prices API
// (https://prices.azure.com/api/retail/prices): pay-as-you-go hourly prices of VM sizes and of
// the AKS control-plane tiers. The API needs no authentication; answers are cached (in the
// bot's store) for a day.
package prices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// DefaultBase is the public Retail Prices API.
const DefaultBase = "https://prices.azure.com"

// APIVersion is sent with every request; since this version filter values are case-sensitive.
const APIVersion = "2023-01-01-preview"

// DefaultTTL is how long a price is cached.
const DefaultTTL = 24 * time.Hour

// maxPages bounds how many NextPageLinks are followed for one question.
const maxPages = 20

// Cache keeps answers between calls (jobs.Store satisfies it).
type Cache interface {
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
}

// Client asks the Retail Prices API. The zero value is not usable: make it with New.
type Client struct {
	base     string
	currency string
	http     *http.Client
	cache    Cache
	ttl      time.Duration
}

// Options configure a Client. Every field is optional.
type Options struct {
	Base     string       // "" = DefaultBase (AKSBOT_PRICES_URL)
	Currency string       // "" = USD (prices.currency)
	HTTP     *http.Client // nil = a client with a 20 s timeout
	Cache    Cache        // nil = no cache
	TTL      time.Duration
}

// New makes a Client.
func New(o Options) (*Client, error) {
	base := strings.TrimRight(o.Base, "/")
	if base == "" {
		base = DefaultBase
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("prices: base URL %q is not an http(s) URL", o.Base)
	}
	c := &Client{base: base, currency: strings.ToUpper(o.Currency), http: o.HTTP, cache: o.Cache, ttl: o.TTL}
	if c.currency == "" {
		c.currency = "USD"
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 20 * time.Second}
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	return c, nil
}

// Currency is the currency prices are asked in.
func (c *Client) Currency() string { return c.currency }

// Item is one price of the API's answer (the fields aksbot reads).
type Item struct {
	CurrencyCode  string  `json:"currencyCode"`
	RetailPrice   float64 `json:"retailPrice"`
	UnitPrice     float64 `json:"unitPrice"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	ArmRegionName string  `json:"armRegionName"`
	ArmSkuName    string  `json:"armSkuName"`
	ProductName   string  `json:"productName"`
	SkuName       string  `json:"skuName"`
	MeterName     string  `json:"meterName"`
	ServiceName   string  `json:"serviceName"`
	Type          string  `json:"type"`
	EffectiveDate string  `json:"effectiveStartDate"`
}

// Page is one page of the API's answer.
type Page struct {
	BillingCurrency string  `json:"BillingCurrency"`
	Items           []Item  `json:"Items"`
	NextPageLink    *string `json:"NextPageLink"`
	Count           int     `json:"Count"`
}

// VM returns the pay-as-you-go hourly list price of one VM of size in location, for os (Linux
// or Windows; "" = Linux). Spot and Low Priority meters are skipped. Errors are *aks.Error
// (EUnavailable when the API cannot be read, ENotFound when it lists no such price).
func (c *Client) VM(ctx context.Context, location, size, os string) (aks.Price, error) {
	windows := strings.EqualFold(os, "Windows")
	osName := "Linux"
	if windows {
		osName = "Windows"
	}
	key := fmt.Sprintf("prices/%s/vm/%s/%s/%s/%s", c.base, c.currency, strings.ToLower(location), strings.ToLower(size), osName)
	filter := fmt.Sprintf("serviceName eq 'Virtual Machines' and armRegionName eq '%s' and armSkuName eq '%s' and priceType eq 'Consumption'",
		quote(strings.ToLower(location)), quote(size))
	return c.price(ctx, key, filter, func(it Item) bool {
		return strings.Contains(it.ProductName, "Windows") == windows && !spot(it)
	}, fmt.Sprintf("%s in %s (%s)", size, location, osName), "pay-as-you-go, "+osName)
}

// ControlPlane returns the hourly list price of one cluster's control plane in a tier
// (Standard or Premium; Free costs nothing and is not asked for).
func (c *Client) ControlPlane(ctx context.Context, location, tier string) (aks.Price, error) {
	if tier == "" || strings.EqualFold(tier, "Free") {
		return aks.Price{Currency: c.currency, Meter: "Free tier"}, nil
	}
	key := fmt.Sprintf("prices/%s/aks/%s/%s/%s", c.base, c.currency, strings.ToLower(location), strings.ToLower(tier))
	filter := fmt.Sprintf("serviceName eq 'Azure Kubernetes Service' and armRegionName eq '%s' and priceType eq 'Consumption'", quote(strings.ToLower(location)))
	return c.price(ctx, key, filter, func(it Item) bool {
		return strings.EqualFold(it.SkuName, tier) && !spot(it)
	}, fmt.Sprintf("the AKS %s tier in %s", tier, location), tier+" tier, per cluster")
}

func spot(it Item) bool {
	return strings.Contains(it.MeterName, "Spot") || strings.Contains(it.SkuName, "Spot") ||
		strings.Contains(it.MeterName, "Low Priority") || strings.Contains(it.SkuName, "Low Priority")
}

func quote(s string) string { return strings.ReplaceAll(s, "'", "''") }

func (c *Client) price(ctx context.Context, key, filter string, match func(Item) bool, what, meter string) (aks.Price, error) {
	if c.cache != nil {
		if raw, ok, err := c.cache.CacheGet(ctx, key); err == nil && ok {
			var p aks.Price
			if json.Unmarshal(raw, &p) == nil {
				return p, nil
			}
		}
	}
	items, err := c.query(ctx, filter)
	if err != nil {
		return aks.Price{}, err
	}
	var best *Item
	for i := range items {
		it := &items[i]
		if it.Type != "" && it.Type != "Consumption" || !strings.Contains(strings.ToLower(it.UnitOfMeasure), "hour") || !match(*it) {
			continue
		}
		if best == nil || it.EffectiveDate > best.EffectiveDate {
			best = it
		}
	}
	if best == nil {
		return aks.Price{}, &aks.Error{Code: aks.ENotFound, Message: "the price list has no pay-as-you-go price for " + what}
	}
	p := aks.Price{Hourly: best.RetailPrice, Currency: c.currency, Meter: meter}
	if best.CurrencyCode != "" {
		p.Currency = best.CurrencyCode
	}
	if c.cache != nil {
		if raw, err := json.Marshal(p); err == nil {
			_ = c.cache.CachePut(ctx, key, raw, c.ttl) // a failed cache write only costs a request
		}
	}
	return p, nil
}

// query returns every item the filter selects, following NextPageLink.
func (c *Client) query(ctx context.Context, filter string) ([]Item, error) {
	q := url.Values{}
	q.Set("api-version", APIVersion)
	q.Set("currencyCode", "'"+c.currency+"'")
	q.Set("$filter", filter)
	next := c.base + "/api/retail/prices?" + q.Encode()
	var items []Item
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return nil, unavailable(fmt.Errorf("more than %d pages", maxPages))
		}
		page, err := c.get(ctx, next)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		next = ""
		if page.NextPageLink != nil {
			next = *page.NextPageLink
		}
	}
	return items, nil
}

func (c *Client) get(ctx context.Context, u string) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, unavailable(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Page{}, unavailable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Page{}, unavailable(err)
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, unavailable(fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(body)))
	}
	var page Page
	if err := json.Unmarshal(body, &page); err != nil {
		return Page{}, unavailable(fmt.Errorf("unreadable answer: %w", err))
	}
	return page, nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func unavailable(err error) error {
	msg := "the Azure price list could not be read"
	var ue *url.Error
	if errors.As(err, &ue) {
		msg += " (" + ue.Err.Error() + ")"
	} else {
		msg += " (" + err.Error() + ")"
	}
	return &aks.Error{Code: aks.EUnavailable, Message: msg, Err: err}
}
