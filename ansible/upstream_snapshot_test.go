package ansible

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// EnvUpstreamSnapshot names the snapshot tarball of the pinned upstream
// playbook for the tests; without it they look for
// <repository>/../shared/upstream/matrix-docker-ansible-deploy-<short SHA>.tar.gz.
const EnvUpstreamSnapshot = "MATRIX_UPSTREAM_SNAPSHOT"

// upstreamSnapshot returns the path of the snapshot tarball of the pinned
// commit, failing the test when there is none: the check it serves must not
// pass by being skipped.
func upstreamSnapshot(t *testing.T, pin Pin) string {
	t.Helper()
	if p := os.Getenv(EnvUpstreamSnapshot); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", EnvUpstreamSnapshot, err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory, and %s is not set", EnvUpstreamSnapshot)
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "upstream", "matrix-docker-ansible-deploy-"+pin.Commit[:7]+".tar.gz")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the snapshot of the pinned upstream commit is needed: %v (set %s to its path)", err, EnvUpstreamSnapshot)
	}
	return p
}

// readFromTarball returns the content of the file whose path inside the
// gzipped tarball, without its top directory, is name.
func readFromTarball(path, name string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no %s in it", path, name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		_, rest, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if ok && rest == name && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// galaxyFloor is a version requirement of collections/requirements.yml
// that REQUIRED_COLLECTIONS can express: a lowest version.
var galaxyFloor = regexp.MustCompile(`^>=\s*([0-9]+\.[0-9]+\.[0-9]+)$`)

// upstreamCollections parses collections/requirements.yml into the
// requirements REQUIRED_COLLECTIONS must hold.
func upstreamCollections(data []byte) ([]CollectionRequirement, error) {
	var doc struct {
		Collections []yaml.Node `yaml:"collections"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Collections) == 0 {
		return nil, errors.New("no collections listed")
	}
	var reqs []CollectionRequirement
	for _, n := range doc.Collections {
		var entry struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
			Source  string `yaml:"source"`
			Type    string `yaml:"type"`
		}
		if n.Kind == yaml.ScalarNode {
			entry.Name = n.Value
		} else if err := n.Decode(&entry); err != nil {
			return nil, err
		}
		if entry.Source != "" || (entry.Type != "" && entry.Type != "galaxy") {
			return nil, fmt.Errorf("%s: from %q (type %q), which the pin cannot express", entry.Name, entry.Source, entry.Type)
		}
		req := CollectionRequirement{Name: entry.Name}
		switch v := strings.TrimSpace(entry.Version); {
		case v == "" || v == "*":
		case galaxyFloor.MatchString(v):
			req.MinVersion = galaxyFloor.FindStringSubmatch(v)[1]
		default:
			return nil, fmt.Errorf("%s: version %q is not a lowest version (>=X.Y.Z), which is all REQUIRED_COLLECTIONS and run-playbook's check can express", entry.Name, v)
		}
		if _, err := ParseCollectionRequirement(req.String()); err != nil {
			return nil, err
		}
		reqs = append(reqs, req)
	}
	return reqs, nil
}

// TestPinMatchesUpstreamCollections: REQUIRED_COLLECTIONS is exactly what the
// pinned upstream's collections/requirements.yml asks for, the lowest
// versions included, so that moving the pin to a commit that needs more
// fails here rather than in the middle of a deployment.
func TestPinMatchesUpstreamCollections(t *testing.T) {
	pin, err := LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	snapshot := upstreamSnapshot(t, pin)
	data, err := readFromTarball(snapshot, "collections/requirements.yml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := upstreamCollections(data)
	if err != nil {
		t.Fatalf("%s: collections/requirements.yml: %v", snapshot, err)
	}
	got := pin.Collections()
	key := func(a, b CollectionRequirement) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	if !slices.Equal(got, want) {
		var specs []string
		for _, r := range want {
			specs = append(specs, r.String())
		}
		t.Errorf("REQUIRED_COLLECTIONS in %s = %v, but collections/requirements.yml of %s asks for %v: set REQUIRED_COLLECTIONS=%q",
			PinFile, got, filepath.Base(snapshot), want, strings.Join(specs, " "))
	}
}

func TestUpstreamCollectionsParsing(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []CollectionRequirement
		err        string
	}{
		{"names and floors", "collections:\n  - name: a.b\n  - name: c.d\n    version: '>=3.6.0'\n  - e.f\n", []CollectionRequirement{{Name: "a.b"}, {Name: "c.d", MinVersion: "3.6.0"}, {Name: "e.f"}}, ""},
		{"any version", "collections:\n  - name: a.b\n    version: '*'\n", []CollectionRequirement{{Name: "a.b"}}, ""},
		{"upper bound", "collections:\n  - name: a.b\n    version: '>=1.0.0,<2.0.0'\n", nil, "not a lowest version"},
		{"exact version", "collections:\n  - name: a.b\n    version: 1.0.0\n", nil, "not a lowest version"},
		{"from git", "collections:\n  - name: https://github.com/x/y.git\n    type: git\n", nil, "cannot express"},
		{"empty", "collections: []\n", nil, "no collections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := upstreamCollections([]byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
