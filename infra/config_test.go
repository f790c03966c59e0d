package infra

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func base() map[string]string {
	return map[string]string{
		"aws:region":             "eu-central-1",
		"matrix:domain":          "example.org",
		"matrix:access":          "ssh",
		"matrix:sshAllowedCidrs": `["203.0.113.7/32"]`,
	}
}

func with(kv ...string) map[string]string {
	raw := base()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(raw, kv[i])
			continue
		}
		raw[kv[i]] = kv[i+1]
	}
	return raw
}

func problemsOf(t *testing.T, raw map[string]string) []Problem {
	t.Helper()
	_, err := ParseConfig(raw)
	if err == nil {
		return nil
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("ParseConfig error is %T, want *ConfigError: %v", err, err)
	}
	return ce.Problems
}

func TestDefaults(t *testing.T) {
	cfg, err := ParseConfig(base())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Region: "eu-central-1", Domain: "example.org",
		SSHAllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32")},
		InstanceType:    "t3.small", Arch: ArchX86,
		RootVolumeGiB: 20, DataVolumeGiB: 20, SnapshotRetentionDays: 7,
		IPv6: true, ServeBaseDomain: true, Element: true, TURN: false, Calls: CallsNone,
		Registration: RegistrationClosed, Auth: AuthSynapse, SynapseWorkers: WorkersNone, DNSTTL: 300,
		VPCCIDR:   netip.MustParsePrefix("10.42.0.0/16"),
		Provision: true, AdminUser: "admin", Verify: true,
		Access:   AccessSSH,
		Topology: TopologySingle, DBInstanceClass: "db.t4g.micro", DBAllocatedGiB: 20, DBBackupRetentionDays: 7,
		Email:        EmailNone,
		PlaybookVars: PlaybookVars{Values: map[string]any{}, Secret: map[string]bool{}},
		ServedHosts:  []ServedHost{{Service: "element", Host: "element.example.org"}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestNormalisation(t *testing.T) {
	cfg, err := ParseConfig(with(
		"matrix:domain", " Example.ORG. ",
		"matrix:instanceType", "T4G.Small",
		"matrix:registration", "Token",
		"matrix:hostedZoneId", "/hostedzone/Z0123456789ABC",
	))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "example.org" || cfg.MatrixHost() != "matrix.example.org" || cfg.ElementHost() != "element.example.org" {
		t.Errorf("domain = %q (%s, %s)", cfg.Domain, cfg.MatrixHost(), cfg.ElementHost())
	}
	if cfg.InstanceType != "t4g.small" || cfg.Arch != ArchARM {
		t.Errorf("instance type = %q %s", cfg.InstanceType, cfg.Arch)
	}
	if cfg.Registration != RegistrationToken {
		t.Errorf("registration = %q", cfg.Registration)
	}
	if cfg.HostedZoneID != "Z0123456789ABC" {
		t.Errorf("hostedZoneId = %q", cfg.HostedZoneID)
	}
}

// TestRejections names every validation rule with the exact message an
// operator sees.
func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want string
	}{
		{"no region", with("aws:region", "<unset>"), "aws:region: required; set the AWS region to deploy into, e.g. pulumi config set aws:region eu-central-1"},
		{"bad region", with("aws:region", "Frankfurt"), `aws:region: "Frankfurt" is not an AWS region name such as eu-central-1`},
		{"unknown region", with("aws:region", "xx-nowhere-9"), `aws:region: "xx-nowhere-9" is not an AWS region; use one such as eu-central-1 (aws ec2 describe-regions --all-regions lists them)`},
		{"region typo", with("aws:region", "eu-centrl-1"), `aws:region: "eu-centrl-1" is not an AWS region; did you mean eu-central-1? (aws ec2 describe-regions --all-regions lists them)`},
		{"no domain", with("matrix:domain", "<unset>"), "matrix:domain: required; set the base domain users will have in their IDs, e.g. pulumi config set matrix:domain example.org"},
		{"matrix prefix", with("matrix:domain", "matrix.example.org"), `matrix:domain: "matrix.example.org" must be the base domain, not the matrix. host: user IDs would become @alice:matrix.example.org; set example.org and the program creates matrix.example.org`},
		{"scheme", with("matrix:domain", "https://example.org"), `matrix:domain: "https://example.org" must be a bare domain without a scheme; drop the http(s)://`},
		{"path", with("matrix:domain", "example.org/matrix"), `matrix:domain: "example.org/matrix" must be a bare domain without a path; drop everything from the first /`},
		{"port", with("matrix:domain", "example.org:8448"), `matrix:domain: "example.org:8448" must be a bare domain without a port; the playbook serves 443 and 8448 itself`},
		{"user id", with("matrix:domain", "alice@example.org"), `matrix:domain: "alice@example.org" must be a bare domain, not a user ID or e-mail address`},
		{"one label", with("matrix:domain", "localhost"), `matrix:domain: "localhost" must have at least two labels, e.g. example.org`},
		{"bad label", with("matrix:domain", "-bad.example.org"), `matrix:domain: "-bad.example.org" has an invalid label "-bad"; labels are 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen`},
		{"underscore", with("matrix:domain", "my_site.org"), `matrix:domain: "my_site.org" has an invalid label "my_site"; labels are 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen`},
		{"empty label", with("matrix:domain", "example..org"), `matrix:domain: "example..org" has an invalid label ""; labels are 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen`},
		{"ip address", with("matrix:domain", "192.0.2.1"), `matrix:domain: "192.0.2.1" is an IP address or ends in a numeric label; use a domain name`},
		{"ipv6 address", with("matrix:domain", "2001:db8::1"), `matrix:domain: "2001:db8::1" is an IP address; use a domain name, whose Route 53 zone the stack can publish records in`},
		{"bracketed ipv6 with port", with("matrix:domain", "[2001:db8::1]:8448"), `matrix:domain: "[2001:db8::1]:8448" is an IP address; use a domain name, whose Route 53 zone the stack can publish records in`},
		{"too long", with("matrix:domain", strings.Repeat("a.", 124)+"org"), `matrix:domain: "` + strings.Repeat("a.", 124) + `org" is too long; element.<domain> must fit in 253 characters`},
		{"zone id", with("matrix:hostedZoneId", "example.org"), `matrix:hostedZoneId: "example.org" is not a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ; remove the key to look the zone up from matrix:domain`},
		{"no ssh cidrs", with("matrix:sshAllowedCidrs", "<unset>"), `matrix:sshAllowedCidrs: required; list the addresses that may reach SSH, at least the machine that runs pulumi up (Ansible connects over SSH), e.g. pulumi config set --path 'matrix:sshAllowedCidrs[0]' 203.0.113.7/32`},
		{"empty ssh cidrs", with("matrix:sshAllowedCidrs", "[]"), `matrix:sshAllowedCidrs: required; list the addresses that may reach SSH, at least the machine that runs pulumi up (Ansible connects over SSH), e.g. pulumi config set --path 'matrix:sshAllowedCidrs[0]' 203.0.113.7/32`},
		{"ssh not a list", with("matrix:sshAllowedCidrs", "203.0.113.7/32"), `matrix:sshAllowedCidrs: must be a list of strings, e.g. ["203.0.113.7/32"] (pulumi config set --path 'matrix:sshAllowedCidrs[0]' ...)`},
		{"ssh bare address", with("matrix:sshAllowedCidrs", `["203.0.113.7"]`), `matrix:sshAllowedCidrs: "203.0.113.7" is an address, not a CIDR; write 203.0.113.7/32`},
		{"ssh garbage", with("matrix:sshAllowedCidrs", `["office"]`), `matrix:sshAllowedCidrs: "office" is not a CIDR; write an address with a prefix length such as 203.0.113.7/32 or 2001:db8::/64`},
		{"ssh host bits", with("matrix:sshAllowedCidrs", `["203.0.113.7/24"]`), `matrix:sshAllowedCidrs: "203.0.113.7/24" has host bits set; write 203.0.113.0/24`},
		{"ssh anywhere v4", with("matrix:sshAllowedCidrs", `["0.0.0.0/0"]`), `matrix:sshAllowedCidrs: "0.0.0.0/0" opens SSH to the whole internet; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh anywhere v6", with("matrix:sshAllowedCidrs", `["::/0"]`), `matrix:sshAllowedCidrs: "::/0" opens SSH to the whole internet; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh half the internet v4", with("matrix:sshAllowedCidrs", `["0.0.0.0/1"]`), `matrix:sshAllowedCidrs: "0.0.0.0/1" is broader than a /8, the most one organisation holds, so it opens SSH to much of the internet; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh half the internet v6", with("matrix:sshAllowedCidrs", `["8000::/1"]`), `matrix:sshAllowedCidrs: "8000::/1" is broader than a /32, the most one organisation holds, so it opens SSH to much of the internet; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh split /8s", with("matrix:sshAllowedCidrs", `["1.0.0.0/9","1.128.0.0/9","2.0.0.0/9"]`), `matrix:sshAllowedCidrs: together the IPv4 sources [1.0.0.0/9 1.128.0.0/9 2.0.0.0/9] cover 1.5 times as many addresses as a /8, the most one organisation holds; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh split /32s", with("matrix:sshAllowedCidrs", `["2001:db8::/32","2001:db9::/32"]`), `matrix:sshAllowedCidrs: together the IPv6 sources [2001:db8::/32 2001:db9::/32] cover 2 times as many addresses as a /32, the most one organisation holds; list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it`},
		{"ssh loopback", with("matrix:sshAllowedCidrs", `["127.0.0.1/32"]`), `matrix:sshAllowedCidrs: "127.0.0.1/32" is a loopback range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh loopback despite opt-in", with("matrix:sshAllowedCidrs", `["::1/128"]`, "matrix:allowSshFromAnywhere", "true"), `matrix:sshAllowedCidrs: "::1/128" is the loopback address, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh unspecified v4", with("matrix:sshAllowedCidrs", `["0.0.0.0/32"]`), `matrix:sshAllowedCidrs: "0.0.0.0/32" is the unspecified ("this network") range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh unspecified v6", with("matrix:sshAllowedCidrs", `["::/128"]`), `matrix:sshAllowedCidrs: "::/128" is the unspecified address, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh link-local v4", with("matrix:sshAllowedCidrs", `["169.254.169.254/32"]`), `matrix:sshAllowedCidrs: "169.254.169.254/32" is a link-local range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh link-local v6", with("matrix:sshAllowedCidrs", `["fe80::/64"]`), `matrix:sshAllowedCidrs: "fe80::/64" is a link-local range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh multicast v4", with("matrix:sshAllowedCidrs", `["224.0.0.0/24"]`), `matrix:sshAllowedCidrs: "224.0.0.0/24" is a multicast range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh multicast v6", with("matrix:sshAllowedCidrs", `["ff02::1/128"]`), `matrix:sshAllowedCidrs: "ff02::1/128" is a multicast range, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)`},
		{"ssh v6 without ipv6", with("matrix:sshAllowedCidrs", `["2001:db8::/64"]`, "matrix:ipv6", "false"), `matrix:sshAllowedCidrs: "2001:db8::/64" is IPv6 but matrix:ipv6 is false, so the host has no IPv6 address; remove it or enable matrix:ipv6`},
		{"ssh duplicate", with("matrix:sshAllowedCidrs", `["203.0.113.7/32","203.0.113.7/32"]`), `matrix:sshAllowedCidrs: "203.0.113.7/32" is listed twice; remove the duplicate`},
		{"ssh key garbage", with("matrix:sshPublicKey", "hello"), "matrix:sshPublicKey: is not an OpenSSH public key (the one line in ~/.ssh/id_ed25519.pub); remove the key to have one generated"},
		{"ssh key dsa", with("matrix:sshPublicKey", dsaKey), "matrix:sshPublicKey: has type ssh-dss, which EC2 key pairs do not accept; use an ed25519, RSA or ECDSA key"},
		{"ssh two keys", with("matrix:sshPublicKey", edKey+"\n"+edKey), "matrix:sshPublicKey: holds more than one key; give exactly one"},
		{"instance too small", with("matrix:instanceType", "t3.micro"), `matrix:instanceType: "t3.micro" has 1.0 GiB of memory; the playbook needs at least 2 GiB (Synapse, PostgreSQL and Traefik share the host): use t3.small or larger, or t4g.small for arm64`},
		{"arm too small", with("matrix:instanceType", "t4g.nano"), `matrix:instanceType: "t4g.nano" has 0.5 GiB of memory; the playbook needs at least 2 GiB (Synapse, PostgreSQL and Traefik share the host): use t3.small or larger, or t4g.small for arm64`},
		{"instance garbage", with("matrix:instanceType", "small"), `matrix:instanceType: "small" is not an EC2 instance type such as t3.small`},
		{"mac", with("matrix:instanceType", "mac2.metal"), `matrix:instanceType: "mac2.metal" is a macOS host; the playbook needs Linux on x86_64 or arm64`},
		{"root too small", with("matrix:rootVolumeGiB", "4"), "matrix:rootVolumeGiB: 4 is out of range; the Ubuntu image needs 8 GiB; gp3 allows up to 16384"},
		{"data not a number", with("matrix:dataVolumeGiB", "lots"), `matrix:dataVolumeGiB: "lots" is not a whole number; use a number from 1 to 16384`},
		{"data too big", with("matrix:dataVolumeGiB", "20000"), "matrix:dataVolumeGiB: 20000 is out of range; gp3 volumes hold 1 to 16384 GiB"},
		{"retention zero", with("matrix:snapshotRetentionDays", "0"), "matrix:snapshotRetentionDays: 0 is out of range; Data Lifecycle Manager keeps 1 to 1000 days"},
		{"bool", with("matrix:ipv6", "yes"), `matrix:ipv6: "yes" is not a boolean; use true or false`},
		{"registration", with("matrix:registration", "invite"), `matrix:registration: "invite" is not a registration mode; use closed (default), token or open`},
		{"extra subdomains removed", with("matrix:extraSubdomains", `["ntfy","wiki"]`), "matrix:extraSubdomains: was removed: DNS names now follow the services the playbook runs, so a name can no longer point at nothing (ntfy: set matrix:playbookVars.ntfy_enabled true; wiki: no upstream service is served there); remove it with pulumi config rm matrix:extraSubdomains"},
		{"vars not object", with("matrix:playbookVars", `["ntfy_enabled"]`), "matrix:playbookVars: must be an object of upstream playbook variables, e.g. {ntfy_enabled: true}; set one with pulumi config set --path 'matrix:playbookVars.ntfy_enabled' true"},
		{"vars owned domain", with("matrix:playbookVars", `{"matrix_domain":"example.net"}`), "matrix:playbookVars.matrix_domain: is set by the program: use matrix:domain; remove it (pulumi config rm --path 'matrix:playbookVars.matrix_domain')"},
		{"vars owned registration", with("matrix:playbookVars", `{"matrix_synapse_enable_registration":true}`), "matrix:playbookVars.matrix_synapse_enable_registration: is set by the program: use matrix:registration (closed, token or open); remove it (pulumi config rm --path 'matrix:playbookVars.matrix_synapse_enable_registration')"},
		{"vars owned secret", with("matrix:playbookVars", `{"postgres_connection_password":"x"}`), "matrix:playbookVars.postgres_connection_password: is set by the program: the program generates it and keeps it encrypted in the stack's state; remove it (pulumi config rm --path 'matrix:playbookVars.postgres_connection_password')"},
		{"vars owned admin", with("matrix:playbookVars", `{"matrix_user_creator_users_additional":[]}`), "matrix:playbookVars.matrix_user_creator_users_additional: is set by the program: use matrix:adminUser; the program creates that account with a generated password (adminPassword output); remove it (pulumi config rm --path 'matrix:playbookVars.matrix_user_creator_users_additional')"},
		{"vars owned migration", with("matrix:playbookVars", `{"matrix_playbook_migration_validated_version":"v1"}`), "matrix:playbookVars.matrix_playbook_migration_validated_version: is set by the program: it comes with the upstream pin (MIGRATION_VERSION in ansible/upstream.env); remove it (pulumi config rm --path 'matrix:playbookVars.matrix_playbook_migration_validated_version')"},
		{"vars typo", with("matrix:playbookVars", `{"ntfy_enable":true}`), "matrix:playbookVars.ntfy_enable: the pinned upstream playbook (c0681e4) defines no such variable; did you mean ntfy_enabled? (pulumi config rm --path 'matrix:playbookVars.ntfy_enable')"},
		{"vars unknown", with("matrix:playbookVars", `{"zzz_no_such_thing_at_all":1}`), "matrix:playbookVars.zzz_no_such_thing_at_all: the pinned upstream playbook (c0681e4) defines no such variable in its role defaults or group_vars; check the name in its docs (pulumi config rm --path 'matrix:playbookVars.zzz_no_such_thing_at_all')"},
		{"vars renamed", with("matrix:playbookVars", `{"matrix_vars_yml_snapshotting_enabled":true}`), "matrix:playbookVars.matrix_vars_yml_snapshotting_enabled: the pinned upstream playbook renamed or removed it; its replacement: devture_playbook_state_preserver_vars_preservation_enabled (pulumi config rm --path 'matrix:playbookVars.matrix_vars_yml_snapshotting_enabled', then set the replacement)"},
		{"vars enabled string", with("matrix:playbookVars", `{"ntfy_enabled":"true"}`), `matrix:playbookVars.ntfy_enabled: must be true or false, not the string "true"; write it without quotes in Pulumi.<stack>.yaml, or pulumi config set --path 'matrix:playbookVars.ntfy_enabled' true`},
		{"vars hostname elsewhere", with("matrix:playbookVars", `{"ntfy_enabled":true,"ntfy_hostname":"push.example.net"}`), `matrix:playbookVars.ntfy_hostname: "push.example.net" is not under example.org, whose Route 53 zone this stack manages; use a name under example.org`},
		{"vars hostname empty", with("matrix:playbookVars", `{"ntfy_enabled":true,"ntfy_hostname":""}`), "matrix:playbookVars.ntfy_hostname: is empty; give the hostname ntfy should be served at (under example.org), or remove it for the default"},
		{"vars hostname not evaluated", with("matrix:playbookVars", `{"matrix_bridge_mautrix_wsproxy_enabled":true}`), "matrix:playbookVars.matrix_bridge_mautrix_wsproxy_hostname: the pinned upstream builds it from variables the program does not evaluate; set it explicitly (a name under example.org) so the program can publish its DNS record"},
		{"vars hostname jinja", with("matrix:playbookVars", `{"ntfy_enabled":true,"ntfy_hostname":"push.{{ matrix_domain }}"}`), `matrix:playbookVars.ntfy_hostname: "push.{{ matrix_domain }}": give the hostname itself, without Jinja, so the program can publish its DNS record`},
		{"vars hostname taken", with("matrix:playbookVars", `{"ntfy_enabled":true,"matrix_server_fqn_ntfy":"element.example.org"}`), `matrix:playbookVars.matrix_server_fqn_ntfy: "element.example.org" is also the hostname of element; give each service its own name`},
		{"ha too many names", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:playbookVars", `{"ntfy_enabled":true,"cinny_enabled":true,"hydrogen_enabled":true,"sable_enabled":true,"etherpad_enabled":true,"matrix_client_schildichat_enabled":true,"matrix_client_fluffychat_enabled":true,"matrix_rageshake_enabled":true}`),
			"matrix:playbookVars: the services it enables need 11 names on the load balancer's certificate (matrix.example.org, example.org, cinny.example.org, element.example.org, etherpad.example.org, fluffychat.example.org, hydrogen.example.org, ntfy.example.org, rageshake.example.org, sable.example.org, schildichat.example.org), and ACM issues at most 10 per certificate by default; switch some of them off, or run them in the single topology"},
		{"ha jitsi", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:playbookVars", `{"jitsi_enabled":true}`), "matrix:playbookVars.jitsi_enabled: cannot run in the ha topology: it needs 10000/udp, and an Application Load Balancer carries no UDP; set it false, or use matrix:topology single"},
		{"ttl", with("matrix:dnsTtl", "5"), "matrix:dnsTtl: 5 is out of range; use 30 to 172800 seconds"},
		{"ttl huge", with("matrix:dnsTtl", "99999999999999999999"), "matrix:dnsTtl: 99999999999999999999 is out of range; use 30 to 172800 seconds"},
		{"ttl hugely negative", with("matrix:dnsTtl", "-99999999999999999999"), "matrix:dnsTtl: -99999999999999999999 is out of range; use 30 to 172800 seconds"},
		{"vpc not cidr", with("matrix:vpcCidr", "10.0.0.0"), `matrix:vpcCidr: "10.0.0.0" is not an IPv4 CIDR; use a private range such as 10.42.0.0/16`},
		{"vpc v6", with("matrix:vpcCidr", "fd00::/48"), `matrix:vpcCidr: "fd00::/48" is not an IPv4 CIDR; use a private range such as 10.42.0.0/16`},
		{"vpc host bits", with("matrix:vpcCidr", "10.42.1.0/16"), `matrix:vpcCidr: "10.42.1.0/16" has host bits set; write 10.42.0.0/16`},
		{"vpc too big", with("matrix:vpcCidr", "10.0.0.0/8"), `matrix:vpcCidr: "10.0.0.0/8" must be between /16 (the largest AWS allows) and /24 (room for two subnets)`},
		{"vpc public", with("matrix:vpcCidr", "8.8.0.0/16"), `matrix:vpcCidr: "8.8.0.0/16" is not a private range; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`},
		{"admin user id", with("matrix:adminUser", "@admin:example.org"), `matrix:adminUser: "@admin:example.org" is not a Matrix localpart; use lower-case letters, digits and . _ = - / + only, e.g. admin (not @admin:example.org)`},
		{"ami id", with("matrix:amiId", "ubuntu-24.04"), `matrix:amiId: "ubuntu-24.04" is not an AMI ID such as ami-0123456789abcdef0; remove the key to use the newest Ubuntu 24.04`},
		{"topology", with("matrix:topology", "cluster"), `matrix:topology: "cluster" is not a topology; use single (default), ha or eks`},
		{"db class", with("matrix:dbInstanceClass", "t4g.micro"), `matrix:dbInstanceClass: "t4g.micro" is not an RDS instance class such as db.t4g.micro`},
		{"db storage", with("matrix:dbAllocatedGiB", "10"), "matrix:dbAllocatedGiB: 10 is out of range; RDS gp3 storage for PostgreSQL holds 20 to 65536 GiB"},
		{"db backups off", with("matrix:dbBackupRetentionDays", "0"), "matrix:dbBackupRetentionDays: 0 is out of range; RDS keeps automated backups 1 to 35 days (0 would turn them off)"},
		{"db multi-az", with("matrix:dbMultiAz", "maybe"), `matrix:dbMultiAz: "maybe" is not a boolean; use true or false`},
		{"allow change", with("matrix:allowTopologyChange", "yes"), `matrix:allowTopologyChange: "yes" is not a boolean; use true or false`},
		{"ha turn", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:turn", "true"), "matrix:turn: TURN cannot run in the ha topology: an Application Load Balancer carries no UDP; set matrix:turn false, or use matrix:topology single"},
		{"ha access ssh", with("matrix:topology", "ha", "matrix:sshAllowedCidrs", "[]"), "matrix:access: ssh is not available in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove the key (pulumi config rm matrix:access)"},
		{"access", with("matrix:access", "telnet"), `matrix:access: "telnet" is not an access mode; use ssm (default: SSH through AWS Systems Manager, no port 22) or ssh (port 22 from matrix:sshAllowedCidrs)`},
		{"ssm with cidrs", with("matrix:access", "ssm"), "matrix:sshAllowedCidrs: is set, but matrix:access is ssm, which opens no port 22 (Ansible reaches the host through AWS Systems Manager); remove it (pulumi config rm matrix:sshAllowedCidrs), or keep SSH on port 22 with pulumi config set matrix:access ssh"},
		{"default ssm with cidrs", with("matrix:access", "<unset>"), "matrix:sshAllowedCidrs: is set, but matrix:access is ssm, which opens no port 22 (Ansible reaches the host through AWS Systems Manager); remove it (pulumi config rm matrix:sshAllowedCidrs), or keep SSH on port 22 with pulumi config set matrix:access ssh"},
		{"ssm from anywhere", with("matrix:access", "<unset>", "matrix:sshAllowedCidrs", "<unset>", "matrix:allowSshFromAnywhere", "true"), "matrix:allowSshFromAnywhere: is true, but matrix:access is ssm, which opens no port 22; remove it (pulumi config rm matrix:allowSshFromAnywhere), or use pulumi config set matrix:access ssh"},
		{"ha from anywhere", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "<unset>", "matrix:allowSshFromAnywhere", "true"), "matrix:allowSshFromAnywhere: is not used in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove it (pulumi config rm matrix:allowSshFromAnywhere)"},
		{"ha ssh", with("matrix:topology", "ha", "matrix:access", "<unset>"), "matrix:sshAllowedCidrs: must be empty in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove the key (pulumi config rm matrix:sshAllowedCidrs)"},
		{"ha ssh key", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:sshPublicKey", edKey), "matrix:sshPublicKey: is not used in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove it (pulumi config rm matrix:sshPublicKey)"},
		{"calls", with("matrix:calls", "jitsi"), `matrix:calls: "jitsi" is not a call stack; use none (default) or element-call`},
		{"ha calls", with("matrix:topology", "ha", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:calls", "element-call"), "matrix:calls: element-call cannot run in the ha topology: LiveKit's media needs UDP (7882/udp, 3479/udp, 30000-30020/udp) straight to the host, and an Application Load Balancer carries no UDP; set matrix:calls none, or use matrix:topology single"},
		{"calls switch in playbookVars", with("matrix:playbookVars", `{"matrix_rtc_enabled":true}`), "matrix:playbookVars.matrix_rtc_enabled: is set by the program: use matrix:calls (none or element-call); remove it (pulumi config rm --path 'matrix:playbookVars.matrix_rtc_enabled')"},
		{"livekit switch in playbookVars", with("matrix:calls", "element-call", "matrix:playbookVars", `{"livekit_server_enabled":false}`), "matrix:playbookVars.livekit_server_enabled: is set by the program: use matrix:calls (none or element-call); remove it (pulumi config rm --path 'matrix:playbookVars.livekit_server_enabled')"},
		{"email mode", with("matrix:email", "smtp"), `matrix:email: "smtp" is not a mail setting; use none (default) or ses`},
		{"email from without ses", with("matrix:emailFrom", "noreply@example.org"), "matrix:emailFrom: only applies with matrix:email ses; set matrix:email ses, or remove it (pulumi config rm matrix:emailFrom); for a relay of your own set exim_relay_sender_address in matrix:playbookVars"},
		{"email from elsewhere", with("matrix:email", "ses", "matrix:emailFrom", "matrix@example.net"), `matrix:emailFrom: "matrix@example.net" is not at example.org, the domain whose SES identity and DNS records this stack manages (and the only one its SMTP credentials may send from); use an address at example.org`},
		{"email from upstream default", with("matrix:email", "ses", "matrix:emailFrom", "matrix@matrix.example.org"), `matrix:emailFrom: "matrix@matrix.example.org" is not at example.org, the domain whose SES identity and DNS records this stack manages (and the only one its SMTP credentials may send from); use an address at example.org`},
		{"email from no address", with("matrix:email", "ses", "matrix:emailFrom", "matrix"), `matrix:emailFrom: "matrix" is not an e-mail address; give one such as matrix@example.org`},
		{"email from bad local part", with("matrix:email", "ses", "matrix:emailFrom", "a..b@example.org"), `matrix:emailFrom: "a..b@example.org" has an invalid local part "a..b"; use letters, digits and . _ + - (at most 64), e.g. matrix@example.org`},
		{"email china", with("aws:region", "cn-north-1", "matrix:email", "ses"), "matrix:email: Amazon SES is not offered in the China regions (cn-north-1); use matrix:email none and a relay of your own through matrix:playbookVars (exim_relay_relay_*)"},
		{"email mail from served", with("matrix:email", "ses", "matrix:playbookVars", `{"ntfy_enabled":true,"ntfy_hostname":"bounce.example.org"}`), "matrix:email: bounce.example.org is where SES's MAIL FROM records go (MX and SPF), but ntfy is served there; give ntfy another hostname through matrix:playbookVars"},
		{"email dmarc not boolean", with("matrix:email", "ses", "matrix:emailDmarc", "p=none"), `matrix:emailDmarc: "p=none" is not a boolean; use true or false`},
		{"vars owned relay with ses", with("matrix:email", "ses", "matrix:playbookVars", `{"exim_relay_relay_host_name":"smtp.example.net"}`), "matrix:playbookVars.exim_relay_relay_host_name: is set by the program: matrix:email ses points the relay at Amazon SES with credentials of its own; use matrix:emailFrom for the sender, or matrix:email none to configure the relay yourself; remove it (pulumi config rm --path 'matrix:playbookVars.exim_relay_relay_host_name')"},
		{"vars owned sender with ses", with("matrix:email", "ses", "matrix:playbookVars", `{"exim_relay_sender_address":"x@example.org"}`), "matrix:playbookVars.exim_relay_sender_address: is set by the program: matrix:email ses points the relay at Amazon SES with credentials of its own; use matrix:emailFrom for the sender, or matrix:email none to configure the relay yourself; remove it (pulumi config rm --path 'matrix:playbookVars.exim_relay_sender_address')"},
		{"typo", with("matrix:sshAllowedCidr", `["203.0.113.7/32"]`), "matrix:sshAllowedCidr: unknown key; did you mean matrix:sshAllowedCidrs? (pulumi config rm matrix:sshAllowedCidr, then set matrix:sshAllowedCidrs)"},
		{"typo case", with("matrix:dnsTTL", "60"), "matrix:dnsTTL: unknown key; did you mean matrix:dnsTtl? (pulumi config rm matrix:dnsTTL, then set matrix:dnsTtl)"},
		{"unknown", with("matrix:zzqxw", "x"), "matrix:zzqxw: unknown key; the known keys are listed in Pulumi.yaml and the README (remove it with pulumi config rm matrix:zzqxw)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, tc.raw)
			if len(ps) != 1 || ps[0].String() != tc.want {
				t.Errorf("Problems:\n got %q\nwant [%q]", ps, tc.want)
			}
		})
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	ps := problemsOf(t, map[string]string{
		"matrix:domain":          "matrix.example.org",
		"matrix:sshAllowedCidrs": `["0.0.0.0/0"]`,
		"matrix:instanceType":    "t3.micro",
		"matrix:registraton":     "open",
	})
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	want := []string{"aws:region", "matrix:domain", "matrix:instanceType", "matrix:registraton", "matrix:sshAllowedCidrs"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	_, err := ParseConfig(map[string]string{"matrix:domain": "matrix.example.org"})
	if msg := err.Error(); !strings.HasPrefix(msg, "invalid stack configuration") || strings.Count(msg, "\n  - ") != 2 {
		t.Errorf("error text lists Problems one per line:\n%s", msg)
	}
}

func TestAllowSSHFromAnywhere(t *testing.T) {
	cfg, err := ParseConfig(with("matrix:sshAllowedCidrs", `["0.0.0.0/0","::/0"]`, "matrix:allowSshFromAnywhere", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SSHAllowedCIDRs) != 2 {
		t.Errorf("cidrs = %v", cfg.SSHAllowedCIDRs)
	}
}

// TestSSHFromTheWholeInternet: the internet split into halves is still the
// internet; each half is refused on its own, and the opt-in accepts them.
func TestSSHFromTheWholeInternet(t *testing.T) {
	for _, cidrs := range []string{`["0.0.0.0/1","128.0.0.0/1"]`, `["::/1","8000::/1"]`} {
		ps := problemsOf(t, with("matrix:sshAllowedCidrs", cidrs))
		if len(ps) != 2 || ps[0].Key != "matrix:sshAllowedCidrs" || !strings.Contains(ps[0].Message, "matrix:allowSshFromAnywhere true") {
			t.Errorf("%s: Problems %q, want both halves refused", cidrs, ps)
		}
		if ps := problemsOf(t, with("matrix:sshAllowedCidrs", cidrs, "matrix:allowSshFromAnywhere", "true")); ps != nil {
			t.Errorf("%s with the opt-in: %q", cidrs, ps)
		}
	}
}

// TestSSHSourcesAtTheBound: a whole /8 or /32, or pieces adding up to one,
// is one organisation's block and is accepted; so are private ranges,
// which a VPN or peered VPC may connect from.
func TestSSHSourcesAtTheBound(t *testing.T) {
	for _, cidrs := range []string{
		`["17.0.0.0/8"]`, `["1.0.0.0/9","1.128.0.0/9"]`, `["10.0.0.0/8","10.1.0.0/16"]`,
		`["2001:db8::/32"]`, `["2001:db8::/33","2001:db8:8000::/33","2001:db8::/48"]`,
		`["192.168.0.0/16","fd12:3456:789a::/48"]`,
	} {
		if ps := problemsOf(t, with("matrix:sshAllowedCidrs", cidrs)); ps != nil {
			t.Errorf("%s: %q", cidrs, ps)
		}
	}
}

func TestSSHPublicKeyAccepted(t *testing.T) {
	cfg, err := ParseConfig(with("matrix:sshPublicKey", edKey+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SSHPublicKey != edKey {
		t.Errorf("key = %q", cfg.SSHPublicKey)
	}
}

func TestArchitecture(t *testing.T) {
	for typ, want := range map[string]Arch{
		"t3.small": ArchX86, "t3a.medium": ArchX86, "m7i.large": ArchX86, "g4dn.xlarge": ArchX86, "c5n.large": ArchX86,
		"t4g.small": ArchARM, "m7gd.large": ArchARM, "c6gn.medium": ArchARM, "a1.large": ArchARM, "r8g.large": ArchARM, "im4gn.large": ArchARM,
	} {
		got, msg := classifyInstanceType(typ)
		if got != want || msg != "" {
			t.Errorf("%s: %q %q, want %q", typ, got, msg, want)
		}
	}
}

func TestKeysDeclaredOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		if seen[k.Name] {
			t.Errorf("%s declared twice", k.Name)
		}
		seen[k.Name] = true
		if k.Description == "" || !strings.Contains("string integer boolean array object", k.Type) {
			t.Errorf("%s: type %q, description %q", k.Name, k.Type, k.Description)
		}
	}
}

const (
	edKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIJvGDR4Dkbc3USWRXrEcdqhHfyZ2sxG6i6A8B5hcCYm operator@laptop"
	dsaKey = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACBAPKsD1Alv3EXGcbpk4XeuIetCPYVUWm0aq1hbnhh9o6y5L5s4qnaXQDrWPNQ7gw5JtC6wzqJKgY6cEBSK9mg6o3JyK+4iFhgUeAJAN4vBNhcj4x8cNY6rkf9wTSUPTGwKdLdP1/iQfTKNXv6v2RusXmQlZL6AtSyWw/vYX4y5eTf"
)

func TestHAConfig(t *testing.T) {
	cfg, err := ParseConfig(with("matrix:topology", "HA", "matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]", "matrix:dbMultiAz", "true",
		"matrix:dbInstanceClass", "db.m7g.large", "matrix:dbAllocatedGiB", "100", "matrix:dbBackupRetentionDays", "35"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Topology != TopologyHA || !cfg.DBMultiAZ || cfg.DBInstanceClass != "db.m7g.large" || cfg.DBAllocatedGiB != 100 || cfg.DBBackupRetentionDays != 35 || len(cfg.SSHAllowedCIDRs) != 0 {
		t.Errorf("ha config: %+v", cfg)
	}
	if cfg.Access != AccessSSM {
		t.Errorf("ha access %q, want ssm", cfg.Access)
	}
	// Single with ssh still requires SSH sources.
	if ps := problemsOf(t, with("matrix:sshAllowedCidrs", "[]")); len(ps) != 1 || ps[0].Key != "matrix:sshAllowedCidrs" {
		t.Errorf("single with no SSH sources: %v", ps)
	}
}

// TestSSMIsTheDefault: a stack that says nothing about access reaches its
// host through Systems Manager and needs no SSH source address.
func TestSSMIsTheDefault(t *testing.T) {
	cfg, err := ParseConfig(with("matrix:access", "<unset>", "matrix:sshAllowedCidrs", "<unset>"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Access != AccessSSM || len(cfg.SSHAllowedCIDRs) != 0 {
		t.Errorf("default access %q with SSH sources %v, want ssm and none", cfg.Access, cfg.SSHAllowedCIDRs)
	}
	if ps := problemsOf(t, with("matrix:access", "<unset>", "matrix:sshAllowedCidrs", "[]")); len(ps) != 0 {
		t.Errorf("ssm with an empty sshAllowedCidrs: %v", ps)
	}
}

func TestDBIdentifier(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"matrix", "ha"}:                    "matrix-ha",
		{"matrix", "Prod_EU.1"}:             "matrix-prod-eu-1",
		{"9lives", "x"}:                     "m-9lives-x",
		{"matrix", strings.Repeat("a", 80)}: "matrix-" + strings.Repeat("a", 56),
	} {
		if got := DBIdentifier(in[0], in[1]); got != want {
			t.Errorf("DBIdentifier(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
