package ansible_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

// leakCallback is a callback plugin that writes every task's arguments and
// result, world-readable, to the file in LEAK_FILE_<NAME> (the test puts the
// path in the plugin itself). CALLBACK_NEEDS_ENABLED decides whether Ansible
// loads it only when listed in callbacks_enabled or whenever it is found in
// the callback plugin path.
const leakCallback = `from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "NAME"
    CALLBACK_NEEDS_ENABLED = NEEDS

    def _write(self, result):
        with open("FILE", "a") as f:
            f.write(repr(result._task.args) + repr(result._result) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result)
`

// TestCallerEnvironmentDoesNotReachAnsible: settings in the caller's
// environment that would make Ansible write or show secrets (a log file,
// callbacks, verbosity, debug output, kept module files, another
// configuration, code loaded into Python or bash) have no effect on a run:
// the wrapper starts Ansible with an environment of its own. Each case runs
// register-user with the password in the extra vars and no MATRIX_REDACT,
// so that nothing masks a leak; the password must appear neither in the
// output nor in any file but the stand-in's records on the "host", and the
// setting must have done nothing.
func TestCallerEnvironmentDoesNotReachAnsible(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	password := randomSecret(t, "pw-")
	r.secrets = append(r.secrets, password)
	extra, err := yaml.Marshal(map[string]string{"username": "alice", "password": password, "admin": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	// Where Ansible keeps module files on the host: a directory of this
	// test's own (ansible_remote_tmp on the host line), not ~/.ansible/tmp,
	// which other Ansible runs on the machine share.
	remoteTmp := filepath.Join(r.dir, "remote-tmp")
	remoteTmps := []string{remoteTmp}
	hosts := strings.TrimSuffix(r.hosts(), "\n") + " ansible_remote_tmp=" + remoteTmp + "\n"
	// The first run clones the stand-in and installs its role, so that the
	// cases below start from the same state.
	if res := r.run(t, nil, "--playbook", "upstream", "--tags", "self-check"); res.code != 0 {
		t.Fatalf("first run failed with %d", res.code)
	}

	type check func(t *testing.T, dir string, res result)
	absent := func(name string) check {
		return func(t *testing.T, dir string, res result) {
			t.Helper()
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%s was created: the setting took effect", name)
			}
		}
	}
	notInOutput := func(markers ...string) check {
		return func(t *testing.T, dir string, res result) {
			t.Helper()
			for _, m := range markers {
				if strings.Contains(res.output, m) {
					t.Errorf("the output has %q: the setting took effect", m)
				}
			}
		}
	}
	defaultCallback := func(t *testing.T, dir string, res result) {
		t.Helper()
		recap(t, res.output) // fails without the default callback's recap
		if strings.HasPrefix(strings.TrimSpace(res.output), "{") {
			t.Errorf("the output is JSON: the stdout callback changed")
		}
	}
	// Markers of verbosity and debug output: the -v result of the debug
	// task, the -vvv connection lines, Ansible's internal debug lines.
	verbose := notInOutput("registering alice", "ESTABLISH SSH CONNECTION", "_low_level_execute_command", "Using module file", "Loading callback plugin")

	for _, tc := range []struct {
		name  string
		env   func(dir string) map[string]string
		check []check
	}{
		{"ANSIBLE_LOG_PATH", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_LOG_PATH": filepath.Join(dir, "ansible.log")}
		}, []check{absent("ansible.log")}},
		{"ANSIBLE_STDOUT_CALLBACK", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_STDOUT_CALLBACK": "json"}
		}, []check{defaultCallback}},
		{"ANSIBLE_CALLBACKS_ENABLED", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_CALLBACK_PLUGINS": filepath.Join(dir, "callbacks"), "ANSIBLE_CALLBACKS_ENABLED": "leak"}
		}, []check{absent("leak.out"), absent("autoleak.out")}},
		{"ANSIBLE_CALLBACK_WHITELIST", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_CALLBACK_PLUGINS": filepath.Join(dir, "callbacks"), "ANSIBLE_CALLBACK_WHITELIST": "leak"}
		}, []check{absent("leak.out"), absent("autoleak.out")}},
		{"ANSIBLE_CALLBACK_PLUGINS", func(dir string) map[string]string {
			// autoleak needs no enabling: being in the path is enough.
			return map[string]string{"ANSIBLE_CALLBACK_PLUGINS": filepath.Join(dir, "callbacks")}
		}, []check{absent("autoleak.out")}},
		{"ANSIBLE_KEEP_REMOTE_FILES", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_KEEP_REMOTE_FILES": "True"}
		}, nil}, // the module files it would keep are looked for below
		{"ANSIBLE_DEBUG", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_DEBUG": "True"}
		}, []check{verbose}},
		{"ANSIBLE_VERBOSITY", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_VERBOSITY": "4"}
		}, []check{verbose}},
		{"ANSIBLE_DISPLAY_ARGS_TO_STDOUT", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "True"}
		}, []check{notInOutput("dest=", "msg=")}},
		{"ANSIBLE_NO_LOG", func(dir string) map[string]string {
			return map[string]string{"ANSIBLE_NO_LOG": "True"}
		}, []check{defaultCallback}},
		{"ANSIBLE_CONFIG", func(dir string) map[string]string {
			cfg := filepath.Join(dir, "evil.cfg")
			writeTestFile(t, cfg, "[defaults]\nlog_path = "+filepath.Join(dir, "config.log")+"\nverbosity = 4\ndisplay_args_to_stdout = True\ncallbacks_enabled = leak\ncallback_plugins = "+filepath.Join(dir, "callbacks")+"\n", 0o644)
			return map[string]string{"ANSIBLE_CONFIG": cfg}
		}, []check{absent("config.log"), absent("leak.out"), absent("autoleak.out"), verbose}},
		{"PYTHONPATH", func(dir string) map[string]string {
			// Python imports sitecustomize from PYTHONPATH at start-up.
			py := filepath.Join(dir, "python")
			writeTestFile(t, filepath.Join(py, "sitecustomize.py"), "import os, sys\nwith open("+pyQuote(filepath.Join(dir, "python-loaded"))+", 'a') as f:\n    f.write(repr(sys.argv) + '\\n')\n", 0o644)
			return map[string]string{"PYTHONPATH": py}
		}, []check{absent("python-loaded")}},
		{"BASH_FUNC", func(dir string) map[string]string {
			// An exported bash function runs instead of the program of its
			// name in every bash started with it.
			return map[string]string{"BASH_FUNC_git%%": "() { echo imported >>" + filepath.Join(dir, "bash-function-ran") + "; command git \"$@\"; }"}
		}, []check{absent("bash-function-ran")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"leak", "autoleak"} {
				needs := "True"
				if name == "autoleak" {
					needs = "False"
				}
				plugin := strings.NewReplacer("NAME", name, "NEEDS", needs, "FILE", filepath.Join(dir, name+".out")).Replace(leakCallback)
				writeTestFile(t, filepath.Join(dir, "callbacks", name+".py"), plugin, 0o644)
			}
			env := tc.env(dir)
			env["MATRIX_EXTRA_VARS"] = string(extra)
			env[ansible.EnvInventoryHosts] = hosts
			before := remoteTmpEntries(remoteTmps)
			started := time.Now()
			res := r.run(t, env, "--playbook", "upstream", "--tags", "register-user", "--extra-vars-env")
			if res.code != 0 {
				t.Fatalf("register-user failed with %d", res.code)
			}
			r.checkClean(t, res)
			for _, c := range tc.check {
				c(t, dir, res)
			}
			for name := range remoteTmpEntries(remoteTmps) {
				if !before[name] {
					t.Errorf("left on the host: %s (module files kept)", name)
				}
			}
			// Anywhere a file could have been written: the rig's directory
			// (but the stand-in's records on the "host" and the strace
			// records, which hold the wrapper's environment), this case's, the
			// module directories on the host, the system's temporary
			// directories.
			roots := append([]string{r.dir, dir, "/tmp", "/var/tmp"}, remoteTmps...)
			for _, f := range filesContaining(roots, []string{r.hostDir, r.traceDir()}, started, r.secrets) {
				t.Errorf("a secret reached %s", f)
			}
			user := readYAML(t, filepath.Join(r.hostDir, "register-user.yml"))
			if user["password"] != password {
				t.Errorf("register-user received %v, not the extra vars", user)
			}
		})
	}
}

