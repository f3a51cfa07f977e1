package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// The fuzz targets feed arbitrary bytes as the payload of a socket mode envelope, decode it
// as slack-go's socket mode client does, and hand the event to the bot's dispatch, as its
// event loop does; Web API calls go to a fake Slack. The bot must never panic, must ack each
// envelope once, and must never decide for anyone but the payload's user.

// decodeLikeSocketmode decodes an envelope payload as socketmode.Client.parseEvent does
// (slack-go v0.35.0): json.Unmarshal into slack.SlashCommand or slack.InteractionCallback.
// An error means slack-go reports a bad message and the bot never sees the envelope.
func decodeLikeSocketmode(typ, envelopeID string, payload []byte) (socketmode.Event, error) {
	req := &socketmode.Request{Type: typ, EnvelopeID: envelopeID, Payload: payload}
	switch typ {
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand
		if err := json.Unmarshal(payload, &cmd); err != nil {
			return socketmode.Event{}, err
		}
		return socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: cmd, Request: req}, nil
	case socketmode.RequestTypeInteractive:
		var cb slack.InteractionCallback
		if err := json.Unmarshal(payload, &cb); err != nil {
			return socketmode.Event{}, err
		}
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb, Request: req}, nil
	}
	return socketmode.Event{}, fmt.Errorf("unsupported type %q", typ)
}

// fuzzRig is one bot per input (so that trigger dedupe does not hide inputs) against one fake.
type fuzzRig struct {
	srv *slacktest.Server
	seq atomic.Int64
}

func newFuzzRig(f *testing.F) *fuzzRig {
	srv := slacktest.NewServer()
	f.Cleanup(srv.Close)
	return &fuzzRig{srv: srv}
}

type fuzzAck struct {
	envelopeID string
	payload    any
}

// run dispatches one envelope and returns, once every handler goroutine is done, what the
// handler was asked and what was acked.
func (r *fuzzRig) run(t *testing.T, evt socketmode.Event) (*handler, []fuzzAck) {
	t.Helper()
	h := &handler{
		command: func(_ context.Context, req chatops.Request) chatops.Reply {
			return chatops.Reply{Text: "ok " + req.Text}
		},
		decide: func(_ context.Context, jobID string, _ aks.User, _ bool) chatops.Reply {
			return chatops.Reply{Text: "noted " + jobID, Error: len(jobID)%2 == 1}
		},
	}
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: r.srv.APIURL(),
		Logger: slog.New(slog.DiscardHandler)}, h, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		acks []fuzzAck
	)
	bot.ackFn = func(_ context.Context, envelopeID string, payload any) error {
		mu.Lock()
		defer mu.Unlock()
		acks = append(acks, fuzzAck{envelopeID, payload})
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bot.dispatch(ctx, ctx, evt)
	bot.handlers.Wait()
	mu.Lock()
	defer mu.Unlock()
	return h, acks
}

func (r *fuzzRig) envelopeID() string { return fmt.Sprintf("env-fuzz-%d", r.seq.Add(1)) }

func checkOneAck(t *testing.T, acks []fuzzAck, envelopeID string) {
	t.Helper()
	if len(acks) != 1 || acks[0].envelopeID != envelopeID {
		t.Fatalf("acks = %+v, want exactly one for %s", acks, envelopeID)
	}
}

func FuzzSlashPayload(f *testing.F) {
	for _, seed := range []string{
		`{"team_id":"T0","channel_id":"C1","user_id":"U1","user_name":"ann","command":"/aks","text":"nodepool scale demo np2 --node-count 3","response_url":"https://x","trigger_id":"t1"}`,
		`{"user_id":"U1","channel_id":"C1","text":"help","is_enterprise_install":"true"}`,
		`{"user_id":"","channel_id":"","text":""}`,
		`{"user_id":"U1","text":"\u0000\ud800","is_enterprise_install":5}`,
		`{"USER_ID":"U2","user_id":"U3","text":"list"}`,
		`{"user_id":"U1","channel_id":"C1","command":"/eks","text":"nodegroup scale web-prod ng-web --nodes 3"}`,
		`{"user_id":"U1","channel_id":"C1","command":"/k8s<@U2>","text":"get pods"}`,
		`[]`, `null`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	rig := newFuzzRig(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		id := rig.envelopeID()
		evt, err := decodeLikeSocketmode(socketmode.RequestTypeSlashCommands, id, payload)
		if err != nil {
			return
		}
		cmd := evt.Data.(slack.SlashCommand)
		h, acks := rig.run(t, evt)
		checkOneAck(t, acks, id)
		if acks[0].payload != nil {
			t.Errorf("slash ack payload = %v, want none", acks[0].payload)
		}
		cmds, ds := h.calls()
		if len(ds) != 0 {
			t.Errorf("a slash command made decisions: %+v", ds)
		}
		if cmd.UserID == "" {
			if len(cmds) != 0 {
				t.Errorf("a command without a user ran: %+v", cmds)
			}
			return
		}
		name, known := chatops.SlashCommand(cmd.Command)
		if !known {
			if len(cmds) != 0 {
				t.Errorf("a command aksbot does not answer (%q) reached the handler: %+v", cmd.Command, cmds)
			}
			return
		}
		if len(cmds) != 1 {
			t.Fatalf("commands = %+v, want the one typed", cmds)
		}
		want := chatops.Request{User: aks.User{ID: cmd.UserID, Name: cmd.UserName}, Channel: cmd.ChannelID, Text: cmd.Text}
		if name != chatops.CommandAKS {
			want.Command = name
		}
		if cmds[0] != want {
			t.Errorf("command = %+v, want %+v", cmds[0], want)
		}
	})
}

