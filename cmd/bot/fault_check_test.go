package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/azure/sim"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
	"github.com/aksbot/aksbot/internal/store"
)

// faultInvariants checks a settled run and returns every violation (and the number of jobs):
//
//  1. every job is final, and its end was reported (FinalReported); the outbox is empty; every
//     job the requester was told about is in the data file;
//  2. each job has exactly one status card, showing its final state, and exactly one message
//     for its final event, in the card's thread; no (job, message key) is posted twice;
//  3. no Azure mutation was applied twice: each job had at most one mutation Azure acted on
//     (served 2xx, whether the answer arrived or was lost; a DELETE of nothing aside), and
//     every such mutation happened while a job of its cluster was running;
//  4. Azure's state is what the succeeded jobs made of the seeded clusters, in the order they
//     ran: pools, their node counts and autoscaler bounds, created clusters (each once), and
//     nothing left running;
//  5. the audit log has one "requested" record and one final record per job.
func faultInvariants(r *faultRun, st checkedStore, outboxLeft int) ([]string, int) {
	ctx := context.Background()
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	all, err := st.Jobs(ctx, jobs.Filter{})
	if err != nil {
		return []string{"read jobs: " + err.Error()}, 0
	}
	byID := map[string]aks.Job{}
	finalSeq := map[string]int64{}
	for _, j := range all {
		byID[j.ID] = j
		// 1.
		if !j.State.Final() {
			bad("job %s (%s) is %s, not final", j.ID, j.Op.Describe(), j.State)
		} else if !j.FinalReported {
			bad("job %s (%s) is %s but its end is not marked reported", j.ID, j.Op.Describe(), j.State)
		}
		evs, err := st.Events(ctx, j.ID)
		if err != nil {
			bad("read events of job %s: %v", j.ID, err)
			continue
		}
		finals := 0
		for _, ev := range evs {
			if finalKinds[ev.Kind] {
				finals++
				finalSeq[j.ID] = ev.Seq
			}
		}
		if j.State.Final() && finals != 1 {
			bad("job %s has %d final events, want 1", j.ID, finals)
		}
	}
	for id := range r.ackedJobs() {
		if _, ok := byID[id]; !ok {
			bad("the requester was told job %s was made, but the data file does not have it", id)
		}
	}
	if outboxLeft > 0 {
		bad("%d Slack outbox entries were never delivered", outboxLeft)
	}

	checkSlack(r.messages(), byID, finalSeq, bad)
	checkMutations(r, all, bad)
	checkAzureState(r, all, bad)
	checkAudit(st, byID, bad)
	return v, len(all)
}

// checkedStore is what the checks read: the bot's bbolt file (*store.Store) or, with several
// replicas, the etcd store.
type checkedStore interface {
	Jobs(ctx context.Context, f aks.Filter) ([]aks.Job, error)
	Events(ctx context.Context, jobID string) ([]aks.Event, error)
	Audit(ctx context.Context, f aks.AuditFilter) ([]aks.AuditRecord, error)
}

var _ checkedStore = (*store.Store)(nil)

// slackMeta is the metadata the outbox puts on every post.
type slackMeta struct {
	EventType    string `json:"event_type"`
	EventPayload struct {
		JobID string `json:"job_id"`
		Key   string `json:"key"`
	} `json:"event_payload"`
}

