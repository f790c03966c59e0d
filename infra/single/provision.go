package single

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newProvisioning renders the inventory for host, then declares the first
// contact, prepare, the one upstream run and verify.
func newProvisioning(ctx *pulumi.Context, cfg infra.Config, hs *infra.Homeserver, host *Host, opts ...pulumi.ResourceOption) (*infra.Provisioning, error) {
	pin, err := ansible.LoadPin()
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	p := &infra.Provisioning{}
	if err := p.NewSecrets(ctx, cfg, opts...); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	address := host.IP.PublicIp
	p.Rendered.Hosts = address.ApplyT(func(ip string) (string, error) {
		return inventory.Hosts(inventory.Host{Name: cfg.MatrixHost(), Address: ip, User: infra.SSHUser})
	}).(pulumi.StringOutput)
	p.Rendered.Vars, p.Rendered.MaskedVars = infra.RenderVars(cfg, pin, address, p, hs.Mail.Relayed())
	if !cfg.Provision {
		return p, nil
	}

	// First contact: wait for SSH and cloud-init, and learn the host key
	// that every later step pins.
	if err := firstContact(ctx, p, cfg, host, opts...); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	base := pulumi.StringMap{
		ansible.EnvInventoryHostname: pulumi.String(cfg.MatrixHost()),
		ansible.EnvInventoryHosts:    p.Rendered.Hosts,
		ansible.EnvSSHKnownHosts:     p.Rendered.KnownHosts,
	}
	if host.PrivateKey != nil {
		base[ansible.EnvSSHPrivateKey] = pulumi.ToSecret(host.PrivateKey.PrivateKeyOpenssh).(pulumi.StringOutput)
	}
	if cfg.Access == infra.AccessSSM {
		for k, v := range ssmEnv(ctx, cfg, host) {
			base[k] = v
		}
	}
	tree := infra.TreeFiles()
	instanceID := host.Instance.ID().ToStringOutput()

	prepareExtra := host.DataVolume.ID().ToStringOutput().ApplyT(func(id string) (string, error) {
		return inventory.ExtraVars(map[string]string{"matrix_data_device": infra.DataDevice, "matrix_data_volume_id": id})
	}).(pulumi.StringOutput)
	if p.Prepare, err = infra.PlaybookStep(ctx, "prepare", ansible.PlaybookPrepare, "prepare",
		infra.WithEnv(base, ansible.EnvExtraVars, prepareExtra),
		infra.ContentHash(pulumi.String(tree["prepare"]), p.Rendered.Hosts, p.Rendered.KnownHosts, prepareExtra, instanceID, host.DataVolume.Size),
		[]pulumi.Resource{p.WaitReady, host.Attachment}, opts...); err != nil {
		return nil, err
	}

	// Whatever Ansible prints in the upstream run passes the wrapper's
	// filter of these values. prepare never sees them, and does not get
	// them: pulumi-command runs a command again when any input changes, so
	// a new admin password must not re-run prepare.
	upstream := infra.WithEnv(infra.WithEnv(base, ansible.EnvInventoryVars, p.Rendered.Vars), ansible.EnvRedact, p.Redactions(cfg, hs.Mail.Relayed()))
	p.Environment = upstream
	consumed := infra.ContentHash(pulumi.String(tree["upstream"]), p.Rendered.Hosts, p.Rendered.KnownHosts, p.Rendered.Vars, instanceID)
	var records []pulumi.Resource
	for _, r := range hs.Records {
		records = append(records, r) // certificates need DNS in place
	}
	if p.Playbook, err = infra.PlaybookStep(ctx, "playbook", ansible.PlaybookUpstream, infra.UpstreamTags, upstream, consumed,
		append(records, p.Prepare), opts...); err != nil {
		return nil, err
	}
	if cfg.Verify {
		expect := []any{pulumi.Sprintf(" --expect-ipv4 %s", host.IP.PublicIp)}
		if cfg.IPv6 {
			expect = append(expect, pulumi.Sprintf(" --expect-ipv6 %s", host.Instance.Ipv6Addresses.Index(pulumi.Int(0))))
		}
		if p.Verify, err = infra.NewVerify(ctx, cfg, expect, p.AdminPassword.Result, []pulumi.Resource{p.Playbook},
			infra.ContentHash(consumed, p.AdminPassword.Result), opts...); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// firstContact declares wait-ready, which runs infra.FirstContactScript on the
// host and pins the key it prints, and the known_hosts built from it.
func firstContact(ctx *pulumi.Context, p *infra.Provisioning, cfg infra.Config, host *Host, opts ...pulumi.ResourceOption) error {
	// The expected instance ID goes in on stdin rather than in the script:
	// the script stays one known string in a preview, and the SSH server
	// would drop an environment variable (AcceptEnv).
	expected := pulumi.Sprintf("%s\n", host.Instance.ID())
	// The address reaches the new host only once it is associated with
	// it; before that, on a replacement, it still reaches the old one,
	// whose key would be pinned. Through Session Manager the target is
	// the instance ID, but TURN and the later steps still need the
	// address to be this host's.
	after := infra.WithOpts(opts, pulumi.DependsOn([]pulumi.Resource{host.IPAssociation}))
	if cfg.Access == infra.AccessSSM {
		cmd, err := firstContactSSM(ctx, cfg, host, after...)
		if err != nil {
			return err
		}
		p.WaitReady, p.HostKey = cmd, cmd.Stdout
		// ssh checks the key under the instance ID (HostKeyAlias, set by
		// the wrapper): the name of what AWS connected the session to.
		p.Rendered.KnownHosts = pulumi.All(host.Instance.ID(), p.HostKey).ApplyT(func(v []any) (string, error) {
			return inventory.KnownHosts([]string{string(v[0].(pulumi.ID))}, v[1].(string))
		}).(pulumi.StringOutput)
		return nil
	}
	key := pulumi.StringPtrInput(nil)
	if host.PrivateKey != nil {
		key = host.PrivateKey.PrivateKeyOpenssh
	}
	address := host.IP.PublicIp
	cmd, err := remote.NewCommand(ctx, "wait-ready", &remote.CommandArgs{
		Connection: remote.ConnectionArgs{
			Host:       address,
			User:       pulumi.String(infra.SSHUser),
			PrivateKey: key,
			// A cold boot with cloud-init takes one to three minutes.
			DialErrorLimit: pulumi.Int(60),
			PerDialTimeout: pulumi.Int(10),
		},
		Create:   pulumi.String(infra.FirstContactScript),
		Stdin:    expected,
		Triggers: pulumi.Array{host.Instance.ID(), address},
		Logging:  remote.LoggingStderr,
	}, after...)
	if err != nil {
		return err
	}
	p.WaitReady, p.HostKey = cmd, cmd.Stdout
	p.Rendered.KnownHosts = pulumi.All(address, p.HostKey).ApplyT(func(v []any) (string, error) {
		return inventory.KnownHosts([]string{v[0].(string), cfg.MatrixHost()}, v[1].(string))
	}).(pulumi.StringOutput)
	return nil
}

// firstContactSSM runs infra.FirstContactScript through the wrapper, which
// reaches the host with ssh inside a Session Manager session:
// pulumi-command's remote.Connection (v1.2.0) has no ProxyCommand. The
// protections are those of the remote form: the script checks the
// instance ID through IMDSv2 against the expected one, which the wrapper
// hands it on stdin (here the session's own target, which AWS
// authenticates); the wrapper prints only the key, and only when it is
// the key ssh saw; the private key reaches it in the environment, never an
// argument.
func firstContactSSM(ctx *pulumi.Context, cfg infra.Config, host *Host, opts ...pulumi.ResourceOption) (*local.Command, error) {
	env := ssmEnv(ctx, cfg, host)
	env[ansible.EnvSSHUser] = pulumi.String(infra.SSHUser)
	if host.PrivateKey != nil {
		env[ansible.EnvSSHPrivateKey] = pulumi.ToSecret(host.PrivateKey.PrivateKeyOpenssh).(pulumi.StringOutput)
	}
	return local.NewCommand(ctx, "wait-ready", &local.CommandArgs{
		Create:      pulumi.String(ansible.Dir + "/" + ansible.Wrapper + " " + ansible.FirstContactFlag),
		Stdin:       pulumi.String(infra.FirstContactScript),
		Environment: env,
		Triggers:    pulumi.Array{host.Instance.ID()},
		Logging:     local.LoggingStderr,
	}, infra.WithOpts(opts, pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}))...)
}

// ssmEnv tells the wrapper to reach the host through Session Manager.
func ssmEnv(ctx *pulumi.Context, cfg infra.Config, host *Host) pulumi.StringMap {
	target := host.Instance.ID().ToStringOutput().ApplyT(func(id string) (string, error) {
		if ctx.DryRun() {
			return id, nil // a preview runs no command; the ID may be a placeholder
		}
		return id, inventory.CheckSSMTarget(id, cfg.Region)
	}).(pulumi.StringOutput)
	return pulumi.StringMap{
		ansible.EnvConnection: pulumi.String(ansible.ConnectionSSM),
		ansible.EnvSSMTarget:  target,
		ansible.EnvSSMRegion:  pulumi.String(cfg.Region),
	}
}
