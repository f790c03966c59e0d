package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

// maxListed bounds how many added or removed items a summary line names.
const maxListed = 8

// summarize describes how the committed facts differ from the generated
// ones, one line per section that changed.
func summarize(have, want upstream.Facts) []string {
	var lines []string
	if have.Commit != want.Commit {
		lines = append(lines, fmt.Sprintf("commit: %s -> %s", have.Commit, want.Commit))
	}
	lines = appendDiff(lines, "variables", have.Variables, want.Variables)
	lines = appendDiff(lines, "renamed", encodeAll(have.Renamed), encodeAll(want.Renamed))
	lines = appendDiff(lines, "renamedPatterns", encodeAll(have.RenamedPatterns), encodeAll(want.RenamedPatterns))
	lines = appendDiff(lines, "renamedAndDefined", have.RenamedAndDefined, want.RenamedAndDefined)
	lines = appendDiff(lines, "services", encodeAll(have.Services()), encodeAll(want.Services()))
	lines = appendDiff(lines, "excluded", encodeAll(have.Excluded), encodeAll(want.Excluded))
	lines = appendDiff(lines, "onMatrixHost", have.OnMatrixHost, want.OnMatrixHost)
	lines = appendDiff(lines, "otherHostnames", encodeAll(have.OtherHostnames), encodeAll(want.OtherHostnames))
	lines = appendDiff(lines, "ports", encodeAll(have.Ports), encodeAll(want.Ports))
	lines = appendDiff(lines, "derivedSecrets", encodeAll(have.DerivedSecrets), encodeAll(want.DerivedSecrets))
	lines = appendDiff(lines, "derivedSkipped", encodeAll(have.DerivedSkipped), encodeAll(want.DerivedSkipped))
	if len(lines) == 0 {
		lines = append(lines, "same content, different layout")
	}
	return lines
}

// encodeAll renders each item as compact JSON, its identity for the diff.
func encodeAll[T any](items []T) []string {
	out := make([]string, len(items))
	for i, it := range items {
		data, err := json.Marshal(it)
		if err != nil {
			data = []byte(fmt.Sprint(it))
		}
		out[i] = string(data)
	}
	return out
}

// appendDiff adds a line for a section whose items were added or removed.
func appendDiff(lines []string, section string, have, want []string) []string {
	added, removed := minus(want, have), minus(have, want)
	if len(added) == 0 && len(removed) == 0 {
		return lines
	}
	return append(lines, fmt.Sprintf("%s: +%d %s, -%d %s", section,
		len(added), listed(added), len(removed), listed(removed)))
}

// minus returns the items of a not in b, in a's order.
func minus(a, b []string) []string {
	inB := make(map[string]bool, len(b))
	for _, s := range b {
		inB[s] = true
	}
	var out []string
	for _, s := range a {
		if !inB[s] {
			out = append(out, s)
		}
	}
	return out
}

func listed(items []string) string {
	if len(items) > maxListed {
		return "[" + strings.Join(items[:maxListed], " ") + fmt.Sprintf(" ... %d more]", len(items)-maxListed)
	}
	return "[" + strings.Join(items, " ") + "]"
}
