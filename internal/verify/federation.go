package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"maunium.net/go/mautrix/federation"
)

const (
	fixFederationAPI  = "make %s reach the homeserver's federation listener (playbook: open 8448/tcp, matrix_playbook_public_matrix_federation_api_traefik_entrypoint enabled)"
	fixFederationKeys = "the homeserver must run with server_name %q (playbook: matrix_domain is the base domain) and publish its signing key"
)

// federationClient returns a mautrix federation client that sends requests
// to the already resolved server, dialed through the verifier's network.
func (v *verifier) federationClient(res *federation.ResolvedServerName) *federation.Client {
	mapped := *res
	mapped.IPPort = make([]string, len(res.IPPort))
	for i, addr := range res.IPPort {
		mapped.IPPort[i] = v.cfg.Network.target(addr)
	}
	cache := federation.NewInMemoryCache()
	cache.StoreResolution(&mapped)
	srt := federation.NewServerResolvingTransport(cache)
	srt.Dialer = v.cfg.Network.dialer()
	srt.Transport.TLSClientConfig = v.cfg.Network.tlsConfig("")
	srt.Transport.DisableKeepAlives = true
	cli := federation.NewClient("", nil, cache)
	cli.HTTP = &http.Client{
		Transport:     srt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return cli
}

func (v *verifier) checkFederationVersion(ctx context.Context, cli *federation.Client, res *federation.ResolvedServerName) Result {
	ver, err := cli.Version(ctx, v.cfg.ServerName)
	if err != nil {
		return failed(fmt.Sprintf(fixFederationAPI, res.IPPort[0]), "GET /_matrix/federation/v1/version via %s: %v", res.IPPort[0], err)
	}
	return passed("%s %s", ver.Server.Name, ver.Server.Version)
}

func (v *verifier) checkFederationKeys(ctx context.Context, cli *federation.Client, res *federation.ResolvedServerName) Result {
	fix := fmt.Sprintf(fixFederationKeys, v.cfg.ServerName)
	keys, err := cli.ServerKeys(ctx, v.cfg.ServerName)
	if err != nil {
		return failed(fmt.Sprintf(fixFederationAPI, res.IPPort[0]), "GET /_matrix/key/v2/server via %s: %v", res.IPPort[0], err)
	}
	if keys.ServerName != v.cfg.ServerName {
		return failed(fix, "keys are for server_name %q, not %q", keys.ServerName, v.cfg.ServerName)
	}
	if len(keys.VerifyKeys) == 0 {
		return failed(fix, "no verify_keys published")
	}
	if err := keys.VerifySelfSignature(); err != nil {
		return failed(fix, "self-signature by %s: %v", v.cfg.ServerName, err)
	}
	until := keys.ValidUntilTS.Time
	if !until.After(time.Now()) {
		return failed(fix, "valid_until_ts %s is in the past", until.UTC().Format(time.RFC3339))
	}
	ids := make([]string, 0, len(keys.VerifyKeys))
	for id := range keys.VerifyKeys {
		ids = append(ids, string(id))
	}
	return passed("%d key(s) %v self-signed by %s, valid until %s",
		len(ids), ids, keys.ServerName, until.UTC().Format(time.RFC3339))
}

// federationSNI is the name the federation certificate must cover: the
// delegated host, without port.
func federationSNI(res *federation.ResolvedServerName) string {
	host, _, err := net.SplitHostPort(res.HostHeader)
	if err != nil {
		return res.HostHeader
	}
	return host
}
