package upstreamcheck

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Role is one entry of setup.yml's roles list, with the validations the
// harness runs for it.
type Role struct {
	Name   string         // as setup.yml names it, e.g. "galaxy/ntfy"
	When   []string       // setup.yml's conditions on the role
	Vars   map[string]any // setup.yml's vars on the role
	Checks []Check        // its validations, in the order main.yml reaches them
	// Excluded says why the role's validations are deliberately not run;
	// its defaults are loaded all the same.
	Excluded string
}

// Check is one validation task file of a role.
type Check struct {
	File string   // relative to the role's tasks directory, e.g. "validate_config.yml"
	When []string // conditions main.yml (and the files it includes) put around it, outermost first
}

// excluded lists roles whose validations the harness leaves out, and why.
// Their defaults are still loaded, since group_vars refer to them.
var excluded = map[string]string{
	// Newer versions of playbook_help check the controller's Ansible
	// version, which this controller's ansible-core 2.14 would fail although
	// nothing about the configuration is wrong. The controller is checked by
	// the project's wrapper (ansible/run-playbook), not here.
	"galaxy/playbook_help": "controller check: the Ansible version of the controller is checked by ansible/run-playbook",
}

// selectedTags are the tags under which a task runs with
// `ansible-playbook setup.yml --tags=setup-all`: the run that validates
// before it changes anything.
var selectedTags = []string{"setup-all", "always"}

// validateFile matches the upstream's validation task files:
// validate_config*.yml in every role, and validate_migration_version.yml,
// the migration gate matrix_playbook_migration runs first.
var validateFile = regexp.MustCompile(`^validate_[A-Za-z0-9_]+\.yml$`)

// maxIncludeDepth bounds how far include_tasks are followed from main.yml.
const maxIncludeDepth = 6

// Plan reads setup.yml of the playbook at root and, for each of its roles in
// order, the validations that role's tasks/main.yml runs under
// --tags=setup-all: include_tasks or import_tasks of a validate_*.yml file,
// found in main.yml or in the task files it includes (followed statically),
// with every `when` of the enclosing blocks and tasks. A validation included
// in a loop, or through a path that is not static, is left out: it needs
// loop variables the harness cannot provide.
func Plan(root string) ([]Role, error) {
	entries, err := setupRoles(root)
	if err != nil {
		return nil, err
	}
	roles := make([]Role, 0, len(entries))
	for _, e := range entries {
		r, err := planRole(root, e)
		if err != nil {
			return nil, err
		}
		roles = append(roles, r)
	}
	return roles, nil
}

// setupEntry is a role of setup.yml.
type setupEntry struct {
	name string
	when []string
	tags []string
	vars map[string]any
}

