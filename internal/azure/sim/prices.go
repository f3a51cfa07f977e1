package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The simulated Azure Retail Prices API (GET /api/retail/prices): a small table of list prices
// for the VM sizes the console and the tests use, so that plans show a cost without an account.
//
// Prices are USD, pay-as-you-go ("Consumption"), per VM-hour. eastus Linux prices are the
// Retail Prices API's values for these sizes as published through 2024-2025 (for example
// Standard_D4s_v5 0.192, Standard_DS2_v2 0.146; they have not changed in years). westeurope
// Linux prices are recalled from the same API and are approximate. This table was written on
// 2026-12-04 without network access, so it was not re-fetched: check a value with
//
//	curl -s "https://prices.azure.com/api/retail/prices?\$filter=serviceName%20eq%20'Virtual%20Machines'%20and%20armRegionName%20eq%20'eastus'%20and%20armSkuName%20eq%20'Standard_D4s_v5'%20and%20priceType%20eq%20'Consumption'"
//
// Windows meters are the Linux price plus the Windows Server licence of 0.046 per vCPU-hour,
// which is how Azure composes them. Each size also has a Spot and a Low Priority meter (at
// roughly the usual discounts), which the bot must skip. AKS control-plane tiers: Standard 0.10
// and Premium 0.60 per cluster-hour (Azure's published AKS prices).
var listPrices = map[string]map[string]float64{ // location -> size -> Linux USD per hour
	"eastus": {
		"Standard_B2s": 0.0416, "Standard_B2ms": 0.0832, "Standard_B4ms": 0.166,
		"Standard_DS1_v2": 0.073, "Standard_DS2_v2": 0.146, "Standard_DS3_v2": 0.293, "Standard_DS4_v2": 0.585,
		"Standard_D2s_v3": 0.096, "Standard_D4s_v3": 0.192, "Standard_D8s_v3": 0.384, "Standard_D16s_v3": 0.768,
		"Standard_D2s_v5": 0.096, "Standard_D4s_v5": 0.192, "Standard_D8s_v5": 0.384, "Standard_D16s_v5": 0.768,
		"Standard_D2as_v5": 0.086, "Standard_D4as_v5": 0.172,
		"Standard_E2s_v5": 0.126, "Standard_E4s_v5": 0.252, "Standard_E8s_v5": 0.504,
		"Standard_F2s_v2": 0.0846, "Standard_F4s_v2": 0.169, "Standard_F8s_v2": 0.338,
	},
	"westeurope": {
		"Standard_B2s": 0.048, "Standard_B2ms": 0.096,
		"Standard_DS1_v2": 0.085, "Standard_DS2_v2": 0.171, "Standard_DS3_v2": 0.342,
		"Standard_D2s_v3": 0.12, "Standard_D4s_v3": 0.24, "Standard_D8s_v3": 0.48,
		"Standard_D2s_v5": 0.115, "Standard_D4s_v5": 0.23, "Standard_D8s_v5": 0.46, "Standard_D16s_v5": 0.92,
		"Standard_E4s_v5": 0.296, "Standard_F4s_v2": 0.193,
	},
}

var controlPlanePrices = map[string]float64{"Standard": 0.10, "Premium": 0.60}

// pricePageSize is small on purpose: the table is small, and clients must follow NextPageLink.
const pricePageSize = 3

