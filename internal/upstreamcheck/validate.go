package upstreamcheck

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Inventory is one configuration to validate, as rendered for the upstream
// playbook's inventory layout.
type Inventory struct {
	// Name identifies the configuration in its Report; names must differ.
	Name string
	// Hosts is optional: the content of inventory/hosts. Its one host of
	// [matrix_servers] contributes the variables set on its line, except the
	// ansible_* ones, which say how to reach the real host (the harness runs
	// locally instead).
	Hosts string
	// Vars is the content of inventory/host_vars/<host>/vars.yml.
	Vars string
}

// Report says whether the upstream accepted one configuration.
type Report struct {
	Name     string    // the Inventory's Name
	Host     string    // the synthetic inventory host it was checked as
	OK       bool      // every validation that applies passed
	Failures []Failure // the upstream's refusal, when not OK
}

// Failure is an upstream validation task that refused a configuration.
// Like setup.yml, the harness stops a configuration at its first failing
// task, so a Report holds one task (one Failure per failed item of a loop).
type Failure struct {
	Task    string // the upstream task's name
	Item    string // the loop item's label, when the task loops
	Message string // the task's msg, verbatim
}

// RunError is returned when ansible-playbook did not give a verdict for
// every configuration: it failed before or outside the validations (a
// syntax error, a missing role), or a task failed for a reason other than
// an upstream fail/assert, such as an undefined variable. The harness runs
// only the validation files, not the tasks upstream runs between them
// (synapse's init.yml, say), so such an error may come from the harness
// rather than from the configuration; it is never reported as a refusal.
type RunError struct {
	Err    error             // what went wrong overall, if anything
	Hosts  map[string]string // per configuration name: what went wrong
	Output string            // the tail of ansible-playbook's output
}

func (e *RunError) Error() string {
	var b strings.Builder
	b.WriteString("upstreamcheck: ansible-playbook did not validate")
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	for _, name := range slices.Sorted(maps.Keys(e.Hosts)) {
		fmt.Fprintf(&b, "\n  %s: %s", name, e.Hosts[name])
	}
	if e.Output != "" {
		fmt.Fprintf(&b, "\n--- output (tail) ---\n%s", e.Output)
	}
	return b.String()
}

func (e *RunError) Unwrap() error { return e.Err }

//go:embed callback/upstreamcheck_events.py
var callbackPlugin []byte

// outputTail is how much of ansible-playbook's output a RunError keeps.
const outputTail = 8000

// Validate runs the upstream validations (see Plan) of the playbook at root
// on every inventory in one ansible-playbook process and returns a Report
// per inventory, in order. Each inventory becomes its own host of
// [matrix_servers] (cfg-01, cfg-02, ...) with ansible_connection=local; the
// run changes nothing on the controller but its own temporary directory,
// and it reads nothing of the caller's Ansible configuration. Variables are
// passed in files (mode 0600), never on the command line.
//
// A *RunError is returned, with the reports gathered so far, when the run
// gives no verdict for some inventory.
func Validate(ctx context.Context, root string, invs []Inventory) ([]Report, error) {
	bin, err := lookAnsible()
	if err != nil {
		return nil, err
	}
	if err := checkNames(invs); err != nil {
		return nil, err
	}
	h, err := newHarness(root)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "upstreamcheck-")
	if err != nil {
		return nil, fmt.Errorf("upstreamcheck: %w", err)
	}
	defer os.RemoveAll(dir)
	w := workdir(dir)
	hosts, err := w.write(root, h, bin, invs)
	if err != nil {
		return nil, err
	}
	out, runErr := w.run(ctx, bin)
	events, err := readEvents(w.events())
	if err != nil {
		return nil, &RunError{Err: errors.Join(runErr, err), Output: tail(out)}
	}
	return verdict(invs, hosts, events, runErr, out)
}

// harness is what the run needs from the snapshot, generated.
type harness struct {
	playbook, defaults, vars []byte
}

func newHarness(root string) (harness, error) {
	roles, err := Plan(root)
	if err != nil {
		return harness{}, err
	}
	var h harness
	if h.playbook, err = Playbook(roles); err != nil {
		return harness{}, err
	}
	if h.defaults, err = mergedRoleVars(root, roles, "defaults"); err != nil {
		return harness{}, err
	}
	if h.vars, err = mergedRoleVars(root, roles, "vars"); err != nil {
		return harness{}, err
	}
	return h, nil
}

// lookAnsible finds ansible-playbook on PATH.
func lookAnsible() (string, error) {
	bin, err := exec.LookPath("ansible-playbook")
	if err != nil {
		return "", fmt.Errorf("upstreamcheck: ansible-playbook not found (install it: apt-get install ansible-core): %w", err)
	}
	return bin, nil
}

