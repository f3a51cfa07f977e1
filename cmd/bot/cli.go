package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aksbot/aksbot/internal/config"
)

// The binary's subcommands. Each is one entry of commands(): its name (one or more words, such as
// "doctor" or "audit export"), its usage, and a Setup that defines its flags on a FlagSet of its
// own and returns what runs it. The dispatcher handles help, -h/--help, unknown commands and bad
// flags the same way for all of them.

// command is one subcommand of the binary.
type command struct {
	Name    string // the words after "aksbot": "doctor", "policy check"
	Args    string // positional arguments in the usage line ("[COMMAND]"); "" = none accepted
	Summary string // one line in the list of commands
	Help    string // what it does, printed under the usage line
	// Setup defines the command's flags on fs and returns what runs it; the values the flags
	// parse into are in scope of the returned function. Commands without flags use noFlags.
	Setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments and returns the exit code.
type runFunc func(ctx context.Context, inv *invocation, args []string) int

// noFlags is the Setup of a command that takes no flags.
func noFlags(run runFunc) func(*flag.FlagSet) runFunc {
	return func(*flag.FlagSet) runFunc { return run }
}

// commands lists the subcommands, in the order help shows them. Adding one is one entry here.
func commands() []command {
	return []command{
		{Name: "run", Summary: "run the bot (what aksbot does without a command)", Help: runHelp, Setup: noFlags(runBot)},
		{Name: "doctor", Summary: "check the configuration, Slack, Azure, AWS and the data file", Help: doctorHelp, Setup: doctorSetup},
		{Name: "policy check", Args: "[FILE]", Summary: "validate a configuration file and list its policy rules", Help: policyCheckHelp, Setup: policyCheckSetup},
		{Name: "policy explain", Args: "FILE", Summary: "say what the policy decides for one request, and by which rule", Help: policyExplainHelp, Setup: policyExplainSetup},
		{Name: "audit export", Summary: "write the audit log to stdout (JSON lines or CSV)", Help: auditExportHelp, Setup: auditExportSetup},
		{Name: "jobs export", Summary: "write every job with its events to stdout (JSON lines)", Help: jobsExportHelp, Setup: noFlags(runJobsExport)},
		{Name: "store migrate", Summary: "copy the bbolt data file into etcd (for several replicas)", Help: storeMigrateHelp, Setup: storeMigrateSetup},
		{Name: "sim", Summary: "serve the simulated Azure cloud (and with --with-eks EKS) over HTTPS, for several replicas to share", Help: simHelp, Setup: simSetup},
		{Name: "version", Summary: "print the version, the VCS revision and the Go version", Help: versionHelp, Setup: noFlags(runVersion)},
		{Name: "help", Args: "[COMMAND]", Summary: "show how to use aksbot or one of its commands",
			Help: "Prints the usage of COMMAND, or the list of commands without one.", Setup: noFlags(runHelpCommand)},
	}
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (doctor found a problem, the bot stopped on an error)
	exitUsage   = 2 // the command line or the configuration is wrong
)

// invocation is what a command gets from the process: the environment, the standard streams,
// and, for tests, what cannot be set through the environment in process.
type invocation struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	ov             overrides

	table []command
	cmd   *command      // the command being run
	flags *flag.FlagSet // its flags, for its usage
}

// run runs the binary with args (without the program name) and returns the exit code. Tests call
// it with their own environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, args, &invocation{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

// dispatch finds the command args name, parses its flags and runs it. No arguments runs the bot.
func dispatch(ctx context.Context, args []string, inv *invocation) int {
	if inv.table == nil {
		inv.table = commands()
	}
	if len(args) == 0 {
		args = []string{"run"}
	}
	if strings.HasPrefix(args[0], "-") {
		if isHelpFlag(args[0]) {
			writeUsage(inv.stdout, inv.table)
			return exitOK
		}
		fmt.Fprintf(inv.stderr, "aksbot: unknown flag %s (flags go after the command)\n\n", args[0])
		writeUsage(inv.stderr, inv.table)
		return exitUsage
	}
	cmd, rest := lookup(inv.table, args)
	if cmd == nil {
		return unknownCommand(inv, args)
	}
	return runCommand(ctx, inv, cmd, rest)
}

