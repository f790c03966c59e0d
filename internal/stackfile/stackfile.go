// Package stackfile reads Pulumi.yaml and Pulumi.<stack>.yaml the way the
// Pulumi CLI hands their config to a program: every value a string, lists
// and objects as JSON.
package stackfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretPlaceholder stands in for a `secure:` value, which only the Pulumi
// CLI can decrypt.
const SecretPlaceholder = "secret-placeholder"

// Config is a stack's configuration in the engine's form.
type Config struct {
	Values map[string]string
	// SecretKeys are the keys holding a secure value anywhere inside, as
	// the engine reports them to a program (PULUMI_CONFIG_SECRET_KEYS).
	SecretKeys []string
	// SecretPaths are the secure values themselves: a key, or a path
	// inside one such as "matrix:playbookVars.smtp_password" (the form
	// `pulumi config set --secret --path` takes).
	SecretPaths []string
}

// Project is the part of Pulumi.yaml this program cares about.
type Project struct {
	Name    string                 `yaml:"name"`
	Runtime any                    `yaml:"runtime"`
	Config  map[string]Declaration `yaml:"config"`
}

// Declaration is one entry of Pulumi.yaml's config block.
type Declaration struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Default     any    `yaml:"default"`
	Items       *struct {
		Type string `yaml:"type"`
	} `yaml:"items"`
}

// LoadProject reads Pulumi.yaml in dir.
func LoadProject(dir string) (Project, error) {
	var p Project
	b, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return p, fmt.Errorf("stackfile: %w", err)
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("stackfile: Pulumi.yaml: %w", err)
	}
	return p, nil
}

// Stacks names the stacks with a Pulumi.<stack>.yaml in dir, sorted: what
// checks over "every committed stack" iterate, so a new stack file is
// covered without a change to them.
func Stacks(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("stackfile: %w", err)
	}
	var stacks []string
	for _, p := range paths {
		stacks = append(stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "Pulumi."), ".yaml"))
	}
	return stacks, nil
}

// Load reads Pulumi.<stack>.yaml in dir. Keys without a namespace get the
// project's, as the CLI does.
func Load(dir, project, stack string) (Config, error) {
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("stackfile: %w", err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Config{}, fmt.Errorf("stackfile: %s: %w", path, err)
	}
	c := Config{Values: map[string]string{}}
	for key, v := range doc.Config {
		if !strings.Contains(key, ":") {
			key = project + ":" + key
		}
		var secrets []string
		s, err := engineValue(maskSecure(v, key, &secrets))
		if err != nil {
			return Config{}, fmt.Errorf("stackfile: %s: %s: %w", path, key, err)
		}
		c.Values[key] = s
		if len(secrets) > 0 {
			c.SecretKeys = append(c.SecretKeys, key)
			c.SecretPaths = append(c.SecretPaths, secrets...)
		}
	}
	sort.Strings(c.SecretKeys)
	sort.Strings(c.SecretPaths)
	return c, nil
}

// maskSecure replaces every {secure: ciphertext} inside v with
// SecretPlaceholder, recording its path.
func maskSecure(v any, path string, secrets *[]string) any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["secure"]; ok && len(t) == 1 {
			*secrets = append(*secrets, path)
			return SecretPlaceholder
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = maskSecure(e, path+"."+k, secrets)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = maskSecure(e, fmt.Sprintf("%s[%d]", path, i), secrets)
		}
		return out
	}
	return v
}

// engineValue converts one YAML value to the string the engine passes on.
func engineValue(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	case map[string]any, []any:
		b, err := json.Marshal(t)
		return string(b), err
	}
	return fmt.Sprint(v), nil
}
