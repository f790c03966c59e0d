package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DBRestore is matrix:dbRestore: the ha database is a point-in-time
// restore of another instance. It describes how the stack's database came
// to be, so it stays in the configuration after the restore, as amiId does
// for an image: removing it would declare a new, empty database.
type DBRestore struct {
	// Source is the instance restored from; "" stands for the stack's
	// first database (DBIdentifier), resolved when the stack is declared.
	Source string
	// Time is the moment restored to, in UTC; zero with Latest.
	Time   time.Time
	Latest bool
}

// restoreFields are the fields of matrix:dbRestore.
var restoreFields = []string{"time", "sourceDbInstanceIdentifier"}

// rdsIdentifierPattern is RDS's rule for instance identifiers: 1 to 63
// letters, digits or hyphens, starting with a letter, no two hyphens in a
// row, not ending with one.
var rdsIdentifierPattern = regexp.MustCompile(`^[a-z]([a-z0-9]|-[a-z0-9]){0,62}$`)

// dbRestore parses matrix:dbRestore. An empty object is no restore. Only
// what holds whatever the account contains is checked here: the age of the
// time against the source's backup window is checked when a restore is
// still to be made (checkDBRestore), since a done restore stays configured
// long after its time has left that window.
func (r *reader) dbRestore(topology Topology, now time.Time) *DBRestore {
	v, _ := r.value("dbRestore")
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		r.add("dbRestore", "must be an object such as {time: \"2026-11-22T17:30:00Z\"} (pulumi config set --path 'matrix:dbRestore.time' 2026-11-22T17:30:00Z)")
		return nil
	}
	if len(raw) == 0 {
		return nil
	}
	if topology == TopologySingle {
		r.add("dbRestore", "is for the ha topology's RDS database; the single topology restores its data volume from a snapshot (docs/runbook-restore.md); remove it (pulumi config rm matrix:dbRestore)")
		return nil
	}
	ok := true
	var unknown []string
	for k := range raw {
		if !slices.Contains(restoreFields, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		ok = false
		if guess := closest(k, restoreFields); guess != "" {
			r.add("dbRestore", "has an unknown field %q; did you mean %s?", k, guess)
		} else {
			r.add("dbRestore", "has an unknown field %q; the fields are %s", k, strings.Join(restoreFields, " and "))
		}
	}
	d := &DBRestore{}
	if src, has := raw["sourceDbInstanceIdentifier"]; has {
		s, isString := src.(string)
		d.Source = strings.TrimSpace(s)
		if !isString || !rdsIdentifierPattern.MatchString(d.Source) {
			ok = false
			r.add("dbRestore", "sourceDbInstanceIdentifier %v is not an RDS instance identifier such as matrix-prod (the databaseIdentifier output); remove the field to restore from the stack's first database", src)
		}
	}
	t, has := raw["time"]
	s, isString := t.(string)
	s = strings.TrimSpace(s)
	switch {
	case !has:
		ok = false
		r.add("dbRestore", "time is required: the moment to restore to, in RFC 3339 UTC (e.g. 2026-11-22T17:30:00Z), or latest for the latest restorable time")
	case isString && s == "latest":
		d.Latest = true
	default:
		parsed, err := time.Parse(time.RFC3339, s)
		switch {
		case !isString || err != nil:
			ok = false
			r.add("dbRestore", "time %v is not an RFC 3339 time such as 2026-11-22T17:30:00Z, nor latest", t)
		case parsed.After(now):
			ok = false
			r.add("dbRestore", "time %s is in the future; pick a moment before the damage, or latest", s)
		default:
			d.Time = parsed.UTC()
		}
	}
	if !ok {
		return nil
	}
	return d
}

// RestoredIdentifier is the identifier of the instance a restore creates:
// the stack's identifier plus a digest of what was restored, so each
// restore gets a name of its own (RDS refuses to restore onto an existing
// identifier) and the same configuration always names the same instance.
func RestoredIdentifier(base string, d DBRestore, source string) string {
	when := "latest"
	if !d.Latest {
		when = d.Time.Format(time.RFC3339)
	}
	sum := sha256.Sum256([]byte(source + "\x00" + when))
	suffix := "-pitr-" + hex.EncodeToString(sum[:])[:8]
	if len(base)+len(suffix) > 63 {
		base = strings.TrimRight(base[:63-len(suffix)], "-")
	}
	return base + suffix
}

var snapshotIDPattern = regexp.MustCompile(`^snap-[0-9a-f]{8}([0-9a-f]{9})?$`)

func (r *reader) snapshotID() string {
	return r.optionalID("dataVolumeSnapshotId", snapshotIDPattern,
		"is not an EBS snapshot ID such as snap-0123456789abcdef0 (aws ec2 describe-snapshots lists the stack's daily snapshots; see docs/runbook-zone-move.md)")
}

var zoneNamePattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d[a-z]$`)

// availabilityZone checks the form of matrix:availabilityZone; whether the
// region has the zone is looked up (lookUp).
func (r *reader) availabilityZone(region string) string {
	v, _ := r.value("availabilityZone")
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "":
	case !zoneNamePattern.MatchString(v):
		r.add("availabilityZone", "%q is not an availability zone name such as %sa; remove the key for the first of the VPC's zones", v, region)
	case region != "" && v[:len(v)-1] != region:
		r.add("availabilityZone", "%q is a zone of %s, not of aws:region %s; use one of %s's zones such as %sb", v, v[:len(v)-1], region, region, region)
	default:
		return v
	}
	return ""
}

func (d DBRestore) String() string {
	if d.Latest {
		return fmt.Sprintf("%s at its latest restorable time", d.Source)
	}
	return fmt.Sprintf("%s at %s", d.Source, d.Time.Format(time.RFC3339))
}
