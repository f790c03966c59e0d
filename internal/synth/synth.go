// Package synth runs the Pulumi program in process against mock.Cloud and
// renders what it declares: every resource with its inputs, and the stack
// outputs, secrets masked. It needs no credentials and no network.
package synth

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/deploy"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Masked replaces every secret value in the rendered output.
const Masked = "[secret]"

// Unknown stands for a value only known after the resource exists.
const Unknown = "[unknown]"

// DefaultZones is the account the offline render pretends to have: one
// public zone named after the domain, with the configured ID if there is one.
func DefaultZones(cfg infra.Config) map[string]string {
	id := cfg.HostedZoneID
	if id == "" {
		id = "Z" + strings.ToUpper(hex.EncodeToString([]byte(cfg.Domain)))
		id = id[:min(len(id), 21)]
	}
	return map[string]string{cfg.Domain: id}
}

// NamedByConfig is what a stack's configuration says its account holds:
// the snapshot matrix:dataVolumeSnapshotId names, and the database a
// matrix:dbRestore made. The offline tools (synth, cost, validate) render
// a stack with them, as it is once deployed; without them the program
// refuses a snapshot or a restore source the account lacks.
func NamedByConfig(cfg infra.Config, project, stack string) mock.Existing {
	var e mock.Existing
	if cfg.DataVolumeSnapshotID != "" {
		e.Snapshots = append(e.Snapshots, mock.ExistingSnapshot{ID: cfg.DataVolumeSnapshotID, Size: cfg.DataVolumeGiB})
	}
	if r := cfg.DBRestore; r != nil {
		base := infra.DBIdentifier(project, stack)
		source := r.Source
		if source == "" {
			source = base
		}
		e.DBs = append(e.DBs, mock.ExistingDB{
			ID:   infra.RestoredIdentifier(base, *r, source),
			Tags: map[string]string{"Name": project + "-" + stack + "-db"},
		})
	}
	return e
}

// Options say which stack to render and how.
type Options struct {
	Project    string
	Stack      string
	Config     map[string]string
	SecretKeys []string
	// SecretPaths are the secure values inside keys (stackfile.Config).
	SecretPaths []string
	DryRun      bool        // preview instead of update
	Cloud       *mock.Cloud // nil: a cloud holding DefaultZones of matrix:domain
}

// Result is what one run declared.
type Result struct {
	Homeserver *infra.Homeserver
	Cloud      *mock.Cloud
	Outputs    map[string]Output
	// Files are the rendered inventory files as a reviewer sees them,
	// secrets masked; path -> content.
	Files map[string]Output
}

// Output is one stack output after the run.
type Output struct {
	Value  any
	Secret bool
	Known  bool
}

// Run executes the program the way main does. A configuration error is
// returned as the same *infra.ConfigError `pulumi up` reports.
func Run(opts Options) (*Result, error) {
	cfg, err := infra.ParseConfig(opts.Config, append(opts.SecretKeys, opts.SecretPaths...)...)
	if err != nil {
		return nil, err
	}
	cloud := opts.Cloud
	if cloud == nil {
		cloud = mock.New(DefaultZones(cfg))
		cloud.SetExisting(NamedByConfig(cfg, opts.Project, opts.Stack))
	}
	cloud.DryRun = opts.DryRun
	res := &Result{Cloud: cloud, Outputs: map[string]Output{}}
	var outputs map[string]pulumi.Input
	program := func(ctx *pulumi.Context) error {
		hs, err := deploy.Homeserver(ctx, "homeserver", cfg)
		if err != nil {
			return err
		}
		res.Homeserver, outputs = hs, hs.Outputs()
		for name, in := range outputs {
			ctx.Export(name, in)
		}
		return nil
	}
	withRunInfo := func(info *pulumi.RunInfo) {
		info.DryRun = opts.DryRun
		info.Config = opts.Config
		info.ConfigSecretKeys = opts.SecretKeys
	}
	if opts.DryRun {
		err = mock.Preview(cloud, opts.Project, opts.Stack, program, withRunInfo)
	} else {
		err = pulumi.RunErr(program, pulumi.WithMocks(opts.Project, opts.Stack, cloud), withRunInfo)
	}
	if err != nil {
		return nil, err
	}
	for name, in := range outputs {
		res.Outputs[name] = settle(pulumi.ToOutput(in))
	}
	res.Files = map[string]Output{}
	if res.Homeserver.Provisioning == nil {
		return res, nil // eks runs no playbook: its chart values are the release's inputs
	}
	host := res.Homeserver.Config.MatrixHost()
	rendered := res.Homeserver.Provisioning.Rendered
	res.Files = map[string]Output{
		"inventory/hosts": settle(rendered.Hosts),
		"inventory/host_vars/" + host + "/vars.yml": settle(rendered.MaskedVars),
	}
	return res, nil
}

