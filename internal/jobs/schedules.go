package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/sched"
)

// DefaultCatchUp is how old a missed occurrence may be and still run.
const DefaultCatchUp = 15 * time.Minute

// claimTTL is how long an occurrence's claim is kept: well past the catch-up window (at most a
// day in the configuration), after which the occurrence can no longer run anyway, so it can
// never be claimed twice while it could still be run, and an @every 1m schedule keeps a few
// thousand claims rather than a month's.
func (e *Engine) claimTTL() time.Duration { return max(48*time.Hour, 2*e.cfg.CatchUp) }

// maxOccurrences bounds the occurrences one look handles per schedule (an @every 1m schedule
// after a week's outage); the rest are skipped in one go.
const maxOccurrences = 200

// ScheduleRequest asks to add, pause, resume or delete a schedule.
type ScheduleRequest struct {
	Action    aks.ScheduleAction
	Schedule  aks.Schedule // add: Name, Op, Cron, TimeZone; otherwise Name
	Requester aks.User
	Channel   string
}

// ChangeSchedule submits a schedule change as a job: it is decided on like the schedule's
// operation (the same rule, the same approvals), and changes the schedule, without any Azure
// call, when it succeeds.
func (e *Engine) ChangeSchedule(ctx context.Context, req ScheduleRequest) (aks.Job, error) {
	if e.cfg.Schedules == nil {
		return aks.Job{}, aks.Errorf(aks.EInvalid, "schedules are not enabled on this bot")
	}
	want := req.Schedule
	stored, err := e.cfg.Schedules.Schedule(ctx, want.Name)
	switch {
	case errors.Is(err, aks.ErrScheduleNotFound):
		if req.Action != aks.ScheduleAdd {
			return aks.Job{}, &aks.Error{Code: aks.ENotFound, Message: fmt.Sprintf("there is no schedule %s", want.Name), Hint: "see /aks schedule list"}
		}
	case err != nil:
		return aks.Job{}, &aks.Error{Code: aks.EUnavailable, Message: "could not read the schedules", Err: err}
	case req.Action == aks.ScheduleAdd:
		return aks.Job{}, aks.Errorf(aks.EConflict, "schedule %s exists already (%s); delete it first or pick another name", stored.Name, describeSchedule(stored))
	case req.Action == aks.SchedulePause && stored.Paused:
		return aks.Job{}, aks.Errorf(aks.EConflict, "schedule %s is paused already", stored.Name)
	case req.Action == aks.ScheduleResume && !stored.Paused:
		return aks.Job{}, aks.Errorf(aks.EConflict, "schedule %s is not paused", stored.Name)
	default:
		want = stored
	}
	if _, err := sched.Parse(want.Cron, want.TimeZone); err != nil {
		return aks.Job{}, &aks.Error{Code: aks.EInvalid, Message: err.Error()}
	}
	return e.Submit(ctx, SubmitRequest{Op: want.Op, Requester: req.Requester, Channel: req.Channel,
		Schedule: &aks.ScheduleChange{Action: req.Action, Schedule: want}})
}

// Schedules returns the stored schedules, by name.
func (e *Engine) Schedules(ctx context.Context) ([]aks.Schedule, error) {
	if e.cfg.Schedules == nil {
		return nil, nil
	}
	return e.cfg.Schedules.Schedules(ctx)
}

// Schedule returns one stored schedule.
func (e *Engine) Schedule(ctx context.Context, name string) (aks.Schedule, error) {
	if e.cfg.Schedules == nil {
		return aks.Schedule{}, aks.Errorf(aks.EInvalid, "schedules are not enabled on this bot")
	}
	s, err := e.cfg.Schedules.Schedule(ctx, name)
	if errors.Is(err, aks.ErrScheduleNotFound) {
		return aks.Schedule{}, &aks.Error{Code: aks.ENotFound, Message: fmt.Sprintf("there is no schedule %s", name), Hint: "see /aks schedule list", Err: err}
	}
	if err != nil {
		return aks.Schedule{}, &aks.Error{Code: aks.EUnavailable, Message: "could not read the schedule", Err: err}
	}
	return s, nil
}

