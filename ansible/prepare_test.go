package ansible_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPrepareSyntaxCheck(t *testing.T) {
	requireAnsible(t)
	cmd := exec.Command("ansible-playbook", "--syntax-check", "-i", "localhost,", "prepare.yml")
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "ANSIBLE_CONFIG=ansible.cfg")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-playbook --syntax-check prepare.yml: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "playbook: prepare.yml") {
		t.Errorf("unexpected syntax check output:\n%s", out)
	}
}

// The prepare tests attach a loop device, read it, and mount and unmount
// it: root's work. As root (.ci/run) the tools run directly; as another
// user (GitHub's runner) they run through sudo -n, which must not ask for a
// password. The playbook itself gets root the way it does on a real host:
// become, over ssh.

// sbinDirs hold the system tools, often not in a non-root user's PATH
// (Debian's default PATH for users has no /usr/sbin).
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// lookTool returns the path of a system tool: from PATH, else from sbinDirs.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		if p, perr := exec.LookPath(filepath.Join(dir, name)); perr == nil {
			return p, nil
		}
	}
	return "", err
}

// requireRootTools fails the test when a tool is missing, or when the test
// does not run as root and sudo cannot run a program as root without a
// password.
func requireRootTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := lookTool(tool); err != nil {
			t.Fatalf("%s not found: install util-linux, mount and e2fsprogs (apt-get install util-linux mount e2fsprogs)", tool)
		}
	}
	if os.Geteuid() == 0 {
		return
	}
	if out, err := exec.Command("sudo", "-n", "true").CombinedOutput(); err != nil {
		t.Fatalf("not root, and sudo -n does not run programs as root without a password (%v): %s\n"+
			"run the tests as root, or as a user with passwordless sudo (NOPASSWD), as GitHub's runners have", err, bytes.TrimSpace(out))
	}
}

// rootCommand returns a command running a system tool as root: directly
// when the test runs as root, through sudo -n otherwise.
func rootCommand(name string, args ...string) *exec.Cmd {
	path, err := lookTool(name)
	if err != nil {
		path = name // the command fails and says so
	}
	if os.Geteuid() == 0 {
		return exec.Command(path, args...)
	}
	return exec.Command("sudo", append([]string{"-n", "--", path}, args...)...)
}

