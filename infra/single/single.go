// Package single is the single topology: one EC2 host behind its own
// security group, with its Elastic IP, its data volume and the DNS records
// pointing at it, provisioned over SSH by the upstream playbook.
package single

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Single is what the single topology declares beyond the shared core.
type Single struct {
	Firewall *Firewall
	Host     *Host
}

// New is an empty single topology for infra.NewHomeserver to fill.
func New() *Single { return &Single{} }

// Check refuses a data volume that would replace the stack's own.
func (s *Single) Check(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.InvokeOption) error {
	return checkDataVolume(ctx, hs.Config, hs.Facts, opts...)
}

// Declare adds the host behind its own firewall, its DNS records, and the
// steps that provision it.
func (s *Single) Declare(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg, facts := hs.Config, hs.Facts
	var err error
	if s.Firewall, err = newFirewall(ctx, cfg, hs.Network, opts...); err != nil {
		return err
	}
	if s.Host, err = newHost(ctx, cfg, facts, hs.Network, s.Firewall, hs.Alerting.Notify(), opts...); err != nil {
		return err
	}
	if hs.Records, err = newRecords(ctx, cfg, facts, s.Host, opts...); err != nil {
		return err
	}
	hs.Provisioning, err = newProvisioning(ctx, cfg, hs, s.Host, opts...)
	return err
}

// Watch adds the host's alarms.
func (s *Single) Watch(ctx *pulumi.Context, hs *infra.Homeserver, a *infra.Alerting) error {
	return a.WatchInstances(ctx, hs.Config, pulumi.StringMap{"InstanceId": s.Host.Instance.ID().ToStringOutput()}, false)
}

// Outputs are the host's address, IDs and the ways in.
func (s *Single) Outputs(hs *infra.Homeserver) map[string]pulumi.Input {
	cfg, host := hs.Config, s.Host
	out := map[string]pulumi.Input{
		"publicIpv4":    host.IP.PublicIp,
		"instanceId":    host.Instance.ID().ToStringOutput(),
		"dataVolumeId":  host.DataVolume.ID().ToStringOutput(),
		"amiId":         host.Instance.Ami,
		"latestAmiId":   pulumi.String(hs.Facts.AMI),
		"latestAmiName": pulumi.String(hs.Facts.AMIName),
	}
	if cfg.IPv6 {
		out["publicIpv6"] = host.Instance.Ipv6Addresses.Index(pulumi.Int(0))
	}
	if cfg.Access == infra.AccessSSM {
		out["sessionCommand"] = host.Instance.ID().ToStringOutput().ApplyT(func(id string) string {
			return infra.SessionCommand(id, cfg.Region)
		}).(pulumi.StringOutput)
	}
	target := host.Instance.ID().ToStringOutput()
	if cfg.Access == infra.AccessSSH {
		target = host.IP.PublicIp
	}
	out["sshCommand"] = target.ApplyT(func(t string) string {
		return sshCommand(cfg, t, host.PrivateKey != nil)
	}).(pulumi.StringOutput)
	if host.PrivateKey != nil {
		out["sshPrivateKey"] = pulumi.ToSecret(host.PrivateKey.PrivateKeyOpenssh)
	}
	if cfg.Provision && hs.Provisioning != nil {
		out["playbookCommand"] = pulumi.String(infra.ManualCommand(hs.Stack))
		out["ansibleEnvironment"] = pulumi.ToSecret(hs.Provisioning.Environment)
	}
	return out
}

// sshCommand is how an operator logs in: to the address with matrix:access
// ssh, to the instance ID through Session Manager with ssm (target is the
// one or the other). With a generated key it writes the key file first:
// private from the moment it exists (umask 077, not chmod'ed after the key
// is in it), and a file left from an earlier run, which would keep its
// mode when overwritten, goes first.
func sshCommand(cfg infra.Config, target string, generatedKey bool) string {
	ssh := "ssh"
	if generatedKey {
		ssh = "(umask 077 && rm -f matrix-ssh.key && pulumi stack output sshPrivateKey --show-secrets > matrix-ssh.key) && ssh -i matrix-ssh.key"
	}
	if cfg.Access == infra.AccessSSM {
		ssh += " -o ProxyCommand='" + infra.ProxyCommand(target, cfg.Region) + "'"
	}
	return ssh + " " + infra.SSHUser + "@" + target
}

var _ = fmt.Sprint
