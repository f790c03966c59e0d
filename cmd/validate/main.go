// Command validate runs the upstream playbook's own validation tasks (every
// role's validate_config*.yml, which the playbook runs before it changes
// anything) on the inventory each stack renders, before `pulumi up`; an eks
// stack, which runs no playbook, is checked against its chart instead
// (ess-helm's schema and validation templates, from the pinned archive):
//
//	go run ./cmd/validate [--stack dev --stack prod ...] [--upstream DIR | --snapshot FILE] [--chart FILE] [--config key=value ...]
//
// The playbook comes from the wrapper's cache (ansible/run-playbook keeps
// the pinned checkout with its roles in ~/.cache/matrix-on-aws/upstream),
// from --upstream, or from a snapshot tarball (--snapshot, offline). The
// inventory is rendered offline under mocks, as `go run ./cmd/synth` does:
// generated secrets are stand-ins and `secure:` values of the stack file
// placeholders, so the check sees every secret present but not its value.
// It needs ansible-playbook (Debian's ansible-core is enough: only the
// validations run, nothing is installed). It exits 1 when the upstream
// refuses any stack, printing the upstream's own message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/upstreamcheck"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var stacks, overrides listFlag
	fs.Var(&stacks, "stack", "stack whose Pulumi.<stack>.yaml to check (repeatable; default dev)")
	fs.Var(&overrides, "config", "override a config value of every stack, key=value (repeatable)")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml")
	upstreamDir := fs.String("upstream", "", "checkout of the pinned playbook with its roles in roles/galaxy (default: the wrapper's cache)")
	tarball := fs.String("snapshot", "", "snapshot tarball of the pinned playbook with its roles, unpacked into a temporary directory")
	chartFile := fs.String("chart", "", "the pinned ess-helm chart archive, for eks stacks (default: $"+ess.ChartEnv+", else ../shared/ess-helm/)")
	source := fs.Bool("source", false, "print what each stack is checked against (playbook or chart) and exit")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(stacks) == 0 {
		stacks = listFlag{"dev"}
	}
	invs, charts, err := render(*dir, stacks, overrides)
	if err != nil {
		return err
	}
	if *source {
		for _, inv := range invs {
			fmt.Fprintf(stdout, "%s playbook\n", inv.Name)
		}
		for _, c := range charts {
			fmt.Fprintf(stdout, "%s chart\n", c.name)
		}
		return nil
	}
	var errs []error
	if len(invs) > 0 {
		errs = append(errs, validatePlaybook(stdout, invs, *upstreamDir, *tarball, *timeout))
	}
	if len(charts) > 0 {
		errs = append(errs, validateChart(stdout, charts, *chartFile))
	}
	return errors.Join(errs...)
}

func validatePlaybook(stdout io.Writer, invs []upstreamcheck.Inventory, upstreamDir, tarball string, timeout time.Duration) error {
	root, cleanup, err := playbookRoot(upstreamDir, tarball)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	reports, err := upstreamcheck.Validate(ctx, root, invs)
	if err != nil {
		return err
	}
	return report(stdout, reports)
}

// chartStack is an eks stack's chart values, secrets in the clear.
type chartStack struct {
	name   string
	values map[string]any
}

// render renders each stack offline, as synth does: the inventory of a
// stack the playbook configures, the chart values of an eks stack.
func render(dir string, stacks, overrides []string) ([]upstreamcheck.Inventory, []chartStack, error) {
	project, err := stackfile.LoadProject(dir)
	if err != nil {
		return nil, nil, err
	}
	var invs []upstreamcheck.Inventory
	var charts []chartStack
	for _, stack := range stacks {
		cfg, err := stackfile.Load(dir, project.Name, stack)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range overrides {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return nil, nil, fmt.Errorf("--config wants key=value, got %q", o)
			}
			if !strings.Contains(k, ":") {
				k = project.Name + ":" + k
			}
			cfg.Values[k] = v
		}
		res, err := synth.Run(synth.Options{Project: project.Name, Stack: stack, Config: cfg.Values,
			SecretKeys: cfg.SecretKeys, SecretPaths: cfg.SecretPaths})
		if err != nil {
			return nil, nil, fmt.Errorf("stack %s: %w", stack, err)
		}
		if res.Homeserver.Config.Topology == infra.TopologyEKS {
			values, err := res.ChartValues()
			if err != nil {
				return nil, nil, fmt.Errorf("stack %s: %w", stack, err)
			}
			charts = append(charts, chartStack{name: stack, values: values})
			continue
		}
		hosts, vars, err := res.Inventory()
		if err != nil {
			return nil, nil, fmt.Errorf("stack %s: %w", stack, err)
		}
		invs = append(invs, upstreamcheck.Inventory{Name: stack, Hosts: hosts, Vars: vars})
	}
	return invs, charts, nil
}

