// Command playbook re-runs the upstream playbook by hand with the inventory
// a stack rendered, e.g. for a self-check:
//
//	pulumi stack output --stack dev --show-secrets --json ansibleEnvironment | go run ./cmd/playbook --tags=self-check
//
// It reads the stack's secret ansibleEnvironment output (a JSON object of
// MATRIX_* variables) from standard input and starts ansible/run-playbook
// with it in the environment, so no secret reaches a file outside the
// wrapper's private temporary directory, nor any command line.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
)

func main() {
	code, err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "playbook:", err)
	}
	os.Exit(code)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("playbook", flag.ContinueOnError)
	tags := fs.String("tags", "", "playbook tags to run, e.g. self-check")
	playbook := fs.String("playbook", ansible.PlaybookUpstream, "upstream or prepare")
	dir := fs.String("dir", ".", "project root holding ansible/")
	extra := map[string]string{}
	fs.Func("extra-var", "key=value passed to the playbook (repeatable; not for secrets)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, got %q", s)
		}
		extra[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if *tags == "" {
		return 2, errors.New("--tags is required, e.g. --tags=self-check")
	}
	env, err := readEnvironment(stdin)
	if err != nil {
		return 2, err
	}
	wrapperArgs := []string{"--playbook", *playbook, "--tags", *tags}
	if len(extra) > 0 {
		vars, err := inventory.ExtraVars(extra)
		if err != nil {
			return 2, err
		}
		env = append(env, ansible.EnvExtraVars+"="+vars)
		wrapperArgs = append(wrapperArgs, "--extra-vars-env")
	}
	cmd := exec.Command(filepath.Join(*dir, ansible.Dir, ansible.Wrapper), wrapperArgs...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), nil
		}
		return 1, fmt.Errorf("run %s: %w", ansible.Wrapper, err)
	}
	return 0, nil
}

// readEnvironment decodes the ansibleEnvironment output into KEY=value
// pairs, accepting only the wrapper's own variables.
func readEnvironment(r io.Reader) ([]string, error) {
	var vars map[string]string
	if err := json.NewDecoder(r).Decode(&vars); err != nil {
		return nil, fmt.Errorf("standard input is not the ansibleEnvironment output (pulumi stack output --show-secrets --json ansibleEnvironment): %w", err)
	}
	if len(vars) == 0 {
		return nil, errors.New("ansibleEnvironment is empty: was the stack deployed with matrix:provision true?")
	}
	var env []string
	for k, v := range vars {
		if !strings.HasPrefix(k, "MATRIX_") {
			return nil, fmt.Errorf("unexpected variable %q in ansibleEnvironment", k)
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}
