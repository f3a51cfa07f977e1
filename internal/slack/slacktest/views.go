package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"unicode/utf8"
)

// Limits of views.open that the fake enforces, as Slack does.
const (
	maxViewTitle    = 24
	maxViewButton   = 24
	maxViewBlocks   = 100
	maxViewMetadata = 3000
	maxCallbackID   = 255
)

// View is a modal the client opened with views.open.
type View struct {
	ID              string
	TriggerID       string
	User            string // who the trigger came from: the user who sees the modal
	CallbackID      string
	PrivateMetadata string
	Title           string
	Blocks          json.RawMessage
}

// Submission is a user pressing a modal's submit button.
type Submission struct {
	ViewID string // an ID from Views
	User   string // who submits; "" means the user the view was opened for
	// Values is what was typed, by block ID and action ID. Input blocks left out are sent
	// with a null value, as Slack sends an optional input left empty.
	Values map[string]map[string]string
}

// viewData is the fake's view state. It lives beside Server, keyed by it, so that modal
// support stays in this file; it is guarded by the server's mu.
type viewData struct {
	views  []View
	used   map[string]bool // trigger IDs already exchanged for a view
	failOn string          // error code views.open answers with; "" answers normally
}

var viewStates sync.Map // *Server -> *viewData

// viewState returns s's view state. Call with s.mu held.
func (s *Server) viewState() *viewData {
	v, _ := viewStates.LoadOrStore(s, &viewData{used: map[string]bool{}})
	return v.(*viewData)
}

// Views returns the modals opened so far, in order.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]View(nil), s.viewState().views...)
}

// FailViewsOpen makes every later views.open answer with Slack error code (for example
// "expired_trigger_id"); "" makes it answer normally again.
func (s *Server) FailViewsOpen(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.viewState().failOn = code
}

