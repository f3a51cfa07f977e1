package chatops

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/commands"
	"github.com/aksbot/aksbot/internal/jobs"
)

// ScheduleEngine is what `/aks schedule` needs from the job engine (jobs.Engine implements it).
type ScheduleEngine interface {
	ChangeSchedule(ctx context.Context, req jobs.ScheduleRequest) (aks.Job, error)
	Schedules(ctx context.Context) ([]aks.Schedule, error)
	Schedule(ctx context.Context, name string) (aks.Schedule, error)
}

// schedule answers `/aks schedule ...`: changes become jobs, list and show are read here.
func (s *Service) schedule(ctx context.Context, req Request, cmd commands.Command) (string, string, error) {
	if s.Schedules == nil {
		return "", "", &aks.Error{Code: aks.EUnavailable, Message: "schedules are not enabled on this bot"}
	}
	sc := cmd.Schedule
	switch sc.Action {
	case "list":
		return s.listSchedules(ctx, cmd)
	case "show":
		return s.showSchedule(ctx, sc.Name)
	}
	r := jobs.ScheduleRequest{Action: aks.ScheduleAction(sc.Action), Requester: req.User, Channel: req.Channel,
		Schedule: aks.Schedule{Name: sc.Name, Cron: sc.Cron, TimeZone: sc.TimeZone}}
	if sc.Op != nil {
		r.Schedule.Op = *sc.Op
		if r.Schedule.Op.Target.ResourceGroup == "" {
			r.Schedule.Op.Target.ResourceGroup = cmd.ResourceGroup
		}
	}
	job, err := s.Schedules.ChangeSchedule(ctx, r)
	if err != nil {
		return "", "", err
	}
	if job.State == aks.StateAwaitingApproval {
		return fmt.Sprintf("Job %s (%s schedule %s) is waiting for approval: follow it in the thread of its message in this channel.", job.ID, sc.Action, sc.Name), job.ID, nil
	}
	return fmt.Sprintf("Job %s (%s schedule %s) is queued: follow it in the thread of its message in this channel.", job.ID, sc.Action, sc.Name), job.ID, nil
}

func (s *Service) listSchedules(ctx context.Context, cmd commands.Command) (string, string, error) {
	all, err := s.Schedules.Schedules(ctx)
	if err != nil {
		return "", "", fmt.Errorf("read schedules: %w", err)
	}
	var b strings.Builder
	n := 0
	now := s.now()
	for _, sc := range all {
		if cmd.Cluster != "" && sc.Op.Target.ClusterKey() != (aks.Target{ResourceGroup: cmd.ResourceGroup, Cluster: cmd.Cluster}).ClusterKey() {
			continue
		}
		n++
		state := "next " + nextRun(sc, now)
		if sc.Paused {
			state = "paused"
		}
		fmt.Fprintf(&b, "• *%s*: %s `%s` %s; %s\n", sc.Name, sc.Op.Describe(), sc.Cron, zoneOf(sc), state)
	}
	if n == 0 {
		if cmd.Cluster != "" {
			return "No schedules for " + cmd.Cluster + ".", "", nil
		}
		return "No schedules. Add one with `/aks schedule add NAME CLUSTER stop --cron \"0 19 * * 1-5\" --tz Europe/Amsterdam`.", "", nil
	}
	return fmt.Sprintf("*Schedules* (%d)\n%s", n, strings.TrimSuffix(b.String(), "\n")), "", nil
}

