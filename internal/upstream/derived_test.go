package upstream

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

const testKey = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

// TestDerivedValueMatchesAnsible holds values ansible-core 2.14 printed for
// the same expressions (ansible localhost -m debug -a 'msg={{ ... }}');
// ansible/derived_test.go asks the installed Ansible again.
func TestDerivedValueMatchesAnsible(t *testing.T) {
	for _, c := range []struct {
		d      DerivedSecret
		source string
		want   string
	}{
		{DerivedSecret{Salt: ":salt", Hash: "sha512", ToUUID: true}, "k", "9c1be58c-d30a-5f84-a971-d4e06fcd2313"},
		{DerivedSecret{Salt: ":telegr.as.token", Hash: "sha512", ToUUID: true}, testKey, "83876cdb-d4f2-55b5-af3b-43a0abd4907b"},
		// UTF-8, not Latin-1 or UTF-16.
		{DerivedSecret{Salt: ":é", Hash: "sha512", ToUUID: true}, "ключ", "33d45562-7e36-5bd3-b51f-59918fe7d2b6"},
		{DerivedSecret{Salt: ":meowlnir.policy_server.signing_key", Hash: "sha512", HexPrefix: 32, Base64: true}, testKey, "ZDczOGE2NTNjMWUyMzFhNzY5NjFlODlhZGFlNzk2NWY"},
		{DerivedSecret{Salt: ":salt", Hash: "sha256"}, "k", "73d8742e976dfca6be817e03efbed768c3c674083484f569323b979a35e798e3"},
	} {
		got, err := c.d.Value(c.source)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%+v of %q = %s, Ansible says %s", c.d, c.source, got, c.want)
		}
	}
	if _, err := (DerivedSecret{Variable: "x", Hash: "whirlpool"}).Value("k"); err == nil {
		t.Error("an unknown algorithm computes a value")
	}
}

func TestParseDerived(t *testing.T) {
	for _, c := range []struct {
		text string
		want DerivedSecret
	}{
		{"{{ (matrix_homeserver_generic_secret_key + ':telegr.as.token') | hash('sha512') | to_uuid }}",
			DerivedSecret{Source: "matrix_homeserver_generic_secret_key", Salt: ":telegr.as.token", Hash: "sha512", ToUUID: true}},
		{"{{ (key + ':mau.twt.db') | hash('sha512') | to_uuid if postgres_enabled else '' }}",
			DerivedSecret{Source: "key", Salt: ":mau.twt.db", Hash: "sha512", ToUUID: true, Condition: "postgres_enabled"}},
		{"{{ ((key + ':coturn.sas') | hash('sha512') | to_uuid) if coturn_authentication_method == 'auth-secret' else '' }}",
			DerivedSecret{Source: "key", Salt: ":coturn.sas", Hash: "sha512", ToUUID: true, Condition: "coturn_authentication_method == 'auth-secret'"}},
		{"ed25519 policy_server {{ ((key + ':m') | hash('sha512'))[:32] | b64encode | regex_replace('=+$', '') }}",
			DerivedSecret{Source: "key", Salt: ":m", Hash: "sha512", HexPrefix: 32, Base64: true, Before: "ed25519 policy_server "}},
		{"{{ (key ~ ':x') | hash('sha1') }}", DerivedSecret{Source: "key", Salt: ":x", Hash: "sha1"}},
	} {
		c.want.Variable = "v"
		got, reason := parseDerived("v", c.text)
		if reason != "" || got != c.want {
			t.Errorf("%s:\n got %+v %q\nwant %+v", c.text, got, reason, c.want)
		}
	}
	for _, text := range []string{
		"{{ key | hash('sha512') }}",                                  // no salt: not a form seen upstream
		"{{ (key + ':a') | hash }}",                                   // default algorithm
		"{{ (key + ':a') | hash('sha512') | to_uuid | upper }}",       // a filter after
		"{{ (key + ':a') | hash('whirlpool') | to_uuid }}",            // unsupported algorithm
		"{{ (key + ':a') | hash('sha512') | to_uuid if x else 'y' }}", // else not empty
		"{{ (key + ':a') | hash('sha512') }}-{{ other }}",             // two expressions
		"{{ key | password_hash('sha512') }}",
	} {
		if d, reason := parseDerived("v", text); reason == "" {
			t.Errorf("%s parses as %+v", text, d)
		}
	}
}

