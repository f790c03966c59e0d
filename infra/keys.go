package infra

// Namespace is the Pulumi config namespace of every key this program reads.
// It equals the project name in Pulumi.yaml, which is what lets that file
// declare the keys with types and descriptions.
const Namespace = "matrix"

// Key describes one matrix:* config key. The table below is the single
// source of truth: Pulumi.yaml's config block and the README's reference are
// tested against it, and the parser takes its defaults from it.
type Key struct {
	Name        string
	Type        string // "string", "integer", "boolean", "array" (of strings) or "object"
	Default     any    // nil: required (Pulumi itself insists on keys declared without a default)
	Description string
}

// Keys lists every key in the order the README documents them.
func Keys() []Key {
	return []Key{
		{"domain", "string", nil, "Base domain of user IDs (@alice:<domain>); the homeserver is served at matrix.<domain>. Required."},
		{"hostedZoneId", "string", "", "Route 53 public hosted zone holding the records; looked up from the domain (or its parents) when unset."},
		{"access", "string", "ssm", "How Ansible and operators reach the host: ssm (SSH inside an AWS Systems Manager session to the instance ID; no inbound port 22; needs the AWS CLI and the Session Manager plugin) or ssh (22/tcp from sshAllowedCidrs). The ha topology is always ssm."},
		{"sshAllowedCidrs", "array", []string{}, "IPv4/IPv6 CIDRs allowed to reach SSH (22/tcp), e.g. [\"203.0.113.7/32\"]. Required with access ssh; refused with ssm (no port 22)."},
		{"allowSshFromAnywhere", "boolean", false, "Explicit opt-in required before sshAllowedCidrs may contain 0.0.0.0/0 or ::/0 (access ssh only)."},
		{"sshPublicKey", "string", "", "OpenSSH public key for the ubuntu user; when unset an ED25519 key is generated and its private half exported as a secret."},
		{"instanceType", "string", "t3.small", "EC2 instance type, at least 2 GiB RAM; x86_64 is fully supported by the playbook, arm64 (e.g. t4g.small) is cheaper with caveats."},
		{"amiId", "string", "", "Pin the host's image (an Ubuntu 24.04 AMI of the region, e.g. the latestAmiId output) to roll it deliberately; empty: the newest at creation, kept afterwards."},
		{"rootVolumeGiB", "integer", 20, "Size of the encrypted gp3 root volume (OS, Docker images)."},
		{"dataVolumeGiB", "integer", 20, "Size of the encrypted gp3 data volume mounted at /matrix (database, media, certificates)."},
		{"availabilityZone", "string", "", "Zone of the single host and its data volume: one of the two zones the VPC spans (the region's first two by name); empty: the first. Changing it moves both: see docs/runbook-zone-move.md."},
		{"dataVolumeSnapshotId", "string", "", "Create the data volume from this EBS snapshot (snap-...), e.g. the latest daily snapshot when moving zones; keep it set afterwards, since the volume was created from it. See docs/runbook-zone-move.md."},
		{"snapshotRetentionDays", "integer", 7, "Days a daily snapshot of the data volume is kept."},
		{"ipv6", "boolean", true, "Give the VPC, subnets and host IPv6 and publish AAAA records."},
		{"serveBaseDomain", "boolean", true, "Point <domain> at the host so it serves /.well-known/matrix/* (turn off when <domain> is served elsewhere)."},
		{"element", "boolean", true, "Serve the Element web client at element.<domain>."},
		{"turn", "boolean", false, "Run the coturn TURN server for voice/video calls and open its ports."},
		{"calls", "string", "none", "Group voice/video calls: none, or element-call (Element Call at call.element.<domain> with the LiveKit SFU and its JWT service on matrix.<domain>; opens LiveKit's media and TURN ports). single topology only."},
		{"registration", "string", "closed", "Who may register: closed (admin creates users), token (registration tokens), open (anyone; spam risk)."},
		{"auth", "string", "synapse", "Who authenticates users: synapse (its own password database) or mas (the Matrix Authentication Service at matrix.<domain>/auth: OAuth 2.0 logins, needed for SSO in Element X; password logins keep working). Existing servers migrate with docs/runbook-mas-migration.md."},
		{"synapseWorkers", "string", "none", "Synapse worker preset of the playbook: none (one process), one-of-each or specialized-workers; workers need a larger matrix:instanceType (the program names the smallest that fits)."},
		{"playbookVars", "object", map[string]any{}, "Any other variable of the pinned upstream playbook, merged into vars.yml with its YAML type (bridges, bots, ntfy, backups, tuning). Secret values: pulumi config set --secret --path 'matrix:playbookVars.<name>'. Hostnames and ports of the services it enables follow. See the README."},
		{"email", "string", "none", "How the homeserver sends mail (password resets, notifications): none (the playbook's relay delivers directly, which EC2 blocks on port 25, so nothing arrives) or ses (Amazon SES of the stack's region: a domain identity with DKIM, its DNS records, and least-privilege SMTP credentials for the relay). See the README's Email section."},
		{"emailFrom", "string", "", "Sender address of the homeserver's mail with matrix:email ses, at <domain>; empty: matrix@<domain>."},
		{"emailDmarc", "boolean", true, "With matrix:email ses, publish _dmarc.<domain> \"v=DMARC1; p=none\" unless the zone already has a DMARC record; false leaves DMARC to you."},
		{"dnsTtl", "integer", 300, "TTL in seconds of the Route 53 records."},
		{"vpcCidr", "string", "10.42.0.0/16", "Private IPv4 range of the VPC (/16 to /24)."},
		{"provision", "boolean", true, "Run the upstream playbook during pulumi up (needs ansible-core on this machine); false declares the AWS resources only."},
		{"adminUser", "string", "admin", "Localpart of the admin account created during pulumi up (@<adminUser>:<domain>); its generated password is the adminPassword secret output. Refused in eks, whose chart creates no account (docs/runbook-eks.md)."},
		{"verify", "boolean", true, "End pulumi up with cmd/verify: federation, TLS, well-known, client API and a login round trip."},
		{"protect", "boolean", false, "Protect what holds data: Pulumi refuses to replace or destroy the instance, the data volume and their attachment until it is lifted (the volume is also retained on delete); termination protection on the instance."},
		{"topology", "string", "single", "single: one EC2 host with an Elastic IP and a data volume; ha: an Auto Scaling Group of one host behind an ALB, PostgreSQL on RDS, media on S3 (no TURN); eks: Element's ess-helm chart on an EKS cluster with node groups in two zones, PostgreSQL on RDS, media on EBS. See docs/topologies.md."},
		{"clusterApiAllowedCidrs", "array", []string{}, "IPv4 CIDRs that may reach the EKS cluster API's public endpoint, e.g. [\"203.0.113.7/32\"]: the machine running pulumi up installs the charts through it (eks only, required there)."},
		{"kubernetesVersion", "string", DefaultKubernetesVersion, "Kubernetes version of the EKS cluster and its node groups; raise it one minor version at a time (eks only; docs/runbook-eks.md)."},
		{"eksNodesPerZone", "integer", 1, "Nodes of matrix:instanceType in each of the two zones' managed node groups (eks only)."},
		{"eksWorkers", "object", map[string]any{}, "Synapse worker types of the chart with their replicas, e.g. {\"event-persister\": 2, \"client-reader\": 2} (eks only; docs/runbook-eks.md)."},
		{"helmValues", "object", map[string]any{}, "Any other value of the ess-helm chart, merged over the values the program derives; values the program owns are refused, naming what to set instead (eks only)."},
		{"dbInstanceClass", "string", "db.t4g.micro", "RDS instance class of the PostgreSQL database (ha only)."},
		{"dbMultiAz", "boolean", false, "Run the RDS database as Multi-AZ with a standby in the second zone (ha only; doubles its price)."},
		{"dbAllocatedGiB", "integer", 20, "Encrypted gp3 storage of the RDS database in GiB (ha only)."},
		{"dbBackupRetentionDays", "integer", 7, "Days RDS keeps automated backups for point-in-time recovery (ha only)."},
		{"alertEmail", "string", "", "E-mail address that receives the alarms (host, external health of the client and federation APIs, database in ha); AWS mails a confirmation link first, which must be clicked. Empty: no alerting. See the README, What you receive."},
		{"dbRestore", "object", map[string]any{}, "Point-in-time restore into a new RDS instance (ha only): {time: <RFC 3339 UTC time or latest>, sourceDbInstanceIdentifier: <default: the stack's first database>}. Keep it set afterwards. See docs/runbook-ha-restore.md."},
		{"allowTopologyChange", "boolean", false, "Explicit opt-in required before matrix:topology may change on a stack that already holds data in the other topology."},
	}
}

func lookupKey(name string) (Key, bool) {
	for _, k := range Keys() {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}