// describeSchedule says what a schedule does and when: `stop cluster rg/demo at "0 19 * * 1-5"
// (Europe/Amsterdam)`.
func describeSchedule(s aks.Schedule) string {
	tz := s.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s at %q (%s)", s.Op.Describe(), s.Cron, tz)
}

// schedulePlan stands in for the plan of a schedule whose operation has nothing to change now
// (the cluster is stopped already): what its runs will ask for, decided on conservatively.
func schedulePlan(op aks.Operation, why error) aks.Plan {
	plan := aks.Plan{Summary: "nothing to change right now (" + userMessage(why) + ")", FromNodes: -1, ToNodes: -1, ClusterNodes: -1, Pool: op.Target.Pool}
	switch op.Kind {
	case aks.OpClusterStart:
		plan.ScaleUp = true
	case aks.OpPoolScale:
		plan.ToNodes = *op.NodeCount
		plan.ScaleUp = *op.NodeCount > 0
	case aks.OpPoolAutoscale:
		plan.ScaleUp = true
	}
	return plan
}

// applySchedule makes an approved schedule change take effect. Like recheck, it looks at the
// policy once more: the requester must still be allowed, and the approvals must still count.
func (e *Engine) applySchedule(ctx context.Context, job aks.Job) {
	change := job.ScheduleChange
	if err := e.cfg.Policy.CanRequest(ctx, job.Requester, job.Channel, job.Op); err != nil {
		if aks.ErrorCode(err) == aks.EUnavailable {
			sleep(ctx, e.cfg.RetryDelay)
			return
		}
		e.end(ctx, job, aks.StateCancelled, aks.EventCancelled, nil,
			fmt.Sprintf("Job %s cancelled: the requester may no longer %s schedules like it (%s). Schedule %s is unchanged.", job.ID, change.Action, userMessage(err), change.Schedule.Name))
		return
	}
	valid := 0
	for _, d := range job.Approvals() {
		err := e.cfg.Policy.CanApprove(ctx, d.By, job)
		if aks.ErrorCode(err) == aks.EUnavailable {
			sleep(ctx, e.cfg.RetryDelay)
			return
		}
		if err == nil {
			valid++
		}
	}
	if valid < needed(job) {
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "ApprovalsNoLongerValid",
			Message: fmt.Sprintf("only %d of the %d approvals it needs still count under the policy. Schedule %s is unchanged", valid, needed(job), change.Schedule.Name),
			Hint:    "ask again with the same command"}, "")
		return
	}
	msg, err := e.storeScheduleChange(ctx, job)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if aks.ErrorCode(err) == aks.EUnavailable {
			e.logFor(job).Warn("could not store a schedule change; will try again", "err", err)
			sleep(ctx, e.cfg.RetryDelay)
			return
		}
		e.end(ctx, job, aks.StateFailed, aks.EventFailed, &aks.JobError{Code: "ScheduleChangeRefused", Message: userMessage(err)}, "")
		return
	}
	e.end(ctx, job, aks.StateSucceeded, aks.EventSucceeded, nil, fmt.Sprintf("Job %s succeeded: %s Nothing was sent to %s.", job.ID, msg, job.Op.Target.CloudName()))
}

