package verify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/testpki"
)

// fault describes what a faultProxy does to traffic on its way to a real
// server.
type fault struct {
	// cert is the certificate the proxy presents; nil means a valid one
	// for example.test and matrix.example.test.
	cert *testpki.Leaf
	// upstream picks the backend address for a request; nil means the
	// fixture's main server.
	upstream func(*http.Request) string
	// modify changes the real response before it reaches the verifier.
	modify func(*http.Response) error
}

// startProxy runs a TLS reverse proxy in front of the fixture's servers
// that applies fault, and returns its address.
func (f *fixture) startProxy(t testing.TB, flt fault) string {
	t.Helper()
	leaf := flt.cert
	if leaf == nil {
		var err error
		if leaf, err = f.ca.IssueValid(30*24*time.Hour, domain, matrixHS); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := leaf.TLS()
	if err != nil {
		t.Fatal(err)
	}
	upstream := flt.upstream
	if upstream == nil {
		upstream = func(*http.Request) string { return f.main.HTTPSAddr }
	}
	type upstreamKey struct{}
	d := &net.Dialer{Timeout: 5 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "https"
			pr.Out.URL.Host = pr.In.Host
			pr.Out.Host = pr.In.Host
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), upstreamKey{}, upstream(pr.In)))
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, ctx.Value(upstreamKey{}).(string))
			},
			TLSClientConfig:   &tls.Config{RootCAs: f.ca.Pool()},
			DisableKeepAlives: true,
		},
		ModifyResponse: flt.modify,
		ErrorLog:       quiet,
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.Config.ErrorLog = quiet
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// quiet drops the proxy's expected complaints (refused upstreams, TLS
// handshakes the verifier rejects).
var quiet = log.New(io.Discard, "", 0)

// onPath applies change only to responses for the given path.
func onPath(path string, change func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		if resp.Request.URL.Path != path {
			return nil
		}
		return change(resp)
	}
}

// replaceBody swaps old for new in the response body.
func replaceBody(old, new string) func(*http.Response) error {
	return func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(old), []byte(new))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
}

// addMember adds a member to the JSON object in the response body.
func addMember(name string, value any) func(*http.Response) error {
	return func(resp *http.Response) error {
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			return err
		}
		resp.Body.Close()
		doc[name] = value
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
}
