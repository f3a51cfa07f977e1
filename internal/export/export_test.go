package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/store"
)

// awkward are details that break naive CSV and JSON writers.
var awkward = []string{
	`plain`,
	`a, b, and c`,
	`she said "no", then "yes"`,
	"line one\nline two\n",
	"tab\there",
	`""`,
	`,`,
	"\"\n,\"",
	"=SUM(A1:A2)",
	"größer → 3 nodes 🚀 日本語 עברית",
	`back\slash <html> & ampersand`,
	" leading and trailing spaces ",
	"",
}

func sampleRecords() []aks.AuditRecord {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC)
	var out []aks.AuditRecord
	for i, d := range awkward {
		out = append(out, aks.AuditRecord{
			Seq:          uint64(i + 1),
			At:           t0.Add(time.Duration(i) * 1234567 * time.Nanosecond),
			Action:       "approved",
			User:         aks.User{ID: "U1", Name: "Zoë, \"the\" approver"},
			Channel:      "C1",
			JobID:        "7",
			Op:           aks.OpPoolScale,
			Target:       aks.Target{ResourceGroup: "rg-prod", Cluster: "demo", Pool: "np1"},
			Subscription: "00000000-0000-0000-0000-000000000001",
			Plan:         "np1: 1 -> 3 nodes",
			Rule:         "prod, two approvers",
			Detail:       d,
			OperationID:  "op-1",
			State:        aks.StateQueued,
		})
	}
	// A record with almost nothing set (a refusal by the bot itself) and a zero time.
	out = append(out, aks.AuditRecord{Seq: uint64(len(out) + 1), Action: aks.AuditRefused})
	return out
}

