package synth

import (
	"testing"

	"github.com/matrix-on-aws/homeserver/infra/ha"
)

// TestStacksWithRecoveryKeysRender: a stack whose configuration names a
// snapshot or a restore renders offline (synth, cost) as it is deployed,
// and the restored database is the one declared.
func TestStacksWithRecoveryKeysRender(t *testing.T) {
	for _, raw := range []map[string]string{
		ExampleConfig("matrix:dataVolumeSnapshotId", "snap-0123456789abcdef0", "matrix:availabilityZone", "eu-central-1b"),
		ExampleHAConfig("matrix:dbRestore", `{"time":"2026-01-02T03:04:05Z","sourceDbInstanceIdentifier":"matrix-old"}`),
	} {
		for _, dryRun := range []bool{true, false} {
			res, err := Run(Options{Project: "matrix", Stack: "test", Config: raw, DryRun: dryRun})
			if err != nil {
				t.Fatalf("%v (preview %v): %v", raw, dryRun, err)
			}
			if _, ok := res.Homeserver.Layout.(*ha.HA); ok {
				if got := res.Outputs["databaseIdentifier"].Value; got == "matrix-test" || got == nil {
					t.Errorf("databaseIdentifier %v: not the restored instance", got)
				}
			}
		}
	}
}
