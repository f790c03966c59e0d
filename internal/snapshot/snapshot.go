// Package snapshot finds and unpacks the offline snapshot of the pinned
// upstream playbook (../shared/upstream/ beside the repository: the playbook
// with its external roles in roles/galaxy, as one tarball). Tests and the
// facts generator unpack it into a temporary directory; its contents are
// never committed.
package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Env names the environment variable that overrides where Path finds the
// tarball.
const Env = "MATRIX_UPSTREAM_SNAPSHOT"

// RepoRoot returns the nearest directory at or above dir holding go.mod.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("snapshot: no go.mod at or above %s, so no shared/upstream beside the repository (set %s)", dir, Env)
		}
	}
}

// Path returns the snapshot tarball of commit: the file named by
// $MATRIX_UPSTREAM_SNAPSHOT, else
// <repo root>/../shared/upstream/matrix-docker-ansible-deploy-<short commit>.tar.gz,
// the repo root found from the working directory. It fails, saying where
// it looked, when the file is absent.
func Path(commit string) (string, error) {
	path := os.Getenv(Env)
	if path == "" {
		if len(commit) < 7 {
			return "", fmt.Errorf("snapshot: commit %q is too short", commit)
		}
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("snapshot: %w", err)
		}
		root, err := RepoRoot(wd)
		if err != nil {
			return "", err
		}
		path = filepath.Join(filepath.Dir(root), "shared", "upstream", "matrix-docker-ansible-deploy-"+commit[:7]+".tar.gz")
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("snapshot: %s not found: put the upstream snapshot tarball there (shared/ beside the repository) or set %s", path, Env)
		}
		return "", fmt.Errorf("snapshot: %w", err)
	}
	return path, nil
}

// Unpack extracts the gzip-compressed tarball into dest, which must exist,
// and returns the playbook's root: the single top-level directory of the
// archive. It refuses entries that would land outside dest, symbolic and
// hard links whose target is absolute or leaves dest, and it never writes
// through a symbolic link it created, so a crafted archive cannot write
// elsewhere. Files keep their permission bits, without set-id bits.
func Unpack(tarball, dest string) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", fmt.Errorf("snapshot: unpack: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("snapshot: unpack %s: %w", tarball, err)
	}
	defer zr.Close()
	dest, err = filepath.Abs(dest)
	if err != nil {
		return "", fmt.Errorf("snapshot: unpack: %w", err)
	}
	top := ""
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("snapshot: unpack %s: %w", tarball, err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return "", fmt.Errorf("snapshot: unpack %s: %w", tarball, err)
		}
		if name == "." {
			continue
		}
		first, _, _ := strings.Cut(name, "/")
		if top == "" {
			top = first
		} else if first != top {
			return "", fmt.Errorf("snapshot: unpack %s: more than one top-level entry (%s, %s)", tarball, top, first)
		}
		if err := extract(tr, hdr, dest, name); err != nil {
			return "", fmt.Errorf("snapshot: unpack %s: %w", tarball, err)
		}
	}
	if top == "" {
		return "", fmt.Errorf("snapshot: unpack %s: empty archive", tarball)
	}
	root := filepath.Join(dest, top)
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("snapshot: unpack %s: top-level entry %s is not a directory", tarball, top)
	}
	return root, nil
}

// entryName returns the archive path cleaned and slash-separated, or an
// error when it is absolute or climbs out of the archive.
func entryName(raw string) (string, error) {
	name := filepath.ToSlash(filepath.Clean(filepath.FromSlash(raw)))
	if filepath.IsAbs(filepath.FromSlash(raw)) || !filepath.IsLocal(filepath.FromSlash(name)) && name != "." {
		return "", fmt.Errorf("entry %q leaves the destination", raw)
	}
	return name, nil
}

// extract writes one entry at dest/name.
func extract(r io.Reader, hdr *tar.Header, dest, name string) error {
	path := filepath.Join(dest, filepath.FromSlash(name))
	if err := mkdirNoLink(dest, filepath.Dir(path)); err != nil {
		return err
	}
	mode := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := mkdirNoLink(dest, path); err != nil {
			return err
		}
		// Owner-writable, so entries can be added below it.
		return os.Chmod(path, mode|0o700)
	case tar.TypeReg:
		return writeFile(path, r, mode)
	case tar.TypeSymlink:
		target := filepath.FromSlash(hdr.Linkname)
		if filepath.IsAbs(target) || !inside(dest, filepath.Join(filepath.Dir(path), target)) {
			return fmt.Errorf("symbolic link %s -> %s leaves the destination", name, hdr.Linkname)
		}
		return os.Symlink(target, path)
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %s: %w", name, err)
		}
		old := filepath.Join(dest, filepath.FromSlash(target))
		if err := noLinkInPath(dest, old); err != nil {
			return fmt.Errorf("hard link %s: %w", name, err)
		}
		return os.Link(old, path)
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("entry %s: unsupported type %q", name, hdr.Typeflag)
	}
}

// writeFile creates path, which must not exist yet, with r's content.
func writeFile(path string, r io.Reader, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// inside reports whether path, cleaned, is dest or below it.
func inside(dest, path string) bool {
	rel, err := filepath.Rel(dest, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// eachBelow calls visit with every directory entry on the way from dest
// down to path (dest itself excluded), in order, with its Lstat result; it
// refuses a path outside dest.
func eachBelow(dest, path string, visit func(p string, fi fs.FileInfo, err error) error) error {
	rel, err := filepath.Rel(dest, path)
	if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return fmt.Errorf("%s leaves the destination", path)
	}
	if rel == "." {
		return nil
	}
	p := dest
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err := visit(p, fi, err); err != nil {
			return err
		}
	}
	return nil
}

// mkdirNoLink creates the directories of path below dest that are missing,
// and fails when one that exists is not a directory (a symbolic link from
// the archive, say), so nothing is ever created through a link.
func mkdirNoLink(dest, path string) error {
	return eachBelow(dest, path, func(p string, fi fs.FileInfo, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return os.Mkdir(p, 0o755)
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("%s: %s is not a directory", path, p)
		}
		return nil
	})
}

// noLinkInPath fails when a component of path below dest is a symbolic link
// (or missing).
func noLinkInPath(dest, path string) error {
	return eachBelow(dest, path, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s goes through the symbolic link %s", path, p)
		}
		return nil
	})
}
