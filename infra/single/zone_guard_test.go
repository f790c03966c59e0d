package single_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
)

// TestHostZone: matrix:availabilityZone puts the instance, its subnet and
// the data volume in the chosen zone; unset, the first of the VPC's zones.
// (The mock refuses to attach a volume to an instance of another zone.)
func TestHostZone(t *testing.T) {
	for _, m := range modes {
		for _, tc := range []struct {
			raw        map[string]string
			zone, want string
		}{
			{config(), "eu-central-1a", "public-0"},
			{config("matrix:availabilityZone", "eu-central-1b"), "eu-central-1b", "public-1"},
		} {
			_, c, err := synthtest.RunIn(t, m.DryRun, tc.raw, mock.Existing{})
			if err != nil {
				t.Fatalf("%s %s: %v", m.Name, tc.zone, err)
			}
			if z := strOf(get(one(t, c, volType, "data").Inputs, "availabilityZone")); z != tc.zone {
				t.Errorf("%s: data volume in %q, want %s", m.Name, z, tc.zone)
			}
			subnet := one(t, c, subType, tc.want)
			if z := strOf(get(subnet.Inputs, "availabilityZone")); z != tc.zone {
				t.Errorf("%s: subnet %s in %q, want %s", m.Name, tc.want, z, tc.zone)
			}
			if m.DryRun {
				continue // IDs are unknown in a preview
			}
			inst := one(t, c, instType, "host")
			if got, want := strOf(get(inst.Inputs, "subnetId")), subnetID(t, c, tc.want); got == "" || got != want {
				t.Errorf("instance in subnet %q, want %s (%s)", got, want, tc.want)
			}
			if z := strOf(get(inst.Outputs, "availabilityZone")); z != tc.zone {
				t.Errorf("instance in %q, want %s", z, tc.zone)
			}
		}
	}
}

// subnetID is the ID the mock gave a subnet: the one the route table
// association of the same name refers to.
func subnetID(t *testing.T, c *mock.Cloud, name string) string {
	t.Helper()
	return strOf(get(one(t, c, "aws:ec2/routeTableAssociation:RouteTableAssociation", name).Inputs, "subnetId"))
}

func TestHostZoneRejected(t *testing.T) {
	for _, tc := range []struct{ zone, want string }{
		{"eu-central-1c", "matrix:availabilityZone: eu-central-1c is a zone of eu-central-1, but not one of the two the stack's VPC spans; use eu-central-1a or eu-central-1b"},
		{"eu-central-1d", "matrix:availabilityZone: eu-central-1d is not an availability zone of eu-central-1 available without opt-in (those are eu-central-1a, eu-central-1b, eu-central-1c); use eu-central-1a or eu-central-1b"},
	} {
		_, c, err := synthtest.RunIn(t, true, config("matrix:availabilityZone", tc.zone), mock.Existing{})
		synthtest.RefusedBeforeDeclaring(t, err, c, tc.want)
	}
}