// viewsOpen serves views.open: a JSON body {"trigger_id","view"}. The trigger must come from
// an envelope the server sent and may be used once.
func (s *Server) viewsOpen(r *http.Request) (map[string]any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, apiError("invalid_form_data")
	}
	var req struct {
		TriggerID string `json:"trigger_id"`
		View      struct {
			Type  string `json:"type"`
			Title *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"title"`
			Submit *struct {
				Text string `json:"text"`
			} `json:"submit"`
			Close *struct {
				Text string `json:"text"`
			} `json:"close"`
			Blocks          []json.RawMessage `json:"blocks"`
			PrivateMetadata string            `json:"private_metadata"`
			CallbackID      string            `json:"callback_id"`
		} `json:"view"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, apiError("invalid_json")
	}
	v := req.View
	switch {
	case req.TriggerID == "":
		return nil, apiError("invalid_arguments")
	case v.Type != "modal", v.Title == nil, v.Title.Type != "plain_text", v.Title.Text == "",
		utf8.RuneCountInString(v.Title.Text) > maxViewTitle,
		v.Submit != nil && utf8.RuneCountInString(v.Submit.Text) > maxViewButton,
		v.Close != nil && utf8.RuneCountInString(v.Close.Text) > maxViewButton,
		len(v.Blocks) == 0, len(v.Blocks) > maxViewBlocks,
		len(v.PrivateMetadata) > maxViewMetadata, len(v.CallbackID) > maxCallbackID:
		return nil, apiError("invalid_arguments")
	}
	blocks, _ := json.Marshal(v.Blocks)
	if len(inputBlocks(blocks)) > 0 && v.Submit == nil {
		return nil, apiError("invalid_arguments") // Slack needs a submit button to send inputs
	}
	if tooLong(blocks) {
		return nil, apiError("invalid_arguments")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.viewState()
	if st.failOn != "" {
		return nil, apiError(st.failOn)
	}
	user, ok := s.triggerUser(req.TriggerID)
	switch {
	case !ok:
		return nil, apiError("invalid_trigger_id")
	case st.used[req.TriggerID]:
		return nil, apiError("exchanged_trigger_id")
	}
	st.used[req.TriggerID] = true
	view := View{
		ID:              s.nextID("V"),
		TriggerID:       req.TriggerID,
		User:            user,
		CallbackID:      v.CallbackID,
		PrivateMetadata: v.PrivateMetadata,
		Title:           v.Title.Text,
		Blocks:          blocks,
	}
	st.views = append(st.views, view)
	s.notify()
	return map[string]any{"view": viewJSON(view, nil)}, nil
}

// triggerUser returns the user of the envelope that carried trigger. Call with s.mu held.
func (s *Server) triggerUser(trigger string) (string, bool) {
	for _, raw := range s.envelopes {
		var env struct {
			Payload struct {
				TriggerID string `json:"trigger_id"`
				UserID    string `json:"user_id"`
				User      struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"payload"`
		}
		if json.Unmarshal(raw, &env) != nil || env.Payload.TriggerID != trigger {
			continue
		}
		if env.Payload.UserID != "" {
			return env.Payload.UserID, true
		}
		return env.Payload.User.ID, true
	}
	return "", false
}

type inputBlock struct{ blockID, actionID, elementType string }

// inputBlocks lists the input blocks of a view's blocks.
func inputBlocks(blocks json.RawMessage) []inputBlock {
	var list []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
		Element struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
		} `json:"element"`
	}
	_ = json.Unmarshal(blocks, &list)
	var out []inputBlock
	for _, b := range list {
		if b.Type == "input" {
			out = append(out, inputBlock{b.BlockID, b.Element.ActionID, b.Element.Type})
		}
	}
	return out
}

// viewJSON renders a view as Slack shows it in API answers and payloads; state is nil for none.
func viewJSON(v View, state map[string]any) map[string]any {
	if state == nil {
		state = map[string]any{}
	}
	return map[string]any{
		"id":                    v.ID,
		"team_id":               "T0TEST",
		"type":                  "modal",
		"title":                 map[string]any{"type": "plain_text", "text": v.Title, "emoji": true},
		"blocks":                v.Blocks,
		"private_metadata":      v.PrivateMetadata,
		"callback_id":           v.CallbackID,
		"state":                 map[string]any{"values": state},
		"hash":                  "hash-" + v.ID,
		"clear_on_close":        false,
		"notify_on_close":       false,
		"root_view_id":          v.ID,
		"previous_view_id":      nil,
		"app_id":                "A0TEST",
		"external_id":           "",
		"bot_id":                "B0BOT",
		"app_installed_team_id": "T0TEST",
	}
}

// SubmitView delivers a view_submission envelope for a modal opened before, as Slack does
// when the user presses its submit button, and waits for its ack. The ack's payload is the
// client's response_action, if any.
func (s *Server) SubmitView(ctx context.Context, sub Submission) (Ack, error) {
	s.mu.Lock()
	var (
		view  View
		found bool
	)
	for _, v := range s.viewState().views {
		if v.ID == sub.ViewID {
			view, found = v, true
		}
	}
	if !found {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("submit view %s: no such view was opened", sub.ViewID)
	}
	id := s.nextID("env-")
	trigger := s.nextID("trig-")
	s.mu.Unlock()

	user := sub.User
	if user == "" {
		user = view.User
	}
	state := map[string]any{}
	for _, in := range inputBlocks(view.Blocks) {
		var value any // null: left empty
		if typed, ok := sub.Values[in.blockID][in.actionID]; ok {
			value = typed
		}
		state[in.blockID] = map[string]any{in.actionID: map[string]any{"type": in.elementType, "value": value}}
	}
	payload := map[string]any{
		"type":                  "view_submission",
		"team":                  map[string]any{"id": "T0TEST", "domain": "slacktest"},
		"user":                  map[string]any{"id": user, "username": user, "name": user, "team_id": "T0TEST"},
		"api_app_id":            "A0TEST",
		"token":                 "verification-token-unused",
		"trigger_id":            trigger,
		"view":                  viewJSON(view, state),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	return s.send(ctx, id, map[string]any{
		"envelope_id":              id,
		"type":                     "interactive",
		"accepts_response_payload": true,
		"payload":                  payload,
	})
}

// Redeliver delivers the payload of an envelope sent before again under a new envelope ID,
// as Slack's retries can, and waits for its ack. The payload, trigger_id included, is unchanged.
func (s *Server) Redeliver(ctx context.Context, envelopeID string) (Ack, error) {
	s.mu.Lock()
	raw, ok := s.envelopes[envelopeID]
	id := s.nextID("env-")
	s.mu.Unlock()
	if !ok {
		return Ack{}, fmt.Errorf("redeliver %s: no such envelope", envelopeID)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return Ack{}, fmt.Errorf("redeliver %s: %w", envelopeID, err)
	}
	env["envelope_id"], _ = json.Marshal(id)
	return s.send(ctx, id, env)
}

// Drop closes every connected client's socket without a disconnect message, as a network
// failure does.
func (s *Server) Drop() {
	s.mu.Lock()
	live := append([]*wsConn(nil), s.live...)
	s.mu.Unlock()
	for _, c := range live {
		_ = c.c.Close()
	}
}
