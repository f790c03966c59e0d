package eks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/lbc"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EBSCSIServiceAccount is the EBS CSI driver add-on's controller service
// account (EKS User Guide, "Store Kubernetes volumes with Amazon EBS").
const EBSCSIServiceAccount = "system:serviceaccount:kube-system:ebs-csi-controller-sa"

// addons are the EKS add-ons every cluster of the stack runs; EKS picks
// each one's default version for the cluster's Kubernetes version.
var addons = []string{"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"}

// ClusterName is the EKS cluster's name: the project and the stack.
func ClusterName(ctx *pulumi.Context) string { return ctx.Project() + "-" + ctx.Stack() }

// assumeRole trusts an AWS service to take a role.
func assumeRole(service string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":%q},"Action":"sts:AssumeRole"}]}`, service)
}

// serviceRole is a role an AWS service takes, with AWS managed policies.
func serviceRole(ctx *pulumi.Context, name, description, service, partition string, policies []string, opts ...pulumi.ResourceOption) (*iam.Role, []pulumi.Resource, error) {
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      pulumi.String(description),
		AssumeRolePolicy: pulumi.String(assumeRole(service)),
		Tags:             infra.NameTag(ctx, name),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	attached, err := attachAll(ctx, name, role, partition, policies, opts...)
	return role, attached, err
}

