package ess

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// HelmValuesKey is the config key of the operator's own chart values, and
// the prefix of the paths its problems name.
const HelmValuesKey = "matrix:helmValues"

// owned is a chart value the program derives: the operator sets it through
// another key, or not at all.
type owned struct {
	path    []string // "*" matches any one key
	instead string   // what to set instead, or why nothing
}

// ownedValues lists the values Values derives from the stack config and the
// AWS resources the topology declares. Overriding one would contradict a
// resource the program manages (the certificate, the database, the load
// balancers, DNS) or a choice another key makes. Everything else in the
// chart's values is the operator's to tune through matrix:helmValues
// (resources, replicas of the other components, Synapse's additional
// config, more ALB annotations such as a WAF ACL...).
func ownedValues() []owned {
	const (
		cert           = "not configurable: TLS ends at the ALB with the ACM certificate the program issues for every host"
		alb            = "not configurable: the program's one internet-facing ALB (AWS Load Balancer Controller) serves every host"
		domain         = "set matrix:domain instead"
		rds            = "not configurable: Synapse and MAS use the RDS PostgreSQL the program declares, with its generated passwords"
		workers        = "set matrix:eksWorkers instead (an object of worker type -> replicas)"
		ingressService = "not configurable: the ALB reaches the pods directly (target-type ip) through ClusterIP Services"
		masKeys        = "not configurable: MAS's encryption secret and signing keys are made once by the program and kept with the stack, so a rebuilt cluster can still read MAS's database and keeps its sessions"
		sfu            = "not configurable: LiveKit's UDP is served by the NLB and Elastic IPs the program declares (matrix:calls turns it on)"
	)
	o := []owned{
		{path: keys("serverName"), instead: domain},
		{path: keys("certManager"), instead: cert},
		{path: keys("postgres", "enabled"), instead: rds},
		{path: keys("synapse", "enabled"), instead: "not configurable: the program always runs Synapse"},
		{path: keys("synapse", "postgres"), instead: rds},
		{path: keys("matrixAuthenticationService", "postgres"), instead: rds},
		{path: keys("synapse", "signingKey"), instead: "not configurable: Synapse's signing key, the server's identity in federation, is made once by the program and kept with the stack, so a rebuilt cluster keeps it"},
		{path: keys("matrixAuthenticationService", "encryptionSecret"), instead: masKeys},
		{path: keys("matrixAuthenticationService", "privateKeys"), instead: masKeys},
		{path: keys("synapse", "workers", "*", "enabled"), instead: workers},
		{path: keys("synapse", "workers", "*", "replicas"), instead: workers},
		{path: keys("synapse", "media", "storage", "storageClassName"), instead: "not configurable: media lives on the EBS StorageClass the program installs"},
		{path: keys("storage", "storageClassName"), instead: "not configurable: volumes live on the EBS StorageClass the program installs"},
		{path: keys("synapse", "media", "storage", "size"), instead: "set matrix:dataVolumeGiB instead"},
		{path: keys("matrixAuthenticationService", "enabled"), instead: "set matrix:auth instead (synapse or mas)"},
		{path: keys("elementAdmin", "enabled"), instead: "set matrix:auth instead (mas runs Element Admin)"},
		{path: keys("elementWeb", "enabled"), instead: "set matrix:element instead"},
		{path: keys("wellKnownDelegation", "enabled"), instead: "set matrix:serveBaseDomain instead"},
		{path: keys("matrixRTC", "enabled"), instead: "set matrix:calls instead (none or element-call)"},
		{path: keys("matrixRTC", "sfu", "useStunToDiscoverPublicIP"), instead: sfu},
		{path: keys("matrixRTC", "sfu", "manualIP"), instead: sfu},
		// All of them: another port (TURN, a UDP range) would be a
		// NodePort or a load balancer nobody opened or pays for knowingly.
		{path: keys("matrixRTC", "sfu", "exposedServices"), instead: sfu},
		{path: keys("matrixRTC", "sfu", "hostNetwork"), instead: sfu},
		{path: keys("ingress", "className"), instead: alb},
		{path: keys("ingress", "tlsEnabled"), instead: cert},
		{path: keys("ingress", "tlsSecret"), instead: cert},
		{path: keys("*", "ingress", "className"), instead: alb},
		{path: keys("*", "ingress", "tlsEnabled"), instead: cert},
		{path: keys("*", "ingress", "tlsSecret"), instead: cert},
		{path: keys("ingress", "service", "type"), instead: ingressService},
		{path: keys("*", "ingress", "service", "type"), instead: ingressService},
		{path: keys("*", "ingress", "host"), instead: "not configurable: each component's host is named under matrix:domain and gets its DNS record and a name on the certificate"},
	}
	// The chart merges each component's annotations over the global ones,
	// so an owned annotation is owned at both levels.
	for _, a := range []string{albScheme, albTargetType, albListenPorts, albSSLRedirect, albGroupName, albName, albAddressType} {
		o = append(o, owned{path: keys("ingress", "annotations", a), instead: alb},
			owned{path: keys("*", "ingress", "annotations", a), instead: alb})
	}
	return append(o, owned{path: keys("ingress", "annotations", albCertificate), instead: cert},
		owned{path: keys("*", "ingress", "annotations", albCertificate), instead: cert})
}