// setupRoles parses the roles list of setup.yml's only play.
func setupRoles(root string) ([]setupEntry, error) {
	data, err := os.ReadFile(filepath.Join(root, "setup.yml"))
	if err != nil {
		return nil, fmt.Errorf("upstreamcheck: %w", err)
	}
	var plays []map[string]any
	if err := yaml.Unmarshal(data, &plays); err != nil {
		return nil, fmt.Errorf("upstreamcheck: setup.yml: %w", err)
	}
	if len(plays) != 1 {
		return nil, fmt.Errorf("upstreamcheck: setup.yml: %d plays, the harness knows one", len(plays))
	}
	list, ok := plays[0]["roles"].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("upstreamcheck: setup.yml: no roles list")
	}
	entries := make([]setupEntry, 0, len(list))
	for i, item := range list {
		e, err := parseSetupEntry(item)
		if err != nil {
			return nil, fmt.Errorf("upstreamcheck: setup.yml: role %d: %w", i+1, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func parseSetupEntry(item any) (setupEntry, error) {
	switch v := item.(type) {
	case string:
		return setupEntry{name: v}, nil
	case map[string]any:
		name, _ := v["role"].(string)
		if name == "" {
			return setupEntry{}, fmt.Errorf("no role name in %v", v)
		}
		for k := range v {
			if !slices.Contains([]string{"role", "when", "tags", "vars"}, k) {
				return setupEntry{}, fmt.Errorf("%s: keyword %q is not understood by the harness", name, k)
			}
		}
		vars, _ := v["vars"].(map[string]any)
		return setupEntry{name: name, when: stringList(v["when"]), tags: stringList(v["tags"]), vars: vars}, nil
	default:
		return setupEntry{}, fmt.Errorf("unexpected %T", item)
	}
}

// stringList turns a when or tags value (a scalar or a list) into strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// planRole finds the validations of one role.
func planRole(root string, e setupEntry) (Role, error) {
	r := Role{Name: e.name, When: e.when, Vars: e.vars, Excluded: excluded[e.name]}
	dir := filepath.Join(root, "roles", filepath.FromSlash(e.name))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return Role{}, fmt.Errorf("upstreamcheck: role %s of setup.yml: no directory %s", e.name, dir)
	}
	main := filepath.Join(dir, "tasks", "main.yml")
	if _, err := os.Stat(main); err != nil {
		return r, nil // a role without tasks (defaults only)
	}
	w := &walker{tasksDir: filepath.Join(dir, "tasks"), seen: map[string]bool{}}
	if err := w.file(main, nil, e.tags, 0); err != nil {
		return Role{}, fmt.Errorf("upstreamcheck: role %s: %w", e.name, err)
	}
	r.Checks = w.checks
	return r, nil
}

// walker follows a role's task files from main.yml.
type walker struct {
	tasksDir string
	seen     map[string]bool // validation files already found
	checks   []Check
}

func (w *walker) file(name string, when, tags []string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: includes nested deeper than %d", name, maxIncludeDepth)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var tasks []map[string]any
	if err := yaml.Unmarshal(data, &tasks); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return w.tasks(name, tasks, when, tags, depth)
}

func (w *walker) tasks(name string, tasks []map[string]any, when, tags []string, depth int) error {
	for _, t := range tasks {
		tWhen := append(slices.Clip(when), stringList(t["when"])...)
		tTags := append(slices.Clip(tags), stringList(t["tags"])...)
		if _, ok := t["block"]; ok {
			for _, key := range []string{"block", "rescue", "always"} {
				if err := w.tasks(name, taskList(t[key]), tWhen, tTags, depth); err != nil {
					return err
				}
			}
			continue
		}
		target, ok := includeTarget(t)
		if !ok || !selected(tTags) || hasLoop(t) {
			continue
		}
		rel, ok := w.resolve(name, target)
		if !ok {
			continue
		}
		if validateFile.MatchString(path.Base(rel)) {
			if !w.seen[rel] {
				w.seen[rel] = true
				w.checks = append(w.checks, Check{File: rel, When: tWhen})
			}
			continue
		}
		if err := w.file(filepath.Join(w.tasksDir, filepath.FromSlash(rel)), tWhen, tTags, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// taskList converts a decoded block into tasks, skipping what is not one.
func taskList(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// includeKeys are the task keywords that pull in a task file.
var includeKeys = []string{
	"include_tasks", "import_tasks", "include",
	"ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include",
	"ansible.legacy.include_tasks", "ansible.legacy.import_tasks",
}

// includeTarget returns the file a task includes, as written.
func includeTarget(t map[string]any) (string, bool) {
	for _, k := range includeKeys {
		switch v := t[k].(type) {
		case string:
			return v, true
		case map[string]any:
			if f, ok := v["file"].(string); ok {
				return f, true
			}
		}
	}
	return "", false
}

func hasLoop(t map[string]any) bool {
	for k := range t {
		if k == "loop" || strings.HasPrefix(k, "with_") {
			return true
		}
	}
	return false
}

// selected reports whether a task with these tags runs under --tags=setup-all.
func selected(tags []string) bool {
	for _, t := range tags {
		if slices.Contains(selectedTags, t) {
			return true
		}
	}
	return false
}

// rolePath matches the role_path variable the upstream writes include paths with.
var rolePath = regexp.MustCompile(`\{\{\s*role_path\s*\}\}`)

// resolve returns an include's target relative to the tasks directory,
// false when it is not static or not inside the tasks directory (where
// import_role's tasks_from could not reach it).
func (w *walker) resolve(from, target string) (string, bool) {
	roleDir := filepath.Dir(w.tasksDir)
	target = rolePath.ReplaceAllLiteralString(strings.TrimSpace(target), roleDir)
	if strings.Contains(target, "{{") || strings.Contains(target, "{%") {
		return "", false
	}
	var candidates []string
	if filepath.IsAbs(target) {
		candidates = []string{target}
	} else {
		// Ansible looks next to the including file, then in the role's tasks.
		candidates = []string{filepath.Join(filepath.Dir(from), target), filepath.Join(w.tasksDir, target)}
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		rel, err := filepath.Rel(w.tasksDir, c)
		if err != nil || !filepath.IsLocal(rel) {
			return "", false
		}
		return filepath.ToSlash(rel), true
	}
	return "", false
}
