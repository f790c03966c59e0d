package chartrender

import (
	"context"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// testChart is a small chart exercising what Render must keep: a schema,
// a validation template that fails, a hook, and a kubeVersion constraint.
func testChart() *chart.Chart {
	file := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "demo", Version: "1.0.0", KubeVersion: ">= 1.30.0-0"},
		Values:   map[string]any{"replicas": 1, "extraSpec": map[string]any{}},
		Schema:   []byte(`{"type":"object","properties":{"replicas":{"type":"integer","minimum":0},"name":{"type":"string"},"extraSpec":{"type":"object"}},"additionalProperties":false}`),
		Templates: []*chart.File{
			file("templates/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ required "name is required" .Values.name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers: [{name: demo, image: "demo:1"}]
{{- with .Values.extraSpec }}
      {{- toYaml . | nindent 6 }}
{{- end }}
`),
			file("templates/hook.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations: {"helm.sh/hook": pre-install}
data: {ok: "yes"}
`),
			file("templates/validation.txt", `{{- if eq .Values.name "forbidden" }}{{ fail "\n- name must not be forbidden" }}{{ end }}`),
		},
	}
}

func opts() Options { return Options{ReleaseName: "r", Namespace: "ns", KubeVersion: "1.33"} }

func TestRenderAndDecode(t *testing.T) {
	ms, err := Render(context.Background(), testChart(), map[string]any{"name": "web", "replicas": 3}, opts())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := NewDecoder().Decode(ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("%d objects, want the Deployment and the hook: %+v", len(objs), ms)
	}
	d, ok := objs[0].Object.(*appsv1.Deployment)
	if !ok || d.Name != "r-web" || d.Namespace != "" || *d.Spec.Replicas != 3 || objs[0].Source != "demo/templates/deployment.yaml" || objs[0].Hook {
		t.Errorf("first object %s %T %+v", objs[0].Source, objs[0].Object, objs[0].Object)
	}
	if cm, ok := objs[1].Object.(*corev1.ConfigMap); !ok || !objs[1].Hook || cm.Data["ok"] != "yes" {
		t.Errorf("hook %+v", objs[1])
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		opts   func(*Options)
		want   string
	}{
		{"schema", map[string]any{"name": "web", "replicas": -1}, nil, "replicas: Must be greater than or equal to 0"},
		{"schema unknown key", map[string]any{"name": "web", "replica": 1}, nil, "Additional property replica is not allowed"},
		{"required", map[string]any{}, nil, "name is required"},
		{"validation template", map[string]any{"name": "forbidden"}, nil, "name must not be forbidden"},
		// Helm's library default is v1.20.0: without the cluster's version
		// a chart that needs a newer one does not render.
		{"kube version", map[string]any{"name": "web"}, func(o *Options) { o.KubeVersion = "1.29" }, "chart requires kubeVersion: >= 1.30.0-0 which is incompatible with Kubernetes v1.29"},
		{"options", map[string]any{"name": "web"}, func(o *Options) { o.KubeVersion = "" }, "KubeVersion are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := Render(context.Background(), testChart(), tc.values, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// What the chart copies verbatim from values must be API fields: an
// unknown or misplaced field fails decoding, naming the template.
func TestDecodeIsStrict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
		yaml  string
		want  string
	}{
		{name: "unknown field", extra: map[string]any{"hostNetwrok": true}, want: `unknown field "spec.template.spec.hostNetwrok"`},
		{name: "wrong type", extra: map[string]any{"hostNetwork": "yes"}, want: "hostNetwork"},
		{name: "unknown kind", yaml: "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\n", want: `no kind "ServiceMonitor" is registered`},
		{name: "duplicate field", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n", want: `"data" already set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ms []Manifest
			if tc.yaml != "" {
				ms = []Manifest{{Source: "demo/templates/x.yaml", YAML: tc.yaml}}
			} else {
				var err error
				if ms, err = Render(context.Background(), testChart(), map[string]any{"name": "web", "extraSpec": tc.extra}, opts()); err != nil {
					t.Fatal(err)
				}
			}
			_, err := NewDecoder().Decode(ms)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "demo/templates/") {
				t.Fatalf("error %v, want %q naming the template", err, tc.want)
			}
		})
	}
}