// 2.
func checkSlack(msgs []slacktest.Message, byID map[string]aks.Job, finalSeq map[string]int64, bad func(string, ...any)) {
	type ref struct{ job, key string }
	posts := map[ref][]slacktest.Message{}
	for _, m := range msgs {
		var md slackMeta
		if len(m.Metadata) == 0 || json.Unmarshal(m.Metadata, &md) != nil || md.EventPayload.JobID == "" {
			bad("message %s has no aksbot metadata: %q", m.TS, m.Text)
			continue
		}
		if _, ok := byID[md.EventPayload.JobID]; !ok {
			bad("message %s is about job %s, which the data file does not have", m.TS, md.EventPayload.JobID)
		}
		k := ref{md.EventPayload.JobID, md.EventPayload.Key}
		posts[k] = append(posts[k], m)
	}
	for k, ms := range posts {
		if len(ms) > 1 {
			bad("job %s: message %q posted %d times: %q", k.job, k.key, len(ms), ms[0].Text)
		}
	}
	for id, j := range byID {
		cards := posts[ref{id, "parent"}]
		if len(cards) != 1 {
			bad("job %s has %d status cards, want 1", id, len(cards))
			continue
		}
		card := cards[0]
		if card.ThreadTS != "" {
			bad("job %s: its status card is a thread reply", id)
		}
		if j.State.Final() && !strings.HasSuffix(card.Text, ": "+j.State.Words()) {
			bad("job %s is %s but its status card says %q", id, j.State, card.Text)
		}
		seq, ok := finalSeq[id]
		if !ok {
			continue
		}
		finals := posts[ref{id, "event." + strconv.FormatInt(seq, 10)}]
		if len(finals) != 1 {
			bad("job %s (%s): %d thread messages for its final event, want 1", id, j.State, len(finals))
			continue
		}
		if finals[0].ThreadTS != card.TS {
			bad("job %s: its final message is not in its card's thread", id)
		}
	}
}

// 3.
func checkMutations(r *faultRun, all []aks.Job, bad func(string, ...any)) {
	type window struct {
		job        aks.Job
		start, end time.Time
	}
	windows := map[string][]window{} // cluster (lower case) -> windows of its jobs that ran
	for _, j := range all {
		if j.StartedAt.IsZero() {
			continue
		}
		end := j.FinishedAt
		if end.IsZero() {
			end = time.Now()
		}
		c := strings.ToLower(j.Op.Target.Cluster)
		windows[c] = append(windows[c], window{j, j.StartedAt, end})
	}
	accepted := map[string][]string{}
	for _, req := range r.w.sim.Requests() {
		switch req.Method {
		case http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch:
		default:
			continue
		}
		// A DELETE served 204 found nothing to delete: it changed nothing.
		if !req.Accepted() || req.Method == http.MethodDelete && req.Served == http.StatusNoContent {
			continue
		}
		c := clusterOf(req.Path)
		var in []string
		for _, w := range windows[c] {
			if !req.At.Before(w.start) && !req.At.After(w.end) {
				in = append(in, w.job.ID)
			}
		}
		desc := fmt.Sprintf("%s %s at %s (served %d, answered %d)", req.Method, req.Path, req.At.Format("15:04:05.000"), req.Served, req.Status)
		switch len(in) {
		case 0:
			bad("mutation applied while no job of its cluster was running: %s", desc)
		case 1:
			accepted[in[0]] = append(accepted[in[0]], desc)
		default:
			bad("jobs %v ran on cluster %s at the same time; mutation %s", in, c, desc)
		}
	}
	for id, reqs := range accepted {
		if len(reqs) > 1 {
			bad("job %s: %d mutations applied in Azure, want at most 1:\n      %s", id, len(reqs), strings.Join(reqs, "\n      "))
		}
	}
}

// poolModel is what a pool should look like.
type poolModel struct {
	count     int
	autoscale bool
	min, max  int
}

