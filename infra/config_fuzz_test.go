package infra

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseConfig checks that no input makes validation panic, that every
// rejection names a key the operator can act on, and that nothing accepted
// breaks the rules validation exists for.
//
//	go test ./infra -run '^$' -fuzz FuzzParseConfig -fuzztime 30s
func FuzzParseConfig(f *testing.F) {
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:turn", "true")
	f.Add("matrix.example.org", `["0.0.0.0/0"]`, "t3.micro", "open", "true", "matrix:dnsTTL", "5")
	f.Add("Exa_mple.org.", `["::/0","2001:db8::/64"]`, "t4g.small", "token", "yes", "matrix:extraSubdomains", `["a","a"]`)
	f.Add("https://x.y:80/z", `[1,2]`, "mac2.metal", "", "", "matrix:vpcCidr", "10.0.0.0/8")
	f.Fuzz(func(t *testing.T, domain, cidrs, itype, registration, anywhere, extraKey, extraValue string) {
		raw := map[string]string{
			"aws:region":                  "eu-central-1",
			"matrix:domain":               domain,
			"matrix:sshAllowedCidrs":      cidrs,
			"matrix:instanceType":         itype,
			"matrix:registration":         registration,
			"matrix:allowSshFromAnywhere": anywhere,
			extraKey:                      extraValue,
		}
		cfg, err := ParseConfig(raw)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range ce.Problems {
				if _, known := raw[p.Key]; !known && !isKnownKey(p.Key) {
					t.Fatalf("problem names no key of the input or the table: %q", p)
				}
				if strings.TrimSpace(p.Message) == "" {
					t.Fatalf("problem without a message: %q", p)
				}
			}
			return
		}
		if strings.HasPrefix(cfg.Domain, "matrix.") || domainProblem(cfg.Domain) != "" {
			t.Fatalf("accepted domain %q", cfg.Domain)
		}
		for _, p := range cfg.SSHAllowedCIDRs {
			if p.Bits() == 0 && !cfg.AllowSSHFromAnywhere {
				t.Fatalf("accepted %s without allowSshFromAnywhere", p)
			}
		}
		if _, small := smallTypes[cfg.InstanceType]; small || cfg.Arch == "" {
			t.Fatalf("accepted instance type %q (%q)", cfg.InstanceType, cfg.Arch)
		}
	})
}

func isKnownKey(key string) bool {
	if key == "aws:region" {
		return true
	}
	name, ok := strings.CutPrefix(key, Namespace+":")
	_, known := lookupKey(name)
	return ok && known
}
