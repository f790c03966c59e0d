package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Tags of the upstream playbook. A single host takes the upstream's own
// one-run form (docs/installing.md: setup, then ensure-matrix-users-created
// and start in the same invocation): ensure-matrix-users-created starts the
// homeserver itself and creates the admin account declared in vars.yml.
//
// setup-all rather than install-all on every run: it also removes the
// services an operator switched off in matrix:playbookVars, which
// install-all leaves running; on a fresh host the removal tasks find
// nothing and cost seconds, not the minutes the pulls and installs take.
//
// The ha host runs setup first and the rest after putting the stack's
// signing key in place, because ensure-matrix-users-created would start
// Synapse, which then signs with a key of its own (bootstrap-host).
const (
	UpstreamTags = "setup-all,ensure-matrix-users-created,start"
	HASetupTags  = "setup-all"
	HAStartTags  = "ensure-matrix-users-created,start"
)

// FirstContactScript is what wait-ready runs on the host, with the
// instance ID it expects on stdin. It prints the host's ED25519 key, which
// every later step pins, and nothing else on stdout.
//
// The host proves who it is first: its instance ID from the instance
// metadata (IMDSv2, which the host requires), which another of our hosts
// at the address cannot fake (an attacker already in the path could: that
// is the trust-on-first-use window the README describes). Anything but the
// expected ID ends the step before a key is printed: the address still
// reaches another host, such as the one being replaced, and pinning its
// key would let every later step ship the secrets to it. Re-running
// `pulumi up` retries.
//
// cloud-init exits 2 when it finished with recoverable errors.
const FirstContactScript = `IFS= read -r expected || [ -n "$expected" ]
if [ -z "$expected" ]; then echo "wait-ready: no expected instance ID on stdin" >&2; exit 1; fi
imds=http://169.254.169.254/latest
token=$(curl -sf --retry 3 -X PUT "$imds/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || { echo "wait-ready: no instance metadata token" >&2; exit 1; }
actual=$(curl -sf --retry 3 -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/instance-id") || { echo "wait-ready: no instance ID from the instance metadata" >&2; exit 1; }
if [ "$actual" != "$expected" ]; then echo "wait-ready: the address reaches instance $actual, not $expected (the Elastic IP is still on another host); refusing its host key" >&2; exit 1; fi
cloud-init status --wait >/dev/null || [ $? -eq 2 ]; cat /etc/ssh/ssh_host_ed25519_key.pub`

// Provisioning turns the declared host into a running homeserver during
// `pulumi up`. The pulumi-command provider runs nothing during a preview.
type Provisioning struct {
	GenericSecretKey *random.RandomPassword
	PostgresPassword *random.RandomPassword
	AdminPassword    *random.RandomPassword
	MAS              *MASSecrets // nil unless matrix:auth is mas

	Rendered Rendered
	// Environment is what the upstream steps hand the wrapper; exported as
	// a secret so an operator can re-run the playbook by hand.
	Environment pulumi.StringMap

	// WaitReady is the first contact: a remote.Command over SSH to the
	// address with matrix:access ssh, a local.Command running the wrapper
	// (ssh through Session Manager) with ssm. HostKey is what it printed.
	WaitReady pulumi.Resource
	HostKey   pulumi.StringOutput
	Prepare   *local.Command
	Playbook  *local.Command // the one upstream run
	Verify    *local.Command
}

// Rendered holds what the wrapper writes into its temporary inventory.
type Rendered struct {
	Hosts      pulumi.StringOutput
	Vars       pulumi.StringOutput // secret: holds the generated secrets
	MaskedVars pulumi.StringOutput // the same with every secret masked
	KnownHosts pulumi.StringOutput
}

// redactions are the secret values the wrapper replaces in everything
// Ansible prints, one per line: the generated ones, the secrets the
// upstream derives from them (see derivedRedactions), and every value
// inside the operator's secret playbookVars, then the relay's SMTP
// credentials (matrix:email ses). The derived values are
// computed inside the ApplyT from the generated ones, so that they are as
// secret as those, and in the order of the upstream facts, so that the list
// (and the ha host's parameter holding it) only changes with the secrets or
// the pin.
func (p *Provisioning) Redactions(cfg Config, relay *Relay) pulumi.StringOutput {
	parts := []any{p.GenericSecretKey.Result, p.PostgresPassword.Result, p.AdminPassword.Result}
	generated := len(parts) // the derived values follow these
	parts = append(parts, p.MAS.Redactions()...)
	for _, v := range cfg.PlaybookVars.SecretValues() {
		parts = append(parts, pulumi.String(v))
	}
	if relay != nil {
		parts = append(parts, relay.Username, relay.Password)
	}
	return pulumi.ToSecret(pulumi.All(parts...).ApplyT(func(v []any) (string, error) {
		lines := make([]string, len(v))
		for i, x := range v {
			lines[i] = x.(string)
		}
		derived, err := derivedRedactions(cfg, v[0].(string), v[1].(string))
		if err != nil {
			return "", err
		}
		lines = slices.Insert(lines, generated, derived...)
		return strings.Join(lines, "\n"), nil
	})).(pulumi.StringOutput)
}