// 4.
func checkAzureState(r *faultRun, all []aks.Job, bad func(string, ...any)) {
	want := map[string]map[string]poolModel{} // cluster -> pool -> model
	for _, c := range append(append([]string(nil), r.seeded...), r.gated) {
		want[c] = map[string]poolModel{}
		for _, p := range faultPools {
			want[c][p.Name] = poolModel{count: p.Count, autoscale: p.Autoscale, min: p.Min, max: p.Max}
		}
	}
	createdNodes := map[string]int{}
	var done []aks.Job
	for _, j := range all {
		if j.State == aks.StateSucceeded {
			done = append(done, j)
		}
	}
	// One operation at a time per cluster: the end times order the jobs of a cluster.
	sort.SliceStable(done, func(a, b int) bool { return done[a].FinishedAt.Before(done[b].FinishedAt) })
	for _, j := range done {
		t := j.Op.Target
		pools := want[t.Cluster]
		switch j.Op.Kind {
		case aks.OpClusterCreate:
			createdNodes[t.Cluster] = deref(j.Op.NodeCount)
			continue
		case aks.OpPoolScale:
			p := pools[t.Pool]
			p.count = deref(j.Op.NodeCount)
			pools[t.Pool] = p
		case aks.OpPoolAutoscale:
			p := pools[t.Pool]
			p.autoscale, p.min, p.max = true, j.Op.Autoscaler.Min, j.Op.Autoscaler.Max
			pools[t.Pool] = p
		case aks.OpPoolAdd:
			pools[t.Pool] = poolModel{count: deref(j.Op.NodeCount)}
		case aks.OpPoolDelete:
			delete(pools, t.Pool)
		default:
			bad("job %s: unexpected operation %s in the workload", j.ID, j.Op.Kind)
		}
	}

	cloud, err := azure.New(azure.Config{SubscriptionID: sim.SubscriptionID, Credential: r.w.sim.Credential(), Transport: r.w.sim.Transport()})
	if err != nil {
		bad("make an Azure client for the simulated cloud: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	have, err := cloud.ListClusters(ctx, "rg-aks")
	if err != nil {
		bad("list the simulated clusters: %v", err)
		return
	}
	seen := map[string]int{}
	for _, c := range have {
		seen[c.Name]++
		if c.ProvisioningState != "Succeeded" {
			bad("cluster %s is %s after every job ended", c.Name, c.ProvisioningState)
		}
		if n, ok := createdNodes[c.Name]; ok {
			if c.NodeCount() != n {
				bad("created cluster %s has %d nodes, its job asked for %d", c.Name, c.NodeCount(), n)
			}
			continue
		}
		pools, ok := want[c.Name]
		if !ok {
			bad("cluster %s exists, but no job that succeeded created it", c.Name)
			continue
		}
		var names []string
		for _, p := range c.Pools {
			names = append(names, p.Name)
			m, ok := pools[p.Name]
			switch {
			case !ok:
				bad("cluster %s: pool %s exists, but the jobs that succeeded say it should not", c.Name, p.Name)
			case p.ProvisioningState != "Succeeded":
				bad("cluster %s: pool %s is %s after every job ended", c.Name, p.Name, p.ProvisioningState)
			case m.autoscale != p.Autoscaling:
				bad("cluster %s: pool %s autoscaling %v, want %v", c.Name, p.Name, p.Autoscaling, m.autoscale)
			case m.autoscale && (p.MinCount != m.min || p.MaxCount != m.max):
				bad("cluster %s: pool %s autoscaler %d-%d, the last update that succeeded set %d-%d", c.Name, p.Name, p.MinCount, p.MaxCount, m.min, m.max)
			case !m.autoscale && p.Count != m.count:
				bad("cluster %s: pool %s has %d nodes, the last job that succeeded on it asked for %d", c.Name, p.Name, p.Count, m.count)
			}
		}
		for name := range pools {
			if !slices.Contains(names, name) {
				bad("cluster %s: pool %s is missing, but the jobs that succeeded say it exists", c.Name, name)
			}
		}
	}
	for name, n := range seen {
		if n != 1 {
			bad("cluster %s exists %d times", name, n)
		}
	}
	for name := range want {
		if seen[name] == 0 {
			bad("seeded cluster %s is gone", name)
		}
	}
	for name := range createdNodes {
		if seen[name] == 0 {
			bad("cluster %s was created by a job that succeeded, but it does not exist", name)
		}
	}
}

// 5.
func checkAudit(st checkedStore, byID map[string]aks.Job, bad func(string, ...any)) {
	recs, err := st.Audit(context.Background(), aks.AuditFilter{})
	if err != nil {
		bad("read the audit log: %v", err)
		return
	}
	requested, final := map[string]int{}, map[string]int{}
	for _, rec := range recs {
		if rec.JobID == "" {
			continue
		}
		switch {
		case rec.Action == aks.AuditRequested:
			requested[rec.JobID]++
		case finalKinds[aks.EventKind(rec.Action)]:
			final[rec.JobID]++
		}
	}
	for id := range byID {
		if requested[id] != 1 || final[id] != 1 {
			bad("job %s: audit log has %d \"requested\" and %d final records, want 1 and 1", id, requested[id], final[id])
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
