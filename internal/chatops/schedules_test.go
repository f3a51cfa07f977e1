package chatops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

type stubSchedules struct {
	list    []aks.Schedule
	changes []jobs.ScheduleRequest
}

func (s *stubSchedules) ChangeSchedule(_ context.Context, req jobs.ScheduleRequest) (aks.Job, error) {
	s.changes = append(s.changes, req)
	return aks.Job{ID: "12", State: aks.StateQueued}, nil
}

func (s *stubSchedules) Schedules(context.Context) ([]aks.Schedule, error) { return s.list, nil }

func (s *stubSchedules) Schedule(_ context.Context, name string) (aks.Schedule, error) {
	for _, sc := range s.list {
		if sc.Name == name {
			return sc, nil
		}
	}
	return aks.Schedule{}, aks.Errorf(aks.ENotFound, "there is no schedule %s", name)
}

type oneCluster struct{ Reader }

func (oneCluster) GetCluster(_ context.Context, rg, name string) (aks.Cluster, error) {
	return aks.Cluster{Name: name, ResourceGroup: rg}, nil
}

type flatRate struct{}

func (flatRate) RunRate(context.Context, aks.Cluster) aks.RunRate {
	return aks.RunRate{Currency: "USD", Pools: []aks.PoolRunRate{{Pool: "sys", Nodes: 3, PerNode: 0.2, Known: true}}}
}

func TestScheduleAddDefaultsTheResourceGroup(t *testing.T) {
	st := &stubSchedules{}
	s := service(&stubEngine{})
	s.Schedules = st
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1",
		Text: `schedule add evening demo stop --cron "0 19 * * 1-5" --tz Europe/Amsterdam`})
	if r.Error || r.JobID != "12" || len(st.changes) != 1 {
		t.Fatalf("reply %+v, changes %+v", r, st.changes)
	}
	c := st.changes[0]
	if c.Action != aks.ScheduleAdd || c.Schedule.Op.Target.ResourceGroup != "rg-default" || c.Schedule.TimeZone != "Europe/Amsterdam" || c.Channel != "C1" {
		t.Fatalf("change %+v", c)
	}
}

// TestScheduleShow: the next five runs in the zone and in UTC, and what a weekday 19:00 stop
// with a 07:00 start saves: 12 h on 4 weeknights + 60 h over the weekend = 108 h a week.
func TestScheduleShow(t *testing.T) {
	stop := aks.Schedule{Name: "evening", Cron: "0 19 * * 1-5", TimeZone: "Europe/Amsterdam", Channel: "C1", JobID: "3",
		Requester: aks.User{ID: "U1"}, Op: aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg", Cluster: "demo"}}}
	start := stop
	start.Name, start.Cron, start.Op.Kind = "morning", "0 7 * * 1-5", aks.OpClusterStart
	s := service(&stubEngine{})
	s.Schedules = &stubSchedules{list: []aks.Schedule{stop, start}}
	s.Azure, s.Costs = oneCluster{}, flatRate{}
	s.Now = func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) } // Friday
	r := s.Command(context.Background(), Request{User: aks.User{ID: "U1"}, Channel: "C1", Text: "schedule show evening"})
	if r.Error {
		t.Fatal(r.Text)
	}
	for _, want := range []string{
		"Fri 2026-12-04 19:00 CET (18:00 UTC)", "Mon 2026-12-07 19:00 CET", "Thu 2026-12-10 19:00 CET",
		"stopped 108 hours a week", "$0.600/h", "about $282 a month",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("show does not say %q:\n%s", want, r.Text)
		}
	}
	if n := strings.Count(r.Text, "\n• "); n != 5 {
		t.Errorf("%d runs listed, want 5:\n%s", n, r.Text)
	}
}
