package ha

import (
	"encoding/base64"
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func (ha *HA) newData(ctx *pulumi.Context, cfg infra.Config, plan infra.DBPlan, opts ...pulumi.ResourceOption) error {
	db, err := infra.NewDatabase(ctx, cfg, plan, ha.PrivateSubnets, ha.DBGroup.ID(), opts...)
	if err != nil {
		return err
	}
	ha.DB, ha.Database, ha.DBPassword, ha.MASDBPassword = db, db.Instance, db.Password, db.MASPassword
	// Media outlives hosts: protected and retained like the single
	// topology's data volume.
	if ha.MediaBucket, err = infra.NewPrivateBucket(ctx, "media", true, cfg.Protect, opts...); err != nil {
		return fmt.Errorf("media bucket: %w", err)
	}
	// The bootstrap bucket only holds our ansible tree, rebuilt from the
	// program on every update.
	if ha.BootBucket, err = infra.NewPrivateBucket(ctx, "bootstrap", false, false, opts...); err != nil {
		return fmt.Errorf("bootstrap bucket: %w", err)
	}
	tarball, err := infra.TreeArchive()
	if err != nil {
		return err
	}
	if ha.Tree, err = s3.NewBucketObjectv2(ctx, "ansible-tree", &s3.BucketObjectv2Args{
		Bucket:        ha.BootBucket.ID(),
		Key:           pulumi.String(infra.TreeObjectKey),
		ContentBase64: pulumi.String(base64.StdEncoding.EncodeToString(tarball)),
		ContentType:   pulumi.String("application/x-tar"),
		Tags:          infra.NameTag(ctx, "ansible-tree"),
	}, opts...); err != nil {
		return fmt.Errorf("ansible tree: %w", err)
	}
	return nil
}