// settle waits for an output and reports its value, whether it is secret,
// and whether it is known (in a preview many are not, and an apply on an
// unknown output never runs).
func settle(o pulumi.Output) Output {
	seen := make(chan any, 1)
	probe := o.ApplyT(func(v any) any {
		seen <- v
		return v
	})
	secret := pulumi.IsSecret(probe) // returns once probe has resolved
	select {
	case v := <-seen:
		return Output{Value: jsonValue(v), Secret: secret, Known: true}
	default:
		return Output{Value: Unknown, Secret: secret}
	}
}

// Document is the JSON form of a run, as cmd/synth prints it.
type Document struct {
	Project   string         `json:"project"`
	Stack     string         `json:"stack"`
	Mode      string         `json:"mode"`
	Resources []ResourceDoc  `json:"resources"`
	Outputs   map[string]any `json:"outputs"`
	Files     map[string]any `json:"files"`
}

// ResourceDoc is one resource in a Document.
type ResourceDoc struct {
	Type           string         `json:"type"`
	Name           string         `json:"name"`
	Parent         string         `json:"parent,omitempty"`
	Protect        bool           `json:"protect,omitempty"`
	RetainOnDelete bool           `json:"retainOnDelete,omitempty"`
	IgnoreChanges  []string       `json:"ignoreChanges,omitempty"`
	Inputs         map[string]any `json:"inputs"`
}

// Document renders the result with every secret masked.
func (r *Result) Document(opts Options) Document {
	d := Document{Project: opts.Project, Stack: opts.Stack, Mode: "update", Outputs: map[string]any{}, Files: map[string]any{}}
	for path, f := range r.Files {
		d.Files[path] = f.Value
		if f.Secret {
			d.Files[path] = Masked
		}
	}
	if opts.DryRun {
		d.Mode = "preview"
	}
	for _, res := range r.Cloud.Resources() {
		d.Resources = append(d.Resources, ResourceDoc{
			Type: res.Type, Name: res.Name, Parent: urnName(res.Parent),
			Protect: res.Protect, RetainOnDelete: res.RetainOnDelete, IgnoreChanges: res.IgnoreChanges,
			Inputs: plain(resource.NewObjectProperty(res.Inputs)).(map[string]any),
		})
	}
	names := make([]string, 0, len(r.Outputs))
	for n := range r.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o := r.Outputs[n]
		switch {
		case o.Secret:
			d.Outputs[n] = Masked
		default:
			d.Outputs[n] = o.Value
		}
	}
	return d
}

func urnName(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

// plain converts a property value to JSON-ready data, masking secrets.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Masked
	case v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known):
		return Unknown
	case v.IsOutput():
		if v.OutputValue().Secret {
			return Masked
		}
		return plain(v.OutputValue().Element)
	case v.IsResourceReference():
		return urnName(string(v.ResourceReferenceValue().URN))
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsNull():
		return nil
	}
	return v.V
}

// jsonValue converts an output's Go value to the JSON types a stack output
// has once the engine stores it (strings, numbers, []any, map[string]any).
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprint(v)
	}
	return out
}

