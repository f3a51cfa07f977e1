package commands

import "strings"

// maxSuggestInput keeps suggestions cheap: nobody mistypes a 40-character flag.
const maxSuggestInput = 40

// suggest returns the candidate closest to word by edit distance, or "" when none is close
// enough to be a likely typo.
func suggest(word string, candidates []string) string {
	if word == "" || len(word) > maxSuggestInput {
		return ""
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		d := distance(word, c)
		if d <= allowedDistance(c) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// suggestFlag is suggest for flags: it compares without the dashes, and also offers a flag
// whose name begins or ends with what was typed ("--count" -> "--node-count").
func suggestFlag(typed string, spellings []string) string {
	if s := suggest(typed, spellings); s != "" {
		return s
	}
	bare := strings.TrimLeft(typed, "-")
	if len(bare) < 3 || len(bare) > maxSuggestInput {
		return ""
	}
	for _, s := range spellings {
		name := strings.TrimLeft(s, "-")
		if strings.HasPrefix(s, "--") && (strings.HasPrefix(name, bare+"-") || strings.HasSuffix(name, "-"+bare)) {
			return s
		}
	}
	return ""
}

// allowedDistance is how many edits still look like a typo of a word this long.
func allowedDistance(word string) int {
	switch n := len(strings.TrimLeft(word, "-")); {
	case n <= 2:
		return 0
	case n <= 5:
		return 1
	default:
		return 2
	}
}

// distance is the optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of adjacent characters ("sacle" is one edit from "scale") each cost one.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the transposition looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