func runCommand(ctx context.Context, inv *invocation, cmd *command, args []string) int {
	fs := flag.NewFlagSet("aksbot "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the dispatcher writes the errors and the usage itself
	runner := cmd.Setup(fs)
	inv.cmd, inv.flags = cmd, fs
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeCommandUsage(inv.stdout, cmd, fs)
			return exitOK
		}
		return inv.usageError("%v", err)
	}
	if cmd.Args == "" && fs.NArg() > 0 {
		return inv.usageError("unexpected argument %q", fs.Arg(0))
	}
	return runner(ctx, inv, fs.Args())
}

// usageError reports a mistake on the command line: the message and the command's usage on
// stderr, exit code 2.
func (inv *invocation) usageError(format string, a ...any) int {
	fmt.Fprintf(inv.stderr, "aksbot %s: %s\n\n", inv.cmd.Name, fmt.Sprintf(format, a...))
	writeCommandUsage(inv.stderr, inv.cmd, inv.flags)
	return exitUsage
}

func isHelpFlag(s string) bool {
	return s == "-h" || s == "--help" || s == "-help"
}

// lookup returns the command whose name is the longest match of the leading words of args, and
// the arguments after its name.
func lookup(table []command, args []string) (*command, []string) {
	var best *command
	n := 0
	for i := range table {
		words := strings.Fields(table[i].Name)
		if len(words) > n && len(words) <= len(args) && slices.Equal(words, args[:len(words)]) {
			best, n = &table[i], len(words)
		}
	}
	return best, args[n:]
}

// group returns the commands whose names start with the words in prefix ("policy" gives
// "policy check" and "policy explain").
func group(table []command, prefix []string) []command {
	var out []command
	for _, c := range table {
		words := strings.Fields(c.Name)
		if len(words) > len(prefix) && slices.Equal(words[:len(prefix)], prefix) {
			out = append(out, c)
		}
	}
	return out
}

// unknownCommand answers a command line that names no command: the start of a group of commands
// ("aksbot policy") lists the group; anything else is an unknown command.
func unknownCommand(inv *invocation, args []string) int {
	for n := len(args); n > 0; n-- {
		prefix := args[:n]
		sub := group(inv.table, prefix)
		if len(sub) == 0 {
			continue
		}
		name := strings.Join(prefix, " ")
		if n < len(args) && isHelpFlag(args[n]) {
			writeGroupUsage(inv.stdout, name, sub)
			return exitOK
		}
		if n < len(args) {
			fmt.Fprintf(inv.stderr, "aksbot %s: unknown command %q\n\n", name, args[n])
		} else {
			fmt.Fprintf(inv.stderr, "aksbot %s: missing command\n\n", name)
		}
		writeGroupUsage(inv.stderr, name, sub)
		return exitUsage
	}
	fmt.Fprintf(inv.stderr, "aksbot: unknown command %q\n\n", args[0])
	writeUsage(inv.stderr, inv.table)
	return exitUsage
}

func runHelpCommand(_ context.Context, inv *invocation, args []string) int {
	if len(args) == 0 {
		writeUsage(inv.stdout, inv.table)
		return exitOK
	}
	cmd, rest := lookup(inv.table, args)
	if cmd != nil && len(rest) == 0 {
		fs := flag.NewFlagSet("aksbot "+cmd.Name, flag.ContinueOnError)
		cmd.Setup(fs)
		writeCommandUsage(inv.stdout, cmd, fs)
		return exitOK
	}
	if sub := group(inv.table, args); len(sub) > 0 {
		writeGroupUsage(inv.stdout, strings.Join(args, " "), sub)
		return exitOK
	}
	return inv.usageError("unknown command %q", strings.Join(args, " "))
}

