package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// The crash window. A post is marked in flight (stored) before chat.postMessage and carries
// metadata {job_id, key}; its ts is stored with the entry's removal in one transaction. If
// the process dies, or the answer is lost, between Slack accepting the post and that
// transaction, the next attempt first reads the thread (conversations.replies) or the
// channel (conversations.history, newest first, outboxLimits.lookupPages pages of 200) with
// include_all_metadata and adopts the message it finds. A duplicate remains possible only if
// (1) Slack accepted the post but does not show it in history yet when the lookup runs (the
// lookup follows the restart or a backoff of at least minBackoff, so this needs Slack's own
// read-after-write lag to exceed that), (2) more than lookupPages*200 top-level messages were
// posted in the channel in between (a card) or the thread grew past that (a reply), or
// (3) the lookup is refused permanently (no channels:history / groups:history scope), in which
// case the worker logs a warning and posts again rather than lose the message.

// Outcome of a Web API call, for the worker.
type outcome int

const (
	delivered      outcome = iota
	retryNotSent           // Slack answered and did not act (429, ok=false transient): safe to send again
	retryMaybeSent         // no definite answer (network, 5xx, timeout): a post may exist
	permanent              // Slack refused it for good: drop it
)

// classify sorts a Web API error into what the worker does next.
func classify(err error) outcome {
	if err == nil {
		return delivered
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return retryNotSent
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch se.Err {
		case "internal_error", "fatal_error", "request_timeout":
			return retryMaybeSent
		case "ratelimited", "service_unavailable", "team_added_to_org",
			// Token problems block every message; they are fixed by an operator, not by time,
			// but dropping a whole outbox for them would lose everything.
			"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
			return retryNotSent
		}
		return permanent
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok {
		if sc.Code >= 500 || sc.Code == http.StatusRequestTimeout {
			return retryMaybeSent
		}
		return permanent
	}
	return retryMaybeSent // network errors, timeouts, answers that are not JSON
}

func retryAfter(err error) time.Duration {
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return rl.RetryAfter
	}
	return 0
}

// pacer keeps the worker under Slack's rate limits and spaces retries. Only the worker uses it.
type pacer struct {
	l        outboxLimits
	postAt   map[string]time.Time // channel -> earliest next post
	updateAt time.Time            // earliest next chat.update in the workspace
	msgAt    map[string]time.Time // channel/ts -> earliest next update of that message
	jobAt    map[string]time.Time // job -> earliest retry of its first entry
	attempts map[string]int       // job -> failed attempts of its first entry
}

func newPacer(l outboxLimits) *pacer {
	return &pacer{l: l, postAt: map[string]time.Time{}, msgAt: map[string]time.Time{},
		jobAt: map[string]time.Time{}, attempts: map[string]int{}}
}

