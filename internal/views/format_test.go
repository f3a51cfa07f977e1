package views

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkMessage asserts what every view must keep: under Limit, valid UTF-8 and no code fence
// left open (an open fence would swallow the rest of a Slack message).
func checkMessage(t *testing.T, s string) {
	t.Helper()
	if len(s) >= Limit {
		t.Errorf("text is %d bytes, want under %d", len(s), Limit)
	}
	if !utf8.ValidString(s) {
		t.Errorf("text is not valid UTF-8")
	}
	if n := strings.Count(s, fence); n%2 != 0 {
		t.Errorf("text has %d code fences, want an even number:\n%s", n, s)
	}
}

func TestElapsed(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{45 * time.Second, "45s"},
		{59*time.Second + 900*time.Millisecond, "59s"},
		{time.Minute, "1m"},
		{4*time.Minute + 12*time.Second, "4m 12s"},
		{time.Hour + 3*time.Minute, "1h 3m"},
		{time.Hour + 3*time.Minute + 59*time.Second, "1h 3m"},
		{2 * time.Hour, "2h"},
		{26*time.Hour + 10*time.Minute, "1d 2h"},
		{72 * time.Hour, "3d"},
		{-5 * time.Second, "0s"},
	}
	for _, tt := range tests {
		if got := Elapsed(tt.d); got != tt.want {
			t.Errorf("Elapsed(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now, "just now"},
		{now.Add(-9 * time.Second), "just now"},
		{now.Add(time.Minute), "just now"}, // clock skew: a time after now
		{now.Add(-45 * time.Second), "45s ago"},
		{now.Add(-3*time.Minute - 10*time.Second), "3m ago"},
		{now.Add(-59 * time.Minute), "59m ago"},
		{now.Add(-2*time.Hour - 59*time.Minute), "2h ago"},
		{now.Add(-50 * time.Hour), "2d ago"},
	}
	for _, tt := range tests {
		if got := Ago(tt.t, now); got != tt.want {
			t.Errorf("Ago(now%+v) = %q, want %q", tt.t.Sub(now), got, tt.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.9.6", "1.10.0", -1},
		{"1.30.4", "1.30.10", -1},
		{"1.30", "1.30.0", -1},
		{"1.29.7", "1.29.7", 0},
		{"1.31.1", "1.30.9", 1},
		{"1.30.x", "1.30.1", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestEscapeNeutralisesSlackControlSequences(t *testing.T) {
	got := escape("<!channel> & <@U1> > x")
	want := "&lt;!channel&gt; &amp; &lt;@U1&gt; &gt; x"
	if got != want {
		t.Errorf("escape = %q, want %q", got, want)
	}
	if s := "plain text"; escape(s) != s {
		t.Errorf("escape changed %q", s)
	}
}

func TestCutKeepsRunesWhole(t *testing.T) {
	s := strings.Repeat("é", 100) // 2 bytes each
	got := cut(s, 51)
	if len(got) > 51 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("cut = %q (%d bytes), want a valid string of at most 51 bytes ending in …", got, len(got))
	}
	if got := cut("short", 10); got != "short" {
		t.Errorf("cut changed a short string: %q", got)
	}
}

func TestTableAlignsByRunes(t *testing.T) {
	tbl := table{
		header: []string{"A", "B", "C"},
		rows:   [][]string{{"ünï", "x", "last"}, {"a", "longer", "z"}},
	}
	header, rows := tbl.lines()
	want := []string{
		"A    B       C",
		"ünï  x       last",
		"a    longer  z",
	}
	got := append([]string{header}, rows...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTableRenderCutsRowsToBudget(t *testing.T) {
	tbl := table{header: []string{"N"}}
	for i := 0; i < 100; i++ {
		tbl.rows = append(tbl.rows, []string{strings.Repeat("x", 20)})
	}
	out := tbl.render(500, func(n int) string { return "… " + itoa(n) + " more" })
	if len(out) > 500 {
		t.Fatalf("render returned %d bytes, budget 500", len(out))
	}
	shown := strings.Count(out, strings.Repeat("x", 20))
	if !strings.HasSuffix(out, "… "+itoa(100-shown)+" more") {
		t.Errorf("render does not end with the count of %d left-out rows:\n%s", 100-shown, out)
	}
	if shown < 15 {
		t.Errorf("render kept only %d rows in 500 bytes; the budget allows about 20", shown)
	}
}

func TestClipClosesFenceAndStaysUnderLimit(t *testing.T) {
	s := "*title*\n" + fence + "\n" + strings.Repeat("row of a table that goes on\n", 300)
	got := clip(s)
	checkMessage(t, got)
	if !strings.HasSuffix(got, "… (cut to fit in one message)") {
		t.Errorf("clip does not say the text was cut: %q", got[len(got)-60:])
	}
	if short := "fits"; clip(short) != short {
		t.Errorf("clip changed a short text")
	}
}
