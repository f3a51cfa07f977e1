package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
)

// The multi-replica checks must catch what they look for: they run here on made-up logs.

func armReq(method, cluster, replica string, at time.Time, took time.Duration, served int) sim.Request {
	h := http.Header{}
	if replica != "" {
		h.Set(azure.ReplicaHeader, replica)
	}
	return sim.Request{Method: method, At: at, Done: at.Add(took), Status: served, Served: served, Header: h,
		Path: "/subscriptions/" + sim.SubscriptionID + "/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/" + cluster + "/agentPools/np1"}
}

func TestCheckReplicaMutations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	const op = 1200 * time.Millisecond
	clean := []sim.Request{
		armReq(http.MethodPut, "c1", "r1", t0, 20*ms, 200),
		armReq(http.MethodGet, "c1", "r2", t0.Add(5*ms), 5*ms, 200),               // reads do not count
		armReq(http.MethodPut, "c2", "r2", t0.Add(10*ms), 20*ms, 200),             // another cluster
		armReq(http.MethodPut, "c1", "r2", t0.Add(3*time.Second), 20*ms, 200),     // after a handover
		armReq(http.MethodPut, "c1", "r2", t0.Add(3100*ms), 20*ms, 409),           // the same replica again
		armReq(http.MethodDelete, "c3", "r1", t0, 20*ms, http.StatusNoContent),    // deleted nothing
		armReq(http.MethodPut, "c3", "r3", t0.Add(100*ms), 20*ms, 200),            // so nothing was running
		armReq(http.MethodPut, "c4", "r1", t0, 20*ms, http.StatusTooManyRequests), // refused: nothing runs
		armReq(http.MethodPut, "c4", "r2", t0.Add(300*ms), 20*ms, 200),
	}
	v, bad := collect()
	checkReplicaMutations(clean, op, bad)
	if len(*v) != 0 {
		t.Fatalf("clean log has violations: %v", *v)
	}

	cases := []struct {
		name string
		reqs []sim.Request
		want string
	}{
		{"overlapping requests", []sim.Request{
			armReq(http.MethodPut, "c1", "r1", t0, 50*ms, 200),
			armReq(http.MethodPut, "c1", "r2", t0.Add(30*ms), 20*ms, 409),
		}, "in flight at once"},
		{"a mutation during another replica's operation", []sim.Request{
			armReq(http.MethodPut, "c1", "r1", t0, 20*ms, 202),
			armReq(http.MethodPut, "c1", "r2", t0.Add(800*ms), 20*ms, 409),
		}, "still running"},
		{"a lost answer still started the operation", []sim.Request{
			func() sim.Request {
				r := armReq(http.MethodPut, "c1", "r1", t0, 20*ms, 200)
				r.Status, r.Lost = 500, true
				return r
			}(),
			armReq(http.MethodDelete, "c1", "r3", t0.Add(time.Second), 20*ms, 202),
		}, "still running"},
		{"a request never answered", []sim.Request{
			func() sim.Request { r := armReq(http.MethodPut, "c1", "r1", t0, 0, 0); r.Done = time.Time{}; return r }(),
			armReq(http.MethodPut, "c1", "r2", t0.Add(time.Minute), 20*ms, 200),
		}, "in flight at once"},
		{"no replica header", []sim.Request{armReq(http.MethodPut, "c1", "", t0, 20*ms, 200)}, "replica is unknown"},
	}
	for _, c := range cases {
		v, bad := collect()
		checkReplicaMutations(c.reqs, op, bad)
		if !containsAny(*v, c.want) {
			t.Errorf("%s: no violation %q among %v", c.name, c.want, *v)
		}
	}
}

// haEvent makes an event; the unit test's replicaOf reads the replica from Message.
func haEvent(seq int64, kind aks.EventKind, replica string) aks.Event {
	return aks.Event{JobID: "1", Seq: seq, Kind: kind, Message: replica}
}

func TestCheckOwnerEvents(t *testing.T) {
	replicaOf := func(e aks.Event) string { return e.Message }
	clean := map[string][]aks.Event{
		// Sent by r1, killed; r2 resumes and finishes.
		"1": {haEvent(1, aks.EventCreated, ""), haEvent(2, aks.EventSending, "r1"), haEvent(3, aks.EventStarted, "r1"),
			haEvent(4, aks.EventResumed, "r2"), haEvent(5, aks.EventSlow, "r2"), haEvent(6, aks.EventSucceeded, "r2")},
		// r1 comes back after a kill -9 and resumes its own job.
		"2": {haEvent(1, aks.EventCreated, ""), haEvent(2, aks.EventSending, "r1"), haEvent(3, aks.EventResumed, "r1"), haEvent(4, aks.EventStarted, "r1"),
			haEvent(5, aks.EventResumed, "r3"), haEvent(6, aks.EventFailed, "r3")},
		// Stale plan: failed on its lane without being sent.
		"3": {haEvent(1, aks.EventCreated, ""), haEvent(2, aks.EventFailed, "r2")},
		// A person cancels through another replica, approvals come through any.
		"4": {haEvent(1, aks.EventCreated, ""), {JobID: "4", Seq: 2, Kind: aks.EventApproved, Actor: aks.User{ID: "U1"}, Message: "r3"},
			haEvent(3, aks.EventSending, "r1"), {JobID: "4", Seq: 4, Kind: aks.EventAbort, Actor: aks.User{ID: "U1"}, Message: "r2"},
			haEvent(5, aks.EventSucceeded, "r1")},
	}
	v, bad := collect()
	checkOwnerEvents(clean, replicaOf, bad)
	if len(*v) != 0 {
		t.Fatalf("clean logs have violations: %v", *v)
	}

	cases := []struct {
		name string
		evs  []aks.Event
		want string
	}{
		{"deposed owner stores started", []aks.Event{haEvent(1, aks.EventSending, "r1"), haEvent(2, aks.EventResumed, "r2"), haEvent(3, aks.EventStarted, "r1")},
			"deposed owner"},
		{"deposed owner ends the job", []aks.Event{haEvent(1, aks.EventSending, "r1"), haEvent(2, aks.EventStarted, "r1"), haEvent(3, aks.EventResumed, "r2"),
			haEvent(4, aks.EventSucceeded, "r1")}, "deposed owner"},
		{"two replicas send", []aks.Event{haEvent(1, aks.EventSending, "r1"), haEvent(2, aks.EventSending, "r2")}, "want at most 1"},
		{"started twice", []aks.Event{haEvent(1, aks.EventSending, "r1"), haEvent(2, aks.EventStarted, "r1"), haEvent(3, aks.EventResumed, "r2"),
			haEvent(4, aks.EventStarted, "r2")}, "want at most 1"},
		{"no replica", []aks.Event{haEvent(1, aks.EventSending, "")}, "does not name the replica"},
	}
	for _, c := range cases {
		v, bad := collect()
		checkOwnerEvents(map[string][]aks.Event{"9": c.evs}, replicaOf, bad)
		if !containsAny(*v, c.want) {
			t.Errorf("%s: no violation %q among %v", c.name, c.want, *v)
		}
	}
}

// eventReplica reads the JSON field the engine is to fill; an event without it has none.
func TestEventReplicaWithoutTheField(t *testing.T) {
	if got := eventReplica(aks.Event{Kind: aks.EventSending}); got != "" {
		t.Errorf("eventReplica = %q, want empty", got)
	}
}
