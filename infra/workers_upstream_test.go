package infra_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/upstreamcheck"
	"gopkg.in/yaml.v3"
)

// TestWorkerPresetsMatchUpstream keeps the worker counts the memory rule
// uses equal to the pinned upstream's matrix_synapse_workers_presets.
func TestWorkerPresetsMatchUpstream(t *testing.T) {
	root := upstreamcheck.UnpackForTest(t)
	b, err := os.ReadFile(filepath.Join(root, "roles", "custom", "matrix-synapse", "defaults", "main.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var defaults struct {
		Presets map[string]map[string]int `yaml:"matrix_synapse_workers_presets"`
	}
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		t.Fatal(err)
	}
	for _, preset := range infra.WorkerPresetNames() {
		if preset == infra.WorkersNone {
			continue
		}
		counts, ok := defaults.Presets[preset]
		if !ok {
			t.Errorf("the pinned upstream has no preset %s", preset)
			continue
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		if got := infra.WorkerProcesses(preset); got != total {
			t.Errorf("%s: the program counts %d workers, the upstream's preset %d", preset, got, total)
		}
	}
}
