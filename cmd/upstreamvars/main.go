// Command upstreamvars checks that every variable this project renders into
// vars.yml still exists in the upstream playbook at a commit: the check to
// run when moving the pin (docs/runbook-playbook-pin.md), since a renamed
// variable is silently ignored by Ansible.
//
//	go run ./cmd/upstreamvars --git-dir ~/.cache/matrix-on-aws/upstream/.git [--commit SHA]
//
// Without --commit it checks the commit pinned in ansible/upstream.env. It
// exits 1 when any variable is missing, naming each.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "upstreamvars:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upstreamvars", flag.ContinueOnError)
	gitDir := fs.String("git-dir", "", "git directory of an upstream checkout (e.g. the wrapper's cache)")
	commit := fs.String("commit", "", "commit to check (default: the pin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *gitDir == "" {
		return errors.New("--git-dir is required")
	}
	if *commit == "" {
		pin, err := ansible.LoadPin()
		if err != nil {
			return err
		}
		*commit = pin.Commit
	}
	if err := exec.Command("git", "--git-dir", *gitDir, "cat-file", "-e", *commit+"^{commit}").Run(); err != nil {
		return fmt.Errorf("%s does not hold commit %s (git fetch it first)", *gitDir, *commit)
	}
	var missing []string
	for _, name := range inventory.VariableNames() {
		out, err := exec.Command("git", "--git-dir", *gitDir, "grep", "-l", "-w", "-F", name, *commit, "--", "group_vars", "roles", "docs").Output()
		found := err == nil && strings.TrimSpace(string(out)) != ""
		status := "ok"
		if !found {
			status = "MISSING"
			missing = append(missing, name)
		}
		fmt.Fprintf(stdout, "%-8s %s\n", status, name)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d variable(s) not found at %s: %s", len(missing), *commit, strings.Join(missing, ", "))
	}
	return nil
}
