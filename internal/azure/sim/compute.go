package sim

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The simulated Microsoft.Compute endpoints the bot's preflight reads: the subscription's vCPU
// quotas in a region (usages) and the VM sizes offered there (resource SKUs). Limits are what a
// new pay-as-you-go subscription gets: 100 regional vCPUs and 50 per VM family, with 100 for
// the DSv2 family of the default size so that the README's demo fits; a few sizes are
// restricted, as in real subscriptions.
const (
	regionalVCPULimit = 100
	familyVCPULimit   = 50
)

var familyLimits = map[string]int{"standardDSv2Family": 100}

// restrictedSizes are refused to the simulated subscription: everywhere, or in some zones.
var restrictedSizes = map[string]struct {
	reason string
	zones  []string // nil: the whole region
}{
	"Standard_NC6s_v3": {reason: "NotAvailableForSubscription"},
	"Standard_L16s_v3": {reason: "NotAvailableForSubscription", zones: []string{"3"}},
	"Standard_D32s_v5": {reason: "NotAvailableForSubscription"},
	"Standard_E16s_v3": {reason: "QuotaId"},
}

// zonelessSizes are offered in the region but in no availability zone.
var zonelessSizes = map[string]bool{"Standard_NC4as_T4_v3": true, "Standard_NC8as_T4_v3": true}

type sizeInfo struct {
	vcpus  int
	family string
}

// vcpusOverride are sizes whose name does not carry their vCPU count.
var vcpusOverride = map[string]int{
	"Standard_DS1_v2": 1, "Standard_DS2_v2": 2, "Standard_DS3_v2": 4, "Standard_DS4_v2": 8, "Standard_DS5_v2": 16,
	"Standard_D2_v2": 2, "Standard_D3_v2": 4, "Standard_D4_v2": 8,
}

var sizeName = regexp.MustCompile(`^Standard_([A-Z]+)(\d+)([a-z]*)(?:_([A-Z0-9]+))?(?:_(v\d))?$`)

// skuInfo returns a catalogue size's vCPUs and quota family (as Compute usages name it).
func skuInfo(size string) (sizeInfo, bool) {
	canon, ok := canonicalVMSize(size)
	if !ok {
		return sizeInfo{}, false
	}
	m := sizeName.FindStringSubmatch(canon)
	if m == nil {
		return sizeInfo{}, false
	}
	series, num, suffix, accel, version := m[1], m[2], m[3], m[4], m[5]
	n, _ := strconv.Atoi(num)
	if v, ok := vcpusOverride[canon]; ok {
		n = v
	}
	// Family: standard + series letters (+ the suffix's letters other than m/d-less memory
	// markers) + version + Family, as Azure spells them: standardDSv5Family, standardDDSv5Family,
	// standardDASv5Family, standardBSFamily, standardNCASv3_T4Family.
	fam := series
	switch {
	case series == "B":
		fam = "BS"
	case series == "DS" || series == "D" && suffix == "" && version == "v2":
		// DSv2 / Dv2 keep their letters
	default:
		fam += strings.ToUpper(strings.TrimSuffix(suffix, "m"))
	}
	if version != "" {
		fam += version
	}
	if accel != "" {
		fam += "_" + accel
	}
	return sizeInfo{vcpus: n, family: "standard" + fam + "Family"}, true
}

func familyLabel(family string) string {
	f := strings.TrimSuffix(strings.TrimPrefix(family, "standard"), "Family")
	return "Standard " + f + " Family vCPUs"
}

