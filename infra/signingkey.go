package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewSigningKey makes the server's federation signing key once, in
// Synapse's key file format ("ed25519 <key id> <unpadded base64 seed>").
// On a single host the key lives on the data volume. An ha host is
// disposable, and an eks cluster can be rebuilt, so there the key is kept
// with the stack (ha: put in place by bootstrap-host; eks: a Secret the
// chart mounts): other servers keep trusting events signed before.
func NewSigningKey(ctx *pulumi.Context, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	seed, err := random.NewRandomBytes(ctx, "signing-key", &random.RandomBytesArgs{Length: pulumi.Int(32)}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	id, err := random.NewRandomString(ctx, "signing-key-id", &random.RandomStringArgs{
		Length: pulumi.Int(4), Special: pulumi.Bool(false), Upper: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(pulumi.All(id.Result, seed.Base64).ApplyT(func(v []any) string {
		return fmt.Sprintf("ed25519 a_%s %s\n", v[0], strings.TrimRight(v[1].(string), "="))
	})).(pulumi.StringOutput), nil
}
