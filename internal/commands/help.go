package commands

import (
	"fmt"
	"strings"
)

// Help returns the overview (topic "") or one command's help: usage, what it does, its flags
// and examples. Topic "nodepool" lists the nodepool subcommands. The text is Slack mrkdwn and
// stays under Slack's 3,000-character limit for a text object. An unknown topic returns a
// *UsageError suggesting the closest command.
func Help(topic string) (string, error) {
	topic, err := canonicalTopic(topic)
	if err != nil {
		return "", err
	}
	switch topic {
	case "":
		return overviewHelp(), nil
	case "nodepool":
		return nodepoolHelp(), nil
	}
	return commandHelp(specs[Kind(topic)]), nil
}

// canonicalTopic turns what was typed after "help" into a known topic: lower case, single
// spaces, without a leading "/aks".
func canonicalTopic(topic string) (string, error) {
	words := strings.Fields(strings.ToLower(normalise(topic)))
	if len(words) > 0 && words[0] == "/aks" {
		words = words[1:]
	}
	t := strings.Join(words, " ")
	if _, ok := specs[Kind(t)]; ok || t == "" || t == "nodepool" {
		return t, nil
	}
	topics := []string{"nodepool"}
	for _, s := range specList {
		topics = append(topics, string(s.kind))
	}
	msg := "no help for " + quoteWord(t)
	if s := suggest(t, topics); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return "", &UsageError{Message: msg, Usage: specs[KindHelp].usageText()}
}

func overviewHelp() string {
	var b strings.Builder
	b.WriteString("*aksbot* runs Azure Kubernetes Service operations. Changes become jobs: some wait for an approver, and each reports progress in a thread.\n")
	for _, s := range specList {
		fmt.Fprintf(&b, "• `/aks %s` – %s\n", shortUsage(s), s.summary)
	}
	b.WriteString("Commands that name a cluster take `-g RG`; without it the configured resource group is used. ")
	b.WriteString("Commands that change something take `--dry-run`: you alone see what the approval request would say (cost, quota, ETA), and nothing is stored or sent to Azure. ")
	b.WriteString("`/aks help COMMAND` or `/aks COMMAND --help` shows a command's flags and examples.")
	return b.String()
}

// shortUsage is the usage without optional flags, to keep the overview to one line a command.
func shortUsage(s *spec) string {
	u := s.usage[0]
	switch s.kind {
	case KindHelp, KindList, KindGetVersions, KindJobs:
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

func nodepoolHelp() string {
	var b strings.Builder
	b.WriteString("*Node pool commands*: manage the node pools (agent pools) of a cluster. POOL names are 1-12 lowercase letters and digits.\n")
	for _, s := range specList {
		if strings.HasPrefix(string(s.kind), "nodepool ") {
			fmt.Fprintf(&b, "• `/aks %s` – %s\n", shortUsage(s), s.summary)
		}
	}
	b.WriteString("`/aks help nodepool SUBCOMMAND` shows a subcommand's flags and examples.")
	return b.String()
}

func commandHelp(s *spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*/aks %s* – %s\n", s.kind, s.summary)
	b.WriteString("```\n" + s.usageText() + "\n```\n")
	b.WriteString(s.about + "\n")
	if len(s.flags) > 0 {
		b.WriteString("*Flags*\n")
		for _, long := range s.flags {
			f := flagsBySpelling[long]
			names := long
			if f.short != "" {
				names = f.short + ", " + long
			}
			if meta := s.metaOf(f); meta != "" {
				names += " " + meta
			}
			fmt.Fprintf(&b, "• `%s` – %s\n", names, s.flagHelp(f))
		}
	}
	b.WriteString("*Examples*\n")
	for _, e := range s.examples {
		fmt.Fprintf(&b, "`/aks %s`\n", e)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// flagHelp describes a flag for this command: the name flags mean different things in cluster
// and nodepool commands, as in az.
func (s *spec) flagHelp(f *flagDef) string {
	switch s.slotOf(f.long) {
	case slotCluster:
		return "the cluster, instead of the positional CLUSTER"
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
