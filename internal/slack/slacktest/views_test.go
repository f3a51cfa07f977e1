package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// ackingClient runs a real slack-go socket mode client against srv that acks every envelope
// (with the payload ackWith returns) and passes the interactive and slash events on.
func ackingClient(t *testing.T, srv *Server, ackWith func(socketmode.Event) any) <-chan socketmode.Event {
	t.Helper()
	sm, events := client(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan socketmode.Event, 100)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-events:
				if evt.Request == nil || evt.Request.EnvelopeID == "" {
					continue
				}
				_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, ackWith(evt))
				select {
				case out <- evt:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	waitCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Connected(waitCtx); err != nil {
		t.Fatal(err)
	}
	return out
}

func nextEvent(t *testing.T, ctx context.Context, events <-chan socketmode.Event) socketmode.Event {
	t.Helper()
	select {
	case evt := <-events:
		return evt
	case <-ctx.Done():
		t.Fatalf("no event: %v", ctx.Err())
		return socketmode.Event{}
	}
}

func modal(callbackID string) slack.ModalViewRequest {
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	in := slack.NewPlainTextInputBlockElement(nil, "reason")
	in.Multiline = true
	return slack.ModalViewRequest{
		Type: slack.VTModal, Title: plain("Deny job"), Submit: plain("Deny"), CallbackID: callbackID, PrivateMetadata: "42",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(plain("Deny job 42?"), nil, nil),
			slack.NewInputBlock("why", plain("Reason"), nil, in).WithOptional(true),
			slack.NewInputBlock("note", plain("Note"), nil, slack.NewPlainTextInputBlockElement(nil, "text")).WithOptional(true),
		}},
	}
}

