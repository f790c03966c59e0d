package ha_test

import (
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

var stackDB = mock.ExistingDB{ID: "matrix-test", Tags: map[string]string{"Name": "matrix-test-db"}}

func restoreConfig(spec string) map[string]string {
	return haConfig("matrix:dbRestore", spec)
}

// TestHARestore: a point-in-time restore declares the database under a new
// identifier with restoreToPointInTime from the source, keeps the stack's
// password (secret) on it, and the vars the hosts apply, the outputs and
// the association's run point at the restored instance.
func TestHARestore(t *testing.T) {
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	for _, m := range modes {
		for _, tc := range []struct {
			name, spec string
			restore    map[string]any
		}{
			{"time", `{"time":"` + at.Format(time.RFC3339) + `"}`, map[string]any{"sourceDbInstanceIdentifier": "matrix-test", "restoreTime": at.Format(time.RFC3339)}},
			{"latest", `{"time":"latest","sourceDbInstanceIdentifier":"matrix-test"}`, map[string]any{"sourceDbInstanceIdentifier": "matrix-test", "useLatestRestorableTime": true}},
		} {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				res, c, err := synthtest.RunIn(t, m.DryRun, restoreConfig(tc.spec), mock.Existing{DBs: []mock.ExistingDB{stackDB}})
				if err != nil {
					t.Fatal(err)
				}
				d := infra.DBRestore{Source: "matrix-test", Time: at, Latest: tc.name == "latest"}
				wantID := infra.RestoredIdentifier("matrix-test", d, "matrix-test")
				db := one(t, c, dbType, "db")
				if got := strOf(get(db.Inputs, "identifier")); got != wantID {
					t.Errorf("identifier %q, want %q", got, wantID)
				}
				pitr := get(db.Inputs, "restoreToPointInTime")
				if !pitr.IsObject() || len(pitr.ObjectValue()) != len(tc.restore) {
					t.Fatalf("restoreToPointInTime %v, want %v", pitr, tc.restore)
				}
				for k, want := range tc.restore {
					if got := pitr.ObjectValue()[resourceKey(k)].V; got != want {
						t.Errorf("restoreToPointInTime.%s = %v, want %v", k, got, want)
					}
				}
				if pw := get(db.Inputs, "password"); !pw.IsSecret() && !pw.IsComputed() && !(pw.IsOutput() && pw.OutputValue().Secret) {
					t.Errorf("the restored database's password is not set as a secret: %v", pw)
				}
				if m.DryRun {
					return // the address is unknown in a preview
				}
				address := strOf(get(db.Outputs, "address"))
				_, vars := haVarsIn(t, c)
				if vars["matrix_synapse_database_host"] != address || address == "" {
					t.Errorf("Synapse's database host %v, want the restored instance %s", vars["matrix_synapse_database_host"], address)
				}
				if got := res.Outputs["databaseIdentifier"].Value; got != wantID {
					t.Errorf("databaseIdentifier output %v, want %s", got, wantID)
				}
			})
		}
	}
}

// TestHARestoreRunsThePlaybook: the association that re-runs the playbook
// on the running host is replaced when the restore changes the vars, which
// is how the host picks up the new database address.
func TestHARestoreRunsThePlaybook(t *testing.T) {
	commands := func(raw map[string]string, e mock.Existing) string {
		_, c, err := synthtest.RunIn(t, false, raw, e)
		if err != nil {
			t.Fatal(err)
		}
		a := one(t, c, assocType, "playbook")
		return strOf(get(a.Inputs, "parameters", "commands"))
	}
	before := commands(haConfig(), mock.Existing{DBs: []mock.ExistingDB{stackDB}})
	after := commands(restoreConfig(`{"time":"latest"}`), mock.Existing{DBs: []mock.ExistingDB{stackDB}})
	if before == "" || before == after {
		t.Error("the association's commands do not change with the database: the running host would keep the old address")
	}
}

