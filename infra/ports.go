package infra

// Ports of the ha topology, defined once: the security groups, the load
// balancer's listeners and target groups and the rendered playbook
// variables all read them from here.
const (
	// TraefikWebPort is Traefik's plain HTTP entrypoint on the host
	// (traefik_container_web_host_bind_port); the ALB's 443 forwards here.
	TraefikWebPort = 81
	// TraefikFederationPort is the plain federation entrypoint on the host
	// (matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port);
	// the ALB's 8448 forwards here.
	TraefikFederationPort = 8449
	// TraefikHealthPort is Traefik's internal client API entrypoint
	// (matrix-internal-matrix-client-api) bound on the host
	// (matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port).
	// The target groups' health checks use it: of Traefik's entrypoints it
	// is the one whose routes to Synapse match on the path alone, and a
	// health check cannot send the Host header the other entrypoints route
	// by. A check through it fails when either Traefik or Synapse is down,
	// where a check of Synapse's own port missed a dead Traefik.
	TraefikHealthPort = 8008
	// PostgresPort is where RDS listens.
	PostgresPort = 5432

	ALBHTTPPort       = 80
	ALBHTTPSPort      = 443
	ALBFederationPort = 8448

	// HealthPath is what the health checks ask for: a client API request
	// that needs no account, which Traefik routes to Synapse (its internal
	// entrypoint carries /_matrix only, not Synapse's bare /health).
	HealthPath = "/_matrix/client/versions"
	// DatabaseUser and DatabaseName are what Synapse connects as and to.
	DatabaseUser = "synapse"
	DatabaseName = "synapse"
)

// DataDevice is where the data volume is attached. Nitro instances expose
// it as an NVMe device whose serial is the volume ID; the prepare playbook
// resolves either form.
const DataDevice = "/dev/sdf"

// SSHUser is the login user of Ubuntu cloud images (passwordless sudo).
const SSHUser = "ubuntu"
