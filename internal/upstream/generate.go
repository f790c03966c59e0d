package upstream

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Paths inside an upstream checkout.
const (
	groupVarsFile   = "group_vars/matrix_servers"
	baseDefaultFile = "roles/custom/matrix-base/defaults/main.yml"
	fqnPrefix       = "matrix_server_fqn_"
	fqnMatrix       = fqnPrefix + "matrix"
	fqnFederation   = fqnPrefix + "matrix_federation"
)

// roleGlobs are the role directories a checkout holds once its external
// roles are installed (ansible-galaxy ... -p roles/galaxy/).
var roleGlobs = []string{"roles/custom/*", "roles/galaxy/*"}

// Generate extracts the facts from an unpacked upstream checkout whose
// external roles are installed in roles/galaxy. commit is recorded as is: a
// tree does not know its own commit, so the caller passes the pin.
func Generate(root, commit string) (Facts, error) {
	roles, err := roleDirs(root)
	if err != nil {
		return Facts{}, err
	}
	defs, err := loadDefinitions(root, roles)
	if err != nil {
		return Facts{}, err
	}
	f := Facts{Commit: commit, Variables: defs.names()}
	if f.Renamed, f.RenamedPatterns, err = validations(root, roles); err != nil {
		return Facts{}, err
	}
	if err := f.compile(); err != nil {
		return Facts{}, err
	}
	for _, v := range f.Variables {
		if _, refused := f.Replacement(v); refused {
			f.RenamedAndDefined = append(f.RenamedAndDefined, v)
		}
	}
	if err := services(root, defs, &f); err != nil {
		return Facts{}, err
	}
	if f.Ports, err = ports(root, roles, defs); err != nil {
		return Facts{}, err
	}
	f.DerivedSecrets, f.DerivedSkipped = derivedSecrets(defs)
	f.normalize()
	return f, nil
}

