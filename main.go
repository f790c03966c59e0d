// Command matrix is the Pulumi program that deploys a Matrix homeserver on
// AWS. It loads the stack's configuration, builds the stack and exports its
// outputs; the topology packages under infra/ declare the rest..
package main

import (
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/deploy"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		raw, err := infra.EngineConfig()
		if err != nil {
			return err
		}
		// Run from the project directory: the stack file says which
		// playbookVars hold secrets.
		secret, err := infra.EngineSecretKeys(".", ctx.Stack())
		if err != nil {
			return err
		}
		cfg, err := infra.ParseConfig(raw, secret...)
		if err != nil {
			return err
		}
		hs, err := deploy.Homeserver(ctx, "homeserver", cfg)
		if err != nil {
			return err
		}
		for name, value := range hs.Outputs() {
			ctx.Export(name, value)
		}
		return nil
	})
}
