// Package assess works out what a plan costs at list prices and whether the subscription can
// run it (vCPU quota, VM size offered in the region and zones): it implements jobs.Assessor on a
// price list (internal/prices) and Azure's Compute API (internal/azure). It also says what a
// cluster costs now, for `/aks cost`.
package assess

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// PriceList gives hourly list prices (internal/prices implements it).
type PriceList interface {
	VM(ctx context.Context, location, size, os string) (aks.Price, error)
	ControlPlane(ctx context.Context, location, tier string) (aks.Price, error)
	Currency() string
}

// Compute reads VM sizes and vCPU quotas (internal/azure implements it).
type Compute interface {
	// VMSize returns a size's facts in a location; ENotFound when it is not offered there.
	VMSize(ctx context.Context, location, size string) (aks.VMSize, error)
	// Usages returns the subscription's vCPU quotas in a location.
	Usages(ctx context.Context, location string) ([]aks.Usage, error)
}

// Assessor implements jobs.Assessor. Prices or Compute may be nil: then cost, or quota, is not
// worked out (and says so).
type Assessor struct {
	Prices  PriceList
	Compute Compute
	// ComputeIn, when set, gives the Compute of a plan's subscription (plan.Subscription), so
	// that quotas and VM sizes are those of the subscription the job runs in; Compute serves
	// plans that name none.
	ComputeIn func(subscription string) (Compute, error)
	// QuotaHelp says where to ask for more quota; "" = the Azure portal's Quotas page.
	QuotaHelp string
}

// WarnAbove is the share of a quota above which a plan says so.
const WarnAbove = 0.9

const defaultQuotaHelp = "ask for more with a quota increase request (Azure portal > Quotas > Compute, for this region and VM family), or use fewer or smaller nodes"

// Assess implements jobs.Assessor.
func (a *Assessor) Assess(ctx context.Context, plan aks.Plan) (*aks.Cost, *aks.Quota, error) {
	c := plan.Capacity
	if c == nil || c.Empty() {
		return nil, nil, nil
	}
	comp, err := a.computeFor(plan.Subscription)
	if err != nil {
		return nil, nil, fmt.Errorf("assess the plan in subscription %s: %w", plan.Subscription, err)
	}
	if err := checkSizes(ctx, comp, c); err != nil {
		return nil, nil, err
	}
	quota, err := a.quota(ctx, comp, c)
	if err != nil {
		return nil, nil, err
	}
	return a.cost(ctx, c), quota, nil
}

// checkSizes refuses new pools whose VM size the region does not offer to the subscription, or
// not in the zones asked for.
func checkSizes(ctx context.Context, comp Compute, c *aks.Capacity) error {
	if comp == nil {
		return nil
	}
	for _, n := range c.Nodes {
		if !n.New {
			continue
		}
		v, err := comp.VMSize(ctx, c.Location, n.VMSize)
		if aks.ErrorCode(err) == aks.ENotFound {
			var ae *aks.Error
			hint := ""
			if asErr(err, &ae) {
				hint = ae.Hint
			}
			return &aks.Error{Code: aks.EInvalid, Message: fmt.Sprintf("VM size %s is not offered in %s", n.VMSize, c.Location), Hint: hint, Err: err}
		}
		if err != nil {
			continue // not checked: the quota step says why
		}
		if v.Restricted != "" {
			return &aks.Error{Code: aks.EInvalid,
				Message: fmt.Sprintf("VM size %s is restricted for this subscription in %s (%s)", v.Name, c.Location, v.Restricted),
				Hint:    "pick another --node-vm-size, or ask Azure support to enable the size for the subscription in this region"}
		}
		var missing []string
		for _, z := range n.Zones {
			if !contains(v.Zones, z) || contains(v.RestrictedZones, z) {
				missing = append(missing, z)
			}
		}
		if len(missing) > 0 {
			offered := "no zones"
			if free := minus(v.Zones, v.RestrictedZones); len(free) > 0 {
				offered = "zones " + strings.Join(free, ", ")
			}
			return &aks.Error{Code: aks.EInvalid,
				Message: fmt.Sprintf("VM size %s is not offered to this subscription in zone %s of %s (it is in %s)", v.Name, strings.Join(missing, ", "), c.Location, offered),
				Hint:    "pick other --zones, leave them out, or pick another --node-vm-size"}
		}
	}
	return nil
}