type priceItem struct {
	CurrencyCode  string  `json:"currencyCode"`
	TierMinUnits  float64 `json:"tierMinimumUnits"`
	RetailPrice   float64 `json:"retailPrice"`
	UnitPrice     float64 `json:"unitPrice"`
	ArmRegionName string  `json:"armRegionName"`
	Location      string  `json:"location"`
	EffectiveDate string  `json:"effectiveStartDate"`
	MeterName     string  `json:"meterName"`
	ProductName   string  `json:"productName"`
	SkuName       string  `json:"skuName"`
	ServiceName   string  `json:"serviceName"`
	ArmSkuName    string  `json:"armSkuName"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	Type          string  `json:"type"`
	IsPrimary     bool    `json:"isPrimaryMeterRegion"`
}

// priceItems is the whole simulated price list, in a stable order.
func priceItems() []priceItem {
	var out []priceItem
	for _, loc := range []string{"eastus", "westeurope"} {
		sizes := listPrices[loc]
		names := make([]string, 0, len(sizes))
		for s := range sizes {
			names = append(names, s)
		}
		sort.Strings(names)
		for _, size := range names {
			linux := sizes[size]
			series, short := seriesOf(size)
			vcpus := 0
			if info, ok := skuInfo(size); ok {
				vcpus = info.vcpus
			}
			item := func(product, sku, meter string, price float64) priceItem {
				return priceItem{CurrencyCode: "USD", RetailPrice: price, UnitPrice: price, ArmRegionName: loc,
					Location: locationLabel(loc), EffectiveDate: "2024-01-01T00:00:00Z", MeterName: meter,
					ProductName: product, SkuName: sku, ServiceName: "Virtual Machines", ArmSkuName: size,
					UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimary: true}
			}
			out = append(out,
				item("Virtual Machines "+series+" Series", short, short, linux),
				item("Virtual Machines "+series+" Series", short+" Spot", short+" Spot", round4(linux*0.2)),
				item("Virtual Machines "+series+" Series", short+" Low Priority", short+" Low Priority", round4(linux*0.2)),
				item("Virtual Machines "+series+" Series Windows", short, short, round4(linux+0.046*float64(vcpus))),
			)
		}
		for _, tier := range []string{"Standard", "Premium"} {
			out = append(out, priceItem{CurrencyCode: "USD", RetailPrice: controlPlanePrices[tier], UnitPrice: controlPlanePrices[tier],
				ArmRegionName: loc, Location: locationLabel(loc), EffectiveDate: "2023-06-01T00:00:00Z",
				MeterName: tier + " Hosted Control Plane", ProductName: "Azure Kubernetes Service", SkuName: tier,
				ServiceName: "Azure Kubernetes Service", UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimary: true})
		}
	}
	return out
}

func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }

func locationLabel(loc string) string {
	switch loc {
	case "eastus":
		return "US East"
	case "westeurope":
		return "EU West"
	}
	return loc
}

// seriesOf names a size's series and short name as the price list does: Standard_D4s_v5 ->
// "DSv5", "D4s v5".
func seriesOf(size string) (series, short string) {
	s := strings.TrimPrefix(size, "Standard_")
	short = strings.ReplaceAll(s, "_", " ")
	parts := strings.SplitN(s, "_", 2)
	letters := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, parts[0])
	series = strings.ToUpper(letters[:1]) + letters[1:]
	if len(parts) == 2 {
		series += parts[1]
	}
	return series, short
}

// servePrices answers GET /api/retail/prices with the items $filter selects, pricePageSize at a
// time ($skip pages on; NextPageLink names the next page). The filter understands what the
// real API does for `field eq 'value'` joined by `and`, with case-sensitive values.
func (c *Cloud) servePrices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	conds, err := parsePriceFilter(q.Get("$filter"))
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"Error": map[string]string{"Code": "InvalidFilter", "Message": err.Error()}})
		return
	}
	var sel []priceItem
	for _, it := range priceItems() {
		if matchPrice(it, conds) {
			sel = append(sel, it)
		}
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	skip = min(max(skip, 0), len(sel))
	end := min(skip+pricePageSize, len(sel))
	var next *string
	if end < len(sel) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skip", strconv.Itoa(end))
		link := baseURL(r) + r.URL.Path + "?" + nq.Encode()
		next = &link
	}
	currency := strings.Trim(q.Get("currencyCode"), "'")
	if currency == "" {
		currency = "USD"
	}
	page := sel[skip:end]
	if currency != "USD" {
		page = nil // the simulated list has USD prices only
		next = nil
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"BillingCurrency": currency, "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
		"Items": nonNil(page), "NextPageLink": next, "Count": len(page),
	})
}

func nonNil(items []priceItem) []priceItem {
	if items == nil {
		return []priceItem{}
	}
	return items
}

type priceCond struct{ field, value string }

func parsePriceFilter(f string) ([]priceCond, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return nil, nil
	}
	var out []priceCond
	for _, part := range splitAnd(f) {
		field, rest, ok := strings.Cut(strings.TrimSpace(part), " eq ")
		rest = strings.TrimSpace(rest)
		if !ok || len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
			return nil, fmt.Errorf("cannot parse %q: expected field eq 'value'", part)
		}
		out = append(out, priceCond{field: strings.TrimSpace(field), value: strings.ReplaceAll(rest[1:len(rest)-1], "''", "'")})
	}
	return out, nil
}

// splitAnd splits on " and " outside quotes.
func splitAnd(s string) []string {
	var parts []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inQuote = !inQuote
		case !inQuote && strings.HasPrefix(s[i:], " and "):
			parts = append(parts, s[start:i])
			start = i + len(" and ")
			i += len(" and ") - 1
		}
	}
	return append(parts, s[start:])
}

func matchPrice(it priceItem, conds []priceCond) bool {
	for _, c := range conds {
		var v string
		switch strings.ToLower(c.field) {
		case "servicename":
			v = it.ServiceName
		case "armregionname":
			v = it.ArmRegionName
		case "armskuname":
			v = it.ArmSkuName
		case "pricetype", "type":
			v = it.Type
		case "skuname":
			v = it.SkuName
		case "metername":
			v = it.MeterName
		case "productname":
			v = it.ProductName
		case "currencycode":
			v = it.CurrencyCode
		default:
			return false
		}
		if v != c.value {
			return false
		}
	}
	return true
}
