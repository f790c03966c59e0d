package eks_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/eks"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestRefusals: what the eks topology cannot honour is refused before
// anything is declared, every problem at once, each naming its key.
func TestRefusals(t *testing.T) {
	raw := synth.ExampleEKSConfig(
		"matrix:clusterApiAllowedCidrs", "[]",
		"matrix:instanceType", "t3.small",
		"matrix:playbookVars", `{"ntfy_enabled": true}`,
		"matrix:turn", "true",
		"matrix:eksWorkers", `{"no-such-worker": 1}`,
		"matrix:helmValues", `{"serverName": "other.org"}`,
		"matrix:kubernetesVersion", "latest",
		"matrix:adminUser", "ops",
	)
	c := mock.New(synth.DefaultZones(infra.Config{Domain: "example.org"}))
	_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, Cloud: c})
	var ce *infra.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *infra.ConfigError, got %v", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
	}
	for _, want := range []string{"matrix:clusterApiAllowedCidrs", "matrix:instanceType", "matrix:playbookVars", "matrix:turn", "matrix:eksWorkers", "matrix:helmValues.serverName", "matrix:kubernetesVersion", "matrix:adminUser"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no problem for %s; got %v", want, ce.Problems)
		}
	}
	if n := len(c.Resources()); n != 0 {
		t.Errorf("%d resources declared despite the refusal", n)
	}
}

func inputs(t *testing.T, c *mock.Cloud, typ, name string) resource.PropertyMap {
	t.Helper()
	return find(t, c, typ, name).Inputs
}

// TestClusterReach: the API's public endpoint is open only to the listed
// CIDRs, the database only to the cluster's security group, and there is
// a node group in each of the two zones.
func TestClusterReach(t *testing.T) {
	res := run(t, synth.ExampleEKSConfig())
	vpc := inputs(t, res.Cloud, "aws:eks/cluster:Cluster", "cluster")["vpcConfig"].ObjectValue()
	if got := vpc["publicAccessCidrs"].ArrayValue(); len(got) != 1 || got[0].StringValue() != "203.0.113.7/32" {
		t.Errorf("public endpoint open to %v", got)
	}
	if !vpc["endpointPrivateAccess"].BoolValue() {
		t.Error("no private endpoint: nodes would reach the API over the internet")
	}
	var rules []mock.Resource
	for _, r := range res.Cloud.Find("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
		if strings.HasPrefix(r.Name, "db-") {
			rules = append(rules, r)
		}
	}
	if len(rules) != 1 || rules[0].Inputs["referencedSecurityGroupId"].StringValue() == "" || rules[0].Inputs.HasValue("cidrIpv4") {
		t.Errorf("database ingress %v: want one rule from the cluster security group", rules)
	}
	groups := res.Cloud.Find("aws:eks/nodeGroup:NodeGroup")
	subnets := map[string]bool{}
	for _, g := range groups {
		for _, s := range g.Inputs["subnetIds"].ArrayValue() {
			subnets[s.StringValue()] = true
		}
	}
	if len(groups) != 2 || len(subnets) != 2 {
		t.Errorf("%d node groups over %d subnets: want one per zone", len(groups), len(subnets))
	}
}

// TestSecretsStayOutOfCommands: the databases' passwords reach psql
// through the environment from a Secret, never the Job's command; and
// secret helmValues keep the release's values secret.
func TestSecretsStayOutOfCommands(t *testing.T) {
	res := run(t, synth.ExampleEKSConfig("matrix:auth", "mas", "matrix:helmValues", `{"synapse": {"additional": {"x": {"config": "y"}}}}`),
		"matrix:helmValues")
	job := find(t, res.Cloud, "kubernetes:batch/v1:Job", "create-databases")
	spec := job.Inputs["spec"].ObjectValue()["template"].ObjectValue()["spec"].ObjectValue()
	container := spec["containers"].ArrayValue()[0].ObjectValue()
	for _, arg := range container["command"].ArrayValue() {
		if arg.IsSecret() || strings.Contains(arg.StringValue(), "PASSWORD '") {
			t.Errorf("a secret in the Job's command: %v", arg)
		}
	}
	for _, e := range container["env"].ArrayValue() {
		env := e.ObjectValue()
		if strings.Contains(env["name"].StringValue(), "PASSWORD") && env.HasValue("value") {
			t.Errorf("%s is given as a value, not from the Secret", env["name"].StringValue())
		}
	}
	if v := find(t, res.Cloud, releaseType, "matrix-stack").Inputs["values"]; !v.IsSecret() {
		t.Error("the release's values are plain although matrix:helmValues holds a secret")
	}
}

