// Package sched reads the cron expressions and time zones of schedules and works out when they
// fire. It is pure (no clock, no I/O besides the zone database, which cmd/bot embeds), so the
// command grammar can validate with it and tests can move time freely.
package sched

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinEvery is the shortest @every interval: a schedule makes a job per run, so a seconds-long
// interval would flood the channel and the lane.
const MinEvery = time.Minute

// parser reads the standard five fields (minute hour day-of-month month day-of-week) and the
// descriptors (@yearly, @monthly, @weekly, @daily, @hourly, @every DURATION).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is a parsed cron expression in its time zone.
type Spec struct {
	sched cron.Schedule
	loc   *time.Location
}

// Parse reads a cron expression and an IANA time zone ("" = UTC). Its errors are plain words
// for the user.
func Parse(expr, tz string) (Spec, error) {
	loc, err := Location(tz)
	if err != nil {
		return Spec{}, err
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return Spec{}, fmt.Errorf("the cron expression is empty: give five fields such as \"0 19 * * 1-5\" or a name such as @daily")
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return Spec{}, fmt.Errorf("give the time zone with --tz, not inside the cron expression")
	}
	if rest, ok := strings.CutPrefix(expr, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < MinEvery {
			return Spec{}, fmt.Errorf("@every needs a duration of at least %s, such as @every 30m", MinEvery)
		}
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return Spec{}, fmt.Errorf("invalid cron expression %q (%v): use five fields, minute hour day-of-month month day-of-week, such as \"0 19 * * 1-5\", or @hourly, @daily, @weekly, @monthly, @every 1h", expr, err)
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		return Spec{}, fmt.Errorf("the cron expression %q never fires", expr)
	}
	return Spec{sched: s, loc: loc}, nil
}

// Location loads an IANA time zone; "" and "UTC" are UTC. "Local" is refused: the bot's own
// zone is no one's.
func Location(tz string) (*time.Location, error) {
	switch tz {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("time zone %q is not allowed: use an IANA name such as Europe/Amsterdam", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Amsterdam or America/New_York", tz)
	}
	return loc, nil
}

// Location is the schedule's time zone.
func (s Spec) Location() *time.Location { return s.loc }

// Next returns the first run strictly after t, in the schedule's zone (zero when none).
func (s Spec) Next(t time.Time) time.Time { return s.sched.Next(t.In(s.loc)) }

// Between returns the runs in (from, to], at most max of them, and whether there were more.
func (s Spec) Between(from, to time.Time, max int) ([]time.Time, bool) {
	var out []time.Time
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		if len(out) == max {
			return out, true
		}
		out = append(out, t)
	}
	return out, false
}