// storeScheduleChange writes the change and says what it did. The write is a compare-and-swap:
// the scheduler updates a schedule's Checked time concurrently, so a conflict is read again.
func (e *Engine) storeScheduleChange(ctx context.Context, job aks.Job) (string, error) {
	change := job.ScheduleChange
	name := change.Schedule.Name
	now := e.now()
	for try := 0; try < 5; try++ {
		var err error
		switch change.Action {
		case aks.ScheduleAdd:
			s := change.Schedule
			s.Version, s.Paused = 0, false
			s.Channel, s.Requester, s.Approvals, s.Rule, s.JobID = job.Channel, job.Requester, job.Approvals(), job.Rule, job.ID
			s.CreatedAt, s.Checked = now, now
			if _, err = e.cfg.Schedules.PutSchedule(ctx, s); err == nil {
				return fmt.Sprintf("schedule %s is active: %s. %s", name, describeSchedule(s), nextRunText(s, now)), nil
			}
			if errors.Is(err, aks.ErrConflict) {
				// Stored by this very job before a crash cut it short: done already.
				if got, gerr := e.cfg.Schedules.Schedule(ctx, name); gerr == nil && got.JobID == job.ID {
					return fmt.Sprintf("schedule %s is active: %s. %s", name, describeSchedule(got), nextRunText(got, now)), nil
				}
				return "", aks.Errorf(aks.EConflict, "a schedule named %s was added meanwhile", name)
			}
		case aks.SchedulePause, aks.ScheduleResume, aks.ScheduleDelete:
			var s aks.Schedule
			s, err = e.cfg.Schedules.Schedule(ctx, name)
			if errors.Is(err, aks.ErrScheduleNotFound) {
				if change.Action == aks.ScheduleDelete {
					return fmt.Sprintf("schedule %s is deleted; it runs no more.", name), nil
				}
				return "", aks.Errorf(aks.ENotFound, "schedule %s was deleted meanwhile", name)
			}
			if err != nil {
				break
			}
			switch change.Action {
			case aks.ScheduleDelete:
				if err = e.cfg.Schedules.DeleteSchedule(ctx, name, s.Version); err == nil {
					return fmt.Sprintf("schedule %s is deleted; it runs no more.", name), nil
				}
			default:
				s.Paused = change.Action == aks.SchedulePause
				// Resuming does not run what fell due while paused.
				s.Checked = now
				if _, err = e.cfg.Schedules.PutSchedule(ctx, s); err == nil {
					if s.Paused {
						return fmt.Sprintf("schedule %s is paused; it does not run until resumed.", name), nil
					}
					return fmt.Sprintf("schedule %s is resumed. %s", name, nextRunText(s, now)), nil
				}
			}
		default:
			return "", aks.Errorf(aks.EInvalid, "unknown schedule change %q", change.Action)
		}
		if !errors.Is(err, aks.ErrConflict) {
			return "", &aks.Error{Code: aks.EUnavailable, Message: "could not store the schedule", Err: err}
		}
	}
	return "", &aks.Error{Code: aks.EUnavailable, Message: "the schedule kept changing while it was stored"}
}

// nextRunText says when a schedule runs next, in its zone and UTC.
func nextRunText(s aks.Schedule, now time.Time) string {
	spec, err := sched.Parse(s.Cron, s.TimeZone)
	if err != nil {
		return ""
	}
	next := spec.Next(now)
	if next.IsZero() {
		return "It has no next run."
	}
	return "Next run: " + FormatRun(next) + "."
}

// FormatRun writes a run's time in its zone and, when that is not UTC, in UTC too.
func FormatRun(t time.Time) string {
	s := t.Format("Mon 2006-01-02 15:04 MST")
	if t.Location() != time.UTC {
		s += " (" + t.UTC().Format("15:04 MST") + ")"
	}
	return s
}

// NextRuns returns a schedule's next n runs after now, in its time zone.
func NextRuns(s aks.Schedule, now time.Time, n int) ([]time.Time, error) {
	spec, err := sched.Parse(s.Cron, s.TimeZone)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for t := spec.Next(now); !t.IsZero() && len(out) < n; t = spec.Next(t) {
		out = append(out, t)
	}
	return out, nil
}

