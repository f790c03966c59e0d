// Package ansible is the controller side of provisioning: the pin of the
// upstream playbook (upstream.env), our own prepare playbook (prepare.yml),
// the Ansible configuration (ansible.cfg) and the wrapper that runs them
// (run-playbook). The files are embedded so that the Pulumi program reads the
// pin and hashes exactly the tree a playbook run consumes.
package ansible

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

//go:embed ansible.cfg bootstrap-host prepare.yml run-playbook upstream.env
var tree embed.FS

// files is the tree a run consumes, relative to this directory, sorted.
var files = []string{"ansible.cfg", "bootstrap-host", "prepare.yml", "run-playbook", "upstream.env"}

const (
	// Dir is where the tree sits relative to the project root.
	Dir = "ansible"
	// PinFile is the name of the pin inside Dir.
	PinFile = "upstream.env"
	// Wrapper is the name of the script inside Dir that runs a playbook.
	Wrapper = "run-playbook"

	// FirstContactFlag makes the wrapper run the script on its stdin on
	// the host instead of a playbook (matrix:access ssm), printing the
	// host key the script prints.
	FirstContactFlag = "--first-contact"
)

// Connection modes of the wrapper (EnvConnection).
const (
	ConnectionSSH   = "ssh"
	ConnectionSSM   = "ssm"
	ConnectionLocal = "local"
)

// Environment variables read by the wrapper. Everything it needs comes
// through these, never through its arguments, because several hold secrets.
const (
	EnvInventoryHostname = "MATRIX_INVENTORY_HOSTNAME" // host_vars directory name
	EnvInventoryHosts    = "MATRIX_INVENTORY_HOSTS"    // content of inventory/hosts
	EnvInventoryVars     = "MATRIX_INVENTORY_VARS"     // content of host_vars/<hostname>/vars.yml
	EnvSSHPrivateKey     = "MATRIX_SSH_PRIVATE_KEY"    // OpenSSH private key
	EnvSSHKnownHosts     = "MATRIX_SSH_KNOWN_HOSTS"    // known_hosts line(s) of the host
	EnvExtraVars         = "MATRIX_EXTRA_VARS"         // YAML for --extra-vars @file (with --extra-vars-env)
	EnvRedact            = "MATRIX_REDACT"             // secret values, one per line, masked in the output
	EnvConnection        = "MATRIX_CONNECTION"         // optional: "ssm" through Session Manager, "local" for a host configuring itself
	EnvSSMTarget         = "MATRIX_SSM_TARGET"         // with ssm: the instance ID
	EnvSSMRegion         = "MATRIX_SSM_REGION"         // with ssm: its region
	EnvSSHUser           = "MATRIX_SSH_USER"           // with --first-contact: the login user
	EnvPinFile           = "MATRIX_PIN_FILE"           // optional: another pin file
	EnvCacheDir          = "MATRIX_CACHE_DIR"          // optional: where the upstream checkout is kept
)

// Playbooks accepted by the wrapper's --playbook flag.
const (
	PlaybookUpstream = "upstream" // setup.yml of the pinned upstream checkout
	PlaybookPrepare  = "prepare"  // our prepare.yml
)

// Files returns the names of the files of the tree, relative to Dir, in the
// order TreeHash reads them.
func Files() []string {
	return slices.Clone(files)
}

// ReadFile returns the embedded content of one file of the tree.
func ReadFile(name string) ([]byte, error) {
	if !slices.Contains(files, name) {
		return nil, fmt.Errorf("ansible: %q is not part of the tree", name)
	}
	data, err := tree.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("ansible: read %s: %w", name, err)
	}
	return data, nil
}

