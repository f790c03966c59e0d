// Package deploy declares a homeserver in the topology its configuration
// names. It is the one place that knows every topology package; each of
// them knows only the core (infra).
package deploy

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/eks"
	"github.com/matrix-on-aws/homeserver/infra/ha"
	"github.com/matrix-on-aws/homeserver/infra/single"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Layout is the topology package of cfg.Topology.
func Layout(cfg infra.Config) (infra.Layout, error) {
	switch cfg.Topology {
	case infra.TopologySingle:
		return single.New(), nil
	case infra.TopologyHA:
		return ha.New(), nil
	case infra.TopologyEKS:
		return eks.New(), nil
	}
	return nil, fmt.Errorf("deploy: no topology package for %q", cfg.Topology)
}

// Homeserver declares the homeserver cfg describes.
func Homeserver(ctx *pulumi.Context, name string, cfg infra.Config) (*infra.Homeserver, error) {
	layout, err := Layout(cfg)
	if err != nil {
		return nil, err
	}
	return infra.NewHomeserver(ctx, name, cfg, layout)
}
