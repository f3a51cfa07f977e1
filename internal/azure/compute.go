package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/aksbot/aksbot/internal/aks"
)

// SKUTTL is how long the VM sizes of a region are kept: the list is large (thousands of
// entries in a real region) and changes rarely.
const SKUTTL = 24 * time.Hour

// ComputeRole is what the identity needs for the quota and VM size preflight, for messages,
// `aksbot doctor` and the README.
const ComputeRole = "Reader on the subscription (Microsoft.Compute/locations/usages/read and Microsoft.Compute/skus/read)"

type skuEntry struct {
	at    time.Time
	sizes map[string]aks.VMSize // lower-case name -> size
}

// VMSize returns what the Resource SKUs API says about a VM size in a location: its vCPUs,
// quota family, zones and restrictions for this subscription. A size the region does not offer
// is an *aks.Error (ENotFound); a refusal to read is EUnauthorized, saying which role to grant.
func (c *Client) VMSize(ctx context.Context, location, size string) (aks.VMSize, error) {
	location = normLocation(location)
	sizes, err := c.vmSizes(ctx, location)
	if err != nil {
		return aks.VMSize{}, err
	}
	s, ok := sizes[strings.ToLower(size)]
	if !ok {
		return aks.VMSize{}, &aks.Error{Code: aks.ENotFound, Message: fmt.Sprintf("VM size %s is not offered in %s", size, location),
			Hint: "pick a size from `az vm list-skus -l " + location + " --resource-type virtualMachines -o table`"}
	}
	return s, nil
}

func (c *Client) vmSizes(ctx context.Context, location string) (map[string]aks.VMSize, error) {
	c.skuMu.Lock()
	e, ok := c.skuCache[location]
	c.skuMu.Unlock()
	if ok && time.Since(e.at) < SKUTTL {
		return e.sizes, nil
	}
	sizes := map[string]aks.VMSize{}
	pager := c.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: to.Ptr(fmt.Sprintf("location eq '%s'", location))})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.computeErr(err, "list the VM sizes of "+location, "Microsoft.Compute/skus/read")
		}
		for _, s := range page.Value {
			if s == nil || !strings.EqualFold(deref(s.ResourceType), "virtualMachines") || s.Name == nil {
				continue
			}
			sizes[strings.ToLower(*s.Name)] = vmSizeFromSKU(s, location)
		}
	}
	c.skuMu.Lock()
	c.skuCache[location] = skuEntry{at: time.Now(), sizes: sizes}
	c.skuMu.Unlock()
	return sizes, nil
}

func vmSizeFromSKU(s *armcompute.ResourceSKU, location string) aks.VMSize {
	v := aks.VMSize{Name: deref(s.Name), Family: deref(s.Family)}
	for _, cp := range s.Capabilities {
		if cp != nil && deref(cp.Name) == "vCPUs" {
			v.VCPUs, _ = strconv.Atoi(deref(cp.Value))
		}
	}
	for _, li := range s.LocationInfo {
		if li == nil || !strings.EqualFold(deref(li.Location), location) {
			continue
		}
		for _, z := range li.Zones {
			v.Zones = append(v.Zones, deref(z))
		}
	}
	for _, r := range s.Restrictions {
		if r == nil {
			continue
		}
		reason := string(deref(r.ReasonCode))
		if reason == "" {
			reason = "restricted"
		}
		switch deref(r.Type) {
		case armcompute.ResourceSKURestrictionsTypeLocation:
			v.Restricted = reason
		case armcompute.ResourceSKURestrictionsTypeZone:
			if r.RestrictionInfo != nil {
				for _, z := range r.RestrictionInfo.Zones {
					v.RestrictedZones = append(v.RestrictedZones, deref(z))
				}
			}
		}
	}
	return v
}

// Usages returns the subscription's vCPU quotas in a location: "cores" (Total Regional vCPUs)
// and one per VM family. A refusal to read is an *aks.Error (EUnauthorized) saying which role to
// grant; other failures are EUnavailable or Azure's error.
func (c *Client) Usages(ctx context.Context, location string) ([]aks.Usage, error) {
	location = normLocation(location)
	var out []aks.Usage
	pager := c.usages.NewListPager(location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.computeErr(err, "read the vCPU quotas of "+location, "Microsoft.Compute/locations/usages/read")
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil {
				continue
			}
			out = append(out, aks.Usage{Name: deref(u.Name.Value), Label: deref(u.Name.LocalizedValue),
				Used: int(deref(u.CurrentValue)), Limit: int(deref(u.Limit))})
		}
	}
	return out, nil
}

// computeErr maps an error of the Compute calls: 401/403 become EUnauthorized naming the
// permission and the role that has it.
func (c *Client) computeErr(err error, doing, permission string) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized) {
		return &aks.Error{Code: aks.EUnauthorized,
			Message: fmt.Sprintf("the identity may not %s (it needs %s)", doing, permission),
			Hint:    "grant it " + ComputeRole, Err: err}
	}
	return c.mapErr(err, doing, "")
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
