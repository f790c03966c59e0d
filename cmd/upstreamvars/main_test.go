package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

// snapshotPath finds the pinned snapshot tarball, failing (never skipping)
// when it is absent.
func snapshotPath(t *testing.T) string {
	t.Helper()
	pin, err := ansible.LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	path, err := snapshot.Path(pin.Commit)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// unpacked unpacks the pinned snapshot into a directory of its own, which
// the test may modify.
func unpacked(t *testing.T) string {
	t.Helper()
	root, err := snapshot.Unpack(snapshotPath(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func committedFacts(t *testing.T) upstream.Facts {
	t.Helper()
	f, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeFacts(t *testing.T, f upstream.Facts) string {
	t.Helper()
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "facts.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommittedFactsAndRenderedNames is the check itself, on the snapshot.
func TestCommittedFactsAndRenderedNames(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--snapshot", snapshotPath(t)}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "\nok "); n != len(inventory.VariableNames()) {
		t.Errorf("%d ok lines for %d rendered variables:\n%s", n, len(inventory.VariableNames()), out.String())
	}
}

func TestStaleFactsAreReported(t *testing.T) {
	f := committedFacts(t)
	i := slices.Index(f.Variables, "ntfy_enabled")
	if i < 0 {
		t.Fatal("ntfy_enabled is not in the committed facts")
	}
	// A copy: Load shares its slices with every caller in the process.
	f.Variables = slices.Delete(slices.Clone(f.Variables), i, i+1)
	path := writeFacts(t, f)
	before, _ := os.ReadFile(path)
	var out bytes.Buffer
	err := run([]string{"--snapshot", snapshotPath(t), "--facts", path}, &out)
	if err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("err %v", err)
	}
	if !strings.Contains(out.String(), "variables: +1 [ntfy_enabled], -0 []") {
		t.Errorf("summary does not name the missing variable:\n%s", out.String())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the check rewrote the facts file")
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "facts.json")
	if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"--snapshot", snapshotPath(t), "--facts", path, "--write"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := committedFacts(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, want) {
		t.Error("--write wrote something else than the committed facts")
	}
}

// TestRenamedRenderedNameIsReported adds to a copy of the snapshot a
// validation item renaming a variable the program renders.
func TestRenamedRenderedNameIsReported(t *testing.T) {
	root := unpacked(t)
	name := inventory.VariableNames()[0]
	file := filepath.Join(root, "roles", "custom", "matrix_playbook_migration", "tasks", "validate_config.yml")
	task := `
- name: (Deprecation) Catch and report a test rename
  ansible.builtin.fail:
    msg: "Rename {{ item.old }} to {{ item.new }}"
  when: "lookup('ansible.builtin.varnames', ('^' + item.old + '$'), wantlist=True) | length > 0"
  with_items:
    - {'old': '` + name + `', 'new': 'test_replacement_name'}
`
	appendFile(t, file, task)
	var out bytes.Buffer
	err := run([]string{"--dir", root, "--facts", filepath.Join(t.TempDir(), "facts.json"), "--write"}, &out)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("err %v", err)
	}
	if !strings.Contains(out.String(), "RENAMED  "+name+" -> test_replacement_name") {
		t.Errorf("output does not report the rename:\n%s", out.String())
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMissingNameIsReportedWithSuggestion(t *testing.T) {
	var out bytes.Buffer
	err := checkNames(committedFacts(t), []string{"ntfy_enabled", "ntfy_enable"}, &out)
	if err == nil || !strings.Contains(err.Error(), "ntfy_enable") {
		t.Errorf("err %v", err)
	}
	want := "ok       ntfy_enabled\nMISSING  ntfy_enable (closest upstream variable: ntfy_enabled)\n"
	if out.String() != want {
		t.Errorf("output\n%s\nwant\n%s", out.String(), want)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--snapshot", "a", "--dir", "b"},
		{"stray"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
