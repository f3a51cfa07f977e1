package aks

import (
	"cmp"
	"time"
)

// AuditAction names what an audit record is about. Job events are recorded under their
// EventKind ("approved", "started", ...); the actions below have no job event.
type AuditAction string

const (
	// AuditRequested: a job was made (its "created" event); the record names the requester.
	AuditRequested AuditAction = "requested"
	// AuditRefused: a request was refused by policy (who, where, or a guardrail) before any job existed.
	AuditRefused AuditAction = "refused"
	// AuditDecisionRefused: a click or command to approve, deny, cancel or abort was refused.
	AuditDecisionRefused AuditAction = "decision_refused"
)

// AuditRecord is one entry of the append-only audit log: who did what, where, when, to which
// resource, under which rule, and with what outcome. Records are never changed or deleted.
type AuditRecord struct {
	Seq          uint64      `json:"seq"` // assigned by the store, strictly increasing
	At           time.Time   `json:"at"`
	Action       AuditAction `json:"action"`
	User         User        `json:"user"` // who acted; empty for the bot itself
	Channel      string      `json:"channel,omitempty"`
	JobID        string      `json:"jobId,omitempty"`
	Op           OpKind      `json:"op,omitempty"`
	Target       Target      `json:"target"`
	Subscription string      `json:"subscription,omitempty"`
	Plan         string      `json:"plan,omitempty"` // the plan's summary ("np2: 1 -> 3 nodes")
	Rule         string      `json:"rule,omitempty"` // the policy rule that decided
	Detail       string      `json:"detail,omitempty"`
	OperationID  string      `json:"operationId,omitempty"` // Azure's operation ID, once started
	State        JobState    `json:"state,omitempty"`       // the job's state after this record
}

// AuditOfEvent is the audit record of a stored job event; a zero event time becomes fallback.
// Every store backend records it in the same transaction as the event, so that the trail is the
// same whichever keeps it: a "created" event is recorded as AuditRequested by the requester,
// every other event under its own kind.
func AuditOfEvent(job Job, ev Event, fallback time.Time) AuditRecord {
	rec := AuditRecord{
		At:           ev.At,
		Action:       AuditAction(ev.Kind),
		User:         ev.Actor,
		Channel:      job.Channel,
		JobID:        job.ID,
		Op:           job.Op.Kind,
		Target:       job.Op.Target,
		Subscription: cmp.Or(job.Plan.Subscription, job.Op.Target.Subscription),
		Plan:         job.Plan.Summary,
		Rule:         job.Rule,
		Detail:       ev.Message,
		OperationID:  job.OperationID,
		State:        ev.To,
	}
	if ev.Kind == EventCreated {
		rec.Action = AuditRequested
		if rec.User == (User{}) {
			rec.User = job.Requester
		}
	}
	if rec.State == "" {
		rec.State = job.State
	}
	if rec.At.IsZero() {
		rec.At = fallback
	}
	return rec
}
