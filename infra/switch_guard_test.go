package infra_test

import (
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
)

// TestTopologySwitch: a stack holding data in one topology refuses the
// other unless confirmed, before declaring anything.
func TestTopologySwitch(t *testing.T) {
	withData := func(e mock.Existing) *mock.Cloud {
		c := mock.New(map[string]string{"example.org": "Z0EXAMPLE"})
		c.SetExisting(e)
		return c
	}
	singleData := mock.Existing{Volumes: []mock.ExistingVolume{{ID: "vol-0123456789abcdef0", Tags: map[string]string{"matrix-snapshots": "matrix-test", "Name": "matrix-test-data"}}}}
	otherStack := mock.Existing{Volumes: []mock.ExistingVolume{{ID: "vol-0fedcba9876543210", Tags: map[string]string{"matrix-snapshots": "matrix-prod"}}}}
	haData := mock.Existing{DBInstances: []string{"matrix-test"}}
	for _, m := range modes {
		for _, tc := range []struct {
			name     string
			raw      map[string]string
			existing mock.Existing
			want     string // "" when the run succeeds
		}{
			{"ha over single data", haConfig(), singleData, `matrix:topology: this stack already holds data in the single topology: the single topology's data volume vol-0123456789abcdef0 (tag matrix-snapshots=matrix-test). Switching to ha would delete the host, its Elastic IP and the data volume (PostgreSQL and media under /matrix), and ha starts with an empty homeserver. Keep matrix:topology single, or move the data first (docs/topologies.md, "Switching topologies") and confirm with pulumi config set matrix:allowTopologyChange true`},
			{"single over ha data", config(), haData, `matrix:topology: this stack already holds data in the ha topology: the ha topology's RDS database matrix-test. Switching to single would delete the load balancer, the Auto Scaling Group, the RDS database and the media bucket, and single starts with an empty homeserver. Keep matrix:topology ha, or move the data first (docs/topologies.md, "Switching topologies") and confirm with pulumi config set matrix:allowTopologyChange true`},
			{"ha confirmed", haConfig("matrix:allowTopologyChange", "true"), singleData, ""},
			{"single confirmed", config("matrix:allowTopologyChange", "true"), haData, ""},
			{"another stack's volume", haConfig(), otherStack, ""},
			{"ha staying ha", haConfig(), haData, ""},
			{"single staying single", config(), singleData, ""},
		} {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				c := withData(tc.existing)
				_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: tc.raw, DryRun: m.DryRun, Cloud: c})
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				synthtest.RefusedBeforeDeclaring(t, err, c, tc.want)
			})
		}
	}
}
