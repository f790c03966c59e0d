package upstream

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	// derivingFilter marks a value that may derive a secret from another
	// variable: every such value must parse into a DerivedSecret or be
	// reported as skipped.
	derivingFilter = regexp.MustCompile(`\|\s*(hash|password_hash|to_uuid|checksum|md5|sha1|b64encode)\b`)
	// oneExpression is text with exactly one "{{ ... }}" in it.
	oneExpression = regexp.MustCompile(`(?s)^([^{}]*)\{\{\s*(.*?)\s*\}\}([^{}]*)$`)
	// elseEmpty is "X if COND else ''" (a Jinja conditional expression
	// binds more loosely than filters, so X is the whole filter chain).
	elseEmpty = regexp.MustCompile(`(?s)^(.*?)\s+if\s+(.+?)\s+else\s+(?:''|"")$`)

	// hashed is "(SOURCE + 'salt') | hash('alg')".
	hashed = `\(\s*(\w+)\s*[+~]\s*'([^'\\]*)'\s*\)\s*\|\s*hash\(\s*'(\w+)'\s*\)`
	// hashedUUID is hashed, then optionally "| to_uuid".
	hashedUUID = regexp.MustCompile(`^` + hashed + `(\s*\|\s*to_uuid)?$`)
	// hashedBase64 is "(hashed)[:N] | b64encode | regex_replace('=+$', '')".
	hashedBase64 = regexp.MustCompile(`^\(\s*` + hashed + `\s*\)\[\s*:\s*(\d+)\s*\]\s*\|\s*b64encode\s*\|\s*regex_replace\(\s*'=\+\$'\s*,\s*''\s*\)$`)
)

// derivedSecrets finds the secrets the upstream derives from other
// variables in the resolved values of defs (group_vars over role
// defaults, descending into lists and mappings), and the values that look
// derived in a form it does not extract. A value of an overridden role
// default is never used by the playbook and is not looked at.
func derivedSecrets(defs definitions) ([]DerivedSecret, []SkippedDerivation) {
	var derived []DerivedSecret
	var skipped []SkippedDerivation
	type value struct{ name, text string }
	var values []value
	for _, name := range defs.names() {
		n, _ := defs.value(name)
		for _, s := range allScalars(n) {
			values = append(values, value{name, s})
		}
	}
	done := map[value]bool{} // parsed or reported
	for _, v := range values {
		if !strings.Contains(v.text, "{{") || !derivingFilter.MatchString(v.text) {
			continue
		}
		done[v] = true
		d, reason := parseDerived(v.name, v.text)
		if reason != "" {
			skipped = append(skipped, SkippedDerivation{Variable: v.name, Value: v.text, Reason: reason})
			continue
		}
		derived = append(derived, d)
	}

	// A source used other than by a form above or a plain copy (which the
	// redaction of the source covers) may derive a secret too.
	sources := map[string]*regexp.Regexp{}
	for _, d := range derived {
		if sources[d.Source] == nil {
			sources[d.Source] = regexp.MustCompile(`\b` + regexp.QuoteMeta(d.Source) + `\b`)
		}
	}
	for _, v := range values {
		if done[v] || !strings.Contains(v.text, "{{") {
			continue
		}
		for _, src := range sortedKeys(sources) {
			if sources[src].MatchString(v.text) && !isCopy(v.text, src) {
				skipped = append(skipped, SkippedDerivation{Variable: v.name, Value: v.text,
					Reason: "uses " + src + " in another way than copying it or a known derivation"})
				break
			}
		}
	}

	slices.SortStableFunc(derived, func(a, b DerivedSecret) int {
		return cmp.Or(strings.Compare(a.Variable, b.Variable), strings.Compare(a.Salt, b.Salt))
	})
	slices.SortStableFunc(skipped, func(a, b SkippedDerivation) int {
		return cmp.Or(strings.Compare(a.Variable, b.Variable), strings.Compare(a.Value, b.Value))
	})
	return derived, skipped
}

// parseDerived parses one value that applies a deriving filter, or says
// why it cannot.
func parseDerived(name, text string) (DerivedSecret, string) {
	m := oneExpression.FindStringSubmatch(text)
	if m == nil {
		return DerivedSecret{}, "not a single {{ }} expression"
	}
	d := DerivedSecret{Variable: name, Before: m[1], After: m[3]}
	expr := m[2]
	if c := elseEmpty.FindStringSubmatch(expr); c != nil {
		expr, d.Condition = strings.TrimSpace(c[1]), c[2]
	}
	expr = unwrap(expr)
	if u := hashedUUID.FindStringSubmatch(expr); u != nil {
		d.Source, d.Salt, d.Hash, d.ToUUID = u[1], u[2], u[3], u[4] != ""
	} else if b := hashedBase64.FindStringSubmatch(expr); b != nil {
		n, err := strconv.Atoi(b[4])
		if err != nil || n == 0 {
			return DerivedSecret{}, "prefix [:" + b[4] + "] is not a positive number"
		}
		d.Source, d.Salt, d.Hash, d.HexPrefix, d.Base64 = b[1], b[2], b[3], n, true
	} else {
		return DerivedSecret{}, "expression is not a known derivation form"
	}
	if _, ok := hashes[d.Hash]; !ok {
		return DerivedSecret{}, "hash algorithm " + d.Hash + " is not supported"
	}
	return d, ""
}

// unwrap removes parentheses enclosing all of s, as often as they do;
// "(a)[:1] | f('x')" stays as it is.
func unwrap(s string) string {
	for strings.HasPrefix(s, "(") && closing(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// closing returns the index of the parenthesis closing the one at s[0],
// skipping quoted strings, or -1.
func closing(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// isCopy reports whether text is "{{ src }}", possibly made conditional
// with the empty string as the alternative: the same value as src, which
// redacting src covers.
func isCopy(text, src string) bool {
	m := oneExpression.FindStringSubmatch(text)
	if m == nil || strings.TrimSpace(m[1]+m[3]) != "" {
		return false
	}
	expr := m[2]
	if c := elseEmpty.FindStringSubmatch(expr); c != nil {
		if strings.Contains(c[2], src) {
			return false // the source in the condition: not mechanical
		}
		expr = strings.TrimSpace(c[1])
	}
	return unwrap(expr) == src
}

// allScalars returns the values of every scalar under n.
func allScalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // a key
		}
		out = append(out, allScalars(c)...)
	}
	return out
}
