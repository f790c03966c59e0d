package upstreamcheck

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
	"os"
	"sync"
	"testing"
)

// Fixture is the upstream snapshot unpacked once into a temporary directory
// and shared by the tests of a process. Its zero value is ready; a test
// package keeps one, typically for TestMain to Close after m.Run:
//
//	var upstream upstreamcheck.Fixture
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		upstream.Close()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) { root := upstream.Root(t); ... }
type Fixture struct {
	once sync.Once
	dir  string // the temporary directory, removed by Close
	root string // the playbook inside it
	err  error
}

// Root returns the unpacked playbook's root, unpacking the snapshot (see
// snapshot.Path) on the first call. It fails the test when that fails, and when
// ansible-playbook is missing, since every use of the snapshot runs it.
func (f *Fixture) Root(t testing.TB) string {
	t.Helper()
	f.once.Do(func() { f.dir, f.root, f.err = unpackTemp() })
	if f.err != nil {
		t.Fatal(f.err)
	}
	requireAnsible(t)
	return f.root
}

// Close removes the unpacked snapshot, if any.
func (f *Fixture) Close() error {
	if f.dir == "" {
		return nil
	}
	if err := os.RemoveAll(f.dir); err != nil {
		return fmt.Errorf("upstreamcheck: %w", err)
	}
	return nil
}

// UnpackForTest unpacks the snapshot into a temporary directory of t,
// removed when t ends, and returns the playbook's root. For many tests, a
// shared Fixture unpacks once.
func UnpackForTest(t testing.TB) string {
	t.Helper()
	tarball, err := pinnedSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	root, err := snapshot.Unpack(tarball, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	requireAnsible(t)
	return root
}

func unpackTemp() (dir, root string, err error) {
	tarball, err := pinnedSnapshot()
	if err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp("", "upstreamcheck-snapshot-")
	if err != nil {
		return "", "", fmt.Errorf("upstreamcheck: %w", err)
	}
	root, err = snapshot.Unpack(tarball, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, root, nil
}

// pinnedSnapshot is the snapshot of the commit ansible/upstream.env pins.
func pinnedSnapshot() (string, error) {
	pin, err := ansible.LoadPin()
	if err != nil {
		return "", fmt.Errorf("upstreamcheck: %w", err)
	}
	return snapshot.Path(pin.Commit)
}

// requireAnsible fails the test, with the way to install it, when
// ansible-playbook is not on PATH: these tests are never skipped.
func requireAnsible(t testing.TB) {
	t.Helper()
	if _, err := lookAnsible(); err != nil {
		t.Fatal(err)
	}
}
