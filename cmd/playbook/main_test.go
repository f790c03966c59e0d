package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHandsEnvironmentToWrapper runs against a stand-in wrapper that
// reports its arguments and the MATRIX_* variables it received.
func TestHandsEnvironmentToWrapper(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ansible"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"args: $*\"\necho \"vars: $MATRIX_INVENTORY_VARS\"\necho \"extra: $MATRIX_EXTRA_VARS\"\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "ansible", "run-playbook"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := strings.NewReader(`{"MATRIX_INVENTORY_VARS":"secret-vars","MATRIX_INVENTORY_HOSTNAME":"matrix.example.org"}`)
	code, err := run([]string{"--dir", dir, "--tags=self-check"}, in, &out, &out)
	if err != nil || code != 3 {
		t.Fatalf("code %d, err %v, output:\n%s", code, err, out.String())
	}
	if got := out.String(); got != "args: --playbook upstream --tags self-check\nvars: secret-vars\nextra: \n" {
		t.Errorf("wrapper saw:\n%s", got)
	}
	out.Reset()
	in = strings.NewReader(`{"MATRIX_INVENTORY_VARS":"v"}`)
	if code, _ := run([]string{"--dir", dir, "--playbook=prepare", "--tags=prepare", "--extra-var", "matrix_data_volume_id=vol-0123"}, in, &out, &out); code != 3 {
		t.Fatalf("code %d", code)
	}
	if got := out.String(); got != "args: --playbook prepare --tags prepare --extra-vars-env\nvars: v\nextra: matrix_data_volume_id: vol-0123\n\n" {
		t.Errorf("wrapper saw:\n%s", got)
	}
}

func TestRejectsBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		want  string
	}{
		"no tags":   {nil, `{}`, "--tags is required"},
		"not json":  {[]string{"--tags=start"}, "hello", "not the ansibleEnvironment output"},
		"empty":     {[]string{"--tags=start"}, "{}", "ansibleEnvironment is empty"},
		"other var": {[]string{"--tags=start"}, `{"PATH":"/tmp"}`, `unexpected variable "PATH"`},
	} {
		code, err := run(tc.args, strings.NewReader(tc.stdin), &bytes.Buffer{}, &bytes.Buffer{})
		if code != 2 || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: code %d err %v, want %q", name, code, err, tc.want)
		}
	}
}
