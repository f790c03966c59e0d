package stackfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Stacks names the stack files only: not Pulumi.yaml, not other files.
func TestStacks(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml", "Pulumi.dev.yaml.bak", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dev", "prod"}; !slices.Equal(got, want) {
		t.Errorf("Stacks = %v, want %v", got, want)
	}
}