func TestViewsOpenAndSubmit(t *testing.T) {
	ctx := viewsCtx(t)
	srv := NewServer()
	defer srv.Close()
	errorsAck := slack.NewErrorsViewSubmissionResponse(map[string]string{"why": "too short"})
	events := ackingClient(t, srv, func(evt socketmode.Event) any {
		if cb, ok := evt.Data.(slack.InteractionCallback); ok && cb.Type == slack.InteractionTypeViewSubmission {
			return errorsAck
		}
		return nil
	})
	api := slack.New("xoxb-views-test", slack.OptionAPIURL(srv.APIURL()))

	if _, err := srv.Click(ctx, Click{User: "UBOB", Channel: "C1", MessageTS: "1.2", ActionID: "deny", Value: "42"}); err != nil {
		t.Fatal(err)
	}
	click := nextEvent(t, ctx, events).Data.(slack.InteractionCallback)

	if _, err := api.OpenViewContext(ctx, "trig-unknown", modal("cb")); err == nil || err.Error() != "invalid_trigger_id" {
		t.Errorf("unknown trigger: %v, want invalid_trigger_id", err)
	}
	bad := modal("cb")
	bad.Title.Text = strings.Repeat("x", 25)
	if _, err := api.OpenViewContext(ctx, click.TriggerID, bad); err == nil || err.Error() != "invalid_arguments" {
		t.Errorf("long title: %v, want invalid_arguments", err)
	}
	noSubmit := modal("cb")
	noSubmit.Submit = nil
	if _, err := api.OpenViewContext(ctx, click.TriggerID, noSubmit); err == nil || err.Error() != "invalid_arguments" {
		t.Errorf("inputs without a submit button: %v, want invalid_arguments", err)
	}
	resp, err := api.OpenViewContext(ctx, click.TriggerID, modal("cb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.OpenViewContext(ctx, click.TriggerID, modal("cb")); err == nil || err.Error() != "exchanged_trigger_id" {
		t.Errorf("trigger used twice: %v, want exchanged_trigger_id", err)
	}
	views := srv.Views()
	if len(views) != 1 {
		t.Fatalf("views = %+v, want 1", views)
	}
	v := views[0]
	if v.ID != resp.ID || v.User != "UBOB" || v.CallbackID != "cb" || v.PrivateMetadata != "42" || v.Title != "Deny job" {
		t.Errorf("view = %+v, answer id %s", v, resp.ID)
	}

	ack, err := srv.SubmitView(ctx, Submission{ViewID: v.ID, User: "UEVE", Values: map[string]map[string]string{"why": {"reason": "not now"}}})
	if err != nil {
		t.Fatal(err)
	}
	var gotAck slack.ViewSubmissionResponse
	if err := json.Unmarshal(ack.Payload, &gotAck); err != nil || gotAck.ResponseAction != slack.RAErrors || gotAck.Errors["why"] != "too short" {
		t.Errorf("ack payload = %s (%v), want the client's errors", ack.Payload, err)
	}
	evt := nextEvent(t, ctx, events)
	sub, ok := evt.Data.(slack.InteractionCallback)
	if !ok || evt.Type != socketmode.EventTypeInteractive || sub.Type != slack.InteractionTypeViewSubmission {
		t.Fatalf("event = %s %T, want a view_submission", evt.Type, evt.Data)
	}
	if sub.User.ID != "UEVE" || sub.View.ID != v.ID || sub.View.CallbackID != "cb" || sub.View.PrivateMetadata != "42" || sub.TriggerID == "" {
		t.Errorf("submission = user %q view %+v trigger %q", sub.User.ID, sub.View, sub.TriggerID)
	}
	if sub.View.State == nil {
		t.Fatal("submission has no state")
	}
	if got := sub.View.State.Values["why"]["reason"]; got.Value != "not now" || got.Type != "plain_text_input" {
		t.Errorf("typed value = %+v", got)
	}
	if got, ok := sub.View.State.Values["note"]["text"]; !ok || got.Value != "" {
		t.Errorf("input left empty = %+v, %v; want present and empty", got, ok)
	}
	if _, err := srv.SubmitView(ctx, Submission{ViewID: "V-none"}); err == nil {
		t.Error("submitting a view never opened: no error")
	}

	srv.FailViewsOpen("expired_trigger_id")
	if _, err := srv.Click(ctx, Click{User: "UBOB", Channel: "C1", MessageTS: "1.2", ActionID: "deny", Value: "43"}); err != nil {
		t.Fatal(err)
	}
	second := nextEvent(t, ctx, events).Data.(slack.InteractionCallback)
	if _, err := api.OpenViewContext(ctx, second.TriggerID, modal("cb")); err == nil || err.Error() != "expired_trigger_id" {
		t.Errorf("failing views.open: %v, want expired_trigger_id", err)
	}
}

func TestRedeliverKeepsTriggerAndDropReconnects(t *testing.T) {
	ctx := viewsCtx(t)
	srv := NewServer()
	defer srv.Close()
	events := ackingClient(t, srv, func(socketmode.Event) any { return nil })

	first, err := srv.SendSlash(ctx, Slash{User: "U1", Channel: "C1", Text: "list"})
	if err != nil {
		t.Fatal(err)
	}
	a := nextEvent(t, ctx, events)
	again, err := srv.Redeliver(ctx, first.EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	b := nextEvent(t, ctx, events)
	if again.EnvelopeID == first.EnvelopeID || b.Request.EnvelopeID != again.EnvelopeID {
		t.Errorf("redelivery envelope %s (event %s), first %s: want a new ID", again.EnvelopeID, b.Request.EnvelopeID, first.EnvelopeID)
	}
	ca, cb := a.Data.(slack.SlashCommand), b.Data.(slack.SlashCommand)
	if ca.TriggerID == "" || ca.TriggerID != cb.TriggerID || ca.Text != cb.Text {
		t.Errorf("redelivered payload %+v differs from %+v", cb, ca)
	}
	if _, err := srv.Redeliver(ctx, "env-none"); err == nil {
		t.Error("redelivering an unknown envelope: no error")
	}

	srv.Drop()
	if err := srv.WaitFor(ctx, func() bool { return srv.Connections() == 2 }); err != nil {
		t.Fatal(errors.Join(errors.New("no reconnect after a dropped socket"), err))
	}
}

// viewsCtx bounds a test of this file (kept apart from server_test.go's helpers).
func viewsCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
