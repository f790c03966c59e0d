package infra

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PostgresMajorVersion is the RDS engine version; RDS applies minor
// versions itself (autoMinorVersionUpgrade).
const PostgresMajorVersion = "16"

// TreeObjectKey is where the ansible tree lies in the bootstrap bucket.
const TreeObjectKey = "ansible.tar"

// Database is the stack's PostgreSQL server on RDS, in private subnets,
// and the passwords of its roles.
type Database struct {
	Password    *random.RandomPassword
	MASPassword *random.RandomPassword // nil unless matrix:auth is mas
	SubnetGroup *rds.SubnetGroup
	Instance    *rds.Instance
}

// NewDatabase declares the database server of plan in subnets, reachable
// through the security group group only.
func NewDatabase(ctx *pulumi.Context, cfg Config, plan DBPlan, subnets []*ec2.Subnet, group pulumi.IDOutput, opts ...pulumi.ResourceOption) (*Database, error) {
	db := &Database{}
	if err := db.declare(ctx, cfg, plan, subnets, group, opts...); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return db, nil
}

func (db *Database) declare(ctx *pulumi.Context, cfg Config, plan DBPlan, subnets []*ec2.Subnet, sg pulumi.IDOutput, opts ...pulumi.ResourceOption) error {
	var err error
	// Letters and digits: RDS refuses / @ " and spaces, and the value lands
	// in YAML and a libpq connection string.
	if db.Password, err = random.NewRandomPassword(ctx, "db-password", &random.RandomPasswordArgs{
		Length: pulumi.Int(40), Special: pulumi.Bool(false),
	}, opts...); err != nil {
		return err
	}
	if cfg.Auth == AuthMAS {
		// MAS's own role on the same server, which the host creates
		// (ansible/bootstrap-host) with its own database.
		if db.MASPassword, err = random.NewRandomPassword(ctx, "mas-db-password", &random.RandomPasswordArgs{
			Length: pulumi.Int(40), Special: pulumi.Bool(false),
		}, opts...); err != nil {
			return err
		}
	}
	var ids pulumi.StringArray
	for _, s := range subnets {
		ids = append(ids, s.ID())
	}
	group, err := rds.NewSubnetGroup(ctx, "db", &rds.SubnetGroupArgs{
		Description: pulumi.String("Matrix database: private subnets, no route to the internet"),
		SubnetIds:   ids,
		Tags:        NameTag(ctx, "db"),
	}, opts...)
	if err != nil {
		return err
	}
	db.SubnetGroup = group
	id := plan.Identifier
	// No database is created here: RDS would create it with the en_US.UTF-8
	// collation, which Synapse refuses. The host creates it with C collation
	// before the first playbook run (ansible/bootstrap-host).
	args := &rds.InstanceArgs{
		Identifier:               pulumi.String(id),
		Engine:                   pulumi.String("postgres"),
		EngineVersion:            pulumi.String(PostgresMajorVersion),
		InstanceClass:            pulumi.String(cfg.DBInstanceClass),
		AllocatedStorage:         pulumi.Int(cfg.DBAllocatedGiB),
		StorageType:              pulumi.String("gp3"),
		StorageEncrypted:         pulumi.Bool(true),
		MultiAz:                  pulumi.Bool(cfg.DBMultiAZ),
		DbSubnetGroupName:        group.Name,
		VpcSecurityGroupIds:      pulumi.StringArray{sg},
		PubliclyAccessible:       pulumi.Bool(false),
		Port:                     pulumi.Int(PostgresPort),
		Username:                 pulumi.String(DatabaseUser),
		Password:                 db.Password.Result,
		BackupRetentionPeriod:    pulumi.Int(cfg.DBBackupRetentionDays),
		BackupWindow:             pulumi.String("02:00-02:30"),
		MaintenanceWindow:        pulumi.String("sun:04:00-sun:04:30"),
		CopyTagsToSnapshot:       pulumi.Bool(true),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		AllowMajorVersionUpgrade: pulumi.Bool(false),
		DeletionProtection:       pulumi.Bool(cfg.Protect),
		// A final snapshot is always taken, as for the single topology's
		// data volume.
		SkipFinalSnapshot:       pulumi.Bool(false),
		FinalSnapshotIdentifier: pulumi.String(id + "-final"),
		// Kept after the instance is deleted (for as many days as it kept
		// them): the instance a restore replaces stays restorable to any
		// moment of its backup window.
		DeleteAutomatedBackups: pulumi.Bool(false),
		Tags:                   topologyTags(ctx, "db", cfg.Topology),
	}
	if r := plan.Restore; r != nil {
		// A new identifier, so the engine creates the restored instance
		// before it deletes the one it replaces, and the vars switch to its
		// address in between. RDS gives a restore the source's master
		// password, and the provider does not apply Password after a
		// point-in-time restore: planDatabase accepts only this stack's
		// own databases as sources, whose password is DBPassword. Password
		// stays set so the state keeps it, as a secret, for later changes.
		pitr := rds.InstanceRestoreToPointInTimeArgs{SourceDbInstanceIdentifier: pulumi.String(r.Source)}
		if r.Latest {
			pitr.UseLatestRestorableTime = pulumi.Bool(true)
		} else {
			pitr.RestoreTime = pulumi.String(r.Time.Format(time.RFC3339))
		}
		args.RestoreToPointInTime = pitr
	}
	db.Instance, err = rds.NewInstance(ctx, "db", args, WithOpts(opts, pulumi.Protect(cfg.Protect), pulumi.RetainOnDelete(cfg.Protect))...)
	return err
}

// NewPrivateBucket is an S3 bucket nobody outside the account reaches:
// encrypted, public access blocked, ACLs off (bucket owner enforced), and
// versioned when it holds data.
func NewPrivateBucket(ctx *pulumi.Context, name string, versioned, protect bool, opts ...pulumi.ResourceOption) (*s3.BucketV2, error) {
	bucket, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(!versioned),
		Tags:         NameTag(ctx, name),
	}, WithOpts(opts, pulumi.Protect(protect), pulumi.RetainOnDelete(protect))...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, opts...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, opts...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name, &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, opts...); err != nil {
		return nil, err
	}
	status := "Suspended"
	if versioned {
		status = "Enabled"
	}
	if _, err := s3.NewBucketVersioningV2(ctx, name, &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String(status)},
	}, opts...); err != nil {
		return nil, err
	}
	return bucket, nil
}

// TreeArchive is the ansible tree as the hosts fetch it: a tar of every
// file of ansible.Files() under ansible/, byte for byte reproducible (no
// time stamps, no owners), so its hash changes exactly when a file does.
func TreeArchive() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: ansible.Dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
		return nil, fmt.Errorf("ansible tree: %w", err)
	}
	for _, name := range ansible.Files() {
		data, err := ansible.ReadFile(name)
		if err != nil {
			return nil, err
		}
		mode := int64(0o644)
		if bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: ansible.Dir + "/" + name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), Format: tar.FormatPAX}); err != nil {
			return nil, fmt.Errorf("ansible tree: %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("ansible tree: %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ansible tree: %w", err)
	}
	return buf.Bytes(), nil
}

func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
