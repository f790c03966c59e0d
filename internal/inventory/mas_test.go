package inventory

import (
	"strings"
	"testing"
)

func masSettings() Settings {
	return Settings{Domain: "example.org", MigrationVersion: "v1", GenericSecretKey: strings.Repeat("k", 64),
		PostgresPassword: "pw", Registration: RegistrationClosed,
		MAS: &MASSettings{EncryptionKey: strings.Repeat("ab", 32), SigningKeys: []MASKey{{ID: "default-rsa", Key: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"}}}}
}

func TestMASVars(t *testing.T) {
	v, err := NewVars(masSettings())
	if err != nil || !v.MASEnabled || v.MASKeyManagement == nil || *v.MASKeyManagement || len(v.MASKeys) != 1 {
		t.Fatalf("%+v %v", v, err)
	}
	for name, change := range map[string]func(*Settings){
		"short key": func(s *Settings) { s.MAS.EncryptionKey = "abcd" },
		"upper hex": func(s *Settings) { s.MAS.EncryptionKey = strings.Repeat("AB", 32) },
		"no keys":   func(s *Settings) { s.MAS.SigningKeys = nil },
		"not PEM":   func(s *Settings) { s.MAS.SigningKeys[0].Key = "secret" },
		"ha without a MAS database password": func(s *Settings) {
			s.HA = &HASettings{DatabaseHost: "db", DatabaseUser: "u", DatabasePassword: "p", DatabaseName: "n", MediaBucket: "b",
				MediaRegion: "r", MediaEndpoint: "https://s3", WebPort: 1, FederationPort: 2, HealthPort: 3, TrustedCIDR: "10.0.0.0/16"}
		},
	} {
		s := masSettings()
		change(&s)
		if _, err := NewVars(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	m, err := MaskedVars(masSettings())
	if err != nil || m.MASEncryption != MaskedValue || m.MASKeys[0].Key != MaskedValue || m.MASKeys[0].ID != "default-rsa" {
		t.Errorf("masked: %+v %v", m, err)
	}
}