// readyAt is when e may be sent.
func (p *pacer) readyAt(e *outboxEntry, j *jobOutbox) time.Time {
	t := p.jobAt[e.JobID]
	switch e.Kind {
	case kindPost:
		t = later(t, p.postAt[e.Channel])
	case kindUpdate:
		t = later(t, later(p.updateAt, p.msgAt[e.Channel+"/"+j.Refs[e.Key]]))
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// called records a call to Slack that ended now. Spacing counts from the end of a call, so
// the next one cannot reach Slack within the interval even if this one was slow to arrive.
func (p *pacer) called(e *outboxEntry, ts string, err error, now time.Time) {
	wait := retryAfter(err)
	switch e.Kind {
	case kindPost:
		p.postAt[e.Channel] = now.Add(max(p.l.postInterval, wait))
	case kindUpdate:
		p.updateAt = now.Add(max(p.l.updateInterval, wait))
		p.msgAt[e.Channel+"/"+ts] = now.Add(p.l.messageInterval)
	}
	if len(p.msgAt) > 1000 {
		for k, t := range p.msgAt {
			if t.Before(now) {
				delete(p.msgAt, k)
			}
		}
	}
}

// retry schedules the job's first entry again and returns the wait.
func (p *pacer) retry(jobID string, err error, now time.Time) time.Duration {
	p.attempts[jobID]++
	n := p.attempts[jobID]
	d := p.l.minBackoff << min(n-1, 20)
	if d <= 0 || d > p.l.maxBackoff {
		d = p.l.maxBackoff
	}
	d += time.Duration(rand.Int64N(int64(d)/5 + 1)) // spread retries of many jobs
	d = max(d, retryAfter(err))
	p.jobAt[jobID] = now.Add(d)
	return d
}

func (p *pacer) ok(jobID string) {
	delete(p.attempts, jobID)
	delete(p.jobAt, jobID)
}

// run delivers entries until ctx is done (nil) or a write is fenced (an error matching
// aks.ErrFenced). Only one worker runs at a time in a process; the caller sees to one across
// replicas (RunOutbox).
func (o *outbox) run(ctx context.Context) error {
	select {
	case o.running <- struct{}{}:
	default:
		return errWorkerRunning
	}
	defer func() { <-o.running }()
	p := newPacer(o.limits)
	o.publishDepth(ctx)
	published := time.Now()
	for ctx.Err() == nil {
		heads, states, err := o.pendingHeads(ctx)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("slack outbox unreadable; retrying", "err", err)
				o.sleep(ctx, o.limits.maxBackoff)
			}
			continue
		}
		now := time.Now()
		if now.Sub(published) >= o.limits.rescan {
			// Other replicas' writes move the depth too.
			o.publishDepth(ctx)
			published = now
		}
		var next *outboxEntry
		wait := o.limits.rescan
		for _, e := range heads {
			at := p.readyAt(e, states[e.JobID])
			if !at.After(now) {
				next = e
				break
			}
			wait = min(wait, at.Sub(now))
		}
		if next == nil {
			o.sleep(ctx, wait)
			continue
		}
		if err := o.deliver(ctx, next, states[next.JobID], p); err != nil {
			o.log.Warn("slack outbox worker stopped: another replica delivers now", "err", err)
			return fmt.Errorf("slack outbox worker: %w", err)
		}
	}
	return nil
}

// sleep waits for d, a new entry stored by this replica, or the end of ctx.
func (o *outbox) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-o.wake:
	case <-t.C:
	}
}

// fenced reports whether err means that this worker is no longer the deliverer.
func fenced(err error) bool { return errors.Is(err, aks.ErrFenced) }

// deliver makes one attempt at e. It returns an error only when a write was fenced: the
// worker must stop, and has sent nothing since.
func (o *outbox) deliver(ctx context.Context, e *outboxEntry, j *jobOutbox, p *pacer) error {
	log := o.log.With("job", e.JobID, "key", e.Key, "kind", string(e.Kind), "channel", e.Channel)
	switch e.Kind {
	case kindPost:
		return o.deliverPost(ctx, log, e, j, p)
	case kindUpdate:
		return o.deliverUpdate(ctx, log, e, j, p)
	}
	return o.settle(ctx, log, e, "", nil, p) // an unknown kind: no call to Slack; recorded as done
}

// deliverPost makes one attempt at a post: it looks for a post that may already exist
// (lookForLostPost) if an earlier attempt left e in flight, marks e in flight (markInFlight),
// calls chat.postMessage (postPaced), clears the mark if Slack said it did not post, and acts
// on the answer (settle). A reply whose status card was never posted is dropped.
func (o *outbox) deliverPost(ctx context.Context, log *slog.Logger, e *outboxEntry, j *jobOutbox, p *pacer) error {
	parent := ""
	if e.Thread {
		if parent = j.Refs[refParent]; parent == "" {
			return o.drop(ctx, log, e, errors.New("its status card was never posted"))
		}
	}
	wasInFlight := e.InFlight // markInFlight sets e.InFlight
	if e.InFlight {
		if handled, err := o.lookForLostPost(ctx, log, e, parent, p); handled {
			return err
		}
	}
	if ok, err := o.markInFlight(ctx, log, e, p); !ok {
		return err
	}
	ts, err := o.postPaced(ctx, e, parent, p)
	if classify(err) == retryNotSent && !wasInFlight {
		// Slack did not post it: the next attempt need not look for it.
		if ferr := o.clearInFlight(ctx, log, e); ferr != nil {
			return ferr
		}
	}
	return o.settle(ctx, log, e, ts, err, p)
}

