package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// fixAuthService is what to do when the server does not advertise the
// Matrix Authentication Service.
const fixAuthService = "run the Matrix Authentication Service (playbook: matrix_authentication_service_enabled: true, without matrix_authentication_service_migration_in_progress) and re-run the playbook; Synapse then serves %s/_matrix/client/v1/auth_metadata and the client .well-known names the issuer"

// Where a homeserver advertises its OAuth 2.0 authorization server: the
// stable endpoint (Matrix spec v1.15, from MSC2965) and the unstable one
// of MSC2965, which Synapse served first.
var authMetadataPaths = []string{
	"/_matrix/client/v1/auth_metadata",
	"/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
}

// msc2965WellKnownKey is the client .well-known property of MSC2965's
// first revision, which the playbook still publishes
// (matrix_static_files_file_matrix_client_property_org_matrix_msc2965_authentication_*).
const msc2965WellKnownKey = "org.matrix.msc2965.authentication"

// authMetadata is the part of the server metadata (RFC 8414) the check
// reads; mautrix-go v0.26 has no type for it.
type authMetadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// wellKnownAuth is the MSC2965 property of the client .well-known.
type wellKnownAuth struct {
	Issuer  string `json:"issuer"`
	Account string `json:"account"`
}

// checkAuthService checks that the server delegates authentication: the
// client API names an authorization server with its endpoints, and the
// client .well-known, when it names one too, names the same issuer.
func (v *verifier) checkAuthService(ctx context.Context, base *url.URL) Result {
	fix := fmt.Sprintf(fixAuthService, base)
	md, where, err := v.fetchAuthMetadata(ctx, base)
	if err != nil {
		return failed(fix, "%v", err)
	}
	if u, err := url.Parse(md.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		return failed(fix, "%s names issuer %q, not an https URL", where, md.Issuer)
	}
	if md.AuthorizationEndpoint == "" || md.TokenEndpoint == "" {
		return failed(fix, "%s names no authorization or token endpoint", where)
	}
	doc, err := v.clientWellKnown(ctx)
	if err != nil {
		return failed(fix, "%v", err)
	}
	raw, ok := doc[msc2965WellKnownKey]
	if !ok {
		return passed("%s names issuer %s", where, md.Issuer)
	}
	var auth wellKnownAuth
	if err := json.Unmarshal(raw, &auth); err != nil {
		return failed(fix, "/.well-known/matrix/client: %s is not an object: %v", msc2965WellKnownKey, err)
	}
	if auth.Issuer != md.Issuer {
		return failed(fix, "/.well-known/matrix/client names issuer %q, %s names %q", auth.Issuer, where, md.Issuer)
	}
	return passed("%s and /.well-known/matrix/client name issuer %s (account management at %s)", where, md.Issuer, auth.Account)
}

// fetchAuthMetadata reads the first metadata endpoint the server serves.
func (v *verifier) fetchAuthMetadata(ctx context.Context, base *url.URL) (*authMetadata, string, error) {
	var errs []error
	for _, p := range authMetadataPaths {
		u := base.JoinPath(p).String()
		md, status, err := v.getJSON(ctx, u)
		if err == nil {
			return md, "GET " + u, nil
		}
		errs = append(errs, err)
		if status != http.StatusNotFound {
			break // only a missing endpoint sends us to the next one
		}
	}
	return nil, "", fmt.Errorf("the server advertises no authorization server: %w", errors.Join(errs...))
}

func (v *verifier) getJSON(ctx context.Context, u string) (*authMetadata, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: HTTP %s", u, resp.Status)
	}
	var md authMetadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: not JSON: %v", u, err)
	}
	return &md, resp.StatusCode, nil
}