// TreeHash returns the hex SHA-256 over the tree's files (name, size and
// content of each, in the order of Files). It changes whenever anything a
// run consumes from this directory changes, the pin included.
func TreeHash() string {
	h := sha256.New()
	for _, name := range files {
		data, err := tree.ReadFile(name)
		if err != nil {
			// The names are fixed and checked by the embed directive.
			panic(fmt.Sprintf("ansible: embedded %s missing: %v", name, err))
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Pin is the upstream playbook version the project drives, with what the
// controller needs to run it.
type Pin struct {
	Repo                string   // UPSTREAM_REPO: git URL of the playbook
	Commit              string   // UPSTREAM_COMMIT: 40 hex digits
	MigrationVersion    string   // MIGRATION_VERSION: for matrix_playbook_migration_validated_version
	AnsibleCoreMin      string   // ANSIBLE_CORE_MIN: lowest ansible-core, e.g. 2.15.1
	RequiredCollections []string // REQUIRED_COLLECTIONS: e.g. community.general, community.docker>=3.6.0
}

// CollectionRequirement is one entry of REQUIRED_COLLECTIONS: a collection
// and, when the playbook needs one, the lowest version it works with.
type CollectionRequirement struct {
	Name       string // namespace.name, e.g. community.docker
	MinVersion string // e.g. 3.6.0; empty when any version will do
}

// String renders the requirement as written in the pin.
func (c CollectionRequirement) String() string {
	if c.MinVersion == "" {
		return c.Name
	}
	return c.Name + ">=" + c.MinVersion
}

// ParseCollectionRequirement parses one REQUIRED_COLLECTIONS entry:
// namespace.name, or namespace.name>=X.Y.Z. Only ">=" with a full
// three-part version: that is what galaxy versions are (semantic
// versioning), and a floor is all the upstream declares.
func ParseCollectionRequirement(s string) (CollectionRequirement, error) {
	m := collectionSpec.FindStringSubmatch(s)
	if m == nil {
		return CollectionRequirement{}, fmt.Errorf("%w: REQUIRED_COLLECTIONS: %q is not a namespace.name collection, optionally with >=X.Y.Z", errPinMalformed, s)
	}
	return CollectionRequirement{Name: m[1], MinVersion: m[2]}, nil
}

// Collections returns REQUIRED_COLLECTIONS parsed; the pin was validated
// by ParsePin, so every entry parses.
func (p Pin) Collections() []CollectionRequirement {
	var reqs []CollectionRequirement
	for _, s := range p.RequiredCollections {
		c, err := ParseCollectionRequirement(s)
		if err != nil {
			panic(fmt.Sprintf("ansible: pin not from ParsePin: %v", err))
		}
		reqs = append(reqs, c)
	}
	return reqs
}

// LoadPin parses the embedded upstream.env.
func LoadPin() (Pin, error) {
	data, err := tree.ReadFile(PinFile)
	if err != nil {
		return Pin{}, fmt.Errorf("ansible: read %s: %w", PinFile, err)
	}
	p, err := ParsePin(data)
	if err != nil {
		return Pin{}, fmt.Errorf("%s/%s: %w", Dir, PinFile, err)
	}
	return p, nil
}

var (
	pinLine       = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	pinPlainValue = regexp.MustCompile(`^[A-Za-z0-9._:/@+=%,-]*$`)
	// '>' only inside quotes, where a shell reads it literally too.
	pinQuotedValue  = regexp.MustCompile(`^"[A-Za-z0-9._:/@+=%,> -]*"$`)
	commitSHA       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	migrationVer    = regexp.MustCompile(`^v[0-9]{4}\.[0-9]{2}\.[0-9]{2}\.[0-9]+$`)
	coreVersion     = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)
	collectionSpec  = regexp.MustCompile(`^([a-z0-9_]+\.[a-z0-9_]+)(?:>=([0-9]+\.[0-9]+\.[0-9]+))?$`)
	pinKeys         = []string{"UPSTREAM_REPO", "UPSTREAM_COMMIT", "MIGRATION_VERSION", "ANSIBLE_CORE_MIN", "REQUIRED_COLLECTIONS"}
	errPinMalformed = errors.New("malformed pin")
)

// ParsePin parses pin file content: KEY=value lines, blank lines and lines
// starting with '#'. A value is either plain (no spaces, no shell
// metacharacters) or wholly in double quotes, so that the file means the
// same to a shell and to this parser. Unknown, repeated or missing keys and
// invalid values are errors; all problems are reported at once.
func ParsePin(data []byte) (Pin, error) {
	var errs []error
	values := make(map[string]string)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := pinLine.FindStringSubmatch(line)
		if m == nil {
			errs = append(errs, fmt.Errorf("%w: line %d: want KEY=value, got %q", errPinMalformed, n, line))
			continue
		}
		key, raw := m[1], m[2]
		if !slices.Contains(pinKeys, key) {
			errs = append(errs, fmt.Errorf("%w: line %d: unknown key %s", errPinMalformed, n, key))
			continue
		}
		if _, dup := values[key]; dup {
			errs = append(errs, fmt.Errorf("%w: line %d: %s set twice", errPinMalformed, n, key))
			continue
		}
		var value string
		switch {
		case pinQuotedValue.MatchString(raw):
			value = raw[1 : len(raw)-1]
		case pinPlainValue.MatchString(raw):
			value = raw
		default:
			errs = append(errs, fmt.Errorf("%w: line %d: value of %s has characters a pin does not allow: %q", errPinMalformed, n, key, raw))
			continue
		}
		values[key] = value
	}
	for _, key := range pinKeys {
		if _, ok := values[key]; !ok {
			errs = append(errs, fmt.Errorf("%w: %s missing", errPinMalformed, key))
		}
	}
	if len(errs) > 0 {
		return Pin{}, errors.Join(errs...)
	}

	p := Pin{
		Repo:                values["UPSTREAM_REPO"],
		Commit:              values["UPSTREAM_COMMIT"],
		MigrationVersion:    values["MIGRATION_VERSION"],
		AnsibleCoreMin:      values["ANSIBLE_CORE_MIN"],
		RequiredCollections: strings.Fields(values["REQUIRED_COLLECTIONS"]),
	}
	if p.Repo == "" {
		errs = append(errs, fmt.Errorf("%w: UPSTREAM_REPO is empty", errPinMalformed))
	}
	if !commitSHA.MatchString(p.Commit) {
		errs = append(errs, fmt.Errorf("%w: UPSTREAM_COMMIT must be a full commit SHA (40 lowercase hex digits), got %q", errPinMalformed, p.Commit))
	}
	if !migrationVer.MatchString(p.MigrationVersion) {
		errs = append(errs, fmt.Errorf("%w: MIGRATION_VERSION must look like v2026.05.18.0, got %q", errPinMalformed, p.MigrationVersion))
	}
	if !coreVersion.MatchString(p.AnsibleCoreMin) {
		errs = append(errs, fmt.Errorf("%w: ANSIBLE_CORE_MIN must look like 2.15.1, got %q", errPinMalformed, p.AnsibleCoreMin))
	}
	if len(p.RequiredCollections) == 0 {
		errs = append(errs, fmt.Errorf("%w: REQUIRED_COLLECTIONS is empty", errPinMalformed))
	}
	seen := make(map[string]bool)
	for _, s := range p.RequiredCollections {
		c, err := ParseCollectionRequirement(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("%w: REQUIRED_COLLECTIONS: %s listed twice", errPinMalformed, c.Name))
		}
		seen[c.Name] = true
	}
	if len(errs) > 0 {
		return Pin{}, errors.Join(errs...)
	}
	return p, nil
}

// Env renders a valid pin in the format ParsePin reads.
func (p Pin) Env() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "UPSTREAM_REPO=%s\n", p.Repo)
	fmt.Fprintf(&b, "UPSTREAM_COMMIT=%s\n", p.Commit)
	fmt.Fprintf(&b, "MIGRATION_VERSION=%s\n", p.MigrationVersion)
	fmt.Fprintf(&b, "ANSIBLE_CORE_MIN=%s\n", p.AnsibleCoreMin)
	fmt.Fprintf(&b, "REQUIRED_COLLECTIONS=\"%s\"\n", strings.Join(p.RequiredCollections, " "))
	return b.Bytes()
}
