package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// The checks must catch what they look for, or a green fault suite proves nothing.

func collect() (*[]string, func(string, ...any)) {
	var v []string
	return &v, func(format string, args ...any) { v = append(v, format) }
}

func meta(job, key string) json.RawMessage {
	return json.RawMessage(`{"event_type":"aksbot_message","event_payload":{"job_id":"` + job + `","key":"` + key + `"}}`)
}

func TestCheckSlackCatchesDuplicatesAndMissingFinals(t *testing.T) {
	jobs := map[string]aks.Job{
		"1": {ID: "1", State: aks.StateSucceeded},
		"2": {ID: "2", State: aks.StateFailed},
	}
	finals := map[string]int64{"1": 4, "2": 3}
	good := []slacktest.Message{
		{TS: "1.1", Text: "Job 1 (x): succeeded", Metadata: meta("1", "parent")},
		{TS: "1.2", ThreadTS: "1.1", Text: "done", Metadata: meta("1", "event.4")},
		{TS: "1.3", Text: "Job 2 (y): failed", Metadata: meta("2", "parent")},
		{TS: "1.4", ThreadTS: "1.3", Text: "failed", Metadata: meta("2", "event.3")},
	}
	v, bad := collect()
	checkSlack(good, jobs, finals, bad)
	if len(*v) != 0 {
		t.Fatalf("a clean channel has violations: %v", *v)
	}

	broken := append([]slacktest.Message(nil), good...)
	broken[3].ThreadTS = "1.1" // job 2's final message under job 1's card
	broken = append(broken,
		slacktest.Message{TS: "1.5", ThreadTS: "1.1", Text: "done", Metadata: meta("1", "event.4")}, // posted twice
		slacktest.Message{TS: "1.6", Text: "Job 3 (z): failed", Metadata: meta("3", "parent")},      // unknown job
		slacktest.Message{TS: "1.7", Text: "no metadata"},
	)
	broken[2].Text = "Job 2 (y): running" // stale card
	v, bad = collect()
	checkSlack(broken, jobs, finals, bad)
	want := []string{"posted %d times", "not in its card's thread", "which the data file does not have", "has no aksbot metadata", "its status card says", "thread messages for its final event"}
	for _, w := range want {
		if !containsAny(*v, w) {
			t.Errorf("no violation %q among %v", w, *v)
		}
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A job whose mutation reached Azure twice (a resend after a lost answer), and a mutation
// outside any job, are both caught; a refused retry is not counted.
func TestCheckMutationsCatchesASecondAppliedRequest(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cloud, err := sim.New(sim.Options{DB: simDB(t), Now: clock, RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Seed(context.Background(), "rg-aks", "flt1", "westeurope", faultPools...); err != nil {
		t.Fatal(err)
	}
	h := cloud.Handler()
	deleteMissing := func() int {
		req := httptest.NewRequest(http.MethodDelete, "/subscriptions/"+sim.SubscriptionID+
			"/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/flt1/agentPools/gone?api-version=2024-09-01", nil)
		req.Header.Set("Authorization", "Bearer x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	put := func(count int) int {
		body := `{"properties":{"count":` + strconv.Itoa(count) + `}}`
		req := httptest.NewRequest(http.MethodPut, "/subscriptions/"+sim.SubscriptionID+
			"/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/flt1/agentPools/np1?api-version=2024-09-01", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer x")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	start := now
	advance(time.Second)
	if code := put(3); code/100 != 2 {
		t.Fatalf("first PUT: %d", code)
	}
	advance(100 * time.Millisecond)
	if code := put(3); code != http.StatusConflict {
		t.Fatalf("PUT while scaling: %d, want 409", code)
	}
	if code := deleteMissing(); code != http.StatusNoContent {
		t.Fatalf("DELETE of a missing pool: %d, want 204", code)
	}
	r := &faultRun{w: &world{sim: cloud}, seeded: []string{"flt1"}}
	job := aks.Job{ID: "7", State: aks.StateSucceeded, StartedAt: start, FinishedAt: start.Add(time.Minute),
		Op: aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "flt1", Pool: "np1"}}}

	v, bad := collect()
	checkMutations(r, []aks.Job{job}, bad)
	if len(*v) != 0 {
		t.Fatalf("one applied PUT, one refused, one DELETE of nothing: violations %v", *v)
	}

	advance(30 * time.Second) // the scale is over: a resend is applied again
	if code := put(3); code/100 != 2 {
		t.Fatalf("second PUT: %d", code)
	}
	advance(2 * time.Minute) // and one after the job ended
	if code := put(2); code/100 != 2 {
		t.Fatalf("third PUT: %d", code)
	}
	v, bad = collect()
	checkMutations(r, []aks.Job{job}, bad)
	for _, w := range []string{"mutations applied in Azure, want at most 1", "while no job of its cluster was running"} {
		if !containsAny(*v, w) {
			t.Errorf("no violation %q among %v", w, *v)
		}
	}
}
