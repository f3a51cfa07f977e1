package aks

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// HoursPerMonth is the conventional month of Azure's price lists: 730 hours.
const HoursPerMonth = 730

// NodeChange is how a plan changes the nodes of one pool, for its cost and the vCPU quota it
// needs. Counts are ranges: equal ends for a fixed size, the autoscaler's min and max otherwise;
// 0-0 when the pool does not exist (before a create or add, after a delete) or is stopped.
type NodeChange struct {
	Pool    string   `json:"pool"`
	VMSize  string   `json:"vmSize"`
	OSType  string   `json:"osType,omitempty"` // Linux|Windows; "" = Linux
	Zones   []string `json:"zones,omitempty"`
	FromMin int      `json:"fromMin"`
	FromMax int      `json:"fromMax"`
	ToMin   int      `json:"toMin"`
	ToMax   int      `json:"toMax"`
	// Running is how many nodes run now (what Compute usages count): the pool's count, 0 when
	// the pool is new or the cluster is stopped.
	Running int `json:"running"`
	// New: the pool does not exist yet (create, nodepool add), so its VM size must be offered in
	// the region (and zones) to this subscription.
	New bool `json:"new,omitempty"`
}

// Added is how many nodes the change adds at the top of its range (negative: removes).
func (n NodeChange) Added() int { return n.ToMax - n.FromMax }

// Capacity is what a plan changes in what the cluster runs: its pools' nodes and its
// control-plane tier. Creates, scales, adds, deletes, start and stop fill it; other plans leave
// it empty.
type Capacity struct {
	Location string       `json:"location"`
	Nodes    []NodeChange `json:"nodes,omitempty"`
	// TierFrom and TierTo are the control-plane tier before and after (Free, Standard,
	// Premium); "" where there is no cluster. Equal when the tier does not change.
	TierFrom string `json:"tierFrom,omitempty"`
	TierTo   string `json:"tierTo,omitempty"`
}

// Empty reports whether the plan changes no capacity.
func (c *Capacity) Empty() bool {
	if c == nil {
		return true
	}
	for _, n := range c.Nodes {
		if n.FromMin != n.ToMin || n.FromMax != n.ToMax {
			return false
		}
	}
	return c.TierFrom == c.TierTo
}

// AddsVCPUs reports whether some pool ends with more nodes (at its maximum) than it has.
func (c *Capacity) AddsVCPUs() bool {
	if c == nil {
		return false
	}
	for _, n := range c.Nodes {
		if n.Added() > 0 {
			return true
		}
	}
	return false
}

// Price is one list price: per hour of one VM (or one cluster's control plane).
type Price struct {
	Hourly   float64 `json:"hourly"`
	Currency string  `json:"currency"`
	Meter    string  `json:"meter,omitempty"` // "pay-as-you-go, Linux"
}

