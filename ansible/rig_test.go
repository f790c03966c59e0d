package ansible_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/sshtest"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

const (
	hostname   = "matrix.example.org"
	runTimeout = 3 * time.Minute
)

// requireAnsible fails the test when the controller tools are missing.
func requireAnsible(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ansible-playbook", "ansible-galaxy", "ansible-inventory", "git", "sudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: these tests run the real thing; install it, e.g. apt-get install ansible-core git sudo openssh-server openssh-client", tool)
		}
	}
}

func wrapperPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(ansible.Wrapper)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// rig is one host (a real sshd on 127.0.0.1) and everything the wrapper
// needs to provision it.
type rig struct {
	sshd        *sshtest.Server
	dir         string // the test's scratch directory
	hostDir     string // where the stand-in records what ran, on the "host"
	pinFile     string
	cacheDir    string
	tmpDir      string // TMPDIR of the wrapper: its temporary directory goes here
	home        string
	collections string // ANSIBLE_COLLECTIONS_PATH holding the fixture collections (see ansibleShims)
	knownHosts  string
	vars        map[string]any
	secrets     []string // must never show up in output or process arguments
	runs        int      // runs so far, numbering their strace records
	// The run starts sudo on this machine (ansible_connection=local with
	// become): strace must then run as root, see tracedCommandAsRoot.
	localSudo bool
	// stdin is the wrapper's standard input (--first-contact reads its
	// script there); empty: none.
	stdin string
	// allowEnv matches more variables ansible may be started with than
	// wrapperEnv (the AWS_* ones of the ssm connection).
	allowEnv *regexp.Regexp
}

