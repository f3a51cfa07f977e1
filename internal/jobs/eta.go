package jobs

import (
	"context"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// MinHistory is how many similar finished jobs an estimate from history needs: of the same kind
// on the same cluster, else of the same kind on any cluster.
const MinHistory = 5

// historyLimit bounds how many finished jobs are read for an estimate.
const historyLimit = 500

// usualRange is the cloud's usual duration of each kind, used while the bot has too little
// history. EKS node groups roll instances one batch at a time, as AKS pools do.
var usualRange = map[aks.OpKind][2]time.Duration{
	aks.OpClusterCreate:  {5 * time.Minute, 10 * time.Minute},
	aks.OpClusterDelete:  {5 * time.Minute, 15 * time.Minute},
	aks.OpClusterUpgrade: {10 * time.Minute, 60 * time.Minute},
	aks.OpClusterStart:   {5 * time.Minute, 10 * time.Minute},
	aks.OpClusterStop:    {5 * time.Minute, 10 * time.Minute},
	aks.OpPoolAdd:        {2 * time.Minute, 5 * time.Minute},
	aks.OpPoolScale:      {2 * time.Minute, 5 * time.Minute},
	aks.OpPoolAutoscale:  {2 * time.Minute, 5 * time.Minute},
	aks.OpPoolDelete:     {5 * time.Minute, 15 * time.Minute},
	aks.OpPoolUpgrade:    {10 * time.Minute, 60 * time.Minute},

	aks.OpNodegroupCreate:  {3 * time.Minute, 6 * time.Minute},
	aks.OpNodegroupScale:   {2 * time.Minute, 5 * time.Minute},
	aks.OpNodegroupUpgrade: {10 * time.Minute, 60 * time.Minute},
	aks.OpNodegroupDelete:  {3 * time.Minute, 10 * time.Minute},
}

// estimate says how long op should take, from the jobs of its kind that succeeded: on the same
// cluster when there are at least MinHistory, else on any cluster, else AKS's usual range.
// Scales compare like with like: scale-ups that added about as many nodes (half to twice), or
// scale-downs.
func (e *Engine) estimate(ctx context.Context, op aks.Operation, plan aks.Plan) *aks.Estimate {
	usual := usualRange[op.Kind]
	fallback := &aks.Estimate{Median: usual[0], P90: usual[1], Service: service(op.Target)}
	done, err := e.cfg.Store.Jobs(ctx, Filter{States: []aks.JobState{aks.StateSucceeded}, Limit: historyLimit})
	if err != nil {
		e.log.Warn("read finished jobs for an estimate", "err", err)
		return fallback
	}
	key := op.Target.ClusterKey()
	var here, anywhere []time.Duration
	for _, j := range done {
		if j.Op.Kind != op.Kind || j.StartedAt.IsZero() || !j.FinishedAt.After(j.StartedAt) || !alike(plan, j.Plan) {
			continue
		}
		d := j.FinishedAt.Sub(j.StartedAt)
		anywhere = append(anywhere, d)
		if j.Op.Target.ClusterKey() == key {
			here = append(here, d)
		}
	}
	switch {
	case len(here) >= MinHistory:
		return fromHistory(here, "here")
	case len(anywhere) >= MinHistory:
		return fromHistory(anywhere, "on any cluster")
	}
	return fallback
}

// alike reports whether a finished job's plan is like the new one: for node count changes, the
// same direction and about as many nodes (half to twice as many).
func alike(now, then aks.Plan) bool {
	if now.FromNodes < 0 || now.ToNodes < 0 || then.FromNodes < 0 || then.ToNodes < 0 {
		return true
	}
	a, b := now.ToNodes-now.FromNodes, then.ToNodes-then.FromNodes
	switch {
	case a > 0:
		return b > 0 && 2*b >= a && b <= 2*a
	case a < 0:
		return b < 0
	}
	return b == 0
}

func fromHistory(ds []time.Duration, scope string) *aks.Estimate {
	est := &aks.Estimate{Median: aks.Percentile(ds, 50), P90: aks.Percentile(ds, 90), N: len(ds), Scope: scope}
	for _, d := range ds {
		if d <= est.P90 {
			est.Within++
		}
	}
	return est
}

// slowAfter is when a running job is flagged as slow: the configured limit for its kind, else
// half again past the 90th percentile of similar jobs when there is enough history, else
// DefaultSlowAfter.
func (e *Engine) slowAfter(job aks.Job) time.Duration {
	if limit, ok := e.cfg.SlowAfter[job.Op.Kind]; ok {
		return limit
	}
	if est := job.Plan.ETA; est.FromHistory() && est.P90 > 0 {
		return est.P90 * 3 / 2
	}
	return DefaultSlowAfter[job.Op.Kind]
}

// startETA says when a started job should end: "ETA 12:47 UTC (median 6 min of 14 similar
// jobs here; ...)", or AKS's usual range and the end of it.
func startETA(job aks.Job) string {
	est := job.Plan.ETA
	if est == nil {
		return service(job.Op.Target) + " usually needs " + typicalDuration(job.Op.Kind) + " for this"
	}
	if !est.FromHistory() {
		return service(job.Op.Target) + " usually needs " + typicalDuration(job.Op.Kind) + " for this (" + est.ETA(job.StartedAt) + ")"
	}
	return est.ETA(job.StartedAt)
}

// expectedEnd is the progress line's expectation: "ETA 12:47 UTC" from history, else AKS's usual
// range ("usually 2-5 minutes").
func expectedEnd(job aks.Job) string {
	if est := job.Plan.ETA; est.FromHistory() && !job.StartedAt.IsZero() {
		return "ETA " + job.StartedAt.Add(est.Median).UTC().Format("15:04 MST")
	}
	return "usually " + typicalDuration(job.Op.Kind)
}

// service names the managed service whose usual durations apply: "AKS" or "EKS".
func service(t aks.Target) string {
	if t.IsEKS() {
		return "EKS"
	}
	return "AKS"
}
