package verify_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/verify"
)

// Dendrite serves neither the auth metadata nor the MSC2965 property of
// the client .well-known (its well-known configuration holds only the
// base URL and the sliding sync proxy), so a proxy in front of it answers
// them as Synapse with the Matrix Authentication Service does; every
// other request, the login round trip included, reaches the real server.
const (
	issuer   = "https://matrix.example.test/auth/"
	metadata = `{"issuer":"` + issuer + `","authorization_endpoint":"` + issuer + `authorize","token_endpoint":"` + issuer + `oauth2/token"}`
)

// answer replaces the response with status and a JSON body.
func answer(status int, body string) func(*http.Response) error {
	return func(resp *http.Response) error {
		resp.Body.Close()
		resp.StatusCode, resp.Status = status, strconv.Itoa(status)+" "+http.StatusText(status)
		resp.Body = io.NopCloser(bytes.NewReader([]byte(body)))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Set("Content-Type", "application/json")
		return nil
	}
}

// both applies every change that applies.
func both(changes ...func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		for _, c := range changes {
			if err := c(resp); err != nil {
				return err
			}
		}
		return nil
	}
}

func wellKnownAuth(issuer string) func(*http.Response) error {
	return onPath("/.well-known/matrix/client", replaceBody(`"m.homeserver"`,
		`"org.matrix.msc2965.authentication":{"issuer":"`+issuer+`","account":"`+issuer+`account"},"m.homeserver"`))
}

func testAuthService(t *testing.T, f *fixture) {
	tests := []struct {
		name       string
		client, wk func(*http.Response) error // on matrix.example.test, on example.test
		want       verify.Status
		wantReason string
	}{
		{"stable endpoint and well-known", onPath("/_matrix/client/v1/auth_metadata", answer(200, metadata)), wellKnownAuth(issuer),
			verify.Pass, "/.well-known/matrix/client name issuer " + issuer},
		{"unstable endpoint only", onPath("/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", answer(200, metadata)), nil,
			verify.Pass, "org.matrix.msc2965/auth_metadata names issuer " + issuer},
		{"not advertised", nil, nil, verify.Fail, "advertises no authorization server"},
		{"well-known names another issuer", onPath("/_matrix/client/v1/auth_metadata", answer(200, metadata)), wellKnownAuth("https://elsewhere.test/"),
			verify.Fail, `names issuer "https://elsewhere.test/"`},
		{"metadata without endpoints", onPath("/_matrix/client/v1/auth_metadata", answer(200, `{"issuer":"`+issuer+`"}`)), nil,
			verify.Fail, "no authorization or token endpoint"},
		{"endpoint fails", both(onPath("/_matrix/client/v1/auth_metadata", answer(500, `{}`)),
			onPath("/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", answer(200, metadata))), nil,
			verify.Fail, "HTTP 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			routes := f.routes(t)
			if tc.client != nil {
				addr := f.startProxy(t, fault{modify: tc.client})
				routes[matrixHS+":443"] = addr
			}
			if tc.wk != nil {
				routes[domain+":443"] = f.startProxy(t, fault{modify: tc.wk})
			}
			cfg := f.config(t, routes, zone())
			cfg.AuthService, cfg.Registration = true, ""
			rep := run(t, cfg)
			res, _ := rep.Result(verify.CheckAuthService)
			if res.Status != tc.want || rep.OK != (tc.want == verify.Pass) {
				t.Errorf("auth-service %s (%s), report ok=%v; want %s", res.Status, res.Reason, rep.OK, tc.want)
			}
			expectReason(t, rep, verify.CheckAuthService, tc.wantReason)
			if reg, _ := rep.Result(verify.CheckRegistration); reg.Status != verify.Skip {
				t.Errorf("registration: %s, want skip: MAS handles it", reg.Status)
			}
			if tc.want == verify.Pass {
				// The password login of the round trip still works, as
				// through MAS's compatibility layer.
				expectReason(t, rep, verify.CheckRoundTrip, "read it back via /sync")
			}
		})
	}
}
