package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

func denyClick(user, jobID string) slacktest.Click {
	return slacktest.Click{User: user, Channel: "C1", MessageTS: "1700000000.000200", ThreadTS: "1700000000.000100",
		ActionID: ActionDeny, BlockID: approvalBlockID(jobID), Value: jobID}
}

// waitView waits until the fake has n opened views and returns the last.
func waitView(t *testing.T, ctx context.Context, srv *slacktest.Server, n int) slacktest.View {
	t.Helper()
	if err := srv.WaitFor(ctx, func() bool { return len(srv.Views()) >= n }); err != nil {
		t.Fatal(err)
	}
	return srv.Views()[n-1]
}

func TestDenyOpensFormAndSubmissionDecidesWithReason(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{decide: func(_ context.Context, jobID string, _ aks.User, _ bool) chatops.Reply {
		return chatops.Reply{Text: "Job " + jobID + " denied."}
	}}
	x := start(t, h)
	if _, err := x.srv.Click(ctx, denyClick("UBOB", "7")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, x.srv, 1)
	wantMeta := formMeta{Job: "7", Channel: "C1", Thread: "1700000000.000100"}
	if v.User != "UBOB" || v.CallbackID != denyCallbackID || parseFormMeta(v.PrivateMetadata) != wantMeta || v.Title != "Deny job" {
		t.Errorf("view = %+v, want the deny form for job 7 shown to UBOB, from C1's thread", v)
	}
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Optional bool   `json:"optional"`
		Element  struct {
			Type      string `json:"type"`
			ActionID  string `json:"action_id"`
			Multiline bool   `json:"multiline"`
			MaxLength int    `json:"max_length"`
		} `json:"element"`
	}
	if err := json.Unmarshal(v.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	var input bool
	for _, b := range blocks {
		if b.Type == "input" {
			input = b.BlockID == reasonBlockID && b.Optional && b.Element.Type == "plain_text_input" &&
				b.Element.ActionID == reasonActionID && b.Element.Multiline && b.Element.MaxLength == maxReason
		}
	}
	if !input {
		t.Errorf("form blocks %s lack an optional multi-line reason input", v.Blocks)
	}
	if _, ds := h.calls(); len(ds) != 0 {
		t.Fatalf("decided %+v on the click; the decision waits for the form", ds)
	}

	ack, err := x.srv.SubmitView(ctx, slacktest.Submission{ViewID: v.ID,
		Values: map[string]map[string]string{reasonBlockID: {reasonActionID: "  release freeze until Monday\n"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Payload != nil {
		t.Errorf("ack = %s, want an empty ack that closes the form", ack.Payload)
	}
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "UBOB")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if e := x.srv.Ephemerals("C1", "UBOB")[0]; e.Text != "Job 7 denied." || e.ThreadTS != "1700000000.000100" {
		t.Errorf("reply = %+v, want the handler's text in the click's thread", e)
	}
	_, ds := h.calls()
	want := decision{jobID: "7", user: aks.User{ID: "UBOB", Name: "UBOB"}, approve: false, reason: "release freeze until Monday"}
	if len(ds) != 1 || ds[0] != want {
		t.Errorf("decisions = %+v, want %+v", ds, want)
	}
}

func TestDenySubmissionDecidesForSubmitter(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{}
	x := start(t, h)
	if _, err := x.srv.Click(ctx, denyClick("UBOB", "9")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, x.srv, 1)
	// Submitted by someone else than the clicker, with the reason left empty (Slack sends null).
	if _, err := x.srv.SubmitView(ctx, slacktest.Submission{ViewID: v.ID, User: "UEVE"}); err != nil {
		t.Fatal(err)
	}
	x.stop()
	_, ds := h.calls()
	want := decision{jobID: "9", user: aks.User{ID: "UEVE", Name: "UEVE"}, approve: false}
	if len(ds) != 1 || ds[0] != want {
		t.Errorf("decisions = %+v, want %+v (the submitting user, no reason)", ds, want)
	}
}

func TestDenySubmissionValidation(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{}
	x := start(t, h)
	if _, err := x.srv.Click(ctx, denyClick("UBOB", "3")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, x.srv, 1)
	long := strings.Repeat("é", maxReason+1)
	ack, err := x.srv.SubmitView(ctx, slacktest.Submission{ViewID: v.ID,
		Values: map[string]map[string]string{reasonBlockID: {reasonActionID: long}}})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(ack.Payload, &resp); err != nil {
		t.Fatalf("ack payload %s: %v", ack.Payload, err)
	}
	if resp.ResponseAction != "errors" || !strings.Contains(resp.Errors[reasonBlockID], "1000 characters; it has 1001") {
		t.Errorf("ack = %s, want response_action errors on the reason input", ack.Payload)
	}
	x.stop()
	if _, ds := h.calls(); len(ds) != 0 {
		t.Errorf("an invalid form decided %+v", ds)
	}
}

func TestDenyWithoutFormWhenItCannotOpen(t *testing.T) {
	cases := map[string]struct {
		reply chatops.Reply
		want  string
	}{
		"accepted": {chatops.Reply{}, "The form for a reason could not open, so job 5 was denied without one. To give a reason, type `/aks deny 5 REASON`."},
		"accepted with text": {chatops.Reply{Text: "Job 5 denied."},
			"Job 5 denied.\nThe form for a reason could not open, so job 5 was denied without one. To give a reason, type `/aks deny 5 REASON`."},
		"refused": {chatops.Reply{Text: "Only @bob can deny job 5.", Error: true}, "Only @bob can deny job 5."},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			h := &handler{decide: func(context.Context, string, aks.User, bool) chatops.Reply { return tc.reply }}
			x := start(t, h)
			x.srv.FailViewsOpen("expired_trigger_id")
			if _, err := x.srv.Click(ctx, denyClick("UBOB", "5")); err != nil {
				t.Fatal(err)
			}
			if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "UBOB")) == 1 }); err != nil {
				t.Fatal(err)
			}
			if e := x.srv.Ephemerals("C1", "UBOB")[0]; e.Text != tc.want || e.ThreadTS != "1700000000.000100" {
				t.Errorf("reply = %+v, want %q in the thread", e, tc.want)
			}
			_, ds := h.calls()
			want := decision{jobID: "5", user: aks.User{ID: "UBOB", Name: "UBOB"}, approve: false}
			if len(ds) != 1 || ds[0] != want {
				t.Errorf("decisions = %+v, want %+v", ds, want)
			}
			if n := x.srv.Calls("views.open"); n != 1 {
				t.Errorf("views.open calls = %d, want 1", n)
			}
		})
	}
}

