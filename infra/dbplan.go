package infra

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DBPlan is the ha database the stack declares: its identifier, and the
// restore that creates it, if any.
type DBPlan struct {
	Identifier string
	// Restore has its Source resolved; nil when the database is not a
	// restore.
	Restore *DBRestore
}

// planDatabase decides the ha database's identifier, and refuses what
// would lose data or fail only once resources are being replaced: a
// restore from an instance that does not exist, to a time outside its
// backups, and removing matrix:dbRestore after a restore, which would
// declare a new, empty database under the stack's first identifier. A
// restore already made (its instance exists) is not checked again: its
// time leaves the backup window while it stays configured.
func planDatabase(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) (DBPlan, error) {
	if cfg.Topology == TopologySingle {
		return DBPlan{}, nil
	}
	base := DBIdentifier(ctx.Project(), ctx.Stack())
	if cfg.DBRestore == nil {
		return DBPlan{Identifier: base}, checkRestoreKept(ctx, base, opts...)
	}
	d := *cfg.DBRestore
	if d.Source == "" {
		d.Source = base
	}
	plan := DBPlan{Identifier: RestoredIdentifier(base, d, d.Source), Restore: &d}
	if made, err := dbExists(ctx, plan.Identifier, opts...); err != nil || made {
		return plan, err
	}
	var ps Problems
	src, err := rds.LookupInstance(ctx, &rds.LookupInstanceArgs{DbInstanceIdentifier: pulumi.StringRef(d.Source)}, opts...)
	switch {
	case err != nil:
		ps.Add(Qualified("dbRestore"), "the source instance %s was not found in %s; restore from the stack's current database: set sourceDbInstanceIdentifier to the databaseIdentifier output (pulumi stack output databaseIdentifier). A restore deletes the instance it replaces: its final snapshot and automated backups remain (docs/runbook-ha-restore.md)",
			d.Source, cfg.Region)
	case src.Tags["Name"] != dbNameTag(ctx):
		// RDS gives a point-in-time restore the source's master password,
		// and the provider does not change it afterwards (it does so only
		// for snapshot restores): only this stack's own databases have the
		// password the stack holds and renders into Synapse's vars.
		ps.Add(Qualified("dbRestore"), "the source instance %s is not one of this stack's databases (tag Name=%s): a restore keeps the source's master password, which is not the one this stack holds, so Synapse could not log in; restore from this stack's database (the databaseIdentifier output)",
			d.Source, dbNameTag(ctx))
	case src.BackupRetentionPeriod == 0:
		ps.Add(Qualified("dbRestore"), "the source instance %s keeps no automated backups, so it has no point in time to restore to; restore one of its snapshots by hand (docs/runbook-ha-restore.md)", d.Source)
	case !d.Latest:
		oldest := time.Now().UTC().Add(-time.Duration(src.BackupRetentionPeriod) * 24 * time.Hour)
		if d.Time.Before(oldest) {
			ps.Add(Qualified("dbRestore"), "time %s is older than the %d days of automated backups %s keeps; pick a later time, or restore one of its snapshots by hand (docs/runbook-ha-restore.md)",
				d.Time.Format(time.RFC3339), src.BackupRetentionPeriod, d.Source)
		}
	}
	if cfg.Protect {
		ps.Add(Qualified("protect"), "is true, and the restore replaces the database %s with %s, which protection forbids: lift it first on its own (pulumi config set matrix:protect false, pulumi up), then restore, and set it again afterwards; docs/runbook-ha-restore.md",
			d.Source, plan.Identifier)
	}
	return plan, ps.Err()
}

func dbExists(ctx *pulumi.Context, id string, opts ...pulumi.InvokeOption) (bool, error) {
	dbs, err := rds.GetInstances(ctx, &rds.GetInstancesArgs{
		Filters: []rds.GetInstancesFilter{{Name: "db-instance-id", Values: []string{id}}},
	}, opts...)
	if err != nil {
		return false, fmt.Errorf("database: looking for %s: %w", id, err)
	}
	return len(dbs.InstanceIdentifiers) > 0, nil
}

// stackDatabases lists the RDS instances this stack made, by the Name tag
// every one of them carries, whatever its identifier.
func stackDatabases(ctx *pulumi.Context, opts ...pulumi.InvokeOption) ([]string, error) {
	dbs, err := rds.GetInstances(ctx, &rds.GetInstancesArgs{
		Tags: map[string]string{"Name": dbNameTag(ctx)},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("database: looking for the stack's databases: %w", err)
	}
	return dbs.InstanceIdentifiers, nil
}

func dbNameTag(ctx *pulumi.Context) string { return nameOf(ctx, "db") }

// checkRestoreKept refuses a configuration without matrix:dbRestore on a
// stack whose database came from a restore.
func checkRestoreKept(ctx *pulumi.Context, base string, opts ...pulumi.InvokeOption) error {
	ids, err := stackDatabases(ctx, opts...)
	if err != nil || len(ids) == 0 || slices.Contains(ids, base) {
		return err
	}
	var ps Problems
	ps.Add(Qualified("dbRestore"), "is unset, but the stack's database is %s, made by a point-in-time restore: without the key the stack declares a new, empty database %s and deletes %s. Set matrix:dbRestore back to the restore that made it (see the history of Pulumi.%s.yaml; docs/runbook-ha-restore.md)",
		strings.Join(ids, ", "), base, strings.Join(ids, ", "), ctx.Stack())
	return ps.Err()
}

var nonIdentifier = regexp.MustCompile(`[^a-z0-9]+`)

// DBIdentifier is the stack's RDS instance identifier, also what the
// topology-switch check looks for: letters, digits and single hyphens,
// starting with a letter, at most 63 characters.
func DBIdentifier(project, stack string) string {
	id := strings.Trim(nonIdentifier.ReplaceAllString(strings.ToLower(project+"-"+stack), "-"), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "m-" + id
	}
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}
