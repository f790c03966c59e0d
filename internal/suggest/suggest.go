// Package suggest finds the name someone probably meant when they typed one
// that does not exist: a misspelt config key or upstream variable.
package suggest

import "strings"

// Closest returns the candidate nearest to s by edit distance, ignoring
// case, among those fewer than limit edits away and accepted by accept (nil
// accepts all); "" when there is none, so a wild guess is never offered.
func Closest(s string, candidates []string, limit int, accept func(string) bool) string {
	s = strings.ToLower(s)
	best, bestDist := "", limit
	for _, c := range candidates {
		if abs(len(c)-len(s)) >= bestDist {
			continue // cannot beat the best so far; keeps long lists cheap
		}
		if d := Distance(s, strings.ToLower(c)); d < bestDist && (accept == nil || accept(c)) {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