// payloadUser decodes the payload's user ID on its own, apart from slack-go's types.
func payloadUser(t *testing.T, payload []byte) string {
	var p struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatalf("slack-go decoded the payload but its user does not decode: %v", err)
	}
	return p.User.ID
}

func FuzzInteraction(f *testing.F) {
	click := func(actionID, blockID, value, user string) string {
		return fmt.Sprintf(`{"type":"block_actions","user":{"id":%q,"name":"n"},"trigger_id":"trig-1","channel":{"id":"C1"},`+
			`"container":{"message_ts":"1.2","thread_ts":"1.1"},"message":{"ts":"1.2"},`+
			`"actions":[{"type":"button","action_id":%q,"block_id":%q,"value":%q}]}`, user, actionID, blockID, value)
	}
	submit := func(callbackID, metadata, user, reason string) string {
		return fmt.Sprintf(`{"type":"view_submission","user":{"id":%q},"trigger_id":"trig-2","view":{"id":"V1","callback_id":%q,`+
			`"private_metadata":%q,"state":{"values":{%q:{%q:{"type":"plain_text_input","value":%q}}}}}}`,
			user, callbackID, metadata, reasonBlockID, reasonActionID, reason)
	}
	for _, seed := range []string{
		click(ActionApprove, "aksbot_approval_1", "1", "U1"),
		click(ActionDeny, "aksbot_approval_1", "1", "U1"),
		click(ActionApprove, "aksbot_approval_1", "U0BOSS", ""),
		click("other", "b", "1", "U1"),
		`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"aksbot_approve","value":"1"}]}`, // no block_id
		`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"aksbot_approve","block_id":"b","value":"1"},` +
			`{"action_id":"aksbot_deny","block_id":"b","value":"2"}],"state":{"values":{}}}`,
		submit(denyCallbackID, "7", "U2", "release freeze"),
		submit(denyCallbackID, "7", "", "x"),
		submit(denyCallbackID, "", "U2", "x"),
		submit(denyCallbackID, "7 8", "U2", strings.Repeat("y", maxReason+1)),
		submit("someone_else", "7", "U2", "x"),
		`{"type":"view_submission","user":{"id":"U2"},"view":{"callback_id":"aksbot_deny_form","private_metadata":"7","state":null}}`,
		`{"type":"view_closed","user":{"id":"U2"},"view":{"callback_id":"aksbot_deny_form","private_metadata":"7"}}`,
		`{"type":"dialog_submission","state":"x"}`,
		`{"type":"block_actions","state":{"values":5}}`,
		`{}`, `null`,
	} {
		f.Add([]byte(seed))
	}
	rig := newFuzzRig(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		id := rig.envelopeID()
		evt, err := decodeLikeSocketmode(socketmode.RequestTypeInteractive, id, payload)
		if err != nil {
			return
		}
		cb := evt.Data.(slack.InteractionCallback)
		user := payloadUser(t, payload)
		h, acks := rig.run(t, evt)
		checkOneAck(t, acks, id)
		cmds, ds := h.calls()
		if len(cmds) != 0 {
			t.Errorf("an interaction ran commands: %+v", cmds)
		}
		for _, d := range ds {
			if d.user.ID == "" || d.user.ID != user {
				t.Fatalf("decision %+v is not for the payload's user %q", d, user)
			}
		}
		switch cb.Type {
		case slack.InteractionTypeBlockActions:
			if acks[0].payload != nil {
				t.Errorf("click ack payload = %v, want none", acks[0].payload)
			}
			for _, d := range ds {
				if d.reason != "" || !clicked(cb, d) {
					t.Errorf("decision %+v matches no button clicked", d)
				}
			}
		case slack.InteractionTypeViewSubmission:
			checkSubmission(t, cb, acks[0].payload, ds)
		default:
			if len(ds) != 0 || acks[0].payload != nil {
				t.Errorf("a %q interaction decided %+v, acked %v", cb.Type, ds, acks[0].payload)
			}
		}
	})
}

// clicked reports whether d is what a button in cb asks for.
func clicked(cb slack.InteractionCallback, d decision) bool {
	for _, a := range cb.ActionCallback.BlockActions {
		if a.Value == d.jobID && (a.ActionID == ActionApprove && d.approve || a.ActionID == ActionDeny && !d.approve) {
			return true
		}
	}
	return false
}

func checkSubmission(t *testing.T, cb slack.InteractionCallback, ack any, ds []decision) {
	t.Helper()
	if cb.View.CallbackID != denyCallbackID {
		if len(ds) != 0 || ack != nil {
			t.Errorf("a form that is not aksbot's decided %+v, acked %v", ds, ack)
		}
		return
	}
	if ack != nil {
		resp, ok := ack.(*slack.ViewSubmissionResponse)
		if !ok || resp.ResponseAction != slack.RAErrors || resp.Errors[reasonBlockID] == "" {
			t.Errorf("form ack = %#v, want none or errors on the reason input", ack)
		}
		if len(ds) != 0 {
			t.Errorf("a refused form decided %+v", ds)
		}
		return
	}
	if len(ds) != 1 {
		t.Fatalf("an accepted form made decisions %+v, want one", ds)
	}
	d := ds[0]
	if d.approve || d.jobID != cb.View.PrivateMetadata || !validJobID(d.jobID) {
		t.Errorf("decision %+v, want a denial of job %q", d, cb.View.PrivateMetadata)
	}
	if utf8.RuneCountInString(d.reason) > maxReason || d.reason != strings.TrimSpace(d.reason) {
		t.Errorf("reason %q is not the trimmed, bounded reason", d.reason)
	}
}