func keys(k ...string) []string { return k }

// Merge deep-merges the operator's values (matrix:helmValues) over the
// derived ones and returns the result; neither input is modified. Maps
// merge key by key; any other value, lists included, replaces. It refuses
// every value the program owns, naming matrix:helmValues.<path> and what to
// set instead, all at once.
func Merge(derived, operator map[string]any) (map[string]any, error) {
	var problems []string
	walk(operator, nil, func(path []string, v any) {
		if o, ok := ownedAt(path, v); ok {
			problems = append(problems, fmt.Sprintf("%s: the program sets %s; %s",
				HelmValuesKey+"."+dotted(path), dotted(instantiate(o.path, path)), o.instead))
		}
	})
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New("ess: " + strings.Join(problems, "\n"))
	}
	return mergeMaps(deepCopy(derived).(map[string]any), operator), nil
}

// walk calls f for every key of v, depth first, with its path.
func walk(v map[string]any, prefix []string, f func([]string, any)) {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		path := append(slices.Clone(prefix), k)
		f(path, v[k])
		if m, ok := v[k].(map[string]any); ok {
			walk(m, path, f)
		}
	}
}

// ownedAt reports the owned value the operator's value v at path would
// set: path is an owned path, or v is not a map and so would replace a map
// holding one.
func ownedAt(path []string, v any) (owned, bool) {
	_, isMap := v.(map[string]any)
	for _, o := range ownedValues() {
		if matches(o.path, path) || (!isMap && len(path) < len(o.path) && matches(o.path[:len(path)], path)) {
			return o, true
		}
	}
	return owned{}, false
}

// instantiate fills pattern's wildcards from path, as far as it goes.
func instantiate(pattern, path []string) []string {
	out := slices.Clone(pattern)
	for i := range min(len(out), len(path)) {
		out[i] = path[i]
	}
	return out
}

func matches(pattern, path []string) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i := range pattern {
		if pattern[i] != "*" && pattern[i] != path[i] {
			return false
		}
	}
	return true
}

// dotted joins a path as pulumi config --path writes it, quoting keys
// that hold dots (annotation names).
func dotted(path []string) string {
	var b strings.Builder
	for i, k := range path {
		switch {
		case strings.ContainsAny(k, "./"):
			fmt.Fprintf(&b, "[%q]", k)
		case i > 0:
			b.WriteString("." + k)
		default:
			b.WriteString(k)
		}
	}
	return b.String()
}

func mergeMaps(dst, src map[string]any) map[string]any {
	for k, sv := range src {
		sm, sIsMap := sv.(map[string]any)
		dm, dIsMap := dst[k].(map[string]any)
		if sIsMap && dIsMap {
			dst[k] = mergeMaps(dm, sm)
			continue
		}
		dst[k] = deepCopy(sv)
	}
	return dst
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}
