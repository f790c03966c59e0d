// Package upstreamtest builds, for tests, a stand-in for the upstream
// playbook: a local git repository with the same entry point (setup.yml on
// group matrix_servers with become), the same tags, and a requirements.yml
// whose one role comes from a second local git repository, so that
// ansible-galaxy installs it offline. The tasks only record on the host,
// under the directory in the variable standin_host_dir, which tags ran, as
// which user, and with which variables; the tag standin-derived (run only
// when asked for) shows secrets derived from
// matrix_homeserver_generic_secret_key with the upstream's own expressions,
// the last in a failing task, for the wrapper's redaction to mask.
//
// It needs git.
package upstreamtest

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

//go:embed standin
var standin embed.FS

const (
	// RoleName is the name the stand-in's role is installed under, in
	// roles/galaxy/ of the checkout.
	RoleName = "standin"
	// RoleVersion is the tag of the role repository requirements.yml pins.
	RoleVersion = "v1.0.0"
	// MigrationVersion is what the stand-in's migration gate expects in
	// matrix_playbook_migration_validated_version.
	MigrationVersion = "v2026.05.18.0"
	// Collection is the collection Collections installs.
	Collection = "standin.fixture"
)

// Upstream is the stand-in playbook's repository.
type Upstream struct {
	Dir     string // its work tree
	URL     string // file:// URL to clone it from
	Head    string // its latest commit
	RoleURL string // file:// URL of the role's repository
}

// New creates the role repository and the playbook repository in a
// temporary directory of the test.
func New(t testing.TB) *Upstream {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("upstreamtest: git not found (%v): install it, e.g. apt-get install git", err)
	}
	root := t.TempDir()
	roleDir := filepath.Join(root, "role")
	u := &Upstream{Dir: filepath.Join(root, "upstream")}
	u.RoleURL = "file://" + roleDir
	u.URL = "file://" + u.Dir

	copyTree(t, "standin/role", roleDir)
	initRepo(t, roleDir)
	git(t, roleDir, "add", "--all")
	git(t, roleDir, "commit", "--quiet", "-m", "Stand-in role")
	git(t, roleDir, "tag", RoleVersion)

	if err := os.MkdirAll(u.Dir, 0o755); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	setup, err := standin.ReadFile("standin/setup.yml")
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	writeFile(t, filepath.Join(u.Dir, "setup.yml"), setup)
	requirements, err := yaml.Marshal([]map[string]string{{
		"src":     "git+" + u.RoleURL,
		"version": RoleVersion,
		"name":    RoleName,
	}})
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	writeFile(t, filepath.Join(u.Dir, "requirements.yml"), requirements)
	// Installed roles are not part of the repository, as upstream.
	writeFile(t, filepath.Join(u.Dir, ".gitignore"), []byte("/roles/galaxy/\n"))
	initRepo(t, u.Dir)
	git(t, u.Dir, "add", "--all")
	git(t, u.Dir, "commit", "--quiet", "-m", "Stand-in playbook")
	u.Head = git(t, u.Dir, "rev-parse", "HEAD")
	return u
}

// NewCommit adds a commit to the playbook repository (a changelog line) and
// returns its SHA, which is also the new Head.
func (u *Upstream) NewCommit(t testing.TB, message string) string {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(u.Dir, "CHANGELOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	if _, err := fmt.Fprintln(f, message); err != nil {
		f.Close()
		t.Fatalf("upstreamtest: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	git(t, u.Dir, "add", "--all")
	git(t, u.Dir, "commit", "--quiet", "-m", message)
	u.Head = git(t, u.Dir, "rev-parse", "HEAD")
	return u.Head
}

// Collections creates, with ansible-galaxy, a collection directory holding
// the empty collection named Collection, and returns the directory to put
// in ANSIBLE_COLLECTIONS_PATH.
func Collections(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("ansible-galaxy", "collection", "init", Collection, "--init-path", filepath.Join(dir, "ansible_collections"))
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upstreamtest: ansible-galaxy collection init: %v\n%s", err, out)
	}
	return dir
}

// AddCollection installs, offline, an empty collection fqcn
// ("namespace.name") at version into the collection directory dir (a
// directory for ANSIBLE_COLLECTIONS_PATH, created when missing), the way
// ansible-galaxy collection install leaves one: a MANIFEST.json with its
// name and version, which is what ansible-galaxy collection list reports. An
// existing copy of fqcn in dir is replaced.
func AddCollection(t testing.TB, dir, fqcn, version string) {
	t.Helper()
	namespace, name, ok := strings.Cut(fqcn, ".")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ".") {
		t.Fatalf("upstreamtest: %q is not a namespace.name collection", fqcn)
	}
	collection := filepath.Join(dir, "ansible_collections", namespace, name)
	if err := os.RemoveAll(collection); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	if err := os.MkdirAll(collection, 0o755); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	manifest, err := json.Marshal(map[string]any{
		"collection_info": map[string]any{
			"namespace":    namespace,
			"name":         name,
			"version":      version,
			"authors":      []string{"upstreamtest"},
			"readme":       "README.md",
			"dependencies": map[string]string{},
		},
		"format": 1,
	})
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	writeFile(t, filepath.Join(collection, "MANIFEST.json"), manifest)
}

// Record is one line of the stand-in's tags.log.
type Record struct {
	Tag      string // the tag of the task that ran
	UID      string // the user id it ran as on the host
	SudoUser string // who called sudo, "none" without sudo
}

// Records reads what the stand-in recorded in hostDir (its
// standin_host_dir), in the order the tasks ran; none when nothing ran.
func Records(t testing.TB, hostDir string) []Record {
	t.Helper()
	path := filepath.Join(hostDir, "tags.log")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if os.IsPermission(err) && os.Geteuid() != 0 {
		// Written as root with a private umask (ansible_connection=local
		// inherits the wrapper's 077): read it as root.
		data, err = exec.Command("sudo", "-n", "cat", "--", path).Output()
	}
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	var records []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r Record
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("upstreamtest: malformed tags.log line %q", sc.Text())
		}
		r.Tag = fields[0]
		r.UID = strings.TrimPrefix(fields[1], "uid=")
		r.SudoUser = strings.TrimPrefix(fields[2], "sudo_user=")
		records = append(records, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("upstreamtest: read tags.log: %v", err)
	}
	return records
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	err := fs.WalkDir(standin, from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := standin.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("upstreamtest: copy %s: %v", from, err)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
}

func initRepo(t testing.TB, dir string) {
	t.Helper()
	git(t, dir, "init", "--quiet", "--initial-branch=main")
}

// git runs git in dir, isolated from the user's and the system's git
// configuration, and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=upstreamtest", "-c", "user.email=upstreamtest@example.invalid", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("upstreamtest: git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}