// usages answers GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/usages:
// the vCPUs the subscription's running nodes in that location use, per family and in total.
func (c *Cloud) usages(tx *bolt.Tx, sub, location string) (*reply, error) {
	location = normLocation(location)
	recs, err := listClusters(tx, strings.ToLower(sub)+"/")
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	total := 0
	for _, rec := range recs {
		if normLocation(rec.Location) != location || rec.stopped() {
			continue
		}
		for _, p := range rec.Pools {
			if p.Properties == nil {
				continue
			}
			info, ok := skuInfo(deref(p.Properties.VMSize))
			if !ok {
				continue
			}
			n := int(deref(p.Properties.Count)) * info.vcpus
			used[info.family] += n
			total += n
		}
	}
	type name struct {
		Value          string `json:"value"`
		LocalizedValue string `json:"localizedValue"`
	}
	type usage struct {
		Unit         string `json:"unit"`
		CurrentValue int    `json:"currentValue"`
		Limit        int64  `json:"limit"`
		Name         name   `json:"name"`
	}
	out := []usage{{Unit: "Count", CurrentValue: total, Limit: regionalVCPULimit, Name: name{"cores", "Total Regional vCPUs"}}}
	seen := map[string]bool{}
	for _, size := range vmSizes {
		info, _ := skuInfo(size)
		if seen[info.family] {
			continue
		}
		seen[info.family] = true
		limit := familyVCPULimit
		if l, ok := familyLimits[info.family]; ok {
			limit = l
		}
		out = append(out, usage{Unit: "Count", CurrentValue: used[info.family], Limit: int64(limit), Name: name{info.family, familyLabel(info.family)}})
	}
	out = append(out, usage{Unit: "Count", CurrentValue: len(recs), Limit: 25000, Name: name{"virtualMachines", "Virtual Machines"}})
	return &reply{status: http.StatusOK, body: map[string]any{"value": out}}, nil
}

// resourceSKUs answers GET /subscriptions/{sub}/providers/Microsoft.Compute/skus with the
// catalogue's VM sizes in the location of `$filter=location eq '...'` (every location when
// there is none: the simulated region is everywhere).
func (c *Cloud) resourceSKUs(cl *call) *reply {
	location := "westeurope"
	if f := cl.r.URL.Query().Get("$filter"); f != "" {
		if _, v, ok := strings.Cut(f, "location eq '"); ok {
			location = normLocation(strings.TrimSuffix(strings.TrimSpace(v), "'"))
		}
	}
	type kv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type locInfo struct {
		Location string   `json:"location"`
		Zones    []string `json:"zones"`
	}
	type restriction struct {
		Type            string         `json:"type"`
		Values          []string       `json:"values"`
		RestrictionInfo map[string]any `json:"restrictionInfo"`
		ReasonCode      string         `json:"reasonCode"`
	}
	type sku struct {
		ResourceType string        `json:"resourceType"`
		Name         string        `json:"name"`
		Tier         string        `json:"tier"`
		Size         string        `json:"size"`
		Family       string        `json:"family"`
		Locations    []string      `json:"locations"`
		LocationInfo []locInfo     `json:"locationInfo"`
		Capabilities []kv          `json:"capabilities"`
		Restrictions []restriction `json:"restrictions"`
	}
	out := make([]sku, 0, len(vmSizes))
	for _, size := range vmSizes {
		info, _ := skuInfo(size)
		zones := []string{"1", "2", "3"}
		if zonelessSizes[size] {
			zones = []string{}
		}
		s := sku{ResourceType: "virtualMachines", Name: size, Tier: "Standard", Size: strings.TrimPrefix(size, "Standard_"),
			Family: info.family, Locations: []string{location}, LocationInfo: []locInfo{{Location: location, Zones: zones}},
			Capabilities: []kv{{"vCPUs", strconv.Itoa(info.vcpus)}, {"vCPUsAvailable", strconv.Itoa(info.vcpus)}},
			Restrictions: []restriction{}}
		if r, ok := restrictedSizes[size]; ok {
			if r.zones == nil {
				s.Restrictions = append(s.Restrictions, restriction{Type: "Location", Values: []string{location},
					RestrictionInfo: map[string]any{"locations": []string{location}}, ReasonCode: r.reason})
			} else {
				s.Restrictions = append(s.Restrictions, restriction{Type: "Zone", Values: []string{location},
					RestrictionInfo: map[string]any{"locations": []string{location}, "zones": r.zones}, ReasonCode: r.reason})
			}
		}
		out = append(out, s)
	}
	// A non-VM entry, as the real list has thousands of them, to be skipped.
	out = append(out, sku{ResourceType: "disks", Name: "Premium_LRS", Tier: "Premium", Locations: []string{location},
		LocationInfo: []locInfo{{Location: location, Zones: []string{"1", "2", "3"}}}, Restrictions: []restriction{}})
	return &reply{status: http.StatusOK, body: map[string]any{"value": out}}
}