// normalize turns nil lists into empty ones, so that the file says [] rather
// than null and a parsed file marshals back to the same bytes.
func (f *Facts) normalize() {
	for _, s := range []*[]string{&f.Variables, &f.RenamedAndDefined, &f.OnMatrixHost} {
		if *s == nil {
			*s = []string{}
		}
	}
	f.Renamed = orEmpty(f.Renamed)
	f.RenamedPatterns = orEmpty(f.RenamedPatterns)
	f.ServiceList = orEmpty(f.ServiceList)
	f.Excluded = orEmpty(f.Excluded)
	f.OtherHostnames = orEmpty(f.OtherHostnames)
	f.Ports = orEmpty(f.Ports)
	f.DerivedSecrets = orEmpty(f.DerivedSecrets)
	f.DerivedSkipped = orEmpty(f.DerivedSkipped)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// roleDirs returns the role directories of root, relative to it, sorted.
func roleDirs(root string) ([]string, error) {
	var dirs []string
	for _, g := range roleGlobs {
		matches, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", g, err)
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.IsDir() {
				rel, _ := filepath.Rel(root, m)
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s has no roles in %s: not an upstream checkout?", root, strings.Join(roleGlobs, " or "))
	}
	if !slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(d, "roles/galaxy/") }) {
		return nil, fmt.Errorf("%s has no roles in roles/galaxy: install them first (ansible-galaxy install -r requirements.yml -p roles/galaxy/)", root)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// definitions are the variables a checkout defines, with their values.
type definitions struct {
	group map[string]*yaml.Node // group_vars/matrix_servers
	role  map[string]*yaml.Node // role defaults; the first role (sorted) wins
}

func (d definitions) names() []string {
	var names []string
	for k := range d.group {
		names = append(names, k)
	}
	for k := range d.role {
		if _, ok := d.group[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// value is name's value as the playbook resolves it: group_vars override
// role defaults.
func (d definitions) value(name string) (*yaml.Node, bool) {
	if n, ok := d.group[name]; ok {
		return n, true
	}
	n, ok := d.role[name]
	return n, ok
}

// scalar is name's resolved value when it is a string scalar.
func (d definitions) scalar(name string) (string, bool) {
	n, ok := d.value(name)
	if !ok || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// literal is name's resolved value for the facts: a bool when the YAML holds
// a literal bool, otherwise the text (a Jinja expression stays a string).
func (d definitions) literal(name string) any {
	n, ok := d.value(name)
	if !ok {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return fmt.Sprintf("<%s>", kindName(n.Kind))
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "other"
}

func loadDefinitions(root string, roles []string) (definitions, error) {
	d := definitions{role: map[string]*yaml.Node{}}
	var err error
	if d.group, err = topLevel(filepath.Join(root, groupVarsFile)); err != nil {
		return definitions{}, err
	}
	for _, role := range roles {
		files, err := defaultsFiles(filepath.Join(root, role))
		if err != nil {
			return definitions{}, err
		}
		for _, file := range files {
			keys, err := topLevel(file)
			if err != nil {
				return definitions{}, err
			}
			for k, v := range keys {
				if _, seen := d.role[k]; !seen {
					d.role[k] = v
				}
			}
		}
	}
	return d, nil
}

// defaultsFiles lists a role's defaults files the way Ansible loads them:
// defaults/main.yml, or any YAML file in defaults/ or defaults/main/.
func defaultsFiles(roleDir string) ([]string, error) {
	var files []string
	for _, g := range []string{"defaults/*.yml", "defaults/*.yaml", "defaults/main/*.yml", "defaults/main/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(roleDir, g))
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", g, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return files, nil
}

// topLevel returns the top-level keys of a YAML mapping file with their
// value nodes. It decodes into nodes rather than a map so that a duplicate
// key (which Ansible accepts, keeping the last) is no error.
func topLevel(path string) (map[string]*yaml.Node, error) {
	doc, err := parseYAML(path)
	if err != nil {
		return nil, err
	}
	keys := map[string]*yaml.Node{}
	if doc == nil {
		return keys, nil // empty file
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: top level is not a mapping", path)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		keys[doc.Content[i].Value] = doc.Content[i+1]
	}
	return keys, nil
}

// parseYAML returns the root node of a one-document YAML file, nil if empty.
func parseYAML(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// validations extracts the refused names from every role's
// tasks/validate_config*.yml.
func validations(root string, roles []string) ([]Rename, []RenamedPattern, error) {
	var renames []Rename
	var patterns []RenamedPattern
	for _, role := range roles {
		files, err := filepath.Glob(filepath.Join(root, role, "tasks", "validate_config*.yml"))
		if err != nil {
			return nil, nil, fmt.Errorf("glob %s: %w", role, err)
		}
		slices.Sort(files)
		for _, file := range files {
			doc, err := parseYAML(file)
			if err != nil {
				return nil, nil, err
			}
			rel, _ := filepath.Rel(root, file)
			v := validationFile{file: filepath.ToSlash(rel)}
			v.walk(doc)
			renames = append(renames, v.renames...)
			patterns = append(patterns, v.patterns...)
		}
	}
	return sortRenames(renames), sortPatterns(patterns), nil
}

// sortRenames sorts by old name and keeps one item per old name, the first
// file's: several roles repeat the same rename.
func sortRenames(rs []Rename) []Rename {
	slices.SortStableFunc(rs, func(a, b Rename) int {
		return cmp.Or(strings.Compare(a.Old, b.Old), strings.Compare(a.File, b.File))
	})
	return slices.CompactFunc(rs, func(a, b Rename) bool { return a.Old == b.Old })
}

func sortPatterns(ps []RenamedPattern) []RenamedPattern {
	slices.SortStableFunc(ps, func(a, b RenamedPattern) int {
		return cmp.Or(strings.Compare(a.Pattern, b.Pattern), strings.Compare(a.File, b.File))
	})
	return slices.CompactFunc(ps, func(a, b RenamedPattern) bool { return a.Pattern == b.Pattern })
}

// validationFile collects what one validation file refuses.
type validationFile struct {
	file     string
	renames  []Rename
	patterns []RenamedPattern
}

// varnamesPattern finds the literal regular expression of an
// ansible.builtin.varnames lookup; lookups built at run time (e.g. from
// item.old) have no literal and are covered by the {old, new} items.
var varnamesPattern = regexp.MustCompile(`lookup\(\s*'(?:ansible\.builtin\.)?varnames'\s*,\s*'([^']+)'`)

// walk visits a task list, descending into block/rescue/always.
func (v *validationFile) walk(tasks *yaml.Node) {
	if tasks == nil || tasks.Kind != yaml.SequenceNode {
		return
	}
	facts := setFacts(tasks)
	for _, task := range tasks.Content {
		if task.Kind != yaml.MappingNode {
			continue
		}
		for _, key := range []string{"block", "rescue", "always"} {
			v.walk(mapValue(task, key))
		}
		if mapValue(task, "ansible.builtin.fail") == nil && mapValue(task, "fail") == nil {
			continue
		}
		v.renames = append(v.renames, v.items(task)...)
		v.patterns = append(v.patterns, v.refusedPatterns(task, facts)...)
	}
}

// items returns the names a fail task loops over to refuse them: {old,
// new} items, and plain names under a condition that fails when the name
// is set ("varnames ... ('^' + item + '$') ... | length > 0"), which
// removes them without a successor; their replacement text is the
// failure message.
func (v *validationFile) items(task *yaml.Node) []Rename {
	var out []Rename
	for _, key := range []string{"with_items", "loop"} {
		list := mapValue(task, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range list.Content {
			old, new := mapValue(item, "old"), mapValue(item, "new")
			switch {
			case old != nil && new != nil && old.Kind == yaml.ScalarNode && new.Kind == yaml.ScalarNode:
				out = append(out, Rename{Old: old.Value, New: new.Value, File: v.file})
			case item.Kind == yaml.ScalarNode && refusesItem(task):
				out = append(out, Rename{Old: item.Value, New: message(task, item.Value), File: v.file})
			}
		}
	}
	return out
}

// itemRef is a reference to the loop item in a message.
var itemRef = regexp.MustCompile(`\{\{\s*item\s*\}\}`)

// refusesItem reports whether a task's condition fails when the variable
// named by the loop item is set.
func refusesItem(task *yaml.Node) bool {
	for _, cond := range scalars(mapValue(task, "when")) {
		if strings.Contains(cond, "varnames") && strings.Contains(cond, "+ item +") && strings.Contains(cond, "length > 0") {
			return true
		}
	}
	return false
}

// refusedPatterns returns the families of names a fail task refuses: the
// literal varnames patterns in its when condition, directly or through a
// variable an earlier set_fact of the same list filled from such a lookup,
// when the condition fails on a non-empty result ("| length > 0").
func (v *validationFile) refusedPatterns(task *yaml.Node, facts map[string][]string) []RenamedPattern {
	var found []string
	for _, cond := range scalars(mapValue(task, "when")) {
		if !strings.Contains(cond, "length > 0") {
			continue
		}
		for _, m := range varnamesPattern.FindAllStringSubmatch(cond, -1) {
			found = append(found, m[1])
		}
		for name, pats := range facts {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(cond) {
				found = append(found, pats...)
			}
		}
	}
	msg := message(task, "")
	var out []RenamedPattern
	for _, p := range found {
		out = append(out, RenamedPattern{Pattern: p, Message: msg, File: v.file})
	}
	return out
}

// setFacts maps each variable a set_fact task of the list fills from a
// literal varnames lookup to the lookup's patterns.
func setFacts(tasks *yaml.Node) map[string][]string {
	facts := map[string][]string{}
	for _, task := range tasks.Content {
		args := mapValue(task, "ansible.builtin.set_fact")
		if args == nil {
			args = mapValue(task, "set_fact")
		}
		if args == nil || args.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(args.Content); i += 2 {
			for _, m := range varnamesPattern.FindAllStringSubmatch(args.Content[i+1].Value, -1) {
				facts[args.Content[i].Value] = append(facts[args.Content[i].Value], m[1])
			}
		}
	}
	return facts
}

func failArgs(task *yaml.Node) *yaml.Node {
	if n := mapValue(task, "ansible.builtin.fail"); n != nil {
		return n
	}
	return mapValue(task, "fail")
}

// message returns upstream's text of a fail task's msg, on one line: its
// paragraphs without Jinja (those list the offending variables at run
// time), with references to the loop item replaced by item. A folded scalar
// (>-) keeps a blank line as a single newline, a literal one (|-) as two.
func message(task *yaml.Node, item string) string {
	msg := mapValue(failArgs(task), "msg")
	if msg == nil || msg.Kind != yaml.ScalarNode {
		return ""
	}
	sep := "\n\n"
	if msg.Style&yaml.FoldedStyle != 0 {
		sep = "\n"
	}
	text := msg.Value
	if item != "" {
		text = itemRef.ReplaceAllLiteralString(text, item)
	}
	var kept []string
	for _, para := range strings.Split(strings.TrimSpace(text), sep) {
		if !strings.Contains(para, "{{") {
			kept = append(kept, strings.Join(strings.Fields(para), " "))
		}
	}
	if len(kept) == 0 { // all Jinja: keep the words before the first expression
		before, _, _ := strings.Cut(text, "{{")
		return strings.Join(strings.Fields(before), " ")
	}
	return strings.Join(slices.DeleteFunc(kept, func(p string) bool { return p == "" }), " ")
}

// mapValue returns the value of key in a mapping node, nil if absent.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// scalars returns a scalar's value or a list's scalar items (a when
// condition may be either).
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

var (
	// fqnDefault is a matrix_server_fqn_* default of the form
	// "<label>.{{ matrix_domain }}".
	fqnDefault = regexp.MustCompile(`^([a-z0-9-]+)\.\{\{\s*matrix_domain\s*\}\}$`)
	// wholeVar is a value that is exactly one variable: "{{ name }}".
	wholeVar = regexp.MustCompile(`^\{\{\s*(\w+)\s*\}\}$`)
	// labelledVar is a value "<label>.{{ name }}".
	labelledVar = regexp.MustCompile(`^[a-z0-9-]+\.\{\{\s*(\w+)\s*\}\}$`)
)

// hostnameVars are the variables named <prefix>_hostname, leaving out the
// container_labels ones, which derive from those.
func hostnameVars(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, "_hostname") && !strings.Contains(n, "_container_labels_") {
			out = append(out, n)
		}
	}
	return out
}

// services joins the matrix_server_fqn_* defaults with the hostname
// variables set to them and the enable variables of those.
func services(root string, defs definitions, f *Facts) error {
	base, err := topLevel(filepath.Join(root, baseDefaultFile))
	if err != nil {
		return err
	}
	// by fqn variable: the hostname variables whose value is exactly it
	users := map[string][]string{}
	for _, h := range hostnameVars(f.Variables) {
		val, _ := defs.scalar(h)
		if m := wholeVar.FindStringSubmatch(val); m != nil && strings.HasPrefix(m[1], fqnPrefix) {
			users[m[1]] = append(users[m[1]], h)
		} else if m := labelledVar.FindStringSubmatch(val); m != nil {
			f.OtherHostnames = append(f.OtherHostnames, otherHostname(defs, h, val))
		}
	}
	f.OnMatrixHost = slices.Concat(users[fqnMatrix], users[fqnFederation])
	slices.Sort(f.OnMatrixHost)
	for _, fqn := range sortedKeys(base) {
		if !strings.HasPrefix(fqn, fqnPrefix) {
			continue
		}
		svc, reason := service(defs, fqn, scalarValue(base[fqn]), users[fqn])
		if reason != "" {
			f.Excluded = append(f.Excluded, Exclusion{FqnVar: fqn, Reason: reason})
			continue
		}
		f.ServiceList = append(f.ServiceList, svc)
	}
	if len(f.ServiceList) == 0 {
		return errors.New(baseDefaultFile + ": no matrix_server_fqn_* service found")
	}
	return nil
}

// service builds the Service of one fqn variable, or says why there is none.
func service(defs definitions, fqn, value string, hostnames []string) (Service, string) {
	switch {
	case fqn == fqnMatrix:
		return Service{}, "the homeserver's own host; services whose hostname is set to it are listed in onMatrixHost"
	case fqn == fqnFederation:
		return Service{}, "federation endpoint, by default the matrix host itself (" + value + ")"
	}
	m := fqnDefault.FindStringSubmatch(value)
	if m == nil {
		return Service{}, fmt.Sprintf("default %q is not <label>.{{ matrix_domain }}", value)
	}
	switch len(hostnames) {
	case 0:
		return Service{}, "no <prefix>_hostname variable is set to it"
	case 1:
	default:
		return Service{}, "several hostname variables are set to it: " + strings.Join(hostnames, ", ")
	}
	enabled := strings.TrimSuffix(hostnames[0], "_hostname") + "_enabled"
	if _, ok := defs.value(enabled); !ok {
		return Service{}, fmt.Sprintf("%s is set to it but %s is not defined", hostnames[0], enabled)
	}
	return Service{
		Name:           strings.TrimPrefix(fqn, fqnPrefix),
		FqnVar:         fqn,
		DefaultLabel:   m[1],
		HostnameVar:    hostnames[0],
		EnabledVar:     enabled,
		EnabledDefault: defs.literal(enabled),
	}, ""
}

func otherHostname(defs definitions, hostnameVar, value string) Hostname {
	h := Hostname{HostnameVar: hostnameVar, Value: value}
	enabled := strings.TrimSuffix(hostnameVar, "_hostname") + "_enabled"
	if _, ok := defs.value(enabled); ok {
		h.EnabledVar, h.EnabledDefault = enabled, defs.literal(enabled)
	}
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
