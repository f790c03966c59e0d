package eks

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/lbc"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Names inside the cluster.
const (
	Namespace    = "matrix"
	ReleaseName  = "ess"
	StorageClass = "gp3-retain"
	// DBSecret holds the database passwords the chart mounts.
	DBSecret = "matrix-postgres"
	// SigningKeySecret holds Synapse's signing key, under SigningKeyFile.
	SigningKeySecret = "matrix-synapse-signing-key"
	SigningKeyFile   = "signing.key"
	// MASKeysSecret holds MAS's encryption secret and signing keys.
	MASKeysSecret = "matrix-mas-keys"
	// MASDatabase and MASUser are MAS's own database and role on RDS.
	MASDatabase = "mas"
	MASUser     = "mas"
)

func chartVersion() string { return ess.ChartVersion }

// kubeconfig reaches the cluster with the credentials pulumi up runs with,
// through the AWS CLI: no token is stored in the state.
func kubeconfig(name, endpoint, ca, region string) (string, error) {
	b, err := json.Marshal(map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters":        []any{map[string]any{"name": name, "cluster": map[string]any{"server": endpoint, "certificate-authority-data": ca}}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"users": []any{map[string]any{"name": name, "user": map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1",
			"command":    "aws",
			"args":       []string{"eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"},
		}}}},
	})
	return string(b), err
}

// newWorkloads declares what runs in the cluster: the storage class of
// the media volume, the database Secret and the Job that creates the
// databases, the load balancer controller, and the chart.
func (e *EKS) newWorkloads(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	config := pulumi.All(e.Cluster.Name, e.Cluster.Endpoint, e.Cluster.CertificateAuthority.Data().Elem()).ApplyT(func(v []any) (string, error) {
		return kubeconfig(v[0].(string), v[1].(string), v[2].(string), cfg.Region)
	}).(pulumi.StringOutput)
	var err error
	var ready []pulumi.Resource
	for _, a := range e.Addons {
		ready = append(ready, a)
	}
	if e.Kubernetes, err = kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
		Kubeconfig: config,
		// Server-side apply: the fields other controllers own (the load
		// balancer controller's status, HPA replicas) stay theirs.
		EnableServerSideApply: pulumi.Bool(true),
	}, infra.WithOpts(opts, pulumi.DependsOn(ready))...); err != nil {
		return err
	}
	k8s := infra.WithOpts(opts, pulumi.Provider(e.Kubernetes))
	if e.Namespace, err = corev1.NewNamespace(ctx, Namespace, &corev1.NamespaceArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(Namespace)},
	}, k8s...); err != nil {
		return err
	}
	if err := e.newStorage(ctx, k8s...); err != nil {
		return err
	}
	if err := e.newKeys(ctx, hs, opts, k8s); err != nil {
		return err
	}
	if err := e.newDatabases(ctx, hs, k8s...); err != nil {
		return err
	}
	if err := e.newController(ctx, hs, k8s...); err != nil {
		return err
	}
	return e.newRelease(ctx, hs, k8s...)
}

// newKeys keeps Synapse's signing key, and with MAS its encryption secret
// and signing keys, with the stack (made once by pulumi-random and
// pulumi-tls, as for the other topologies) in Secrets the chart mounts:
// the chart would otherwise generate them into a Secret of its own, and
// after a rebuilt cluster or a reinstalled release the server would sign
// as another, MAS could not decrypt what its database holds, and every
// session would end.
func (e *EKS) newKeys(ctx *pulumi.Context, hs *infra.Homeserver, opts, k8s []pulumi.ResourceOption) error {
	key, err := infra.NewSigningKey(ctx, opts...)
	if err != nil {
		return err
	}
	if e.SigningKey, err = e.newSecret(ctx, SigningKeySecret, pulumi.StringMap{SigningKeyFile: key}, k8s...); err != nil {
		return err
	}
	if hs.Config.Auth != infra.AuthMAS {
		return nil
	}
	mas, err := infra.NewMASSecrets(ctx, opts...)
	if err != nil {
		return err
	}
	keys := masKeys()
	data := pulumi.StringMap{keys.Encryption: mas.EncryptionKey.Hex}
	for _, k := range mas.SigningKeys {
		data[masKeyFile(k.ID)] = k.Key.PrivateKeyPemPkcs8
	}
	e.MASKeys, err = e.newSecret(ctx, MASKeysSecret, data, k8s...)
	return err
}