// deliverUpdate makes one attempt at an update: it drops it if the message was never posted,
// records it without a call if Slack shows that content already, and otherwise marks e in
// flight (markInFlight), calls chat.update (updatePaced) and acts on the answer (settle). An
// update of a message someone deleted is recorded as done, and Slack as not showing it.
func (o *outbox) deliverUpdate(ctx context.Context, log *slog.Logger, e *outboxEntry, j *jobOutbox, p *pacer) error {
	ts := j.Refs[e.Key]
	if ts == "" {
		return o.drop(ctx, log, e, errors.New("the message to update was never posted"))
	}
	if j.Shown[e.Key] == contentHash(e) {
		return o.complete(ctx, log, e, "", p) // Slack shows this already: no call
	}
	if ok, err := o.markInFlight(ctx, log, e, p); !ok {
		return err
	}
	err := o.updatePaced(ctx, e, ts, p)
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && (se.Err == "message_not_found" || se.Err == "cant_update_message") {
		// Someone deleted the message: there is nothing left to update.
		log.Warn("slack message to update is gone; update dropped", "ts", ts, "err", err)
		return o.finish(ctx, log, e, "", p, false)
	}
	return o.settle(ctx, log, e, "", err, p)
}

// lookForLostPost looks for a post of e, left in flight by an earlier attempt, that Slack may
// have accepted although its answer was lost, by its metadata (find), before it is posted
// again. It reports whether the attempt ends here, and with what error (fenced only): the post
// was found and is recorded as done, or the lookup failed for now and is retried after a
// backoff. When the lookup is refused for good the post is sent again, and may appear twice.
func (o *outbox) lookForLostPost(ctx context.Context, log *slog.Logger, e *outboxEntry, parent string, p *pacer) (bool, error) {
	found, err := o.find(ctx, e, parent)
	switch {
	case err == nil && found != "":
		log.Info("slack message found that was posted before its answer was lost; not posting it again", "ts", found)
		return true, o.complete(ctx, log, e, found, p)
	case err != nil && classify(err) != permanent:
		d := p.retry(e.JobID, err, time.Now())
		o.logRetry(log, p, e, err, d)
		return true, nil
	case err != nil:
		log.Warn("cannot look for a slack message that may have been posted; posting it again, it may appear twice", "err", err)
	}
	return false, nil
}

// markInFlight is the fenced write that must succeed before each call to Slack: it marks e in
// flight through the store, so that an attempt after a crash or a lost answer looks for the
// post first. The write carries the fence of the leadership lease in ctx (RunOutbox); once
// another replica has taken over delivery, the store refuses it with aks.ErrFenced, and that
// refused mark is what stops a deposed deliverer from posting (or updating): the error is
// returned before the call, and the worker stops.
//
// It reports whether to go on with the call. It returns false and no error if the write failed
// for another reason (e is retried after a backoff) or e is gone (replaced: the next scan
// finds its successor).
func (o *outbox) markInFlight(ctx context.Context, log *slog.Logger, e *outboxEntry, p *pacer) (bool, error) {
	ok, err := o.mark(ctx, e, true)
	if err != nil {
		if fenced(err) {
			return false, err
		}
		log.Error("slack outbox write failed; retrying", "err", err)
		p.retry(e.JobID, err, time.Now())
		return false, nil
	}
	return ok, nil
}

