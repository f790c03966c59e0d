package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// checkTopologySwitch refuses to declare a topology while the stack's data
// lives in the other one: declaring it would make `pulumi up` delete that
// data's resources (or leave them orphaned) without anyone having said so.
// It looks the data up in the account, since the program cannot read its
// own previous state: the single topology's data volume by its snapshot
// tag, the ha topology's database by its identifier or, once restored, its
// Name tag. matrix:allowTopologyChange
// is the explicit confirmation.
func checkTopologySwitch(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) error {
	if cfg.AllowTopologyChange {
		return nil
	}
	var found, what, other string
	switch cfg.Topology {
	case TopologyHA, TopologyEKS:
		vols, err := ebs.GetEbsVolumes(ctx, &ebs.GetEbsVolumesArgs{
			Filters: []ebs.GetEbsVolumesFilter{{Name: "tag:" + SnapshotTag, Values: []string{SnapshotTarget(ctx)}}},
		}, opts...)
		if err != nil {
			return fmt.Errorf("topology: looking for the single topology's data volume: %w", err)
		}
		if len(vols.Ids) == 0 {
			return nil
		}
		found = fmt.Sprintf("the single topology's data volume %s (tag %s=%s)", strings.Join(vols.Ids, ", "), SnapshotTag, SnapshotTarget(ctx))
		what, other = "the host, its Elastic IP and the data volume (PostgreSQL and media under /matrix)", "single"
	case TopologySingle:
		id := DBIdentifier(ctx.Project(), ctx.Stack())
		dbs, err := rds.GetInstances(ctx, &rds.GetInstancesArgs{
			Filters: []rds.GetInstancesFilter{{Name: "db-instance-id", Values: []string{id}}},
		}, opts...)
		if err != nil {
			return fmt.Errorf("topology: looking for the ha topology's database: %w", err)
		}
		// A restored database has another identifier (matrix:dbRestore).
		tagged, err := stackDatabases(ctx, opts...)
		if err != nil {
			return fmt.Errorf("topology: %w", err)
		}
		ids := dbs.InstanceIdentifiers
		for _, t := range tagged {
			if !slices.Contains(ids, t) {
				ids = append(ids, t)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		found = "the ha topology's RDS database " + strings.Join(ids, ", ")
		what, other = "the load balancer, the Auto Scaling Group, the RDS database and the media bucket", "ha"
	default:
		return nil
	}
	var ps Problems
	ps.Add(Qualified("topology"), "this stack already holds data in the %s topology: %s. Switching to %s would delete %s, and %s starts with an empty homeserver. Keep matrix:topology %s, or move the data first (docs/topologies.md, \"Switching topologies\") and confirm with pulumi config set matrix:allowTopologyChange true",
		other, found, cfg.Topology, what, cfg.Topology, other)
	return ps.Err()
}
