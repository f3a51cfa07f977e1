package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/export"
	"github.com/aksbot/aksbot/internal/store"
)

// resumeToken is a job's Azure operation URL in the fixture; exports must not show it.
const resumeToken = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/operations/op-secret-handle"

// seedData writes jobs, events and audit records into a new data file at path through the store,
// and returns every audit record as the store reads them back, oldest first.
func seedData(t *testing.T, path string) []aks.AuditRecord {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open data file: %v", err)
	}
	defer st.Close()
	now := time.Now().UTC()

	// Older than the default 24 hours; appended first, as the engine appends in time order.
	old := aks.AuditRecord{At: now.Add(-72 * time.Hour), Action: aks.AuditRefused, User: aks.User{ID: "U0OLD", Name: "old"},
		Channel: "C0OPS", Op: aks.OpClusterDelete, Target: aks.Target{ResourceGroup: "rg-prod", Cluster: "prod-1"},
		Rule: "prod", Detail: "refused long ago"}
	if err := st.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}

	n := 5
	prod := aks.Job{State: aks.StateAwaitingApproval,
		Op:        aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: "rg-prod", Cluster: "prod-1", Pool: "np1"}, NodeCount: &n},
		Plan:      aks.Plan{Summary: "np1: 3 -> 5 nodes", Subscription: "sub-1", FromNodes: 3, ToNodes: 5, ScaleUp: true},
		Requester: aks.User{ID: "U0PAT", Name: "pat"}, Channel: "C0PRODOPS", Rule: "prod",
		CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour)}
	prod, err = st.CreateJob(ctx, prod, aks.Event{At: prod.CreatedAt, Kind: aks.EventCreated, To: prod.State, Message: "scale requested"})
	if err != nil {
		t.Fatal(err)
	}
	prod.State, prod.ResumeToken, prod.OperationID = aks.StateRunning, resumeToken, "op-1"
	prod, err = st.UpdateJob(ctx, prod, &aks.Event{At: now.Add(-90 * time.Minute), Kind: aks.EventStarted,
		Actor: aks.User{ID: "U0SRE", Name: "sre"}, From: aks.StateAwaitingApproval, To: aks.StateRunning, Message: "started"})
	if err != nil {
		t.Fatal(err)
	}

	dev := aks.Job{State: aks.StateQueued,
		Op:        aks.Operation{Kind: aks.OpClusterStart, Target: aks.Target{ResourceGroup: "rg-dev", Cluster: "dev-1"}},
		Requester: aks.User{ID: "U0DEV", Name: "dana"}, Channel: "C0OPS", Rule: "dev",
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	if _, err := st.CreateJob(ctx, dev, aks.Event{At: dev.CreatedAt, Kind: aks.EventCreated, To: dev.State, Message: "start requested"}); err != nil {
		t.Fatal(err)
	}

	// Cells a CSV writer must quote: commas, quotes, a line break, a leading "=".
	odd := aks.AuditRecord{At: now.Add(-30 * time.Minute), Action: aks.AuditDecisionRefused, User: aks.User{ID: "U0EVE", Name: `Eve "the, approver"`},
		Channel: "C0PRODOPS", JobID: prod.ID, Op: aks.OpPoolScale, Target: prod.Op.Target, Rule: "prod",
		Detail: "=cannot approve\nyour own request, \"twice\""}
	if err := st.AppendAudit(ctx, odd); err != nil {
		t.Fatal(err)
	}

	recs, err := st.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("fixture has %d audit records, want 5", len(recs))
	}
	return recs
}

// dataEnv is the environment of a command on the data file path.
func dataEnv(path string) map[string]string { return map[string]string{"AKSBOT_DB": path} }

// newDataFile makes a seeded data file in a fresh directory.
func newDataFile(t *testing.T) (string, []aks.AuditRecord) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aksbot.db")
	return path, seedData(t, path)
}

// utc puts record times in UTC, as the CSV export writes them.
func utc(recs []aks.AuditRecord) []aks.AuditRecord {
	out := make([]aks.AuditRecord, len(recs))
	for i, r := range recs {
		r.At = r.At.UTC()
		out[i] = r
	}
	return out
}

func exportOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, env, args...)
	if code != exitOK || errOut != "" {
		t.Fatalf("%s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func readAudit(t *testing.T, format, out string) []aks.AuditRecord {
	t.Helper()
	var recs []aks.AuditRecord
	var err error
	if format == formatCSV {
		recs, err = export.ReadAuditCSV(strings.NewReader(out))
	} else {
		recs, err = export.ReadAuditJSONL(strings.NewReader(out))
	}
	if err != nil {
		t.Fatalf("read %s export: %v\n%s", format, err, out)
	}
	return recs
}

func TestAuditExportRoundTrips(t *testing.T) {
	path, all := newDataFile(t)
	env := dataEnv(path)
	recent := all[1:] // the first record is 72 hours old
	var prod []aks.AuditRecord
	for _, r := range all {
		if r.Target.Cluster == "prod-1" {
			prod = append(prod, r)
		}
	}
	for _, format := range []string{formatJSONL, formatCSV} {
		t.Run(format, func(t *testing.T) {
			tests := []struct {
				args []string
				want []aks.AuditRecord
			}{
				{nil, recent}, // --since 24h by default
				{[]string{"--since", "7d"}, all},
				{[]string{"--since", "all"}, all},
				{[]string{"--since", "45m"}, all[4:]},
				{[]string{"--since", all[2].At.Format(time.RFC3339Nano)}, all[2:]},
				{[]string{"--since", "all", "--cluster", "RG-PROD/Prod-1"}, prod}, // names are case-insensitive
				{[]string{"--cluster", "rg-none/none"}, nil},
			}
			for _, tt := range tests {
				args := append([]string{"audit", "export", "--format", format}, tt.args...)
				got := readAudit(t, format, exportOK(t, env, args...))
				if !reflect.DeepEqual(utc(got), utc(tt.want)) {
					t.Errorf("%s:\ngot  %+v\nwant %+v", strings.Join(args, " "), got, tt.want)
				}
			}
		})
	}
	// JSON lines keep the store's JSON form exactly, time zones and all.
	got := readAudit(t, formatJSONL, exportOK(t, env, "audit", "export", "--since", "all"))
	if !reflect.DeepEqual(got, all) {
		t.Errorf("JSON lines export differs from the store:\ngot  %+v\nwant %+v", got, all)
	}
}

func TestJobsExport(t *testing.T) {
	path, _ := newDataFile(t)
	out := exportOK(t, dataEnv(path), "jobs", "export")
	if strings.Contains(out, "op-secret-handle") {
		t.Errorf("the jobs export shows the resume token:\n%s", out)
	}
	var recs []export.JobRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r export.JobRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d jobs, want 2:\n%s", len(recs), out)
	}
	p, d := recs[0], recs[1]
	if p.Job.ID != "1" || p.Job.Op.Target.Cluster != "prod-1" || p.Job.State != aks.StateRunning || p.Job.ResumeToken != "present" {
		t.Errorf("first job = %+v", p.Job)
	}
	if len(p.Events) != 2 || p.Events[0].Kind != aks.EventCreated || p.Events[1].Kind != aks.EventStarted || p.Events[1].Actor.ID != "U0SRE" {
		t.Errorf("first job's events = %+v", p.Events)
	}
	if d.Job.ID != "2" || d.Job.Op.Kind != aks.OpClusterStart || len(d.Events) != 1 || d.Events[0].Message != "start requested" {
		t.Errorf("second job = %+v", d)
	}
}

func TestExportWithoutDataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothing.db")
	for _, args := range [][]string{{"audit", "export"}, {"jobs", "export"}} {
		out, errOut, code := runCLI(t, dataEnv(path), args...)
		if code != exitFailure || out != "" || !strings.Contains(errOut, "no data file at "+path+": set AKSBOT_DB") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the export created the data file (stat: %v)", err)
	}
}

