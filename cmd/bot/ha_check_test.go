package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
)

// The checks the multi-replica suite adds to faultInvariants:
//
//  6. no two replicas ever had a mutation of the same cluster in flight at once, seen from the
//     simulated cloud's request log, where every request names its replica (azure.ReplicaHeader):
//     (a) every mutating request names a replica; (b) the [At, Done] spans of two replicas'
//     mutating requests on one cluster never overlap; (c) no replica sends a mutating request on
//     a cluster while an operation another replica started there must still be running (within
//     the shortest simulated operation of its acceptance: sound, it never blames a legal
//     handover, and catches a second owner acting during the first one's operation);
//  7. no write by a deposed owner was stored: in each job's event log, the events only the
//     owner of the job's lane writes (sending, started, resumed, slow, and the bot's own
//     succeeded and failed) name their replica (aks.Event.Replica, JSON "replica"); there is at
//     most one "sending" and at most one "started"; and after a replica took the job over
//     ("sending" or "resumed"), no other replica writes an owner event until it takes the job
//     over again itself ("resumed").

// armMutating reports whether an ARM method changes something.
func armMutating(method string) bool {
	switch method {
	case http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch:
		return true
	}
	return false
}

// 6.
func checkReplicaMutations(reqs []sim.Request, shortestOp time.Duration, bad func(string, ...any)) {
	type mut struct {
		sim.Request
		replica string
	}
	byCluster := map[string][]mut{}
	for _, r := range reqs {
		if !armMutating(r.Method) {
			continue
		}
		rep := r.Header.Get(azure.ReplicaHeader)
		desc := fmt.Sprintf("%s %s at %s", r.Method, r.Path, r.At.Format("15:04:05.000"))
		if rep == "" {
			bad("mutation without %s (the replica is unknown): %s", azure.ReplicaHeader, desc)
			continue
		}
		c := clusterOf(r.Path)
		byCluster[c] = append(byCluster[c], mut{r, rep})
	}
	for c, ms := range byCluster {
		sort.SliceStable(ms, func(a, b int) bool { return ms[a].At.Before(ms[b].At) })
		for i, a := range ms {
			aDone := a.Done
			if aDone.IsZero() {
				aDone = time.Now() // never answered: in flight to the end
			}
			for _, b := range ms[i+1:] {
				if b.replica == a.replica {
					continue
				}
				// (b) requests in flight at once.
				if b.At.Before(aDone) {
					bad("replicas %s and %s had mutations of cluster %s in flight at once: %s %s [%s, %s] and %s %s from %s",
						a.replica, b.replica, c, a.Method, a.Path, a.At.Format("15:04:05.000"), aDone.Format("15:04:05.000"),
						b.Method, b.Path, b.At.Format("15:04:05.000"))
					continue
				}
				// (c) a mutation during an operation another replica started.
				if a.Accepted() && !(a.Method == http.MethodDelete && a.Served == http.StatusNoContent) && b.At.Before(a.At.Add(shortestOp)) {
					bad("replica %s sent %s %s at %s, %s after replica %s's %s %s was accepted on cluster %s: that operation was still running",
						b.replica, b.Method, b.Path, b.At.Format("15:04:05.000"), b.At.Sub(a.At).Round(time.Millisecond),
						a.replica, a.Method, a.Path, c)
				}
			}
		}
	}
}

// ownerEvents are the events that only the owner of a job's lane writes. The final events
// count when the bot itself wrote them (no actor): a person's cancel or an expiry may be written
// by any replica.
var ownerEvents = map[aks.EventKind]bool{
	aks.EventSending: true, aks.EventStarted: true, aks.EventResumed: true, aks.EventSlow: true,
	aks.EventSucceeded: true, aks.EventFailed: true,
}

// takeover events are those with which a replica starts working on a job.
var takeoverEvents = map[aks.EventKind]bool{aks.EventSending: true, aks.EventResumed: true}

// eventReplica returns the replica that stored an event. It reads the event's JSON field
// "replica" rather than a Go field, so that this file compiles before aks.Event has it; once the
// engine sets aks.Event.Replica (json:"replica,omitempty") it is that.
func eventReplica(ev aks.Event) string {
	raw, err := json.Marshal(ev)
	if err != nil {
		return ""
	}
	var f struct {
		Replica string `json:"replica"`
	}
	_ = json.Unmarshal(raw, &f)
	return f.Replica
}

// 7. replicaOf is eventReplica; the unit tests pass their own.
func checkOwnerEvents(jobEvents map[string][]aks.Event, replicaOf func(aks.Event) string, bad func(string, ...any)) {
	ids := make([]string, 0, len(jobEvents))
	for id := range jobEvents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		evs := append([]aks.Event(nil), jobEvents[id]...)
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].Seq < evs[b].Seq })
		owner := ""
		count := map[aks.EventKind][]string{}
		for _, ev := range evs {
			if !ownerEvents[ev.Kind] || ev.Actor.ID != "" {
				continue
			}
			rep := replicaOf(ev)
			if rep == "" {
				bad("job %s: event %d (%s) does not name the replica that stored it (aks.Event.Replica)", id, ev.Seq, ev.Kind)
				continue
			}
			count[ev.Kind] = append(count[ev.Kind], rep)
			switch {
			case takeoverEvents[ev.Kind], owner == "":
				// A job may also end on its lane before it is sent (its plan went stale).
				owner = rep
			case rep != owner:
				bad("job %s: event %d (%s) stored by replica %s after replica %s took the job over: a write by a deposed owner", id, ev.Seq, ev.Kind, rep, owner)
			}
		}
		for _, k := range []aks.EventKind{aks.EventSending, aks.EventStarted} {
			if n := len(count[k]); n > 1 {
				bad("job %s: %d %q events (by replicas %s), want at most 1", id, n, k, strings.Join(count[k], ", "))
			}
		}
	}
}

// readEvents reads every job's events from the store.
func readEvents(st checkedStore, bad func(string, ...any)) map[string][]aks.Event {
	ctx := context.Background()
	all, err := st.Jobs(ctx, aks.Filter{})
	if err != nil {
		bad("read jobs: %v", err)
		return nil
	}
	out := map[string][]aks.Event{}
	for _, j := range all {
		evs, err := st.Events(ctx, j.ID)
		if err != nil {
			bad("read events of job %s: %v", j.ID, err)
			continue
		}
		out[j.ID] = evs
	}
	return out
}
