package verify

import (
	"context"
	"net"
	"time"
)

// ResolverFor returns a resolver that sends every DNS query to server
// (host:port) instead of the system's configured name servers.
func ResolverFor(server string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, network, server)
		},
	}
}
