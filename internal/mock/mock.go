// Package mock answers the Pulumi engine's resource and invoke calls in
// process the way AWS and the providers would: IDs and ARNs in their real
// formats, availability zones of the provider's region, Ubuntu images and
// hosted zones found through the same filters the program sends, public
// addresses, and unknown computed values during a preview. It also records
// every resource, which is what tests and cmd/synth inspect.
package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/types/known/structpb"
)

// Account is the AWS account ID every ARN carries.
const Account = "123456789012"

// Cloud is a fake AWS account plus the resources registered against it.
// Construct it with New; it is safe for the SDK's concurrent calls.
type Cloud struct {
	// DryRun makes computed outputs unknown, as in `pulumi preview`.
	DryRun bool
	// Zones are the public hosted zones in the account, name -> zone ID.
	Zones map[string]string
	// Offerings limits where instance types are offered: type -> AZ
	// suffixes such as "a", "b". Types missing here are offered in every
	// zone if the fake EC2 has them at all (instanceTypes).
	Offerings map[string][]string
	// Impaired are availability zones AWS reports as impaired (as during
	// a zone's outage): not "available" to a state filter.
	Impaired []string
	// Generation makes the resources of the given logical names come back
	// with new IDs, as after a replacement.
	Generation map[string]int
	// Commands, when set, answers pulumi-command resources with the
	// outputs a run would give; a nil Commands gives empty stdout.
	Commands func(name string, inputs resource.PropertyMap) resource.PropertyMap

	mu        sync.Mutex
	resources []Resource
	byID      map[string]resource.PropertyMap
	regions   map[string]string // provider name -> region
	calls     []string
	logs      []string // engine log messages (preview monitor only)
}

// Resource is one registered resource as the engine saw it.
type Resource struct {
	Type           string
	Name           string
	ID             string // the ID the mock gave it
	Parent         string
	Provider       string // "<provider urn>::<id>", empty for the default provider
	Inputs         resource.PropertyMap
	Outputs        resource.PropertyMap
	Protect        bool
	RetainOnDelete bool
	IgnoreChanges  []string
	DependsOn      []string
	// DeleteBeforeReplace and ReplaceOnChanges are the resource options.
	DeleteBeforeReplace bool
	ReplaceOnChanges    []string
	// AdditionalSecretOutputs are the outputs the program asked the engine
	// to keep secret; the mock marks them secret in Outputs, as the
	// engine does.
	AdditionalSecretOutputs []string
}

// New returns an account holding the given public zones.
func New(zones map[string]string) *Cloud {
	return &Cloud{Zones: zones, byID: map[string]resource.PropertyMap{}, regions: map[string]string{}}
}

