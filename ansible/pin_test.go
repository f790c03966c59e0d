package ansible

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestLoadPin(t *testing.T) {
	p, err := LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	want := Pin{
		Repo:                "https://github.com/spantaleev/matrix-docker-ansible-deploy.git",
		Commit:              "c0681e4bc2d55df19056f3d3a7b997f9e7335890",
		MigrationVersion:    "v2026.05.18.0",
		AnsibleCoreMin:      "2.15.1",
		RequiredCollections: []string{"community.general", "community.docker>=3.6.0"},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("LoadPin() = %+v, want %+v", p, want)
	}
}

const validPin = `# comment
UPSTREAM_REPO=file:///tmp/upstream
UPSTREAM_COMMIT=0123456789abcdef0123456789abcdef01234567

MIGRATION_VERSION=v2026.05.18.0
ANSIBLE_CORE_MIN=2.15
REQUIRED_COLLECTIONS="a.b c_d.e_f>=1.20.3"
`

func TestParsePinValid(t *testing.T) {
	p, err := ParsePin([]byte(validPin))
	if err != nil {
		t.Fatal(err)
	}
	if p.Repo != "file:///tmp/upstream" || p.AnsibleCoreMin != "2.15" || !slices.Equal(p.RequiredCollections, []string{"a.b", "c_d.e_f>=1.20.3"}) {
		t.Errorf("ParsePin = %+v", p)
	}
	if got, want := p.Collections(), []CollectionRequirement{{Name: "a.b"}, {Name: "c_d.e_f", MinVersion: "1.20.3"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Collections() = %+v, want %+v", got, want)
	}
	again, err := ParsePin(p.Env())
	if err != nil {
		t.Fatalf("ParsePin(Env()): %v\n%s", err, p.Env())
	}
	if !reflect.DeepEqual(again, p) {
		t.Errorf("round trip through Env: %+v, want %+v", again, p)
	}
}

// pinErrorCases are pins that must be rejected, with a word the error must
// contain. The shell parser in run-playbook is held to the same cases.
var pinErrorCases = []struct {
	name, pin, want string
}{
	{"unknown key", validPin + "EXTRA=1\n", "unknown key EXTRA"},
	{"missing key", strings.Replace(validPin, "ANSIBLE_CORE_MIN=2.15\n", "", 1), "ANSIBLE_CORE_MIN missing"},
	{"key twice", validPin + "UPSTREAM_REPO=file:///other\n", "UPSTREAM_REPO set twice"},
	{"short SHA", strings.Replace(validPin, "01234567\n", "0123456\n", 1), "UPSTREAM_COMMIT"},
	{"upper-case SHA", strings.Replace(validPin, "abcdef0123", "ABCDEF0123", 1), "UPSTREAM_COMMIT"},
	{"branch instead of SHA", strings.Replace(validPin, "0123456789abcdef0123456789abcdef01234567", "master", 1), "UPSTREAM_COMMIT"},
	{"shell substitution", strings.Replace(validPin, "file:///tmp/upstream", "$(id)", 1), "characters a pin does not allow"},
	{"unquoted space", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, "a.b c_d.e_f", 1), "characters a pin does not allow"},
	{"single quotes", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, "'a.b'", 1), "characters a pin does not allow"},
	{"bad migration version", strings.Replace(validPin, "v2026.05.18.0", "2026.05.18", 1), "MIGRATION_VERSION"},
	{"bad core version", strings.Replace(validPin, "=2.15\n", "=latest\n", 1), "ANSIBLE_CORE_MIN"},
	{"bad collection", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, `"a.b general"`, 1), "REQUIRED_COLLECTIONS"},
	{"collection version unquoted", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, "c_d.e_f>=1.20.3", 1), "characters a pin does not allow"},
	{"collection version with two parts", strings.Replace(validPin, ">=1.20.3", ">=1.20", 1), "REQUIRED_COLLECTIONS"},
	{"collection version not a floor", strings.Replace(validPin, ">=1.20.3", "==1.20.3", 1), "REQUIRED_COLLECTIONS"},
	{"collection version greater than", strings.Replace(validPin, ">=1.20.3", ">1.20.3", 1), "REQUIRED_COLLECTIONS"},
	{"collection version with spaces", strings.Replace(validPin, ">=1.20.3", " >= 1.20.3", 1), "REQUIRED_COLLECTIONS"},
	{"collection version alone", strings.Replace(validPin, "c_d.e_f>=1.20.3", ">=1.20.3", 1), "REQUIRED_COLLECTIONS"},
	{"collection twice", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, `"a.b c_d.e_f c_d.e_f>=1.20.3"`, 1), "c_d.e_f listed twice"},
	{"no collection", strings.Replace(validPin, `"a.b c_d.e_f>=1.20.3"`, `""`, 1), "REQUIRED_COLLECTIONS"},
	{"empty repo", strings.Replace(validPin, "file:///tmp/upstream", "", 1), "UPSTREAM_REPO"},
	{"export prefix", strings.Replace(validPin, "UPSTREAM_REPO=", "export UPSTREAM_REPO=", 1), "want KEY=value"},
	{"spaces around =", strings.Replace(validPin, "ANSIBLE_CORE_MIN=", "ANSIBLE_CORE_MIN = ", 1), "want KEY=value"},
}

