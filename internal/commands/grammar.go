package commands

import (
	"strings"
)

// grammar is the language of one slash command (/aks, /eks): its commands, their flags, the
// word that groups subcommands and the texts of its help. The lexer, the scanner, the help
// layout and Command.String are shared: only what is typed differs.
type grammar struct {
	slash string // "/aks"
	group string // the word before subcommands: "nodepool"
	list  []*spec
	// byKind finds a command by its Kind; byWords by what is typed: its words and its aliases.
	byKind  map[Kind]*spec
	byWords map[string]entry
	// flags finds a flag by any of its spellings.
	flags map[string]*flagDef
	// synonyms are words read as another one before commands are looked up ("ng" is "nodegroup").
	synonyms map[string]string
	// elsewhere explains words that are not commands here but are elsewhere ("abort" on /eks).
	elsewhere map[string]string
	// foreignFlags answer the other slash command's flags typed here ("--node-count" on /eks).
	foreignFlags map[string]string
	// suggestSub also offers the group's subcommands for a mistyped first word ("sacle" ->
	// "nodegroup scale"), for a grammar whose verbs all sit in the group.
	suggestSub bool

	intro      string // the overview's first line
	outro      string // the overview's last line
	groupIntro string // the first line of the group's help
	// overviewUsage is the usage shown for input that names no known command.
	overviewUsage string
}

// entry is what a typed command stands for. all is set for eksctl's `get`, which shows one
// thing when named and lists them all when not: it is the command when sp's last positional
// argument is left out.
type entry struct {
	sp  *spec
	all *spec
}

// newGrammar binds the specs to g and indexes them: every command by its kind, its words and its
// aliases; every flag by its spellings. Mutating commands take --dry-run.
func newGrammar(g *grammar, flagDefs []*flagDef) *grammar {
	g.byKind = make(map[Kind]*spec, len(g.list))
	g.byWords = make(map[string]entry, len(g.list))
	for _, s := range g.list {
		s.g = g
		if (Command{Kind: s.kind}).Mutating() && !s.takes(fDryRun) {
			s.flags = append(s.flags, fDryRun)
		}
		g.byKind[s.kind] = s
		g.byWords[s.name()] = entry{sp: s}
	}
	for _, s := range g.list {
		for _, a := range s.aliases {
			if _, dup := g.byWords[a.words]; dup {
				panic("commands: " + g.slash + " " + a.words + " is defined twice")
			}
			e := entry{sp: s}
			if a.all != "" {
				e.all = g.byKind[a.all]
			}
			g.byWords[a.words] = e
		}
	}
	g.flags = make(map[string]*flagDef)
	for _, f := range flagDefs {
		for _, spelling := range f.spellings() {
			g.flags[spelling] = f
		}
	}
	g.overviewUsage = g.slash + " COMMAND [ARGS] [FLAGS] (commands: " + strings.Join(g.topLevelWords(), ", ") +
		"; " + g.group + ": " + strings.Join(g.groupWords(), ", ") + "; " + g.slash + " help COMMAND for details)"
	return g
}

// word reads a typed word as the grammar knows it: lower case, synonyms replaced.
func (g *grammar) word(s string) string {
	w := strings.ToLower(s)
	if syn, ok := g.synonyms[w]; ok {
		return syn
	}
	return w
}

