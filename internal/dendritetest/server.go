package dendritetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"text/template"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/synapseadmin"

	"github.com/matrix-on-aws/homeserver/internal/testpki"
)

// Options configure one Dendrite instance.
type Options struct {
	// ServerName is the Matrix server name, e.g. example.test.
	ServerName string
	// CA issues the instance's TLS certificate. It may be an intermediate
	// (testpki.CA.NewIntermediate), even an expired one: Dendrite then
	// serves the leaf followed by the intermediates, as a deployment's
	// fullchain certificate would be served.
	CA *testpki.CA
	// CertNames are the names in the certificate; default ServerName and
	// matrix.ServerName.
	CertNames []string
	// OpenRegistration allows registration with m.login.dummy; otherwise
	// registration is closed (shared-secret registration always works).
	OpenRegistration bool
	// WellKnownServer and WellKnownClient are served under
	// /.well-known/matrix/; defaults matrix.ServerName:8448 and
	// https://matrix.ServerName.
	WellKnownServer string
	WellKnownClient string
}

// Server is a running Dendrite instance.
type Server struct {
	ServerName   string
	HTTPSAddr    string // 127.0.0.1:port serving client, federation and .well-known over TLS
	SharedSecret string
	Dir          string
	ca           *testpki.CA
}

// Start runs Dendrite with opts until the test ends. It fails the test if
// the server does not come up.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s, cmd, err := launch(bin, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go p.wait()
	t.Cleanup(p.stop)
	if err := s.waitReady(p, 90*time.Second); err != nil {
		t.Fatalf("dendrite %s did not start: %v\n%s", opts.ServerName, err, s.logTail())
	}
	return s
}

