// Package sshtest starts a real OpenSSH server on 127.0.0.1 for tests.
//
// Each server has its own temporary directory holding its configuration, a
// fresh ed25519 host key, a fresh ed25519 client key and the authorized_keys
// file that admits it, and listens on a free port. Only the current user may
// log in. Nothing system-wide is changed, with one exception: sshd needs its
// privilege separation directory /run/sshd, which Start creates when it is
// missing (the Debian package creates it only when the service starts): as
// root, or through sudo -n when the tests run as a user with passwordless
// sudo (as on GitHub's runners).
//
// It needs /usr/sbin/sshd and ssh-keygen (Debian: apt install openssh-server
// openssh-client).
package sshtest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHD is the OpenSSH server binary started by Start.
const SSHD = "/usr/sbin/sshd"

// PrivSepDir is the directory sshd insists on at start-up.
const PrivSepDir = "/run/sshd"

const startTimeout = 15 * time.Second

// Server is a running sshd.
type Server struct {
	Host       string // always 127.0.0.1
	Port       int    // the port it listens on
	User       string // the only user allowed to log in: the current one
	Dir        string // its temporary directory
	PrivateKey []byte // the client's OpenSSH private key
	KeyFile    string // the same key in a 0600 file in Dir
	KnownHosts string // known_hosts line for [127.0.0.1]:Port, without newline
	HostKey    string // the host's public key, "ssh-ed25519 AAAA..."

	cmd     *exec.Cmd
	logFile string
	done    chan struct{}
	waitErr error
}

// Start starts an sshd for the test and stops it in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	for _, tool := range []string{SSHD, "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("sshtest: %s not found (%v): install it, e.g. apt-get install openssh-server openssh-client", tool, err)
		}
	}
	if err := ensurePrivSepDir(); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}

	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", User: u.Username, Dir: dir, logFile: filepath.Join(dir, "sshd.log")}
	hostKey := filepath.Join(dir, "host_ed25519")
	s.KeyFile = filepath.Join(dir, "client_ed25519")
	for _, k := range []struct{ path, comment string }{{hostKey, "sshtest-host"}, {s.KeyFile, "sshtest-client"}} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k.comment, "-f", k.path).CombinedOutput()
		if err != nil {
			t.Fatalf("sshtest: ssh-keygen %s: %v\n%s", k.path, err, out)
		}
	}
	if s.PrivateKey, err = os.ReadFile(s.KeyFile); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	clientPub, err := os.ReadFile(s.KeyFile + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), clientPub, 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	fields := strings.Fields(string(hostPub))
	if len(fields) < 2 {
		t.Fatalf("sshtest: unexpected host public key %q", hostPub)
	}
	s.HostKey = fields[0] + " " + fields[1]

	// The port is free when picked; another process may take it before sshd
	// binds it, so try a few.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.start(hostKey); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("sshtest: %v", lastErr)
	}
	s.KnownHosts = fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, s.HostKey)
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("sshtest: %v", err)
		}
	})
	return s
}

func ensurePrivSepDir() error {
	if fi, err := os.Stat(PrivSepDir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", PrivSepDir)
		}
		return nil
	}
	err := os.MkdirAll(PrivSepDir, 0o755)
	if err == nil {
		return nil
	}
	if os.Geteuid() != 0 && errors.Is(err, fs.ErrPermission) {
		// Not root: through sudo, when it needs no password.
		out, serr := exec.Command("sudo", "-n", "mkdir", "-p", "-m", "0755", "--", PrivSepDir).CombinedOutput()
		if serr == nil {
			return nil
		}
		err = fmt.Errorf("%w; sudo -n mkdir: %v: %s", err, serr, bytes.TrimSpace(out))
	}
	return fmt.Errorf("sshd needs the directory %s; create it as root (mkdir -p %s): %w", PrivSepDir, PrivSepDir, err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(hostKey string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	config := strings.Join([]string{
		"ListenAddress 127.0.0.1:" + strconv.Itoa(port),
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.Dir, "authorized_keys"),
		"AllowUsers " + s.User,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	configFile := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return fmt.Errorf("write sshd config: %w", err)
	}
	log, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open sshd log: %w", err)
	}
	defer log.Close()

	cmd := exec.Command(SSHD, "-D", "-e", "-f", configFile)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHD, err)
	}
	done := make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("sshd exited at start-up (%v):\n%s", s.waitErr, s.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(port)), time.Second)
		if err == nil {
			// sshd speaks first: wait for its banner.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4)
			_, rerr := c.Read(buf)
			c.Close()
			if rerr == nil && bytes.Equal(buf, []byte("SSH-")) {
				s.Port, s.cmd, s.done = port, cmd, done
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("sshd did not answer on port %d within %v:\n%s", port, startTimeout, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns what sshd has logged so far.
func (s *Server) Log() string {
	data, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(no sshd log: %v)", err)
	}
	return string(data)
}

// Stop stops the server; Start's cleanup calls it, calling it earlier is fine.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop sshd: %w", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// SSH runs a command on the server with the ssh client, checking the host
// key against KnownHosts, and returns its combined output.
func (s *Server) SSH(args ...string) ([]byte, error) {
	knownHosts := filepath.Join(s.Dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(s.KnownHosts+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	base := []string{
		"-F", "/dev/null",
		"-i", s.KeyFile,
		"-p", strconv.Itoa(s.Port),
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		s.User + "@" + s.Host,
	}
	return exec.Command("ssh", append(base, args...)...).CombinedOutput()
}
