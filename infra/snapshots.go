package infra

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dlm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SnapshotTag marks the volumes the snapshot policy of this stack manages.
const SnapshotTag = "matrix-snapshots"

// SnapshotTarget is the value of SnapshotTag on this stack's volumes.
func SnapshotTarget(ctx *pulumi.Context) string { return ctx.Project() + "-" + ctx.Stack() }

// NewSnapshotPolicy snapshots every volume tagged SnapshotTag=SnapshotTarget
// daily and keeps matrix:snapshotRetentionDays of them; what names the
// data for the policy's description.
func NewSnapshotPolicy(ctx *pulumi.Context, cfg Config, facts Facts, what string, opts ...pulumi.ResourceOption) (*dlm.LifecyclePolicy, error) {
	role, err := iam.NewRole(ctx, "snapshots", &iam.RoleArgs{
		Description:      pulumi.String("Data Lifecycle Manager: daily snapshots of the Matrix data volume"),
		AssumeRolePolicy: pulumi.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"dlm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		Tags:             NameTag(ctx, "snapshots"),
	}, opts...)
	if err != nil {
		return nil, err
	}
	attach, err := iam.NewRolePolicyAttachment(ctx, "snapshots", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole", facts.Partition),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return dlm.NewLifecyclePolicy(ctx, "snapshots", &dlm.LifecyclePolicyArgs{
		Description:      pulumi.Sprintf("daily snapshots of %s %s", cfg.MatrixHost(), what),
		ExecutionRoleArn: role.Arn,
		State:            pulumi.String("ENABLED"),
		PolicyDetails: dlm.LifecyclePolicyPolicyDetailsArgs{
			ResourceTypes: pulumi.StringArray{pulumi.String("VOLUME")},
			TargetTags:    pulumi.StringMap{SnapshotTag: pulumi.String(SnapshotTarget(ctx))},
			Schedules: dlm.LifecyclePolicyPolicyDetailsScheduleArray{dlm.LifecyclePolicyPolicyDetailsScheduleArgs{
				Name:     pulumi.String("daily"),
				CopyTags: pulumi.Bool(true),
				CreateRule: dlm.LifecyclePolicyPolicyDetailsScheduleCreateRuleArgs{
					Interval:     pulumi.Int(24),
					IntervalUnit: pulumi.String("HOURS"),
					Times:        pulumi.String("03:00"),
				},
				RetainRule: dlm.LifecyclePolicyPolicyDetailsScheduleRetainRuleArgs{
					Interval:     pulumi.Int(cfg.SnapshotRetentionDays),
					IntervalUnit: pulumi.String("DAYS"),
				},
			}},
		},
		Tags: NameTag(ctx, "snapshots"),
	}, WithOpts(opts, pulumi.DependsOn([]pulumi.Resource{attach}))...)
}
