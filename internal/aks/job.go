package aks

import "time"

// JobState is where a job is in its life. Final states never change again.
type JobState string

const (
	StateAwaitingApproval JobState = "awaiting_approval"
	StateQueued           JobState = "queued"  // approved (or needing none), waiting for its cluster
	StateRunning          JobState = "running" // the bot has started (or is about to start) the Azure operation
	StateSucceeded        JobState = "succeeded"
	StateFailed           JobState = "failed"
	StateDenied           JobState = "denied"
	StateCancelled        JobState = "cancelled"
	StateExpired          JobState = "expired"
)

// Final reports whether the state is an end state.
func (s JobState) Final() bool {
	switch s {
	case StateSucceeded, StateFailed, StateDenied, StateCancelled, StateExpired:
		return true
	}
	return false
}

// Known reports whether s is one of the job states above. Stores refuse others, because what
// they index (unfinished jobs) is derived from the state.
func (s JobState) Known() bool {
	switch s {
	case StateAwaitingApproval, StateQueued, StateRunning,
		StateSucceeded, StateFailed, StateDenied, StateCancelled, StateExpired:
		return true
	}
	return false
}

// Words says the state for people: "awaiting approval", "succeeded".
func (s JobState) Words() string {
	switch s {
	case StateAwaitingApproval:
		return "awaiting approval"
	case "":
		return "new"
	}
	return string(s)
}

// User is a chat user: a Slack user ID (or a console user name) and a display name.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Decision is one approver's answer.
type Decision struct {
	By      User      `json:"by"`
	At      time.Time `json:"at"`
	Approve bool      `json:"approve"`
	Reason  string    `json:"reason,omitempty"`
}

// Job is one mutating operation carried out for a chat user. It is stored before anything is
// sent to Azure, and every change to it is a compare-and-swap on Version.
type Job struct {
	ID        string    `json:"id"`      // short decimal sequence: what users type in `/aks job ID`
	Version   int64     `json:"version"` // bumped by the store on every update
	State     JobState  `json:"state"`
	Op        Operation `json:"op"`
	Plan      Plan      `json:"plan"`
	Requester User      `json:"requester"`
	Channel   string    `json:"channel"` // where it was asked for; its messages go there
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	NeedsApproval bool       `json:"needsApproval"`
	Decisions     []Decision `json:"decisions,omitempty"`
	// ApprovalsNeeded is how many distinct people must approve (when NeedsApproval; at least 1).
	ApprovalsNeeded int `json:"approvalsNeeded,omitempty"`
	// Approvers says who may approve, as shown to people ("<@U1>", "<!subteam^S1>"), from the
	// policy when the job was made.
	Approvers []string `json:"approvers,omitempty"`
	// Rule names the policy rule that decided on the job, for messages and the audit log.
	Rule string `json:"rule,omitempty"`
	// ExpiresAt is when a job awaiting approval expires; zero = never.
	ExpiresAt time.Time `json:"expiresAt,omitempty"`

	// Azure side. Sent is set (and stored) just before the Begin call, so that after a crash the
	// engine knows the request may have reached Azure; ResumeToken is stored right after it.
	Sent              bool      `json:"sent,omitempty"`
	ResumeToken       string    `json:"resumeToken,omitempty"`
	ProvisioningState string    `json:"provisioningState,omitempty"` // last seen in Azure
	StartedAt         time.Time `json:"startedAt,omitempty"`
	FinishedAt        time.Time `json:"finishedAt,omitempty"`
	Error             *JobError `json:"error,omitempty"`
	// OperationID is Azure's ID of the long-running operation (from its status URL), for support
	// and the audit log.
	OperationID string `json:"operationId,omitempty"`
	// AbortedBy is set when someone asked Azure to abort the running operation; the job then ends
	// cancelled once Azure confirms.
	AbortedBy *User `json:"abortedBy,omitempty"`
	// SlowReported is set once the thread has been told that the job takes longer than usual.
	SlowReported bool `json:"slowReported,omitempty"`
	// Replica is the replica that runs (or last ran) the job's lane, for /aks job and logs.
	Replica string `json:"replica,omitempty"`

	// FinalReported is set once the reporter has delivered the final state: the end of a job is
	// reported exactly once, also across restarts.
	FinalReported bool `json:"finalReported,omitempty"`

	// ScheduleChange is set on a job that adds or changes a schedule: it sends nothing to
	// Azure; the schedule changes when the job succeeds.
	ScheduleChange *ScheduleChange `json:"scheduleChange,omitempty"`
	// ScheduleRun is set on a job a schedule requested; the schedule's approval covers it.
	ScheduleRun *ScheduleRun `json:"scheduleRun,omitempty"`
}

// JobError is why a job failed: Azure's code and message, and what the user can do next.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// EventKind names what happened to a job.
type EventKind string

const (
	EventCreated   EventKind = "created"  // stored; awaiting approval or queued
	EventApproved  EventKind = "approved" // one approval (the job may still need more)
	EventDenied    EventKind = "denied"
	EventCancelled EventKind = "cancelled"
	EventExpired   EventKind = "expired"
	EventSending   EventKind = "sending"  // queued -> running: the request is about to go to Azure (stored, not reported)
	EventStarted   EventKind = "started"  // the Azure operation was accepted (resume token stored)
	EventProgress  EventKind = "progress" // a status refresh (reported, not stored): provisioning state and elapsed time
	EventBusy      EventKind = "busy"     // Azure refused because another operation runs on the cluster; retrying (reported)
	EventResumed   EventKind = "resumed"  // picked up again after a restart
	EventSucceeded EventKind = "succeeded"
	EventFailed    EventKind = "failed"
	EventSlow      EventKind = "slow"  // still running after the usual time for its kind (stored, once)
	EventAbort     EventKind = "abort" // someone asked Azure to abort the running operation (stored)
)

// Event is one stored change of a job, with who caused it and when. Message is the plain-words
// line the thread shows for it.
type Event struct {
	JobID   string    `json:"jobId"`
	Seq     int64     `json:"seq"` // per job, from 1, assigned by the store
	At      time.Time `json:"at"`
	Kind    EventKind `json:"kind"`
	Actor   User      `json:"actor,omitempty"` // empty for the bot itself
	From    JobState  `json:"from,omitempty"`
	To      JobState  `json:"to,omitempty"`
	Message string    `json:"message"`
	// Replica is the replica that stored the event (the lane owner for the steps of a run).
	Replica string `json:"replica,omitempty"`
}

// Approvals returns the approving decisions, in order.
func (j Job) Approvals() []Decision {
	var out []Decision
	for _, d := range j.Decisions {
		if d.Approve {
			out = append(out, d)
		}
	}
	return out
}
