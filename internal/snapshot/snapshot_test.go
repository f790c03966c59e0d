package snapshot_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/snapshot"
)

// tarball writes a .tar.gz of entries into dir and returns its path.
func tarball(t *testing.T, dir string, entries ...tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = "content of " + h.Name
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dir(name string) tar.Header  { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
func file(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg} }
func link(name, target string) tar.Header {
	return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
}

func TestUnpack(t *testing.T) {
	tmp := t.TempDir()
	tb := tarball(t, tmp, dir("top/"), dir("top/a/"), file("top/a/f.yml"), file("top/b/g.yml"), link("top/l", "a/f.yml"))
	dest := filepath.Join(tmp, "out")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := snapshot.Unpack(tb, dest)
	if err != nil {
		t.Fatal(err)
	}
	if root != filepath.Join(dest, "top") {
		t.Fatalf("root %s", root)
	}
	for _, f := range []string{"a/f.yml", "b/g.yml", "l"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil || !strings.HasPrefix(string(data), "content of top/") {
			t.Errorf("%s: %q, %v", f, data, err)
		}
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	for name, entries := range map[string][]tar.Header{
		"parent path":            {dir("top/"), file("top/../../evil")},
		"absolute path":          {file("/tmp/evil")},
		"absolute link":          {dir("top/"), link("top/l", "/etc")},
		"link out":               {dir("top/"), link("top/l", "../../..")},
		"write through a link":   {dir("top/"), link("top/l", "."), file("top/l/evil")},
		"two top-level entries":  {dir("top/"), dir("other/")},
		"device":                 {dir("top/"), {Name: "top/dev", Typeflag: tar.TypeChar}},
		"hard link out":          {dir("top/"), {Name: "top/h", Typeflag: tar.TypeLink, Linkname: "../x"}},
		"existing file replaced": {dir("top/"), file("top/f"), file("top/f")},
	} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			tb := tarball(t, tmp, entries...)
			dest := filepath.Join(tmp, "out")
			if err := os.Mkdir(dest, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := snapshot.Unpack(tb, dest); err == nil {
				t.Fatal("Unpack did not fail")
			}
			if _, err := os.Lstat(filepath.Join(tmp, "evil")); err == nil {
				t.Fatal("wrote outside the destination")
			}
		})
	}
}

func TestPath(t *testing.T) {
	const commit = "c0681e4bc2d55df19056f3d3a7b997f9e7335890"
	tb := filepath.Join(t.TempDir(), "snap.tar.gz")
	if err := os.WriteFile(tb, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(snapshot.Env, tb)
	if got, err := snapshot.Path(commit); err != nil || got != tb {
		t.Fatalf("Path() = %q, %v; want %q", got, err, tb)
	}
	t.Setenv(snapshot.Env, tb+".missing")
	if _, err := snapshot.Path(commit); err == nil || !strings.Contains(err.Error(), snapshot.Env) {
		t.Fatalf("Path() with a missing file: %v", err)
	}
	// Without the variable: beside the repository, as in CI, named by the
	// commit.
	t.Setenv(snapshot.Env, "")
	got, err := snapshot.Path(commit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(filepath.ToSlash(got), "/shared/upstream/matrix-docker-ansible-deploy-c0681e4.tar.gz") {
		t.Fatalf("Path() = %s", got)
	}
	if _, err := snapshot.Path("0000000000000000000000000000000000000000"); err == nil {
		t.Error("a snapshot of another commit was found")
	}
}
