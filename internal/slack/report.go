package slack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// Reference names stored per job.
const (
	refParent   = "parent"   // ts of the status card in the job's channel
	refApproval = "approval" // ts of the approval message in the card's thread
	refEvent    = "event."   // + event Seq: ts of the thread message posted for that event
)

// Report shows what happened to a job: a status card in the job's channel, kept up to date,
// and a thread under it with the approval request and the milestones. It may be called again
// for the same event after a failure: references stored per job keep it from posting twice.
// Reports for one job are serialised so that the thread keeps the events' order.
func (b *Bot) Report(ctx context.Context, job aks.Job, ev aks.Event) error {
	if job.ID == "" || job.Channel == "" {
		return fmt.Errorf("report job %q: job has no ID or channel", job.ID)
	}
	unlock := b.lockJob(job.ID)
	defer unlock()

	refs, err := b.refs.Refs(ctx, job.ID)
	if err != nil {
		return fmt.Errorf("read slack references of job %s: %w", job.ID, err)
	}
	parent := refs[refParent]
	cardIsNew := false
	if parent == "" {
		ts, err := b.post(ctx, job.Channel, "", cardText(job), card(job, b.now()))
		if err != nil {
			return fmt.Errorf("post status card of job %s: %w", job.ID, err)
		}
		if err := b.refs.SetRef(ctx, job.ID, refParent, ts); err != nil {
			return fmt.Errorf("store status card reference of job %s: %w", job.ID, err)
		}
		parent, cardIsNew = ts, true
	}

	switch ev.Kind {
	case aks.EventCreated:
		if job.State == aks.StateAwaitingApproval {
			if err := b.postApproval(ctx, job, ev, parent, refs); err != nil {
				return err
			}
		} else {
			q := queuedText(job, ev)
			if err := b.postOnce(ctx, job, ev, parent, refs, q, []slack.Block{section(":inbox_tray: " + q)}); err != nil {
				return err
			}
		}
	case aks.EventApproved, aks.EventDenied, aks.EventCancelled, aks.EventExpired:
		if err := b.closeApproval(ctx, job, ev, refs); err != nil {
			return err
		}
		if err := b.postOnce(ctx, job, ev, parent, refs, threadText(job, ev), milestone(job, ev)); err != nil {
			return err
		}
	case aks.EventStarted, aks.EventResumed, aks.EventBusy, aks.EventSucceeded, aks.EventFailed:
		if err := b.postOnce(ctx, job, ev, parent, refs, threadText(job, ev), milestone(job, ev)); err != nil {
			return err
		}
	}

	if cardIsNew {
		return nil // just posted from this very job state
	}
	if err := b.update(ctx, job.Channel, parent, cardText(job), card(job, b.now())); err != nil {
		return fmt.Errorf("update status card of job %s: %w", job.ID, err)
	}
	return nil
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

func (b *Bot) postApproval(ctx context.Context, job aks.Job, ev aks.Event, parent string, refs map[string]string) error {
	if refs[refApproval] != "" {
		return nil
	}
	ts, err := b.post(ctx, job.Channel, parent, approvalText(job, ev), approval(job, ev))
	if err != nil {
		return fmt.Errorf("post approval request of job %s: %w", job.ID, err)
	}
	if err := b.refs.SetRef(ctx, job.ID, refApproval, ts); err != nil {
		return fmt.Errorf("store approval reference of job %s: %w", job.ID, err)
	}
	refs[refApproval] = ts
	return nil
}

// closeApproval replaces the approval buttons by the decision once the job no longer waits for
// one. While more approvals are needed the buttons stay; the thread and card show who approved.
func (b *Bot) closeApproval(ctx context.Context, job aks.Job, ev aks.Event, refs map[string]string) error {
	ts := refs[refApproval]
	if ts == "" || job.State == aks.StateAwaitingApproval {
		return nil
	}
	blocks, text := decided(job, ev)
	if err := b.update(ctx, job.Channel, ts, text, blocks); err != nil {
		return fmt.Errorf("close approval request of job %s: %w", job.ID, err)
	}
	return nil
}

// postOnce posts one thread message for ev unless an earlier attempt already did.
func (b *Bot) postOnce(ctx context.Context, job aks.Job, ev aks.Event, parent string, refs map[string]string, text string, blocks []slack.Block) error {
	key := ""
	if ev.Seq > 0 {
		key = refEvent + strconv.FormatInt(ev.Seq, 10)
		if refs[key] != "" {
			return nil
		}
	}
	ts, err := b.post(ctx, job.Channel, parent, text, blocks)
	if err != nil {
		return fmt.Errorf("post %s message of job %s: %w", ev.Kind, job.ID, err)
	}
	if key == "" {
		return nil
	}
	if err := b.refs.SetRef(ctx, job.ID, key, ts); err != nil {
		return fmt.Errorf("store %s message reference of job %s: %w", ev.Kind, job.ID, err)
	}
	refs[key] = ts
	return nil
}

func (b *Bot) post(ctx context.Context, channel, thread, text string, blocks []slack.Block) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(truncate(text, maxText), false), slack.MsgOptionBlocks(blocks...)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := b.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", fmt.Errorf("chat.postMessage in %s: %w", channel, err)
	}
	return ts, nil
}

func (b *Bot) update(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(truncate(text, maxText), false), slack.MsgOptionBlocks(blocks...))
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && (se.Err == "message_not_found" || se.Err == "cant_update_message") {
		// Someone deleted the message: there is nothing left to update, and retrying cannot help.
		b.log.Warn("slack message to update is gone", "channel", channel, "ts", ts, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("chat.update of %s in %s: %w", ts, channel, err)
	}
	return nil
}

// lockJob serialises reports of one job and returns the unlock function.
func (b *Bot) lockJob(id string) func() {
	b.jobsMu.Lock()
	l := b.jobs[id]
	if l == nil {
		l = &jobLock{}
		b.jobs[id] = l
	}
	l.refs++
	b.jobsMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		b.jobsMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(b.jobs, id)
		}
		b.jobsMu.Unlock()
	}
}
