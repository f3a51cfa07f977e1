package aks

import "time"

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