// scheduleLoop looks for due occurrences while this replica is elected for bot-wide work.
func (e *Engine) scheduleLoop(ctx context.Context) {
	e.CheckSchedules(ctx)
	t := time.NewTicker(e.cfg.ScheduleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.CheckSchedules(ctx)
		}
	}
}

// CheckSchedules starts the runs that fell due since each schedule was last checked, and skips
// (telling the schedule's channel) those older than CatchUp. The scheduler loop calls it on the
// elected replica; tests call it after moving the clock.
func (e *Engine) CheckSchedules(ctx context.Context) {
	if e.cfg.Schedules == nil {
		return
	}
	all, err := e.cfg.Schedules.Schedules(ctx)
	if err != nil {
		e.log.Warn("list schedules; will look again", "err", err)
		return
	}
	for _, s := range all {
		if ctx.Err() != nil {
			return
		}
		if err := e.checkSchedule(ctx, s); err != nil {
			e.log.Warn("check a schedule; will look again", "schedule", s.Name, "err", err)
		}
	}
}

func (e *Engine) checkSchedule(ctx context.Context, s aks.Schedule) error {
	if s.Paused {
		return nil
	}
	spec, err := sched.Parse(s.Cron, s.TimeZone)
	if err != nil {
		return fmt.Errorf("parse the stored cron expression: %w", err)
	}
	now := e.now()
	runs, more := spec.Between(s.Checked, now, maxOccurrences)
	if len(runs) == 0 {
		return nil
	}
	var skipped []time.Time
	for _, at := range runs {
		if now.Sub(at) > e.cfg.CatchUp {
			skipped = append(skipped, at)
			continue
		}
		if err := e.runOccurrence(ctx, s, at); err != nil {
			return err // Checked stays: the next look tries again (the claim keeps it once)
		}
	}
	if len(skipped) > 0 {
		if err := e.reportSkipped(ctx, s, skipped, more); err != nil {
			return err
		}
	}
	s.Checked = runs[len(runs)-1]
	if more {
		s.Checked = now
	}
	if _, err := e.cfg.Schedules.PutSchedule(ctx, s); err != nil && !errors.Is(err, aks.ErrConflict) && !errors.Is(err, aks.ErrScheduleNotFound) {
		return fmt.Errorf("store when the schedule was checked: %w", err)
	}
	return nil
}

// occurrenceKey names one occurrence of one schedule. The schedule's job ID is part of it, so a
// schedule deleted and added again under the same name starts afresh.
func occurrenceKey(s aks.Schedule, at time.Time, what string) string {
	return "schedule/" + strings.ToLower(s.Name) + "/" + s.JobID + "/" + what + "/" + strconv.FormatInt(at.Unix(), 10)
}

