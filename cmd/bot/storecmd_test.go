package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
	"github.com/aksbot/aksbot/internal/store"
)

func TestStoreMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "aksbot.db")
	seedData(t, path) // jobs, events and audit records
	src, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := src.Jobs(ctx, aks.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 2 {
		t.Fatalf("fixture has %d jobs", len(want))
	}
	if err := src.SetRef(ctx, want[0].ID, "parent", "1700000000.0001"); err != nil {
		t.Fatal(err)
	}
	wantEvents := 0
	for _, j := range want {
		evs, err := src.Events(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEvents += len(evs)
	}
	wantAudit, err := src.Audit(ctx, aks.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// One message for Slack not delivered yet: migrate carries it over.
	pending := `{"job":"` + want[0].ID + `","channel":"C1","kind":"post","key":"event.2","text":"queued"}`
	if err := src.UpdateOutbox(ctx, want[0].ID, func(tx aks.OutboxTx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		tx.SetState([]byte(`{"refs":{"parent":"1700000000.0001"}}`))
		tx.Put(aks.OutboxEntry{ID: id, JobID: want[0].ID, Body: []byte(pending)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A schedule, approved: migrate carries it, its approvals and how far it has run.
	evening := aks.Schedule{Name: "evening", Op: aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo"}},
		Cron: "0 19 * * 1-5", TimeZone: "Europe/Amsterdam", Channel: "C1", Requester: aks.User{ID: "U1"},
		Approvals: []aks.Decision{{By: aks.User{ID: "U2"}, Approve: true}}, JobID: want[0].ID,
		Checked: time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)}
	if _, err := src.PutSchedule(ctx, evening); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	etcd := etcdtest.Start(t)
	env := map[string]string{config.EnvEtcdEndpoints: strings.Join(etcd.Endpoints(), ",")}
	out, errOut, code := runCLI(t, env, "store", "migrate", "--from", path)
	wantLine := "copied " + strconv.Itoa(len(want)) + " jobs, " + strconv.Itoa(wantEvents) + " events, 1 refs, " +
		strconv.Itoa(len(wantAudit)) + " audit records, 1 outbox entries, 1 schedules\n"
	if code != exitOK || out != wantLine {
		t.Fatalf("migrate: code %d, stdout %q, stderr %q; want %q", code, out, errOut, wantLine)
	}

	// A second run refuses the non-empty target, and with --force copies nothing twice.
	out, errOut, code = runCLI(t, env, "store", "migrate", "--from", path)
	if code != exitFailure || !strings.Contains(errOut, "not empty") || !strings.Contains(errOut, "--force") {
		t.Fatalf("migrate into a non-empty store: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, env, "store", "migrate", "--from", path, "--force")
	if code != exitOK || !strings.HasPrefix(out, "copied 0 jobs, 0 events, 0 refs, 0 audit records, 0 outbox entries, 0 schedules\n") ||
		!strings.Contains(out, "skipped: "+strconv.Itoa(len(want))+" jobs, "+strconv.Itoa(len(wantAudit))+" audit records, 1 outboxes, 1 schedules") {
		t.Fatalf("migrate --force again: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dst, err := etcdstore.Open(ctx, cli, "/aksbot/", etcdstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, err := dst.Jobs(ctx, aks.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("etcd holds %d jobs, want %d", len(got), len(want))
	}
	gotEvents := 0
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Version != want[i].Version || got[i].State != want[i].State ||
			got[i].ResumeToken != want[i].ResumeToken || got[i].Op.Target != want[i].Op.Target {
			t.Fatalf("job %d copied as %+v, was %+v", i, got[i], want[i])
		}
		evs, err := dst.Events(ctx, got[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		gotEvents += len(evs)
	}
	if gotEvents != wantEvents {
		t.Fatalf("etcd holds %d events, want %d", gotEvents, wantEvents)
	}
	refs, err := dst.Refs(ctx, want[0].ID)
	if err != nil || refs["parent"] != "1700000000.0001" {
		t.Fatalf("refs of job %s: %v, %v", want[0].ID, refs, err)
	}
	recs, err := dst.Audit(ctx, aks.AuditFilter{})
	if err != nil || len(recs) != len(wantAudit) {
		t.Fatalf("etcd holds %d audit records (%v), want %d", len(recs), err, len(wantAudit))
	}
	for i := range recs {
		if recs[i].Action != wantAudit[i].Action || !recs[i].At.Equal(wantAudit[i].At) || recs[i].JobID != wantAudit[i].JobID {
			t.Fatalf("audit record %d copied as %+v, was %+v", i, recs[i], wantAudit[i])
		}
	}

	state, entries, err := dst.OutboxState(ctx, want[0].ID)
	if err != nil || len(entries) != 1 || string(entries[0].Body) != pending || !strings.Contains(string(state), "1700000000.0001") {
		t.Fatalf("outbox of job %s in etcd: state %s, entries %+v, %v; want the undelivered message", want[0].ID, state, entries, err)
	}

	sc, err := dst.Schedule(ctx, "evening")
	if err != nil || sc.Cron != evening.Cron || sc.TimeZone != evening.TimeZone || len(sc.Approvals) != 1 || !sc.Checked.Equal(evening.Checked) || sc.JobID != evening.JobID {
		t.Fatalf("schedule in etcd: %+v, %v; want %+v", sc, err, evening)
	}

	// A copied job can be updated (its version carried over), and new jobs continue the IDs.
	last := got[len(got)-1]
	if !last.State.Final() {
		last.ProvisioningState = "Updating"
		if _, err := dst.UpdateJob(ctx, last, nil); err != nil {
			t.Fatalf("update a copied job: %v", err)
		}
	}
	high, _ := strconv.Atoi(last.ID)
	j, err := dst.CreateJob(ctx, aks.Job{State: aks.StateQueued}, aks.Event{Kind: aks.EventCreated})
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != strconv.Itoa(high+1) {
		t.Fatalf("new job after migration got ID %s, want %d", j.ID, high+1)
	}

	// The exports read etcd directly when it is configured (no file, no admin socket).
	out, errOut, code = runCLI(t, env, "jobs", "export")
	if code != exitOK || strings.Count(out, "\n") != len(want)+1 || !strings.Contains(out, `"id":"`+j.ID+`"`) {
		t.Fatalf("jobs export from etcd: code %d, stderr %q, %d lines; want %d jobs", code, errOut, strings.Count(out, "\n"), len(want)+1)
	}
	out, errOut, code = runCLI(t, env, "audit", "export", "--since", "all")
	if code != exitOK || strings.Count(out, "\n") != len(wantAudit)+1 {
		t.Fatalf("audit export from etcd: code %d, stderr %q, output:\n%s\nwant %d records", code, errOut, out, len(wantAudit)+1)
	}
}

func TestStoreMigrateRefusesMissingFileAndNoEndpoints(t *testing.T) {
	_, errOut, code := runCLI(t, map[string]string{config.EnvEtcdEndpoints: "http://127.0.0.1:1"}, "store", "migrate", "--from", filepath.Join(t.TempDir(), "none.db"))
	if code != exitFailure || !strings.Contains(errOut, "no data file") {
		t.Fatalf("missing file: code %d, stderr %q", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "aksbot.db")
	seedData(t, path)
	_, errOut, code = runCLI(t, map[string]string{}, "store", "migrate", "--from", path)
	if code != exitFailure || !strings.Contains(errOut, config.EnvEtcdEndpoints) {
		t.Fatalf("no endpoints: code %d, stderr %q", code, errOut)
	}
	_, _, code = runCLI(t, map[string]string{}, "store", "migrate")
	if code != exitUsage {
		t.Fatalf("no --from: code %d, want %d", code, exitUsage)
	}
}