// masKeys name MAS's keys in MASKeysSecret: the signing keys by their IDs.
func masKeys() ess.MASKeys {
	return ess.MASKeys{Secret: MASKeysSecret, Encryption: "encryption", RSA: masKeyFile(infra.MASKeyRSA), ECDSA: masKeyFile(infra.MASKeyECDSA)}
}

func masKeyFile(id string) string { return id + ".pem" }

func (e *EKS) newSecret(ctx *pulumi.Context, name string, data pulumi.StringMap, opts ...pulumi.ResourceOption) (*corev1.Secret, error) {
	return corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata:   metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: e.Namespace.Metadata.Name()},
		StringData: data,
	}, opts...)
}

// newStorage is the media volume's class: encrypted gp3 through the EBS
// CSI driver, kept when its claim goes (Retain: the media outlives a
// mistaken helm uninstall), created in the zone of the pod that first
// mounts it, and tagged so the stack's snapshot policy takes it daily.
func (e *EKS) newStorage(ctx *pulumi.Context, opts ...pulumi.ResourceOption) error {
	var err error
	e.StorageClass, err = storagev1.NewStorageClass(ctx, StorageClass, &storagev1.StorageClassArgs{
		Metadata:             metav1.ObjectMetaArgs{Name: pulumi.String(StorageClass)},
		Provisioner:          pulumi.String("ebs.csi.aws.com"),
		ReclaimPolicy:        pulumi.String("Retain"),
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
		Parameters: pulumi.StringMap{
			"type":      pulumi.String("gp3"),
			"encrypted": pulumi.String("true"),
			// The driver's tagSpecification_N parameters
			// (kubernetes-sigs/aws-ebs-csi-driver, docs/tagging.md).
			"tagSpecification_1": pulumi.String(infra.SnapshotTag + "=" + infra.SnapshotTarget(ctx)),
		},
	}, opts...)
	return err
}

// newDatabases stores the passwords in a Secret and runs a Job that
// creates Synapse's database with C collation (RDS would create it with
// en_US.UTF-8, which Synapse refuses) and MAS's role and database, as the
// ha host's bootstrap does. It is idempotent: a re-run alters the MAS
// password and creates nothing twice.
func (e *EKS) newDatabases(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg, db := hs.Config, e.DB
	data := pulumi.StringMap{"master": db.Password.Result}
	if db.MASPassword != nil {
		data["mas"] = db.MASPassword.Result
	}
	var err error
	if e.DBSecret, err = corev1.NewSecret(ctx, DBSecret, &corev1.SecretArgs{
		Metadata:   metav1.ObjectMetaArgs{Name: pulumi.String(DBSecret), Namespace: e.Namespace.Metadata.Name()},
		StringData: data,
	}, opts...); err != nil {
		return err
	}
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String("PGHOST"), Value: db.Instance.Address},
		corev1.EnvVarArgs{Name: pulumi.String("PGPORT"), Value: pulumi.String(strconv.Itoa(infra.PostgresPort))},
		corev1.EnvVarArgs{Name: pulumi.String("PGUSER"), Value: pulumi.String(infra.DatabaseUser)},
		corev1.EnvVarArgs{Name: pulumi.String("PGDATABASE"), Value: pulumi.String("postgres")},
		corev1.EnvVarArgs{Name: pulumi.String("PGSSLMODE"), Value: pulumi.String("require")},
		secretEnv("PGPASSWORD", "master"),
	}
	script := CreateDatabasesScript(infra.DatabaseName, "")
	if cfg.Auth == infra.AuthMAS {
		env = append(env, secretEnv("MAS_PASSWORD", "mas"))
		script = CreateDatabasesScript(infra.DatabaseName, MASUser)
	}
	e.CreateDatabases, err = batchv1.NewJob(ctx, "create-databases", &batchv1.JobArgs{
		Metadata: metav1.ObjectMetaArgs{Namespace: e.Namespace.Metadata.Name()},
		Spec: batchv1.JobSpecArgs{
			BackoffLimit: pulumi.Int(6),
			Template: corev1.PodTemplateSpecArgs{Spec: corev1.PodSpecArgs{
				RestartPolicy: pulumi.String("OnFailure"),
				Containers: corev1.ContainerArray{corev1.ContainerArgs{
					Name: pulumi.String("psql"),
					// The client of the server's major version.
					Image:   pulumi.String("postgres:" + infra.PostgresMajorVersion + "-alpine"),
					Command: pulumi.StringArray{pulumi.String("sh"), pulumi.String("-ec"), pulumi.String(script)},
					Env:     env,
				}},
			}},
		},
	}, infra.WithOpts(opts, pulumi.DependsOn([]pulumi.Resource{e.DB.Instance}))...)
	return err
}

