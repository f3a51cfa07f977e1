package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// The deny form: a modal with an optional reason, opened by the Deny button. Its
// private_metadata says which job it denies and where the click came from (formMeta), so that
// whichever replica receives the submission can act on it and answer in the right thread; who
// denies comes from the submission's user, never from the metadata.
const (
	denyCallbackID = "aksbot_deny_form"
	reasonBlockID  = "aksbot_deny_reason"
	reasonActionID = "reason"
	// maxReason bounds a reason so that the thread message quoting it stays readable.
	maxReason = 1000
	// maxJobID bounds what a form's metadata may name; job IDs are short. Channel IDs and
	// message timestamps are shorter still.
	maxJobID = 64
)

// formMeta is a deny form's private_metadata: the job and where the click came from. Forms
// opened before it existed carry the bare job ID.
type formMeta struct {
	Job     string `json:"job"`
	Channel string `json:"channel,omitempty"`
	Thread  string `json:"thread,omitempty"`
}

func (m formMeta) encode() string {
	data, _ := json.Marshal(m) // three strings always encode
	return string(data)
}

// parseFormMeta reads a form's private_metadata. The channel and thread are dropped when they
// do not look like Slack IDs: the answer then goes to the denier's messages.
func parseFormMeta(s string) formMeta {
	if !strings.HasPrefix(s, "{") {
		return formMeta{Job: s}
	}
	var m formMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return formMeta{}
	}
	if !validJobID(m.Channel) || (m.Thread != "" && !validJobID(m.Thread)) {
		m.Channel, m.Thread = "", ""
	}
	return m
}

// openDenyForm opens the deny form for jobID with the click's trigger ID; the form carries the
// channel and thread the click came from, for the answer to its submission.
func (b *Bot) openDenyForm(ctx context.Context, triggerID, jobID, channel, thread string) error {
	if triggerID == "" {
		return fmt.Errorf("open deny form for job %s: the click carries no trigger ID", jobID)
	}
	_, err := b.api.OpenViewContext(ctx, triggerID, denyForm(formMeta{Job: jobID, Channel: channel, Thread: thread}))
	b.metrics.SlackCall("views.open", callResult(err))
	if err != nil {
		return fmt.Errorf("open deny form for job %s: %w", jobID, err)
	}
	return nil
}

func denyForm(meta formMeta) slack.ModalViewRequest {
	jobID := meta.Job
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
		PrivateMetadata: meta.encode(),
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
	meta := parseFormMeta(cb.View.PrivateMetadata)
	jobID := meta.Job
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
	return nil, func(ctx context.Context) { b.submitDeny(ctx, meta, user, reason) }
}

func (b *Bot) submitDeny(ctx context.Context, meta formMeta, user aks.User, reason string) {
	jobID := meta.Job
	reply := b.h.Decide(ctx, jobID, user, false, reason)
	b.log.Debug("slack deny form handled", "user", user.ID, "job", jobID, "refused", reply.Error)
	text := reply.Text
	if text == "" && reply.Error {
		text = "Your decision on job " + jobID + " was not recorded."
	}
	if text == "" {
		return
	}
	if meta.Channel == "" {
		// A form opened by an older aksbot says nothing of where: answer in the app's messages tab.
		_, _, err := b.api.PostMessageContext(ctx, user.ID, slack.MsgOptionText(truncate(text, maxText), false))
		b.metrics.SlackCall("chat.postMessage", callResult(err))
		if err != nil {
			b.log.Warn("slack deny reply not delivered", "user", user.ID, "job", jobID, "err", err)
		}
		return
	}
	if err := b.ephemeral(ctx, meta.Channel, user.ID, meta.Thread, text); err != nil {
		b.log.Warn("slack deny reply not delivered", "user", user.ID, "channel", meta.Channel, "err", err)
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
