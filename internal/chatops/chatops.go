// Package chatops turns what people type or click in a chat (Slack or the console) into answers
// and jobs. Transports call Service; it knows nothing about Slack.
package chatops

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aksbot/aksbot/internal/aks"
)

// The slash commands aksbot answers.
const (
	CommandAKS = "/aks"
	CommandEKS = "/eks"
)

// Request is one slash command (`/aks ...`, `/eks ...`) as typed by a user in a channel.
type Request struct {
	User    aks.User
	Channel string // Slack channel ID, or the console's channel name
	Text    string // what follows the slash command, e.g. "nodepool scale demo np2 --node-count 3"
	// Command is the slash command typed: CommandEKS, or CommandAKS; "" is CommandAKS, the
	// first one, so that transports that know only it need not say so.
	Command string
}

// SlashCommand returns the canonical name of a slash command ("" is /aks) and whether aksbot
// answers it.
func SlashCommand(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch name {
	case "", CommandAKS:
		return CommandAKS, true
	case CommandEKS:
		return CommandEKS, true
	}
	return name, false
}

// UnknownCommand is the answer to a slash command aksbot does not know, such as one a Slack
// admin added to the app by mistake.
func UnknownCommand(name string) Reply {
	// The name is shown inert: Slack reads < and & in a reply as the start of a mention or link.
	shown := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(fmt.Sprintf("%q", clip(name)))
	return Reply{Error: true, Text: fmt.Sprintf("Sorry, aksbot answers `%s` and `%s` only; %s is not one of its commands. Try `%s help` or `%s help`.",
		CommandAKS, CommandEKS, shown, CommandAKS, CommandEKS)}
}

// clip shortens what a user or transport sent to a length that fits a one-line message or log.
func clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-3]) + "..."
}

// Reply is the answer for the person who typed the command (Slack: ephemeral). Text uses Slack
// mrkdwn (*bold*, `code`, ```blocks```), which reads fine as plain text in a terminal.
type Reply struct {
	Text string
	// JobID is set when the command made a job; its messages follow in the channel and thread.
	JobID string
	// Error is true when Text explains why the command was refused.
	Error bool
}

// Handler is what a chat transport calls. Implementations must be safe for concurrent use and
// never panic on any input.
type Handler interface {
	// Command answers one slash command. It may take seconds (it reads Azure): transports ack
	// first and call it outside their event loop.
	Command(ctx context.Context, req Request) Reply
	// Decide records an approver's click (approve or deny) on a job. The user is the one who
	// clicked, as the transport authenticated them (Slack: the payload's user ID, never a value
	// carried in the button). The reply goes to the clicker only when Error is set or Text is not empty.
	Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) Reply
	// CanDecide says, before a form for a decision opens (the Deny reason), whether the user may
	// decide on the job now: Error is set, with why, when not.
	CanDecide(ctx context.Context, jobID string, user aks.User) Reply
}