// Cost is what a plan does to the monthly list price of what the cluster runs.
type Cost struct {
	// Unknown says why the cost could not be worked out ("the price list could not be read:
	// ..."); the numbers are then zero.
	Unknown  string `json:"unknown,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Monthly cost before and after, with autoscaled pools at their minimum (Low) and maximum
	// (High); equal when nothing is autoscaled.
	BeforeLow  float64 `json:"beforeLow"`
	BeforeHigh float64 `json:"beforeHigh"`
	AfterLow   float64 `json:"afterLow"`
	AfterHigh  float64 `json:"afterHigh"`
	// Lines explain each change, such as "+4 x Standard_D4s_v5 in eastus: +$561/month ($0.192/h
	// per node, pay-as-you-go, Linux)".
	Lines []string `json:"lines,omitempty"`
}

// Known reports whether the cost could be worked out.
func (c *Cost) Known() bool { return c != nil && c.Unknown == "" }

// MonthlyIncrease is the largest monthly increase the plan allows (autoscaled pools at their
// maximum); negative for a saving.
func (c *Cost) MonthlyIncrease() float64 { return c.AfterHigh - c.BeforeHigh }

// Summary is one line: "$204 -> $8,176/month (+$7,972/month)", "saves $204/month", or "cost
// unknown (why)".
func (c *Cost) Summary() string {
	if c == nil {
		return ""
	}
	if c.Unknown != "" {
		return "cost unknown (" + c.Unknown + ")"
	}
	before := MoneyRange(c.BeforeLow, c.BeforeHigh, c.Currency)
	after := MoneyRange(c.AfterLow, c.AfterHigh, c.Currency)
	d := c.MonthlyIncrease()
	dLow := c.AfterLow - c.BeforeLow
	delta := SignedMoney(d, c.Currency)
	if math.Abs(dLow-d) >= 0.5 {
		delta = SignedMoney(dLow, c.Currency) + " to " + SignedMoney(d, c.Currency)
	}
	return fmt.Sprintf("%s -> %s/month (%s/month, list prices)", before, after, delta)
}

// Money formats an amount for people: "$561", "$0.192", "EUR 1,204". Amounts of 10 or more are
// rounded to whole units, smaller ones keep two or three decimals.
func Money(v float64, currency string) string {
	neg := v < 0
	v = math.Abs(v)
	var s string
	switch {
	case v >= 10:
		s = thousands(int64(math.Round(v)))
	case v >= 1:
		s = fmt.Sprintf("%.2f", v)
	case v == 0:
		s = "0"
	default:
		s = fmt.Sprintf("%.3f", v)
	}
	if currency == "" || currency == "USD" {
		s = "$" + s
	} else {
		s = currency + " " + s
	}
	if neg {
		s = "-" + s
	}
	return s
}

// SignedMoney is Money with a "+" for increases.
func SignedMoney(v float64, currency string) string {
	if v >= 0 {
		return "+" + Money(v, currency)
	}
	return Money(v, currency)
}

// MoneyRange is "$140" or "$140-$1,401".
func MoneyRange(lo, hi float64, currency string) string {
	if math.Abs(hi-lo) < 0.5 {
		return Money(hi, currency)
	}
	return Money(lo, currency) + "-" + Money(hi, currency)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// VMSize is what the Resource SKUs API says about a VM size in one region.
type VMSize struct {
	Name   string   `json:"name"`
	Family string   `json:"family"` // the quota family, as Compute usages name it: standardDSv5Family
	VCPUs  int      `json:"vCPUs"`
	Zones  []string `json:"zones,omitempty"` // zones it is offered in
	// Restricted says why the subscription may not use it in the region ("NotAvailableForSubscription"),
	// or "" when it may.
	Restricted string `json:"restricted,omitempty"`
	// RestrictedZones are zones the subscription may not use it in.
	RestrictedZones []string `json:"restrictedZones,omitempty"`
}

// Usage is one vCPU quota of a subscription in a region: the total ("cores") or a VM family's.
type Usage struct {
	Name  string `json:"name"`  // "cores", "standardDSv5Family"
	Label string `json:"label"` // "Total Regional vCPUs", "Standard DSv5 Family vCPUs"
	Used  int    `json:"used"`
	Limit int    `json:"limit"`
}

// Quota is the vCPU quota check of a plan that adds vCPUs.
type Quota struct {
	// Unchecked says why the quota was not checked ("the identity may not read Compute usages:
	// ..."); the job goes on.
	Unchecked string `json:"unchecked,omitempty"`
	// Lines: one per quota the plan uses, "Standard DSv2 Family vCPUs: 8 -> 80 of 100 (80%)".
	Lines []string `json:"lines,omitempty"`
	// Warning is set when a quota is above 90 % after the change.
	Warning string `json:"warning,omitempty"`
}

// Summary is one line for messages.
func (q *Quota) Summary() string {
	switch {
	case q == nil:
		return ""
	case q.Unchecked != "":
		return "quota not checked (" + q.Unchecked + ")"
	}
	s := "vCPU quota after: " + strings.Join(q.Lines, "; ")
	if q.Warning != "" {
		s += ". :warning: " + q.Warning
	}
	return s
}

// Estimate is how long a job should take, from the durations of similar jobs the bot has run.
type Estimate struct {
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	// Within is how many of the jobs finished within P90, of N.
	Within int `json:"within"`
	N      int `json:"n"`
	// Scope says which jobs: "here" (same kind, same cluster) or "on any cluster"; "" means no
	// history: Median and P90 are the service's usual range.
	Scope string `json:"scope,omitempty"`
	// Service names whose usual range it is when not from history: "" is AKS, "EKS".
	Service string `json:"service,omitempty"`
}

// FromHistory reports whether the estimate comes from the bot's own jobs.
func (e *Estimate) FromHistory() bool { return e != nil && e.Scope != "" && e.N > 0 }

// Words says the estimate: "median 6 min of 14 similar jobs here; 9 of 10 finished within 9
// min", or "AKS usually needs 2-5 minutes".
func (e *Estimate) Words() string {
	if e == nil {
		return ""
	}
	if !e.FromHistory() {
		service := e.Service
		if service == "" {
			service = "AKS"
		}
		return fmt.Sprintf("%s usually needs %s-%s", service, roundMin(e.Median), roundMinUnit(e.P90))
	}
	return fmt.Sprintf("median %s of %d similar jobs %s; %d of %d finished within %s",
		roundMinUnit(e.Median), e.N, e.Scope, e.Within, e.N, roundMinUnit(e.P90))
}

// ETA is when a job started at start should end: "ETA 12:47 UTC (median ...)" from history (at
// the median), else "ETA by 12:50 UTC" (the end of AKS's usual range).
func (e *Estimate) ETA(start time.Time) string {
	if e == nil {
		return ""
	}
	if !e.FromHistory() {
		return "ETA by " + start.Add(e.P90).UTC().Format("15:04 MST")
	}
	return fmt.Sprintf("ETA %s (%s)", start.Add(e.Median).UTC().Format("15:04 MST"), e.Words())
}

func roundMin(d time.Duration) string {
	m := int(math.Round(d.Minutes()))
	if m < 1 && d > 0 {
		return fmt.Sprintf("%ds", int(math.Round(d.Seconds())))
	}
	return fmt.Sprint(m)
}

func roundMinUnit(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(math.Round(d.Seconds())))
	}
	return fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
}

// Percentile returns the p-th percentile (0-100, nearest rank) of ds, which it sorts.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	rank = min(max(rank, 1), len(ds))
	return ds[rank-1]
}

// RunRate is what a cluster costs now at list prices, per pool and in total.
type RunRate struct {
	Cluster  string        `json:"cluster"`
	Location string        `json:"location"`
	Currency string        `json:"currency"`
	Stopped  bool          `json:"stopped,omitempty"`
	Pools    []PoolRunRate `json:"pools"`
	Tier     string        `json:"tier"`
	TierRate float64       `json:"tierRate"`          // per hour
	Hourly   float64       `json:"hourly"`            // the known part of the total
	Unknown  []string      `json:"unknown,omitempty"` // prices that could not be had, and why
}

// PoolRunRate is one pool's part of a RunRate.
type PoolRunRate struct {
	Pool    string  `json:"pool"`
	VMSize  string  `json:"vmSize"`
	OSType  string  `json:"osType"`
	Nodes   int     `json:"nodes"`
	PerNode float64 `json:"perNode"` // per hour; 0 when unknown
	Known   bool    `json:"known"`
}

// Assessment is the plan's cost, quota and ETA in words, one item per line, for the approval
// request and dry runs: "Cost: $250 -> $4,993/month (+$4,743/month, list prices)", a line per
// changed pool (indented), "Quota: ...", "ETA: ...". Plans without them give none.
func (p Plan) Assessment() []string {
	var out []string
	if p.Cost != nil {
		out = append(out, "Cost: "+p.Cost.Summary())
		for _, l := range p.Cost.Lines {
			out = append(out, "  "+l)
		}
	}
	if q := p.Quota; q != nil {
		if q.Unchecked != "" {
			out = append(out, "Quota: "+q.Summary())
		} else {
			s := "Quota (vCPUs in use -> after, of the limit): " + strings.Join(q.Lines, "; ")
			if q.Warning != "" {
				s += ". Warning: " + q.Warning
			}
			out = append(out, s)
		}
	}
	if e := p.ETA; e != nil {
		if e.FromHistory() {
			out = append(out, fmt.Sprintf("ETA: about %s once it starts (%s)", roundMinUnit(e.Median), e.Words()))
		} else {
			out = append(out, "ETA: once it starts, "+e.Words())
		}
	}
	return out
}
