package infra

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func haWith(kv ...string) map[string]string {
	return with(append([]string{"matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]"}, kv...)...)
}

// TestRestoreAndZoneRejections names every rule of matrix:availabilityZone,
// matrix:dataVolumeSnapshotId and matrix:dbRestore with its exact message.
func TestRestoreAndZoneRejections(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want []string
	}{
		{"zone garbage", with("matrix:availabilityZone", "b"), []string{`matrix:availabilityZone: "b" is not an availability zone name such as eu-central-1a; remove the key for the first of the VPC's zones`}},
		{"zone of another region", with("matrix:availabilityZone", "eu-west-1b"), []string{`matrix:availabilityZone: "eu-west-1b" is a zone of eu-west-1, not of aws:region eu-central-1; use one of eu-central-1's zones such as eu-central-1b`}},
		{"zone in ha", haWith("matrix:availabilityZone", "eu-central-1b"), []string{"matrix:availabilityZone: is not used in the ha topology: its Auto Scaling Group spans both zones and replaces a host in the surviving one; remove it (pulumi config rm matrix:availabilityZone)"}},
		{"snapshot garbage", with("matrix:dataVolumeSnapshotId", "latest"), []string{`matrix:dataVolumeSnapshotId: "latest" is not an EBS snapshot ID such as snap-0123456789abcdef0 (aws ec2 describe-snapshots lists the stack's daily snapshots; see docs/runbook-zone-move.md)`}},
		{"snapshot in ha", haWith("matrix:dataVolumeSnapshotId", "snap-0123456789abcdef0"), []string{"matrix:dataVolumeSnapshotId: is not used in the ha topology: it has no data volume (PostgreSQL is on RDS, media on S3; see docs/runbook-ha-restore.md); remove it (pulumi config rm matrix:dataVolumeSnapshotId)"}},
		{"restore in single", with("matrix:dbRestore", `{"time":"latest"}`), []string{"matrix:dbRestore: is for the ha topology's RDS database; the single topology restores its data volume from a snapshot (docs/runbook-restore.md); remove it (pulumi config rm matrix:dbRestore)"}},
		{"restore not an object", haWith("matrix:dbRestore", `"latest"`), []string{`matrix:dbRestore: must be an object such as {time: "2026-11-22T17:30:00Z"} (pulumi config set --path 'matrix:dbRestore.time' 2026-11-22T17:30:00Z)`}},
		{"restore without time", haWith("matrix:dbRestore", `{"sourceDbInstanceIdentifier":"matrix-prod"}`), []string{"matrix:dbRestore: time is required: the moment to restore to, in RFC 3339 UTC (e.g. 2026-11-22T17:30:00Z), or latest for the latest restorable time"}},
		{"restore malformed time", haWith("matrix:dbRestore", `{"time":"2026-11-22 17:30"}`), []string{"matrix:dbRestore: time 2026-11-22 17:30 is not an RFC 3339 time such as 2026-11-22T17:30:00Z, nor latest"}},
		{"restore time not a string", haWith("matrix:dbRestore", `{"time":1764000000}`), []string{"matrix:dbRestore: time 1.764e+09 is not an RFC 3339 time such as 2026-11-22T17:30:00Z, nor latest"}},
		{"restore in the future", haWith("matrix:dbRestore", `{"time":"2999-01-01T00:00:00Z"}`), []string{"matrix:dbRestore: time 2999-01-01T00:00:00Z is in the future; pick a moment before the damage, or latest"}},
		{"restore bad source", haWith("matrix:dbRestore", `{"time":"latest","sourceDbInstanceIdentifier":"Matrix_Prod"}`), []string{"matrix:dbRestore: sourceDbInstanceIdentifier Matrix_Prod is not an RDS instance identifier such as matrix-prod (the databaseIdentifier output); remove the field to restore from the stack's first database"}},
		{"restore field typo", haWith("matrix:dbRestore", `{"time":"latest","sourceDbInstanceIdentifer":"matrix-prod"}`), []string{`matrix:dbRestore: has an unknown field "sourceDbInstanceIdentifer"; did you mean sourceDbInstanceIdentifier?`}},
		{"every restore problem at once", haWith("matrix:dbRestore", `{"time":"yesterday","sourceDbInstanceIdentifier":"-x","keepOldInstance":true}`), []string{
			`matrix:dbRestore: has an unknown field "keepOldInstance"; the fields are time and sourceDbInstanceIdentifier`,
			"matrix:dbRestore: sourceDbInstanceIdentifier -x is not an RDS instance identifier such as matrix-prod (the databaseIdentifier output); remove the field to restore from the stack's first database",
			"matrix:dbRestore: time yesterday is not an RFC 3339 time such as 2026-11-22T17:30:00Z, nor latest",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range problemsOf(t, tc.raw) {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRestoreAndZoneAccepted(t *testing.T) {
	cfg, err := ParseConfig(with("matrix:availabilityZone", " EU-Central-1b ", "matrix:dataVolumeSnapshotId", "snap-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AvailabilityZone != "eu-central-1b" || cfg.DataVolumeSnapshotID != "snap-0123456789abcdef0" || cfg.DBRestore != nil {
		t.Errorf("single: %q %q %v", cfg.AvailabilityZone, cfg.DataVolumeSnapshotID, cfg.DBRestore)
	}
	cfg, err = ParseConfig(haWith("matrix:dbRestore", `{"time":"2026-11-22T18:30:00+01:00","sourceDbInstanceIdentifier":"matrix-prod-pitr-0a1b2c3d"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DBRestore{Source: "matrix-prod-pitr-0a1b2c3d", Time: time.Date(2026, 11, 22, 17, 30, 0, 0, time.UTC)}
	if cfg.DBRestore == nil || !reflect.DeepEqual(*cfg.DBRestore, want) {
		t.Errorf("restore %+v, want %+v (times in UTC)", cfg.DBRestore, want)
	}
	cfg, err = ParseConfig(haWith("matrix:dbRestore", `{"time":"latest"}`))
	if err != nil || cfg.DBRestore == nil || !cfg.DBRestore.Latest || cfg.DBRestore.Source != "" {
		t.Errorf("latest: %+v %v", cfg.DBRestore, err)
	}
}

// TestRestoredIdentifier: each restore gets an identifier of its own, valid
// for RDS, and the same configuration always names the same instance.
func TestRestoredIdentifier(t *testing.T) {
	at := DBRestore{Time: time.Date(2026, 11, 22, 17, 30, 0, 0, time.UTC)}
	a := RestoredIdentifier("matrix-prod", at, "matrix-prod")
	if a != RestoredIdentifier("matrix-prod", at, "matrix-prod") || !rdsIdentifierPattern.MatchString(a) {
		t.Errorf("identifier %q not stable or not valid", a)
	}
	later := at
	later.Time = later.Time.Add(time.Minute)
	seen := map[string]bool{a: true}
	for _, other := range []string{
		RestoredIdentifier("matrix-prod", later, "matrix-prod"),
		RestoredIdentifier("matrix-prod", DBRestore{Latest: true}, "matrix-prod"),
		RestoredIdentifier("matrix-prod", at, a),
	} {
		if seen[other] {
			t.Errorf("two restores share the identifier %q", other)
		}
		seen[other] = true
	}
	long := RestoredIdentifier("matrix-"+strings.Repeat("a", 55)+"-", at, "x")
	if len(long) > 63 || !rdsIdentifierPattern.MatchString(long) {
		t.Errorf("long identifier %q (%d characters)", long, len(long))
	}
}
