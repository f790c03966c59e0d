// Command synth renders a stack offline: it runs the Pulumi program under
// mocks with the stack's configuration and prints, as JSON, every resource
// it would declare (inputs, secrets masked) and the stack outputs. It needs
// no credentials and no network.
//
//	go run ./cmd/synth [--stack dev] [--preview] [--config key=value ...]
//
// Values are given as Pulumi stores them: lists and objects as JSON, e.g.
// --config 'matrix:sshAllowedCidrs=["203.0.113.7/32"]'. Bad configuration
// exits 1 with the messages `pulumi up` would print.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
)

type configFlags map[string]string

func (c configFlags) String() string { return fmt.Sprint(map[string]string(c)) }

func (c configFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	c[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to render")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml")
	preview := fs.Bool("preview", false, "render as `pulumi preview` sees it (computed values unknown)")
	overrides := configFlags{}
	fs.Var(overrides, "config", "override a config value, key=value (repeatable); namespace defaults to the project's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := options(*dir, *stack, overrides)
	if err != nil {
		return err
	}
	opts.DryRun = *preview
	res, err := synth.Run(opts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res.Document(opts))
}

func options(dir, stack string, overrides map[string]string) (synth.Options, error) {
	project, err := stackfile.LoadProject(dir)
	if err != nil {
		return synth.Options{}, err
	}
	cfg, err := stackfile.Load(dir, project.Name, stack)
	if err != nil {
		return synth.Options{}, err
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = project.Name + ":" + k
		}
		cfg.Values[k] = v
	}
	return synth.Options{Project: project.Name, Stack: stack, Config: cfg.Values, SecretKeys: cfg.SecretKeys, SecretPaths: cfg.SecretPaths}, nil
}