func secretEnv(name, key string) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: corev1.EnvVarSourceArgs{
		SecretKeyRef: corev1.SecretKeySelectorArgs{Name: pulumi.String(DBSecret), Key: pulumi.String(key)},
	}}
}

// CreateDatabasesScript is the Job's shell script. Passwords reach psql
// through its environment (\getenv), never its arguments.
func CreateDatabasesScript(synapseDB, masUser string) string {
	s := fmt.Sprintf(`exists() { [ "$(psql -v ON_ERROR_STOP=1 -tAc "$1")" = 1 ]; }
exists "SELECT 1 FROM pg_database WHERE datname = '%[1]s'" ||
  psql -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"%[1]s\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
`, synapseDB)
	if masUser == "" {
		return s
	}
	return s + fmt.Sprintf(`verb=CREATE; exists "SELECT 1 FROM pg_roles WHERE rolname = '%[1]s'" && verb=ALTER
psql -v ON_ERROR_STOP=1 <<SQL
\getenv pw MAS_PASSWORD
$verb ROLE "%[1]s" LOGIN PASSWORD :'pw';
SQL
exists "SELECT 1 FROM pg_database WHERE datname = '%[2]s'" || {
  psql -v ON_ERROR_STOP=1 -c "GRANT \"%[1]s\" TO CURRENT_USER"
  psql -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"%[2]s\" OWNER \"%[1]s\" ENCODING 'UTF8' TEMPLATE template0"
}
`, masUser, MASDatabase)
}

// newController installs the AWS Load Balancer Controller, which turns the
// chart's Ingresses into the ALB and the SFU's Service into the NLB.
func (e *EKS) newController(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	values := pulumi.All(e.Cluster.Name, hs.Network.VPC.ID(), e.controllerRole.Arn).ApplyT(func(v []any) (map[string]any, error) {
		return lbc.Values(lbc.Input{ClusterName: v[0].(string), Region: hs.Config.Region, VPCID: string(v[1].(pulumi.ID)), RoleARN: v[2].(string), Replicas: lbc.DefaultReplicas})
	}).(pulumi.MapOutput)
	var err error
	e.Controller, err = helmv3.NewRelease(ctx, "lb-controller", &helmv3.ReleaseArgs{
		Name:           pulumi.String(lbc.ReleaseName),
		Chart:          pulumi.String(lbc.ChartName),
		Version:        pulumi.String(lbc.ChartVersion),
		RepositoryOpts: helmv3.RepositoryOptsArgs{Repo: pulumi.String(lbc.ChartRepository)},
		Namespace:      pulumi.String(lbc.Namespace),
		Values:         values,
		Atomic:         pulumi.Bool(true),
	}, opts...)
	return err
}

// ALBName is the ALB's fixed name, at most 32 characters.
func ALBName(project, stack string) string {
	n := "matrix-" + infra.SHA256Hex([]byte(project + "/" + stack))[:12]
	return n
}

