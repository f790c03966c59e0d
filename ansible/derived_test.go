package ansible_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

// derivedKey is a generic secret key of the length the program generates.
func derivedKey(t *testing.T) string {
	t.Helper()
	k := randomSecret(t, "key-")
	return k + strings.Repeat("x", 64-len(k))
}

func loadFacts(t *testing.T) upstream.Facts {
	t.Helper()
	f, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// jinja renders a derived secret back to the expression the upstream
// writes for it, less its condition and surrounding text.
func jinja(d upstream.DerivedSecret) string {
	e := fmt.Sprintf("(%s + %s) | hash('%s')", d.Source, pyString(d.Salt), d.Hash)
	switch {
	case d.ToUUID:
		e += " | to_uuid"
	case d.Base64:
		e = fmt.Sprintf("(%s)[:%d] | b64encode | regex_replace('=+$', '')", e, d.HexPrefix)
	}
	return e
}

func pyString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestDerivedValuesMatchAnsible evaluates every derivation of the facts,
// for a random key and a non-ASCII one, with the installed Ansible (an
// ad-hoc debug task, isolated from any Ansible configuration of the
// machine) and compares with upstream.DerivedSecret.Value.
func TestDerivedValuesMatchAnsible(t *testing.T) {
	requireAnsible(t)
	facts := loadFacts(t)
	if len(facts.DerivedSecrets) == 0 {
		t.Fatal("the facts hold no derived secret")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, []byte("[defaults]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{derivedKey(t), "ключ-é"} {
		sources := map[string]string{}
		var exprs []string
		for _, d := range facts.DerivedSecrets {
			sources[d.Source] = key
			exprs = append(exprs, jinja(d))
		}
		vars, err := json.Marshal(sources)
		if err != nil {
			t.Fatal(err)
		}
		varsFile := filepath.Join(dir, "vars.json")
		if err := os.WriteFile(varsFile, vars, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ansible", "localhost", "-c", "local", "-i", "localhost,",
			"-e", "@"+varsFile, "-m", "debug", "-a", "msg={{ ["+strings.Join(exprs, ", ")+"] }}")
		cmd.Dir = dir
		// Only what ansible needs: no ANSIBLE_* of the caller.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C.UTF-8",
			"ANSIBLE_CONFIG=" + cfg, "ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "tmp"), "ANSIBLE_NOCOLOR=1"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible: %v\n%s", err, out)
		}
		_, result, ok := strings.Cut(string(out), "=>")
		var parsed struct{ Msg []string }
		if !ok || json.Unmarshal([]byte(result), &parsed) != nil || len(parsed.Msg) != len(exprs) {
			t.Fatalf("unexpected ansible output:\n%s", out)
		}
		for i, d := range facts.DerivedSecrets {
			got, err := d.Value(key)
			if err != nil {
				t.Fatal(err)
			}
			if got != parsed.Msg[i] {
				t.Errorf("%s of %q: Value gives %s, Ansible %s", d.Variable, key, got, parsed.Msg[i])
			}
		}
	}
}

// TestDerivedSecretsAreRedacted: the stand-in prints secrets derived from
// the generic secret key with the upstream's own expressions, in a debug
// task and on the command line of a failing task. Given what the program
// gives it (the key, then upstream.Facts.DerivedValues of it), the wrapper
// masks every one of them.
func TestDerivedSecretsAreRedacted(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	key := derivedKey(t)
	r.vars["matrix_homeserver_generic_secret_key"] = key
	r.secrets = append(r.secrets, key)
	derived, err := loadFacts(t).DerivedValues(map[string]string{
		"matrix_homeserver_generic_secret_key": key,
		"postgres_connection_password":         r.vars["postgres_connection_password"].(string),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(derived) < 100 {
		t.Fatalf("only %d values derived from the key", len(derived))
	}
	redact := append([]string{key, r.vars["postgres_connection_password"].(string)}, derived...)
	res := r.run(t, map[string]string{"MATRIX_REDACT": strings.Join(redact, "\n")},
		"--playbook", "upstream", "--tags", "standin-derived")
	if res.code == 0 {
		t.Fatalf("the failing task did not fail the run:\n%s", res.output)
	}
	r.checkClean(t, res)
	for _, d := range derived {
		if strings.Contains(res.output, d) {
			t.Errorf("a derived secret (%.8s...) reached the output", d)
		}
	}
	// The tasks ran and Ansible's values are the ones computed here: only
	// then are they masked rather than shown.
	for _, masked := range []*regexp.Regexp{
		regexp.MustCompile(`\btelegram_appservice_token: \[secret\]\n`),
		regexp.MustCompile(`\btwitter_database_password: \[secret\]\n`),
		regexp.MustCompile(`\bmeowlnir_signing_key: ed25519 policy_server \[secret\]\n`),
		regexp.MustCompile(`\bcmd:\s+- 'false'\s+- \[secret\]\n`),
	} {
		if !masked.MatchString(res.output) {
			t.Errorf("the output does not match %s:\n%s", masked, res.output)
		}
	}
}
