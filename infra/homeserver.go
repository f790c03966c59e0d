package infra

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Homeserver is the component holding every resource of one homeserver.
type Homeserver struct {
	pulumi.ResourceState

	Config       Config
	Facts        Facts
	Provider     *aws.Provider
	Network      *Network
	Firewall     *Firewall
	Host         *Host
	Records      map[Record]*route53.Record
	Mail         *Mail // matrix:email ses; nil with none
	Provisioning *Provisioning
	HA           *HA       // the ha topology's resources; nil in single
	Alerting     *Alerting // nil without matrix:alertEmail

	stack string
}

// NewHomeserver declares one homeserver from a configuration ParseConfig
// has validated. It looks up the account's facts first, so a missing zone
// or image stops the run before anything is created.
func NewHomeserver(ctx *pulumi.Context, name string, cfg Config) (*Homeserver, error) {
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
	if err := checkDataVolume(ctx, cfg, facts, pulumi.Provider(provider)); err != nil {
		return nil, err
	}
	if facts.DB, err = planDatabase(ctx, cfg, pulumi.Provider(provider)); err != nil {
		return nil, err
	}
	hs := &Homeserver{Config: cfg, Facts: facts, Provider: provider, stack: ctx.Stack()}
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
	if cfg.Topology == TopologyHA {
		hs.HA, err = newHA(ctx, cfg, hs, child)
	} else {
		err = hs.newSingle(ctx, cfg, facts, child)
	}
	if err != nil {
		return nil, err
	}
	if err := hs.watch(ctx, cfg); err != nil {
		return nil, err
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

// watch adds the topology's alarms to the alerting component, once what
// they watch exists.
func (hs *Homeserver) watch(ctx *pulumi.Context, cfg Config) error {
	a := hs.Alerting
	if a == nil {
		return nil
	}
	var err error
	if hs.HA != nil {
		err = a.watchHA(ctx, cfg, hs.HA)
	} else {
		err = a.watchInstances(ctx, cfg, pulumi.StringMap{"InstanceId": hs.Host.Instance.ID().ToStringOutput()}, false)
	}
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	return a.register(ctx)
}

// newSingle declares the single topology: one host behind its own
// firewall, its DNS records, and the steps that provision it.
func (hs *Homeserver) newSingle(ctx *pulumi.Context, cfg Config, facts Facts, opts ...pulumi.ResourceOption) error {
	var err error
	if hs.Firewall, err = newFirewall(ctx, cfg, hs.Network, opts...); err != nil {
		return err
	}
	if hs.Host, err = newHost(ctx, cfg, facts, hs.Network, hs.Firewall, hs.Alerting.notify(), opts...); err != nil {
		return err
	}
	if hs.Records, err = newRecords(ctx, cfg, facts, hs.Host, opts...); err != nil {
		return err
	}
	hs.Provisioning, err = newProvisioning(ctx, cfg, hs, opts...)
	return err
}

// Outputs are the stack outputs an operator needs after `pulumi up`.
func (hs *Homeserver) Outputs() map[string]pulumi.Input {
	if hs.HA != nil {
		return hs.haOutputs()
	}
	cfg, host := hs.Config, hs.Host
	out := map[string]pulumi.Input{
		"homeserverUrl": pulumi.String("https://" + cfg.MatrixHost()),
		"userIdFormat":  pulumi.String("@user:" + cfg.Domain),
		"publicIpv4":    host.IP.PublicIp,
		"instanceId":    host.Instance.ID().ToStringOutput(),
		"dataVolumeId":  host.DataVolume.ID().ToStringOutput(),
		"hostedZoneId":  pulumi.String(hs.Facts.ZoneID),
		"nameServers":   pulumi.ToStringArray(hs.Facts.NameServers),
		"amiId":         host.Instance.Ami,
		"latestAmiId":   pulumi.String(hs.Facts.AMI),
		"latestAmiName": pulumi.String(hs.Facts.AMIName),
	}
	if cfg.Element {
		out["elementUrl"] = pulumi.String("https://" + cfg.ElementHost())
	}
	if host := cfg.ElementCallHost(); host != "" {
		out["elementCallUrl"] = pulumi.String("https://" + host)
	}
	if cfg.IPv6 {
		out["publicIpv6"] = host.Instance.Ipv6Addresses.Index(pulumi.Int(0))
	}
	if cfg.Access == AccessSSM {
		out["sessionCommand"] = host.Instance.ID().ToStringOutput().ApplyT(func(id string) string {
			return SessionCommand(id, cfg.Region)
		}).(pulumi.StringOutput)
	}
	target := host.Instance.ID().ToStringOutput()
	if cfg.Access == AccessSSH {
		target = host.IP.PublicIp
	}
	out["sshCommand"] = target.ApplyT(func(t string) string {
		return sshCommand(cfg, t, host.PrivateKey != nil)
	}).(pulumi.StringOutput)
	if host.PrivateKey != nil {
		out["sshPrivateKey"] = pulumi.ToSecret(host.PrivateKey.PrivateKeyOpenssh)
	}
	hs.alertOutputs(out)
	hs.mailOutputs(out)
	if prov := hs.Provisioning; prov != nil {
		out["adminUserId"] = pulumi.String("@" + cfg.AdminUser + ":" + cfg.Domain)
		out["adminPassword"] = pulumi.ToSecret(prov.AdminPassword.Result)
		if cfg.Provision {
			out["playbookCommand"] = pulumi.String(ManualCommand(hs.stack))
			out["ansibleEnvironment"] = pulumi.ToSecret(prov.Environment)
		}
	}
	return out
}

// alertOutputs adds the alerting component's outputs, if there is one.
func (hs *Homeserver) alertOutputs(out map[string]pulumi.Input) {
	if hs.Alerting == nil {
		return
	}
	for k, v := range hs.Alerting.outputs() {
		out[k] = v
	}
}

// sshCommand is how an operator logs in: to the address with matrix:access
// ssh, to the instance ID through Session Manager with ssm (target is the
// one or the other). With a generated key it writes the key file first:
// private from the moment it exists (umask 077, not chmod'ed after the key
// is in it), and a file left from an earlier run, which would keep its
// mode when overwritten, goes first.
func sshCommand(cfg Config, target string, generatedKey bool) string {
	ssh := "ssh"
	if generatedKey {
		ssh = "(umask 077 && rm -f matrix-ssh.key && pulumi stack output sshPrivateKey --show-secrets > matrix-ssh.key) && ssh -i matrix-ssh.key"
	}
	if cfg.Access == AccessSSM {
		ssh += " -o ProxyCommand='" + ProxyCommand(target, cfg.Region) + "'"
	}
	return ssh + " " + SSHUser + "@" + target
}

// withOpts adds options without writing into the caller's backing array,
// which a plain append may share between siblings.
func withOpts(opts []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(slices.Clip(opts), more...)
}