// remoteTmpEntries returns the entries of the directories where Ansible
// puts module files on the host.
func remoteTmpEntries(dirs []string) map[string]bool {
	entries := make(map[string]bool)
	for _, d := range dirs {
		var names []string
		list, err := os.ReadDir(d)
		for _, e := range list {
			names = append(names, e.Name())
		}
		if errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
			// root's, when the tests do not run as root.
			out, _ := exec.Command("sudo", "-n", "ls", "-A", "--", d).Output()
			names = strings.Fields(string(out))
		}
		for _, name := range names {
			entries[filepath.Join(d, name)] = true
		}
	}
	return entries
}

// filesContaining returns the regular files under roots, but not under
// skip, changed since since, that contain one of secrets. Unreadable files
// and directories are passed over: they are not the test's.
func filesContaining(roots, skip []string, since time.Time, secrets []string) []string {
	var found []string
	seen := make(map[string]bool)
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			for _, s := range skip {
				if path == s {
					return filepath.SkipDir
				}
			}
			if !d.Type().IsRegular() || seen[path] {
				return nil
			}
			seen[path] = true
			info, err := d.Info()
			if err != nil || info.ModTime().Before(since.Add(-time.Second)) || info.Size() > 64<<20 {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					found = append(found, path)
					break
				}
			}
			return nil
		})
	}
	return found
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// pyQuote is a Python string literal of s.
func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