// TestDataVolumeMoveGuard: a zone change or a snapshot change that would
// replace the stack's data volume is refused unless a snapshot of its data
// is given, and a given snapshot must be usable.
func TestDataVolumeMoveGuard(t *testing.T) {
	const vol, snap, old = "vol-0123456789abcdef0", "snap-0123456789abcdef0", "snap-0aaaaaaaaaaaaaaaa"
	tag := map[string]string{"matrix-snapshots": "matrix-test"}
	inA := mock.Existing{
		Volumes:   []mock.ExistingVolume{{ID: vol, Tags: tag, Zone: "eu-central-1a"}},
		Snapshots: []mock.ExistingSnapshot{{ID: snap, VolumeID: vol, Size: 20, Tags: tag}},
	}
	fromOld := mock.Existing{
		Volumes:   []mock.ExistingVolume{{ID: vol, Tags: tag, Zone: "eu-central-1a", SnapshotID: old}},
		Snapshots: []mock.ExistingSnapshot{{ID: snap, VolumeID: vol, Size: 20}, {ID: old, VolumeID: "vol-0bbbbbbbbbbbbbbbb", Size: 20}},
	}
	big := mock.Existing{Snapshots: []mock.ExistingSnapshot{{ID: snap, Size: 50}}}
	pending := mock.Existing{Snapshots: []mock.ExistingSnapshot{{ID: snap, Size: 20, State: "pending"}}}
	const lost = "matrix:dataVolumeSnapshotId: the stack's data volume vol-0123456789abcdef0 in eu-central-1a would be replaced by an empty volume in eu-central-1b (matrix:availabilityZone), losing the homeserver's data (only a final snapshot would be left). To move the data, set matrix:dataVolumeSnapshotId to the volume's latest snapshot (aws ec2 describe-snapshots --owner-ids self --filters Name=tag:matrix-snapshots,Values=matrix-test); to keep the volume, set matrix:availabilityZone eu-central-1a; see docs/runbook-zone-move.md"
	for _, m := range modes {
		for _, tc := range []struct {
			name     string
			raw      map[string]string
			existing mock.Existing
			want     []string // nil: the run succeeds
		}{
			{"zone change without snapshot", config("matrix:availabilityZone", "eu-central-1b"), inA, []string{lost}},
			{"zone change with snapshot", config("matrix:availabilityZone", "eu-central-1b", "matrix:dataVolumeSnapshotId", snap), inA, nil},
			{"same zone", config("matrix:availabilityZone", "eu-central-1a"), inA, nil},
			{"default zone", config(), inA, nil},
			{"new stack in b", config("matrix:availabilityZone", "eu-central-1b"), mock.Existing{}, nil},
			{"restore in place", config("matrix:dataVolumeSnapshotId", snap), inA, nil},
			{"kept snapshot", config("matrix:dataVolumeSnapshotId", old), fromOld, nil},
			{"snapshot removed", config(), fromOld, []string{"matrix:dataVolumeSnapshotId: the stack's data volume vol-0123456789abcdef0 in eu-central-1a (created from snap-0aaaaaaaaaaaaaaaa) would be replaced by an empty volume in the same zone, as its snapshot changes (matrix:dataVolumeSnapshotId), losing the homeserver's data (only a final snapshot would be left). To move the data, set matrix:dataVolumeSnapshotId to the volume's latest snapshot (aws ec2 describe-snapshots --owner-ids self --filters Name=tag:matrix-snapshots,Values=matrix-test); to keep the volume, set matrix:availabilityZone eu-central-1a and matrix:dataVolumeSnapshotId snap-0aaaaaaaaaaaaaaaa; see docs/runbook-zone-move.md"}},
			{"stale snapshot", config("matrix:availabilityZone", "eu-central-1b", "matrix:dataVolumeSnapshotId", old), fromOld, []string{"matrix:dataVolumeSnapshotId: snap-0aaaaaaaaaaaaaaaa is the snapshot the current data volume vol-0123456789abcdef0 in eu-central-1a (created from snap-0aaaaaaaaaaaaaaaa) was created from, not a copy of its data today: the new volume in eu-central-1b (matrix:availabilityZone) would lose everything written since. Give the volume's latest snapshot (aws ec2 describe-snapshots --owner-ids self --filters Name=tag:matrix-snapshots,Values=matrix-test); see docs/runbook-zone-move.md"}},
			{"protected", config("matrix:availabilityZone", "eu-central-1b", "matrix:dataVolumeSnapshotId", snap, "matrix:protect", "true"), inA, []string{"matrix:protect: is true, and the data volume vol-0123456789abcdef0 would be replaced in eu-central-1b (matrix:availabilityZone), with the instance and their attachment, which protection forbids: lift it first on its own (pulumi config set matrix:protect false, pulumi up), then change the zone or snapshot, and set it again afterwards; see docs/runbook-zone-move.md"}},
			{"protected and no snapshot", config("matrix:availabilityZone", "eu-central-1b", "matrix:protect", "true"), inA, []string{lost, "matrix:protect: is true, and the data volume vol-0123456789abcdef0 would be replaced in eu-central-1b (matrix:availabilityZone), with the instance and their attachment, which protection forbids: lift it first on its own (pulumi config set matrix:protect false, pulumi up), then change the zone or snapshot, and set it again afterwards; see docs/runbook-zone-move.md"}},
			{"unknown snapshot", config("matrix:dataVolumeSnapshotId", "snap-0bbbbbbbbbbbbbbbb"), mock.Existing{}, []string{"matrix:dataVolumeSnapshotId: snap-0bbbbbbbbbbbbbbbb is not a snapshot this account can read in eu-central-1 (snapshots are regional: copy it here first, or pick one of aws ec2 describe-snapshots --owner-ids self): "}},
			{"snapshot larger than the volume", config("matrix:dataVolumeSnapshotId", snap), big, []string{"matrix:dataVolumeGiB: is 20, but snapshot snap-0123456789abcdef0 (matrix:dataVolumeSnapshotId) holds a 50 GiB volume, and a volume cannot be smaller than its snapshot; set matrix:dataVolumeGiB to at least 50"}},
			{"snapshot larger, volume grown", config("matrix:dataVolumeSnapshotId", snap, "matrix:dataVolumeGiB", "50"), big, nil},
			{"snapshot pending", config("matrix:dataVolumeSnapshotId", snap), pending, []string{"matrix:dataVolumeSnapshotId: snap-0123456789abcdef0 is pending, not completed; wait for it (aws ec2 wait snapshot-completed --snapshot-ids snap-0123456789abcdef0), then run pulumi up again"}},
		} {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				_, c, err := synthtest.RunIn(t, m.DryRun, tc.raw, tc.existing)
				if tc.want == nil {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var ce *infra.ConfigError
				if !errors.As(err, &ce) || len(ce.Problems) != len(tc.want) {
					t.Fatalf("error:\n%v\nwant the Problems\n%q", err, tc.want)
				}
				for i, p := range ce.Problems {
					// The provider's own error ends the unknown-snapshot message.
					if got := p.String(); got != tc.want[i] && !(strings.HasSuffix(tc.want[i], ": ") && strings.HasPrefix(got, tc.want[i])) {
						t.Errorf("problem\n%s\nwant\n%s", got, tc.want[i])
					}
				}
				synthtest.DeclaredNothing(t, c)
			})
		}
	}
}