func TestAuditJSONLRoundTrip(t *testing.T) {
	recs := sampleRecords()
	recs = append(recs, aks.AuditRecord{Seq: 99, Action: "refused", Detail: "crlf\r\nkept, and \u2028 and \x00"})
	var buf bytes.Buffer
	if err := WriteAuditJSONL(&buf, recs); err != nil {
		t.Fatalf("WriteAuditJSONL: %v", err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(recs) {
		t.Fatalf("%d lines for %d records", lines, len(recs))
	}
	got, err := ReadAuditJSONL(&buf)
	if err != nil {
		t.Fatalf("ReadAuditJSONL: %v", err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, recs)
	}
}

func TestAuditCSVRoundTrip(t *testing.T) {
	recs := sampleRecords()
	var buf bytes.Buffer
	if err := WriteAuditCSV(&buf, recs); err != nil {
		t.Fatalf("WriteAuditCSV: %v", err)
	}
	got, err := ReadAuditCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records read back; want %d", len(got), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(got[i], recs[i]) {
			t.Errorf("record %d differs:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
}

// encoding/csv reads a CR LF inside a quoted cell as LF (as the doc of ReadAuditCSV says); a
// lone CR is kept.
func TestAuditCSVLineEndings(t *testing.T) {
	recs := []aks.AuditRecord{{Seq: 1, Action: "refused", Detail: "a\r\nb"}, {Seq: 2, Action: "refused", Detail: "a\rb"}}
	var buf bytes.Buffer
	if err := WriteAuditCSV(&buf, recs); err != nil {
		t.Fatalf("WriteAuditCSV: %v", err)
	}
	got, err := ReadAuditCSV(&buf)
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	if len(got) != 2 || got[0].Detail != "a\nb" || got[1].Detail != "a\rb" {
		t.Fatalf("details read back = %q", []string{got[0].Detail, got[1].Detail})
	}
}

func TestAuditCSVLayout(t *testing.T) {
	at := time.Date(2025, 3, 1, 13, 0, 0, 5, time.FixedZone("CET", 3600))
	rec := aks.AuditRecord{Seq: 42, At: at, Action: aks.AuditRefused, User: aks.User{ID: "U9", Name: "Eve"},
		Target: aks.Target{ResourceGroup: "rg", Cluster: "c", Subscription: "sub-1", SubscriptionName: "prod"}, Subscription: "sub-1", Detail: "x"}
	var buf bytes.Buffer
	if err := WriteAuditCSV(&buf, []aks.AuditRecord{rec}); err != nil {
		t.Fatalf("WriteAuditCSV: %v", err)
	}
	want := "seq,at,action,user_id,user_name,channel,job_id,op,resource_group,cluster,pool,subscription,plan,rule,detail,operation_id,state,target_subscription,subscription_name,provider,region,account\n" +
		"42,2025-03-01T12:00:00.000000005Z,refused,U9,Eve,,,,rg,c,,sub-1,,,x,,,sub-1,prod,,,\n"
	if buf.String() != want {
		t.Fatalf("CSV =\n%s\nwant\n%s", buf.String(), want)
	}
	got, err := ReadAuditCSV(&buf)
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	if len(got) != 1 || !got[0].At.Equal(at) || got[0].At.Location() != time.UTC {
		t.Fatalf("time read back = %v; want %v in UTC", got[0].At, at)
	}
	if got[0].Target != rec.Target {
		t.Fatalf("target read back = %+v; want %+v", got[0].Target, rec.Target)
	}
}

// Columns are found by name, so a file whose columns were moved (by a spreadsheet) reads the same.
func TestReadAuditCSVReorderedColumns(t *testing.T) {
	in := "state,seq,at,action,user_id,user_name,channel,job_id,op,resource_group,cluster,pool,subscription,plan,rule,detail,operation_id\n" +
		"queued,3,2025-03-01T12:00:00Z,approved,U1,Al,C1,7,nodepool.scale,rg,c,np1,sub,plan,rule,\"a,b\",op\n"
	got, err := ReadAuditCSV(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	want := aks.AuditRecord{Seq: 3, At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Action: "approved",
		User: aks.User{ID: "U1", Name: "Al"}, Channel: "C1", JobID: "7", Op: aks.OpPoolScale,
		Target: aks.Target{ResourceGroup: "rg", Cluster: "c", Pool: "np1"}, Subscription: "sub", Plan: "plan",
		Rule: "rule", Detail: "a,b", OperationID: "op", State: aks.StateQueued}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %+v; want %+v", got, want)
	}
}

func TestReadAuditCSVErrors(t *testing.T) {
	header := strings.Join(auditColumns, ",") + "\n"
	row := func(seq, at string) string {
		return seq + "," + at + ",refused" + strings.Repeat(",", len(auditColumns)-3) + "\n"
	}
	cases := map[string]struct{ in, want string }{
		"empty":          {"", "empty file"},
		"missing column": {strings.Replace(header, ",state", "", 1), `no column "state"`},
		"unknown column": {strings.Replace(header, "state", "state,extra", 1), "unknown columns"},
		"twice":          {strings.Replace(header, "state", "seq", 1), `column "seq" twice`},
		"bad seq":        {header + row("1", "2025-03-01T12:00:00Z") + row("x", "2025-03-01T12:00:00Z"), "line 3: seq"},
		"bad time":       {header + row("1", "yesterday"), "line 2: at"},
		"short row":      {header + "1,2025-03-01T12:00:00Z\n", "wrong number of fields"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadAuditCSV(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want one saying %q", err, c.want)
			}
		})
	}
}

func TestReadAuditJSONL(t *testing.T) {
	// Blank lines, a last line without newline and unknown fields are fine.
	in := "{\"seq\":1,\"action\":\"refused\",\"at\":\"2025-03-01T12:00:00Z\",\"target\":{\"resourceGroup\":\"\",\"cluster\":\"\"}}\n\n" +
		`{"seq":2,"action":"refused","at":"2025-03-01T12:00:01Z","target":{"resourceGroup":"","cluster":""},"newField":true}`
	got, err := ReadAuditJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ReadAuditJSONL: %v", err)
	}
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("got %+v", got)
	}
	_, err = ReadAuditJSONL(strings.NewReader(`{"seq":1}` + "\n" + `{"seq":"two"}` + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v; want one naming line 2", err)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "aksbot.db"), store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func storedJob(rg, cluster string, state aks.JobState) aks.Job {
	n := 3
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return aks.Job{
		State:     state,
		Op:        aks.Operation{Kind: aks.OpPoolScale, Target: aks.Target{ResourceGroup: rg, Cluster: cluster, Pool: "np1"}, NodeCount: &n},
		Plan:      aks.Plan{Summary: "np1: 1 -> 3 nodes"},
		Requester: aks.User{ID: "U1", Name: "Al"},
		Channel:   "C1",
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// TestAuditExportOfStore exports a real store's log both ways and reads back what it holds.
func TestAuditExportOfStore(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i, d := range awkward {
		job := storedJob("rg", "demo", aks.StateAwaitingApproval)
		job, err := s.CreateJob(ctx, job, aks.Event{At: job.CreatedAt.Add(time.Duration(i) * time.Second), Kind: aks.EventCreated, To: job.State, Message: d})
		if err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
		job.State = aks.StateDenied
		if _, err := s.UpdateJob(ctx, job, &aks.Event{At: time.Now(), Kind: aks.EventDenied, Actor: aks.User{ID: "U2", Name: "Bö"}, To: job.State, Message: d}); err != nil {
			t.Fatalf("UpdateJob: %v", err)
		}
	}
	if err := s.AppendAudit(ctx, aks.AuditRecord{Action: aks.AuditRefused, Detail: "not here, \"sorry\""}); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	recs, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(recs) != 2*len(awkward)+1 {
		t.Fatalf("%d records in the store", len(recs))
	}
	for name, rt := range map[string]struct {
		write func(*bytes.Buffer, []aks.AuditRecord) error
		read  func(*bytes.Buffer) ([]aks.AuditRecord, error)
	}{
		"jsonl": {func(b *bytes.Buffer, r []aks.AuditRecord) error { return WriteAuditJSONL(b, r) }, func(b *bytes.Buffer) ([]aks.AuditRecord, error) { return ReadAuditJSONL(b) }},
		"csv":   {func(b *bytes.Buffer, r []aks.AuditRecord) error { return WriteAuditCSV(b, r) }, func(b *bytes.Buffer) ([]aks.AuditRecord, error) { return ReadAuditCSV(b) }},
	} {
		var buf bytes.Buffer
		if err := rt.write(&buf, recs); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		got, err := rt.read(&buf)
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Fatalf("%s: read back differs:\n got %+v\nwant %+v", name, got, recs)
		}
	}
}

func TestWriteJobs(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := storedJob("rg", "a", aks.StateQueued)
	a, err := s.CreateJob(ctx, a, aks.Event{Kind: aks.EventCreated, To: a.State, Message: "made"})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	a.State = aks.StateRunning
	a.ResumeToken = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/x/operations/op-1?api-version=2024"
	a.OperationID = "op-1"
	if a, err = s.UpdateJob(ctx, a, &aks.Event{Kind: aks.EventStarted, To: a.State, Message: "started"}); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	b := storedJob("rg", "b", aks.StateAwaitingApproval)
	if b, err = s.CreateJob(ctx, b, aks.Event{Kind: aks.EventCreated, To: b.State, Message: "made, \"b\""}); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}

	var buf bytes.Buffer
	if err := WriteJobs(ctx, s, &buf); err != nil {
		t.Fatalf("WriteJobs: %v", err)
	}
	if strings.Contains(buf.String(), "management.azure.com") {
		t.Fatal("the export holds a resume token")
	}
	var got []JobRecord
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var r JobRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", len(got)+1, err)
		}
		got = append(got, r)
	}
	if len(got) != 2 {
		t.Fatalf("%d lines; want 2", len(got))
	}
	wantA := a
	wantA.ResumeToken = "present"
	if !reflect.DeepEqual(got[0].Job, wantA) || !reflect.DeepEqual(got[1].Job, b) {
		t.Fatalf("jobs:\n got %+v\n     %+v\nwant %+v\n     %+v", got[0].Job, got[1].Job, wantA, b)
	}
	for i, id := range []string{a.ID, b.ID} {
		evs, err := s.Events(ctx, id)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if !reflect.DeepEqual(got[i].Events, evs) {
			t.Fatalf("events of job %s:\n got %+v\nwant %+v", id, got[i].Events, evs)
		}
	}
}