func TestExportUsageMistakes(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"audit", "export", "--since", "yesterday"}, `--since "yesterday": use a duration like 24h`},
		{[]string{"audit", "export", "--since", "-3h"}, "must be above 0"},
		{[]string{"audit", "export", "--format", "xml"}, `--format "xml": use jsonl or csv`},
		{[]string{"audit", "export", "--cluster", "prod-1"}, `--cluster "prod-1": write it as RESOURCE_GROUP/CLUSTER`},
		{[]string{"audit", "export", "now"}, `unexpected argument "now"`},
		{[]string{"jobs", "export", "--all"}, "flag provided but not defined: -all"},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, dataEnv(filepath.Join(t.TempDir(), "x.db")), tt.args...)
		usage := "Usage: aksbot " + strings.Join(tt.args[:2], " ")
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, usage) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, code, out, errOut)
		}
	}
}

// The same exports, byte for byte, while a running bot holds the data file and answers on its
// admin socket.
func TestExportThroughAdminSocketWhileBotRuns(t *testing.T) {
	t.Parallel() // each export of a held file waits a second for the lock
	path, _ := newDataFile(t)
	env := dataEnv(path)
	commands := [][]string{
		{"audit", "export"},
		{"audit", "export", "--since", "all", "--format", "csv"},
		{"audit", "export", "--since", "7d", "--cluster", "rg-prod/prod-1"},
		{"jobs", "export"},
	}
	direct := make([]string, len(commands))
	for i, args := range commands {
		direct[i] = exportOK(t, env, args...)
	}

	sock := runningBot(t, path)
	for i, args := range commands {
		got := exportOK(t, env, args...)
		if got != direct[i] || got == "" {
			t.Errorf("%v through the admin socket:\n%s\nwant (direct):\n%s", args, got, direct[i])
		}
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestExportWhenTheBotDoesNotAnswer(t *testing.T) {
	t.Parallel() // each export of a held file waits a second for the lock
	path, _ := newDataFile(t)
	holder, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	out, errOut, code := runCLI(t, dataEnv(path), "jobs", "export")
	want := "the data file is in use and the bot's admin socket " + path + ".sock does not answer: "
	if code != exitFailure || out != "" || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// The export asks the bot when store.Open says the file is in use, which it tells by ErrInUse.
func TestOpenOfHeldFileIsErrInUse(t *testing.T) {
	t.Parallel() // each export of a held file waits a second for the lock
	path := filepath.Join(t.TempDir(), "aksbot.db")
	holder, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	_, err = store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "another aksbot is using "+path) {
		t.Fatalf("second open: %v; want store.ErrInUse", err)
	}
}

// An EKS cluster is named as eks/REGION/NAME: it selects that cluster's records, not an AKS
// cluster of the same name, nor the same name in another region.
func TestAuditExportOfAnEKSCluster(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aksbot.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	webProd := aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Account: "111122223333", Cluster: "web-prod", Pool: "ng-web"}
	var want []aks.AuditRecord
	for i, target := range []aks.Target{
		webProd,
		{Provider: aks.ProviderEKS, Region: "us-east-1", Account: "111122223333", Cluster: "web-prod", Pool: "ng-web"},
		{ResourceGroup: "eu-west-1", Cluster: "web-prod", Pool: "np1"},
	} {
		rec := aks.AuditRecord{At: now.Add(time.Duration(i) * time.Second), Action: aks.AuditRefused, User: aks.User{ID: "U0ALICE"},
			Channel: "C0OPS", Op: aks.OpNodegroupScale, Target: target, Detail: "over the guardrail"}
		if err := st.AppendAudit(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if target == webProd {
			rec.Seq = uint64(i + 1) // the store numbers records from 1
			want = append(want, rec)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{formatJSONL, formatCSV} {
		got := readAudit(t, format, exportOK(t, dataEnv(path), "audit", "export", "--format", format, "--cluster", "eks/eu-west-1/web-prod"))
		if !reflect.DeepEqual(utc(got), utc(want)) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", format, got, want)
		}
	}
	if _, errOut, code := runCLI(t, dataEnv(path), "audit", "export", "--cluster", "eks//web-prod"); code == exitOK || !strings.Contains(errOut, "eks/REGION/CLUSTER") {
		t.Errorf("eks//web-prod: exit %d, %q", code, errOut)
	}
}