func launch(bin, dir string, opts Options) (*Server, *exec.Cmd, error) {
	s := &Server{ServerName: opts.ServerName, Dir: dir, ca: opts.CA, SharedSecret: randomHex(16)}
	if err := s.writeFiles(opts); err != nil {
		return nil, nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	if s.HTTPSAddr, err = freeAddr(); err != nil {
		return nil, nil, err
	}
	args := []string{
		"-config", filepath.Join(dir, "dendrite.yaml"),
		"-http-bind-address", httpAddr,
		"-https-bind-address", s.HTTPSAddr,
		"-tls-cert", filepath.Join(dir, "cert.pem"),
		"-tls-key", filepath.Join(dir, "key.pem"),
	}
	if opts.OpenRegistration {
		args = append(args, "-really-enable-open-registration")
	}
	logFile, err := os.Create(filepath.Join(dir, "dendrite.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, fmt.Errorf("start dendrite: %w", err)
	}
	logFile.Close()
	return s, cmd, nil
}

// process is a started Dendrite; done closes when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *process) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (s *Server) writeFiles(opts Options) error {
	names := opts.CertNames
	if len(names) == 0 {
		names = []string{opts.ServerName, "matrix." + opts.ServerName}
	}
	leaf, err := opts.CA.IssueValid(30*24*time.Hour, names...)
	if err != nil {
		return err
	}
	if _, _, err := leaf.WriteFiles(s.Dir); err != nil {
		return err
	}
	if err := writeSigningKey(filepath.Join(s.Dir, "matrix_key.pem")); err != nil {
		return err
	}
	return s.writeConfig(opts)
}

// writeSigningKey writes an ed25519 seed in Dendrite's matrix_key.pem
// format.
func writeSigningKey(path string) error {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	block := &pem.Block{
		Type:    "MATRIX PRIVATE KEY",
		Headers: map[string]string{"Key-ID": "ed25519:test"},
		Bytes:   seed,
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

var configTmpl = template.Must(template.New("dendrite.yaml").Parse(`version: 2
global:
  server_name: {{.ServerName}}
  private_key: {{.Dir}}/matrix_key.pem
  key_validity_period: 168h0m0s
  cache:
    max_size_estimated: 64mb
    max_age: 1h
  well_known_server_name: "{{.WellKnownServer}}"
  well_known_client_name: "{{.WellKnownClient}}"
  trusted_third_party_id_servers: []
  disable_federation: false
  presence:
    enable_inbound: false
    enable_outbound: false
  report_stats:
    enabled: false
  jetstream:
    in_memory: true
    storage_path: {{.Dir}}/jetstream
    topic_prefix: Dendrite
  metrics:
    enabled: false
  dns_cache:
    enabled: false
app_service_api:
  config_files: []
client_api:
  registration_disabled: {{not .Open}}
  guests_disabled: true
  registration_shared_secret: "{{.Secret}}"
  enable_registration_captcha: false
  rate_limiting:
    enabled: false
federation_api:
  database:
    connection_string: file:{{.Dir}}/federationapi.db
  send_max_retries: 1
  key_perspectives: []
  prefer_direct_fetch: true
key_server:
  database:
    connection_string: file:{{.Dir}}/keyserver.db
media_api:
  base_path: {{.Dir}}/media
  database:
    connection_string: file:{{.Dir}}/mediaapi.db
mscs:
  mscs: []
  database:
    connection_string: file:{{.Dir}}/mscs.db
relay_api:
  database:
    connection_string: file:{{.Dir}}/relayapi.db
room_server:
  database:
    connection_string: file:{{.Dir}}/roomserver.db
sync_api:
  database:
    connection_string: file:{{.Dir}}/syncapi.db
  search:
    enabled: false
user_api:
  bcrypt_cost: 4
  account_database:
    connection_string: file:{{.Dir}}/userapi.db
tracing:
  enabled: false
logging:
  - type: std
    level: warn
`))

func (s *Server) writeConfig(opts Options) error {
	wkServer, wkClient := opts.WellKnownServer, opts.WellKnownClient
	if wkServer == "" {
		wkServer = "matrix." + opts.ServerName + ":8448"
	}
	if wkClient == "" {
		wkClient = "https://matrix." + opts.ServerName
	}
	var buf bytes.Buffer
	err := configTmpl.Execute(&buf, map[string]any{
		"ServerName":      opts.ServerName,
		"Dir":             s.Dir,
		"WellKnownServer": wkServer,
		"WellKnownClient": wkClient,
		"Open":            opts.OpenRegistration,
		"Secret":          s.SharedSecret,
	})
	if err != nil {
		return fmt.Errorf("render dendrite config: %w", err)
	}
	return os.WriteFile(filepath.Join(s.Dir, "dendrite.yaml"), buf.Bytes(), 0o600)
}

// HTTPClient returns a client that sends every request to the server's
// TLS port, whatever the host in the URL, and trusts the root of the test
// CA's hierarchy.
func (s *Server) HTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, s.HTTPSAddr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: s.ca.Pool()},
			DisableKeepAlives: true,
		},
	}
}

// BaseURL is the client API base URL the server's .well-known announces
// by default.
func (s *Server) BaseURL() string {
	return "https://matrix." + s.ServerName
}

// RegisterUser creates a user through the shared-secret admin API
// (/_synapse/admin/v1/register).
func (s *Server) RegisterUser(ctx context.Context, user, password string) error {
	cli, err := mautrix.NewClient(s.BaseURL(), "", "")
	if err != nil {
		return err
	}
	cli.Client = s.HTTPClient()
	admin := synapseadmin.Client{Client: cli}
	_, err = admin.SharedSecretRegister(ctx, s.SharedSecret, synapseadmin.ReqSharedSecretRegister{
		Username: user,
		Password: password,
	})
	if err != nil {
		return fmt.Errorf("register %s on %s: %w", user, s.ServerName, err)
	}
	return nil
}

// waitReady polls the client API until it answers or the process exits.
// It does not verify the certificate: readiness is about the process
// answering, and some tests start a server with a deliberately broken
// chain (an expired intermediate) whose rejection is what they check.
func (s *Server) waitReady(p *process, limit time.Duration) error {
	hc := s.HTTPClient()
	hc.Timeout = 2 * time.Second
	hc.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		default:
		}
		resp, err := hc.Get(s.BaseURL() + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s within %s", s.HTTPSAddr, limit)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "dendrite.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
