package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Network says how the verifier reaches the server.
type Network struct {
	// Resolve maps "host:port" to the "addr:port" to dial instead, like
	// curl's --resolve and --connect-to. It applies to every connection, including those
	// made by the Matrix library during discovery.
	Resolve map[string]string
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// Resolver is used for SRV and address lookups; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// AddResolve parses a curl-style "host:port:addr" entry and adds it to
// n.Resolve. An IPv6 addr may be written with or without brackets.
func (n *Network) AddResolve(entry string) error {
	host, rest, ok := strings.Cut(entry, ":")
	port, addr, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || host == "" || port == "" || addr == "" {
		return fmt.Errorf("resolve entry %q: want host:port:addr", entry)
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("resolve entry %q: %q is not an IP address", entry, addr)
	}
	if n.Resolve == nil {
		n.Resolve = make(map[string]string)
	}
	n.Resolve[net.JoinHostPort(strings.ToLower(host), port)] = net.JoinHostPort(addr, port)
	return nil
}

// AddConnectTo parses a curl-style "host:port:addr:port2" entry and adds it
// to n.Resolve: connections for host:port go to addr:port2. An IPv6 addr
// must be written in brackets.
func (n *Network) AddConnectTo(entry string) error {
	host, rest, ok := strings.Cut(entry, ":")
	port, to, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || host == "" || port == "" {
		return fmt.Errorf("connect-to entry %q: want host:port:addr:port", entry)
	}
	addr, toPort, err := net.SplitHostPort(to)
	if err != nil || addr == "" || toPort == "" {
		return fmt.Errorf("connect-to entry %q: want host:port:addr:port", entry)
	}
	if n.Resolve == nil {
		n.Resolve = make(map[string]string)
	}
	n.Resolve[net.JoinHostPort(strings.ToLower(host), port)] = net.JoinHostPort(addr, toPort)
	return nil
}

// AddCAFile adds the PEM certificates in path to the trusted roots, on top
// of the system roots.
func (n *Network) AddCAFile(path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read CA file: %w", err)
	}
	if n.RootCAs == nil {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		n.RootCAs = pool
	}
	if !n.RootCAs.AppendCertsFromPEM(pem) {
		return fmt.Errorf("CA file %s: no PEM certificates found", path)
	}
	return nil
}

// target returns the address to dial for addr after applying Resolve.
func (n *Network) target(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if to, ok := n.Resolve[net.JoinHostPort(strings.ToLower(host), port)]; ok {
		return to
	}
	return addr
}

func (n *Network) resolver() *net.Resolver {
	if n.Resolver == nil {
		return net.DefaultResolver
	}
	return n.Resolver
}

func (n *Network) dialer() *net.Dialer {
	return &net.Dialer{Resolver: n.Resolver, Timeout: 10 * time.Second}
}

// DialContext dials addr, or the address Resolve maps it to.
func (n *Network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return n.dialer().DialContext(ctx, network, n.target(addr))
}

func (n *Network) tlsConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: n.RootCAs, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// Transport returns an HTTP transport that dials through n and trusts its
// roots. Keep-alives are off so that every probe opens its own connection.
func (n *Network) Transport() *http.Transport {
	return &http.Transport{
		DialContext:         n.DialContext,
		TLSClientConfig:     n.tlsConfig(""),
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
		ForceAttemptHTTP2:   true,
	}
}

// HTTPClient returns a client using Transport.
func (n *Network) HTTPClient() *http.Client {
	return &http.Client{Transport: n.Transport()}
}
