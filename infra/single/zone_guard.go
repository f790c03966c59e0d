package single

import (
	"fmt"
	"strings"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// dataVolume is the part of an existing data volume that decides whether
// the declared one replaces it: the zone and the snapshot it was created
// from are both fixed at creation.
type dataVolume struct {
	ID, Zone, SnapshotID string
}

// checkDataVolume refuses to declare a data volume that would replace the
// stack's existing one and lose its data: one in another zone
// (matrix:availabilityZone) or created differently (matrix:dataVolumeSnapshotId
// removed or reused), unless a snapshot to create it from is given. It
// also checks that snapshot, which EBS would otherwise refuse only after
// the new instance exists. As checkTopologySwitch, it looks the volume up
// by the stack's snapshot tag, since the program cannot read its state.
func checkDataVolume(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, opts ...pulumi.InvokeOption) error {
	if cfg.Topology != infra.TopologySingle {
		return nil
	}
	var ps infra.Problems
	if cfg.DataVolumeSnapshotID != "" {
		checkSnapshot(ctx, cfg, &ps, opts...)
	}
	vols, err := stackDataVolumes(ctx, opts...)
	if err != nil {
		return err
	}
	if len(vols) == 0 {
		return ps.Err() // a new stack, or its volume is gone: nothing to lose
	}
	for _, v := range vols {
		if v.Zone == facts.HostZone && v.SnapshotID == cfg.DataVolumeSnapshotID {
			return ps.Err() // the volume the state holds stays
		}
	}
	cur := vols[0]
	var found []string
	for _, v := range vols {
		found = append(found, fmt.Sprintf("%s in %s%s", v.ID, v.Zone, createdFrom(v.SnapshotID)))
	}
	const fix = "see docs/runbook-zone-move.md"
	why := "in " + facts.HostZone + " (matrix:availabilityZone)"
	if cur.Zone == facts.HostZone {
		why = "in the same zone, as its snapshot changes (matrix:dataVolumeSnapshotId)"
	}
	switch {
	case cfg.DataVolumeSnapshotID == "":
		ps.Add(infra.Qualified("dataVolumeSnapshotId"), "the stack's data volume %s would be replaced by an empty volume %s, losing the homeserver's data (only a final snapshot would be left). To move the data, set matrix:dataVolumeSnapshotId to the volume's latest snapshot (aws ec2 describe-snapshots --owner-ids self --filters Name=tag:%s,Values=%s); to keep the volume, set matrix:availabilityZone %s%s; %s",
			strings.Join(found, ", "), why, infra.SnapshotTag, infra.SnapshotTarget(ctx), cur.Zone, keepSnapshot(cur), fix)
	case isCreatedFrom(vols, cfg.DataVolumeSnapshotID):
		ps.Add(infra.Qualified("dataVolumeSnapshotId"), "%s is the snapshot the current data volume %s was created from, not a copy of its data today: the new volume %s would lose everything written since. Give the volume's latest snapshot (aws ec2 describe-snapshots --owner-ids self --filters Name=tag:%s,Values=%s); %s",
			cfg.DataVolumeSnapshotID, strings.Join(found, ", "), why, infra.SnapshotTag, infra.SnapshotTarget(ctx), fix)
	}
	if cfg.Protect {
		ps.Add(infra.Qualified("protect"), "is true, and the data volume %s would be replaced %s, with the instance and their attachment, which protection forbids: lift it first on its own (pulumi config set matrix:protect false, pulumi up), then change the zone or snapshot, and set it again afterwards; %s",
			cur.ID, why, fix)
	}
	return ps.Err()
}

func checkSnapshot(ctx *pulumi.Context, cfg infra.Config, ps *infra.Problems, opts ...pulumi.InvokeOption) {
	id := cfg.DataVolumeSnapshotID
	snap, err := ebs.LookupSnapshot(ctx, &ebs.LookupSnapshotArgs{SnapshotIds: []string{id}}, opts...)
	switch {
	case err != nil:
		ps.Add(infra.Qualified("dataVolumeSnapshotId"), "%s is not a snapshot this account can read in %s (snapshots are regional: copy it here first, or pick one of aws ec2 describe-snapshots --owner-ids self): %v", id, cfg.Region, err)
	case snap.State != "completed":
		ps.Add(infra.Qualified("dataVolumeSnapshotId"), "%s is %s, not completed; wait for it (aws ec2 wait snapshot-completed --snapshot-ids %s), then run pulumi up again", id, snap.State, id)
	case snap.VolumeSize > cfg.DataVolumeGiB:
		ps.Add(infra.Qualified("dataVolumeGiB"), "is %d, but snapshot %s (matrix:dataVolumeSnapshotId) holds a %d GiB volume, and a volume cannot be smaller than its snapshot; set matrix:dataVolumeGiB to at least %d",
			cfg.DataVolumeGiB, id, snap.VolumeSize, snap.VolumeSize)
	}
}

// stackDataVolumes finds the volumes carrying the stack's snapshot tag:
// the data volume, and any an earlier move retained.
func stackDataVolumes(ctx *pulumi.Context, opts ...pulumi.InvokeOption) ([]dataVolume, error) {
	ids, err := ebs.GetEbsVolumes(ctx, &ebs.GetEbsVolumesArgs{
		Filters: []ebs.GetEbsVolumesFilter{{Name: "tag:" + infra.SnapshotTag, Values: []string{infra.SnapshotTarget(ctx)}}},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("data volume: looking for the stack's data volume: %w", err)
	}
	var out []dataVolume
	for _, id := range ids.Ids {
		v, err := ebs.LookupVolume(ctx, &ebs.LookupVolumeArgs{
			Filters: []ebs.GetVolumeFilter{{Name: "volume-id", Values: []string{id}}},
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("data volume: reading %s: %w", id, err)
		}
		out = append(out, dataVolume{ID: id, Zone: v.AvailabilityZone, SnapshotID: v.SnapshotId})
	}
	return out, nil
}

func isCreatedFrom(vols []dataVolume, snapshot string) bool {
	for _, v := range vols {
		if v.SnapshotID == snapshot {
			return true
		}
	}
	return false
}

func createdFrom(snapshot string) string {
	if snapshot == "" {
		return ""
	}
	return " (created from " + snapshot + ")"
}

func keepSnapshot(v dataVolume) string {
	if v.SnapshotID == "" {
		return ""
	}
	return " and matrix:dataVolumeSnapshotId " + v.SnapshotID
}