// TestSigningKeyKeptWithStack: Synapse's signing key is made once by the
// program, kept secret in a Secret the release references (not one the
// chart generates), so a rebuilt cluster keeps the server's identity.
func TestSigningKeyKeptWithStack(t *testing.T) {
	res := run(t, synth.ExampleEKSConfig())
	s := inputs(t, res.Cloud, "kubernetes:core/v1:Secret", eks.SigningKeySecret)
	v := s["stringData"]
	if !v.IsSecret() {
		t.Fatalf("the signing key Secret's data is not a Pulumi secret: %v", v)
	}
	key := v.SecretValue().Element.ObjectValue()[eks.SigningKeyFile].StringValue()
	if f := strings.Fields(key); len(f) != 3 || f[0] != "ed25519" || !strings.HasPrefix(f[1], "a_") {
		t.Errorf("signing key %q is not in Synapse's key file format", key)
	}
	if len(res.Cloud.Find("random:index/randomBytes:RandomBytes")) != 1 {
		t.Error("the key's seed is not made once by pulumi-random")
	}
	vals := values(t, res)
	want := map[string]any{"secret": eks.SigningKeySecret, "secretKey": eks.SigningKeyFile}
	if got := vals["synapse"].(map[string]any)["signingKey"]; !reflect.DeepEqual(got, want) {
		t.Errorf("synapse.signingKey = %v, want %v", got, want)
	}
	release := find(t, res.Cloud, releaseType, "matrix-stack")
	if !slices.ContainsFunc(release.DependsOn, func(u string) bool { return strings.HasSuffix(u, "::"+eks.SigningKeySecret) }) {
		t.Errorf("the release does not wait for the signing key Secret: %v", release.DependsOn)
	}
}

// TestMASKeysKeptWithStack: with MAS, its encryption secret and signing
// keys are the program's (kept secret in a Secret the release references
// for each key the chart reads), not ones the chart generates.
func TestMASKeysKeptWithStack(t *testing.T) {
	res := run(t, synth.ExampleEKSConfig("matrix:auth", "mas"))
	v := inputs(t, res.Cloud, "kubernetes:core/v1:Secret", eks.MASKeysSecret)["stringData"]
	if !v.IsSecret() {
		t.Fatalf("MAS's keys are not a Pulumi secret: %v", v)
	}
	data := v.SecretValue().Element.ObjectValue()
	mas := values(t, res)["matrixAuthenticationService"].(map[string]any)
	refs := []any{mas["encryptionSecret"]}
	for _, k := range []string{"rsa", "ecdsaPrime256v1"} {
		refs = append(refs, mas["privateKeys"].(map[string]any)[k])
	}
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		key, _ := ref["secretKey"].(string)
		if ref["secret"] != eks.MASKeysSecret || !data[resource.PropertyKey(key)].IsString() {
			t.Errorf("MAS value %v names no key of the Secret %s (keys %v)", r, eks.MASKeysSecret, data.StableKeys())
		}
	}
	if enc := data["encryption"].StringValue(); len(enc) != 64 {
		t.Errorf("encryption secret %d characters, MAS reads 64 hex digits", len(enc))
	}
	if n := len(run(t, synth.ExampleEKSConfig()).Cloud.Find("tls:index/privateKey:PrivateKey")); n != 0 {
		t.Errorf("%d MAS keys made without MAS", n)
	}
}
