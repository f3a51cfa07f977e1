// Package commands is the `/aks` and `/eks` grammar: it parses and validates what a user typed
// after the slash command into a Command, and writes the help texts. It is pure: no I/O and no clock, so
// every rule here can be tested exhaustively and fuzzed.
package commands

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aksbot/aksbot/internal/aks"
)

// Kind names a command: the words that follow "/aks", such as "nodepool scale".
type Kind string

const (
	KindHelp            Kind = "help"
	KindList            Kind = "list"
	KindShow            Kind = "show"
	KindCreate          Kind = "create"
	KindDelete          Kind = "delete"
	KindScale           Kind = "scale"
	KindUpgrade         Kind = "upgrade"
	KindStart           Kind = "start"
	KindStop            Kind = "stop"
	KindGetVersions     Kind = "get-versions"
	KindGetUpgrades     Kind = "get-upgrades"
	KindNodepoolList    Kind = "nodepool list"
	KindNodepoolAdd     Kind = "nodepool add"
	KindNodepoolScale   Kind = "nodepool scale"
	KindNodepoolUpdate  Kind = "nodepool update"
	KindNodepoolDelete  Kind = "nodepool delete"
	KindNodepoolUpgrade Kind = "nodepool upgrade"
	KindJobs            Kind = "jobs"
	KindJob             Kind = "job"
	KindCancel          Kind = "cancel"
	KindApprove         Kind = "approve"
	KindDeny            Kind = "deny"
	KindPending         Kind = "pending"
	KindWhoami          Kind = "whoami"
	KindPolicy          Kind = "policy"
	KindAudit           Kind = "audit"
	KindAbort           Kind = "abort"
	KindCost            Kind = "cost"
	KindSchedule        Kind = "schedule"
)

// Command is one parsed and validated `/aks` or `/eks` command. Defaults that come from configuration
// (resource group, location) are not filled in: empty means "use the configured default".
// Defaults that AKS itself applies are not filled in either: an empty Op.Mode means User and an
// empty Op.OSType means Linux, and the values were validated on that assumption.
type Command struct {
	Kind          Kind
	Topic         string // help: the command asked about ("" = overview), e.g. "nodepool scale"
	ResourceGroup string // -g/--resource-group; "" = use the configured default
	Cluster       string
	Location      string // get-versions and create -l, lower case without spaces ("westeurope")
	All           bool   // jobs --all
	JobID         string // job, cancel, approve and deny: the ID, canonical decimal ("7", never "007")
	Pool          string // abort --nodepool-name; "" = the cluster's own operation
	// Reason is deny's free text: the rest of the line after the ID, without enclosing quotes,
	// trimmed, at most 500 characters; "" when none was given.
	Reason string
	// Since is how far back audit looks: 24h when --since is not given, never more than 90
	// days; 0 for every other kind.
	Since time.Duration
	// Op is set for mutating kinds; Op.Target.ResourceGroup == ResourceGroup and
	// Op.Location == Location.
	Op *aks.Operation
	// Schedule is set for KindSchedule: what to do with which schedule.
	Schedule *ScheduleCommand
	// DryRun (--dry-run, mutating kinds only): answer what the approval request would show, and
	// store and send nothing.
	DryRun bool
	// Subscription is --subscription as typed (a configured name or an ID); "" = the default.
	// The bot resolves it (and refuses unknown ones) before Azure is read; Op.Target.Subscription
	// is left for it to fill.
	Subscription string
	// AllSubscriptions (list only): the clusters of every configured subscription.
	AllSubscriptions bool

	// Region is /eks --region, lower case ("eu-west-1"); "" = the configured default (for
	// `/eks list`: every configured region). The bot refuses regions it is not configured for.
	Region string
	// Nodegroup is the EKS node group an /eks nodegroup command names; Op.Target.Pool is the
	// same for the mutating ones.
	Nodegroup string
}

