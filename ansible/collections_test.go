package ansible_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

// TestCollectionVersions: the controller check holds the installed
// collections to the lowest versions of REQUIRED_COLLECTIONS, judging the
// copy ansible-playbook would load, and says how to install a recent enough
// one.
func TestCollectionVersions(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection, "community.docker>=3.6.0")
	const install = "ansible-galaxy collection install 'community.docker:>=3.6.0'\n"
	fixtures := r.collections

	// collectionDirs returns ANSIBLE_COLLECTIONS_PATH for the fixture
	// collection plus one directory per version given, each holding
	// community.docker at that version, in that order.
	collectionDirs := func(t *testing.T, versions ...string) (path string, dirs []string) {
		t.Helper()
		path = fixtures
		for _, v := range versions {
			dir := t.TempDir()
			upstreamtest.AddCollection(t, dir, "community.docker", v)
			dirs = append(dirs, filepath.Join(dir, "ansible_collections"))
			path += string(os.PathListSeparator) + dir
		}
		return path, dirs
	}
	tooOld := func(t *testing.T, res result, version, dir string) {
		t.Helper()
		if res.code != 1 {
			t.Fatalf("exit status %d, want 1", res.code)
		}
		want := "community.docker " + version + " in " + dir + " is too old, the playbook needs >= 3.6.0; install a newer one with: " + install
		if !strings.Contains(res.output, want) {
			t.Errorf("output does not say %q", want)
		}
		if strings.Contains(res.output, "running setup.yml") {
			t.Errorf("the playbook started")
		}
		r.checkClean(t, res)
	}
	passes := func(t *testing.T, res result) {
		t.Helper()
		if res.code != 0 {
			t.Fatalf("exit status %d, want 0", res.code)
		}
		if strings.Contains(res.output, "community.docker") {
			t.Errorf("the output mentions community.docker")
		}
		r.checkClean(t, res)
	}

	t.Run("too old", func(t *testing.T) {
		var dirs []string
		r.collections, dirs = collectionDirs(t, "3.5.0")
		tooOld(t, r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"), "3.5.0", dirs[0])
	})
	t.Run("missing", func(t *testing.T) {
		r.collections = fixtures
		res := r.run(t, nil, "--playbook", "upstream", "--tags", "self-check")
		if res.code != 1 || !strings.Contains(res.output, "community.docker is not installed; install it with: "+install) {
			t.Errorf("exit status %d, want 1 with the install command", res.code)
		}
		r.checkClean(t, res)
	})
	if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
		t.Errorf("tasks ran although a collection was too old or missing: %v", recs)
	}
	if _, err := os.Stat(filepath.Join(r.cacheDir, "upstream")); err == nil {
		t.Errorf("the upstream was fetched although a collection was too old or missing")
	}

	t.Run("exactly the lowest version", func(t *testing.T) {
		r.collections, _ = collectionDirs(t, "3.6.0")
		passes(t, r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"))
	})
	t.Run("newer, compared as numbers", func(t *testing.T) {
		// 3.10.0 is newer than 3.6.0, though not as a string.
		r.collections, _ = collectionDirs(t, "3.10.0")
		passes(t, r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"))
	})
	t.Run("an old copy behind the one ansible loads", func(t *testing.T) {
		r.collections, _ = collectionDirs(t, "4.0.0", "3.5.0")
		passes(t, r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"))
	})
	t.Run("an old copy in front of a new one", func(t *testing.T) {
		// Ansible loads the first copy in COLLECTIONS_PATHS: 3.5.0 here,
		// however new the one behind it is.
		var dirs []string
		r.collections, dirs = collectionDirs(t, "3.5.0", "4.0.0")
		tooOld(t, r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"), "3.5.0", dirs[0])
	})
	if got := recordTags(upstreamtest.Records(t, r.hostDir)); !slices.Equal(got, []string{"self-check", "self-check", "self-check"}) {
		t.Errorf("tags that ran = %v, want self-check for each run that passed the check", got)
	}
}