func TestHARestoreGuard(t *testing.T) {
	old := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	recent := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	restored := mock.ExistingDB{ID: infra.RestoredIdentifier("matrix-test", infra.DBRestore{Latest: true}, "matrix-test"), Tags: stackDB.Tags}
	for _, m := range modes {
		for _, tc := range []struct {
			name     string
			raw      map[string]string
			existing mock.Existing
			want     string // "" when the run succeeds
		}{
			{"source missing", restoreConfig(`{"time":"` + recent + `","sourceDbInstanceIdentifier":"matrix-gone"}`), mock.Existing{DBs: []mock.ExistingDB{stackDB}},
				"matrix:dbRestore: the source instance matrix-gone was not found in eu-central-1; restore from the stack's current database: set sourceDbInstanceIdentifier to the databaseIdentifier output (pulumi stack output databaseIdentifier). A restore deletes the instance it replaces: its final snapshot and automated backups remain (docs/runbook-ha-restore.md)"},
			{"older than the backups", restoreConfig(`{"time":"` + old + `"}`), mock.Existing{DBs: []mock.ExistingDB{stackDB}},
				"matrix:dbRestore: time " + old + " is older than the 7 days of automated backups matrix-test keeps; pick a later time, or restore one of its snapshots by hand (docs/runbook-ha-restore.md)"},
			{"within longer backups", restoreConfig(`{"time":"` + old + `"}`), mock.Existing{DBs: []mock.ExistingDB{{ID: "matrix-test", Tags: stackDB.Tags, BackupRetentionDays: 14}}}, ""},
			{"source without backups", restoreConfig(`{"time":"latest"}`), mock.Existing{DBs: []mock.ExistingDB{{ID: "matrix-test", Tags: stackDB.Tags, NoBackups: true}}},
				"matrix:dbRestore: the source instance matrix-test keeps no automated backups, so it has no point in time to restore to; restore one of its snapshots by hand (docs/runbook-ha-restore.md)"},
			// Done: the restored instance exists and its source is gone.
			{"restore made", restoreConfig(`{"time":"latest"}`), mock.Existing{DBs: []mock.ExistingDB{restored}}, ""},
			{"restore key removed", haConfig(), mock.Existing{DBs: []mock.ExistingDB{restored}},
				"matrix:dbRestore: is unset, but the stack's database is " + restored.ID + ", made by a point-in-time restore: without the key the stack declares a new, empty database matrix-test and deletes " + restored.ID + ". Set matrix:dbRestore back to the restore that made it (see the history of Pulumi.test.yaml; docs/runbook-ha-restore.md)"},
			{"protected", haConfig("matrix:dbRestore", `{"time":"latest"}`, "matrix:protect", "true"), mock.Existing{DBs: []mock.ExistingDB{stackDB}},
				"matrix:protect: is true, and the restore replaces the database matrix-test with " + restored.ID + ", which protection forbids: lift it first on its own (pulumi config set matrix:protect false, pulumi up), then restore, and set it again afterwards; docs/runbook-ha-restore.md"},
			{"protected, restore made", haConfig("matrix:dbRestore", `{"time":"latest"}`, "matrix:protect", "true"), mock.Existing{DBs: []mock.ExistingDB{restored}}, ""},
			{"another stack's database", restoreConfig(`{"time":"latest","sourceDbInstanceIdentifier":"matrix-prod"}`),
				mock.Existing{DBs: []mock.ExistingDB{stackDB, {ID: "matrix-prod", Tags: map[string]string{"Name": "matrix-prod-db"}}}},
				"matrix:dbRestore: the source instance matrix-prod is not one of this stack's databases (tag Name=matrix-test-db): a restore keeps the source's master password, which is not the one this stack holds, so Synapse could not log in; restore from this stack's database (the databaseIdentifier output)"},
			{"no restore", haConfig(), mock.Existing{DBs: []mock.ExistingDB{stackDB}}, ""},
			{"single over a restored database", config(), mock.Existing{DBs: []mock.ExistingDB{restored}},
				`matrix:topology: this stack already holds data in the ha topology: the ha topology's RDS database ` + restored.ID + `. Switching to single would delete the load balancer, the Auto Scaling Group, the RDS database and the media bucket, and single starts with an empty homeserver. Keep matrix:topology ha, or move the data first (docs/topologies.md, "Switching topologies") and confirm with pulumi config set matrix:allowTopologyChange true`},
		} {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				_, c, err := synthtest.RunIn(t, m.DryRun, tc.raw, tc.existing)
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				synthtest.RefusedBeforeDeclaring(t, err, c, tc.want)
			})
		}
	}
}

func resourceKey(k string) resource.PropertyKey { return resource.PropertyKey(k) }

// haVarsIn reads vars.yml as the hosts get it from a run's cloud.
func haVarsIn(t *testing.T, c *mock.Cloud) (string, map[string]any) {
	t.Helper()
	v := get(one(t, c, paramType, "vars").Inputs, "value")
	if !v.IsSecret() {
		t.Fatalf("vars parameter value is not secret")
	}
	text := v.SecretValue().Element.StringValue()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	return text, m
}