func newRig(t *testing.T) *rig {
	t.Helper()
	requireAnsible(t)
	dir := t.TempDir()
	r := &rig{
		sshd:        sshtest.Start(t),
		dir:         dir,
		hostDir:     filepath.Join(dir, "host"),
		pinFile:     filepath.Join(dir, "upstream.env"),
		cacheDir:    filepath.Join(dir, "cache"),
		tmpDir:      filepath.Join(dir, "tmp"),
		home:        filepath.Join(dir, "home"),
		collections: upstreamtest.Collections(t),
	}
	for _, d := range []string{r.hostDir, r.tmpDir, r.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.knownHosts = r.sshd.KnownHosts
	pgPassword := randomSecret(t, "pg-")
	r.vars = map[string]any{
		"matrix_playbook_migration_validated_version": upstreamtest.MigrationVersion,
		"matrix_domain":                    "example.org",
		"matrix_homeserver_implementation": "synapse",
		"postgres_connection_password":     pgPassword,
		"standin_host_dir":                 r.hostDir,
	}
	// A line from the middle of the private key stands for all of it.
	keyLines := strings.Split(strings.TrimSpace(string(r.sshd.PrivateKey)), "\n")
	if len(keyLines) < 3 {
		t.Fatalf("unexpected private key shape: %d lines", len(keyLines))
	}
	r.secrets = []string{pgPassword, keyLines[len(keyLines)/2]}
	return r
}

// writePin writes the test's pin file for the given upstream commit.
func (r *rig) writePin(t *testing.T, repo, commit, coreMin string, collections ...string) {
	t.Helper()
	p := ansible.Pin{
		Repo:                repo,
		Commit:              commit,
		MigrationVersion:    upstreamtest.MigrationVersion,
		AnsibleCoreMin:      coreMin,
		RequiredCollections: collections,
	}
	if _, err := ansible.ParsePin(p.Env()); err != nil {
		t.Fatalf("test pin is invalid: %v", err)
	}
	if err := os.WriteFile(r.pinFile, p.Env(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ansibleShims writes ansible-playbook and ansible-galaxy into a directory
// for the front of the wrapper's PATH and returns it. They run the real
// tools with the two settings the rig needs, which the wrapper would not
// pass on from its own environment (it passes no ANSIBLE_* variable of its
// caller): the fixture collections (ANSIBLE_COLLECTIONS_PATH), and become
// even from a user to the same user (ANSIBLE_BECOME_ALLOW_SAME_USER). The
// tests log in as the user running them, root on CI, and become root:
// ansible skips become for the same user unless told not to, while on a
// real host (ubuntu -> root) become always goes through sudo. They stand for
// an operator's installation of Ansible, which the wrapper takes from PATH.
func (r *rig) ansibleShims(t *testing.T) string {
	t.Helper()
	bin := r.shimDir()
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"ansible-playbook", "ansible-galaxy"} {
		real, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\nANSIBLE_COLLECTIONS_PATH=%s ANSIBLE_BECOME_ALLOW_SAME_USER=True exec %s \"$@\"\n",
			shellQuote(r.collections), shellQuote(real))
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func (r *rig) shimDir() string {
	return filepath.Join(r.dir, "ansible-bin")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hosts renders inventory/hosts the way the upstream documents it.
func (r *rig) hosts() string {
	return fmt.Sprintf("[matrix_servers]\n%s ansible_host=%s ansible_port=%d ansible_ssh_user=%s ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n",
		hostname, r.sshd.Host, r.sshd.Port, r.sshd.User)
}

func (r *rig) varsYAML(t *testing.T) string {
	t.Helper()
	out, err := yaml.Marshal(r.vars)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// result is what one run of the wrapper did.
type result struct {
	code       int
	output     string // stdout and stderr
	stdout     string
	leaks      []string // programs started with a secret in their arguments or environment
	foreignEnv []string // variables ansible was started with that the wrapper does not set
	sawRun     bool     // ansible-playbook was started
	tmpDirs    []string // temporary directories of the wrapper seen while it ran
	sockDirs   []string // its directories for ssh control sockets, seen in its ssh commands
	badPerms   []string // files in them readable by others than the owner
}

// run runs the wrapper with the rig's inputs in its environment, plus env
// (which may override them), recording every program it starts.
func (r *rig) run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return r.runDuring(t, env, nil, args...)
}

// runDuring is run, calling during (when not nil) with the wrapper's pid
// while the wrapper runs.
func (r *rig) runDuring(t *testing.T, env map[string]string, during func(pid int), args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	wrapper := wrapperPath(t)
	inputs := map[string]string{
		ansible.EnvInventoryHostname: hostname,
		ansible.EnvInventoryHosts:    r.hosts(),
		ansible.EnvInventoryVars:     r.varsYAML(t),
		ansible.EnvSSHPrivateKey:     string(r.sshd.PrivateKey),
		ansible.EnvSSHKnownHosts:     r.knownHosts,
		ansible.EnvPinFile:           r.pinFile,
		ansible.EnvCacheDir:          r.cacheDir,
	}
	for k, v := range env {
		inputs[k] = v
	}
	if err := os.MkdirAll(r.traceDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	r.runs++
	traceFile := filepath.Join(r.traceDir(), fmt.Sprintf("run-%d.strace", r.runs))
	path := r.ansibleShims(t) + string(os.PathListSeparator) + os.Getenv("PATH")
	if p, ok := env["PATH"]; ok {
		path = p
		delete(inputs, "PATH")
	}
	base := []string{
		"PATH=" + path,
		"HOME=" + r.home,
		"LC_ALL=C.UTF-8",
		"TMPDIR=" + r.tmpDir,
	}
	var cmd *exec.Cmd
	var err error
	if r.localSudo && os.Geteuid() != 0 {
		cmd, err = tracedCommandAsRoot(ctx, traceFile, base, wrapper, args...)
	} else {
		cmd, err = tracedCommand(ctx, traceFile, wrapper, args...)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = base
	for k, v := range inputs {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	// stdout and stderr come through two pipes, copied concurrently.
	var out, stdout bytes.Buffer
	combined := &lockedWriter{w: &out}
	cmd.Stdout = io.MultiWriter(combined, &stdout)
	cmd.Stderr = combined
	if r.stdin != "" {
		cmd.Stdin = strings.NewReader(r.stdin)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", wrapper, err)
	}

	// The temporary directory is sampled while the wrapper runs, for the
	// permissions of its files (removed at the end of the run).
	var res result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := tmpWatcher{tmpDir: r.tmpDir, seen: make(map[string]bool)}
		for {
			w.scan(&res)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	if during != nil {
		pid, err := tracedChild(cmd.Process.Pid, wrapper)
		if err != nil {
			t.Errorf("the wrapper's process: %v", err)
		} else {
			during(pid)
		}
	}
	err = cmd.Wait()
	close(stop)
	wg.Wait()

	res.output, res.stdout = out.String(), stdout.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Fatalf("run %s: %v\n%s", wrapper, err, res.output)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v:\n%s", wrapper, strings.Join(args, " "), runTimeout, res.output)
	}
	calls, err := readTrace(traceFile)
	if err != nil {
		t.Fatalf("strace record of the run: %v", err)
	}
	if len(calls) == 0 {
		t.Fatalf("strace recorded no program in %s", traceFile)
	}
	r.inspect(&res, wrapper, calls)
	t.Logf("run-playbook %s -> %d (%d programs started)\n%s", strings.Join(args, " "), res.code, len(calls), res.output)
	return res
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// traceDir holds the strace records of the runs. They hold the secrets (the
// wrapper's own environment): tests looking for secrets in files skip it.
func (r *rig) traceDir() string {
	return filepath.Join(r.dir, "traces")
}

// wrapperEnv are the variables the wrapper gives ansible-playbook and
// ansible-galaxy: its allow-list, the ANSIBLE_* settings it sets itself,
// and what bash adds to every environment.
var wrapperEnv = regexp.MustCompile(`^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM|TMPDIR|SSH_AUTH_SOCK|(http|https|no|all)_proxy|(HTTP|HTTPS|NO|ALL)_PROXY|SSL_CERT_FILE|SSL_CERT_DIR|ANSIBLE_(CONFIG|ROLES_PATH|HOST_KEY_CHECKING|SSH_CONTROL_PATH_DIR|SSH_ARGS)|PWD|OLDPWD|SHLVL|_)$`)

// inspect goes through every program the run started.
func (r *rig) inspect(res *result, wrapper string, calls []execCall) {
	shims := r.shimDir()
	seen := make(map[string]bool)
	for _, c := range calls {
		args := strings.Join(c.argv, " ")
		if filepath.Base(c.path) == "ansible-playbook" {
			res.sawRun = true
		}
		// The ssh processes of this run name its known_hosts file (in its
		// temporary directory under the rig's TMPDIR) and its control
		// socket directory.
		if strings.Contains(args, r.tmpDir) {
			for _, d := range controlDir.FindAllString(args, -1) {
				if !seen[d] {
					seen[d] = true
					res.sockDirs = append(res.sockDirs, d)
				}
			}
		}
		for _, s := range r.secrets {
			if strings.Contains(c.path, s) || strings.Contains(args, s) {
				res.leaks = append(res.leaks, fmt.Sprintf("pid %d arguments: %.300s", c.pid, args))
			}
		}
		// The wrapper was started with the secrets in its environment: the
		// execve of the script (through its #! line, /usr/bin/env), and
		// env's of bash on it (trying each PATH directory), all in the
		// first process. Nothing else may have them there.
		if c.pid == calls[0].pid && (c.path == wrapper || slices.Contains(c.argv, wrapper)) {
			continue
		}
		env := strings.Join(c.env, "\n")
		for _, s := range r.secrets {
			if strings.Contains(env, s) {
				res.leaks = append(res.leaks, fmt.Sprintf("pid %d environment: %.300s", c.pid, args))
			}
		}
		// What the wrapper starts ansible with.
		if base := filepath.Base(c.path); filepath.Dir(c.path) == shims && (base == "ansible-playbook" || base == "ansible-galaxy") {
			for _, kv := range c.env {
				name, _, _ := strings.Cut(kv, "=")
				if !wrapperEnv.MatchString(name) && (r.allowEnv == nil || !r.allowEnv.MatchString(name)) {
					res.foreignEnv = append(res.foreignEnv, fmt.Sprintf("%s: %s", filepath.Base(c.path), name))
				}
			}
		}
	}
}

// tmpWatcher looks at the wrapper's temporary directory while it runs.
type tmpWatcher struct {
	tmpDir string
	seen   map[string]bool
}

func (w *tmpWatcher) scan(res *result) {
	dirs, _ := filepath.Glob(filepath.Join(w.tmpDir, "matrix-ansible.*"))
	for _, d := range dirs {
		if !w.seen[d] {
			w.seen[d] = true
			res.tmpDirs = append(res.tmpDirs, d)
		}
		_ = filepath.WalkDir(d, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return nil // removed while walking
			}
			info, err := entry.Info()
			if err != nil || info.Mode()&os.ModeSocket != 0 {
				return nil
			}
			if info.Mode().Perm()&0o077 != 0 {
				bad := fmt.Sprintf("%s %v", path, info.Mode().Perm())
				if !w.seen[bad] {
					w.seen[bad] = true
					res.badPerms = append(res.badPerms, bad)
				}
			}
			return nil
		})
	}
}

// checkClean fails the test when the run leaked a secret, started Ansible
// with a variable the wrapper does not set, or left its temporary directory
// behind.
func (r *rig) checkClean(t *testing.T, res result) {
	t.Helper()
	for _, l := range res.leaks {
		t.Errorf("secret visible in a process: %s", l)
	}
	for _, v := range res.foreignEnv {
		t.Errorf("started with a variable of the caller's environment: %s", v)
	}
	for _, s := range r.secrets {
		if strings.Contains(res.output, s) {
			t.Errorf("secret %.6s... appears in the output", s)
		}
	}
	for _, p := range res.badPerms {
		t.Errorf("temporary file readable by others: %s", p)
	}
	left, err := os.ReadDir(r.tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
	for _, d := range res.sockDirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("left behind: %s", d)
		}
	}
}

// controlDir matches the wrapper's directories for ssh control sockets.
var controlDir = regexp.MustCompile(`/tmp/matrix-ssh\.[A-Za-z0-9]+`)

var recapChanged = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(hostname) + `\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// recap returns ok and changed of the host from the PLAY RECAP.
func recap(t *testing.T, output string) (ok, changed int) {
	t.Helper()
	m := recapChanged.FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("no PLAY RECAP line for %s in the output", hostname)
	}
	ok, _ = strconv.Atoi(m[1])
	changed, _ = strconv.Atoi(m[2])
	return ok, changed
}

// processesMentioning returns the command lines of the processes whose
// arguments contain s.
func processesMentioning(s string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if args := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(args, s) {
			found = append(found, e.Name()+": "+args)
		}
	}
	return found
}
