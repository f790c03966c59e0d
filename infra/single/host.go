package single

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dlm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Host is the machine and everything bound to its lifetime or its data.
type Host struct {
	PrivateKey *tls.PrivateKey // nil when matrix:sshPublicKey is set
	KeyPair    *ec2.KeyPair
	Instance   *ec2.Instance
	IP         *ec2.Eip
	// IPAssociation binds IP to Instance. The first contact waits for it:
	// until it exists, the address may still reach a host being replaced.
	IPAssociation *ec2.EipAssociation
	DataVolume    *ebs.Volume
	Attachment    *ec2.VolumeAttachment
	Snapshots     *dlm.LifecyclePolicy
	Recovery      *cloudwatch.MetricAlarm
	// With matrix:access ssm: the instance profile whose role allows
	// Session Manager and nothing else (nil with ssh).
	Profile       *iam.InstanceProfile
	SessionPolicy *iam.RolePolicy
}

// notify are the topics the recovery alarm also notifies (matrix:alertEmail).
func newHost(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, network *infra.Network, fw *Firewall, notify pulumi.Array, opts ...pulumi.ResourceOption) (*Host, error) {
	h := &Host{}
	var err error
	if h.KeyPair, h.PrivateKey, err = newKeyPair(ctx, cfg, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if cfg.Access == infra.AccessSSM {
		if h.Profile, h.SessionPolicy, err = infra.NewSessionIdentity(ctx, opts...); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	if h.Instance, err = newInstance(ctx, cfg, facts, network, fw, h, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.IP, h.IPAssociation, err = newElasticIP(ctx, h.Instance, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.DataVolume, h.Attachment, err = newDataVolume(ctx, cfg, facts, h.Instance, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.Snapshots, err = infra.NewSnapshotPolicy(ctx, cfg, facts, "/matrix", opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.Recovery, err = newRecoveryAlarm(ctx, cfg, facts, h.Instance, notify, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return h, nil
}

func newKeyPair(ctx *pulumi.Context, cfg infra.Config, opts ...pulumi.ResourceOption) (*ec2.KeyPair, *tls.PrivateKey, error) {
	var key *tls.PrivateKey
	publicKey := pulumi.String(cfg.SSHPublicKey).ToStringOutput()
	if cfg.SSHPublicKey == "" {
		var err error
		key, err = tls.NewPrivateKey(ctx, "ssh", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}, opts...)
		if err != nil {
			return nil, nil, err
		}
		publicKey = key.PublicKeyOpenssh
	}
	pair, err := ec2.NewKeyPair(ctx, "ssh", &ec2.KeyPairArgs{
		PublicKey: publicKey,
		Tags:      infra.NameTag(ctx, "ssh"),
	}, opts...)
	return pair, key, err
}

func newInstance(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, network *infra.Network, fw *Firewall, h *Host, opts ...pulumi.ResourceOption) (*ec2.Instance, error) {
	userData, err := cloudConfig(cfg)
	if err != nil {
		return nil, err
	}
	args := &ec2.InstanceArgs{
		Ami:                 pulumi.String(facts.AMI),
		InstanceType:        pulumi.String(cfg.InstanceType),
		SubnetId:            network.HostSubnet(facts).ID(),
		VpcSecurityGroupIds: pulumi.StringArray{fw.Group.ID()},
		KeyName:             h.KeyPair.KeyName,
		MetadataOptions: ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// Nothing in a container needs the instance's credentials here.
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		RootBlockDevice: ec2.InstanceRootBlockDeviceArgs{
			VolumeType:          pulumi.String("gp3"),
			VolumeSize:          pulumi.Int(cfg.RootVolumeGiB),
			Encrypted:           pulumi.Bool(true),
			DeleteOnTermination: pulumi.Bool(true),
			Tags:                infra.NameTag(ctx, "root"),
		},
		// Guards against a termination outside Pulumi (console, CLI). It
		// does not guard against Pulumi itself: the provider switches it
		// off before it terminates on a replace or destroy. pulumi.Protect
		// below is what stops those.
		DisableApiTermination: pulumi.Bool(cfg.Protect),
		UserData:              pulumi.String(userData),
		Tags:                  infra.NameTag(ctx, "host"),
	}
	if cfg.IPv6 {
		args.Ipv6AddressCount = pulumi.Int(1)
	}
	if h.Profile != nil {
		args.IamInstanceProfile = h.Profile.Name
		// The agent registers at boot; with the policy in place first it
		// does not wait for its next retry.
		opts = infra.WithOpts(opts, pulumi.DependsOn([]pulumi.Resource{h.SessionPolicy}))
	}
	// With matrix:protect the engine refuses to replace or delete the host
	// (a replace fails in the preview, before the new instance is created),
	// whatever an `up` or `destroy` was asked to do. A deliberate roll lifts
	// it first: matrix:protect false, `pulumi up`, then the change.
	opts = infra.WithOpts(opts, pulumi.Protect(cfg.Protect))
	if cfg.AMIID != "" {
		// A pinned image is a deliberate choice: changing it replaces the host.
		args.Ami = pulumi.String(cfg.AMIID)
		return ec2.NewInstance(ctx, "host", args, opts...)
	}
	// A newer Ubuntu image must not replace a running homeserver: the image
	// is read at creation only (ignoreChanges keeps the stored one even on
	// --replace). Roll deliberately by setting matrix:amiId.
	return ec2.NewInstance(ctx, "host", args, infra.WithOpts(opts, pulumi.IgnoreChanges([]string{"ami"}))...)
}

// cloudConfig is the host's user data: only its name. Packages, Docker and
// everything else are the playbook's job.
func cloudConfig(cfg infra.Config) (string, error) {
	b, err := yaml.Marshal(map[string]any{
		"hostname":         "matrix",
		"fqdn":             cfg.MatrixHost(),
		"manage_etc_hosts": true,
	})
	if err != nil {
		return "", fmt.Errorf("user data: %w", err)
	}
	return "#cloud-config\n" + string(b), nil
}

// newElasticIP allocates the host's address and associates it in a
// resource of its own: the address outlives any one instance, and a
// replacement host takes it over when its new association is created
// (before the old host is deleted), which is the moment the first
// contact may start.
func newElasticIP(ctx *pulumi.Context, instance *ec2.Instance, opts ...pulumi.ResourceOption) (*ec2.Eip, *ec2.EipAssociation, error) {
	ip, err := ec2.NewEip(ctx, "ip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   infra.NameTag(ctx, "ip"),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	assoc, err := ec2.NewEipAssociation(ctx, "ip", &ec2.EipAssociationArgs{
		AllocationId: ip.AllocationId,
		InstanceId:   instance.ID(),
	}, opts...)
	return ip, assoc, err
}

// newDataVolume creates /matrix's volume in the subnet's zone, independent
// of the instance, so replacing the instance keeps every byte of state.
func newDataVolume(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, instance *ec2.Instance, opts ...pulumi.ResourceOption) (*ebs.Volume, *ec2.VolumeAttachment, error) {
	tags := infra.NameTag(ctx, "data")
	tags[infra.SnapshotTag] = pulumi.String(infra.SnapshotTarget(ctx))
	volOpts := infra.WithOpts(opts, pulumi.Protect(cfg.Protect), pulumi.RetainOnDelete(cfg.Protect))
	args := &ebs.VolumeArgs{
		// With the instance: a volume attaches only in its own zone.
		AvailabilityZone: pulumi.String(facts.HostZone),
		Size:             pulumi.Int(cfg.DataVolumeGiB),
		Type:             pulumi.String("gp3"),
		Encrypted:        pulumi.Bool(true),
		FinalSnapshot:    pulumi.Bool(true),
		Tags:             tags,
	}
	if cfg.DataVolumeSnapshotID != "" {
		args.SnapshotId = pulumi.String(cfg.DataVolumeSnapshotID)
	}
	vol, err := ebs.NewVolume(ctx, "data", args, volOpts...)
	if err != nil {
		return nil, nil, err
	}
	att, err := ec2.NewVolumeAttachment(ctx, "data", &ec2.VolumeAttachmentArgs{
		DeviceName: pulumi.String(infra.DataDevice),
		VolumeId:   vol.ID(),
		InstanceId: instance.ID(),
		// Docker and PostgreSQL write to /matrix: detach only when stopped.
		StopInstanceBeforeDetaching: pulumi.Bool(true),
		// A volume attaches to one instance at a time: a replacement host
		// gets it only after the old attachment is gone.
		//
		// Protected with matrix:protect like the volume and the instance:
		// a destroy deletes dependents before it reaches the protected
		// instance and fails there, and deleting this attachment on the
		// way would stop the running homeserver to detach /matrix.
	}, infra.WithOpts(opts, pulumi.DeleteBeforeReplace(true), pulumi.Protect(cfg.Protect))...)
	return vol, att, err
}

// newRecoveryAlarm moves the instance to healthy hardware when AWS's own
// system status check fails; the EIP, volumes and IPv6 address come along.
// With alerting it also notifies the topics, on recovery and on OK: the
// host was down, and the operator learns whether it came back.
func newRecoveryAlarm(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, instance *ec2.Instance, notify pulumi.Array, opts ...pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	description := fmt.Sprintf("recover %s when the system status check fails", cfg.MatrixHost())
	actions := pulumi.Array{pulumi.Sprintf("arn:%s:automate:%s:ec2:recover", facts.Partition, cfg.Region)}
	var ok pulumi.Array
	if len(notify) > 0 {
		description = fmt.Sprintf("The host of %s fails its system status check: the AWS hardware or network under it is impaired. EC2 is recovering it onto healthy hardware (same instance, addresses and volumes; it reboots). An OK follows when it is back. Follow %s, \"System status check failed\".", cfg.MatrixHost(), infra.Runbook)
		actions, ok = append(actions, notify...), notify
	}
	return cloudwatch.NewMetricAlarm(ctx, "recover", &cloudwatch.MetricAlarmArgs{
		AlarmDescription:   pulumi.String(description),
		Namespace:          pulumi.String("AWS/EC2"),
		MetricName:         pulumi.String("StatusCheckFailed_System"),
		Dimensions:         pulumi.StringMap{"InstanceId": instance.ID()},
		Statistic:          pulumi.String("Maximum"),
		Period:             pulumi.Int(60),
		EvaluationPeriods:  pulumi.Int(2),
		ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		Threshold:          pulumi.Float64(0),
		AlarmActions:       actions,
		OkActions:          ok,
		Tags:               infra.NameTag(ctx, "recover"),
	}, opts...)
}