// derivedRedactions returns the secrets the pinned upstream derives from
// secrets of ours, such as the appservice tokens and database passwords it
// computes from matrix_homeserver_generic_secret_key as
// "{{ (key + ':telegr.as.token') | hash('sha512') | to_uuid }}": values no
// one gave the wrapper, which a failing task would show as they are. Their
// sources are the variables vars.yml sets to the generated secrets, and the
// operator's secret playbookVars.
func derivedRedactions(cfg Config, genericKey, pgPassword string) ([]string, error) {
	facts, err := upstream.Load()
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	sources := map[string]string{}
	for name, secret := range cfg.PlaybookVars.Secret {
		if s, ok := cfg.PlaybookVars.Values[name].(string); ok && secret {
			sources[name] = s
		}
	}
	// The names of inventory.Vars, which the operator cannot set.
	sources["matrix_homeserver_generic_secret_key"] = genericKey
	sources["postgres_connection_password"] = pgPassword
	return facts.DerivedValues(sources)
}

// VerifyWindow covers DNS propagation and certificate issuance after the
// first start; a broken server fails the update once it has passed.
const VerifyWindow = "20m"

// NewVerify ends `pulumi up` with cmd/verify against the live server: the
// federation checks, the registration mode, a login round trip as the admin
// user, and the DNS records against the addresses in expect (flags such as
// " --expect-ipv4 <address>"; none when the addresses vary, as an ALB's do).
func NewVerify(ctx *pulumi.Context, cfg Config, expect []any, password pulumi.StringInput, after []pulumi.Resource, trigger pulumi.StringOutput, opts ...pulumi.ResourceOption) (*local.Command, error) {
	// With MAS, registration happens in MAS's web pages, not through the
	// client API the registration check probes; the check that MAS is
	// advertised takes its place. The login round trip goes through MAS's
	// compatibility layer (password logins, on by default upstream).
	mode := "--registration " + string(cfg.Registration)
	switch {
	case cfg.MASMigrating():
		// Synapse still authenticates, with its registration off, as the
		// upstream requires beside MAS.
		mode = "--registration closed"
	case cfg.Auth == AuthMAS:
		mode = "--auth-service"
	}
	args := []any{pulumi.Sprintf("go run ./cmd/verify --retry-for %s %s", VerifyWindow, mode)}
	env := pulumi.StringMap{}
	// Without an admin password (eks creates no user) there is no login
	// round trip.
	if password != nil {
		args = append(args, pulumi.String(" --user "+cfg.AdminUser))
		env["MATRIX_VERIFY_PASSWORD"] = password
	}
	args = append(args, expect...)
	if cfg.Calls.On() {
		// Element clients offer group calls only when this is announced.
		args = append(args, pulumi.String(" --expect-rtc-focus"))
	}
	if !cfg.ServeBaseDomain {
		// The base domain points elsewhere; only the host's own name is ours.
		args = append(args, pulumi.String(" --dns-name "+cfg.MatrixHost()))
	}
	args = append(args, pulumi.String(" "+cfg.Domain))
	create := pulumi.All(args...).ApplyT(func(parts []any) string {
		var b strings.Builder
		for _, part := range parts {
			b.WriteString(part.(string))
		}
		return b.String()
	}).(pulumi.StringOutput)
	cmd, err := local.NewCommand(ctx, "verify", &local.CommandArgs{
		Create:      create,
		Environment: env,
		Triggers:    pulumi.Array{ContentHash(trigger, create)},
		Logging:     local.LoggingStdoutAndStderr,
	}, WithOpts(opts, pulumi.DependsOn(after), pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}))...)
	if err != nil {
		return nil, fmt.Errorf("provision: verify: %w", err)
	}
	return cmd, nil
}

func (p *Provisioning) NewSecrets(ctx *pulumi.Context, cfg Config, opts ...pulumi.ResourceOption) error {
	var err error
	// Letters and digits only: the values land in YAML, Synapse's config and
	// a PostgreSQL connection string, and none of them needs quoting then.
	alnum := func(n int) *random.RandomPasswordArgs {
		return &random.RandomPasswordArgs{Length: pulumi.Int(n), Special: pulumi.Bool(false)}
	}
	if p.GenericSecretKey, err = random.NewRandomPassword(ctx, "generic-secret-key", alnum(64), opts...); err != nil {
		return err
	}
	if p.PostgresPassword, err = random.NewRandomPassword(ctx, "postgres-password", alnum(64), opts...); err != nil {
		return err
	}
	args := alnum(32)
	args.Keepers = pulumi.StringMap{"user": pulumi.String(cfg.AdminUser)}
	if p.AdminPassword, err = random.NewRandomPassword(ctx, "admin-password", args, opts...); err != nil {
		return err
	}
	if cfg.Auth == AuthMAS {
		p.MAS, err = NewMASSecrets(ctx, opts...)
	}
	return err
}

