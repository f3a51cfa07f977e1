// Package console is the terminal chat: the same bot as in Slack, with people taking turns at
// one keyboard. Lines starting with /aks or /eks are slash commands by the current user; /as
// switches user; approve/deny stand in for the buttons. Job messages print as a status line per job and
// its thread indented under it. It reads commands from any io.Reader, so it can be scripted.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
)

// Channel is the name jobs made in the console carry as their channel.
const Channel = "console"

// Options configure a Console.
type Options struct {
	User       string   // who types first
	KnownUsers []string // mentioned in the greeting (for example the demo approver)
	Prompt     bool     // print a prompt before each line (for a terminal, not for a script)
	// Wait blocks until no job is queued or running; the /wait command calls it so that a script
	// can wait for an operation before its next line. Nil disables /wait.
	Wait func(ctx context.Context) error
}

// Console is the console transport. It implements jobs.Reporter for the engine.
type Console struct {
	handler chatops.Handler
	out     io.Writer
	opts    Options
	mu      sync.Mutex // one writer at a time: reports come from job goroutines
	user    aks.User
}

// New makes a console for handler writing to out.
func New(handler chatops.Handler, out io.Writer, opts Options) *Console {
	return &Console{handler: handler, out: out, opts: opts, user: aks.User{ID: opts.User, Name: opts.User}}
}

// SetHandler sets the handler when it could not be made before the console (the handler's
// engine reports to the console).
func (c *Console) SetHandler(h chatops.Handler) { c.handler = h }

// Run reads lines from in until it ends or ctx is done. It returns nil at the end of input.
func (c *Console) Run(ctx context.Context, in io.Reader) error {
	c.printf("aksbot console: you are %s. Type /aks help (AKS) or /eks help (EKS); /as NAME switches user (%s); approve ID, deny ID [reason]; /wait; /quit.\n",
		c.opts.User, strings.Join(c.opts.KnownUsers, ", "))
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 64*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		c.showPrompt()
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if err != nil {
				return fmt.Errorf("read console input: %w", err)
			}
			return nil
		case line := <-lines:
			if quit := c.handle(ctx, strings.TrimSpace(line)); quit {
				return nil
			}
		}
	}
}

func (c *Console) showPrompt() {
	if c.opts.Prompt {
		c.printf("%s> ", c.currentUser().ID)
	}
}

// handle runs one line; it reports whether the user asked to quit.
func (c *Console) handle(ctx context.Context, line string) bool {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(line, "#") {
		return false
	}
	switch strings.ToLower(fields[0]) {
	case "/quit", "/exit", "quit", "exit":
		return true
	case "/help", "help":
		c.printf("Type /aks help or /eks help for the bot's commands. Console only: /as NAME (act as another user), approve ID, deny ID [reason], /wait (until no job is queued or running), /sleep DURATION, /quit.\n")
	case "/wait":
		if c.opts.Wait == nil {
			c.printf("/wait is not available here\n")
			return false
		}
		if err := c.opts.Wait(ctx); err != nil {
			c.printf("/wait: %v\n", err)
		}
	case "/sleep":
		// Lets a script reach a schedule's next run (cron @every 1m) the honest way: by waiting.
		d, err := time.ParseDuration(strings.Join(fields[1:], ""))
		if err != nil || d <= 0 || d > 10*time.Minute {
			c.printf("usage: /sleep DURATION (up to 10m), e.g. /sleep 70s\n")
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	case "/as", "/user":
		if len(fields) != 2 {
			c.printf("usage: /as NAME\n")
			return false
		}
		c.mu.Lock()
		c.user = aks.User{ID: fields[1], Name: fields[1]}
		c.mu.Unlock()
		c.printf("you are now %s\n", fields[1])
	case "approve", "deny":
		approve := strings.EqualFold(fields[0], "approve")
		if len(fields) < 2 {
			if approve {
				c.printf("usage: approve ID\n")
			} else {
				c.printf("usage: deny ID [reason]\n")
			}
			return false
		}
		reason := strings.TrimSpace(strings.Join(fields[2:], " "))
		reply := c.handler.Decide(ctx, strings.TrimPrefix(fields[1], "#"), c.currentUser(), approve, reason)
		c.reply(reply)
	case "/aks", "aks", "/eks", "eks":
		// The slash may be left out at a terminal: "eks list" is "/eks list".
		command := "/" + strings.TrimPrefix(strings.ToLower(fields[0]), "/")
		text := strings.TrimSpace(line[len(fields[0]):])
		reply := c.handler.Command(ctx, chatops.Request{User: c.currentUser(), Channel: Channel, Text: text, Command: command})
		c.reply(reply)
	default:
		c.printf("Not a command. Type /aks help or /eks help, or /help for the console's own commands.\n")
	}
	return false
}

func (c *Console) currentUser() aks.User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

func (c *Console) reply(r chatops.Reply) {
	if r.Text == "" {
		return
	}
	c.printf("%s\n", plain(r.Text))
}

// Report prints a job's event: a status line for the job, the thread message indented under it.
func (c *Console) Report(_ context.Context, job aks.Job, ev aks.Event) error {
	if ev.Kind == aks.EventSending {
		return nil
	}
	var b strings.Builder
	if ev.Kind == aks.EventCreated {
		fmt.Fprintf(&b, "── job %s · %s · requested by %s ──\n", job.ID, job.Title(), job.RequestedBy(mention))
	} else {
		fmt.Fprintf(&b, "── job %s · %s ──\n", job.ID, status(job))
	}
	fmt.Fprintf(&b, "   │ %s\n", strings.ReplaceAll(plain(ev.Message), "\n", "\n   │ "))
	if ev.Kind == aks.EventCreated && job.State == aks.StateAwaitingApproval {
		fmt.Fprintf(&b, "   │ [Approve] [Deny]   (type: approve %s   or   deny %s REASON)\n", job.ID, job.ID)
	}
	c.printf("%s", b.String())
	return nil
}

func status(job aks.Job) string {
	s := job.State.Words()
	if job.State == aks.StateRunning && job.ProvisioningState != "" {
		s += " (" + job.Op.Target.CloudName() + ": " + job.ProvisioningState + ")"
	}
	if job.State == aks.StateAwaitingApproval && job.ApprovalsNeeded > 1 {
		s += fmt.Sprintf(" (%d of %d approvals)", len(job.Approvals()), job.ApprovalsNeeded)
	}
	return s
}

func (c *Console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, args...)
}

var mentionRE = regexp.MustCompile(`<@([^>|]+)(\|[^>]*)?>`)
var channelRE = regexp.MustCompile(`<#([^>|]+)(\|[^>]*)?>`)
var groupRE = regexp.MustCompile(`<!subteam\^([^>|]+)(\|[^>]*)?>`)

// plain turns Slack mrkdwn mentions into readable text for the terminal.
func plain(s string) string {
	s = mentionRE.ReplaceAllString(s, "@$1")
	s = channelRE.ReplaceAllString(s, "#$1")
	s = groupRE.ReplaceAllString(s, "@group:$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func mention(id string) string { return "@" + id }