// checkNames requires distinct, non-empty names.
func checkNames(invs []Inventory) error {
	if len(invs) == 0 {
		return errors.New("upstreamcheck: no inventory to validate")
	}
	seen := map[string]bool{}
	for i, inv := range invs {
		if inv.Name == "" {
			return fmt.Errorf("upstreamcheck: inventory %d has no name", i+1)
		}
		if seen[inv.Name] {
			return fmt.Errorf("upstreamcheck: two inventories named %q", inv.Name)
		}
		seen[inv.Name] = true
	}
	return nil
}

// hostName is the synthetic inventory host of the i-th configuration. No
// upstream validation (nor a default it reads) uses inventory_hostname,
// so a name independent of the configuration is safe, and cannot clash.
func hostName(i int) string { return fmt.Sprintf("cfg-%02d", i+1) }

// verdict turns the events of a run into reports, or a RunError when some
// configuration got none.
func verdict(invs []Inventory, hosts []string, ev events, runErr error, out []byte) ([]Report, error) {
	reports := make([]Report, len(invs))
	problems := map[string]string{}
	for i, inv := range invs {
		h := hosts[i]
		reports[i] = Report{Name: inv.Name, Host: h, OK: true}
		st, ok := ev.stats[h]
		switch {
		case !ok:
			problems[inv.Name] = "no result (the play did not run for it)"
		case ev.unreachable[h] != "":
			problems[inv.Name] = "unreachable: " + ev.unreachable[h]
		case len(ev.errors[h]) > 0:
			problems[inv.Name] = strings.Join(ev.errors[h], "; ")
		case st.Failures > 0 && len(ev.refusals[h]) == 0:
			problems[inv.Name] = "a task failed without a recorded message"
		}
		if f := ev.refusals[h]; len(f) > 0 {
			reports[i].OK = false
			reports[i].Failures = f
		}
	}
	// ansible-playbook exits with 2 when some host failed, which refusals
	// are; anything else but 0 means the run itself went wrong.
	var exit *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exit) && exit.ExitCode() == 2 && len(ev.stats) > 0) {
		return reports, &RunError{Err: runErr, Hosts: problems, Output: tail(out)}
	}
	if len(problems) > 0 {
		return reports, &RunError{Hosts: problems, Output: tail(out)}
	}
	return reports, nil
}

// events is what the callback plugin recorded, per host.
type events struct {
	stats       map[string]stats
	refusals    map[string][]Failure
	errors      map[string][]string
	unreachable map[string]string
}

type stats struct{ OK, Failures, Unreachable, Skipped int }

// event is one line written by the callback plugin.
type event struct {
	Event       string `json:"event"`
	Host        string `json:"host"`
	Task        string `json:"task"`
	Action      string `json:"action"`
	Msg         string `json:"msg"`
	Item        any    `json:"item"`
	Refusal     bool   `json:"refusal"`
	OK          int    `json:"ok"`
	Failures    int    `json:"failures"`
	Unreachable int    `json:"unreachable"`
	Skipped     int    `json:"skipped"`
}

func readEvents(path string) (events, error) {
	ev := events{
		stats:       map[string]stats{},
		refusals:    map[string][]Failure{},
		errors:      map[string][]string{},
		unreachable: map[string]string{},
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ev, errors.New("the callback plugin recorded nothing (ansible-playbook failed before the play)")
	}
	if err != nil {
		return ev, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return ev, fmt.Errorf("callback event %q: %w", sc.Text(), err)
		}
		ev.add(e)
	}
	return ev, sc.Err()
}

func (ev events) add(e event) {
	switch e.Event {
	case "stats":
		ev.stats[e.Host] = stats{OK: e.OK, Failures: e.Failures, Unreachable: e.Unreachable, Skipped: e.Skipped}
	case "unreachable":
		ev.unreachable[e.Host] = e.Msg
	case "failed":
		if !e.Refusal {
			ev.errors[e.Host] = append(ev.errors[e.Host], fmt.Sprintf("task %q (%s): %s", e.Task, e.Action, e.Msg))
			return
		}
		f := Failure{Task: e.Task, Message: e.Msg}
		if e.Item != nil {
			f.Item = itemLabel(e.Item)
		}
		ev.refusals[e.Host] = append(ev.refusals[e.Host], f)
	}
}

func itemLabel(item any) string {
	if s, ok := item.(string); ok {
		return s
	}
	data, err := json.Marshal(item)
	if err != nil {
		return fmt.Sprint(item)
	}
	return string(data)
}

func tail(out []byte) string {
	if len(out) > outputTail {
		out = out[len(out)-outputTail:]
	}
	return string(out)
}
