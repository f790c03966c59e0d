// Command cost prints a stack's estimated monthly cost, priced from the
// resources the program declares for it (an offline synth run):
//
//	go run ./cmd/cost [--stack dev] [--config key=value ...]
//
// The stack's aws:region decides the prices; price another region with
// --config aws:region=us-east-1. The prices are the committed snapshot
// internal/cost/prices.json, whose date and source the output names
// (refresh it with go run ./cmd/pricelist --write: docs/cost.md).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/cost"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to price")
	dir := fs.String("dir", ".", "directory holding Pulumi.yaml")
	overrides := map[string]string{}
	fs.Func("config", "override a config value, key=value (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", s)
		}
		overrides[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := Stack(*dir, *stack, overrides)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, e.Markdown())
	return err
}

// Stack prices one stack file.
func Stack(dir, stack string, overrides map[string]string) (cost.Estimate, error) {
	project, err := stackfile.LoadProject(dir)
	if err != nil {
		return cost.Estimate{}, err
	}
	cfg, err := stackfile.Load(dir, project.Name, stack)
	if err != nil {
		return cost.Estimate{}, err
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = project.Name + ":" + k
		}
		cfg.Values[k] = v
	}
	res, err := synth.Run(synth.Options{Project: project.Name, Stack: stack, Config: cfg.Values, SecretKeys: cfg.SecretKeys})
	if err != nil {
		return cost.Estimate{}, err
	}
	snap, err := cost.Load()
	if err != nil {
		return cost.Estimate{}, err
	}
	return cost.FromResources(snap, res.Homeserver.Config.Region, res.Cloud.Resources())
}
