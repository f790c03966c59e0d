package ess

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every problem with the input is reported at once, each naming its field.
func TestValuesReportsEveryProblem(t *testing.T) {
	in := Input{Auth: AuthMAS, Calls: CallsElementCall, ElementWeb: true, Workers: map[string]int{"synchrotron": 0, "user-dir": 2, "frobnicator": 1}}
	_, err := Values(in)
	if err == nil {
		t.Fatal("empty input accepted")
	}
	for _, want := range []string{
		"ServerName is required", "Hosts.Synapse is required", "Hosts.ElementWeb is required",
		"Ingress.CertificateARN is required", "Ingress.GroupName is required", "Postgres.Host/Port are required",
		"Postgres.Synapse needs", "Postgres.MAS needs", "Hosts.MAS/Admin are required", "Hosts.RTC is required",
		"SFU.PublicIP/EIPAllocationIDs are required", "Media.Size is required",
		`Workers["frobnicator"] is not a worker type`, `Workers["synchrotron"] = 0: at least 1`, `Workers["user-dir"] = 2: Synapse runs at most 1`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := Values(Input{Auth: "oidc", Calls: "jitsi"}); err == nil || !strings.Contains(err.Error(), `Auth must be "synapse" or "mas", not "oidc"`) || !strings.Contains(err.Error(), `Calls must be "none" or "element-call", not "jitsi"`) {
		t.Errorf("unknown Auth/Calls: %v", err)
	}
}

// The password is a Secret reference, never a value.
func TestValuesHoldNoPassword(t *testing.T) {
	in := exampleInput()
	in.Auth = AuthMAS
	v, err := Values(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"synapse", "matrixAuthenticationService"} {
		pw := v[c].(map[string]any)["postgres"].(map[string]any)["password"]
		if _, ok := pw.(map[string]any)["value"]; ok || len(pw.(map[string]any)) != 2 {
			t.Errorf("%s.postgres.password = %v, want only secret and secretKey", c, pw)
		}
	}
}

// WorkerTypes is the chart's list: the worker types of its schema, with
// the maximum it sets on their replicas.
func TestWorkerTypesMatchChart(t *testing.T) {
	var schema struct {
		Properties struct {
			Synapse struct {
				Properties struct {
					Workers struct {
						Properties map[string]struct {
							Properties struct {
								Replicas struct {
									Maximum *int `json:"maximum"`
								} `json:"replicas"`
							} `json:"properties"`
						} `json:"properties"`
					} `json:"workers"`
				} `json:"properties"`
			} `json:"synapse"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(pinnedChart(t).Schema, &schema); err != nil {
		t.Fatal(err)
	}
	var want []WorkerType
	for name, w := range schema.Properties.Synapse.Properties.Workers.Properties {
		max := 0
		if w.Properties.Replicas.Maximum != nil {
			max = *w.Properties.Replicas.Maximum
		}
		want = append(want, WorkerType{name, max})
	}
	slices.SortFunc(want, func(a, b WorkerType) int { return strings.Compare(a.Name, b.Name) })
	if got := WorkerTypes(); !reflect.DeepEqual(got, want) {
		t.Errorf("WorkerTypes() =\n%v\nthe chart's schema says\n%v", got, want)
	}
}

// Every owned path names a value the chart's schema has: a typo in the
// table would protect nothing.
func TestOwnedValuesExistInChart(t *testing.T) {
	var schema node
	if err := json.Unmarshal(pinnedChart(t).Schema, &schema); err != nil {
		t.Fatal(err)
	}
	for _, o := range ownedValues() {
		if !schema.has(o.path) {
			t.Errorf("owned %s is not a value of the chart", dotted(o.path))
		}
	}
}

type node struct {
	Properties           map[string]*node `json:"properties"`
	AdditionalProperties any              `json:"additionalProperties"`
}

// has reports whether path exists below n; "*" must match at least one
// property. A map whose other keys are free (annotations) has any key.
func (n *node) has(path []string) bool {
	if len(path) == 0 {
		return true
	}
	if path[0] == "*" {
		for _, c := range n.Properties {
			if c.has(path[1:]) {
				return true
			}
		}
		return false
	}
	if c, ok := n.Properties[path[0]]; ok {
		return c.has(path[1:])
	}
	_, free := n.AdditionalProperties.(map[string]any)
	return free && len(path) == 1
}

// Merge refuses every owned value at once, each named as a
// matrix:helmValues path with what to set instead.
func TestMergeRefusesOwnedValues(t *testing.T) {
	derived, err := Values(exampleInput())
	if err != nil {
		t.Fatal(err)
	}
	operator := map[string]any{
		"serverName": "evil.example",
		"synapse": map[string]any{
			"postgres":  map[string]any{"password": map[string]any{"value": "hunter2"}},
			"workers":   map[string]any{"synchrotron": map[string]any{"replicas": 4, "resources": map[string]any{}}},
			"ingress":   map[string]any{"annotations": map[string]any{albCertificate: "arn:other", "x/y": "ok"}},
			"resources": map[string]any{},
		},
		"ingress":    map[string]any{"className": "nginx", "annotations": map[string]any{albGroupName: "other"}},
		"matrixRTC":  map[string]any{"sfu": map[string]any{"exposedServices": map[string]any{"rtcMuxedUdp": map[string]any{"portType": "NodePort"}}}},
		"elementWeb": map[string]any{"ingress": "replaced"},
	}
	_, err = Merge(derived, operator)
	if err == nil {
		t.Fatal("owned values accepted")
	}
	for _, want := range []string{
		"matrix:helmValues.serverName: the program sets serverName; set matrix:domain instead",
		"matrix:helmValues.synapse.postgres: the program sets synapse.postgres; not configurable: Synapse and MAS use the RDS PostgreSQL",
		"matrix:helmValues.synapse.workers.synchrotron.replicas: the program sets synapse.workers.synchrotron.replicas; set matrix:eksWorkers instead",
		`matrix:helmValues.synapse.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"]: the program sets synapse.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"]; not configurable: TLS ends at the ALB`,
		"matrix:helmValues.ingress.className: the program sets ingress.className; not configurable",
		`matrix:helmValues.ingress.annotations["alb.ingress.kubernetes.io/group.name"]: the program sets`,
		"matrix:helmValues.matrixRTC.sfu.exposedServices: the program sets matrixRTC.sfu.exposedServices; not configurable: LiveKit's UDP",
		// A scalar in place of a map would replace what the program sets inside it.
		"matrix:helmValues.elementWeb.ingress: the program sets elementWeb.ingress.className",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	// One problem per owned value set: what lies below it is not reported
	// again, nor are the maps leading to it.
	if n := strings.Count(err.Error(), ": the program sets "); n != 8 {
		t.Errorf("%d problems, want 8:\n%v", n, err)
	}
	for _, allowed := range []string{"synchrotron.resources", "synapse.resources", `"x/y"`} {
		if strings.Contains(err.Error(), allowed) {
			t.Errorf("refused %s, which the operator owns:\n%v", allowed, err)
		}
	}
}

// Operator values merge deeply over the derived ones without changing
// either input; lists and scalars replace.
func TestMergeDeep(t *testing.T) {
	derived, err := Values(exampleInput())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(derived)
	operator := map[string]any{
		"ingress": map[string]any{"annotations": map[string]any{albSSLPolicy: "ELBSecurityPolicy-TLS13-1-3-2021-06"}},
		"synapse": map[string]any{"extraArgs": []any{"--verbose"}, "media": map[string]any{"maxUploadSize": "200M"}},
	}
	opBefore, _ := json.Marshal(operator)
	merged, err := Merge(derived, operator)
	if err != nil {
		t.Fatal(err)
	}
	ann := merged["ingress"].(map[string]any)["annotations"].(map[string]any)
	if ann[albSSLPolicy] != "ELBSecurityPolicy-TLS13-1-3-2021-06" || ann[albCertificate] != testARN {
		t.Errorf("annotations %v: the operator's policy must replace the default and keep the certificate", ann)
	}
	media := merged["synapse"].(map[string]any)["media"].(map[string]any)
	if media["maxUploadSize"] != "200M" || media["storage"].(map[string]any)["size"] != "50Gi" {
		t.Errorf("synapse.media %v: want the operator's upload size beside the derived storage", media)
	}
	// The merged map shares nothing with the operator's.
	merged["synapse"].(map[string]any)["extraArgs"].([]any)[0] = "changed"
	after, _ := json.Marshal(derived)
	opAfter, _ := json.Marshal(operator)
	if string(before) != string(after) || string(opBefore) != string(opAfter) {
		t.Error("Merge changed its inputs")
	}
}