// clearInFlight takes the in-flight mark off a post that Slack answered it did not make, so
// that the next attempt does not look for it. It returns an error only when the write was
// fenced; another failure is logged, and the next attempt looks for the post first.
func (o *outbox) clearInFlight(ctx context.Context, log *slog.Logger, e *outboxEntry) error {
	if _, err := o.mark(ctx, e, false); fenced(err) {
		return err
	} else if err != nil {
		log.Warn("slack outbox write failed", "err", err)
	}
	return nil
}

// postPaced calls chat.postMessage for e (under parent for a reply) and tells the pacer when
// the call ended, to space the channel's next post.
func (o *outbox) postPaced(ctx context.Context, e *outboxEntry, parent string, p *pacer) (string, error) {
	ts, err := o.post(ctx, e, parent)
	p.called(e, ts, err, time.Now())
	return ts, err
}

// updatePaced calls chat.update of the message ts for e and tells the pacer when the call
// ended, to space the workspace's next update and the message's.
func (o *outbox) updatePaced(ctx context.Context, e *outboxEntry, ts string, p *pacer) error {
	err := o.update(ctx, e, ts)
	p.called(e, ts, err, time.Now())
	return err
}

// settle acts on Slack's answer err to the call for e (ts: the post's ts, "" for an update):
// delivered, it records e as done (complete); refused for good, it drops e (drop); otherwise
// it schedules a retry with backoff. A call cut short because ctx ended is left as it is: an
// interrupted post stays in flight and is looked for next time. It returns an error only when
// a write was fenced.
func (o *outbox) settle(ctx context.Context, log *slog.Logger, e *outboxEntry, ts string, err error, p *pacer) error {
	if err != nil && ctx.Err() != nil {
		return nil // stopping
	}
	switch classify(err) {
	case delivered:
		return o.complete(ctx, log, e, ts, p)
	case permanent:
		p.ok(e.JobID)
		return o.drop(ctx, log, e, err)
	default:
		d := p.retry(e.JobID, err, time.Now())
		o.logRetry(log, p, e, err, d)
		return nil
	}
}

func (o *outbox) logRetry(log *slog.Logger, p *pacer, e *outboxEntry, err error, d time.Duration) {
	// An outage fails every attempt: say so at the first and then every tenth, not each time.
	n := p.attempts[e.JobID]
	if n == 1 || n%10 == 0 {
		log.Warn("slack message not delivered yet; retrying", "attempt", n, "retry_in", d.Round(time.Millisecond), "err", err)
		return
	}
	log.Debug("slack message not delivered yet; retrying", "attempt", n, "retry_in", d.Round(time.Millisecond), "err", err)
}

// complete records a delivered entry (ts: the post's ts, "" for an update) and mirrors the
// ts to the RefStore for other readers.
// The copy comes first so that it is there once the outbox looks empty (Flush).
func (o *outbox) complete(ctx context.Context, log *slog.Logger, e *outboxEntry, ts string, p *pacer) error {
	return o.finish(ctx, log, e, ts, p, true)
}

// finish records an entry as done; shown says whether Slack now shows its content. It returns
// an error only when the write was fenced.
func (o *outbox) finish(ctx context.Context, log *slog.Logger, e *outboxEntry, ts string, p *pacer, shown bool) error {
	if ts != "" && o.mirror != nil && !strings.HasPrefix(e.Key, refBusy) {
		if err := o.mirror.SetRef(context.WithoutCancel(ctx), e.JobID, e.Key, ts); err != nil {
			log.Warn("slack message reference not copied to the job store", "err", err)
		}
	}
	if err := o.done(ctx, e, ts, shown); err != nil {
		if fenced(err) {
			return err // the next deliverer finds the post by its metadata
		}
		// The entry stays (in flight, for a post): the next attempt finds the message first.
		log.Warn("slack delivery not recorded; will check and retry", "err", err)
		p.retry(e.JobID, err, time.Now())
		return nil
	}
	p.ok(e.JobID)
	return nil
}

