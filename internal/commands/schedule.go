package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/sched"
)

// ScheduleCommand is what `/aks schedule ...` asks for.
type ScheduleCommand struct {
	Action string // add, list, show, pause, resume, delete
	Name   string // all but list
	// Op is add's operation; its target's cluster and resource group are the command's.
	Op       *aks.Operation
	Cron     string // add: the expression, its fields separated by single spaces
	TimeZone string // add: IANA name; "" = UTC
}

var scheduleActions = []string{"add", "list", "show", "pause", "resume", "delete"}

var scheduleNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// parseSchedule reads the words after "schedule". Its grammar has an operation inside it
// (stop, start, nodepool scale POOL, nodepool update POOL), so it reads positionals itself and
// takes only value flags.
func parseSchedule(sp *spec, toks []token) (Command, error) {
	in := &input{slots: map[string]string{}, vals: map[string][]string{}, used: map[string]string{}}
	var pos []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.isFlag() {
			pos = append(pos, t.text)
			continue
		}
		if t.isHelpFlag() {
			return Command{Kind: KindHelp, Topic: string(KindSchedule)}, nil
		}
		spelling, inline, hasInline := strings.Cut(t.text, "=")
		f, err := sp.lookupFlag(spelling)
		if err != nil {
			return Command{}, err
		}
		var v string
		switch {
		case hasInline:
			v = inline
		case i+1 < len(toks) && !toks[i+1].isFlag():
			i++
			v = toks[i].text
		default:
			return Command{}, sp.usageError("%s needs a value (%s)", spelling, sp.metaOf(f))
		}
		if _, ok := in.used[f.long]; ok {
			return Command{}, sp.usageError("%s is given twice", f.long)
		}
		in.used[f.long] = spelling
		in.vals[f.long] = []string{v}
	}
	if len(pos) == 0 {
		return Command{}, sp.usageError("missing what to do: one of %s", strings.Join(scheduleActions, ", "))
	}
	action := strings.ToLower(pos[0])
	pos = pos[1:]
	sc := &ScheduleCommand{Action: action}
	c := Command{Kind: KindSchedule, Schedule: sc}
	rg, msg := resourceGroup(in)
	if msg != "" {
		return Command{}, sp.usageError("%s", msg)
	}
	c.ResourceGroup = rg
	allowed := map[string]bool{}
	switch action {
	case "add":
		allowed = map[string]bool{fResourceGroup: true, fCron: true, fTZ: true, fNodeCount: true, fMinCount: true, fMaxCount: true}
	case "list":
		allowed[fResourceGroup] = true
	case "show", "pause", "resume", "delete":
	default:
		msg := "unknown schedule action " + quoteWord(action)
		if s := suggest(action, scheduleActions); s != "" {
			msg += "; did you mean " + s + "?"
		}
		return Command{}, sp.usageError("%s", msg)
	}
	for long, spelling := range in.used {
		if !allowed[long] {
			return Command{}, sp.usageError("schedule %s takes no %s", action, spelling)
		}
	}
	if action == "list" {
		if len(pos) > 1 {
			return Command{}, sp.usageError("unexpected argument %s", quoteWord(pos[1]))
		}
		if len(pos) == 1 {
			if msg := checkCluster(pos[0]); msg != "" {
				return Command{}, sp.usageError("%s", msg)
			}
			c.Cluster = pos[0]
		}
		return c, nil
	}
	if len(pos) == 0 {
		return Command{}, sp.usageError("missing the schedule's NAME")
	}
	if !scheduleNameRe.MatchString(pos[0]) {
		return Command{}, sp.usageError("invalid schedule name %s: use 1-40 lowercase letters, digits and '-', starting with a letter or digit", quoteWord(pos[0]))
	}
	sc.Name = pos[0]
	pos = pos[1:]
	if action != "add" {
		if len(pos) > 0 {
			return Command{}, sp.usageError("unexpected argument %s", quoteWord(pos[0]))
		}
		return c, nil
	}
	if len(pos) == 0 {
		return Command{}, sp.usageError("missing CLUSTER")
	}
	if msg := checkCluster(pos[0]); msg != "" {
		return Command{}, sp.usageError("%s", msg)
	}
	c.Cluster = pos[0]
	op, msg := scheduleOp(in, pos[1:])
	if msg != "" {
		return Command{}, sp.usageError("%s", msg)
	}
	op.Target = aks.Target{ResourceGroup: c.ResourceGroup, Cluster: c.Cluster, Pool: op.Target.Pool}
	sc.Op = op
	if !in.has(fCron) {
		return Command{}, sp.usageError("missing --cron: when should it run? e.g. --cron \"0 19 * * 1-5\"")
	}
	sc.Cron = strings.Join(strings.Fields(in.value(fCron)), " ")
	sc.TimeZone = in.value(fTZ)
	if _, err := sched.Parse(sc.Cron, sc.TimeZone); err != nil {
		msg := err.Error()
		if !strings.Contains(sc.Cron, " ") && !strings.HasPrefix(sc.Cron, "@") || sc.Cron == "@every" {
			msg += `; put the whole expression in quotes: --cron "0 19 * * 1-5"`
		}
		return Command{}, sp.usageError("%s", msg)
	}
	return c, nil
}

