package infra

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Layout is what one topology package (infra/single, infra/ha,
// infra/eks) adds to the shared core: its checks, its resources, its
// outputs and its alarms. The core calls it in that order.
type Layout interface {
	// Check runs before anything is declared; it may look the account
	// up and must report every problem at once.
	Check(ctx *pulumi.Context, hs *Homeserver, opts ...pulumi.InvokeOption) error
	// Declare adds the topology's resources under hs, and fills
	// hs.Records and hs.Provisioning where it has them.
	Declare(ctx *pulumi.Context, hs *Homeserver, opts ...pulumi.ResourceOption) error
	// Outputs are the topology's own stack outputs; the core adds the
	// ones every topology has.
	Outputs(hs *Homeserver) map[string]pulumi.Input
	// Watch adds the topology's alarms to a.
	Watch(ctx *pulumi.Context, hs *Homeserver, a *Alerting) error
}

// Homeserver is the component holding every resource of one homeserver.
type Homeserver struct {
	pulumi.ResourceState

	Config   Config
	Facts    Facts
	Provider *aws.Provider
	Network  *Network
	Records  map[Record]*route53.Record
	Mail     *Mail // matrix:email ses; nil with none
	// Provisioning holds the generated secrets and the rendered
	// inventory; nil in a topology that runs no playbook (eks).
	Provisioning *Provisioning
	Alerting     *Alerting // nil without matrix:alertEmail
	Layout       Layout

	Stack string
}

// NewHomeserver declares one homeserver of topology t from a
// configuration ParseConfig has validated. It looks up the account's facts
// first, so a missing zone or image stops the run before anything is
// created.
func NewHomeserver(ctx *pulumi.Context, name string, cfg Config, t Layout) (*Homeserver, error) {
	provider, err := aws.NewProvider(ctx, "aws", providerArgs(ctx, cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("homeserver: provider: %w", err)
	}
	facts, err := lookUp(ctx, cfg, pulumi.Provider(provider))
	if err != nil {
		return nil, err
	}
	if err := checkTopologySwitch(ctx, cfg, pulumi.Provider(provider)); err != nil {
		return nil, err
	}
	if facts.DB, err = planDatabase(ctx, cfg, pulumi.Provider(provider)); err != nil {
		return nil, err
	}
	hs := &Homeserver{Config: cfg, Facts: facts, Provider: provider, Layout: t, Stack: ctx.Stack()}
	if err := t.Check(ctx, hs, pulumi.Provider(provider)); err != nil {
		return nil, err
	}
	if err := ctx.RegisterComponentResource("matrix:aws:Homeserver", name, hs, pulumi.Providers(provider)); err != nil {
		return nil, fmt.Errorf("homeserver: %w", err)
	}
	child := pulumi.Parent(hs)
	if hs.Network, err = newNetwork(ctx, cfg, facts, child); err != nil {
		return nil, err
	}
	if cfg.AlertEmail != "" {
		if hs.Alerting, err = newAlerting(ctx, cfg, child); err != nil {
			return nil, err
		}
	}
	if cfg.Email == EmailSES {
		if hs.Mail, err = newMail(ctx, cfg, facts, child); err != nil {
			return nil, err
		}
	}
	if err := t.Declare(ctx, hs, child); err != nil {
		return nil, err
	}
	if a := hs.Alerting; a != nil {
		if err := t.Watch(ctx, hs, a); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
		if err := a.register(ctx); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
	}
	if err := ctx.RegisterResourceOutputs(hs, pulumi.Map(hs.Outputs())); err != nil {
		return nil, fmt.Errorf("homeserver: %w", err)
	}
	return hs, nil
}

// providerArgs configure an AWS provider of region with the default tags
// every resource of the stack carries.
func providerArgs(ctx *pulumi.Context, region string) *aws.ProviderArgs {
	return &aws.ProviderArgs{
		Region: pulumi.String(region),
		DefaultTags: aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"Project":   pulumi.String(ctx.Project()),
			"Stack":     pulumi.String(ctx.Stack()),
			"ManagedBy": pulumi.String("pulumi"),
		}},
	}
}

// Outputs are the stack outputs an operator needs after `pulumi up`: the
// ones every topology has, then the topology's own.
func (hs *Homeserver) Outputs() map[string]pulumi.Input {
	cfg := hs.Config
	out := map[string]pulumi.Input{
		"homeserverUrl": pulumi.String("https://" + cfg.MatrixHost()),
		"userIdFormat":  pulumi.String("@user:" + cfg.Domain),
		"hostedZoneId":  pulumi.String(hs.Facts.ZoneID),
		"nameServers":   pulumi.ToStringArray(hs.Facts.NameServers),
	}
	if cfg.Element {
		out["elementUrl"] = pulumi.String("https://" + cfg.ElementHost())
	}
	if host := cfg.ElementCallHost(); host != "" && cfg.Topology != TopologyEKS {
		out["elementCallUrl"] = pulumi.String("https://" + host)
	}
	if prov := hs.Provisioning; prov != nil {
		out["adminUserId"] = pulumi.String("@" + cfg.AdminUser + ":" + cfg.Domain)
		out["adminPassword"] = pulumi.ToSecret(prov.AdminPassword.Result)
	}
	if hs.Alerting != nil {
		for k, v := range hs.Alerting.outputs() {
			out[k] = v
		}
	}
	hs.mailOutputs(out)
	for k, v := range hs.Layout.Outputs(hs) {
		out[k] = v
	}
	return out
}

// WithOpts adds options without writing into the caller's backing array,
// which a plain append may share between siblings.
func WithOpts(opts []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(slices.Clip(opts), more...)
}