// failingSource lists jobs but cannot read the events of the second.
type failingSource struct{}

func (failingSource) Jobs(context.Context, jobs.Filter) ([]aks.Job, error) {
	return []aks.Job{{ID: "1"}, {ID: "2"}}, nil
}

func (failingSource) Events(_ context.Context, id string) ([]aks.Event, error) {
	if id == "2" {
		return nil, errors.New("disk on fire")
	}
	return nil, nil
}

func TestWriteJobsErrors(t *testing.T) {
	var buf bytes.Buffer
	err := WriteJobs(context.Background(), failingSource{}, &buf)
	if err == nil || !strings.Contains(err.Error(), "events of job 2") || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v; want one naming job 2 and the cause", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteJobs(ctx, failingSource{}, &buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

// eksRecord is an audit record of an EKS node-group job.
func eksRecord() aks.AuditRecord {
	return aks.AuditRecord{
		Seq: 7, At: time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC), Action: "approved",
		User: aks.User{ID: "U0SRE1", Name: "sam"}, Channel: "C0OPS", JobID: "12", Op: aks.OpNodegroupScale,
		Target: aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Account: "012345678901", Cluster: "web-prod", Pool: "ng-web"},
		Plan:   "ng-web: 3 -> 5 nodes, min 1, max 10", Rule: "eks-prod", OperationID: "3f2a-update-id", State: aks.StateQueued,
	}
}