// Resources returns the resources registered so far, sorted by type and name.
func (c *Cloud) Resources() []Resource {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Resource(nil), c.resources...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Find returns the resources of a type token.
func (c *Cloud) Find(typ string) []Resource {
	var out []Resource
	for _, r := range c.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Calls returns the invoke tokens called, in order.
func (c *Cloud) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// NewResource implements pulumi.MockResourceMonitor.
func (c *Cloud) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if err := checkInputs(args.TypeToken, args.Inputs, c.region(args.Provider)); err != nil {
		return "", nil, err
	}
	if err := checkMail(args.TypeToken, c.inputs(args)); err != nil {
		return "", nil, err
	}
	if err := c.check(args); err != nil {
		return "", nil, err
	}
	var id string
	var computed resource.PropertyMap
	if args.TypeToken == "tls:index/privateKey:PrivateKey" {
		gen := fmt.Sprint(c.Generation[args.Name])
		var err error
		if id, computed, err = tlsKey(args.Inputs, func(n int) string { return hexID(n, args.TypeToken, args.Name, gen) }); err != nil {
			return "", nil, fmt.Errorf("mock: %s: %w", args.Name, err)
		}
	} else {
		id, computed = c.create(args)
	}
	state := args.Inputs.Copy()
	for k, v := range computed {
		if in, set := state[k]; set && in.IsObject() && v.IsObject() {
			// A block the program sets in part, which the provider
			// completes (sesv2 dkimSigningAttributes: tokens, status).
			merged := v.ObjectValue().Copy()
			for ik, iv := range in.ObjectValue() {
				merged[ik] = iv
			}
			v = resource.NewObjectProperty(merged)
		} else if set && !v.IsSecret() {
			continue
		}
		if c.DryRun && args.Custom {
			v = resource.MakeComputed(resource.NewStringProperty(""))
		}
		state[k] = v
	}
	if c.DryRun && args.Custom {
		id = ""
	}
	// The engine, not the provider, makes these outputs secret;
	// pulumi.WithMocks leaves that to the mocks. Unknown values stay as
	// they are: the SDK resolves a secret around an unknown as a known
	// empty value, so applies would run on "" in a preview.
	if rpc := args.RegisterRPC; rpc != nil {
		for _, k := range rpc.GetAdditionalSecretOutputs() {
			if v, ok := state[resource.PropertyKey(k)]; ok && !v.IsSecret() && !v.ContainsUnknowns() {
				state[resource.PropertyKey(k)] = resource.MakeSecret(v)
			}
		}
	}
	c.record(args, id, state)
	return id, state, nil
}

// inputs are the resource's inputs with unknown values kept, which the
// checks of required inputs must tell from absent ones.
func (c *Cloud) inputs(args pulumi.MockResourceArgs) resource.PropertyMap {
	if rpc := args.RegisterRPC; rpc != nil {
		return inputsWithUnknowns(rpc.GetObject(), args.Inputs)
	}
	return args.Inputs
}

// check refuses a resource whose inputs AWS would refuse.
func (c *Cloud) check(args pulumi.MockResourceArgs) error {
	in := c.inputs(args)
	region := c.region(args.Provider)
	switch args.TypeToken {
	case "aws:rds/instance:Instance":
		return c.checkDBInstance(in)
	case "aws:ebs/volume:Volume":
		return c.checkVolume(region, in)
	case "aws:ec2/volumeAttachment:VolumeAttachment":
		return c.checkAttachment(in)
	}
	return nil
}

func (c *Cloud) record(args pulumi.MockResourceArgs, id string, state resource.PropertyMap) {
	r := Resource{Type: args.TypeToken, Name: args.Name, ID: id, Provider: args.Provider, Inputs: args.Inputs, Outputs: state}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Inputs = inputsWithUnknowns(rpc.GetObject(), args.Inputs)
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.DependsOn = rpc.GetDependencies()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.ReplaceOnChanges = rpc.GetReplaceOnChanges()
		r.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resources = append(c.resources, r)
	if id != "" {
		c.byID[id] = state
	}
	if strings.HasPrefix(args.TypeToken, "pulumi:providers:") {
		if reg, ok := args.Inputs["region"]; ok && reg.IsString() {
			c.regions[args.Name] = reg.StringValue()
		}
	}
}

// inputsWithUnknowns decodes the inputs again keeping unknown values, which
// the SDK's mock monitor turns into nulls: a preview must show them as
// unknown, not as absent.
func inputsWithUnknowns(obj *structpb.Struct, fallback resource.PropertyMap) resource.PropertyMap {
	m, err := plugin.UnmarshalProperties(obj, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true})
	if err != nil {
		return fallback
	}
	return m
}

func (c *Cloud) lookup(id string) resource.PropertyMap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

// region returns the region of the provider a call or resource uses. Its
// reference is "<urn>::<id>" and the URN ends in the provider's name; the
// ID is unknown while a preview creates the provider.
func (c *Cloud) region(providerRef string) string {
	parts := strings.Split(providerRef, "::")
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(parts) < 2 {
		return "us-east-1"
	}
	if r, ok := c.regions[parts[len(parts)-2]]; ok {
		return r
	}
	return "us-east-1"
}

// hexID derives a stable hexadecimal suffix from the resource's identity,
// so golden files do not change between runs.
func hexID(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:n]
}

func arn(service, region, rest string) resource.PropertyValue {
	return resource.NewStringProperty(fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, Account, rest))
}

func str(m resource.PropertyMap, key string) string {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(m resource.PropertyMap, key string) int {
	if v, ok := m[resource.PropertyKey(key)]; ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

// Get walks a property map along path, returning null where it ends early:
// the one way tests and policies read nested inputs.
func Get(m resource.PropertyMap, path ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(m)
	for _, p := range path {
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(p)]
	}
	return v
}