// validateChart renders the pinned chart from each eks stack's values, as
// Helm does before it installs: the chart's schema and its validation
// templates, then every manifest decoded strictly into its Kubernetes type.
func validateChart(w io.Writer, stacks []chartStack, path string) error {
	if path == "" {
		var err error
		if path, err = ess.ChartPath(); err != nil {
			return err
		}
	}
	var refused []string
	for _, s := range stacks {
		objs, err := ess.Render(context.Background(), path, s.values)
		if err != nil {
			refused = append(refused, s.name)
			fmt.Fprintf(w, "REFUSED  %s: the chart %s %s: %s\n", s.name, ess.ChartName, ess.ChartVersion, strings.TrimSpace(err.Error()))
			continue
		}
		fmt.Fprintf(w, "ok       %s: the chart %s %s accepts it (%d manifests)\n", s.name, ess.ChartName, ess.ChartVersion, len(objs))
	}
	if len(refused) > 0 {
		return fmt.Errorf("the chart refuses %s", strings.Join(refused, ", "))
	}
	return nil
}

// playbookRoot finds the pinned playbook: a given checkout, an unpacked
// snapshot, or the wrapper's cache, which must be at the pinned commit.
func playbookRoot(dir, tarball string) (string, func(), error) {
	none := func() {}
	switch {
	case dir != "" && tarball != "":
		return "", none, errors.New("give --upstream or --snapshot, not both")
	case tarball != "":
		tmp, err := os.MkdirTemp("", "matrix-validate-")
		if err != nil {
			return "", none, err
		}
		root, err := snapshot.Unpack(tarball, tmp)
		if err != nil {
			os.RemoveAll(tmp)
			return "", none, err
		}
		return root, func() { os.RemoveAll(tmp) }, nil
	case dir == "":
		cache, err := wrapperCache()
		if err != nil {
			return "", none, err
		}
		dir = filepath.Join(cache, "upstream")
	}
	if err := checkCheckout(dir); err != nil {
		return "", none, err
	}
	return dir, none, nil
}

// wrapperCache is where ansible/run-playbook keeps the pinned checkout:
// $MATRIX_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/matrix-on-aws.
func wrapperCache() (string, error) {
	if d := os.Getenv("MATRIX_CACHE_DIR"); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "matrix-on-aws"), nil
}

// checkCheckout refuses a playbook checkout that is not at the pin or has
// no roles: validating against another commit proves nothing.
func checkCheckout(dir string) error {
	pin, err := ansible.LoadPin()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "roles", "galaxy")); err != nil {
		return fmt.Errorf("%s has no roles/galaxy: run the wrapper once (go run ./cmd/playbook --tags=self-check installs them), or pass --snapshot", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return nil // an unpacked snapshot: its name says its commit
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return fmt.Errorf("%s: git rev-parse HEAD: %w", dir, err)
	}
	if head := strings.TrimSpace(string(out)); head != pin.Commit {
		return fmt.Errorf("%s is at %s, but the pin (ansible/upstream.env) is %s", dir, head, pin.Commit)
	}
	return nil
}

func report(w io.Writer, reports []upstreamcheck.Report) error {
	var refused []string
	for _, r := range reports {
		if r.OK {
			fmt.Fprintf(w, "ok       %s: the upstream playbook's validation accepts it\n", r.Name)
			continue
		}
		refused = append(refused, r.Name)
		fmt.Fprintf(w, "REFUSED  %s:\n", r.Name)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "         %s: %s\n", f.Task, strings.TrimSpace(f.Message))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("the upstream playbook refuses %s", strings.Join(refused, ", "))
	}
	return nil
}