// scheduleOp reads add's operation words and their flags.
func scheduleOp(in *input, words []string) (*aks.Operation, string) {
	const which = "which operation? stop, start, nodepool scale POOL --node-count N or nodepool update POOL --min-count N --max-count N"
	if len(words) == 0 {
		return nil, "missing the operation: " + which
	}
	first := strings.ToLower(words[0])
	noCounts := func() string {
		for _, f := range []string{fNodeCount, fMinCount, fMaxCount} {
			if in.has(f) {
				return fmt.Sprintf("%s does not apply to %s", in.used[f], first)
			}
		}
		return ""
	}
	switch first {
	case "stop", "start":
		if len(words) > 1 {
			return nil, "unexpected argument " + quoteWord(words[1])
		}
		if msg := noCounts(); msg != "" {
			return nil, msg
		}
		if first == "stop" {
			return &aks.Operation{Kind: aks.OpClusterStop}, ""
		}
		return &aks.Operation{Kind: aks.OpClusterStart}, ""
	case "nodepool":
	default:
		return nil, "unknown operation " + quoteWord(words[0]) + ": " + which
	}
	if len(words) < 3 {
		return nil, "missing the nodepool operation and POOL: " + which
	}
	if len(words) > 3 {
		return nil, "unexpected argument " + quoteWord(words[3])
	}
	pool := words[2]
	if msg := checkPool(pool, ""); msg != "" {
		return nil, msg
	}
	switch strings.ToLower(words[1]) {
	case "scale":
		if in.has(fMinCount) || in.has(fMaxCount) {
			return nil, "nodepool scale takes --node-count, not --min-count or --max-count"
		}
		return scaleOp(in, pool)
	case "update":
		if in.has(fNodeCount) {
			return nil, "nodepool update takes --min-count and --max-count, not --node-count"
		}
		if !in.has(fMinCount) || !in.has(fMaxCount) {
			return nil, "nodepool update needs --min-count and --max-count"
		}
		lo, msg := count(in, fMinCount, 0)
		if msg != "" {
			return nil, msg
		}
		hi, msg := count(in, fMaxCount, 1)
		if msg != "" {
			return nil, msg
		}
		if *lo > *hi {
			return nil, fmt.Sprintf("--min-count %d is more than --max-count %d", *lo, *hi)
		}
		return &aks.Operation{Kind: aks.OpPoolAutoscale, Target: aks.Target{Pool: pool}, Autoscaler: &aks.Autoscaler{Min: *lo, Max: *hi}}, ""
	}
	return nil, "unknown nodepool operation " + quoteWord(words[1]) + ": " + which
}

// scheduleString writes a schedule command in canonical form; Parse reads it back unchanged.
func (c Command) scheduleString() string {
	sc := c.Schedule
	w := []string{"schedule", sc.Action}
	if sc.Name != "" {
		w = append(w, quote(sc.Name))
	}
	if c.Cluster != "" {
		w = append(w, quote(c.Cluster))
	}
	if op := sc.Op; op != nil {
		switch op.Kind {
		case aks.OpClusterStop:
			w = append(w, "stop")
		case aks.OpClusterStart:
			w = append(w, "start")
		case aks.OpPoolScale:
			w = append(w, "nodepool", "scale", quote(op.Target.Pool))
			if op.NodeCount != nil {
				w = append(w, fNodeCount, strconv.Itoa(*op.NodeCount))
			}
		case aks.OpPoolAutoscale:
			w = append(w, "nodepool", "update", quote(op.Target.Pool))
			if op.Autoscaler != nil {
				w = append(w, fMinCount, strconv.Itoa(op.Autoscaler.Min), fMaxCount, strconv.Itoa(op.Autoscaler.Max))
			}
		}
	}
	if c.ResourceGroup != "" {
		w = append(w, "-g", quote(c.ResourceGroup))
	}
	if sc.Cron != "" {
		w = append(w, fCron, quote(sc.Cron))
	}
	if sc.TimeZone != "" {
		w = append(w, fTZ, quote(sc.TimeZone))
	}
	return strings.Join(w, " ")
}
