package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TopologyTag names, on the RDS database that ha and eks declare alike,
// the topology whose data it holds: the topology-switch check tells them
// apart by it.
const TopologyTag = "matrix-topology"

// topologyTags are a resource's Name tag and its topology.
func topologyTags(ctx *pulumi.Context, role string, t Topology) pulumi.StringMap {
	tags := NameTag(ctx, role)
	tags[TopologyTag] = pulumi.String(string(t))
	return tags
}

// heldData is what a topology keeps that switching away from it deletes.
func heldData(t Topology) string {
	switch t {
	case TopologyHA:
		return "the load balancer, the Auto Scaling Group, the RDS database and the media bucket"
	case TopologyEKS:
		return "the cluster, the RDS database and the media volume the chart claimed"
	}
	return "the host, its Elastic IP and the data volume (PostgreSQL and media under /matrix)"
}

// checkTopologySwitch refuses to declare a topology while the stack's data
// lives in another one: declaring it would make `pulumi up` delete that
// data's resources (or fail halfway, since ha and eks name their database
// alike) without anyone having said so. It looks the data up in the
// account, since the program cannot read its own previous state: the
// single topology's data volume by its Name and snapshot tags, the
// database of ha or eks by its identifier or, once restored, its Name
// tag, and whose it is by its topology tag (a database without one
// predates eks: ha's). matrix:allowTopologyChange is the explicit
// confirmation.
func checkTopologySwitch(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) error {
	if cfg.AllowTopologyChange {
		return nil
	}
	held, err := dataHeld(ctx, cfg.Topology, opts...)
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	var ps Problems
	for _, other := range []Topology{TopologySingle, TopologyHA, TopologyEKS} {
		if found, ok := held[other]; ok {
			ps.Add(Qualified("topology"), "this stack already holds data in the %s topology: %s. Switching to %s would delete %s, and %s starts with an empty homeserver. Keep matrix:topology %s, or move the data first (docs/topologies.md, \"Switching topologies\") and confirm with pulumi config set matrix:allowTopologyChange true",
				other, found, cfg.Topology, heldData(other), cfg.Topology, other)
		}
	}
	return ps.Err()
}

// dataHeld finds the data of the topologies other than t, by topology.
func dataHeld(ctx *pulumi.Context, t Topology, opts ...pulumi.InvokeOption) (map[Topology]string, error) {
	held := map[Topology]string{}
	if t != TopologySingle {
		vols, err := ebs.GetEbsVolumes(ctx, &ebs.GetEbsVolumesArgs{
			Filters: []ebs.GetEbsVolumesFilter{
				{Name: "tag:" + SnapshotTag, Values: []string{SnapshotTarget(ctx)}},
				// With the snapshot tag alone, the eks media volumes
				// would match too.
				{Name: "tag:Name", Values: []string{nameOf(ctx, "data")}},
			},
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("looking for the single topology's data volume: %w", err)
		}
		if len(vols.Ids) > 0 {
			held[TopologySingle] = fmt.Sprintf("the single topology's data volume %s (tag %s=%s)", strings.Join(vols.Ids, ", "), SnapshotTag, SnapshotTarget(ctx))
		}
	}
	dbs, err := databasesByTopology(ctx, opts...)
	if err != nil {
		return nil, err
	}
	for other, ids := range dbs {
		if other != t {
			held[other] = fmt.Sprintf("the %s topology's RDS database %s", other, strings.Join(ids, ", "))
		}
	}
	return held, nil
}

// databasesByTopology returns the stack's RDS databases by the topology
// that declared them.
func databasesByTopology(ctx *pulumi.Context, opts ...pulumi.InvokeOption) (map[Topology][]string, error) {
	id := DBIdentifier(ctx.Project(), ctx.Stack())
	byID, err := rds.GetInstances(ctx, &rds.GetInstancesArgs{
		Filters: []rds.GetInstancesFilter{{Name: "db-instance-id", Values: []string{id}}},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("looking for the stack's database: %w", err)
	}
	// A restored database has another identifier (matrix:dbRestore).
	tagged, err := stackDatabases(ctx, opts...)
	if err != nil {
		return nil, err
	}
	all := byID.InstanceIdentifiers
	for _, t := range tagged {
		if !slices.Contains(all, t) {
			all = append(all, t)
		}
	}
	out := map[Topology][]string{}
	if len(all) == 0 {
		return out, nil
	}
	eks, err := rds.GetInstances(ctx, &rds.GetInstancesArgs{
		Tags: map[string]string{"Name": dbNameTag(ctx), TopologyTag: string(TopologyEKS)},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("looking for the eks topology's database: %w", err)
	}
	for _, db := range all {
		t := TopologyHA
		if slices.Contains(eks.InstanceIdentifiers, db) {
			t = TopologyEKS
		}
		out[t] = append(out[t], db)
	}
	return out, nil
}
