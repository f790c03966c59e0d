package eks

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Hosts are the chart's hostnames under the domain: the core's names for
// the homeserver and Element, the chart's own for the rest.
func Hosts(cfg infra.Config) ess.Hosts {
	h := ess.DefaultHosts(cfg.Domain)
	h.Synapse, h.ElementWeb = cfg.MatrixHost(), cfg.ElementHost()
	return h
}

// Records are the names the eks topology publishes, each an alias of the
// ALB: every host the chart serves, and the domain itself for
// /.well-known/matrix with matrix:serveBaseDomain.
func Records(cfg infra.Config) []infra.Record {
	h := Hosts(cfg)
	names := []string{h.Synapse}
	if cfg.Element {
		names = append(names, h.ElementWeb)
	}
	if cfg.Auth == infra.AuthMAS {
		names = append(names, h.MAS, h.Admin)
	}
	if cfg.Calls.On() {
		names = append(names, h.RTC)
	}
	if cfg.ServeBaseDomain {
		names = append(names, cfg.Domain)
	}
	var out []infra.Record
	for _, n := range names {
		label := infra.RecordLabel(n, cfg.Domain)
		if n == cfg.Domain {
			label = ""
		}
		out = append(out, infra.Record{Label: label, Type: "A"})
		if cfg.IPv6 {
			out = append(out, infra.Record{Label: label, Type: "AAAA"})
		}
	}
	return out
}

// CertificateNames are the names on the ALB's certificate.
func CertificateNames(cfg infra.Config) []string {
	var out []string
	for _, r := range Records(cfg) {
		if n := r.Name(cfg.Domain); len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

// newEdge declares the ALB's certificate, validated in the zone, and the
// Elastic IPs of the SFU's NLB: LiveKit advertises one address in its ICE
// candidates, so it must be fixed before the NLB exists.
func (e *EKS) newEdge(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	var err error
	if e.Certificate, e.Validation, err = infra.NewCertificate(ctx, cfg, hs.Facts, CertificateNames(cfg), opts...); err != nil {
		return err
	}
	if !cfg.Calls.On() {
		return nil
	}
	for i := range hs.Network.Subnets {
		ip, err := ec2.NewEip(ctx, fmt.Sprintf("sfu-%d", i), &ec2.EipArgs{
			Domain: pulumi.String("vpc"),
			Tags:   infra.NameTag(ctx, fmt.Sprintf("sfu-%d", i)),
		}, infra.WithOpts(opts, pulumi.Protect(cfg.Protect))...)
		if err != nil {
			return err
		}
		e.SFUAddresses = append(e.SFUAddresses, ip)
	}
	return nil
}
