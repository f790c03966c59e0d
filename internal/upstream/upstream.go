// Package upstream holds facts about the pinned upstream playbook
// (spantaleev/matrix-docker-ansible-deploy at the commit in
// ansible/upstream.env, with its external roles installed in roles/galaxy):
// the variable names it defines, the names it has renamed or removed (with
// its replacement text), the services it serves at their own hostname and
// the host ports they publish.
//
// The facts live in facts.json, a generated file committed beside this code
// and embedded into the binary, so that the program can check the variables
// it renders without a copy of the playbook at hand. Ansible silently ignores
// a variable it does not know, so a renamed variable would otherwise be lost
// without a word.
//
// When the pin moves, regenerate the file from the new snapshot and commit it
// with the pin:
//
//	go run ./cmd/upstreamvars --snapshot ../shared/upstream/matrix-docker-ansible-deploy-<short>.tar.gz --write
//	go run ./cmd/upstreamvars --dir ~/.cache/matrix-on-aws/upstream --write
//
// Without --write the command checks that facts.json is current and that
// every variable the program renders is known and not renamed; the test in
// this package fails while facts.json differs from what the snapshot yields.
//
// What is extracted, and what is not:
//
//   - Variables: the top-level keys of every role's defaults (defaults/*.yml
//     and defaults/main/*.yml, roles/custom and roles/galaxy) and of
//     group_vars/matrix_servers.
//   - Renamed: every {old, new} item of the with_items/loop list of a fail
//     task in the roles' tasks/validate_config*.yml (the playbook's
//     migration role and many others use this pattern to fail on an old
//     name), and every plain name such a task refuses without a successor
//     (its replacement text is then the failure message). A refused name
//     stays refused when a role still defines it (RenamedAndDefined lists
//     those; none at the current pin).
//   - RenamedPatterns: the regular expressions those files pass to the
//     ansible.builtin.varnames lookup in a task that fails when a variable
//     matches (whole families such as matrix_postgres_*), with the failure
//     message as the replacement text (its paragraphs without Jinja).
//     Whether a task is additionally gated by a
//     matrix_playbook_migration_*_enabled variable is not recorded: at this
//     pin every gate defaults to true, and a name under a removed prefix
//     means nothing to the playbook anyway. Every fail task of the migration
//     role's validate_config.yml is covered by these two forms; the other
//     fail tasks in validate_config files check values (a required setting
//     left empty, an invalid combination), not names, and are not
//     extracted.
//   - Services: see Service. The fqn variables that yield no service are in
//     Excluded with the reason: matrix_server_fqn_matrix (the homeserver's
//     host; hostname variables set to it are in OnMatrixHost and need no
//     record), matrix_server_fqn_matrix_federation (the matrix host by
//     default) and any fqn no hostname variable uses (at this pin
//     matrix_server_fqn_mautrix_wsproxy: wsproxy's hostname is built from
//     its homeserver domain instead). Hostnames of the form
//     "<label>.{{ some_var }}" not via an fqn variable (commet from
//     matrix_domain directly, wsproxy, element-admin and element-call under
//     the element host) are in OtherHostnames.
//   - Ports: see Port; read from the roles' systemd unit templates, values
//     from the defaults. Publications that depend on a loop (traefik's
//     additional entrypoints, such as federation on 8448) are not extracted.
//   - DerivedSecrets: see DerivedSecret; every value of group_vars and the
//     role defaults (their resolved values, lists and mappings included)
//     of the form "{{ (SOURCE + 'salt') | hash('alg') | to_uuid }}", the
//     same without to_uuid, the same made conditional ("X if COND else"
//     the empty string), and the first N hex digits of the hash in base64
//     without padding (b64encode, then regex_replace of the trailing "="),
//     with literal text around the expression. A value that applies such a
//     filter in another form, or uses a source in another way than copying
//     it ("{{ SOURCE }}"), is in DerivedSkipped; none is at this pin. Tasks
//     and templates derive no secret at this pin and are not searched.
package upstream

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"github.com/matrix-on-aws/homeserver/internal/suggest"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// FactsFile is the name of the generated file inside this package.
const FactsFile = "facts.json"

//go:embed facts.json
var embedded []byte