// command runs a system tool as root (rootCommand) and returns its trimmed
// output.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := rootCommand(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// writeRootFile writes a file readable by all into a directory only root
// may write to: the root of the mounted filesystem.
func writeRootFile(t *testing.T, dir, path string, data []byte) {
	t.Helper()
	if os.Geteuid() == 0 {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	src, err := os.CreateTemp(dir, "content.")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(src.Name())
	if _, err := src.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	command(t, "install", "-m", "0644", "-T", "--", src.Name(), path)
}

// mountSource returns the device mounted at dir, "" when none.
func mountSource(t *testing.T, dir string) string {
	t.Helper()
	findmnt, err := lookTool("findmnt")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(findmnt, "--noheadings", "--output", "SOURCE", "--mountpoint", dir).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func swapInUse(t *testing.T, file string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/swaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && f[0] == file {
			return true
		}
	}
	return false
}

// TestPrepareMountsVolumeAndSwap runs prepare.yml through the wrapper over
// ssh against this machine, with a loop device over a file in the test's
// directory as the data volume, a mount point and an fstab there too, and
// a swap file on the volume. The real /etc/fstab is never touched.
func TestPrepareMountsVolumeAndSwap(t *testing.T) {
	requireRootTools(t, "losetup", "mkfs.ext4", "blkid", "findmnt", "mount", "umount", "swapon", "swapoff", "mkswap")
	r := newRig(t)
	r.writePin(t, "file:///unused", strings.Repeat("ab", 20), testCoreMin, "standin.fixture")

	image := filepath.Join(r.dir, "data.img")
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 64<<20); err != nil {
		t.Fatal(err)
	}
	device := command(t, "losetup", "--find", "--show", image)
	mountPoint := filepath.Join(r.dir, "matrix")
	swapFile := filepath.Join(mountPoint, "swapfile")
	fstab := filepath.Join(r.dir, "fstab")
	// Runs before the temporary directories are removed (cleanups run last
	// registered first).
	t.Cleanup(func() {
		if swapInUse(t, swapFile) {
			if out, err := rootCommand("swapoff", swapFile).CombinedOutput(); err != nil {
				t.Errorf("swapoff %s: %v\n%s", swapFile, err, out)
			}
		}
		if mountSource(t, mountPoint) != "" {
			if out, err := rootCommand("umount", mountPoint).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v\n%s", mountPoint, err, out)
			}
		}
		if out, err := rootCommand("losetup", "--detach", device).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", device, err, out)
		}
	})

	r.vars = map[string]any{
		"matrix_data_device":         device,
		"matrix_data_volume_id":      "vol-0123456789abcdef0", // not attached here: falls back to the device
		"matrix_data_device_timeout": 10,
		"matrix_data_mount_point":    mountPoint,
		"matrix_fstab_path":          fstab,
		"matrix_swap_file":           swapFile,
		"matrix_swap_size_mb":        16,
		// More than any test machine has: the swap file is wanted.
		"matrix_swap_min_ram_mb": 1 << 30,
	}
	prepare := func() (changed int) {
		t.Helper()
		res := r.run(t, nil, "--playbook", "prepare", "--tags", "prepare")
		if res.code != 0 {
			t.Fatalf("prepare failed with %d", res.code)
		}
		r.checkClean(t, res)
		_, changed = recap(t, res.output)
		return changed
	}

	// First run on a blank device: filesystem, fstab, mount, swap.
	if changed := prepare(); changed == 0 {
		t.Errorf("first run changed nothing")
	}
	if got := command(t, "blkid", "-p", "-o", "value", "-s", "TYPE", device); got != "ext4" {
		t.Fatalf("filesystem on %s is %q, want ext4", device, got)
	}
	uuid := command(t, "blkid", "-p", "-o", "value", "-s", "UUID", device)
	if got := mountSource(t, mountPoint); got != device {
		t.Errorf("%s is mounted from %q, want %s", mountPoint, got, device)
	}
	entries, err := os.ReadFile(fstab)
	if err != nil {
		t.Fatal(err)
	}
	wantVolume := "UUID=" + uuid + " " + mountPoint + " ext4 defaults,nofail 0 2"
	wantSwap := swapFile + " none swap sw 0 0"
	if got := strings.Split(strings.TrimSpace(string(entries)), "\n"); len(got) != 2 || got[0] != wantVolume || got[1] != wantSwap {
		t.Errorf("fstab:\n%s\nwant exactly:\n%s\n%s", entries, wantVolume, wantSwap)
	}
	if !swapInUse(t, swapFile) {
		t.Errorf("swap file %s is not in use", swapFile)
	}
	if info, err := os.Stat(swapFile); err != nil || info.Mode().Perm() != 0o600 || info.Size() != 16<<20 {
		t.Errorf("swap file: %v %v, want 16 MiB, mode 0600", info, err)
	}

	// Second run: nothing to do.
	if changed := prepare(); changed != 0 {
		t.Errorf("second run changed %d things, want 0", changed)
	}

	// After a reboot without the mount (here: unmounted by hand), the
	// volume is mounted again and keeps its data: never reformatted.
	keep := filepath.Join(mountPoint, "kept")
	// The filesystem's root belongs to root: written as root.
	writeRootFile(t, r.dir, keep, []byte("data"))
	command(t, "swapoff", swapFile)
	command(t, "umount", mountPoint)
	if changed := prepare(); changed == 0 {
		t.Errorf("the run that remounted the volume changed nothing")
	}
	if data, err := os.ReadFile(keep); err != nil || string(data) != "data" {
		t.Errorf("data on the volume lost: %q %v", data, err)
	}
	if got := command(t, "blkid", "-p", "-o", "value", "-s", "UUID", device); got != uuid {
		t.Errorf("filesystem UUID changed from %s to %s: the volume was reformatted", uuid, got)
	}
	if !swapInUse(t, swapFile) {
		t.Errorf("swap file not in use again")
	}
	if changed := prepare(); changed != 0 {
		t.Errorf("fourth run changed %d things, want 0", changed)
	}

	// The volume grew (matrix:dataVolumeGiB) while the host was stopped:
	// the filesystem follows before it is mounted, with its data. (Growing
	// a mounted one needs the resize ioctl, which this test sandbox denies;
	// on EC2 prepare grows it online, see prepare.yml.)
	before := fsSize(t, mountPoint)
	command(t, "swapoff", swapFile)
	command(t, "umount", mountPoint)
	if err := os.Truncate(image, 128<<20); err != nil {
		t.Fatal(err)
	}
	command(t, "losetup", "--set-capacity", device)
	if changed := prepare(); changed == 0 {
		t.Errorf("the run after the volume grew changed nothing")
	}
	if after := fsSize(t, mountPoint); after < before+48<<20 {
		t.Errorf("filesystem is %d bytes after the volume grew from 64 to 128 MiB (was %d)", after, before)
	}
	if data, err := os.ReadFile(keep); err != nil || string(data) != "data" {
		t.Errorf("data lost while growing: %q %v", data, err)
	}
	if changed := prepare(); changed != 0 {
		t.Errorf("run after growing changed %d things, want 0", changed)
	}
}

// fsSize is the size of the filesystem mounted at dir, in bytes.
func fsSize(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * uint64(st.Bsize)
}

// TestPrepareRefusesToHideFiles: files written at the mount point before the
// volume was mounted would disappear under it; prepare stops instead.
func TestPrepareRefusesToHideFiles(t *testing.T) {
	requireRootTools(t, "losetup", "findmnt", "umount")
	r := newRig(t)
	r.writePin(t, "file:///unused", strings.Repeat("ab", 20), testCoreMin, "standin.fixture")
	image := filepath.Join(r.dir, "data.img")
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 16<<20); err != nil {
		t.Fatal(err)
	}
	device := command(t, "losetup", "--find", "--show", image)
	t.Cleanup(func() {
		if out, err := rootCommand("losetup", "--detach", device).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", device, err, out)
		}
	})
	mountPoint := filepath.Join(r.dir, "matrix")
	if err := os.MkdirAll(filepath.Join(mountPoint, "postgres"), 0o700); err != nil {
		t.Fatal(err)
	}
	r.vars = map[string]any{
		"matrix_data_device":      device,
		"matrix_data_mount_point": mountPoint,
		"matrix_fstab_path":       filepath.Join(r.dir, "fstab"),
		"matrix_swap_size_mb":     0,
	}
	res := r.run(t, nil, "--playbook", "prepare", "--tags", "prepare")
	if res.code == 0 {
		t.Fatalf("prepare mounted over a non-empty %s", mountPoint)
	}
	r.checkClean(t, res)
	if !strings.Contains(res.output, "already holds files") {
		t.Errorf("the failure does not say why")
	}
	if got := mountSource(t, mountPoint); got != "" {
		_ = rootCommand("umount", mountPoint).Run()
		t.Errorf("%s got mounted from %s", mountPoint, got)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "fstab")); err == nil {
		t.Errorf("fstab written although prepare refused to mount")
	}
}
