// Package dendritetest runs a real Dendrite homeserver for tests: it builds
// the version pinned in tools/dendrite once into the user's cache directory
// and starts instances on loopback ports with TLS from a test CA.
package dendritetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// Version is the Dendrite version pinned in tools/dendrite/go.mod.
const Version = "v0.15.2"

const dendritePkg = "github.com/element-hq/dendrite/cmd/dendrite"

// Binary returns the path of the pinned Dendrite binary, building it on
// first use. Builds are cached under the user cache directory, keyed by
// the tools module's go.mod and go.sum and the Go toolchain; a lock file
// makes concurrent test processes wait for one build.
func Binary() (string, error) {
	toolsDir, err := findToolsDir()
	if err != nil {
		return "", err
	}
	key, err := cacheKey(toolsDir)
	if err != nil {
		return "", err
	}
	dir, err := cacheDir(key)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dendrite")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	unlock, err := lock(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another process while we waited
	}
	return bin, build(toolsDir, bin)
}

// findToolsDir walks up from the working directory to the module root
// holding tools/dendrite/go.mod.
func findToolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, "tools", "dendrite")
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dendritetest: tools/dendrite/go.mod not found above the working directory")
		}
		dir = parent
	}
}

func cacheKey(toolsDir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(toolsDir, name))
		if err != nil {
			return "", fmt.Errorf("dendritetest: %w", err)
		}
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func cacheDir(key string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "matrix-on-aws", "dendrite-"+Version, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dendritetest: %w", err)
	}
	return dir, nil
}

// lock takes an exclusive lock on path, waiting for other holders.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dendritetest: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("dendritetest: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// build compiles Dendrite inside its tools module and moves the binary
// into place atomically.
func build(toolsDir, bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("dendritetest: building Dendrite needs the go command in PATH: %w", err)
	}
	tmp := bin + ".tmp"
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp, dendritePkg)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dendritetest: go build %s in %s: %w\n%s", dendritePkg, toolsDir, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return fmt.Errorf("dendritetest: %w", err)
	}
	return nil
}
