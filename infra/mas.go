package infra

import (
	"fmt"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MASSecrets are what the Matrix Authentication Service needs from the
// stack: the encryption key of its database's secrets, and the keys it
// signs tokens with. The upstream generates the signing keys on the host
// (matrix_authentication_service_key_management_enabled); an ha host is
// disposable, so the stack keeps them, in both topologies alike.
type MASSecrets struct {
	EncryptionKey *random.RandomBytes
	SigningKeys   []MASSigningKey
}

// MASSigningKey is one signing key and the ID MAS publishes it under.
type MASSigningKey struct {
	ID  string
	Key *tls.PrivateKey
}

// masKeySpecs are the signing keys, with the upstream's key IDs: RS256 is
// the algorithm OpenID Connect requires, ES256 the one most clients prefer.
// pulumi-tls generates no secp256k1 key, so the upstream's ES256K key is
// left out; P-384 is too, as no Matrix client asks for ES384.
// The IDs of MAS's signing keys (the upstream's).
const (
	MASKeyRSA   = "default-rsa"
	MASKeyECDSA = "default-ecdsa-p256"
)

var masKeySpecs = []struct {
	id   string
	args tls.PrivateKeyArgs
}{
	{MASKeyRSA, tls.PrivateKeyArgs{Algorithm: pulumi.String("RSA"), RsaBits: pulumi.Int(2048)}},
	{MASKeyECDSA, tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256")}},
}

// NewMASSecrets makes MAS's encryption key and signing keys once.
func NewMASSecrets(ctx *pulumi.Context, opts ...pulumi.ResourceOption) (*MASSecrets, error) {
	s := &MASSecrets{}
	var err error
	// 32 bytes as 64 hex digits, what MAS reads (openssl rand -hex 32 in
	// the upstream's docs).
	if s.EncryptionKey, err = random.NewRandomBytes(ctx, "mas-encryption-key", &random.RandomBytesArgs{Length: pulumi.Int(32)}, opts...); err != nil {
		return nil, fmt.Errorf("mas: %w", err)
	}
	for _, spec := range masKeySpecs {
		args := spec.args
		key, err := tls.NewPrivateKey(ctx, "mas-"+spec.id, &args, opts...)
		if err != nil {
			return nil, fmt.Errorf("mas: %w", err)
		}
		s.SigningKeys = append(s.SigningKeys, MASSigningKey{ID: spec.id, Key: key})
	}
	return s, nil
}

// settings resolves the secrets into what vars.yml holds; an output that
// is secret as its parts are. A nil receiver (MAS off) yields nil.
func (s *MASSecrets) Settings() pulumi.Output {
	if s == nil {
		return pulumi.ToOutput((*inventory.MASSettings)(nil))
	}
	parts := []any{s.EncryptionKey.Hex}
	for _, k := range s.SigningKeys {
		parts = append(parts, k.Key.PrivateKeyPemPkcs8)
	}
	return pulumi.All(parts...).ApplyT(func(v []any) *inventory.MASSettings {
		m := &inventory.MASSettings{EncryptionKey: v[0].(string)}
		for i, k := range s.SigningKeys {
			m.SigningKeys = append(m.SigningKeys, inventory.MASKey{ID: k.ID, Key: v[1+i].(string)})
		}
		return m
	})
}

// masked are the settings for the masked vars.yml: the key IDs only.
func (s *MASSecrets) Masked() *inventory.MASSettings {
	if s == nil {
		return nil
	}
	m := &inventory.MASSettings{EncryptionKey: strings.Repeat("0", 64)}
	for _, k := range s.SigningKeys {
		m.SigningKeys = append(m.SigningKeys, inventory.MASKey{ID: k.ID, Key: "-----BEGIN masked"})
	}
	return m
}

// redactions are the values the wrapper masks: the encryption key, and
// every line of the keys' PEM bodies (Ansible may print a key JSON-escaped
// on one line, where only its lines, not the whole, appear as they are).
func (s *MASSecrets) Redactions() []any {
	if s == nil {
		return nil
	}
	out := []any{s.EncryptionKey.Hex}
	for _, k := range s.SigningKeys {
		out = append(out, k.Key.PrivateKeyPemPkcs8.ApplyT(pemBodyLines))
	}
	return out
}

// pemBodyLines keeps the base64 lines of a PEM block, one per line; the
// BEGIN and END lines are no secret.
func pemBodyLines(pem string) string {
	var lines []string
	for _, l := range strings.Split(pem, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
