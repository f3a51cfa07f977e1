package commands

import (
	"errors"
	"strings"
	"testing"
)

func eksTopics() []string {
	topics := []string{"", "nodegroup"}
	for _, s := range eksSpecList {
		topics = append(topics, s.name())
	}
	return topics
}

func TestHelpEKSOverviewListsEveryCommandOnALine(t *testing.T) {
	text, err := HelpEKS("")
	if err != nil {
		t.Fatal(err)
	}
	if len(text) >= slackTextLimit {
		t.Errorf("overview is %d characters, want under %d", len(text), slackTextLimit)
	}
	lines := strings.Split(text, "\n")
	for _, s := range eksSpecList {
		prefix := "`/eks " + s.name()
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "• "+prefix+" ") || strings.HasPrefix(l, "• "+prefix+"`") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("overview has %d lines for %q, want 1", n, s.name())
		}
	}
	if strings.Contains(text, "/aks") || strings.Contains(text, "Azure") {
		t.Errorf("the /eks overview speaks of /aks or Azure:\n%s", text)
	}
}

func TestHelpEKSTopics(t *testing.T) {
	for _, topic := range eksTopics() {
		t.Run(topic, func(t *testing.T) {
			text, err := HelpEKS(topic)
			if err != nil {
				t.Fatalf("HelpEKS(%q): %v", topic, err)
			}
			if len(text) >= slackTextLimit {
				t.Errorf("help is %d characters, want under %d", len(text), slackTextLimit)
			}
			for _, foreign := range []string{"/aks", "Azure", "resource group"} {
				if strings.Contains(text, foreign) {
					t.Errorf("help speaks of %s:\n%s", foreign, text)
				}
			}
			e, ok := eksGrammar.byWords[topic]
			if !ok {
				return
			}
			sp := e.sp
			if !strings.Contains(text, sp.usageText()) {
				t.Errorf("help does not show the usage %q", sp.usageText())
			}
			if n := len(sp.examples); n < 1 || n > 3 {
				t.Errorf("help has %d examples, want 1-3", n)
			}
			for _, long := range sp.flags {
				f := eksGrammar.flags[long]
				if !strings.Contains(text, long) {
					t.Errorf("help does not describe %s", long)
				}
				for _, a := range f.aliases {
					if !strings.Contains(text, a) {
						t.Errorf("help does not give the alias %s of %s", a, long)
					}
				}
			}
			for _, a := range sp.aliases {
				if !strings.Contains(text, "`"+a.words+"`") {
					t.Errorf("help does not give the alias %q", a.words)
				}
			}
		})
	}
}

// TestHelpEKSExamplesParse keeps the examples honest: each parses, as the command it documents.
func TestHelpEKSExamplesParse(t *testing.T) {
	for _, sp := range eksSpecList {
		text, err := HelpEKS(sp.name())
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range sp.examples {
			if !strings.Contains(text, "`/eks "+ex+"`") {
				t.Errorf("help of %s does not show example %q", sp.name(), ex)
			}
			c, err := ParseEKS(ex)
			if err != nil {
				t.Errorf("example %q of %s does not parse: %v", ex, sp.name(), err)
				continue
			}
			if c.Kind != sp.kind {
				t.Errorf("example %q of %s parses as %s", ex, sp.name(), c.Kind)
			}
		}
	}
}

func TestHelpEKSNodegroupListsSubcommands(t *testing.T) {
	text, err := HelpEKS("nodegroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"list", "describe", "create", "scale", "upgrade", "delete"} {
		if !strings.Contains(text, "`/eks nodegroup "+sub+" ") {
			t.Errorf("help nodegroup does not list nodegroup %s", sub)
		}
	}
	if strings.Contains(text, "/eks describe") || strings.Contains(text, "/eks jobs") {
		t.Errorf("help nodegroup lists other commands:\n%s", text)
	}
}

func TestHelpEKSTopicIsNormalised(t *testing.T) {
	want, err := HelpEKS("nodegroup scale")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{" /eks  Nodegroup\u00a0SCALE ", "ng scale", "nodegroups scale", "update-nodegroup-config", "scale nodegroup"} {
		got, err := HelpEKS(topic)
		if err != nil {
			t.Fatalf("HelpEKS(%q): %v", topic, err)
		}
		if got != want {
			t.Errorf("HelpEKS(%q) differs from HelpEKS(%q)", topic, "nodegroup scale")
		}
	}
}

func TestHelpEKSUnknownTopic(t *testing.T) {
	cases := map[string]string{
		"lsit":            "did you mean list?",
		"nodegroup sacle": "did you mean nodegroup scale?",
		"nodepool scale":  "no help for",
		"kubectl":         "no help for kubectl",
	}
	for topic, want := range cases {
		_, err := HelpEKS(topic)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("HelpEKS(%q) error = %v, want *UsageError", topic, err)
		}
		if !strings.Contains(ue.Message, want) {
			t.Errorf("HelpEKS(%q) message %q does not contain %q", topic, ue.Message, want)
		}
		if !strings.Contains(ue.Usage, "/eks help") {
			t.Errorf("HelpEKS(%q) usage %q does not show /eks help", topic, ue.Usage)
		}
	}
}

// TestParseEKSHelpMatchesHelp: what ParseEKS puts in Topic is what HelpEKS accepts.
func TestParseEKSHelpMatchesHelp(t *testing.T) {
	for _, topic := range eksTopics() {
		c, err := ParseEKS("help " + strings.ToUpper(topic))
		if err != nil {
			t.Fatalf("ParseEKS(help %s): %v", topic, err)
		}
		if c.Kind != KindHelp || c.Topic != topic {
			t.Errorf("ParseEKS(help %s) = %+v, want topic %q", topic, c, topic)
		}
	}
}

// TestEKSErrorUsageMatchesHelp: a refused command's usage is the usage its help shows.
func TestEKSErrorUsageMatchesHelp(t *testing.T) {
	for _, sp := range eksSpecList {
		if sp.kind == KindHelp {
			continue
		}
		_, err := ParseEKS(sp.name() + " --no-such-flag")
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("%s --no-such-flag: error %v, want *UsageError", sp.name(), err)
		}
		text, _ := HelpEKS(sp.name())
		if !strings.Contains(text, ue.Usage) {
			t.Errorf("%s: error usage %q is not in its help", sp.name(), ue.Usage)
		}
	}
}
