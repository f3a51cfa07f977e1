package aks

import (
	"testing"
	"time"
)

func TestScheduleJobTitleAndRequester(t *testing.T) {
	op := Operation{Kind: OpClusterStop, Target: Target{ResourceGroup: "rg", Cluster: "demo"}}
	at := func(id string) string { return "@" + id }
	plain := Job{Op: op, Requester: User{ID: "alice"}}
	if plain.Title() != "stop cluster rg/demo" || plain.RequestedBy(at) != "@alice" {
		t.Errorf("plain job: %q, %q", plain.Title(), plain.RequestedBy(at))
	}
	change := Job{Op: op, Requester: User{ID: "alice"}, ScheduleChange: &ScheduleChange{Action: ScheduleAdd, Schedule: Schedule{Name: "evening"}}}
	if got := change.Title(); got != "add schedule evening: stop cluster rg/demo" {
		t.Errorf("change title %q", got)
	}
	run := Job{Op: op, Requester: User{ID: "alice"}, ScheduleRun: &ScheduleRun{Name: "evening",
		Approvals: []Decision{{By: User{ID: "bob"}, Approve: true, At: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}}}}
	if got := run.RequestedBy(at); got != "schedule evening (approved by @bob on 2026-12-04)" {
		t.Errorf("run requested by %q", got)
	}
}
