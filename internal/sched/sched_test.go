package sched

import (
	"strings"
	"testing"
	"time"
)

func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct{ expr, tz, want string }{
		{"", "", "empty"},
		{"0 19 * *", "", "invalid cron expression"},
		{"61 19 * * *", "", "invalid cron expression"},
		{"0 19 * * 1-5", "Mars/Olympus", "unknown time zone"},
		{"0 19 * * 1-5", "Local", "not allowed"},
		{"TZ=UTC 0 19 * * *", "", "--tz"},
		{"@every 1s", "", "at least 1m"},
		{"@every soon", "", "at least 1m"},
		{"@fortnightly", "", "invalid cron expression"},
		{"0 0 30 2 *", "", "never fires"},
	} {
		if _, err := Parse(tc.expr, tc.tz); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want an error saying %q", tc.expr, tc.tz, err, tc.want)
		}
	}
	for _, expr := range []string{"0 19 * * 1-5", "@daily", "@every 1m", "*/15 7-19 * * MON-FRI"} {
		if _, err := Parse(expr, "Europe/Amsterdam"); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

// TestDaylightSaving: 19:00 on weekdays in Amsterdam is 17:00 UTC in summer and 18:00 UTC after
// the clocks go back on the last Sunday of October.
func TestDaylightSaving(t *testing.T) {
	s, err := Parse("0 19 * * 1-5", "Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 10, 22, 12, 0, 0, 0, time.UTC) // Thursday
	runs, more := s.Between(from, from.Add(6*24*time.Hour), 10)
	want := []string{"2026-10-22T17:00:00Z", "2026-10-23T17:00:00Z", "2026-10-26T18:00:00Z", "2026-10-27T18:00:00Z"}
	if more || len(runs) != len(want) {
		t.Fatalf("runs %v (more %v), want %v", runs, more, want)
	}
	for i, r := range runs {
		if got := r.UTC().Format(time.RFC3339); got != want[i] {
			t.Errorf("run %d at %s, want %s", i, got, want[i])
		}
	}
}
