package jobs_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/assess"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/policy"
	"github.com/aksbot/aksbot/internal/prices"
	"github.com/aksbot/aksbot/internal/store"
)

// Cost, quota and VM size preflight, against the simulated cloud's Compute and Retail Prices
// endpoints (100 regional vCPUs, 50 per family except 100 for DSv2; Standard_NC6s_v3 restricted).

// withAssessor wires the engine's Assessor to the harness's simulated cloud. pricesURL, when
// set, replaces the simulated price list (for an unreachable one).
func withAssessor(pricesURL string) func(*jobs.Config) {
	return func(cfg *jobs.Config) {
		clouds := cfg.Cloud.(*azure.Clouds)
		st := cfg.Store.(*store.Store)
		opts := prices.Options{Base: pricesURL, Cache: st}
		if pricesURL == "" {
			db := st.DB()
			c, err := sim.New(sim.Options{DB: db})
			if err != nil {
				panic(err)
			}
			opts.Base, opts.HTTP = "https://prices.sim.test", &http.Client{Transport: c.RoundTripper()}
		}
		pl, err := prices.New(opts)
		if err != nil {
			panic(err)
		}
		cfg.Assessor = &assess.Assessor{Prices: pl, Compute: clouds.Default(),
			ComputeIn: func(sub string) (assess.Compute, error) { return clouds.In(sub) }}
	}
}

func assessHarness(t *testing.T, pricesURL string, opts ...func(*jobs.Config)) *harness {
	all := append([]func(*jobs.Config){withAssessor(pricesURL)}, opts...)
	return start(t, filepath.Join(t.TempDir(), "aksbot.db"), &recorder{}, fast(), all...)
}

func created(h *harness, id string) aks.Event {
	h.t.Helper()
	evs, err := h.store.Events(context.Background(), id)
	if err != nil || len(evs) == 0 {
		h.t.Fatalf("events of %s: %v", id, err)
	}
	return evs[0]
}

func approve(h *harness, id string) {
	h.t.Helper()
	if _, err := h.engine.Decide(context.Background(), id, bob, true, ""); err != nil {
		h.t.Fatalf("approve %s: %v", id, err)
	}
}

func storedJobs(h *harness) []aks.Job {
	h.t.Helper()
	all, err := h.store.Jobs(context.Background(), jobs.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return all
}

func TestScaleOverFamilyQuotaRefusedBeforeApproval(t *testing.T) {
	h := assessHarness(t, "")
	h.seed(sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 2},
		sim.SeedPool{Name: "np4", Mode: "User", VMSize: "Standard_D4s_v5", Count: 2})
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("np4", 13), Requester: alice, Channel: "C1"})
	if aks.ErrorCode(err) != aks.EInvalid {
		t.Fatalf("scale to 13 x 4 vCPUs over a family quota of 50: err = %v", err)
	}
	for _, want := range []string{"over the vCPU quota", "44 more Standard DSv5 Family vCPUs in westeurope", "42 of 50 are free", "quota increase request"} {
		if !strings.Contains(err.Error()+" "+hint(err), want) {
			t.Errorf("refusal %q (hint %q) lacks %q", err, hint(err), want)
		}
	}
	if n := len(storedJobs(h)); n != 0 {
		t.Fatalf("%d jobs stored for a refused request", n)
	}
	// Within the quota, the plan says where it ends up, and warns above 90 %.
	job := h.submit(scale("np4", 12), alice)
	msg := created(h, job.ID).Message
	for _, want := range []string{"Standard DSv5 Family vCPUs 8 -> 48 of 50 (96%)", "Total Regional vCPUs 12 -> 52 of 100 (52%)", "Warning: Standard DSv5 Family vCPUs would be at 96% of the quota",
		"Cost: $585 -> $2,264/month (+$1,679/month, list prices)", "+10 x Standard_D4s_v5 in westeurope: +$1,679/month ($0.230/h per node, pay-as-you-go, Linux)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("approval request lacks %q:\n%s", want, msg)
		}
	}
	// Quota checked again just before the job runs: another cluster took the vCPUs meanwhile.
	if err := h.sim.Seed(context.Background(), "rg-other", "other", "westeurope", sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_D4s_v5", Count: 5}); err != nil {
		t.Fatal(err)
	}
	approve(h, job.ID)
	failed := h.waitState(job.ID, aks.StateFailed)
	if failed.Error == nil || failed.Error.Code != "PreflightRefused" || !strings.Contains(failed.Error.Message, "over the vCPU quota") {
		t.Fatalf("job error = %+v", failed.Error)
	}
	if n := h.sim.CountMutations("agentPools/np4"); n != 0 {
		t.Fatalf("%d requests reached Azure for pool np4", n)
	}
}

func hint(err error) string {
	var ae *aks.Error
	if e, ok := err.(*aks.Error); ok {
		ae = e
	}
	if ae == nil {
		return ""
	}
	return ae.Hint
}

