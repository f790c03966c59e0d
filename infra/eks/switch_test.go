package eks_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
)

// TestTopologySwitchWithEKS: a stack holding data in another topology
// refuses eks, and a stack holding eks data refuses the others, unless
// confirmed, before declaring anything; an eks stack re-run over its own
// database and media volumes is not refused (the media volumes carry the
// snapshot tag the single topology's data volume has).
func TestTopologySwitchWithEKS(t *testing.T) {
	eksTags := map[string]string{"Name": "matrix-test-db", infra.TopologyTag: "eks"}
	eksData := mock.Existing{
		DBs: []mock.ExistingDB{{ID: "matrix-test", Tags: eksTags}},
		Volumes: []mock.ExistingVolume{{ID: "vol-0123456789abcdef0", Tags: map[string]string{
			infra.SnapshotTag: "matrix-test", "CSIVolumeName": "pvc-1",
		}}},
	}
	haData := mock.Existing{DBInstances: []string{"matrix-test"}} // before the topology tag
	haTagged := mock.Existing{DBs: []mock.ExistingDB{{ID: "matrix-test", Tags: map[string]string{"Name": "matrix-test-db", infra.TopologyTag: "ha"}}}}
	singleData := mock.Existing{Volumes: []mock.ExistingVolume{{ID: "vol-0fedcba987654321f", Tags: map[string]string{
		infra.SnapshotTag: "matrix-test", "Name": "matrix-test-data",
	}}}}
	eks, ha, single := synth.ExampleEKSConfig(), synth.ExampleHAConfig(), synth.ExampleConfig()
	for _, dryRun := range []bool{true, false} {
		for _, tc := range []struct {
			name     string
			raw      map[string]string
			existing mock.Existing
			refused  string // the topology whose data is found; "" when the run succeeds
		}{
			{"eks staying eks", eks, eksData, ""},
			{"eks over ha data", eks, haData, "ha"},
			{"eks over tagged ha data", eks, haTagged, "ha"},
			{"eks over single data", eks, singleData, "single"},
			{"ha over eks data", ha, eksData, "eks"},
			{"single over eks data", single, eksData, "eks"},
			{"ha staying ha", ha, haTagged, ""},
			{"eks confirmed", with(eks, "matrix:allowTopologyChange", "true"), haData, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := mock.New(synth.DefaultZones(infra.Config{Domain: "example.org"}))
				c.SetExisting(tc.existing)
				_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: tc.raw, DryRun: dryRun, Cloud: c})
				if tc.refused == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var ce *infra.ConfigError
				want := "this stack already holds data in the " + tc.refused + " topology"
				if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "matrix:topology" || !strings.Contains(ce.Problems[0].String(), want) {
					t.Fatalf("error:\n%v\nwant one matrix:topology problem saying %q", err, want)
				}
				for _, r := range c.Resources() {
					if !strings.HasPrefix(r.Type, "pulumi:") {
						t.Errorf("declared %s %s before refusing", r.Type, r.Name)
					}
				}
			})
		}
	}
}

// TestDataCarriesItsTopology: what the switch check tells ha's and eks's
// databases apart by is declared, and the eks media volumes do not carry
// the Name of the single topology's data volume.
func TestDataCarriesItsTopology(t *testing.T) {
	for _, raw := range []map[string]string{synth.ExampleEKSConfig(), synth.ExampleHAConfig()} {
		res := run(t, raw)
		topology := string(res.Homeserver.Config.Topology)
		db := find(t, res.Cloud, "aws:rds/instance:Instance", "db")
		if got := db.Inputs["tags"].ObjectValue()[infra.TopologyTag]; !got.IsString() || got.StringValue() != topology {
			t.Errorf("%s database tag %s = %v", topology, infra.TopologyTag, got)
		}
	}
	sc := find(t, run(t, synth.ExampleEKSConfig()).Cloud, "kubernetes:storage.k8s.io/v1:StorageClass", "gp3-retain")
	var tags []string
	for k, v := range sc.Inputs["parameters"].ObjectValue() {
		if strings.HasPrefix(string(k), "tagSpecification_") {
			tags = append(tags, v.StringValue())
		}
	}
	if !slices.Contains(tags, infra.SnapshotTag+"=matrix-test") || slices.ContainsFunc(tags, func(s string) bool { return strings.HasPrefix(s, "Name=") }) {
		t.Errorf("media StorageClass tags %v: want the snapshot tag and no Name", tags)
	}
}

func with(raw map[string]string, kv ...string) map[string]string {
	out := maps.Clone(raw)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