// drop removes an entry Slack refuses for good, so that it does not block the job's queue.
// People do not see that message (or, for a status card, the job's thread) in Slack; the job
// itself is unaffected and `/aks job ID` still shows it. It returns an error only when the
// write was fenced.
func (o *outbox) drop(ctx context.Context, log *slog.Logger, e *outboxEntry, why error) error {
	log.Error("slack message dropped: Slack refused it for good; people will not see it in the channel", "err", why)
	if err := o.done(ctx, e, "", false); err != nil {
		if fenced(err) {
			return err
		}
		log.Error("slack outbox write failed while dropping a message", "err", err)
	}
	return nil
}

func decodeBlocks(raw json.RawMessage) ([]slack.Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var bs slack.Blocks
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, fmt.Errorf("decode stored blocks: %w", err)
	}
	return bs.BlockSet, nil
}

func (o *outbox) content(e *outboxEntry) ([]slack.MsgOption, error) {
	blocks, err := decodeBlocks(e.Blocks)
	if err != nil {
		return nil, slack.SlackErrorResponse{Err: "invalid_blocks", ResponseMetadata: slack.ResponseMetadata{Messages: []string{err.Error()}}}
	}
	return []slack.MsgOption{slack.MsgOptionText(truncate(e.Text, maxText), false), slack.MsgOptionBlocks(blocks...)}, nil
}

func (o *outbox) post(ctx context.Context, e *outboxEntry, parent string) (string, error) {
	opts, err := o.content(e)
	if err != nil {
		return "", err
	}
	opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType:    metadataEventType,
		EventPayload: map[string]any{"job_id": e.JobID, "key": e.Key},
	}))
	if parent != "" {
		opts = append(opts, slack.MsgOptionTS(parent))
	}
	ctx, cancel := context.WithTimeout(ctx, o.limits.callTimeout)
	defer cancel()
	_, ts, err := o.api.PostMessageContext(ctx, e.Channel, opts...)
	o.metrics.SlackCall("chat.postMessage", callResult(err))
	if err != nil {
		return "", fmt.Errorf("chat.postMessage in %s: %w", e.Channel, err)
	}
	return ts, nil
}

func (o *outbox) update(ctx context.Context, e *outboxEntry, ts string) error {
	opts, err := o.content(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.limits.callTimeout)
	defer cancel()
	_, _, _, err = o.api.UpdateMessageContext(ctx, e.Channel, ts, opts...)
	o.metrics.SlackCall("chat.update", callResult(err))
	if err != nil {
		return fmt.Errorf("chat.update of %s in %s: %w", ts, e.Channel, err)
	}
	return nil
}

// find looks for a post of e that Slack accepted although its answer was lost, by its
// metadata: in the thread under parent, or among the channel's latest top-level messages.
// It returns the message's ts, or "" if it is not there.
func (o *outbox) find(ctx context.Context, e *outboxEntry, parent string) (string, error) {
	cursor := ""
	for range max(o.limits.lookupPages, 1) {
		var (
			msgs    []slack.Message
			more    bool
			err     error
			method  string
			callCtx context.Context
		)
		callCtx, cancel := context.WithTimeout(ctx, o.limits.callTimeout)
		if parent != "" {
			method = "conversations.replies"
			msgs, more, cursor, err = o.api.GetConversationRepliesContext(callCtx, &slack.GetConversationRepliesParameters{
				ChannelID: e.Channel, Timestamp: parent, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
		} else {
			method = "conversations.history"
			var resp *slack.GetConversationHistoryResponse
			resp, err = o.api.GetConversationHistoryContext(callCtx, &slack.GetConversationHistoryParameters{
				ChannelID: e.Channel, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
			if resp != nil {
				msgs, more, cursor = resp.Messages, resp.HasMore, resp.ResponseMetaData.NextCursor
			}
		}
		cancel()
		o.metrics.SlackCall(method, callResult(err))
		if err != nil {
			return "", fmt.Errorf("%s in %s: %w", method, e.Channel, err)
		}
		for _, m := range msgs {
			md := m.Metadata
			if md.EventType == metadataEventType && md.EventPayload["job_id"] == e.JobID && md.EventPayload["key"] == e.Key {
				return m.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", nil
}
