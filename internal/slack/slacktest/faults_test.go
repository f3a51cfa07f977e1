package slacktest

import (
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestMetadataAndHistory(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer()
	defer srv.Close()
	api := slack.New(botToken, slack.OptionAPIURL(srv.APIURL()))
	meta := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "aksbot_message", EventPayload: map[string]any{"job_id": "1", "key": "parent"}})
	_, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("card", false), meta)
	if err != nil {
		t.Fatal(err)
	}
	replyMeta := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "aksbot_message", EventPayload: map[string]any{"job_id": "1", "key": "event.2"}})
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent), replyMeta); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("later", false)); err != nil {
		t.Fatal(err)
	}

	hist, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Messages) != 2 || hist.Messages[0].Text != "later" || hist.Messages[1].Metadata.EventPayload["key"] != "parent" {
		t.Errorf("history = %+v, want the two top-level messages, newest first, with metadata", hist.Messages)
	}
	hist, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Messages) != 1 || !hist.HasMore || hist.Messages[0].Metadata.EventType != "" {
		t.Errorf("history with limit 1 and no metadata = %+v (has_more %v)", hist.Messages, hist.HasMore)
	}
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Text != "reply" || msgs[1].Metadata.EventPayload["key"] != "event.2" {
		t.Errorf("replies = %+v, want the parent and the reply with its metadata", msgs)
	}
	if _, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1.000001"}); err == nil {
		t.Error("replies of an unknown thread succeeded")
	}
}

func TestFaults(t *testing.T) {
	ctx := testCtx(t)
	srv := NewServer(WithChannelPostInterval(time.Hour))
	defer srv.Close()
	api := slack.New(botToken, slack.OptionAPIURL(srv.APIURL()))
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("hi", false))
		return err
	}

	srv.SetOutage(Outage5xx)
	if err := post("C1"); !errors.As(err, new(slack.StatusCodeError)) {
		t.Errorf("post during a 5xx outage: %v", err)
	}
	srv.SetOutage(OutageDrop)
	if err := post("C1"); err == nil {
		t.Error("post during a dropped-connection outage succeeded")
	}
	srv.SetOutage(OutageNone)
	if n := len(srv.Messages("C1")); n != 0 {
		t.Fatalf("%d messages stored during outages", n)
	}

	srv.LoseAnswers("chat.postMessage", 1)
	if err := post("C1"); err == nil {
		t.Error("post with a lost answer succeeded")
	}
	if n := len(srv.Messages("C1")); n != 1 {
		t.Errorf("messages after a lost answer = %d, want 1: the post took effect", n)
	}
	// The channel limit: a second post within the interval is refused with a 429.
	var rl *slack.RateLimitedError
	if err := post("C1"); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Errorf("second post within the channel interval: %v", err)
	}
	if err := post("C2"); err != nil {
		t.Errorf("post in another channel: %v", err)
	}
	if n := srv.Throttled("chat.postMessage"); n != 1 {
		t.Errorf("throttled = %d, want 1", n)
	}
	srv.RefuseChannel("C3", "not_in_channel")
	var se slack.SlackErrorResponse
	if err := post("C3"); !errors.As(err, &se) || se.Err != "not_in_channel" {
		t.Errorf("post in a refused channel: %v", err)
	}
	calls := srv.CallLog("chat.postMessage")
	if len(calls) != 6 || calls[0].Status != 503 || calls[1].Status != 0 || calls[4].Channel != "C2" {
		t.Errorf("call log = %+v", calls)
	}
}