func TestParsePinErrors(t *testing.T) {
	for _, tc := range pinErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePin([]byte(tc.pin))
			if err == nil {
				t.Fatalf("ParsePin accepted:\n%s", tc.pin)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParsePinReportsAllProblems(t *testing.T) {
	_, err := ParsePin([]byte("UPSTREAM_REPO=x\nFOO=1\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"unknown key FOO", "UPSTREAM_COMMIT missing", "MIGRATION_VERSION missing", "ANSIBLE_CORE_MIN missing", "REQUIRED_COLLECTIONS missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// TestFilesAreTheTree: every file of this directory that a run uses is
// embedded and hashed; a new one must be added to the embed directive and
// to files.
func TestFilesAreTheTree(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".go") || name == "README.md" {
			t.Logf("not part of the tree: %s", name)
			continue
		}
		onDisk = append(onDisk, name)
	}
	if got := Files(); !slices.Equal(got, onDisk) {
		t.Errorf("Files() = %v, files in the directory = %v", got, onDisk)
	}
	if !slices.IsSorted(Files()) {
		t.Errorf("Files() not sorted: %v", Files())
	}
	for _, name := range Files() {
		embedded, err := ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(embedded) != string(disk) {
			t.Errorf("embedded %s differs from the file", name)
		}
	}
	if _, err := ReadFile("pin.go"); err == nil {
		t.Errorf("ReadFile serves a file outside the tree")
	}
}

func TestWrapperIsExecutable(t *testing.T) {
	info, err := os.Stat(Wrapper)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("%s has mode %v, want it executable by all", Wrapper, info.Mode().Perm())
	}
}

func TestTreeHash(t *testing.T) {
	got := TreeHash()
	if len(got) != 64 || strings.Trim(got, "0123456789abcdef") != "" {
		t.Fatalf("TreeHash() = %q, want 64 hex digits", got)
	}
	if TreeHash() != got {
		t.Errorf("TreeHash is not stable")
	}
	// The same hash computed from the files on disk, independently.
	h := sha256.New()
	for _, name := range []string{"ansible.cfg", "bootstrap-host", "prepare.yml", "run-playbook", "upstream.env"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	if want := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("TreeHash() = %s, want %s", got, want)
	}
}

// TestShellParsesPinsLikeGo holds run-playbook's own pin parser to the
// same cases as ParsePin.
func TestShellParsesPinsLikeGo(t *testing.T) {
	dir := t.TempDir()
	// A PATH with bash and dirname only: a pin that passes reaches the
	// controller checks, which fail at once without ansible-playbook.
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"bash", "dirname"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	wrapper, err := filepath.Abs(Wrapper)
	if err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(dir, "pin.env")
	run := func(t *testing.T, pin string) string {
		t.Helper()
		if err := os.WriteFile(pinFile, []byte(pin), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(wrapper, "--playbook", "prepare", "--tags", "prepare")
		cmd.Env = []string{
			"PATH=" + bin,
			"HOME=" + dir,
			EnvInventoryHostname + "=matrix.example.org",
			EnvInventoryHosts + "=[matrix_servers]",
			EnvSSHPrivateKey + "=unused",
			EnvSSHKnownHosts + "=unused",
			EnvPinFile + "=" + pinFile,
			EnvCacheDir + "=" + dir,
		}
		out, err := cmd.CombinedOutput()
		if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 1 {
			t.Fatalf("run-playbook: %v, want exit status 1\n%s", err, out)
		}
		return string(out)
	}

	t.Run("valid", func(t *testing.T) {
		out := run(t, validPin)
		if strings.Contains(out, pinFile) || !strings.Contains(out, "ansible-playbook not found") {
			t.Errorf("run-playbook rejected a valid pin:\n%s", out)
		}
	})
	t.Run("embedded", func(t *testing.T) {
		data, err := ReadFile(PinFile)
		if err != nil {
			t.Fatal(err)
		}
		if out := run(t, string(data)); strings.Contains(out, pinFile) {
			t.Errorf("run-playbook rejected upstream.env:\n%s", out)
		}
	})
	for _, tc := range pinErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, tc.pin)
			if !strings.Contains(out, "error: "+pinFile) || !strings.Contains(out, tc.want) {
				t.Errorf("run-playbook output does not reject the pin with %q:\n%s", tc.want, out)
			}
		})
	}
}