// Facts is what the generator extracts from one upstream snapshot. Every
// list is sorted so that the marshalled file is stable.
type Facts struct {
	// Commit is the upstream commit the facts were generated from.
	Commit string `json:"commit"`
	// Variables are the names the upstream defines (role defaults and
	// group_vars/matrix_servers), sorted and unique.
	Variables []string `json:"variables"`
	// Renamed are names the upstream refuses, each with its replacement.
	Renamed []Rename `json:"renamed"`
	// RenamedPatterns are regular expressions (Python syntax, which these
	// simple ones share with Go's) of names the upstream refuses.
	RenamedPatterns []RenamedPattern `json:"renamedPatterns"`
	// RenamedAndDefined are names in Variables that Renamed or
	// RenamedPatterns refuse: a role or group_vars still defines them (often
	// as a leftover or under a reused prefix), yet setting them fails the
	// validation, so Known reports them unknown.
	RenamedAndDefined []string `json:"renamedAndDefined"`
	// ServiceList are the services served at a hostname of their own (the
	// field cannot share the name of the Services method).
	ServiceList []Service `json:"services"`
	// Excluded are the matrix_server_fqn_* variables that yield no service.
	Excluded []Exclusion `json:"excluded"`
	// OnMatrixHost are hostname variables set to matrix_server_fqn_matrix
	// (or _matrix_federation) in group_vars: those services are served by
	// path on the matrix host and need no DNS record of their own.
	OnMatrixHost []string `json:"onMatrixHost"`
	// OtherHostnames are hostname variables whose value is a label prefixed
	// to some variable other than a matrix_server_fqn_* one (e.g.
	// "commet.{{ matrix_domain }}"): hostnames a service may need that the
	// Services list does not cover.
	OtherHostnames []Hostname `json:"otherHostnames"`
	// Ports are host ports services publish, from the roles' defaults.
	Ports []Port `json:"ports"`
	// DerivedSecrets are the secrets the upstream computes from another
	// variable (all from matrix_homeserver_generic_secret_key at this pin),
	// sorted by variable: what the wrapper must redact besides the secrets
	// the program sets.
	DerivedSecrets []DerivedSecret `json:"derivedSecrets"`
	// DerivedSkipped are values that look derived from a secret in a form
	// the generator does not extract, sorted by variable; none at this pin.
	DerivedSkipped []SkippedDerivation `json:"derivedSkipped"`

	patterns []*regexp.Regexp // compiled RenamedPatterns, same order
}

// Rename is one {old, new} item of an upstream validation task.
type Rename struct {
	Old  string `json:"old"`
	New  string `json:"new"`  // upstream's text, sometimes "<removed>" or prose
	File string `json:"file"` // the validation file it comes from
}

// RenamedPattern is a family of names an upstream validation task refuses.
type RenamedPattern struct {
	Pattern string `json:"pattern"`
	Message string `json:"message"` // the failure message, less its Jinja paragraphs
	File    string `json:"file"`
}

// Service is a service the upstream serves at its own hostname,
// matrix_server_fqn_<name>, by default "<defaultLabel>.<matrix_domain>".
// The generator joins each matrix_server_fqn_* default of the matrix-base
// role with the one <prefix>_hostname variable whose resolved value is
// exactly "{{ matrix_server_fqn_<name> }}" (in group_vars or, for element,
// schildichat and fluffychat, in the role's defaults) and with
// <prefix>_enabled, which must exist.
type Service struct {
	Name         string `json:"name"`         // the fqn variable's suffix, e.g. "grafana"
	FqnVar       string `json:"fqnVar"`       // e.g. "matrix_server_fqn_grafana"
	DefaultLabel string `json:"defaultLabel"` // e.g. "stats"
	HostnameVar  string `json:"hostnameVar"`  // e.g. "grafana_hostname"
	EnabledVar   string `json:"enabledVar"`   // e.g. "grafana_enabled"
	// EnabledDefault is the enable variable's value as the playbook
	// resolves it (group_vars over role defaults): a bool when literal,
	// otherwise the Jinja expression as a string, which a caller must not
	// try to evaluate.
	EnabledDefault any `json:"enabledDefault"`
}

// Exclusion is a matrix_server_fqn_* variable that yields no Service.
type Exclusion struct {
	FqnVar string `json:"fqnVar"`
	Reason string `json:"reason"`
}

// Hostname is a hostname variable not built from a matrix_server_fqn_* one.
type Hostname struct {
	HostnameVar    string `json:"hostnameVar"`
	Value          string `json:"value"`
	EnabledVar     string `json:"enabledVar,omitempty"` // "" when none exists
	EnabledDefault any    `json:"enabledDefault,omitempty"`
}

