package infra

import (
	"slices"
	"testing"
)

// TestAlertEmailRejections: every bad address is refused with its key,
// what is wrong and the fix, all Problems at once.
func TestAlertEmailRejections(t *testing.T) {
	for _, tc := range []struct {
		raw  map[string]string
		want []Problem
	}{
		{with("matrix:alertEmail", "ops"), []Problem{{"matrix:alertEmail", `"ops" is not an e-mail address; give one mailbox such as ops@example.org, or remove the key to turn alerting off`}}},
		{with("matrix:alertEmail", "a@example.org,b@example.org"), []Problem{{"matrix:alertEmail", `"a@example.org,b@example.org" holds more than one address or spaces; give one address (a mailing list reaches several people)`}}},
		{with("matrix:alertEmail", "Ops <ops@example.org>"), []Problem{{"matrix:alertEmail", `"Ops <ops@example.org>" holds more than one address or spaces; give one address (a mailing list reaches several people)`}}},
		{with("matrix:alertEmail", "<ops@example.org>"), []Problem{{"matrix:alertEmail", `"<ops@example.org>" has a display name or angle brackets; give the bare address, e.g. ops@example.org`}}},
		{with("matrix:alertEmail", "ops@localhost"), []Problem{{"matrix:alertEmail", `"ops@localhost" has no domain name after the @ ("localhost"); SNS delivers to a domain such as example.org`}}},
		{with("matrix:alertEmail", "ops@[192.0.2.1]"), []Problem{{"matrix:alertEmail", `"ops@[192.0.2.1]" has no domain name after the @ ("[192.0.2.1]"); SNS delivers to a domain such as example.org`}}},
		{with("matrix:alertEmail", "ops@example.org", "aws:region", "cn-north-1"), []Problem{{"matrix:alertEmail", "alerting needs Route 53 health-check metrics, which CloudWatch publishes in us-east-1 of the aws partition only; cn-north-1 cannot reach them. Remove the key (pulumi config rm matrix:alertEmail)"}}},
		{with("matrix:alertEmail", "ops@example.org", "matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:dbInstanceClass", "db.x2g.large"), []Problem{{"matrix:dbInstanceClass", `"db.x2g.large" is not a class whose memory alerting knows (db.t3, db.t4g, db.m*, db.r* of a size such as large or 2xlarge), and the database connections alarm's threshold follows from it; use such a class, or remove matrix:alertEmail`}}},
		// Reported with the other Problems, not instead of them.
		{with("matrix:alertEmail", "nope", "matrix:dnsTtl", "1"), []Problem{{"matrix:alertEmail", `"nope" is not an e-mail address; give one mailbox such as ops@example.org, or remove the key to turn alerting off`}, {"matrix:dnsTtl", "1 is out of range; use 30 to 172800 seconds"}}},
	} {
		if got := problemsOf(t, tc.raw); !slices.Equal(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q", tc.raw["matrix:alertEmail"], got, tc.want)
		}
	}
}

func TestAlertEmailAccepted(t *testing.T) {
	for in, want := range map[string]string{"": "", " ops@example.org ": "ops@example.org", "matrix-alerts+prod@mail.example.co.uk": "matrix-alerts+prod@mail.example.co.uk"} {
		cfg, err := ParseConfig(with("matrix:alertEmail", in))
		if err != nil || cfg.AlertEmail != want {
			t.Errorf("%q: %q, %v", in, cfg.AlertEmail, err)
		}
	}
	// Without alerting, an unknown database class stays allowed.
	if _, err := ParseConfig(with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:dbInstanceClass", "db.x2g.large")); err != nil {
		t.Error(err)
	}
}

// TestDBConnectionsThreshold: 70% of LEAST(memory/9531392, 5000).
func TestDBConnectionsThreshold(t *testing.T) {
	for class, want := range map[string]float64{
		"db.t4g.micro": 78, "db.t3.small": 157, "db.t4g.medium": 315,
		"db.m7g.large": 630, "db.r6g.xlarge": 2522, "db.r6i.16xlarge": 3500,
	} {
		if got, err := DBConnectionsThreshold(class); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", class, got, err, want)
		}
	}
	for _, class := range []string{"db.x2g.large", "db.m5.metal", "db.t2.small", "nonsense"} {
		if _, err := DBConnectionsThreshold(class); err == nil {
			t.Errorf("%s: sized without a known memory", class)
		}
	}
}
