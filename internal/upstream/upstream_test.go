package upstream

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
)

// snapshot unpacks the pinned snapshot once for the whole test binary.
var fixture struct {
	once sync.Once
	dir  string // temporary directory TestMain removes
	root string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// unpacked returns the unpacked pinned snapshot, failing the test (never
// skipping it) when the tarball is not where CI puts it.
func unpacked(t *testing.T) string {
	t.Helper()
	fixture.once.Do(func() {
		pin, err := ansible.LoadPin()
		if err != nil {
			fixture.err = err
			return
		}
		tarball, err := snapshot.Path(pin.Commit)
		if err != nil {
			fixture.err = err
			return
		}
		if fixture.dir, err = os.MkdirTemp("", "upstream-test-"); err != nil {
			fixture.err = err
			return
		}
		fixture.root, fixture.err = snapshot.Unpack(tarball, fixture.dir)
	})
	if fixture.err != nil {
		t.Fatalf("upstream snapshot: %v", fixture.err)
	}
	return fixture.root
}

func load(t *testing.T) Facts {
	t.Helper()
	f, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFactsFileIsCurrent keeps facts.json in sync with the pinned snapshot:
// after moving the pin, run go run ./cmd/upstreamvars --write.
func TestFactsFileIsCurrent(t *testing.T) {
	pin, err := ansible.LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Generate(unpacked(t), pin.Commit)
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embedded, want) {
		t.Fatalf("%s differs from the pinned snapshot at line %d: regenerate it with go run ./cmd/upstreamvars --write",
			FactsFile, firstDifferentLine(embedded, want))
	}
	if l := load(t); l.Commit != pin.Commit {
		t.Errorf("facts are of commit %s, the pin is %s", l.Commit, pin.Commit)
	}
}

func firstDifferentLine(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func TestLoadedFactsRoundTrip(t *testing.T) {
	data, err := load(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, embedded) {
		t.Errorf("Load then Marshal changes the file at line %d", firstDifferentLine(embedded, data))
	}
}

func TestKnownReplacementClosest(t *testing.T) {
	f := load(t)
	if !f.Known("ntfy_enabled") {
		t.Error("ntfy_enabled is not known")
	}
	if f.Known("ntfy_enable") {
		t.Error("ntfy_enable is known")
	}
	old, want := "matrix_vars_yml_snapshotting_enabled", "devture_playbook_state_preserver_vars_preservation_enabled"
	if got, ok := f.Replacement(old); !ok || got != want {
		t.Errorf("Replacement(%s) = %q, %v; want %q", old, got, ok, want)
	}
	if f.Known(old) {
		t.Errorf("%s is known although renamed", old)
	}
	// A family refused by a varnames pattern, not by an {old, new} item.
	if got, ok := f.Replacement("matrix_postgres_connection_password"); !ok || !strings.Contains(got, "postgres") {
		t.Errorf("Replacement(matrix_postgres_connection_password) = %q, %v", got, ok)
	}
	if _, ok := f.Replacement("ntfy_enabled"); ok {
		t.Error("ntfy_enabled has a replacement")
	}
	if got := f.Closest("ntfy_enable"); got != "ntfy_enabled" {
		t.Errorf("Closest(ntfy_enable) = %q", got)
	}
	if got := f.Closest("zzzz_qqqq_xxxx_wwww"); got != "" {
		t.Errorf("Closest of nonsense = %q, want none", got)
	}
}

func findService(t *testing.T, f Facts, name string) Service {
	t.Helper()
	i := slices.IndexFunc(f.Services(), func(s Service) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("no service %s", name)
	}
	return f.Services()[i]
}

func TestServices(t *testing.T) {
	f := load(t)
	ntfy := findService(t, f, "ntfy")
	if ntfy.DefaultLabel != "ntfy" || ntfy.HostnameVar != "ntfy_hostname" || ntfy.EnabledVar != "ntfy_enabled" || ntfy.EnabledDefault != false {
		t.Errorf("ntfy: %+v", ntfy)
	}
	if g := findService(t, f, "grafana"); g.DefaultLabel != "stats" || g.FqnVar != "matrix_server_fqn_grafana" {
		t.Errorf("grafana: %+v", g)
	}
	for _, name := range []string{"etherpad", "jitsi", "element"} {
		s := findService(t, f, name)
		if !f.Known(s.HostnameVar) || !f.Known(s.EnabledVar) {
			t.Errorf("%s: variables not known upstream: %+v", name, s)
		}
	}
	if e := findService(t, f, "element"); e.EnabledVar != "matrix_client_element_enabled" {
		t.Errorf("element: %+v", e)
	}
}

// TestServicesCoverEveryFqn counts the matrix_server_fqn_* defaults in the
// snapshot itself: each is a service or a documented exclusion.
func TestServicesCoverEveryFqn(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(unpacked(t), baseDefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(data, &defaults); err != nil {
		t.Fatal(err)
	}
	var fqns []string
	for k := range defaults {
		if strings.HasPrefix(k, "matrix_server_fqn_") {
			fqns = append(fqns, k)
		}
	}
	f := load(t)
	if got, want := len(f.Services()), len(fqns)-len(f.Excluded); got != want {
		t.Errorf("%d services, want %d (%d fqn defaults - %d excluded)", got, want, len(fqns), len(f.Excluded))
	}
	for _, e := range f.Excluded {
		if !slices.Contains(fqns, e.FqnVar) || e.Reason == "" {
			t.Errorf("exclusion %+v is not an fqn default or has no reason", e)
		}
		if slices.ContainsFunc(f.Services(), func(s Service) bool { return s.FqnVar == e.FqnVar }) {
			t.Errorf("%s is both a service and excluded", e.FqnVar)
		}
	}
	for _, special := range []string{"matrix_server_fqn_matrix", "matrix_server_fqn_matrix_federation"} {
		if !slices.ContainsFunc(f.Excluded, func(e Exclusion) bool { return e.FqnVar == special }) {
			t.Errorf("%s is not excluded", special)
		}
	}
	if !slices.Contains(f.OnMatrixHost, "coturn_hostname") {
		t.Errorf("coturn_hostname (set to matrix_server_fqn_matrix) is not in onMatrixHost: %v", f.OnMatrixHost)
	}
}

func TestPorts(t *testing.T) {
	f := load(t)
	has := func(service, proto string, from, to int) bool {
		return slices.ContainsFunc(f.Ports, func(p Port) bool {
			return p.Service == service && p.Protocol == proto && p.From == from && p.To == to
		})
	}
	for _, c := range []struct {
		service, proto string
		from, to       int
	}{
		{"coturn", "tcp", 3478, 3478}, {"coturn", "udp", 3478, 3478},
		{"coturn", "tcp", 5349, 5349}, {"coturn", "udp", 5349, 5349},
		{"jitsi", "udp", 10000, 10000},
		{"livekit_server", "tcp", 7881, 7881}, {"livekit_server", "udp", 7882, 7882},
	} {
		if !has(c.service, c.proto, c.from, c.to) {
			t.Errorf("no %s %s port %d-%d", c.service, c.proto, c.from, c.to)
		}
	}
	relay := slices.IndexFunc(f.Ports, func(p Port) bool {
		return p.Service == "coturn" && p.Protocol == "udp" && p.To > p.From
	})
	if relay < 0 {
		t.Fatal("no coturn UDP relay range")
	}
	if p := f.Ports[relay]; !slices.Equal(p.Variables, []string{"coturn_turn_udp_min_port", "coturn_turn_udp_max_port"}) {
		t.Errorf("coturn relay range from %v", p.Variables)
	}
}

// writeTree writes files (path -> content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestGenerateSynthetic checks the extraction rules on a tree small enough
// to read: a renamed name still defined is refused, set_fact patterns are
// followed, and the fqn join uses group_vars over role defaults.
func TestGenerateSynthetic(t *testing.T) {
	root := writeTree(t, map[string]string{
		"group_vars/matrix_servers": `
foo_enabled: false
foo_hostname: "{{ matrix_server_fqn_foo }}"
bar_hostname: "{{ matrix_server_fqn_matrix }}"
baz_hostname: "baz.{{ matrix_domain }}"
`,
		baseDefaultFile: `
matrix_server_fqn_matrix: "matrix.{{ matrix_domain }}"
matrix_server_fqn_matrix_federation: "{{ matrix_server_fqn_matrix }}"
matrix_server_fqn_foo: "f.{{ matrix_domain }}"
matrix_server_fqn_unused: "unused.{{ matrix_domain }}"
`,
		"roles/galaxy/foo/defaults/main.yml": "foo_enabled: true\nfoo_hostname: ''\nold_name: 1\nnew_name: 2\n",
		"roles/custom/matrix_playbook_migration/tasks/validate_config.yml": `
- name: renamed
  ansible.builtin.fail:
    msg: "rename {{ item.old }}"
  when: "lookup('ansible.builtin.varnames', ('^' + item.old + '$'), wantlist=True) | length > 0"
  with_items:
    - {'old': 'old_name', 'new': 'new_name'}
- name: removed
  ansible.builtin.fail:
    msg: >-
      Drop {{ item }}.

      It is gone.
  with_items:
    - removed_name
  when: "lookup('ansible.builtin.varnames', ('^' + item + '$'), wantlist=True) | length > 0"
- block:
    - ansible.builtin.set_fact:
        gone_vars: "{{ lookup('ansible.builtin.varnames', '^gone_.+', wantlist=True) }}"
    - name: gone
      ansible.builtin.fail:
        msg: |-
          The gone role was removed.

          Details: {{ gone_vars }}
      when: "gone_vars | length > 0"
`,
	})
	f, err := Generate(root, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if f.Known("old_name") || !f.Defined("old_name") || !slices.Equal(f.RenamedAndDefined, []string{"old_name"}) {
		t.Errorf("old_name: known %v, defined %v, renamedAndDefined %v", f.Known("old_name"), f.Defined("old_name"), f.RenamedAndDefined)
	}
	if got, ok := f.Replacement("removed_name"); !ok || got != "Drop removed_name. It is gone." {
		t.Errorf("Replacement(removed_name) = %q, %v", got, ok)
	}
	if got, ok := f.Replacement("gone_x"); !ok || got != "The gone role was removed." {
		t.Errorf("Replacement(gone_x) = %q, %v", got, ok)
	}
	want := []Service{{Name: "foo", FqnVar: "matrix_server_fqn_foo", DefaultLabel: "f", HostnameVar: "foo_hostname", EnabledVar: "foo_enabled", EnabledDefault: false}}
	if !slices.Equal(f.Services(), want) {
		t.Errorf("services %+v, want %+v", f.Services(), want)
	}
	if len(f.Excluded) != 3 || !slices.Equal(f.OnMatrixHost, []string{"bar_hostname"}) {
		t.Errorf("excluded %+v, onMatrixHost %v", f.Excluded, f.OnMatrixHost)
	}
	if len(f.OtherHostnames) != 1 || f.OtherHostnames[0].HostnameVar != "baz_hostname" {
		t.Errorf("otherHostnames %+v", f.OtherHostnames)
	}
}

func TestGenerateWithoutGalaxyRoles(t *testing.T) {
	root := writeTree(t, map[string]string{"roles/custom/x/defaults/main.yml": "x: 1\n"})
	if _, err := Generate(root, "abc"); err == nil || !strings.Contains(err.Error(), "roles/galaxy") {
		t.Errorf("err %v", err)
	}
}
