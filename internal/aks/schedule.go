package aks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrScheduleNotFound: no schedule with that name.
var ErrScheduleNotFound = errors.New("schedule not found")

// ScheduleAction names a change to a schedule. A change is a job like any mutating request: it
// carries the schedule's operation, so the policy asks for the approvals that operation needs,
// and it takes effect (without any Azure call) when the job succeeds.
type ScheduleAction string

const (
	ScheduleAdd    ScheduleAction = "add"
	SchedulePause  ScheduleAction = "pause"
	ScheduleResume ScheduleAction = "resume"
	ScheduleDelete ScheduleAction = "delete"
)

// Schedule runs one operation at the times of a cron expression, in a time zone.
type Schedule struct {
	Name     string    `json:"name"`
	Version  int64     `json:"version"` // bumped by the store on every put; 0 = not stored yet
	Op       Operation `json:"op"`
	Cron     string    `json:"cron"`     // five fields or a descriptor (@daily, @every 1h)
	TimeZone string    `json:"timeZone"` // IANA name; "" = UTC
	Channel  string    `json:"channel"`  // where its runs are posted
	Paused   bool      `json:"paused,omitempty"`

	Requester User       `json:"requester"` // who asked for it; its runs are requested on their behalf
	Approvals []Decision `json:"approvals,omitempty"`
	Rule      string     `json:"rule,omitempty"`
	JobID     string     `json:"jobId"` // the job that made it active; its approval covers the runs
	CreatedAt time.Time  `json:"createdAt"`
	// Checked is the time up to which occurrences were handled (run, or skipped as too old).
	Checked time.Time `json:"checked"`
}

// ScheduleChange is what a schedule job changes; Schedule holds the schedule as it will be.
type ScheduleChange struct {
	Action   ScheduleAction `json:"action"`
	Schedule Schedule       `json:"schedule"`
}

// ScheduleRun marks a job run by a schedule: which occurrence, and whose approval covers it.
type ScheduleRun struct {
	Name       string     `json:"name"`
	Occurrence time.Time  `json:"occurrence"`
	JobID      string     `json:"jobId"` // the job that approved the schedule
	Approvals  []Decision `json:"approvals,omitempty"`
}

// ScheduleStore keeps schedules by name (case-insensitive), with compare-and-swap on Version.
type ScheduleStore interface {
	// PutSchedule stores s if the stored version equals s.Version (0 = must not exist), else
	// ErrConflict; it returns the stored schedule with Version bumped.
	PutSchedule(ctx context.Context, s Schedule) (Schedule, error)
	// Schedule returns one schedule, or an error matching ErrScheduleNotFound.
	Schedule(ctx context.Context, name string) (Schedule, error)
	// Schedules returns all schedules, by name.
	Schedules(ctx context.Context) ([]Schedule, error)
	// DeleteSchedule removes the schedule if its stored version equals version, else
	// ErrConflict (ErrScheduleNotFound when there is none).
	DeleteSchedule(ctx context.Context, name string, version int64) error
}

// Title says what a job does: its operation, or the schedule change it makes.
func (j Job) Title() string {
	if c := j.ScheduleChange; c != nil {
		return fmt.Sprintf("%s schedule %s: %s", c.Action, c.Schedule.Name, j.Op.Describe())
	}
	return j.Op.Describe()
}

// RequestedBy says who asked for a job, with mention writing a user ID as the transport shows
// it: "<@alice>", or for a schedule's run "schedule grow (approved by <@bob> on 2026-12-04)".
func (j Job) RequestedBy(mention func(id string) string) string {
	r := j.ScheduleRun
	if r == nil {
		return mention(j.Requester.ID)
	}
	if len(r.Approvals) == 0 {
		return fmt.Sprintf("schedule %s (made by %s, no approval needed)", r.Name, mention(j.Requester.ID))
	}
	var who []string
	for _, d := range r.Approvals {
		who = append(who, mention(d.By.ID))
	}
	return fmt.Sprintf("schedule %s (approved by %s on %s)", r.Name, strings.Join(who, " and "), r.Approvals[len(r.Approvals)-1].At.UTC().Format("2006-01-02"))
}
