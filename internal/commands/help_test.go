package commands

import (
	"errors"
	"strings"
	"testing"
)

// slackTextLimit is Slack's limit for one text object.
const slackTextLimit = 3000

func allTopics() []string {
	topics := []string{"", "nodepool"}
	for _, s := range specList {
		topics = append(topics, string(s.kind))
	}
	return topics
}

func TestHelpOverviewListsEveryCommandOnALine(t *testing.T) {
	text, err := Help("")
	if err != nil {
		t.Fatal(err)
	}
	if len(text) >= slackTextLimit {
		t.Errorf("overview is %d characters, want under %d", len(text), slackTextLimit)
	}
	lines := strings.Split(text, "\n")
	for _, s := range specList {
		prefix := "`/aks " + string(s.kind)
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "• "+prefix+" ") || strings.HasPrefix(l, "• "+prefix+"`") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("overview has %d lines for %q, want 1", n, s.kind)
		}
	}
}

func TestHelpTopics(t *testing.T) {
	for _, topic := range allTopics() {
		t.Run(topic, func(t *testing.T) {
			text, err := Help(topic)
			if err != nil {
				t.Fatalf("Help(%q): %v", topic, err)
			}
			if len(text) >= slackTextLimit {
				t.Errorf("help is %d characters, want under %d", len(text), slackTextLimit)
			}
			sp, ok := specs[Kind(topic)]
			if !ok {
				return
			}
			if !strings.Contains(text, sp.usageText()) {
				t.Errorf("help does not show the usage %q", sp.usageText())
			}
			if n := len(sp.examples); n < 1 || n > 3 {
				t.Errorf("help has %d examples, want 1-3", n)
			}
			for _, long := range sp.flags {
				if !strings.Contains(text, long) {
					t.Errorf("help does not describe %s", long)
				}
				if short := flagsBySpelling[long].short; short != "" && !strings.Contains(text, short+", "+long) {
					t.Errorf("help does not give the alias %s of %s", short, long)
				}
			}
		})
	}
}

// TestHelpExamplesParse keeps the examples honest: each parses, as the command it documents.
func TestHelpExamplesParse(t *testing.T) {
	for _, sp := range specList {
		for _, ex := range sp.examples {
			text, err := Help(string(sp.kind))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "`/aks "+ex+"`") {
				t.Errorf("help of %s does not show example %q", sp.kind, ex)
			}
			c, err := Parse(ex)
			if err != nil {
				t.Errorf("example %q of %s does not parse: %v", ex, sp.kind, err)
				continue
			}
			if c.Kind != sp.kind {
				t.Errorf("example %q of %s parses as %s", ex, sp.kind, c.Kind)
			}
		}
	}
}

func TestHelpNodepoolListsSubcommands(t *testing.T) {
	text, err := Help("nodepool")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"list", "add", "scale", "update", "delete", "upgrade"} {
		if !strings.Contains(text, "`/aks nodepool "+sub+" ") {
			t.Errorf("help nodepool does not list nodepool %s", sub)
		}
	}
	if strings.Contains(text, "/aks create") {
		t.Errorf("help nodepool lists cluster commands")
	}
}

func TestHelpTopicIsNormalised(t *testing.T) {
	want, err := Help("nodepool scale")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{" /aks  Nodepool\u00a0SCALE ", "nodepool scale\n"} {
		got, err := Help(topic)
		if err != nil {
			t.Fatalf("Help(%q): %v", topic, err)
		}
		if got != want {
			t.Errorf("Help(%q) differs from Help(%q)", topic, "nodepool scale")
		}
	}
}

func TestHelpUnknownTopic(t *testing.T) {
	cases := map[string]string{
		"sacle":          "did you mean scale?",
		"nodepool sacle": "did you mean nodepool scale?",
		"get-version":    "did you mean get-versions?",
		"kubectl":        "no help for kubectl",
	}
	for topic, want := range cases {
		_, err := Help(topic)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("Help(%q) error = %v, want *UsageError", topic, err)
		}
		if !strings.Contains(ue.Message, want) {
			t.Errorf("Help(%q) message %q does not contain %q", topic, ue.Message, want)
		}
		if !strings.Contains(ue.Usage, "/aks help") {
			t.Errorf("Help(%q) usage %q does not show /aks help", topic, ue.Usage)
		}
	}
}

// TestParseHelpMatchesHelp: what Parse puts in Topic is what Help accepts.
func TestParseHelpMatchesHelp(t *testing.T) {
	for _, topic := range allTopics() {
		c, err := Parse("help " + strings.ToUpper(topic))
		if err != nil {
			t.Fatalf("Parse(help %s): %v", topic, err)
		}
		if c.Kind != KindHelp || c.Topic != topic {
			t.Errorf("Parse(help %s) = %+v, want topic %q", topic, c, topic)
		}
		if _, err := Help(c.Topic); err != nil {
			t.Errorf("Help(%q): %v", c.Topic, err)
		}
	}
}

// TestErrorUsageMatchesHelp: a refused command's usage is the usage its help shows.
func TestErrorUsageMatchesHelp(t *testing.T) {
	for _, sp := range specList {
		if sp.kind == KindHelp {
			continue
		}
		_, err := Parse(string(sp.kind) + " --no-such-flag")
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("%s --no-such-flag: error %v, want *UsageError", sp.kind, err)
		}
		text, _ := Help(string(sp.kind))
		if !strings.Contains(text, ue.Usage) {
			t.Errorf("%s: error usage %q is not in its help", sp.kind, ue.Usage)
		}
	}
}
