package slack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// The deny form: a modal with an optional reason, opened by the Deny button. Its
// private_metadata is the job ID; who denies comes from the submission's user.
const (
	denyCallbackID = "aksbot_deny_form"
	reasonBlockID  = "aksbot_deny_reason"
	reasonActionID = "reason"
	// maxReason bounds a reason so that the thread message quoting it stays readable.
	maxReason = 1000
	// maxJobID bounds what a form's metadata may name; job IDs are short.
	maxJobID = 64
	// formTTL is how long the bot remembers where a form was opened; Slack closes a modal
	// left open much longer than that anyway.
	formTTL = 12 * time.Hour
)

// openDenyForm opens the deny form for jobID with the click's trigger ID and remembers the
// channel and thread the click came from, for the answer to its submission.
func (b *Bot) openDenyForm(ctx context.Context, triggerID, jobID, channel, thread string) error {
	if triggerID == "" {
		return fmt.Errorf("open deny form for job %s: the click carries no trigger ID", jobID)
	}
	resp, err := b.api.OpenViewContext(ctx, triggerID, denyForm(jobID))
	b.metrics.SlackCall("views.open", callResult(err))
	if err != nil {
		return fmt.Errorf("open deny form for job %s: %w", jobID, err)
	}
	if resp != nil && resp.ID != "" {
		b.forms.put(resp.ID, formOrigin{channel: channel, thread: thread}, b.now())
	}
	return nil
}

func denyForm(jobID string) slack.ModalViewRequest {
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	input := slack.NewPlainTextInputBlockElement(plain("Why? For example: wait for the release freeze to end."), reasonActionID)
	input.Multiline = true
	input.MaxLength = maxReason
	reason := slack.NewInputBlock(reasonBlockID, plain("Reason (optional)"), plain("The requester sees it in the job's thread."), input).
		WithOptional(true)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      denyCallbackID,
		PrivateMetadata: jobID,
		Title:           plain("Deny job"),
		Submit:          plain("Deny"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(plain("Deny job "+truncate(jobID, maxJobID)+"?"), nil, nil),
			reason,
		}},
	}
}

// viewSubmission checks a submitted form and returns the payload for its ack (nil closes the
// form; response_action errors keep it open with the problems shown) and the work to do
// after the ack (nil for none). It only reads the callback, so it is quick enough to run
// before the ack.
func (b *Bot) viewSubmission(cb slack.InteractionCallback) (ack any, work func(context.Context)) {
	if cb.View.CallbackID != denyCallbackID {
		return nil, nil
	}
	fail := func(msg string) (any, func(context.Context)) {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{reasonBlockID: msg}), nil
	}
	jobID := cb.View.PrivateMetadata
	if !validJobID(jobID) {
		return fail("This form no longer says which job it denies. Close it and click Deny on the job again.")
	}
	// The denier is who Slack says submitted the form, never what the form carries.
	if cb.User.ID == "" {
		return fail("Slack did not say who sent this form. Close it and click Deny again.")
	}
	reason := strings.TrimSpace(formValue(cb.View.State, reasonBlockID, reasonActionID))
	if !utf8.ValidString(reason) {
		return fail("The reason has characters Slack cannot show. Type it again.")
	}
	if n := utf8.RuneCountInString(reason); n > maxReason {
		return fail(fmt.Sprintf("Keep the reason to %d characters; it has %d.", maxReason, n))
	}
	user := aks.User{ID: cb.User.ID, Name: cb.User.Name}
	viewID := cb.View.ID
	return nil, func(ctx context.Context) { b.submitDeny(ctx, viewID, jobID, user, reason) }
}

func (b *Bot) submitDeny(ctx context.Context, viewID, jobID string, user aks.User, reason string) {
	reply := b.h.Decide(ctx, jobID, user, false, reason)
	b.log.Debug("slack deny form handled", "user", user.ID, "job", jobID, "refused", reply.Error)
	text := reply.Text
	if text == "" && reply.Error {
		text = "Your decision on job " + jobID + " was not recorded."
	}
	if text == "" {
		return
	}
	origin, ok := b.forms.take(viewID, b.now())
	if !ok {
		// The bot restarted while the form was open: answer in the app's messages tab.
		_, _, err := b.api.PostMessageContext(ctx, user.ID, slack.MsgOptionText(truncate(text, maxText), false))
		b.metrics.SlackCall("chat.postMessage", callResult(err))
		if err != nil {
			b.log.Warn("slack deny reply not delivered", "user", user.ID, "job", jobID, "err", err)
		}
		return
	}
	if err := b.ephemeral(ctx, origin.channel, user.ID, origin.thread, text); err != nil {
		b.log.Warn("slack deny reply not delivered", "user", user.ID, "channel", origin.channel, "err", err)
	}
}

// formValue returns the text typed into an input, "" when it was left empty or is missing.
func formValue(state *slack.ViewState, blockID, actionID string) string {
	if state == nil {
		return ""
	}
	return state.Values[blockID][actionID].Value
}

// validJobID reports whether s can be a job ID: short, printable, without spaces.
func validJobID(s string) bool {
	if s == "" || len(s) > maxJobID || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// formOrigin is where a deny form was opened from.
type formOrigin struct{ channel, thread string }

// formStore remembers the origin of open forms by view ID, bounded in size and age.
type formStore struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	forms map[string]storedForm
	order []string // oldest first
}

type storedForm struct {
	origin formOrigin
	at     time.Time
}

func newFormStore(max int, ttl time.Duration) *formStore {
	return &formStore{max: max, ttl: ttl, forms: map[string]storedForm{}}
}

func (s *formStore) put(viewID string, o formOrigin, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if _, ok := s.forms[viewID]; !ok {
		for len(s.order) >= s.max {
			s.dropOldest()
		}
		s.order = append(s.order, viewID)
	}
	s.forms[viewID] = storedForm{origin: o, at: now}
}

// take returns and forgets the origin of viewID.
func (s *formStore) take(viewID string, now time.Time) (formOrigin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	f, ok := s.forms[viewID]
	if !ok {
		return formOrigin{}, false
	}
	delete(s.forms, viewID)
	return f.origin, true
}

// expire drops forms older than the TTL. Call with s.mu held.
func (s *formStore) expire(now time.Time) {
	for len(s.order) > 0 {
		f, ok := s.forms[s.order[0]]
		if ok && now.Sub(f.at) < s.ttl {
			return
		}
		s.dropOldest()
	}
}

// dropOldest forgets the oldest entry (which take may have removed already). Call with s.mu held.
func (s *formStore) dropOldest() {
	delete(s.forms, s.order[0])
	s.order = s.order[1:]
}