// EKS records keep their cloud, region and account (and node group, in pool) both ways; the
// account's leading zero survives CSV.
func TestAuditEKSRoundTrip(t *testing.T) {
	recs := []aks.AuditRecord{eksRecord(), sampleRecords()[0]}
	var csvBuf, jsonBuf bytes.Buffer
	if err := WriteAuditCSV(&csvBuf, recs); err != nil {
		t.Fatalf("WriteAuditCSV: %v", err)
	}
	wantRow := "7,2025-06-01T09:30:00.000000000Z,approved,U0SRE1,sam,C0OPS,12,eks.nodegroup.scale,,web-prod,ng-web,,\"ng-web: 3 -> 5 nodes, min 1, max 10\",eks-prod,,3f2a-update-id,queued,,,eks,eu-west-1,012345678901\n"
	if lines := strings.SplitAfter(csvBuf.String(), "\n"); len(lines) < 2 || lines[1] != wantRow {
		t.Fatalf("EKS row =\n%s\nwant\n%s", csvBuf.String(), wantRow)
	}
	if err := WriteAuditJSONL(&jsonBuf, recs); err != nil {
		t.Fatalf("WriteAuditJSONL: %v", err)
	}
	if !strings.Contains(jsonBuf.String(), `"target":{"provider":"eks","region":"eu-west-1","account":"012345678901","resourceGroup":"","cluster":"web-prod","pool":"ng-web"}`) {
		t.Errorf("JSON line of the EKS record: %s", jsonBuf.String())
	}
	fromCSV, err := ReadAuditCSV(&csvBuf)
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	fromJSON, err := ReadAuditJSONL(&jsonBuf)
	if err != nil {
		t.Fatalf("ReadAuditJSONL: %v", err)
	}
	for name, got := range map[string][]aks.AuditRecord{"csv": fromCSV, "jsonl": fromJSON} {
		if !reflect.DeepEqual(got, recs) {
			t.Errorf("%s: read back differs:\n got %+v\nwant %+v", name, got, recs)
		}
	}
}

// A CSV written before the cloud columns existed still reads: its records are AKS ones.
func TestReadAuditCSVWithoutCloudColumns(t *testing.T) {
	old := strings.Join(auditColumns[:len(auditColumns)-3], ",") + "\n" +
		"1,2025-03-01T12:00:00Z,approved,U1,Al,C1,7,nodepool.scale,rg,c,np1,sub,plan,rule,,op,queued,sub,prod\n"
	got, err := ReadAuditCSV(strings.NewReader(old))
	if err != nil {
		t.Fatalf("ReadAuditCSV: %v", err)
	}
	want := aks.Target{ResourceGroup: "rg", Cluster: "c", Pool: "np1", Subscription: "sub", SubscriptionName: "prod"}
	if len(got) != 1 || got[0].Target != want || got[0].Target.IsEKS() {
		t.Fatalf("target = %+v; want %+v", got, want)
	}
}

// An EKS job goes through the store and the jobs export with its cloud, region, account and
// node-group request.
func TestWriteJobsEKS(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	job := storedJob("", "web-prod", aks.StateAwaitingApproval)
	job.Op = aks.Operation{Kind: aks.OpNodegroupScale, Target: eksRecord().Target, Nodegroup: &aks.NodegroupSpec{DesiredSize: intp(5)}}
	job.Plan = aks.Plan{Summary: "ng-web: 3 -> 5 nodes", Pool: "ng-web", Location: "eu-west-1", FromNodes: 3, ToNodes: 5, ClusterNodes: 5, ScaleUp: true}
	job, err := s.CreateJob(ctx, job, aks.Event{Kind: aks.EventCreated, To: job.State, Message: "made"})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteJobs(ctx, s, &buf); err != nil {
		t.Fatalf("WriteJobs: %v", err)
	}
	var got JobRecord
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("jobs export: %v", err)
	}
	if !reflect.DeepEqual(got.Job, job) || got.Job.Op.Target.ClusterKey() != "eks/eu-west-1/web-prod" || got.Job.Op.Target.Account != "012345678901" {
		t.Fatalf("job read back = %+v\nwant %+v", got.Job, job)
	}
}

func intp(n int) *int { return &n }