// TestDerivedSecretsSkipsUnknownForms: a value applying a deriving filter
// in an unknown form, or using a source in another way than copying it, is
// reported rather than lost.
func TestDerivedSecretsSkipsUnknownForms(t *testing.T) {
	var group map[string]*yaml.Node
	doc := `
derived: "{{ (src + ':a') | hash('sha512') | to_uuid }}"
copy: "{{ src }}"
copy_if: "{{ src if enabled else '' }}"
nested:
  - name: x
    token: "{{ (src + ':b') | hash('sha512') | to_uuid }}"
odd_filter: "{{ src | b64encode }}"
odd_use: "prefix-{{ src }}"
odd_use_filter: "{{ src | upper }}"
unrelated: "{{ other | to_json }}"
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	group = map[string]*yaml.Node{}
	root := n.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		group[root.Content[i].Value] = root.Content[i+1]
	}
	derived, skipped := derivedSecrets(definitions{group: group, role: map[string]*yaml.Node{}})
	var names []string
	for _, d := range derived {
		names = append(names, d.Variable+d.Salt)
	}
	if want := []string{"derived:a", "nested:b"}; !slices.Equal(names, want) {
		t.Errorf("derived %v, want %v", names, want)
	}
	names = nil
	for _, s := range skipped {
		names = append(names, s.Variable)
	}
	if want := []string{"odd_filter", "odd_use", "odd_use_filter"}; !slices.Equal(names, want) {
		t.Errorf("skipped %v, want %v", names, want)
	}
}

func TestDerivedValuesOnceInOrder(t *testing.T) {
	f := Facts{DerivedSecrets: []DerivedSecret{
		{Variable: "a", Source: "k", Salt: ":x", Hash: "sha512", ToUUID: true},
		{Variable: "b", Source: "other", Salt: ":y", Hash: "sha512", ToUUID: true},
		{Variable: "c", Source: "k", Salt: ":z", Hash: "sha512", ToUUID: true},
		{Variable: "d", Source: "k", Salt: ":x", Hash: "sha512", ToUUID: true},
	}}
	got, err := f.DerivedValues(map[string]string{"k": "key"})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.DerivedSecrets[0].Value("key")
	z, _ := f.DerivedSecrets[2].Value("key")
	if want := []string{x, z}; !slices.Equal(got, want) {
		t.Errorf("DerivedValues = %v, want %v", got, want)
	}
}

// TestDerivedSecretsAtPin checks the facts against a plain reading of the
// snapshot: every line of group_vars/matrix_servers that hashes something
// is a DerivedSecret, and nothing is skipped, so that the redaction list
// covers every derived secret.
func TestDerivedSecretsAtPin(t *testing.T) {
	f := load(t)
	if len(f.DerivedSkipped) != 0 {
		t.Errorf("derived secrets in forms the generator does not extract, which would not be redacted: %+v", f.DerivedSkipped)
	}
	have := map[string]bool{}
	for _, d := range f.DerivedSecrets {
		have[d.Variable] = true
	}
	file, err := os.Open(filepath.Join(unpacked(t), groupVarsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	line := regexp.MustCompile(`^(\w+):.*\bhash\(`)
	var want []string
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			want = append(want, m[1])
			if !have[m[1]] {
				t.Errorf("%s derives a secret but is not in derivedSecrets", m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) < 100 || len(want) != len(f.DerivedSecrets) {
		t.Errorf("group_vars hashes in %d lines, the facts hold %d derived secrets", len(want), len(f.DerivedSecrets))
	}
	for _, d := range f.DerivedSecrets {
		if d.Source != "matrix_homeserver_generic_secret_key" {
			t.Errorf("%s derives from %s: is it a secret the program sets, and in redactions()?", d.Variable, d.Source)
		}
	}
	i := slices.IndexFunc(f.DerivedSecrets, func(d DerivedSecret) bool {
		return d.Variable == "matrix_bridge_mautrix_telegram_appservice_token"
	})
	if i < 0 || f.DerivedSecrets[i].Salt != ":telegr.as.token" || !f.DerivedSecrets[i].ToUUID || f.DerivedSecrets[i].Hash != "sha512" {
		t.Errorf("the mautrix-telegram appservice token is not extracted as upstream computes it")
	}
}