// quota checks the vCPUs the plan adds (autoscaler maxima at their maximum) against the
// family's and the region's quota.
func (a *Assessor) quota(ctx context.Context, comp Compute, c *aks.Capacity) (*aks.Quota, error) {
	if !c.AddsVCPUs() {
		return nil, nil
	}
	if comp == nil {
		return &aks.Quota{Unchecked: "no Azure Compute access is configured"}, nil
	}
	need := map[string]int{} // family -> vCPUs added
	labels := map[string]string{}
	total := 0
	for _, n := range c.Nodes {
		added := n.ToMax - n.Running
		if added <= 0 {
			continue
		}
		v, err := comp.VMSize(ctx, c.Location, n.VMSize)
		if err != nil {
			return &aks.Quota{Unchecked: unchecked(err, "VM sizes")}, nil
		}
		need[v.Family] += added * v.VCPUs
		total += added * v.VCPUs
	}
	if total == 0 {
		return nil, nil
	}
	usages, err := comp.Usages(ctx, c.Location)
	if err != nil {
		return &aks.Quota{Unchecked: unchecked(err, "Compute usages")}, nil
	}
	byName := map[string]aks.Usage{}
	for _, u := range usages {
		byName[strings.ToLower(u.Name)] = u
		labels[strings.ToLower(u.Name)] = u.Label
	}
	q := &aks.Quota{}
	families := make([]string, 0, len(need))
	for f := range need {
		families = append(families, f)
	}
	sort.Strings(families)
	check := func(key string, add int, what string) error {
		u, ok := byName[strings.ToLower(key)]
		if !ok || u.Limit <= 0 {
			return nil
		}
		label := u.Label
		if label == "" {
			label = what
		}
		after := u.Used + add
		if after > u.Limit {
			free := max(u.Limit-u.Used, 0)
			help := a.QuotaHelp
			if help == "" {
				help = defaultQuotaHelp
			}
			return &aks.Error{Code: aks.EInvalid,
				Message: fmt.Sprintf("over the vCPU quota: this needs %d more %s in %s, and %d of %d are free (%d in use)", add, label, c.Location, free, u.Limit, u.Used),
				Hint:    help}
		}
		pct := float64(after) / float64(u.Limit)
		q.Lines = append(q.Lines, fmt.Sprintf("%s %d -> %d of %d (%d%%)", label, u.Used, after, u.Limit, int(math.Round(pct*100))))
		if pct > WarnAbove {
			w := fmt.Sprintf("%s would be at %d%% of the quota", label, int(math.Round(pct*100)))
			if q.Warning == "" {
				q.Warning = w
			} else {
				q.Warning += "; " + w
			}
		}
		return nil
	}
	for _, f := range families {
		if err := check(f, need[f], f+" vCPUs"); err != nil {
			return nil, err
		}
	}
	if err := check("cores", total, "Total Regional vCPUs"); err != nil {
		return nil, err
	}
	if len(q.Lines) == 0 {
		q.Unchecked = "Azure lists no vCPU quota for these sizes in " + c.Location
	}
	return q, nil
}

func unchecked(err error, what string) string {
	if aks.ErrorCode(err) == aks.EUnauthorized {
		return fmt.Sprintf("the identity may not read %s: grant it Reader on the subscription", what)
	}
	var ae *aks.Error
	if asErr(err, &ae) {
		return ae.Message
	}
	return what + " could not be read"
}

