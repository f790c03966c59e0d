package upstream

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Host ports come from the roles' systemd unit templates: each
// "-p HOST:CONTAINER[/udp]" argument of a docker run. The host side names
// the variables ({{ port }} or {{ min }}-{{ max }}, perhaps after a listen
// interface); their values come from the defaults as the playbook resolves
// them. An argument whose port does not resolve to a number by default (an
// empty string, a bind to 127.0.0.1 via an interface prefix, a loop over a
// list such as traefik's additional entrypoints) publishes nothing by
// default and is left out.

var (
	// publishArg is the argument of a -p flag in a unit template line: the
	// rest of the line, less the continuation backslash (Jinja expressions
	// in it hold spaces).
	publishArg = regexp.MustCompile(`(?:^|\s)-p\s+(.*?)\s*\\?\s*$`)
	// hostPorts is the end of the host side: one variable or a range.
	hostPorts = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}(?:-\{\{\s*(\w+)\s*\}\})?$`)
	// literalPorts is a host side written as a number or a range.
	literalPorts = regexp.MustCompile(`^(\d+)(?:-(\d+))?$`)
	// ifBlock opens a Jinja if; endifBlock closes one.
	ifBlock    = regexp.MustCompile(`\{%-?\s*if\s+(.*?)\s*-?%\}`)
	endifBlock = regexp.MustCompile(`\{%-?\s*endif\s*-?%\}`)
	// guarded is "{{ X if COND else '' }}" where X is a variable or a quoted
	// number: the value when the condition holds by default is X.
	guarded = regexp.MustCompile(`^\{\{\s*(\w+|'\d+')\s+if\s+([^{}]*?)\s+else\s+''\s*\}\}$`)
	// ifaceVar is a listen-interface variable at the start of a host side.
	ifaceVar = regexp.MustCompile(`^\{\{\s*(\w+)\s*\}\}`)
)

// ports extracts the host ports every role's unit templates publish.
func ports(root string, roles []string, defs definitions) ([]Port, error) {
	var out []Port
	for _, role := range roles {
		var units []string
		err := filepath.WalkDir(filepath.Join(root, role, "templates"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".service.j2") {
				units = append(units, path)
			}
			return err
		})
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("walk %s templates: %w", role, err)
		}
		for _, unit := range units {
			ps, err := unitPorts(unit, filepath.Base(role), defs)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
	}
	slices.SortStableFunc(out, func(a, b Port) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), cmp.Compare(a.From, b.From), strings.Compare(a.Protocol, b.Protocol))
	})
	return out, nil
}

// unitPorts reads the -p arguments of one unit template.
func unitPorts(path, role string, defs definitions) ([]Port, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	enabled := strings.ReplaceAll(role, "-", "_") + "_enabled"
	var enabledDefault any
	if _, ok := defs.value(enabled); ok {
		enabledDefault = defs.literal(enabled)
	} else {
		enabled = ""
	}
	var out []Port
	var conds []string // the enclosing {% if %} conditions
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if m := publishArg.FindStringSubmatch(line); m != nil {
			if p, ok := publishedPort(m[1], defs); ok {
				p.Service, p.EnabledVar, p.EnabledDefault = role, enabled, enabledDefault
				p.Condition = strings.Join(slices.Concat(conds, p.guards), " and ")
				out = append(out, p)
			}
		}
		for _, m := range ifBlock.FindAllStringSubmatch(line, -1) {
			conds = append(conds, "("+m[1]+")")
		}
		for range endifBlock.FindAllString(line, -1) {
			if len(conds) > 0 {
				conds = conds[:len(conds)-1]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// publishedPort interprets one -p argument, ok when it publishes a host
// port by default.
func publishedPort(arg string, defs definitions) (Port, bool) {
	host, container := splitPublish(arg)
	if host == "" {
		return Port{}, false
	}
	p := Port{Protocol: "tcp"}
	if strings.HasSuffix(container, "/udp") {
		p.Protocol = "udp"
	}
	if m := literalPorts.FindStringSubmatch(host); m != nil {
		p.From, _ = strconv.Atoi(m[1])
		p.To = p.From
		if m[2] != "" {
			p.To, _ = strconv.Atoi(m[2])
		}
		p.Variables = []string{}
		return p, true
	}
	m := hostPorts.FindStringSubmatchIndex(host)
	if m == nil {
		return Port{}, false
	}
	fromVar := host[m[2]:m[3]]
	toVar := fromVar
	if m[4] >= 0 {
		toVar = host[m[4]:m[5]]
	}
	var ok1, ok2 bool
	var guards1, guards2 []string
	p.From, guards1, ok1 = defs.port(fromVar, 0)
	p.To, guards2, ok2 = defs.port(toVar, 0)
	if !ok1 || !ok2 {
		return Port{}, false
	}
	p.guards = slices.Compact(append(guards1, guards2...))
	p.Variables = slices.Compact([]string{fromVar, toVar})
	if iface := ifaceVar.FindStringSubmatch(host[:m[0]]); iface != nil {
		p.InterfaceVar = iface[1]
	}
	return p, true
}

// splitPublish splits a -p argument at its last colon outside Jinja
// braces into the host side and the container side.
func splitPublish(arg string) (host, container string) {
	depth, last := 0, -1
	for i := 0; i < len(arg); i++ {
		switch {
		case strings.HasPrefix(arg[i:], "{{"):
			depth++
			i++
		case strings.HasPrefix(arg[i:], "}}"):
			depth--
			i++
		case arg[i] == ':' && depth == 0:
			last = i
		}
	}
	if last < 0 {
		return "", ""
	}
	return arg[:last], arg[last+1:]
}

// port resolves name to a port number the way the playbook would by
// default, following "{{ other }}" and "{{ X if COND else <empty> }}". For
// the latter it takes X and returns COND among the guards, so that the caller
// records the condition rather than evaluating it.
func (d definitions) port(name string, depth int) (int, []string, bool) {
	n, ok := d.value(name)
	if !ok || n.Kind != yaml.ScalarNode || depth > 8 {
		return 0, nil, false
	}
	return d.portValue(strings.TrimSpace(n.Value), depth)
}

func (d definitions) portValue(v string, depth int) (int, []string, bool) {
	if n, err := strconv.Atoi(strings.Trim(v, "'")); err == nil && n > 0 && n < 65536 {
		return n, nil, true
	}
	if m := wholeVar.FindStringSubmatch(v); m != nil {
		return d.port(m[1], depth+1)
	}
	m := guarded.FindStringSubmatch(v)
	if m == nil {
		return 0, nil, false
	}
	var n int
	var guards []string
	var ok bool
	if strings.HasPrefix(m[1], "'") {
		n, guards, ok = d.portValue(m[1], depth+1)
	} else {
		n, guards, ok = d.port(m[1], depth+1)
	}
	return n, append([]string{"(" + m[2] + ")"}, guards...), ok
}
