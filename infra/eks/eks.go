// Package eks is the eks topology: Element's ess-helm chart on an EKS
// cluster whose managed node groups run in two availability zones, with
// PostgreSQL on RDS (the core's database), media on an EBS volume the
// chart claims, and one ALB and, for calls, one NLB that the AWS Load
// Balancer Controller provisions from the chart's Ingresses and Services.
package eks

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dlm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EKS is what the eks topology declares beyond the shared network.
type EKS struct {
	PrivateSubnets []*ec2.Subnet
	ClusterRole    *iam.Role
	Cluster        *awseks.Cluster
	NodeRole       *iam.Role
	NodeGroups     []*awseks.NodeGroup
	Addons         map[string]*awseks.Addon
	controllerRole *iam.Role

	DBGroup *ec2.SecurityGroup
	DB      *infra.Database

	Certificate *acm.Certificate
	Validation  *acm.CertificateValidation
	// SFUAddresses are the NLB's Elastic IPs, one per public subnet, with
	// matrix:calls element-call; LiveKit advertises the first.
	SFUAddresses []*ec2.Eip
	Snapshots    *dlm.LifecyclePolicy

	Kubernetes   *kubernetes.Provider
	Namespace    *corev1.Namespace
	SigningKey   *corev1.Secret
	MASKeys      *corev1.Secret // with matrix:auth mas
	DBSecret     *corev1.Secret
	StorageClass *storagev1.StorageClass
	// CreateDatabases creates Synapse's database (C collation) and MAS's
	// role and database on RDS before the chart starts.
	CreateDatabases *batchv1.Job
	Controller      *helmv3.Release // the AWS Load Balancer Controller
	Release         *helmv3.Release // ess-helm's matrix-stack
	Verify          *local.Command
	Records         map[infra.Record]*route53.Record
}

// New is an empty eks topology for infra.NewHomeserver to fill.
func New() *EKS { return &EKS{} }

// Check has nothing beyond the core's: the database plan and the
// topology switch are the core's, the keys ParseConfig's.
func (e *EKS) Check(*pulumi.Context, *infra.Homeserver, ...pulumi.InvokeOption) error { return nil }

// Declare adds the cluster, its nodes and add-ons, the database, the
// certificate, the two Helm releases and the DNS records.
func (e *EKS) Declare(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	var err error
	if e.PrivateSubnets, err = infra.NewPrivateSubnets(ctx, cfg, hs.Facts, hs.Network, opts...); err != nil {
		return fmt.Errorf("eks: network: %w", err)
	}
	if err = e.newCluster(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: cluster: %w", err)
	}
	if err = e.newNodes(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: nodes: %w", err)
	}
	if err = e.newData(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: data: %w", err)
	}
	if err = e.newEdge(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: certificate: %w", err)
	}
	if !cfg.Provision {
		return nil
	}
	if err = e.newWorkloads(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: workloads: %w", err)
	}
	if hs.Records, err = e.newRecords(ctx, hs, opts...); err != nil {
		return fmt.Errorf("eks: dns: %w", err)
	}
	e.Records = hs.Records
	if cfg.Verify {
		if e.Verify, err = e.newVerify(ctx, hs, opts...); err != nil {
			return fmt.Errorf("eks: verify: %w", err)
		}
	}
	return nil
}

// Watch adds the database's alarms; the core's health checks watch the
// endpoints through the ALB.
func (e *EKS) Watch(ctx *pulumi.Context, hs *infra.Homeserver, a *infra.Alerting) error {
	return a.WatchDatabase(ctx, hs.Config, e.DB.Instance)
}

// Outputs are the cluster, the data and how to reach them.
func (e *EKS) Outputs(hs *infra.Homeserver) map[string]pulumi.Input {
	cfg := hs.Config
	out := map[string]pulumi.Input{
		"topology":           pulumi.String(string(infra.TopologyEKS)),
		"clusterName":        e.Cluster.Name,
		"clusterEndpoint":    e.Cluster.Endpoint,
		"databaseEndpoint":   e.DB.Instance.Endpoint,
		"databaseIdentifier": e.DB.Instance.Identifier,
		"kubeconfigCommand":  pulumi.Sprintf("aws eks update-kubeconfig --region %s --name %s", cfg.Region, e.Cluster.Name),
		"chartVersion":       pulumi.String(chartVersion()),
	}
	if len(e.SFUAddresses) > 0 {
		out["rtcPublicIp"] = e.SFUAddresses[0].PublicIp
	}
	if e.Release != nil {
		out["releaseStatus"] = e.Release.Status.Status()
	}
	return out
}