func attachAll(ctx *pulumi.Context, name string, role *iam.Role, partition string, policies []string, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for _, p := range policies {
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+strings.ToLower(p), &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/%s", partition, p),
		}, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// newCluster declares the control plane. Its API has a private endpoint,
// which the nodes use, and a public one open only to
// matrix:clusterApiAllowedCidrs, which pulumi up uses to install the
// charts: a private-only API would need the deploying machine inside the
// VPC (a VPN or a bastion) for every change.
func (e *EKS) newCluster(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg, facts := hs.Config, hs.Facts
	var attached []pulumi.Resource
	var err error
	if e.ClusterRole, attached, err = serviceRole(ctx, "cluster", "EKS control plane of the Matrix homeserver", "eks.amazonaws.com",
		facts.Partition, []string{"AmazonEKSClusterPolicy"}, opts...); err != nil {
		return err
	}
	var subnets pulumi.StringArray
	for _, s := range hs.Network.Subnets {
		subnets = append(subnets, s.ID())
	}
	var cidrs pulumi.StringArray
	for _, c := range cfg.EKS.APIAllowedCIDRs {
		cidrs = append(cidrs, pulumi.String(c))
	}
	e.Cluster, err = awseks.NewCluster(ctx, "cluster", &awseks.ClusterArgs{
		Name:    pulumi.String(ClusterName(ctx)),
		RoleArn: e.ClusterRole.Arn,
		Version: pulumi.String(cfg.EKS.KubernetesVersion),
		VpcConfig: awseks.ClusterVpcConfigArgs{
			SubnetIds:             subnets,
			EndpointPrivateAccess: pulumi.Bool(true),
			EndpointPublicAccess:  pulumi.Bool(true),
			PublicAccessCidrs:     cidrs,
		},
		AccessConfig: awseks.ClusterAccessConfigArgs{
			// Access entries, not the aws-auth ConfigMap; whoever
			// creates the cluster (pulumi up's credentials) administers
			// it, which the Kubernetes provider below relies on.
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		EnabledClusterLogTypes: pulumi.StringArray{pulumi.String("api"), pulumi.String("audit"), pulumi.String("authenticator")},
		Tags:                   infra.NameTag(ctx, "cluster"),
	}, infra.WithOpts(opts, pulumi.DependsOn(attached))...)
	if err != nil {
		return err
	}
	// The controller places internet-facing load balancers in the
	// subnets tagged for them (kubernetes-sigs/aws-load-balancer-controller,
	// docs/deploy/subnet_discovery.md).
	for i, s := range hs.Network.Subnets {
		if _, err := ec2.NewTag(ctx, fmt.Sprintf("elb-subnet-%d", i), &ec2.TagArgs{
			ResourceId: s.ID(), Key: pulumi.String("kubernetes.io/role/elb"), Value: pulumi.String("1"),
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}

// newNodes declares one managed node group per zone, in the public
// subnets: each node has a public IPv4 (about $3.65 a month) instead of a
// NAT gateway per zone (about $33 a month each, plus $0.045 per GB of
// image pulls and federation traffic; https://aws.amazon.com/vpc/pricing/).
// Nothing reaches a node from the internet: EKS gives managed nodes the
// cluster security group, which admits only the cluster itself, and the
// load balancers reach pods by IP through rules the controller adds. One
// group per zone keeps a node in each zone whatever the scheduler does,
// so the zonal media volume always has a node to attach to.
func (e *EKS) newNodes(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg, facts := hs.Config, hs.Facts
	var attached []pulumi.Resource
	var err error
	if e.NodeRole, attached, err = serviceRole(ctx, "nodes", "EKS nodes of the Matrix homeserver", "ec2.amazonaws.com", facts.Partition,
		[]string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}, opts...); err != nil {
		return err
	}
	amiType := "AL2023_x86_64_STANDARD"
	if cfg.Arch == infra.ArchARM {
		amiType = "AL2023_ARM_64_STANDARD"
	}
	n := cfg.EKS.NodesPerZone
	for i, s := range hs.Network.Subnets {
		g, err := awseks.NewNodeGroup(ctx, fmt.Sprintf("nodes-%d", i), &awseks.NodeGroupArgs{
			ClusterName:   e.Cluster.Name,
			NodeRoleArn:   e.NodeRole.Arn,
			SubnetIds:     pulumi.StringArray{s.ID()},
			InstanceTypes: pulumi.StringArray{pulumi.String(cfg.InstanceType)},
			AmiType:       pulumi.String(amiType),
			DiskSize:      pulumi.Int(cfg.RootVolumeGiB),
			Version:       e.Cluster.Version,
			ScalingConfig: awseks.NodeGroupScalingConfigArgs{
				DesiredSize: pulumi.Int(n), MinSize: pulumi.Int(n), MaxSize: pulumi.Int(n + 1),
			},
			// A rolling replacement (new version, new type) adds one node
			// before it drains another.
			UpdateConfig: awseks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(1)},
			Tags:         infra.NameTag(ctx, fmt.Sprintf("nodes-%s", facts.Zones[i])),
		}, infra.WithOpts(opts, pulumi.DependsOn(attached))...)
		if err != nil {
			return err
		}
		e.NodeGroups = append(e.NodeGroups, g)
	}
	return e.newAddons(ctx, hs, opts...)
}

// newAddons declares the add-ons and the identities of the pods that call
// AWS: the EBS CSI driver and the load balancer controller, each through
// IAM Roles for Service Accounts, trusted for its one service account.
func (e *EKS) newAddons(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	facts := hs.Facts
	issuer := e.Cluster.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem()
	oidc, err := iam.NewOpenIdConnectProvider(ctx, "cluster", &iam.OpenIdConnectProviderArgs{
		Url:           issuer,
		ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		Tags:          infra.NameTag(ctx, "cluster"),
	}, opts...)
	if err != nil {
		return err
	}
	role := func(name, subject string) (*iam.Role, error) {
		trust := pulumi.All(oidc.Arn, issuer).ApplyT(func(v []any) (string, error) {
			return irsaTrust(v[0].(string), v[1].(string), subject)
		}).(pulumi.StringOutput)
		return iam.NewRole(ctx, name, &iam.RoleArgs{AssumeRolePolicy: trust, Tags: infra.NameTag(ctx, name)}, opts...)
	}
	ebs, err := role("ebs-csi", EBSCSIServiceAccount)
	if err != nil {
		return err
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, "ebs-csi", &iam.RolePolicyAttachmentArgs{
		Role: ebs.Name, PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy", facts.Partition),
	}, opts...); err != nil {
		return err
	}
	lbRole, err := role("lb-controller", lbc.IRSASubject)
	if err != nil {
		return err
	}
	policy, err := lbc.IAMPolicy(facts.Partition)
	if err != nil {
		return err
	}
	if _, err := iam.NewRolePolicy(ctx, "lb-controller", &iam.RolePolicyArgs{Role: lbRole.Name, Policy: pulumi.String(policy)}, opts...); err != nil {
		return err
	}
	e.controllerRole = lbRole
	e.Addons = map[string]*awseks.Addon{}
	var groups []pulumi.Resource
	for _, g := range e.NodeGroups {
		groups = append(groups, g)
	}
	for _, name := range addons {
		args := &awseks.AddonArgs{
			ClusterName:              e.Cluster.Name,
			AddonName:                pulumi.String(name),
			ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
			ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		}
		if name == "aws-ebs-csi-driver" {
			args.ServiceAccountRoleArn = ebs.Arn
		}
		// CoreDNS and the CSI controller are Deployments: without nodes
		// they never become ready and the add-on fails.
		a, err := awseks.NewAddon(ctx, name, args, infra.WithOpts(opts, pulumi.DependsOn(groups))...)
		if err != nil {
			return err
		}
		e.Addons[name] = a
	}
	return nil
}

// irsaTrust lets exactly one service account of the cluster assume a role
// (EKS User Guide, "Assign IAM roles to Kubernetes service accounts").
func irsaTrust(providerARN, issuer, subject string) (string, error) {
	host := strings.TrimPrefix(issuer, "https://")
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": providerARN},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{
				host + ":sub": subject,
				host + ":aud": "sts.amazonaws.com",
			}},
		}},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}
