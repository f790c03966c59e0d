package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/federation"
)

const (
	fixWellKnownServer = "serve /.well-known/matrix/server on https://%s as JSON {\"m.server\": \"matrix.%s:443\"} (playbook: matrix_static_files_container_labels_base_domain_enabled: true and an A/AAAA record for the base domain)"
	fixWellKnownClient = "serve /.well-known/matrix/client on https://%s as JSON {\"m.homeserver\": {\"base_url\": \"https://matrix.%s\"}} with Content-Type: application/json and Access-Control-Allow-Origin: *"
)

// wellKnown is a fetched /.well-known/matrix/* document.
type wellKnown struct {
	header http.Header
	body   []byte
}

// clientWellKnown fetches /.well-known/matrix/client as its top-level
// members, which the checks of optional features (MAS, calls) each decode
// their own member of.
func (v *verifier) clientWellKnown(ctx context.Context) (map[string]json.RawMessage, error) {
	wk, err := fetchWellKnown(ctx, v.http, v.host, "client")
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(wk.body, &doc); err != nil {
		return nil, fmt.Errorf("/.well-known/matrix/client is not valid JSON: %w", err)
	}
	return doc, nil
}

func fetchWellKnown(ctx context.Context, hc *http.Client, host, doc string) (*wellKnown, error) {
	u := url.URL{Scheme: "https", Host: host, Path: "/.well-known/matrix/" + doc}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, mautrix.WellKnownMaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u.String(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %s", u.String(), resp.Status)
	}
	if len(body) > mautrix.WellKnownMaxSize {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u.String(), mautrix.WellKnownMaxSize)
	}
	return &wellKnown{header: resp.Header, body: body}, nil
}

// checkJSONType fails unless the document is served as application/json.
func (wk *wellKnown) checkJSONType() error {
	ct := wk.header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("Content-Type is %q, want application/json", ct)
	}
	return nil
}

func (v *verifier) checkWellKnownServer(ctx context.Context) Result {
	host := v.host
	fix := fmt.Sprintf(fixWellKnownServer, host, host)
	wk, err := fetchWellKnown(ctx, v.http, host, "server")
	if err != nil {
		return failed(fix, "%v", err)
	}
	if err := wk.checkJSONType(); err != nil {
		return failed(fix, "/.well-known/matrix/server: %v", err)
	}
	var doc federation.RespWellKnown
	if err := json.Unmarshal(wk.body, &doc); err != nil {
		return failed(fix, "/.well-known/matrix/server is not valid JSON: %v", err)
	}
	if doc.Server == "" {
		return failed(fix, "/.well-known/matrix/server has no \"m.server\" string")
	}
	if _, _, ok := federation.ParseServerName(doc.Server); !ok {
		return failed(fix, "/.well-known/matrix/server: m.server %q is not a valid server name", doc.Server)
	}
	return passed("m.server is %s", doc.Server)
}

// checkWellKnownClient checks the client document and returns the
// homeserver base URL it announces.
func (v *verifier) checkWellKnownClient(ctx context.Context) (Result, *url.URL) {
	host := v.host
	fix := fmt.Sprintf(fixWellKnownClient, host, host)
	wk, err := fetchWellKnown(ctx, v.http, host, "client")
	if err != nil {
		return failed(fix, "%v", err), nil
	}
	var doc mautrix.ClientWellKnown
	if err := json.Unmarshal(wk.body, &doc); err != nil {
		return failed(fix, "/.well-known/matrix/client is not valid JSON: %v", err), nil
	}
	if doc.Homeserver.BaseURL == "" {
		return failed(fix, "/.well-known/matrix/client has no m.homeserver.base_url"), nil
	}
	base, err := url.Parse(doc.Homeserver.BaseURL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return failed(fix, "m.homeserver.base_url %q is not an https URL", doc.Homeserver.BaseURL), nil
	}
	var problems []error
	if err := wk.checkJSONType(); err != nil {
		problems = append(problems, err)
	}
	if got := wk.header.Get("Access-Control-Allow-Origin"); got != "*" {
		problems = append(problems, fmt.Errorf("Access-Control-Allow-Origin is %q, want *: web clients cannot read it", got))
	}
	if len(problems) > 0 {
		// The base URL is still usable by the client checks.
		return failed(fix, "/.well-known/matrix/client: %v", errors.Join(problems...)), base
	}
	return passed("m.homeserver.base_url is %s", base), base
}