// A form opened by an older aksbot carries the bare job ID: the answer goes to the app's
// messages tab with the user.
func TestDenyReplyForFormOfOlderBot(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{decide: func(context.Context, string, aks.User, bool) chatops.Reply {
		return chatops.Reply{Text: "Job 4 is not waiting for approval any more.", Error: true}
	}}
	x := start(t, h)
	ack, work := x.bot.viewSubmission(slack.InteractionCallback{
		Type: slack.InteractionTypeViewSubmission,
		User: slack.User{ID: "UBOB"},
		View: slack.View{ID: "V1", CallbackID: denyCallbackID, PrivateMetadata: "4"},
	})
	if ack != nil || work == nil {
		t.Fatalf("submission of an old form refused: ack %v", ack)
	}
	work(ctx)
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Messages("UBOB")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if m := x.srv.Messages("UBOB")[0]; m.Text != "Job 4 is not waiting for approval any more." {
		t.Errorf("message = %+v", m)
	}
	if _, ds := h.calls(); len(ds) != 1 || ds[0].jobID != "4" {
		t.Errorf("decisions = %+v, want one on job 4", ds)
	}
}

// The form carries where it was opened, so that any replica can take its submission: here one
// Bot opens it and stops, and another one, on the same Slack app, answers it.
func TestDenyFormOpenedByOneReplicaSubmittedToAnother(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	ha := &handler{}
	a := startOn(t, srv.APIURL(), srv, ha, nil)
	if _, err := srv.Click(ctx, denyClick("UBOB", "7")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, srv, 1)
	a.stop()
	if err := srv.WaitFor(ctx, func() bool { return srv.OpenConnections() == 0 }); err != nil {
		t.Fatal(err)
	}

	hb := &handler{decide: func(_ context.Context, jobID string, _ aks.User, _ bool) chatops.Reply {
		return chatops.Reply{Text: "Job " + jobID + " denied."}
	}}
	startOn(t, srv.APIURL(), srv, hb, nil)
	if _, err := srv.SubmitView(ctx, slacktest.Submission{ViewID: v.ID,
		Values: map[string]map[string]string{reasonBlockID: {reasonActionID: "freeze"}}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func() bool { return len(srv.Ephemerals("C1", "UBOB")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if e := srv.Ephemerals("C1", "UBOB")[0]; e.Text != "Job 7 denied." || e.ThreadTS != "1700000000.000100" {
		t.Errorf("reply = %+v, want the answer in the thread the form was opened from", e)
	}
	want := decision{jobID: "7", user: aks.User{ID: "UBOB", Name: "UBOB"}, approve: false, reason: "freeze"}
	if _, ds := hb.calls(); len(ds) != 1 || ds[0] != want {
		t.Errorf("decisions on the second replica = %+v, want %+v", ds, want)
	}
	if _, ds := ha.calls(); len(ds) != 0 {
		t.Errorf("the first replica decided %+v after it stopped", ds)
	}
}

func TestFormMeta(t *testing.T) {
	m := formMeta{Job: "12", Channel: "C1", Thread: "1700000000.000100"}
	if got := parseFormMeta(m.encode()); got != m {
		t.Errorf("round trip = %+v, want %+v", got, m)
	}
	for in, want := range map[string]formMeta{
		"12":                           {Job: "12"},
		`{"job":"12","channel":"C 1"}`: {Job: "12"},
		`{"job":"12","channel":"C1","thread":"a\nb"}`: {Job: "12"},
		`{"job":"12"`: {},
	} {
		if got := parseFormMeta(in); got != want {
			t.Errorf("parseFormMeta(%s) = %+v, want %+v", in, got, want)
		}
	}
	if n := len(denyForm(formMeta{Job: strings.Repeat("9", maxJobID), Channel: strings.Repeat("C", maxJobID), Thread: strings.Repeat("1", maxJobID)}).PrivateMetadata); n > 3000 {
		t.Errorf("private_metadata of %d characters; Slack takes 3000", n)
	}
}

// Someone who may not decide is told so on the click; no form opens for a reason that would be
// refused anyway.
func TestDenyClickByNonApproverOpensNoForm(t *testing.T) {
	ctx := testCtx(t)
	h := &handler{mayDecide: func(_ context.Context, jobID string, user aks.User) chatops.Reply {
		if user.ID == "UEVE" {
			return chatops.Reply{Error: true, Text: ":warning: Only <@UBOB> can approve this request."}
		}
		return chatops.Reply{}
	}}
	x := start(t, h)
	if _, err := x.srv.Click(ctx, denyClick("UEVE", "7")); err != nil {
		t.Fatal(err)
	}
	if err := x.srv.WaitFor(ctx, func() bool { return len(x.srv.Ephemerals("C1", "UEVE")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if e := x.srv.Ephemerals("C1", "UEVE")[0]; !strings.Contains(e.Text, "Only <@UBOB>") {
		t.Errorf("reply %q", e.Text)
	}
	if n := len(x.srv.Views()); n != 0 {
		t.Errorf("%d forms opened for someone who may not decide", n)
	}
	if _, ds := h.calls(); len(ds) != 0 {
		t.Errorf("decisions %+v recorded", ds)
	}
	// An approver still gets the form.
	if _, err := x.srv.Click(ctx, denyClick("UBOB", "7")); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, x.srv, 1)
}