// ReleaseInput is what the chart's values are derived from, given the
// values only known once the resources exist.
func ReleaseInput(cfg infra.Config, certARN, dbHost, albName string, sfuIP string, sfuAllocations []string) ess.Input {
	in := ess.Input{
		ServerName: cfg.Domain,
		Hosts:      Hosts(cfg),
		WellKnown:  cfg.ServeBaseDomain,
		ElementWeb: cfg.Element,
		Auth:       ess.AuthSynapse,
		Calls:      ess.CallsNone,
		Ingress:    ess.Ingress{CertificateARN: certARN, GroupName: albName, LoadBalancerName: albName, DualStack: cfg.IPv6},
		Postgres: ess.Postgres{
			Host: dbHost, Port: infra.PostgresPort, SSLMode: "require",
			Synapse: ess.Database{Name: infra.DatabaseName, User: infra.DatabaseUser, Password: ess.SecretRef{Name: DBSecret, Key: "master"}},
		},
		Workers:    cfg.EKS.Workers,
		Media:      ess.Media{StorageClass: StorageClass, Size: fmt.Sprintf("%dGi", cfg.DataVolumeGiB)},
		SigningKey: ess.SecretRef{Name: SigningKeySecret, Key: SigningKeyFile},
	}
	if cfg.Auth == infra.AuthMAS {
		in.Auth = ess.AuthMAS
		in.Postgres.MAS = ess.Database{Name: MASDatabase, User: MASUser, Password: ess.SecretRef{Name: DBSecret, Key: "mas"}}
		in.MASKeys = masKeys()
	}
	if cfg.Calls.On() {
		in.Calls = ess.CallsElementCall
		in.SFU = ess.SFU{PublicIP: sfuIP, EIPAllocationIDs: sfuAllocations}
	}
	return in
}

// ReleaseValues are the chart's values: derived from the stack, with
// matrix:helmValues merged over them.
func ReleaseValues(cfg infra.Config, in ess.Input) (map[string]any, error) {
	derived, err := ess.Values(in)
	if err != nil {
		return nil, err
	}
	return ess.Merge(derived, cfg.EKS.HelmValues)
}

// releaseNeeds are what the chart's pods need in place.
func (e *EKS) releaseNeeds() []pulumi.Resource {
	needs := []pulumi.Resource{e.CreateDatabases, e.DBSecret, e.SigningKey, e.StorageClass, e.Controller}
	if e.MASKeys != nil {
		needs = append(needs, e.MASKeys)
	}
	return needs
}

// newRelease installs ess-helm's matrix-stack at the pinned version once
// the databases, the storage class and the controller are in place.
func (e *EKS) newRelease(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	parts := []any{e.Validation.CertificateArn, e.DB.Instance.Address}
	for _, ip := range e.SFUAddresses {
		parts = append(parts, ip.PublicIp, ip.AllocationId)
	}
	name := ALBName(ctx.Project(), ctx.Stack())
	values := pulumi.All(parts...).ApplyT(func(v []any) (map[string]any, error) {
		var sfuIP string
		var allocations []string
		for i := 2; i+1 < len(v); i += 2 {
			if sfuIP == "" {
				sfuIP = v[i].(string)
			}
			allocations = append(allocations, v[i+1].(string))
		}
		return ReleaseValues(cfg, ReleaseInput(cfg, v[0].(string), v[1].(string), name, sfuIP, allocations))
	}).(pulumi.MapOutput)
	if cfg.EKS.SecretHelmValues {
		values = pulumi.ToSecret(values).(pulumi.MapOutput)
	}
	var err error
	e.Release, err = helmv3.NewRelease(ctx, "matrix-stack", &helmv3.ReleaseArgs{
		Name:      pulumi.String(ReleaseName),
		Chart:     pulumi.String(ess.ChartRepository + "/" + ess.ChartName),
		Version:   pulumi.String(ess.ChartVersion),
		Namespace: e.Namespace.Metadata.Name(),
		Values:    values,
		// Synapse's first start migrates its schema: minutes.
		Timeout: pulumi.Int(1200),
	}, infra.WithOpts(opts, pulumi.DependsOn(e.releaseNeeds()))...)
	return err
}