func (s *Service) showSchedule(ctx context.Context, name string) (string, string, error) {
	sc, err := s.Schedules.Schedule(ctx, name)
	if err != nil {
		return "", "", err
	}
	now := s.now()
	var b strings.Builder
	fmt.Fprintf(&b, "*Schedule %s*: %s\n", sc.Name, sc.Op.Describe())
	fmt.Fprintf(&b, "When: `%s` %s", sc.Cron, zoneOf(sc))
	if sc.Paused {
		b.WriteString(" (paused)")
	}
	b.WriteString("\n")
	approval := "no approval needed"
	if len(sc.Approvals) > 0 {
		var who []string
		for _, d := range sc.Approvals {
			who = append(who, "<@"+d.By.ID+">")
		}
		approval = "approved by " + strings.Join(who, " and ") + " on " + sc.Approvals[len(sc.Approvals)-1].At.UTC().Format("2006-01-02")
	}
	fmt.Fprintf(&b, "Requested by <@%s> (job %s, %s); runs are posted in <#%s>\n", sc.Requester.ID, sc.JobID, approval, sc.Channel)
	if !sc.Paused {
		runs, err := jobs.NextRuns(sc, now, 5)
		if err != nil {
			return "", "", err
		}
		b.WriteString("Next runs:\n")
		for _, r := range runs {
			b.WriteString("• " + jobs.FormatRun(r) + "\n")
		}
	}
	if line := s.saving(ctx, sc, now); line != "" {
		b.WriteString(line + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), "", nil
}

// saving states what a stop/start pair of schedules saves at list prices: the hours a week the
// cluster is stopped, at the run rate of its nodes (the control plane is billed either way).
func (s *Service) saving(ctx context.Context, sc aks.Schedule, now time.Time) string {
	if s.Costs == nil || (sc.Op.Kind != aks.OpClusterStop && sc.Op.Kind != aks.OpClusterStart) {
		return ""
	}
	all, err := s.Schedules.Schedules(ctx)
	if err != nil {
		return ""
	}
	type edge struct {
		at   time.Time
		stop bool
	}
	var edges []edge
	var names []string
	for _, o := range all {
		if o.Paused || o.Op.Target.ClusterKey() != sc.Op.Target.ClusterKey() || (o.Op.Kind != aks.OpClusterStop && o.Op.Kind != aks.OpClusterStart) {
			continue
		}
		names = append(names, o.Name)
		runs, err := jobs.NextRuns(o, now, 1000)
		if err != nil {
			continue
		}
		for _, r := range runs {
			if r.Sub(now) > 7*24*time.Hour {
				break
			}
			edges = append(edges, edge{r, o.Op.Kind == aks.OpClusterStop})
		}
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].at.Before(edges[j].at) })
	var stopped time.Duration
	var since time.Time
	hasStop, hasStart := false, false
	for _, e := range edges {
		hasStop, hasStart = hasStop || e.stop, hasStart || !e.stop
		switch {
		case e.stop && since.IsZero():
			since = e.at
		case !e.stop && !since.IsZero():
			stopped += e.at.Sub(since)
			since = time.Time{}
		}
	}
	if !hasStop || !hasStart || stopped == 0 {
		return ""
	}
	cl, err := s.Azure.GetCluster(ctx, sc.Op.Target.ResourceGroup, sc.Op.Target.Cluster)
	if err != nil {
		return ""
	}
	rate := s.Costs.RunRate(ctx, cl)
	nodes := 0.0
	for _, p := range rate.Pools {
		if p.Known {
			nodes += p.PerNode * float64(p.Nodes)
		}
	}
	if nodes == 0 {
		return ""
	}
	hours := stopped.Hours()
	month := nodes * hours * aks.HoursPerMonth / (7 * 24)
	return fmt.Sprintf("Saving (%s): stopped %.0f hours a week at %s/h of nodes = about %s a month at list prices",
		strings.Join(names, " + "), hours, aks.Money(nodes, rate.Currency), aks.Money(month, rate.Currency))
}

func zoneOf(sc aks.Schedule) string {
	if sc.TimeZone == "" {
		return "UTC"
	}
	return sc.TimeZone
}

func nextRun(sc aks.Schedule, now time.Time) string {
	runs, err := jobs.NextRuns(sc, now, 1)
	if err != nil || len(runs) == 0 {
		return "none"
	}
	return jobs.FormatRun(runs[0])
}
