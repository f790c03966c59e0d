// Command upstreamvars regenerates internal/upstream/facts.json (the facts
// about the pinned upstream playbook the program embeds) from a snapshot of
// the upstream, and checks every variable the program renders into vars.yml
// against it: the check to run when moving the pin
// (docs/runbook-playbook-pin.md), since Ansible silently ignores a variable
// it does not know.
//
//	go run ./cmd/upstreamvars [--snapshot TARBALL | --dir CHECKOUT] [--write]
//
// --snapshot is a gzipped tarball of the checkout with its roles installed
// (default: ../shared/upstream/matrix-docker-ansible-deploy-<short pin>.tar.gz
// beside the repository, or $MATRIX_UPSTREAM_SNAPSHOT); --dir is an unpacked
// checkout with its roles installed in roles/galaxy, such as the wrapper's
// cache ~/.cache/matrix-on-aws/upstream. The commit recorded is the pin's
// (ansible/upstream.env); a --dir that is a git checkout must be at it.
//
// With --write it writes the facts file. Without, it checks that the
// committed file equals what the tree yields, printing a summary of the
// differences. Either way it then checks that every name of
// inventory.VariableNames() is defined upstream and not refused by one of
// its validation tasks, naming upstream's replacement. It exits 1 when the
// file is stale or any name fails.
package main

import (
	"bytes"
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
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "upstreamvars:", err)
		os.Exit(1)
	}
}

type options struct {
	snapshot, dir, facts string
	write                bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("upstreamvars", flag.ContinueOnError)
	fs.StringVar(&o.snapshot, "snapshot", "", "gzipped tarball of the upstream checkout with roles/galaxy (default: the shared snapshot of the pin)")
	fs.StringVar(&o.dir, "dir", "", "unpacked upstream checkout with roles installed in roles/galaxy")
	fs.StringVar(&o.facts, "facts", "", "facts file to check or write (default: internal/upstream/facts.json of this repository)")
	fs.BoolVar(&o.write, "write", false, "write the facts file instead of checking it")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.snapshot != "" && o.dir != "" {
		return options{}, errors.New("give --snapshot or --dir, not both")
	}
	return o, nil
}

func run(args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	pin, err := ansible.LoadPin()
	if err != nil {
		return err
	}
	if o.facts == "" {
		root, err := snapshot.RepoRoot(".")
		if err != nil {
			return err
		}
		o.facts = filepath.Join(root, "internal", "upstream", upstream.FactsFile)
	}
	root, cleanup, err := checkout(o, pin.Commit)
	if err != nil {
		return err
	}
	defer cleanup()
	facts, err := upstream.Generate(root, pin.Commit)
	if err != nil {
		return fmt.Errorf("generate from %s: %w", root, err)
	}
	fileErr := syncFile(o, facts, stdout)
	namesErr := checkNames(facts, inventory.VariableNames(), stdout)
	return errors.Join(fileErr, namesErr)
}

// checkout returns the upstream tree to read: --dir as is, or the snapshot
// unpacked into a temporary directory that cleanup removes.
func checkout(o options, commit string) (root string, cleanup func(), err error) {
	if o.dir != "" {
		return o.dir, func() {}, checkHead(o.dir, commit)
	}
	tarball := o.snapshot
	if tarball == "" {
		if tarball, err = snapshot.Path(commit); err != nil {
			return "", nil, fmt.Errorf("%w (or give --snapshot or --dir)", err)
		}
	}
	tmp, err := os.MkdirTemp("", "upstreamvars-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if root, err = snapshot.Unpack(tarball, tmp); err != nil {
		cleanup()
		return "", nil, err
	}
	return root, cleanup, nil
}

// checkHead refuses a git checkout at another commit than the pin, since
// the facts would be recorded under the wrong commit. A tree without git
// metadata is taken on trust.
func checkHead(dir, commit string) error {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return nil
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return fmt.Errorf("%s: git rev-parse HEAD: %w", dir, err)
	}
	if head := strings.TrimSpace(string(out)); head != commit {
		return fmt.Errorf("%s is at %s, not the pinned %s (git -C %s checkout %s)", dir, head, commit, dir, commit)
	}
	return nil
}

// syncFile writes the facts file, or checks that it is current.
func syncFile(o options, facts upstream.Facts, stdout io.Writer) error {
	want, err := facts.Marshal()
	if err != nil {
		return err
	}
	if o.write {
		if err := os.WriteFile(o.facts, want, 0o644); err != nil {
			return fmt.Errorf("write facts: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s: %s\n", o.facts, counts(facts))
		return nil
	}
	have, err := os.ReadFile(o.facts)
	if err != nil {
		return fmt.Errorf("read facts: %w", err)
	}
	if bytes.Equal(have, want) {
		fmt.Fprintf(stdout, "%s is current: %s\n", o.facts, counts(facts))
		return nil
	}
	fmt.Fprintf(stdout, "STALE    %s differs from the upstream tree:\n", o.facts)
	committed, err := upstream.Parse(have)
	if err != nil {
		fmt.Fprintf(stdout, "  the committed file does not parse: %v\n", err)
	} else {
		for _, line := range summarize(committed, facts) {
			fmt.Fprintln(stdout, "  "+line)
		}
	}
	return fmt.Errorf("%s is stale: regenerate it with --write", o.facts)
}

func counts(f upstream.Facts) string {
	return fmt.Sprintf("%d variables, %d renamed, %d renamed patterns, %d services, %d ports, %d derived secrets (%d skipped)",
		len(f.Variables), len(f.Renamed), len(f.RenamedPatterns), len(f.Services()), len(f.Ports), len(f.DerivedSecrets), len(f.DerivedSkipped))
}

// checkNames reports each rendered name that upstream refuses or does not
// define, one line per name, and fails when any does.
func checkNames(facts upstream.Facts, names []string, stdout io.Writer) error {
	var bad []string
	for _, name := range names {
		switch repl, renamed := facts.Replacement(name); {
		case renamed:
			fmt.Fprintf(stdout, "RENAMED  %s -> %s\n", name, repl)
			bad = append(bad, name)
		case !facts.Known(name):
			hint := ""
			if c := facts.Closest(name); c != "" {
				hint = " (closest upstream variable: " + c + ")"
			}
			fmt.Fprintf(stdout, "MISSING  %s%s\n", name, hint)
			bad = append(bad, name)
		default:
			fmt.Fprintf(stdout, "ok       %s\n", name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d rendered variable(s) unknown or renamed at %s: %s", len(bad), facts.Commit, strings.Join(bad, ", "))
	}
	return nil
}
