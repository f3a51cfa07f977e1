package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// Reference names stored per job.
const (
	refParent   = "parent"   // ts of the status card in the job's channel
	refApproval = "approval" // ts of the approval message in the card's thread
	refEvent    = "event."   // + event Seq: ts of the thread message posted for that event
	refBusy     = "busy."    // + outbox entry ID: a "cluster busy" note (not stored as an event)
)

// Report shows what happened to a job: a status card in the job's channel, kept up to date,
// and a thread under it with the approval request and the milestones. It works out the
// messages and stores them in the outbox (Config.Outbox); it returns nil once they are
// stored, and the outbox worker (RunOutbox, on whichever replica delivers) delivers them. It
// may be called again for the same event (the engine does after a crash): an event's messages
// are stored once. Progress and busy reports (Seq 0) replace their pending predecessors. Safe
// for concurrent use, on any number of replicas sharing the store.
func (b *Bot) Report(ctx context.Context, job aks.Job, ev aks.Event) error {
	if job.ID == "" || job.Channel == "" {
		return fmt.Errorf("report job %q: job has no ID or channel", job.ID)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("report job %s: %w", job.ID, err)
	}
	if b.out == nil {
		return fmt.Errorf("report job %s: the slack bot has no outbox: set Config.Outbox", job.ID)
	}
	// No lock: the enqueue is one store transaction that reads the job's outbox state, so
	// reports of one job on several replicas at once cannot lose or repeat a message.
	stored, entries, err := b.out.store.OutboxState(ctx, job.ID)
	if err != nil {
		return fmt.Errorf("read slack outbox state of job %s: %w", job.ID, err)
	}
	state, err := decodeState(job.ID, stored)
	if err != nil {
		return fmt.Errorf("report job %s: %w", job.ID, err)
	}
	// Jobs reported before the outbox existed have their refs in the RefStore only.
	var seed map[string]string
	if state == nil {
		if seed, err = b.refs.Refs(ctx, job.ID); err != nil {
			return fmt.Errorf("read slack references of job %s: %w", job.ID, err)
		}
	}
	now := b.now()
	if ev.Kind == aks.EventProgress && state != nil {
		// Progress only refreshes the card: when it would look the same, there is nothing to store.
		if same, err := alreadyShown(state, entries, cardUpdate(job, now)); err == nil && same {
			return nil
		}
	}
	return b.out.enqueue(ctx, job.ID, seed, func(j *jobOutbox) []*outboxEntry {
		return messagesFor(j, job, ev, now)
	})
}

// cardUpdate is the outbox entry that brings a job's status card up to date.
func cardUpdate(job aks.Job, now time.Time) *outboxEntry {
	raw, _ := json.Marshal(card(job, now)) // blocks built here always encode
	return &outboxEntry{JobID: job.ID, Channel: job.Channel, Kind: kindUpdate, Key: refParent,
		Text: cardText(job), Blocks: raw, Created: now}
}

// messagesFor works out what Slack must show for ev and records it in j: the entries to
// deliver, in order.
func messagesFor(j *jobOutbox, job aks.Job, ev aks.Event, now time.Time) []*outboxEntry {
	if ev.Seq > 0 && j.Events[ev.Seq] {
		return nil // reported before
	}
	if ev.Seq > 0 {
		j.Events[ev.Seq] = true
	}
	var out []*outboxEntry
	add := func(kind entryKind, key string, thread bool, text string, blocks []slack.Block) {
		raw, err := json.Marshal(blocks)
		if err != nil {
			// Blocks built by this package always encode; keep the text if not.
			raw = nil
		}
		out = append(out, &outboxEntry{JobID: job.ID, Channel: job.Channel, Kind: kind, Key: key, Thread: thread,
			Text: text, Blocks: raw, Created: now})
	}
	postOnce := func(key, text string, blocks []slack.Block) {
		if key != refBusy {
			if j.Queued[key] {
				return
			}
			j.Queued[key] = true
		}
		add(kindPost, key, key != refParent, text, blocks)
	}
	eventKey := refBusy
	if ev.Seq > 0 {
		eventKey = refEvent + strconv.FormatInt(ev.Seq, 10)
	}

	cardIsNew := !j.Queued[refParent]
	postOnce(refParent, cardText(job), card(job, now))

	switch ev.Kind {
	case aks.EventCreated:
		if job.State == aks.StateAwaitingApproval {
			postOnce(refApproval, approvalText(job, ev), approval(job, ev))
		} else {
			q := queuedText(job, ev)
			postOnce(eventKey, q, []slack.Block{section(":inbox_tray: " + q)})
		}
	case aks.EventApproved, aks.EventDenied, aks.EventCancelled, aks.EventExpired:
		if j.Queued[refApproval] {
			if job.State == aks.StateAwaitingApproval {
				// More approvals are needed: the buttons stay, with who approved so far.
				add(kindUpdate, refApproval, true, approvalText(job, ev), approval(job, ev))
			} else {
				blocks, text := decided(job, ev)
				add(kindUpdate, refApproval, true, text, blocks)
			}
		}
		postOnce(eventKey, threadText(job, ev), milestone(job, ev))
	case aks.EventStarted, aks.EventResumed, aks.EventBusy, aks.EventSucceeded, aks.EventFailed, aks.EventSlow, aks.EventAbort:
		postOnce(eventKey, threadText(job, ev), milestone(job, ev))
	}

	if !cardIsNew {
		out = append(out, cardUpdate(job, now))
	}
	return out
}

func queuedText(job aks.Job, ev aks.Event) string {
	if strings.Contains(strings.ToLower(ev.Message), "queued") {
		return ev.Message
	}
	s := fmt.Sprintf("Job %s is queued: it starts when its cluster is free.", job.ID)
	if ev.Message != "" {
		s = ev.Message + " " + s
	}
	return s
}