// topLevelWords lists the first words of all commands, in help order.
func (g *grammar) topLevelWords() []string {
	var words []string
	seen := map[string]bool{}
	for _, s := range g.list {
		w, _, _ := strings.Cut(s.name(), " ")
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

// groupWords lists the group's subcommands, in help order.
func (g *grammar) groupWords() []string {
	var words []string
	for _, s := range g.list {
		if sub, ok := strings.CutPrefix(s.name(), g.group+" "); ok {
			words = append(words, sub)
		}
	}
	return words
}

func (g *grammar) groupUsage() string {
	var lines []string
	for _, s := range g.list {
		if strings.HasPrefix(s.name(), g.group+" ") {
			lines = append(lines, s.usageText())
		}
	}
	return strings.Join(lines, "\n")
}

// lookup finds the command the tokens start with and returns the tokens after its words.
func (g *grammar) lookup(toks []token) (*spec, []token, error) {
	if len(toks) == 0 {
		return g.byKind[KindHelp], nil, nil
	}
	first := toks[0]
	if first.isFlag() {
		if first.isHelpFlag() {
			return g.byKind[KindHelp], toks[1:], nil
		}
		return nil, nil, &UsageError{
			Message: "missing command before " + first.text,
			Usage:   g.overviewUsage,
		}
	}
	word := g.word(first.text)
	// Two words first: a group's subcommand, or an alias such as eksctl's "get nodegroup".
	if len(toks) > 1 && !toks[1].isFlag() && !strings.Contains(word, " ") {
		if e, ok := g.byWords[word+" "+g.word(toks[1].text)]; ok {
			return e.pick(toks[2:]), toks[2:], nil
		}
	}
	if word != g.group {
		if e, ok := g.byWords[word]; ok && !strings.Contains(word, " ") {
			return e.pick(toks[1:]), toks[1:], nil
		}
		msg := "unknown command " + quoteWord(first.text)
		if hint, ok := g.elsewhere[word]; ok {
			msg += "; " + hint
		} else if _, ok := g.byWords[g.group+" "+word]; ok {
			msg += "; did you mean " + g.group + " " + word + "?"
		} else if s := suggest(word, g.topLevelWords()); s != "" {
			msg += "; did you mean " + s + "?"
		} else if s := suggest(word, g.groupWords()); s != "" && g.suggestSub {
			msg += "; did you mean " + g.group + " " + s + "?"
		}
		return nil, nil, &UsageError{Message: msg, Usage: g.overviewUsage}
	}
	if len(toks) == 1 {
		return nil, nil, &UsageError{Message: "missing " + g.group + " subcommand", Usage: g.groupUsage()}
	}
	second := toks[1]
	if second.isFlag() {
		if second.isHelpFlag() {
			return g.byKind[KindHelp], []token{{text: g.group}}, nil
		}
		return nil, nil, &UsageError{Message: "missing " + g.group + " subcommand before " + second.text, Usage: g.groupUsage()}
	}
	msg := "unknown " + g.group + " subcommand " + quoteWord(second.text)
	if s := suggest(g.word(second.text), g.groupWords()); s != "" {
		msg += "; did you mean " + g.group + " " + s + "?"
	}
	return nil, nil, &UsageError{Message: msg, Usage: g.groupUsage()}
}

// pick returns the command the entry stands for with these words after it: for eksctl's get,
// the list when the last positional argument is not given.
func (e entry) pick(rest []token) *spec {
	if e.all == nil {
		return e.sp
	}
	last := e.sp.args[len(e.sp.args)-1]
	trial := *e.sp
	trial.args, trial.optional = e.sp.args[:len(e.sp.args)-1], []string{last}
	in, err := scan(&trial, rest)
	if err == nil && in.slots[last] == "" {
		return e.all
	}
	return e.sp // named, or refused: the command's own scan says why
}

// start reads a line up to the command's words. It returns the command and the words after
// them, or, when the line is answered already (help, a refusal, a command with a free-text
// reason), a nil spec and the answer.
func (g *grammar) start(text string) (*spec, []token, Command, error) {
	if len(text) > maxInput {
		return nil, nil, Command{}, &UsageError{
			Message: "the command is too long",
			Usage:   g.overviewUsage,
		}
	}
	norm := normalise(text)
	toks, lexErr := tokenize(norm)
	if len(toks) > 0 && !toks[0].quoted && strings.EqualFold(toks[0].text, g.slash) {
		toks = toks[1:]
	}
	sp, rest, err := g.lookup(toks)
	// A free-text reason may hold an unclosed quote ("deny 7 don't "fix it"): the words before
	// it were read whole, and the reason is taken as typed.
	if lexErr != nil && (err != nil || sp.reason == "" || len(rest) == 0 || rest[0].isFlag()) {
		return nil, nil, Command{}, &UsageError{Message: lexErr.Error(), Usage: g.overviewUsage}
	}
	if err != nil {
		return nil, nil, Command{}, err
	}
	if sp.reason != "" {
		c, err := parseWithReason(sp, norm, rest, lexErr != nil)
		return nil, nil, c, err
	}
	if sp.kind == KindHelp {
		words := make([]string, len(rest))
		for i, t := range rest {
			words[i] = t.text
		}
		topic, err := g.canonicalTopic(strings.Join(words, " "))
		if err != nil {
			return nil, nil, Command{}, err
		}
		return nil, nil, Command{Kind: KindHelp, Topic: topic}, nil
	}
	return sp, rest, Command{}, nil
}

// parseArgs reads the words after the command: --help anywhere asks for the command's help
// (in is then nil); else they are scanned and built into a Command of the command's kind.
func (sp *spec) parseArgs(rest []token) (Command, *input, error) {
	for _, t := range rest {
		if t.isHelpFlag() {
			return Command{Kind: KindHelp, Topic: sp.name()}, nil, nil
		}
	}
	in, err := scan(sp, rest)
	if err != nil {
		return Command{}, nil, err
	}
	c, msg := sp.build(in)
	if msg != "" {
		return Command{}, nil, sp.usageError("%s", msg)
	}
	c.Kind = sp.kind
	c.DryRun = in.has(fDryRun)
	return c, in, nil
}

// specByKind finds the command of a Kind in either grammar. The kinds both share (jobs,
// approve, ...) are written the same in both, so the /aks one serves for them.
func specByKind(k Kind) (*spec, bool) {
	if sp, ok := aksGrammar.byKind[k]; ok {
		return sp, true
	}
	sp, ok := eksGrammar.byKind[k]
	return sp, ok
}