func TestVMSizePreflight(t *testing.T) {
	h := assessHarness(t, "")
	h.seed()
	add := func(size string, zones ...string) error {
		n := 1
		_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Requester: alice, Channel: "C1", Op: aks.Operation{
			Kind: aks.OpPoolAdd, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo", Pool: "np9"}, VMSize: size, NodeCount: &n, Zones: zones}})
		return err
	}
	for _, tc := range []struct {
		size  string
		zones []string
		want  string
	}{
		{"Standard_NC6s_v3", nil, "VM size Standard_NC6s_v3 is restricted for this subscription in westeurope (NotAvailableForSubscription)"},
		{"Standard_M416ms_v2", nil, "VM size Standard_M416ms_v2 is not offered in westeurope"},
		{"Standard_L16s_v3", []string{"1", "3"}, "not offered to this subscription in zone 3 of westeurope (it is in zones 1, 2)"},
		{"Standard_NC4as_T4_v3", []string{"1"}, "in zone 1 of westeurope (it is in no zones)"},
	} {
		err := add(tc.size, tc.zones...)
		if aks.ErrorCode(err) != aks.EInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("add %s %v: err = %v, want %q", tc.size, tc.zones, err, tc.want)
		}
	}
	if n := len(storedJobs(h)); n != 0 {
		t.Fatalf("%d jobs stored for refused requests", n)
	}
	if err := add("Standard_L16s_v3", "1", "2"); err != nil {
		t.Fatalf("a size offered in the zones asked for was refused: %v", err)
	}
}

func TestPricesUnreachableJobGoesOn(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer down.Close()
	h := assessHarness(t, down.URL)
	h.seed()
	job := h.submit(scale("np2", 3), alice)
	msg := created(h, job.ID).Message
	if !strings.Contains(msg, "Cost: cost unknown (the Azure price list could not be read (HTTP 502") {
		t.Fatalf("plan does not say the cost is unknown:\n%s", msg)
	}
	if !strings.Contains(msg, "Quota (vCPUs in use -> after, of the limit): Standard DSv2 Family vCPUs 6 -> 10 of 100") {
		t.Fatalf("the quota is still checked without prices:\n%s", msg)
	}
	approve(h, job.ID)
	h.waitState(job.ID, aks.StateSucceeded)
}

func costPolicy(t *testing.T, yaml string) func(*jobs.Config) {
	t.Helper()
	f, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(f.Policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(cfg *jobs.Config) { cfg.Policy = p }
}

const costRules = `
policy:
  approvers: [U0BOB]
  rules:
    - name: capped
      guardrails: {maxMonthlyCostIncrease: 1000}
      autoApprove:
        scaleUp: {maxAddedNodes: 5, maxPoolNodes: 10, maxMonthlyCostIncrease: 300}
`

func TestCostGuardrailRefusesAndFailsClosed(t *testing.T) {
	h := assessHarness(t, "", costPolicy(t, costRules))
	h.seed()
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("np2", 10), Requester: alice, Channel: "C1"})
	if aks.ErrorCode(err) != aks.EInvalid || !strings.Contains(err.Error(), "rule capped allows at most +$1,000/month more; this adds +$1,123/month") {
		t.Fatalf("9 more DS2_v2 nodes (+$1,123/month) under a $1,000 limit: err = %v", err)
	}
	// +2 nodes = +$250/month: under the auto-approval's $300.
	job := h.submit(scale("np2", 3), alice)
	if job.NeedsApproval || !strings.Contains(created(h, job.ID).Message, "Auto-approved by rule capped: +2 nodes, 3 in the pool, +$250/month") {
		t.Fatalf("small scale-up not auto-approved: %s", created(h, job.ID).Message)
	}
	h.waitState(job.ID, aks.StateSucceeded)
	// +3 nodes = +$374/month: within the node limits, above the auto-approval's cost.
	job = h.submit(scale("np2", 6), alice)
	if !job.NeedsApproval {
		t.Fatal("a scale-up above autoApprove.scaleUp.maxMonthlyCostIncrease was auto-approved")
	}
}

func TestCostGuardrailFailsClosedWithoutPrices(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	h := assessHarness(t, down.URL, costPolicy(t, costRules))
	h.seed()
	_, err := h.engine.Submit(context.Background(), jobs.SubmitRequest{Op: scale("np2", 2), Requester: alice, Channel: "C1"})
	if aks.ErrorCode(err) != aks.EInvalid || !strings.Contains(err.Error(), "rule capped allows at most +$1,000/month more, and the cost is unknown (the Azure price list could not be read (HTTP 503") {
		t.Fatalf("a cost guardrail without prices: err = %v", err)
	}
	// A scale-down costs nothing more, so the guardrail does not apply.
	job := h.submit(scale("np2", 0), alice)
	h.waitState(job.ID, aks.StateSucceeded)
}

