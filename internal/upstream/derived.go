package upstream

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/google/uuid"
)

// DerivedSecret is a secret the upstream computes from another variable
// rather than asking for it, such as
//
//	matrix_bridge_mautrix_telegram_appservice_token: "{{ (matrix_homeserver_generic_secret_key + ':telegr.as.token') | hash('sha512') | to_uuid }}"
//
// Its value is as secret as its source's, and a task that prints it (a
// failing task shows its arguments) prints a value the wrapper would not
// redact unless it is told that value too: Value computes it.
//
// The value is Before + the expression's result + After, where the result
// is hash(Source + Salt), then either to_uuid, or the first HexPrefix
// characters of the hex digest in base64 without padding, or the hex digest
// itself.
type DerivedSecret struct {
	Variable string `json:"variable"`
	Source   string `json:"source"` // the variable the secret derives from
	Salt     string `json:"salt"`   // the literal appended to the source's value
	Hash     string `json:"hash"`   // the algorithm of Ansible's hash filter, e.g. "sha512"
	ToUUID   bool   `json:"toUuid,omitempty"`
	// HexPrefix is N of "(... | hash(...))[:N]": the result keeps the first
	// N characters of the hex digest; 0 keeps all.
	HexPrefix int `json:"hexPrefix,omitempty"`
	// Base64 is "| b64encode | regex_replace('=+$', '')" after the rest:
	// the text in standard base64 without its padding.
	Base64 bool `json:"base64,omitempty"`
	// Before and After are literal text around the expression (e.g.
	// "ed25519 policy_server "): public, and not part of what Value returns.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Condition is the "if COND else ''" the expression is under, as text:
	// the variable is empty unless it holds. Value ignores it; a value that
	// is never printed does no harm in a redaction list.
	Condition string `json:"condition,omitempty"`
}

// SkippedDerivation is a value that looks derived from a secret (it
// applies a hash, to_uuid or base64 filter, or uses the source of a
// DerivedSecret in another way than copying it) in a form the generator
// does not understand: its secret would not be redacted.
type SkippedDerivation struct {
	Variable string `json:"variable"`
	Value    string `json:"value"`
	Reason   string `json:"reason"`
}

// hashes are the algorithms of Ansible's hash filter (Python's hashlib
// names) that Value computes.
var hashes = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

// ansibleNamespace is the namespace of Ansible's to_uuid filter
// (UUID_NAMESPACE_ANSIBLE in ansible/plugins/filter/core.py).
var ansibleNamespace = uuid.MustParse("361E6D51-FAEC-444A-9079-341386DA8E2E")

// Value computes the secret from source, the value of d.Source, the way
// Ansible evaluates the expression: hash('alg') is the hex digest of the
// UTF-8 text, to_uuid is uuid.uuid5(namespace, text) in lower case.
func (d DerivedSecret) Value(source string) (string, error) {
	newHash, ok := hashes[d.Hash]
	if !ok {
		return "", fmt.Errorf("upstream: %s: hash algorithm %q is not supported", d.Variable, d.Hash)
	}
	h := newHash()
	h.Write([]byte(source + d.Salt))
	v := hex.EncodeToString(h.Sum(nil))
	switch {
	case d.ToUUID && (d.HexPrefix != 0 || d.Base64):
		return "", fmt.Errorf("upstream: %s: to_uuid with a prefix or base64 is not a known form", d.Variable)
	case d.ToUUID:
		return uuid.NewSHA1(ansibleNamespace, []byte(v)).String(), nil
	}
	if d.HexPrefix < 0 {
		return "", fmt.Errorf("upstream: %s: negative prefix %d", d.Variable, d.HexPrefix)
	}
	if d.HexPrefix > 0 && d.HexPrefix < len(v) { // Python's [:N] past the end keeps all
		v = v[:d.HexPrefix]
	}
	if d.Base64 {
		v = strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(v)), "=")
	}
	return v, nil
}

// DerivedValues returns the value of every derived secret whose source is
// a key of sources (variable name to value), in the order of
// DerivedSecrets, each value once (several variables share a salt): the
// values to add to a redaction list beside the sources themselves.
func (f Facts) DerivedValues(sources map[string]string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range f.DerivedSecrets {
		source, ok := sources[d.Source]
		if !ok {
			continue
		}
		v, err := d.Value(source)
		if err != nil {
			return nil, err
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}