// InventorySettings maps the configuration onto what the playbook reads; the
// secrets and addresses are added once known.
func InventorySettings(cfg Config, pin ansible.Pin) inventory.Settings {
	return inventory.Settings{
		Domain: cfg.Domain, MigrationVersion: pin.MigrationVersion,
		IPv6: cfg.IPv6, ServeBaseDomain: cfg.ServeBaseDomain, Element: cfg.Element, TURN: cfg.TURN,
		ElementCall:  cfg.Calls == CallsElementCall,
		Registration: string(cfg.Registration), AdminUser: cfg.AdminUser,
		Extra: cfg.PlaybookVars.Values, ExtraSecret: cfg.PlaybookVars.Secret,
		WorkersPreset: workersPreset(cfg),
	}
}

// workersPreset is the preset vars.yml names, "" for none.
func workersPreset(cfg Config) string {
	if cfg.SynapseWorkers == WorkersNone {
		return ""
	}
	return cfg.SynapseWorkers
}

// RenderVars returns vars.yml, and the same file with the secrets masked
// for reviewers, which is known in a preview unless TURN or LiveKit needs
// the address.
func RenderVars(cfg Config, pin ansible.Pin, address pulumi.StringOutput, p *Provisioning, relay *Relay) (vars, masked pulumi.StringOutput) {
	base := InventorySettings(cfg, pin)
	base.Email = relay.Vars()
	user, password := relay.Credentials()
	vars = pulumi.All(address, p.GenericSecretKey.Result, p.PostgresPassword.Result, p.AdminPassword.Result, p.MAS.Settings(), user, password).ApplyT(func(v []any) (string, error) {
		s := base
		s.PublicIPv4, s.GenericSecretKey, s.PostgresPassword, s.AdminPassword = v[0].(string), v[1].(string), v[2].(string), v[3].(string)
		s.MAS, _ = v[4].(*inventory.MASSettings) // nil when MAS is off
		s.Email = WithCredentials(base.Email, v[5].(string), v[6].(string))
		rv, err := inventory.NewVars(s)
		if err != nil {
			return "", err
		}
		return rv.YAML()
	}).(pulumi.StringOutput)
	renderMasked := func(ip string) (string, error) {
		s := base
		s.PublicIPv4, s.MAS = ip, p.MAS.Masked()
		rv, err := inventory.MaskedVars(s)
		if err != nil {
			return "", err
		}
		return rv.YAML()
	}
	if !cfg.TURN && !cfg.Calls.On() {
		return vars, pulumi.String("").ToStringOutput().ApplyT(renderMasked).(pulumi.StringOutput)
	}
	return vars, address.ApplyT(renderMasked).(pulumi.StringOutput)
}

// PlaybookStep runs the wrapper for one step. Inputs reach it only through
// the environment; the wrapper redacts every secret it was given from the
// output it shows.
func PlaybookStep(ctx *pulumi.Context, name, playbook, tags string, env pulumi.StringMap, trigger pulumi.StringOutput, after []pulumi.Resource, opts ...pulumi.ResourceOption) (*local.Command, error) {
	create := fmt.Sprintf("%s/%s --playbook %s --tags %s", ansible.Dir, ansible.Wrapper, playbook, tags)
	if _, ok := env[ansible.EnvExtraVars]; ok {
		create += " --extra-vars-env"
	}
	cmd, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Create:      pulumi.String(create),
		Environment: env,
		Triggers:    pulumi.Array{trigger},
		Logging:     local.LoggingStdoutAndStderr,
	}, WithOpts(opts, pulumi.DependsOn(after), pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}))...)
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", name, err)
	}
	return cmd, nil
}

// ContentHash is the trigger of a step: it changes exactly when something
// the step consumes changes.
func ContentHash(parts ...any) pulumi.StringOutput {
	return pulumi.All(parts...).ApplyT(func(v []any) string {
		h := sha256.New()
		for _, p := range v {
			s := fmt.Sprint(p)
			fmt.Fprintf(h, "%d:%s;", len(s), s)
		}
		return hex.EncodeToString(h.Sum(nil))
	}).(pulumi.StringOutput)
}

// TreeFiles hashes the parts of ansible/ each kind of step consumes: the
// prepare step never reads the upstream pin, the upstream steps never read
// prepare.yml.
func TreeFiles() map[string]string {
	hash := func(names ...string) string {
		h := sha256.New()
		for _, n := range names {
			b, err := ansible.ReadFile(n)
			if err != nil {
				panic(err) // embedded at build time; a missing file is a build error
			}
			fmt.Fprintf(h, "%s:%d:", n, len(b))
			h.Write(b)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	return map[string]string{
		"prepare":  hash("run-playbook", "ansible.cfg", "prepare.yml"),
		"upstream": hash("run-playbook", "ansible.cfg", ansible.PinFile),
	}
}

func WithEnv(m pulumi.StringMap, k string, v pulumi.StringInput) pulumi.StringMap {
	out := pulumi.StringMap{}
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// ManualCommand is how an operator re-runs the playbook by hand with the
// inventory this stack renders, e.g. for --tags=self-check.
func ManualCommand(stack string) string {
	return strings.Join([]string{
		"pulumi stack output --stack " + stack + " --show-secrets --json ansibleEnvironment",
		"go run ./cmd/playbook --tags=self-check",
	}, " | ")
}