// usageIntro and usageEnv frame the list of commands in the binary's usage.
const usageIntro = `aksbot runs AKS operations from Slack (or a console chat) as durable, approved jobs.

Usage: aksbot [COMMAND [ARGS]]
`

const usageEnv = `Without a command aksbot runs the bot: Slack socket mode when SLACK_APP_TOKEN and SLACK_BOT_TOKEN
are set, else a console chat; real Azure when AZURE_SUBSCRIPTION_ID is set, else a simulated cloud.

` + envHelp + `

"aksbot help COMMAND" or "aksbot COMMAND --help" shows a command's usage.
`

// envHelp lists the environment the bot and doctor read.
const envHelp = `Environment: SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_API_URL, AZURE_SUBSCRIPTION_ID, AKSBOT_ARM_ENDPOINT,
AZURE_AUTHORITY_HOST, AKSBOT_ARM_AUDIENCE, AKSBOT_CONFIG (default aksbot.yaml), AKSBOT_DB (default aksbot.db),
AKSBOT_HTTP_ADDR (health, readiness and metrics; default :8080, "off" disables),
AKSBOT_LOG_LEVEL (debug|info|warn|error; default info, warn in the console),
AKSBOT_REPLICA_ID (this replica's name in every log line; default the hostname). See README.md.`

// writeUsage writes the binary's usage: what it is, its commands and its environment.
func writeUsage(w io.Writer, table []command) {
	fmt.Fprint(w, usageIntro+"\nCommands:\n")
	writeCommandList(w, table)
	fmt.Fprint(w, "\n"+usageEnv)
}

func writeCommandList(w io.Writer, table []command) {
	width := 0
	for _, c := range table {
		width = max(width, len(synopsis(c)))
	}
	for _, c := range table {
		fmt.Fprintf(w, "  %-*s  %s\n", width, synopsis(c), c.Summary)
	}
}

func synopsis(c command) string {
	if c.Args == "" {
		return c.Name
	}
	return c.Name + " " + c.Args
}

// writeCommandUsage writes one command's usage line, its help and its flags.
func writeCommandUsage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	line := "aksbot " + cmd.Name
	if hasFlags {
		line += " [flags]"
	}
	if cmd.Args != "" {
		line += " " + cmd.Args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, strings.TrimRight(cmd.Help, "\n"))
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func writeGroupUsage(w io.Writer, name string, sub []command) {
	fmt.Fprintf(w, "Usage: aksbot %s COMMAND\n\nCommands:\n", name)
	writeCommandList(w, sub)
}

const runHelp = `Runs the bot until SIGINT or SIGTERM (or, in the console, until the input ends and the jobs it
started are done). Slack socket mode when SLACK_APP_TOKEN and SLACK_BOT_TOKEN are set, else a
console chat; real Azure when AZURE_SUBSCRIPTION_ID is set, else a simulated cloud.

` + envHelp

// runBot is the bot itself: configuration, logger, then serve until ctx ends.
func runBot(ctx context.Context, inv *invocation, _ []string) int {
	cfg, err := config.Load(inv.getenv)
	if err != nil {
		fmt.Fprintf(inv.stderr, "aksbot: %v\n", err)
		return exitUsage
	}
	log, err := newLogger(inv.stderr, cfg.Mode, inv.getenv(envLogLevel), cfg.ReplicaID)
	if err != nil {
		fmt.Fprintf(inv.stderr, "aksbot: %v\n", err)
		return exitUsage
	}
	if err := serve(ctx, cfg, log, inv.stdin, inv.stdout, inv.ov); err != nil {
		log.Error("aksbot stopped", "err", err)
		fmt.Fprintf(inv.stderr, "aksbot: %v\n", err)
		return exitFailure
	}
	return exitOK
}