// runOccurrence claims one occurrence and stores its job. The claim comes first: a crash
// between the two loses the run rather than running it twice (at most once), and a second
// replica or a restarted one finds the claim and does nothing.
func (e *Engine) runOccurrence(ctx context.Context, s aks.Schedule, at time.Time) error {
	first, err := e.cfg.Claims.Claim(ctx, occurrenceKey(s, at, "run"), e.claimTTL())
	if err != nil {
		return fmt.Errorf("claim the run at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	if !first {
		return nil
	}
	now := e.now()
	job := aks.Job{
		Op: s.Op, Requester: s.Requester, Channel: s.Channel, CreatedAt: now, UpdatedAt: now,
		State: aks.StateQueued, Rule: s.Rule,
		// The schedule's approvals are the run's: recheck counts them under today's policy.
		NeedsApproval: len(s.Approvals) > 0, Decisions: s.Approvals, ApprovalsNeeded: len(s.Approvals),
		Plan:        aks.Plan{Summary: "planned when it starts", FromNodes: -1, ToNodes: -1, ClusterNodes: -1},
		ScheduleRun: &aks.ScheduleRun{Name: s.Name, Occurrence: at, JobID: s.JobID, Approvals: s.Approvals},
	}
	ev := aks.Event{At: now, Kind: aks.EventCreated, To: aks.StateQueued, Replica: e.coord.ReplicaID(),
		Message: fmt.Sprintf("Requested by schedule %s (%s) for its run of %s: %s. Queued; it is planned and checked against the policy again when it starts.",
			s.Name, approvedText(s), FormatRun(at.In(locationOf(s))), s.Op.Describe())}
	stored, err := e.cfg.Store.CreateJob(ctx, job, ev)
	if err != nil {
		e.log.Error("could not store a scheduled run; it is lost (each run is claimed before it is stored, so it never runs twice)", "schedule", s.Name, "at", at, "err", err)
		return nil
	}
	ev.JobID, ev.Seq = stored.ID, 1
	e.logFor(stored).Info("scheduled run queued", "schedule", s.Name, "occurrence", at)
	e.transition(stored, "")
	e.report(ctx, stored, ev)
	e.kick(stored.Op.Target.ClusterKey())
	return nil
}

// reportSkipped tells the schedule's channel which runs were skipped because they were older
// than CatchUp, as a cancelled job of the schedule (so it shows in /aks jobs and the audit).
func (e *Engine) reportSkipped(ctx context.Context, s aks.Schedule, skipped []time.Time, more bool) error {
	last := skipped[len(skipped)-1]
	first, err := e.cfg.Claims.Claim(ctx, occurrenceKey(s, last, "skip"), e.claimTTL())
	if err != nil || !first {
		return err
	}
	loc := locationOf(s)
	var times []string
	for i, at := range skipped {
		if i == 5 {
			times = append(times, fmt.Sprintf("and %d more", len(skipped)-5))
			break
		}
		times = append(times, FormatRun(at.In(loc)))
	}
	if more {
		times = append(times, "and later ones")
	}
	now := e.now()
	msg := fmt.Sprintf("Schedule %s skipped its run(s) of %s: the bot was not running then, and they are older than %s (schedules.catchUp). Nothing was sent to %s. %s",
		s.Name, strings.Join(times, ", "), e.cfg.CatchUp, s.Op.Target.CloudName(), nextRunText(s, now))
	job := aks.Job{Op: s.Op, Requester: s.Requester, Channel: s.Channel, CreatedAt: now, UpdatedAt: now, FinishedAt: now,
		State: aks.StateCancelled, Rule: s.Rule,
		Plan:        aks.Plan{Summary: "skipped", FromNodes: -1, ToNodes: -1, ClusterNodes: -1},
		ScheduleRun: &aks.ScheduleRun{Name: s.Name, Occurrence: last, JobID: s.JobID, Approvals: s.Approvals}}
	ev := aks.Event{At: now, Kind: aks.EventCancelled, To: aks.StateCancelled, Message: msg, Replica: e.coord.ReplicaID()}
	stored, err := e.cfg.Store.CreateJob(ctx, job, ev)
	if err != nil {
		return fmt.Errorf("store the notice of skipped runs: %w", err)
	}
	ev.JobID, ev.Seq = stored.ID, 1
	e.finishReport(ctx, stored, ev)
	return nil
}

func locationOf(s aks.Schedule) *time.Location {
	loc, err := sched.Location(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// approvedText says whose approval covers a schedule's runs: "approved by <@bob> on
// 2026-12-04", or who made it when it needed none.
func approvedText(s aks.Schedule) string {
	if len(s.Approvals) == 0 {
		return fmt.Sprintf("made by <@%s> on %s, no approval needed", s.Requester.ID, s.CreatedAt.UTC().Format("2006-01-02"))
	}
	var who []string
	for _, d := range s.Approvals {
		who = append(who, "<@"+d.By.ID+">")
	}
	return fmt.Sprintf("approved by %s on %s", andList(who), s.Approvals[len(s.Approvals)-1].At.UTC().Format("2006-01-02"))
}
