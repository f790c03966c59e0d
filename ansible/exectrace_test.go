package ansible_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Every program the wrapper starts, directly or not, is recorded with
// strace: each execve with its arguments and environment, however briefly
// the program runs. Sampling /proc instead misses short-lived processes,
// such as a printf that writes a secret to a file.

// execCall is one execve of the traced process tree.
type execCall struct {
	pid  int
	path string
	argv []string
	env  []string
}

// tracedCommand returns a command that runs name with args under strace,
// which records every execve of the whole process tree in traceFile.
//
// strace must be the parent of what it traces: a user without
// CAP_SYS_PTRACE may trace its own children (also under Yama's default
// ptrace_scope 1), not attach to other processes. --seccomp-bpf stops only
// at execve, so the tree runs at nearly full speed. The kernel does not
// honour setuid for a process traced by an unprivileged tracer: under a
// non-root user, a sudo started inside the tree fails.
func tracedCommand(ctx context.Context, traceFile, name string, args ...string) (*exec.Cmd, error) {
	strace, full, err := straceArgs(traceFile, name, args...)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, strace, full...), nil
}

// tracedCommandAsRoot is tracedCommand for a tree that runs sudo, when the
// tests do not run as root: strace runs as root through sudo (so that the
// kernel honours setuid in the tree) and runs name as the current user
// (strace -u). The environment reaches it through sudo -E, but for the
// variables sudo sets itself (PATH, HOME, USER, LOGNAME), given in env
// (which must hold no secret: they are on strace's command line).
func tracedCommandAsRoot(ctx context.Context, traceFile string, env []string, name string, args ...string) (*exec.Cmd, error) {
	strace, full, err := straceArgs(traceFile, name, args...)
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	// strace -u drops root in the child before the seccomp filter goes in,
	// which then needs "no new privileges", under which sudo refuses to
	// run: trace every system call's stop instead (slower, same record).
	full = slices.DeleteFunc(full, func(a string) bool { return a == "--seccomp-bpf" })
	sudoArgs := []string{"-n", "-E", strace, "-u", u.Username}
	// sudo sets USER and LOGNAME to root, which ansible would take for the
	// user it runs as.
	env = append(env, "USER="+u.Username, "LOGNAME="+u.Username)
	for _, kv := range env {
		sudoArgs = append(sudoArgs, "-E", kv)
	}
	return exec.CommandContext(ctx, "sudo", append(sudoArgs, full...)...), nil
}

func straceArgs(traceFile, name string, args ...string) (string, []string, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return "", nil, fmt.Errorf("strace not found (%v): the tests record every program the wrapper starts with it; install it, e.g. apt-get install strace", err)
	}
	full := append([]string{
		"-f",                 // the whole tree: children, their children...
		"--seccomp-bpf",      // stop at traced system calls only
		"-qq",                // no attach/exit messages
		"-v",                 // environments in full, not "/* 12 vars */"
		"-e", "trace=execve", // every program started
		"-e", "signal=none",
		"-s", "65535", // strings in full
		"-o", traceFile,
		"--", name,
	}, args...)
	return strace, full, nil
}

// childrenOf returns the child processes of pid, from the PPid line of
// every process's status (readable by all, unlike /proc/PID/task/TID/children).
func childrenOf(pid int) []int {
	var children []int
	entries, _ := os.ReadDir("/proc")
	want := fmt.Sprintf("\nPPid:\t%d\n", pid)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err == nil && strings.Contains(string(status), want) {
			children = append(children, child)
		}
	}
	return children
}

// tracedChild returns the pid of program, run by a traced command (pid):
// the first process under pid, through sudo and strace, that is no longer
// strace or sudo (strace's child is strace until it execs program) and has
// program in its arguments. It waits for it to start.
func tracedChild(pid int, program string) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		queue := []int{pid}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
			name, _, _ := strings.Cut(strings.TrimPrefix(string(status), "Name:\t"), "\n")
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			if p != pid && name != "strace" && name != "sudo" && strings.Contains(string(cmdline), program) {
				return p, nil
			}
			queue = append(queue, childrenOf(p)...)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("process %d started no %s", pid, program)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readTrace parses the execve calls recorded by tracedCommand, failed ones
// included (an execve that fails still shows its arguments).
func readTrace(path string) ([]execCall, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var calls []execCall
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		pidText, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, "execve(") {
			// "<... execve resumed>) = 0" finishes a call whose arguments
			// were on its first line.
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: no pid: %q", path, n, line)
		}
		p := &traceParser{s: rest[len("execve("):]}
		c := execCall{pid: pid}
		c.path = p.str()
		p.expect(", ")
		c.argv = p.array()
		p.expect(", ")
		c.env = p.array()
		if p.err != nil {
			return nil, fmt.Errorf("%s:%d: %v: %.300q", path, n, p.err, line)
		}
		calls = append(calls, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return calls, nil
}

// traceParser reads strace's rendering of C strings and string arrays.
type traceParser struct {
	s   string
	err error
}

func (p *traceParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
	p.s = ""
}

func (p *traceParser) expect(prefix string) {
	if !strings.HasPrefix(p.s, prefix) {
		p.fail("want %q at %.40q", prefix, p.s)
		return
	}
	p.s = p.s[len(prefix):]
}

// str reads "..." with strace's escapes (\n, \t, \", \\, \ooo octal, \xhh)
// and a trailing ... when strace cut the string.
func (p *traceParser) str() string {
	if p.err != nil {
		return ""
	}
	if strings.HasPrefix(p.s, "0x") || strings.HasPrefix(p.s, "NULL") {
		// A pointer strace could not read: not a string.
		end := strings.IndexAny(p.s, ",)")
		if end < 0 {
			end = len(p.s)
		}
		p.s = p.s[end:]
		return ""
	}
	p.expect(`"`)
	var b strings.Builder
	for p.err == nil {
		if p.s == "" {
			p.fail("unterminated string")
			break
		}
		c := p.s[0]
		p.s = p.s[1:]
		if c == '"' {
			p.s = strings.TrimPrefix(p.s, "...")
			return b.String()
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if p.s == "" {
			p.fail("escape at the end")
			break
		}
		e := p.s[0]
		p.s = p.s[1:]
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case 'x':
			if len(p.s) < 2 {
				p.fail("short \\x escape")
				break
			}
			v, err := strconv.ParseUint(p.s[:2], 16, 8)
			if err != nil {
				p.fail("bad \\x escape")
				break
			}
			b.WriteByte(byte(v))
			p.s = p.s[2:]
		case '0', '1', '2', '3', '4', '5', '6', '7':
			digits := string(e)
			for len(digits) < 3 && p.s != "" && p.s[0] >= '0' && p.s[0] <= '7' {
				digits += p.s[:1]
				p.s = p.s[1:]
			}
			v, _ := strconv.ParseUint(digits, 8, 8)
			b.WriteByte(byte(v))
		default:
			b.WriteByte(e) // \" \\ \'
		}
	}
	return ""
}

// array reads ["...", "..."], possibly ending in "..." when strace cut it.
func (p *traceParser) array() []string {
	if strings.HasPrefix(p.s, "0x") || strings.HasPrefix(p.s, "NULL") {
		p.str()
		return nil
	}
	p.expect("[")
	var items []string
	for p.err == nil {
		if strings.HasPrefix(p.s, "]") {
			p.s = p.s[1:]
			return items
		}
		if len(items) > 0 {
			p.expect(", ")
		}
		if strings.HasPrefix(p.s, "...") {
			p.s = p.s[3:]
			continue
		}
		items = append(items, p.str())
	}
	return items
}