// cost prices the capacity before and after.
func (a *Assessor) cost(ctx context.Context, c *aks.Capacity) *aks.Cost {
	if a.Prices == nil {
		return &aks.Cost{Unknown: "no price list is configured"}
	}
	cur := a.Prices.Currency()
	out := &aks.Cost{Currency: cur}
	month := float64(aks.HoursPerMonth)
	for _, n := range c.Nodes {
		if n.FromMax == 0 && n.ToMax == 0 {
			continue
		}
		p, err := a.Prices.VM(ctx, c.Location, n.VMSize, n.OSType)
		if err != nil {
			return &aks.Cost{Unknown: priceProblem(err)}
		}
		h := p.Hourly * month
		out.BeforeLow += float64(n.FromMin) * h
		out.BeforeHigh += float64(n.FromMax) * h
		out.AfterLow += float64(n.ToMin) * h
		out.AfterHigh += float64(n.ToMax) * h
		if n.FromMin == n.ToMin && n.FromMax == n.ToMax {
			continue
		}
		var line string
		if n.FromMin == n.FromMax && n.ToMin == n.ToMax {
			d := n.ToMax - n.FromMax
			line = fmt.Sprintf("%s%d x %s in %s: %s/month", sign(d), d, n.VMSize, c.Location, aks.SignedMoney(float64(d)*h, p.Currency))
		} else {
			lo, hi := float64(n.ToMin-n.FromMin)*h, float64(n.ToMax-n.FromMax)*h
			delta := aks.SignedMoney(hi, p.Currency)
			if math.Abs(hi-lo) >= 0.5 {
				delta = aks.SignedMoney(lo, p.Currency) + " to " + aks.SignedMoney(hi, p.Currency)
			}
			line = fmt.Sprintf("%s %s -> %s x %s in %s: %s/month", n.Pool, span(n.FromMin, n.FromMax), span(n.ToMin, n.ToMax), n.VMSize, c.Location, delta)
		}
		out.Lines = append(out.Lines, fmt.Sprintf("%s (%s/h per node, %s)", line, hourly(p.Hourly, p.Currency), p.Meter))
	}
	if c.TierFrom != "" || c.TierTo != "" {
		from, err := a.tier(ctx, c.Location, c.TierFrom)
		if err == nil {
			var to float64
			if to, err = a.tier(ctx, c.Location, c.TierTo); err == nil {
				out.BeforeLow += from * month
				out.BeforeHigh += from * month
				out.AfterLow += to * month
				out.AfterHigh += to * month
				if c.TierFrom != c.TierTo {
					tier := c.TierTo
					if tier == "" {
						tier = c.TierFrom
					}
					if from == 0 && to == 0 {
						out.Lines = append(out.Lines, fmt.Sprintf("control plane, %s tier: no charge", tier))
					} else {
						out.Lines = append(out.Lines, fmt.Sprintf("control plane, %s tier: %s/month (%s/h per cluster)", tier, aks.SignedMoney((to-from)*month, cur), hourly(max(from, to), cur)))
					}
				}
			}
		}
		if err != nil {
			return &aks.Cost{Unknown: priceProblem(err)}
		}
	}
	return out
}

func (a *Assessor) tier(ctx context.Context, location, tier string) (float64, error) {
	if tier == "" || strings.EqualFold(tier, "Free") {
		return 0, nil
	}
	p, err := a.Prices.ControlPlane(ctx, location, tier)
	return p.Hourly, err
}

// RunRate says what a cluster costs now: each running pool at its node count, and its
// control-plane tier. Prices that cannot be had are listed in Unknown.
func (a *Assessor) RunRate(ctx context.Context, cl aks.Cluster) aks.RunRate {
	loc := strings.ToLower(strings.ReplaceAll(cl.Location, " ", ""))
	r := aks.RunRate{Cluster: cl.Name, Location: loc, Tier: cl.Tier, Stopped: strings.EqualFold(cl.PowerState, "Stopped")}
	if r.Tier == "" {
		r.Tier = "Free"
	}
	if a.Prices == nil {
		r.Unknown = append(r.Unknown, "no price list is configured")
		return r
	}
	r.Currency = a.Prices.Currency()
	for _, p := range cl.Pools {
		pr := aks.PoolRunRate{Pool: p.Name, VMSize: p.VMSize, OSType: p.OSType, Nodes: p.Count}
		if r.Stopped {
			pr.Nodes = 0
		}
		price, err := a.Prices.VM(ctx, loc, p.VMSize, p.OSType)
		if err != nil {
			r.Unknown = append(r.Unknown, fmt.Sprintf("%s: %s", p.Name, priceProblem(err)))
		} else {
			pr.PerNode, pr.Known = price.Hourly, true
			r.Hourly += price.Hourly * float64(pr.Nodes)
		}
		r.Pools = append(r.Pools, pr)
	}
	t, err := a.tier(ctx, loc, r.Tier)
	if err != nil {
		r.Unknown = append(r.Unknown, "control plane: "+priceProblem(err))
	} else {
		r.TierRate = t
		r.Hourly += t
	}
	return r
}

func priceProblem(err error) string {
	var ae *aks.Error
	if asErr(err, &ae) {
		return ae.Message
	}
	return "the price list could not be read"
}

func sign(d int) string {
	if d >= 0 {
		return "+"
	}
	return ""
}

func span(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(hi)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// hourly shows an hourly price with three decimals: "$0.192".
func hourly(v float64, currency string) string {
	s := fmt.Sprintf("%.3f", v)
	if v >= 10 {
		s = fmt.Sprintf("%.2f", v)
	}
	if currency == "" || currency == "USD" {
		return "$" + s
	}
	return currency + " " + s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func minus(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

func asErr(err error, target **aks.Error) bool { return errors.As(err, target) }

// computeFor returns the Compute of a subscription ("" = Compute).
func (a *Assessor) computeFor(sub string) (Compute, error) {
	if a.ComputeIn == nil || sub == "" {
		return a.Compute, nil
	}
	return a.ComputeIn(sub)
}
