package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/inventory"
)

// upstream makes a git repository whose roles mention the given variables.
func upstream(t *testing.T, names []string) (gitDir, commit string) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ": ''\n")
	}
	path := filepath.Join(dir, "roles", "custom", "defaults", "main.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "defaults")
	return filepath.Join(dir, ".git"), git("rev-parse", "HEAD")
}

func TestAllPresent(t *testing.T) {
	gitDir, commit := upstream(t, inventory.VariableNames())
	var out bytes.Buffer
	if err := run([]string{"--git-dir", gitDir, "--commit", commit}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "ok "); n != len(inventory.VariableNames()) {
		t.Errorf("%d ok lines for %d variables:\n%s", n, len(inventory.VariableNames()), out.String())
	}
}

func TestRenamedVariableIsReported(t *testing.T) {
	names := inventory.VariableNames()
	gone := "matrix_synapse_registration_requires_token"
	var kept []string
	for _, n := range names {
		if n != gone {
			kept = append(kept, n)
		}
	}
	if len(kept) != len(names)-1 {
		t.Fatalf("%s is not among the rendered variables", gone)
	}
	gitDir, commit := upstream(t, kept)
	var out bytes.Buffer
	err := run([]string{"--git-dir", gitDir, "--commit", commit}, &out)
	if err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(out.String(), "MISSING  "+gone) {
		t.Errorf("err %v\n%s", err, out.String())
	}
}

func TestUnknownCommit(t *testing.T) {
	gitDir, _ := upstream(t, nil)
	err := run([]string{"--git-dir", gitDir, "--commit", strings.Repeat("a", 40)}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "does not hold commit") {
		t.Errorf("err %v", err)
	}
}
