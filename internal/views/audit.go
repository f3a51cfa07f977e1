package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// AuditTrail renders audit records newest first, one per line, for `/aks audit`:
// "2026-11-27 10:20:00 · approved · <@U2> · job 7 · rg-prod/prod-1/np2 · np2: 3 -> 6 nodes".
// scope says what was asked for ("prod-1, last 24h").
func AuditTrail(recs []aks.AuditRecord, scope string) string {
	title := fmt.Sprintf("*Audit trail* · %s (%d %s, newest first, times in UTC)", plain(scope, maxFieldLen), len(recs), plural(len(recs), "entry", "entries"))
	if len(recs) == 0 {
		return title + "\nNothing recorded in that time. `--since 7d` looks further back."
	}
	lines := make([]string, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		lines = append(lines, "• "+AuditLine(recs[i]))
	}
	footer := "Full export for a SIEM: `aksbot audit export --since 720h --format jsonl`"
	lines = fitLines(lines, Limit-1-len(title)-1-len(footer)-1, func(n int) string {
		return fmt.Sprintf("… and %d older %s", n, plural(n, "entry", "entries"))
	})
	return clip(title + "\n" + strings.Join(lines, "\n") + "\n" + footer)
}

// AuditLine renders one audit record on one line.
func AuditLine(r aks.AuditRecord) string {
	who := "bot"
	if r.User.ID != "" {
		who = mention(r.User)
	}
	parts := []string{timestamp(r.At), plain(string(r.Action), maxFieldLen), who}
	if r.JobID != "" {
		parts = append(parts, "job "+plain(r.JobID, maxFieldLen))
	}
	if r.Target.Cluster != "" {
		parts = append(parts, plain(r.Target.String(), maxFieldLen))
	}
	if r.Plan != "" {
		parts = append(parts, oneLine(r.Plan, maxFieldLen))
	}
	if r.Rule != "" {
		parts = append(parts, "rule "+plain(r.Rule, maxFieldLen))
	}
	if r.OperationID != "" {
		parts = append(parts, r.Target.CloudName()+" operation "+plain(r.OperationID, maxFieldLen))
	}
	if r.Detail != "" && (r.Action == aks.AuditRefused || r.Action == aks.AuditDecisionRefused || r.Action == aks.AuditAction(aks.EventDenied) || r.Action == aks.AuditAction(aks.EventFailed)) {
		parts = append(parts, oneLine(r.Detail, maxFieldLen))
	}
	return strings.Join(parts, " · ")
}

// PendingList renders the jobs waiting for an approval the user could give, oldest first (the
// one closest to expiring on top), for `/aks pending`.
func PendingList(js []aks.Job, now time.Time) string {
	if len(js) == 0 {
		return "Nothing is waiting for your approval."
	}
	title := fmt.Sprintf("*Waiting for your approval* (%d)", len(js))
	lines := make([]string, len(js))
	for i, j := range js {
		line := "• " + JobLine(j, now)
		if j.ApprovalsNeeded > 1 {
			line += fmt.Sprintf(" · %d of %d approvals", len(j.Approvals()), j.ApprovalsNeeded)
		}
		if !j.ExpiresAt.IsZero() {
			line += " · expires in " + Elapsed(j.ExpiresAt.Sub(now))
		}
		lines[i] = line
	}
	footer := "Approve or deny in the job's thread, or with `/aks approve ID` / `/aks deny ID REASON`."
	lines = fitLines(lines, Limit-1-len(title)-1-len(footer)-1, func(n int) string {
		return fmt.Sprintf("… and %d more", n)
	})
	return clip(title + "\n" + strings.Join(lines, "\n") + "\n" + footer)
}
