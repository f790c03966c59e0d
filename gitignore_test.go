package main

import (
	"os"
	"strings"
	"testing"
)

// TestGitignoreCoversCommandBinaries keeps .gitignore naming the binary
// `go build ./cmd/<name>` leaves at the repository root for every command:
// one was committed by mistake once, because a new command was missing here.
func TestGitignoreCoversCommandBinaries(t *testing.T) {
	data, err := os.ReadFile(".gitignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		ignored[strings.TrimSpace(line)] = true
	}
	cmds, err := os.ReadDir("cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.IsDir() && !ignored["/"+c.Name()] {
			t.Errorf(".gitignore lacks /%s: `go build ./cmd/%s` leaves that binary at the root", c.Name(), c.Name())
		}
	}
}