func TestETAFromHistory(t *testing.T) {
	h := assessHarness(t, "")
	h.seed(sim.SeedPool{Name: "sys", Mode: "System", VMSize: "Standard_DS2_v2", Count: 1},
		sim.SeedPool{Name: "np2", Mode: "User", VMSize: "Standard_DS2_v2", Count: 0})
	first := h.submit(scale("np2", 1), alice)
	if msg := created(h, first.ID).Message; !strings.Contains(msg, "ETA: once it starts, AKS usually needs 2-5 min") {
		t.Fatalf("without history the ETA is AKS's range:\n%s", msg)
	}
	approve(h, first.ID)
	h.waitState(first.ID, aks.StateSucceeded)
	for n := 2; n <= 5; n++ {
		job := h.submit(scale("np2", n), alice)
		approve(h, job.ID)
		h.waitState(job.ID, aks.StateSucceeded)
	}
	// Five scale-ups of one node: the next one-node scale-up is estimated from them.
	job := h.submit(scale("np2", 6), alice)
	est := job.Plan.ETA
	if !est.FromHistory() || est.N != 5 || est.Scope != "here" || est.Median <= 0 || est.P90 < est.Median {
		t.Fatalf("estimate = %+v", est)
	}
	if msg := created(h, job.ID).Message; !strings.Contains(msg, "of 5 similar jobs here; ") {
		t.Fatalf("ETA line lacks the history:\n%s", msg)
	}
	// A scale-up of 40 nodes is not like them: back to AKS's range.
	big := h.submit(scale("np2", 45), alice)
	if big.Plan.ETA.FromHistory() {
		t.Fatalf("a 40-node scale-up was estimated from 1-node ones: %+v", big.Plan.ETA)
	}
	approve(h, job.ID)
	h.waitState(job.ID, aks.StateSucceeded)
	var started string
	for _, ev := range h.rec.events {
		if ev.JobID == job.ID && ev.Kind == aks.EventStarted {
			started = ev.Message
		}
	}
	if !strings.Contains(started, "ETA ") || !strings.Contains(started, "similar jobs here") {
		t.Fatalf("the started message has no ETA from history: %q", started)
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	h := assessHarness(t, "")
	h.seed()
	ctx := context.Background()
	before := dump(t, h)
	job, ev, err := h.engine.DryRun(ctx, jobs.SubmitRequest{Op: scale("np2", 3), Requester: alice, Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "" || !job.NeedsApproval || job.Plan.Cost == nil || job.Plan.Quota == nil || job.Plan.ETA == nil || !strings.Contains(ev.Message, "Needs approval from <@bob>") {
		t.Fatalf("dry run job %+v, message %q", job, ev.Message)
	}
	// Refused dry runs are not audited either.
	if _, _, err := h.engine.DryRun(ctx, jobs.SubmitRequest{Op: scale("np2", 60), Requester: alice, Channel: "C1"}); aks.ErrorCode(err) != aks.EInvalid {
		t.Fatalf("over-quota dry run: %v", err)
	}
	if after := dump(t, h); after != before {
		t.Fatalf("the data file changed (beyond the price cache):\nbefore %s\nafter  %s", before, after)
	}
	if n := h.sim.CountMutations("/"); n != 0 {
		t.Fatalf("%d mutating requests reached the simulated cloud", n)
	}
	if len(h.rec.events) != 0 {
		t.Fatalf("a dry run was reported: %+v", h.rec.events)
	}
}

// dump renders every bucket of the data file except the price cache: jobs, events, audit, and
// the simulated cloud's state.
func dump(t *testing.T, h *harness) string {
	t.Helper()
	var lines []string
	err := h.store.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if string(name) == "cache" {
				return nil
			}
			return walk(b, string(name), &lines)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func walk(b *bolt.Bucket, prefix string, lines *[]string) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return walk(b.Bucket(k), prefix+"/"+string(k), lines)
		}
		if bytes.Equal(k, []byte("probe")) {
			return nil
		}
		*lines = append(*lines, prefix+"/"+string(k)+"="+string(v))
		return nil
	})
}

func TestSlowFlagFromHistory(t *testing.T) {
	h := newHarness(t)
	job := aks.Job{Op: scale("np2", 3)}
	if got := h.engine.SlowAfterForTest(job); got != jobs.DefaultSlowAfter[aks.OpPoolScale] {
		t.Fatalf("without history: %s", got)
	}
	job.Plan.ETA = &aks.Estimate{Median: 4 * time.Minute, P90: 6 * time.Minute, Within: 9, N: 10, Scope: "here"}
	if got := h.engine.SlowAfterForTest(job); got != 9*time.Minute {
		t.Fatalf("with history: %s, want half again past the 90th percentile (9m)", got)
	}
	configured := start(t, filepath.Join(t.TempDir(), "b.db"), &recorder{}, fast(), func(c *jobs.Config) {
		c.SlowAfter = map[aks.OpKind]time.Duration{aks.OpPoolScale: 15 * time.Minute}
	})
	if got := configured.engine.SlowAfterForTest(job); got != 15*time.Minute {
		t.Fatalf("jobs.slowAfter set: %s, want it to win", got)
	}
}
