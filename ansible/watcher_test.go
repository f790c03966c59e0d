package ansible_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWatcherSeesSecrets: the process watcher the leak checks rely on does
// find a secret in a process's arguments and in its environment.
func TestWatcherSeesSecrets(t *testing.T) {
	secret := randomSecret(t, "w-")
	inArgs := exec.Command("sh", "-c", "sleep 30", secret)
	inEnv := exec.Command("sleep", "30")
	inEnv.Env = []string{"TOKEN=" + secret}
	for _, c := range []*exec.Cmd{inArgs, inEnv} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		c := c
		t.Cleanup(func() {
			_ = c.Process.Kill()
			_ = c.Wait()
		})
	}
	w := watcher{secrets: []string{secret}, wrapper: "/nonexistent/run-playbook", tmpDir: t.TempDir(), self: os.Getpid(), seen: map[string]bool{}}
	var res result
	w.scan(&res)
	var args, env bool
	for _, l := range res.leaks {
		args = args || strings.Contains(l, "arguments")
		env = env || strings.Contains(l, "environment")
	}
	if !args || !env {
		t.Errorf("watcher found arguments: %v, environment: %v; leaks: %v", args, env, res.leaks)
	}
}
