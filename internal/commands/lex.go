package commands

import (
	"errors"
	"strings"
	"unicode"
)

// maxInput bounds the work Parse does; Slack's own limit for slash command text is far lower.
const maxInput = 4000

// token is one word of the command. quoted is set when the word started with a quote: such a
// word is always a value, even if it starts with '-'.
type token struct {
	text   string
	quoted bool
	end    int // byte offset just past the word in the text, to take the rest of a line as typed
}

func (t token) isHelpFlag() bool {
	return t.isFlag() && (t.text == "-h" || strings.EqualFold(t.text, "--help"))
}

// isFlag reports whether the token is a flag. "-3" is a (negative) number, so that
// "--node-count -3" says the count is out of range rather than that a value is missing.
func (t token) isFlag() bool {
	if t.quoted || len(t.text) < 2 || t.text[0] != '-' {
		return false
	}
	return t.text[1] < '0' || t.text[1] > '9'
}

// entities undoes Slack's escaping of slash command text, which sends &, < and > as HTML
// entities. Command.String escapes them again, so that parsing its output is stable.
var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// normalise undoes what chat clients do to typed text: smart quotes become ASCII quotes, every
// kind of space (non-breaking, thin, ideographic, tabs, newlines) becomes a plain space,
// zero-width characters disappear and hyphen look-alikes become '-'. Long dashes that stand
// for "--" are handled by tokenize, where it is known whether they start a word.
func normalise(s string) string {
	s = entities.Replace(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '\u201c', '\u201d', '\u201e', '\u201f', '\u2033', '\uff02':
			b.WriteByte('"')
		case '\u2018', '\u2019', '\u201a', '\u201b', '\u2032', '\uff07':
			b.WriteByte('\'')
		case '\u2010', '\u2011':
			b.WriteByte('-')
		case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		default:
			if unicode.IsSpace(r) {
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// isLongDash reports whether r is a dash that a chat client may have made out of "--".
func isLongDash(r rune) bool {
	switch r {
	case '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return false
}

var errUnterminated = errors.New("a quote is not closed")

// tokenize splits normalised text into words, shell-like but forgiving: a quote opens a quoted
// part only at the start of a word or right after '=' (so `--tags owner="Jane Doe"` works and
// "O'Brien" stays one word), and inside double quotes \" and \\ are escapes. A long dash at the
// start of an unquoted word becomes "--". When a quote is not closed it returns the words
// before the unclosed one along with errUnterminated.
func tokenize(s string) ([]token, error) {
	var (
		toks   []token
		b      strings.Builder
		inWord bool
		quoted bool
		quote  rune // the open quote, 0 when none
		escape bool // the previous rune was a backslash inside double quotes
		prev   rune // the previous rune of the current word
	)
	flush := func(end int) {
		if inWord {
			toks = append(toks, token{text: b.String(), quoted: quoted, end: end})
		}
		b.Reset()
		inWord, quoted, prev = false, false, 0
	}
	for i, r := range s {
		switch {
		case escape:
			if r != '"' && r != '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
			escape = false
		case quote != 0:
			switch {
			case r == quote:
				quote = 0
			case r == '\\' && quote == '"':
				escape = true
			default:
				b.WriteRune(r)
			}
		case (r == '"' || r == '\'') && (!inWord || prev == '='):
			if !inWord {
				quoted = true
			}
			inWord = true
			quote = r
		case r == ' ':
			flush(i)
		case !inWord && isLongDash(r):
			b.WriteString("--")
			inWord = true
		default:
			b.WriteRune(r)
			inWord = true
		}
		prev = r
	}
	if quote != 0 {
		return toks, errUnterminated
	}
	flush(len(s))
	return toks, nil
}

// quote writes a value so that tokenize reads it back unchanged: Slack's entities are escaped,
// and anything beyond plain name characters is put in double quotes.
func quote(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	plain := s != "" && s[0] != '-'
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._:/=@+,-;&", r))) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