// Inventory is the rendered inventory with its secrets: the hosts file and
// vars.yml exactly as the playbook would receive them, the secrets being
// the mocks' stand-ins (or a stack file's placeholders). It is for checks
// that need real-shaped values, such as the upstream's validation; never
// print it.
func (r *Result) Inventory() (hosts, vars string, err error) {
	if r.Homeserver.Provisioning == nil {
		return "", "", fmt.Errorf("synth: the %s topology renders no inventory", r.Homeserver.Config.Topology)
	}
	rendered := r.Homeserver.Provisioning.Rendered
	h, v := settle(rendered.Hosts), settle(rendered.Vars)
	hs, ok1 := h.Value.(string)
	vs, ok2 := v.Value.(string)
	if !h.Known || !v.Known || !ok1 || !ok2 {
		return "", "", fmt.Errorf("synth: the inventory is not known (run in update mode)")
	}
	return hs, vs, nil
}

// ChartValues are the values the program hands the eks topology's chart
// release (ess-helm's matrix-stack), secrets in the clear (the mocks'
// stand-ins): for checks that render the chart, such as its own schema
// and validation; never print them.
func (r *Result) ChartValues() (map[string]any, error) {
	if r.Homeserver.Config.Topology != infra.TopologyEKS {
		return nil, fmt.Errorf("synth: the %s topology installs no chart", r.Homeserver.Config.Topology)
	}
	for _, res := range r.Cloud.Find("kubernetes:helm.sh/v3:Release") {
		if res.Name != ess.ChartName {
			continue
		}
		v, err := plainValue(res.Inputs["values"])
		if err != nil {
			return nil, fmt.Errorf("synth: the release's values %w (run in update mode)", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("synth: the release's values are %T, not an object", v)
		}
		return m, nil
	}
	return nil, fmt.Errorf("synth: no %s release was declared", ess.ChartName)
}

// plainValue is v as plain Go values, secrets unwrapped; an unknown is an error.
func plainValue(v resource.PropertyValue) (any, error) {
	var unknown bool
	out := v.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		switch {
		case v.IsSecret():
			inner, err := plainValue(v.SecretValue().Element)
			unknown = unknown || err != nil
			return inner, true
		case v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known):
			unknown = true
			return nil, true
		case v.IsOutput():
			inner, err := plainValue(v.OutputValue().Element)
			unknown = unknown || err != nil
			return inner, true
		}
		return nil, false
	})
	if unknown {
		return nil, fmt.Errorf("are not all known")
	}
	return out, nil
}

// ExampleConfig is the smallest valid single-host configuration, on the
// documentation domain, with kv (key, value, ...) set over it: what tests
// and offline checks start from. Its host is reached through Session
// Manager (matrix:access ssm, the default).
func ExampleConfig(kv ...string) map[string]string {
	raw := map[string]string{
		"aws:region":    "eu-central-1",
		"matrix:domain": "example.org",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		raw[kv[i]] = kv[i+1]
	}
	return raw
}

// ExampleSSHConfig is ExampleConfig with matrix:access ssh: port 22 open
// to the documentation address.
func ExampleSSHConfig(kv ...string) map[string]string {
	return ExampleConfig(append([]string{"matrix:access", "ssh", "matrix:sshAllowedCidrs", `["203.0.113.7/32"]`}, kv...)...)
}

// ExampleHAConfig is ExampleConfig in the ha topology (no SSH sources).
func ExampleHAConfig(kv ...string) map[string]string {
	return ExampleConfig(append([]string{"matrix:topology", "ha", "matrix:sshAllowedCidrs", "[]"}, kv...)...)
}

// ExampleEKSConfig is ExampleConfig in the eks topology: t3.large nodes,
// the cluster API open to the documentation address.
func ExampleEKSConfig(kv ...string) map[string]string {
	return ExampleConfig(append([]string{"matrix:topology", "eks", "matrix:instanceType", "t3.large",
		"matrix:clusterApiAllowedCidrs", `["203.0.113.7/32"]`}, kv...)...)
}
