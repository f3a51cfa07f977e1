// Package export writes aksbot's audit log and jobs to files people and other tools read: the
// audit log as JSON Lines or CSV (and reads both back, for checks and imports), and jobs with
// their events as JSON Lines for support.
package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// csvTime is how CSV cells hold times: RFC 3339 in UTC with all nine digits of the nanoseconds,
// so that cells sort as text and read back to the same instant.
const csvTime = "2006-01-02T15:04:05.000000000Z07:00"

// auditColumns is the CSV header, in its stable order. New columns go at the end. For EKS
// records, provider is "eks", region and account say where the cluster is, and pool holds the
// node group; provider is empty for AKS (records stored before there were two clouds have none).
var auditColumns = []string{
	"seq", "at", "action", "user_id", "user_name", "channel", "job_id", "op",
	"resource_group", "cluster", "pool", "subscription", "plan", "rule", "detail",
	"operation_id", "state", "target_subscription", "subscription_name",
	"provider", "region", "account",
}

// optionalColumns came after the first exports: files without them still read (the target's
// subscription or cloud then stays empty, as in records stored before they were known).
var optionalColumns = map[string]bool{
	"target_subscription": true, "subscription_name": true,
	"provider": true, "region": true, "account": true,
}

// WriteAuditJSONL writes one JSON object per record and line, in the store's JSON form.
func WriteAuditJSONL(w io.Writer, recs []aks.AuditRecord) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw) // Encode ends every value with a newline
	enc.SetEscapeHTML(false)
	for _, rec := range recs {
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("export: write audit record %d: %w", rec.Seq, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: write audit log: %w", err)
	}
	return nil
}

// ReadAuditJSONL reads what WriteAuditJSONL wrote. Blank lines are skipped; fields it does not
// know (from a newer aksbot) are ignored.
func ReadAuditJSONL(r io.Reader) ([]aks.AuditRecord, error) {
	br := bufio.NewReader(r)
	var out []aks.AuditRecord
	for line := 1; ; line++ {
		data, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("export: read audit log line %d: %w", line, err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			var rec aks.AuditRecord
			if uerr := json.Unmarshal(trimmed, &rec); uerr != nil {
				return nil, fmt.Errorf("export: read audit log line %d: %w", line, uerr)
			}
			out = append(out, rec)
		}
		if err != nil { // io.EOF, after the last line
			return out, nil
		}
	}
}

// WriteAuditCSV writes a header row and one row per record, columns in a stable order (see
// auditColumns). Times are RFC 3339 in UTC with nanoseconds. Cells are written as they are: a
// spreadsheet may take a cell starting with "=" for a formula, so open exports as text.
func WriteAuditCSV(w io.Writer, recs []aks.AuditRecord) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(auditColumns); err != nil {
		return fmt.Errorf("export: write audit CSV header: %w", err)
	}
	for _, rec := range recs {
		row := []string{
			strconv.FormatUint(rec.Seq, 10), rec.At.UTC().Format(csvTime), string(rec.Action),
			rec.User.ID, rec.User.Name, rec.Channel, rec.JobID, string(rec.Op),
			rec.Target.ResourceGroup, rec.Target.Cluster, rec.Target.Pool, rec.Subscription,
			rec.Plan, rec.Rule, rec.Detail, rec.OperationID, string(rec.State),
			rec.Target.Subscription, rec.Target.SubscriptionName,
			rec.Target.Provider, rec.Target.Region, rec.Target.Account,
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("export: write audit record %d: %w", rec.Seq, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export: write audit CSV: %w", err)
	}
	return nil
}

// ReadAuditCSV reads what WriteAuditCSV wrote. Columns are found by their header names, so a
// file whose columns were reordered reads the same; a missing or unknown column is an error.
// Times come back in UTC. As with any CSV reader of encoding/csv, a CR LF inside a cell comes
// back as LF; the JSON Lines export keeps it.
func ReadAuditCSV(r io.Reader) ([]aks.AuditRecord, error) {
	cr := csv.NewReader(r) // every row must have as many cells as the header
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("export: read audit CSV: empty file, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("export: read audit CSV header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("export: read audit CSV header: column %q twice", name)
		}
		col[name] = i
	}
	known := 0
	for _, name := range auditColumns {
		if _, ok := col[name]; ok {
			known++
		} else if !optionalColumns[name] {
			return nil, fmt.Errorf("export: read audit CSV header: no column %q", name)
		}
	}
	if len(col) != known {
		return nil, fmt.Errorf("export: read audit CSV header: unknown columns in %q", header)
	}

	var out []aks.AuditRecord
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("export: read audit CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		get := func(name string) string {
			i, ok := col[name]
			if !ok {
				return "" // an optional column the file does not have
			}
			return row[i]
		}
		seq, err := strconv.ParseUint(get("seq"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("export: read audit CSV line %d: seq: %w", line, err)
		}
		at, err := time.Parse(time.RFC3339Nano, get("at"))
		if err != nil {
			return nil, fmt.Errorf("export: read audit CSV line %d: at: %w", line, err)
		}
		out = append(out, aks.AuditRecord{
			Seq:     seq,
			At:      at.UTC(),
			Action:  aks.AuditAction(get("action")),
			User:    aks.User{ID: get("user_id"), Name: get("user_name")},
			Channel: get("channel"),
			JobID:   get("job_id"),
			Op:      aks.OpKind(get("op")),
			Target: aks.Target{ResourceGroup: get("resource_group"), Cluster: get("cluster"), Pool: get("pool"),
				Subscription: get("target_subscription"), SubscriptionName: get("subscription_name"),
				Provider: get("provider"), Region: get("region"), Account: get("account")},
			Subscription: get("subscription"),
			Plan:         get("plan"),
			Rule:         get("rule"),
			Detail:       get("detail"),
			OperationID:  get("operation_id"),
			State:        aks.JobState(get("state")),
		})
	}
}

// JobSource is what WriteJobs reads: the store, or anything with the same two methods.
type JobSource interface {
	Jobs(ctx context.Context, f jobs.Filter) ([]aks.Job, error)
	Events(ctx context.Context, jobID string) ([]aks.Event, error)
}

// JobRecord is one line of the jobs export: a job and its events, in order.
type JobRecord struct {
	Job    aks.Job     `json:"job"`
	Events []aks.Event `json:"events"`
}

// resumeTokenPresent replaces a job's resume token in the jobs export.
const resumeTokenPresent = "present"

// WriteJobs writes every job, oldest first, with its events, one JSON object per line, for
// support. A resume token is Azure's operation URL rather than a credential, but it is a handle
// on a running operation and support does not need it: the export says only that one is
// "present" (the operation ID identifies the operation).
func WriteJobs(ctx context.Context, src JobSource, w io.Writer) error {
	all, err := src.Jobs(ctx, jobs.Filter{})
	if err != nil {
		return fmt.Errorf("export: jobs: %w", err)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, job := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("export: jobs: %w", err)
		}
		evs, err := src.Events(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("export: events of job %s: %w", job.ID, err)
		}
		if evs == nil {
			evs = []aks.Event{}
		}
		if job.ResumeToken != "" {
			job.ResumeToken = resumeTokenPresent
		}
		if err := enc.Encode(JobRecord{Job: job, Events: evs}); err != nil {
			return fmt.Errorf("export: write job %s: %w", job.ID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: write jobs: %w", err)
	}
	return nil
}
