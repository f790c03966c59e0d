package ansible_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTraceSeesEveryProgram: the strace record the leak checks rely on has
// every program of the tree with its arguments and environment, a printf
// that runs for a millisecond (which sampling /proc missed) as well as a
// grandchild started through a shell, with arguments strace escapes.
func TestTraceSeesEveryProgram(t *testing.T) {
	inArgs := randomSecret(t, "a-")
	inEnv := randomSecret(t, "e-")
	trace := filepath.Join(t.TempDir(), "trace")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := `/usr/bin/printf '%s\n' "$1" >/dev/null; TOKEN="$2" /usr/bin/true; sh -c '/usr/bin/printf "%s" "quote\" tab	newline
end" >/dev/null'`
	cmd, err := tracedCommand(ctx, trace, "sh", "-c", script, "sh", inArgs, inEnv)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	calls, err := readTrace(trace)
	if err != nil {
		t.Fatal(err)
	}
	var printf, true_, escaped bool
	for _, c := range calls {
		switch {
		case c.path == "/usr/bin/printf" && slices.Equal(c.argv, []string{"/usr/bin/printf", `%s\n`, inArgs}):
			printf = true
		case c.path == "/usr/bin/true" && slices.Contains(c.env, "TOKEN="+inEnv):
			true_ = true
		case c.path == "/usr/bin/printf" && slices.Equal(c.argv, []string{"/usr/bin/printf", "%s", "quote\" tab\tnewline\nend"}):
			escaped = true
		}
	}
	if !printf || !true_ || !escaped {
		var got []string
		for _, c := range calls {
			got = append(got, c.path+" "+strings.Join(c.argv, "|"))
		}
		t.Errorf("found printf with the secret: %v, true with it in its environment: %v, the escaped arguments: %v; calls:\n%s", printf, true_, escaped, strings.Join(got, "\n"))
	}
}
