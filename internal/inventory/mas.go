package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// MAS's database on an external server: its own database and role, the
// upstream's default names (roles/custom/matrix-authentication-service/
// defaults/main.yml), beside Synapse's.
const (
	MASDatabaseName = "matrix_authentication_service"
	MASDatabaseUser = "matrix_authentication_service"
)

// MASSettings are the secrets the Matrix Authentication Service needs from
// the program. The others upstream derives from
// matrix_homeserver_generic_secret_key (the shared secret with Synapse,
// the managed PostgreSQL password).
type MASSettings struct {
	// EncryptionKey is secrets.encryption: 64 hex digits (32 bytes).
	EncryptionKey string
	// SigningKeys are secrets.keys, kept with the stack rather than
	// generated on the host, which the ha topology replaces at will: the
	// keys sign MAS's ID tokens and outlive any one host.
	SigningKeys []MASKey
}

// MASKey is one entry of MAS's secrets.keys: a key ID and a PEM private key.
type MASKey struct {
	ID  string `yaml:"kid"`
	Key string `yaml:"key"`
}

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// applyMAS turns MAS on with the stack's secrets, and maps the
// registration mode onto MAS, which takes registration over from Synapse.
func (v *Vars) applyMAS(m MASSettings, registration string) error {
	if !hexKey.MatchString(m.EncryptionKey) {
		return fmt.Errorf("inventory: the MAS encryption key must be 64 lower-case hex digits")
	}
	if len(m.SigningKeys) == 0 {
		return fmt.Errorf("inventory: MAS needs at least one signing key")
	}
	for _, k := range m.SigningKeys {
		if k.ID == "" || !strings.HasPrefix(k.Key, "-----BEGIN ") {
			return fmt.Errorf("inventory: MAS signing key %q is not a PEM private key", k.ID)
		}
	}
	yes, no := true, false
	v.MASEnabled, v.MASEncryption = true, m.EncryptionKey
	v.MASKeyManagement, v.MASKeys = &no, m.SigningKeys
	switch registration {
	case RegistrationClosed:
		v.MASPasswordRegistration = &no
	case RegistrationToken:
		// As with Synapse's modes: no e-mail verification, which MAS could
		// not send without a mailer.
		v.MASPasswordRegistration, v.MASRegistrationTokenNeeded, v.MASRegistrationEmail = &yes, &yes, &no
	case RegistrationOpen:
		v.MASPasswordRegistration, v.MASRegistrationEmail = &yes, &no
	}
	return nil
}

// applyMASDatabase points MAS at its own database on the ha topology's
// server. RDS refuses unencrypted connections (rds.force_ssl), and MAS
// defaults to ssl_mode disable.
func (v *Vars) applyMASDatabase(h HASettings) error {
	if h.MASDatabasePassword == "" {
		return fmt.Errorf("inventory: ha: the MAS database password is empty")
	}
	v.MASDatabaseHost, v.MASDatabaseUsername = h.DatabaseHost, MASDatabaseUser
	v.MASDatabasePassword, v.MASDatabaseDatabase = h.MASDatabasePassword, MASDatabaseName
	v.MASDatabaseSSLMode = "require"
	return nil
}

// maskedMAS are settings that pass NewVars's checks with no secret in them.
func maskedMAS(m MASSettings) *MASSettings {
	out := MASSettings{EncryptionKey: strings.Repeat("0", 64)}
	for _, k := range m.SigningKeys {
		out.SigningKeys = append(out.SigningKeys, MASKey{ID: k.ID, Key: "-----BEGIN masked"})
	}
	return &out
}

func (v *Vars) maskMAS() {
	if !v.MASEnabled {
		return
	}
	v.MASEncryption = MaskedValue
	for i := range v.MASKeys {
		v.MASKeys[i].Key = MaskedValue
	}
	if v.MASDatabasePassword != "" {
		v.MASDatabasePassword = MaskedValue
	}
}
