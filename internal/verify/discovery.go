package verify

import (
	"context"
	"fmt"
	"net"
	"strings"

	"maunium.net/go/mautrix/federation"
)

const fixDiscovery = "delegate with /.well-known/matrix/server (or SRV _matrix-fed._tcp.%s), or serve federation on %s:8448; make sure every target name has A/AAAA records"

// checkDiscovery resolves the server name with the Matrix library, which
// follows the specification's order: IP literal or explicit port,
// .well-known, SRV _matrix-fed._tcp then _matrix._tcp, then port 8448.
func (v *verifier) checkDiscovery(ctx context.Context) (Result, *federation.ResolvedServerName) {
	fix := fmt.Sprintf(fixDiscovery, v.host, v.host)
	res, err := federation.ResolveServerName(ctx, v.cfg.ServerName, &federation.ResolveServerNameOpts{
		HTTPClient: v.http,
		DNSClient:  v.cfg.Network.resolver(),
	})
	if err != nil {
		return failed(fix, "resolve %s: %v", v.cfg.ServerName, err), nil
	}
	if len(res.IPPort) == 0 {
		return failed(fix, "resolve %s: no federation address", v.cfg.ServerName), nil
	}
	for _, addr := range res.IPPort {
		if err := v.lookupTarget(ctx, addr); err != nil {
			return failed(fix, "%s resolves to %s, but %v", v.cfg.ServerName, addr, err), nil
		}
	}
	return passed("%s via %s", strings.Join(res.IPPort, ", "), discoveryMethod(v.cfg.ServerName, res)), res
}

// lookupTarget checks that a discovered host:port has addresses, unless it
// is an IP literal or mapped by Network.Resolve.
func (v *verifier) lookupTarget(ctx context.Context, addr string) error {
	if v.cfg.Network.target(addr) != addr {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if _, err := v.cfg.Network.resolver().LookupHost(ctx, host); err != nil {
		return fmt.Errorf("%s does not resolve: %w", host, err)
	}
	return nil
}

// discoveryMethod names the step of the algorithm that produced res.
func discoveryMethod(serverName string, res *federation.ResolvedServerName) string {
	host, port, _ := federation.ParseServerName(serverName)
	switch {
	case net.ParseIP(host) != nil || port != 0:
		return "the server name itself (IP literal or explicit port)"
	case res.HostHeader != serverName:
		return ".well-known delegation"
	case res.IPPort[0] != net.JoinHostPort(host, "8448"):
		return "SRV record"
	default:
		return "default port 8448 (no .well-known, no SRV)"
	}
}
