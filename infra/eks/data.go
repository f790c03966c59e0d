package eks

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newData declares the database, reachable from the cluster's security
// group (its nodes and pods) only, and the daily snapshots of the media
// volume the StorageClass tags.
func (e *EKS) newData(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	var err error
	if e.DBGroup, err = ec2.NewSecurityGroup(ctx, "db", &ec2.SecurityGroupArgs{
		VpcId:       hs.Network.VPC.ID(),
		Description: pulumi.String("Matrix database: PostgreSQL from the EKS cluster only"),
		Tags:        infra.NameTag(ctx, "db"),
	}, opts...); err != nil {
		return err
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("db-in-tcp-%d-from-cluster", infra.PostgresPort), &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           e.DBGroup.ID(),
		ReferencedSecurityGroupId: e.Cluster.VpcConfig.ClusterSecurityGroupId().Elem(),
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(infra.PostgresPort),
		ToPort:                    pulumi.Int(infra.PostgresPort),
		Description:               pulumi.String("PostgreSQL from the cluster's nodes and pods"),
	}, opts...); err != nil {
		return err
	}
	if e.DB, err = infra.NewDatabase(ctx, cfg, hs.Facts.DB, e.PrivateSubnets, e.DBGroup.ID(), opts...); err != nil {
		return err
	}
	e.Snapshots, err = infra.NewSnapshotPolicy(ctx, cfg, hs.Facts, "media", opts...)
	return err
}
