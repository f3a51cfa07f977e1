package commands

import (
	"fmt"
	"strings"
)

// Help returns the /aks overview (topic "") or one command's help: usage, what it does, its
// flags and examples. Topic "nodepool" lists the nodepool subcommands. The text is Slack mrkdwn
// and stays under Slack's 3,000-character limit for a text object. An unknown topic returns a
// *UsageError suggesting the closest command.
func Help(topic string) (string, error) {
	return aksGrammar.help(topic)
}

func (g *grammar) help(topic string) (string, error) {
	topic, err := g.canonicalTopic(topic)
	if err != nil {
		return "", err
	}
	switch topic {
	case "":
		return g.overviewHelp(), nil
	case g.group:
		return g.groupHelp(), nil
	}
	return commandHelp(g.byWords[topic].sp), nil
}

// canonicalTopic turns what was typed after "help" into a known topic: lower case, single
// spaces, without a leading slash command, a command's alias read as the command.
func (g *grammar) canonicalTopic(topic string) (string, error) {
	words := strings.Fields(strings.ToLower(normalise(topic)))
	if len(words) > 0 && words[0] == g.slash {
		words = words[1:]
	}
	for i, w := range words {
		words[i] = g.word(w)
	}
	t := strings.Join(words, " ")
	if t == "" || t == g.group {
		return t, nil
	}
	if e, ok := g.byWords[t]; ok {
		return e.sp.name(), nil
	}
	topics := []string{g.group}
	for _, s := range g.list {
		topics = append(topics, s.name())
	}
	msg := "no help for " + quoteWord(t)
	if s := suggest(t, topics); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return "", &UsageError{Message: msg, Usage: g.byKind[KindHelp].usageText()}
}

func (g *grammar) overviewHelp() string {
	var b strings.Builder
	b.WriteString(g.intro + "\n")
	for _, s := range g.list {
		fmt.Fprintf(&b, "• `%s %s` – %s\n", g.slash, shortUsage(s), s.summary)
	}
	b.WriteString(g.outro)
	return b.String()
}

// shortUsage is the usage without optional flags, to keep the overview to one line a command.
func shortUsage(s *spec) string {
	u := s.usage[0]
	switch s.kind {
	case KindHelp, KindList, KindGetVersions, KindJobs, KindEKSList:
		return u
	case KindNodepoolUpdate:
		return "nodepool update CLUSTER POOL --enable-cluster-autoscaler|--update-cluster-autoscaler|--disable-cluster-autoscaler ..."
	}
	var kept []string
	for _, w := range strings.Fields(u) {
		if strings.HasPrefix(w, "[-") {
			break // optional flags; optional arguments such as [CLUSTER] stay
		}
		kept = append(kept, w)
	}
	return strings.Join(kept, " ")
}

func (g *grammar) groupHelp() string {
	var b strings.Builder
	b.WriteString(g.groupIntro + "\n")
	for _, s := range g.list {
		if strings.HasPrefix(s.name(), g.group+" ") {
			fmt.Fprintf(&b, "• `%s %s` – %s\n", g.slash, shortUsage(s), s.summary)
		}
	}
	fmt.Fprintf(&b, "`%s help %s SUBCOMMAND` shows a subcommand's flags and examples.", g.slash, g.group)
	return b.String()
}

func commandHelp(s *spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s %s* – %s\n", s.g.slash, s.name(), s.summary)
	b.WriteString("```\n" + s.usageText() + "\n```\n")
	b.WriteString(s.about + "\n")
	if len(s.aliases) > 0 {
		also := make([]string, len(s.aliases))
		for i, a := range s.aliases {
			also[i] = "`" + a.words + "`"
		}
		b.WriteString("Also typed as " + strings.Join(also, ", ") + ".\n")
	}
	if len(s.flags) > 0 {
		b.WriteString("*Flags*\n")
		for _, long := range s.flags {
			f := s.g.flags[long]
			names := long
			if f.short != "" {
				names = f.short + ", " + long
			}
			if meta := s.metaOf(f); meta != "" {
				names += " " + meta
			}
			help := s.flagHelp(f)
			if len(f.aliases) > 0 {
				help += " (also " + strings.Join(f.aliases, ", ") + ")"
			}
			fmt.Fprintf(&b, "• `%s` – %s\n", names, help)
		}
	}
	b.WriteString("*Examples*\n")
	for _, e := range s.examples {
		fmt.Fprintf(&b, "`%s %s`\n", s.g.slash, e)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// flagHelp describes a flag for this command: the name flags mean different things in cluster
// and nodepool commands, as in az.
func (s *spec) flagHelp(f *flagDef) string {
	if note, ok := s.notes[f.long]; ok {
		return note
	}
	switch s.slotOf(f.long) {
	case slotCluster:
		return "the cluster, instead of the positional CLUSTER"
	case slotNodegroup:
		return "the node group, instead of the positional NODEGROUP"
	case slotPool:
		switch {
		case len(s.args) > 1:
			return "the node pool, instead of the positional POOL"
		case s.kind == KindAbort:
			return "abort the pool's operation rather than the cluster's"
		}
		return "the node pool to scale (default: the cluster's only pool)"
	}
	return f.help
}