// Port is a host port (or range) a service publishes by default, from a
// "-p" argument of one of its role's systemd unit templates.
type Port struct {
	Service        string `json:"service"`    // the role, e.g. "coturn"
	EnabledVar     string `json:"enabledVar"` // <role>_enabled, "" if there is none
	EnabledDefault any    `json:"enabledDefault"`
	Protocol       string `json:"protocol"` // "tcp" or "udp"
	From           int    `json:"from"`
	To             int    `json:"to"`
	// Variables are the host-side variables From and To come from (empty
	// when the template writes the port literally).
	Variables []string `json:"variables"`
	// InterfaceVar is the listen-interface variable bound before the port,
	// if any: a non-empty value binds to that address only.
	InterfaceVar string `json:"interfaceVar,omitempty"`
	// Condition is the template's enclosing {% if %} conditions and those
	// of "{{ port if COND else '' }}" defaults, as text: the port is
	// published only when they hold, which the generator does not judge.
	Condition string `json:"condition,omitempty"`

	guards []string // conditions met while resolving the variables
}

// Load returns the embedded facts.json, parsed once per process: the file
// is constant, and the config parser asks for it on every call. Callers
// must not modify the slices of the Facts it returns.
func Load() (Facts, error) { return loadEmbedded() }

var loadEmbedded = sync.OnceValues(func() (Facts, error) {
	f, err := Parse(embedded)
	if err != nil {
		return Facts{}, fmt.Errorf("upstream: embedded %s: %w", FactsFile, err)
	}
	return f, nil
})

// Parse reads facts in the format Marshal writes.
func Parse(data []byte) (Facts, error) {
	var f Facts
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Facts{}, fmt.Errorf("parse facts: %w", err)
	}
	// Known and Replacement search these by bisection.
	if !slices.IsSorted(f.Variables) {
		return Facts{}, fmt.Errorf("parse facts: variables are not sorted")
	}
	if !slices.IsSortedFunc(f.Renamed, func(a, b Rename) int { return strings.Compare(a.Old, b.Old) }) {
		return Facts{}, fmt.Errorf("parse facts: renamed is not sorted by old name")
	}
	if err := f.compile(); err != nil {
		return Facts{}, err
	}
	return f, nil
}

// Marshal returns the facts as the committed file holds them: indented
// JSON ending in a newline.
func (f Facts) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal facts: %w", err)
	}
	return append(data, '\n'), nil
}

func (f *Facts) compile() error {
	f.patterns = make([]*regexp.Regexp, len(f.RenamedPatterns))
	for i, p := range f.RenamedPatterns {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return fmt.Errorf("renamed pattern %q: %w", p.Pattern, err)
		}
		f.patterns[i] = re
	}
	return nil
}

// Defined reports whether the upstream defines name in a role's defaults or
// in group_vars/matrix_servers, whether or not it also refuses it.
func (f Facts) Defined(name string) bool {
	_, ok := slices.BinarySearch(f.Variables, name)
	return ok
}

// Known reports whether the upstream accepts name: it defines it and no
// validation task refuses it. A refused name is unknown even when some role
// still defines it, since the playbook fails on it before any role runs.
func (f Facts) Known(name string) bool {
	if _, refused := f.Replacement(name); refused {
		return false
	}
	return f.Defined(name)
}

// Replacement returns upstream's replacement text for a name it refuses:
// the new name, a note such as "<removed>", or the failure message of the
// task refusing it. ok is false when nothing refuses name.
func (f Facts) Replacement(name string) (replacement string, ok bool) {
	i, found := slices.BinarySearchFunc(f.Renamed, name, func(r Rename, n string) int {
		return strings.Compare(r.Old, n)
	})
	if found {
		return f.Renamed[i].New, true
	}
	for i, re := range f.patterns {
		if re.MatchString(name) {
			return f.RenamedPatterns[i].Message, true
		}
	}
	return "", false
}

// Closest returns the known variable nearest to name by edit distance, or ""
// when none is near enough to be a plausible typo (at most about a quarter
// of the name may differ).
func (f Facts) Closest(name string) string {
	return suggest.Closest(name, f.Variables, len(name)/4+2, f.Known)
}

// Services returns the services served at their own hostname.
func (f Facts) Services() []Service {
	return slices.Clone(f.ServiceList)
}
