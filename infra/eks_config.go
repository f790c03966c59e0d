package infra

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/ess"
)

// TopologyEKS runs Element's ess-helm chart on an EKS cluster.
const TopologyEKS Topology = "eks"

// DefaultKubernetesVersion is the cluster's version when
// matrix:kubernetesVersion is unset: the one the chart is rendered
// against in the tests.
const DefaultKubernetesVersion = ess.KubeVersion

// eksMinMemoryMiB is what a node needs: the chart's pods (Synapse and its
// workers, MAS, HAProxy, Element Web, Matrix RTC) spread over the nodes
// next to the cluster's own (VPC CNI, CoreDNS, EBS CSI, the load
// balancer controller), and a node must take the other zone's pods while
// that zone is down.
const eksMinMemoryMiB = 4096

// EKS is the configuration only the eks topology reads.
type EKS struct {
	// APIAllowedCIDRs may reach the cluster API's public endpoint: the
	// machine running pulumi up installs the charts through it.
	APIAllowedCIDRs   []string
	KubernetesVersion string
	NodesPerZone      int
	// Workers are Synapse worker types with their replica counts.
	Workers map[string]int
	// HelmValues are matrix:helmValues, merged over the derived values.
	HelmValues map[string]any
	// SecretHelmValues says some value under matrix:helmValues is a
	// Pulumi secret, so the release's values are kept secret.
	SecretHelmValues bool
}

// eksChecks reads the eks keys and refuses what the topology cannot
// honour: it runs no playbook and has no host.
func (r *reader) eksChecks(c *Config, secretKeys []string) {
	c.EKS.KubernetesVersion = r.kubernetesVersion()
	c.EKS.NodesPerZone = r.integer("eksNodesPerZone", 1, 100, "each zone's node group runs 1 to 100 nodes")
	c.EKS.APIAllowedCIDRs = r.apiCIDRs()
	c.EKS.Workers = r.eksWorkers()
	r.workersForAuth(c.EKS.Workers, c.Auth)
	c.EKS.HelmValues = r.helmValues()
	for _, k := range secretKeys {
		if k == Qualified("helmValues") || strings.HasPrefix(k, Qualified("helmValues")+".") {
			c.EKS.SecretHelmValues = true
		}
	}
	if mib, ok := memoryMiB(c.InstanceType); ok && mib < eksMinMemoryMiB {
		r.add("instanceType", "%s has %.1f GiB of memory; an eks node needs at least %d GiB (the chart's pods next to the cluster's own, and the other zone's while it is down): use t3.large or larger", c.InstanceType, float64(mib)/1024, eksMinMemoryMiB/1024)
	}
	refuse := func(key, why string) {
		if raw, set := r.raw[Qualified(key)]; set && strings.TrimSpace(raw) != "" && raw != "[]" && raw != "{}" {
			r.add(key, "is not used in the eks topology: %s; remove it (pulumi config rm matrix:%s)", why, key)
		}
	}
	refuse("sshAllowedCidrs", "it has no host to reach over SSH; the cluster API is open to matrix:clusterApiAllowedCidrs")
	refuse("sshPublicKey", "it has no host to log in to")
	refuse("availabilityZone", "its node groups span both zones")
	refuse("dataVolumeSnapshotId", "media is on a volume the chart claims (see docs/runbook-eks.md to restore it)")
	refuse("playbookVars", "it runs Element's ess-helm chart, not the playbook; set chart values with matrix:helmValues")
	refuse("amiId", "EKS picks the nodes' image for the Kubernetes version")
	refuse("adminUser", "the chart creates no account, so no admin would be made; create the first account in the cluster (docs/runbook-eks.md, \"Creating the first account\")")
	if c.TURN {
		r.add("turn", "coturn is not part of the chart; set matrix:turn false (with matrix:calls element-call, call media reaches LiveKit over UDP through the NLB)")
	}
	if c.SynapseWorkers != WorkersNone && c.SynapseWorkers != "" {
		r.add("synapseWorkers", "is the playbook's preset; in the eks topology set workers and replicas with matrix:eksWorkers, e.g. pulumi config set --path 'matrix:eksWorkers.event-persister' 2")
	}
	if c.Email == EmailSES {
		r.add("email", "ses is not wired into the chart yet; set matrix:email none (see the README's eks section)")
	}
	if c.Access == AccessSSH {
		r.add("access", "ssh is not available in the eks topology: it has no host; remove the key (pulumi config rm matrix:access)")
	}
}

