package aks

import (
	"context"
	"errors"
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
