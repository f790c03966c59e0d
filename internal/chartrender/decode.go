package chartrender

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// Object is a decoded manifest.
type Object struct {
	Manifest
	GVK    schema.GroupVersionKind
	Object runtime.Object // a typed object: *appsv1.Deployment, *corev1.Service, ...
}

// Decoder decodes manifests strictly into the built-in Kubernetes API types
// of k8s.io/client-go's scheme: an unknown or duplicated field, or a kind
// the scheme does not know, is an error.
//
// Custom resources are not in that scheme on purpose. A chart renders them
// only when Options.APIVersions advertises their API (matrix-stack's
// ServiceMonitors need monitoring.coreos.com/v1, its TURN TLS Certificate
// cert-manager.io/v1), so a render for a cluster without those APIs has
// none; one that advertises them fails here, naming the kind, rather than
// passing them unchecked. Checking them would need their Go types (the
// prometheus-operator and cert-manager modules) in this scheme.
type Decoder struct {
	decoder runtime.Decoder
}

// NewDecoder returns a strict decoder over client-go's scheme.
func NewDecoder() *Decoder {
	return &Decoder{decoder: serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()}
}

// Decode decodes every manifest and reports every failure at once, each
// naming the template it came from.
func (d *Decoder) Decode(ms []Manifest) ([]Object, error) {
	var (
		out  []Object
		errs []error
	)
	for _, m := range ms {
		obj, gvk, err := d.decoder.Decode([]byte(m.YAML), nil, nil)
		if err != nil {
			// A strict-decoding error comes with a decoded object; it is
			// still a failure: the field the chart wrote would be dropped
			// or refused by the API server.
			errs = append(errs, fmt.Errorf("%s: %w", m.Source, err))
			continue
		}
		out = append(out, Object{Manifest: m, GVK: *gvk, Object: obj})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("chartrender: %d of %d manifests do not decode strictly:\n%w", len(errs), len(ms), errors.Join(errs...))
	}
	return out, nil
}