// workersForAuth refuses the worker types the chart's validation refuses
// for the login in use (templates/synapse/_helpers.tpl): found here, the
// problem is reported with the others before anything is declared, not
// by Helm halfway through pulumi up. TestWorkersForAuthAgreeWithChart
// keeps the two equal.
func (r *reader) workersForAuth(workers map[string]int, auth Auth) {
	if _, ok := workers["sso-login"]; ok && auth == AuthMAS {
		r.add("eksWorkers.sso-login", "serves Synapse's own SSO login, which MAS takes over with matrix:auth mas; remove it (pulumi config rm --path 'matrix:eksWorkers.sso-login')")
	}
	if _, ok := workers["mas-helper"]; ok && auth != AuthMAS {
		r.add("eksWorkers.mas-helper", "serves MAS, which runs only with matrix:auth mas; remove it (pulumi config rm --path 'matrix:eksWorkers.mas-helper') or set matrix:auth mas")
	}
}

func (r *reader) kubernetesVersion() string {
	v, _ := r.value("kubernetesVersion")
	v = strings.TrimSpace(v)
	var major, minor int
	if n, err := fmt.Sscanf(v, "%d.%d", &major, &minor); n != 2 || err != nil || fmt.Sprintf("%d.%d", major, minor) != v || major != 1 {
		r.add("kubernetesVersion", "%q is not an EKS Kubernetes version such as %s", v, DefaultKubernetesVersion)
	}
	return v
}

// apiCIDRs reads matrix:clusterApiAllowedCidrs: required, since the
// machine running pulumi up reaches the API through it.
func (r *reader) apiCIDRs() []string {
	items, ok := r.list("clusterApiAllowedCidrs", `["203.0.113.7/32"]`)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		r.add("clusterApiAllowedCidrs", "is required in the eks topology: pulumi up installs the charts through the cluster's API, whose public endpoint is open only to these CIDRs; set the address you deploy from, e.g. pulumi config set --path 'matrix:clusterApiAllowedCidrs[0]' 203.0.113.7/32")
		return nil
	}
	var out []string
	for _, it := range items {
		p, err := netip.ParsePrefix(strings.TrimSpace(it))
		if err != nil || !p.Addr().Is4() {
			r.add("clusterApiAllowedCidrs", "%q is not an IPv4 CIDR such as 203.0.113.7/32 (the EKS public endpoint takes IPv4 only)", it)
			continue
		}
		out = append(out, p.String())
	}
	return out
}

func (r *reader) eksWorkers() map[string]int {
	v, ok := r.value("eksWorkers")
	out := map[string]int{}
	if !ok || strings.TrimSpace(v) == "" {
		return out
	}
	obj, err := decodeObject(v)
	if err != nil {
		r.add("eksWorkers", "must be an object of worker type to replicas, e.g. pulumi config set --path 'matrix:eksWorkers.event-persister' 2")
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		switch n := obj[name].(type) {
		case int64:
			out[name] = int(n)
		case float64:
			if n == float64(int(n)) {
				out[name] = int(n)
				continue
			}
			r.add("eksWorkers."+name, "%v is not a whole number of replicas", n)
		default:
			r.add("eksWorkers."+name, "%v is not a number of replicas", n)
		}
	}
	for _, p := range ess.CheckWorkers(out) {
		r.add("eksWorkers", "%s", strings.Replace(p, "Workers[", "matrix:eksWorkers[", 1))
	}
	return out
}

// helmValues reads matrix:helmValues and refuses, all at once, the values
// the program owns.
func (r *reader) helmValues() map[string]any {
	v, ok := r.value("helmValues")
	if !ok || strings.TrimSpace(v) == "" {
		return map[string]any{}
	}
	obj, err := decodeObject(v)
	if err != nil {
		r.add("helmValues", "must be an object of the chart's values, e.g. pulumi config set --path 'matrix:helmValues.synapse.resources.requests.memory' 2Gi")
		return map[string]any{}
	}
	if _, err := ess.Merge(map[string]any{}, obj); err != nil {
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "ess: "), "\n") {
			key, msg, _ := strings.Cut(line, ": ")
			r.Problems.Add(key, "%s", msg) // key is matrix:helmValues.<path>
		}
	}
	return obj
}