// Mutating reports whether the command asks for a change in Azure or EKS (and so becomes a job).
// abort changes Azure too, but it stops an operation rather than starting one, so it is not a
// job and is not Mutating.
func (c Command) Mutating() bool {
	switch c.Kind {
	case KindCreate, KindDelete, KindScale, KindUpgrade, KindStart, KindStop,
		KindNodepoolAdd, KindNodepoolScale, KindNodepoolUpdate, KindNodepoolDelete, KindNodepoolUpgrade,
		KindEKSNodegroupCreate, KindEKSNodegroupScale, KindEKSNodegroupUpgrade, KindEKSNodegroupDelete:
		return true
	}
	return false
}

// UsageError says why a command was refused and how it is used.
type UsageError struct {
	Message string // what is wrong, in a few words: "unknown flag --node-cout; did you mean --node-count?"
	Usage   string // the right usage line(s) for that command, one per line
}

func (e *UsageError) Error() string {
	return e.Message + "\nUsage: " + e.Usage
}

// Parse parses the text after "/aks". Bad input returns *UsageError; it never panics. Empty
// text asks for the help overview.
func Parse(text string) (Command, error) {
	sp, rest, c, err := aksGrammar.start(text)
	if sp == nil {
		return c, err
	}
	if sp.kind == KindSchedule {
		return parseSchedule(sp, rest)
	}
	c, in, err := sp.parseArgs(rest)
	if err != nil || in == nil {
		return c, err
	}
	var msg string
	if in.has(fSubscription) {
		if c.Subscription, msg = subscription(in); msg != "" {
			return Command{}, sp.usageError("%s", msg)
		}
	}
	if c.AllSubscriptions = in.has(fAllSubs); c.AllSubscriptions && c.Subscription != "" {
		return Command{}, sp.usageError("use either --subscription or --all-subscriptions")
	}
	if c.Op != nil {
		c.Op.Target.ResourceGroup = c.ResourceGroup
		c.Op.Target.Cluster = c.Cluster
		if c.Op.Kind == aks.OpClusterCreate {
			c.Op.Location = c.Location
		}
	}
	return c, nil
}

// parseWithReason parses a command made of an ID and a free-text reason: "deny 7 not during
// the freeze". The reason is the rest of the line as typed (after normalise), so quotes,
// dashes and flags inside it are words of the reason; one quoted string around all of it is
// removed. unclosed says the line has an unclosed quote after the ID, which the reason keeps.
func parseWithReason(sp *spec, norm string, rest []token, unclosed bool) (Command, error) {
	if len(rest) == 0 {
		return Command{}, sp.usageError("missing %s", slotWords(slotID))
	}
	first := rest[0]
	if first.isFlag() {
		if first.isHelpFlag() {
			return Command{Kind: KindHelp, Topic: sp.name()}, nil
		}
		spelling, _, _ := strings.Cut(first.text, "=")
		if _, err := sp.lookupFlag(spelling); err != nil {
			return Command{}, err
		}
		return Command{}, sp.usageError("missing %s before %s", slotWords(slotID), clip(spelling))
	}
	id, msg := jobID(first.text)
	if msg != "" {
		return Command{}, sp.usageError("%s", msg)
	}
	reason := strings.TrimSpace(norm[first.end:])
	if !unclosed && len(rest) == 2 {
		if rest[1].isHelpFlag() {
			return Command{Kind: KindHelp, Topic: sp.name()}, nil
		}
		if rest[1].quoted {
			reason = strings.TrimSpace(rest[1].text)
		}
	}
	if msg := checkReason(reason); msg != "" {
		return Command{}, sp.usageError("%s", msg)
	}
	return Command{Kind: sp.kind, JobID: id, Reason: reason}, nil
}

// quoteWord shows a word the user typed inside a message, quoted only when it would otherwise
// be hard to see (empty or containing spaces).
func quoteWord(s string) string {
	s = clip(s)
	if s == "" || strings.ContainsAny(s, " \"'") {
		return strconv.Quote(s)
	}
	return s
}

// clip shortens what the user typed to a length that fits in a one-line message.
func clip(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-3]) + "..."
}