// TestDataVolumeFromSnapshot: the volume is created from the snapshot in
// the chosen zone, the instance there too, and attached (the mock refuses
// an attachment across zones and a volume smaller than its snapshot).
func TestDataVolumeFromSnapshot(t *testing.T) {
	const snap = "snap-0123456789abcdef0"
	e := mock.Existing{Snapshots: []mock.ExistingSnapshot{{ID: snap, Size: 30}}}
	for _, m := range modes {
		_, c, err := synthtest.RunIn(t, m.DryRun, config("matrix:availabilityZone", "eu-central-1b", "matrix:dataVolumeSnapshotId", snap, "matrix:dataVolumeGiB", "30"), e)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		v := one(t, c, volType, "data").Inputs
		if strOf(get(v, "snapshotId")) != snap || strOf(get(v, "availabilityZone")) != "eu-central-1b" {
			t.Errorf("%s: volume %v", m.Name, v)
		}
	}
	_, c, err := synthtest.RunIn(t, false, config(), mock.Existing{})
	if err != nil {
		t.Fatal(err)
	}
	if v := get(one(t, c, volType, "data").Inputs, "snapshotId"); !v.IsNull() {
		t.Errorf("volume without the key has snapshotId %v", v)
	}
}

// TestZonesStayDuringAnOutage: a zone AWS reports impaired keeps its
// subnet, so moving the host out of it moves nothing else.
func TestZonesStayDuringAnOutage(t *testing.T) {
	const snap = "snap-0123456789abcdef0"
	c := mock.New(map[string]string{"example.org": "Z0EXAMPLE"})
	c.Impaired = []string{"eu-central-1a"}
	c.SetExisting(mock.Existing{
		Volumes:   []mock.ExistingVolume{{ID: "vol-0123456789abcdef0", Tags: map[string]string{"matrix-snapshots": "matrix-test"}, Zone: "eu-central-1a"}},
		Snapshots: []mock.ExistingSnapshot{{ID: snap, Size: 20}},
	})
	raw := config("matrix:availabilityZone", "eu-central-1b", "matrix:dataVolumeSnapshotId", snap)
	if _, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, Cloud: c}); err != nil {
		t.Fatal(err)
	}
	for name, zone := range map[string]string{"public-0": "eu-central-1a", "public-1": "eu-central-1b"} {
		if z := strOf(get(one(t, c, subType, name).Inputs, "availabilityZone")); z != zone {
			t.Errorf("subnet %s moved to %s during the outage of eu-central-1a, want %s", name, z, zone)
		}
	}
}
