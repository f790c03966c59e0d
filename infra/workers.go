package infra

import (
	"fmt"
	"strings"
)

// Auth says who authenticates users (matrix:auth).
type Auth string

const (
	AuthSynapse Auth = "synapse"
	// AuthMAS is the Matrix Authentication Service
	// (docs/configuring-playbook-matrix-authentication-service.md).
	AuthMAS Auth = "mas"
)

// WorkersNone runs Synapse as one process; the other values of
// matrix:synapseWorkers are the upstream's preset names.
const WorkersNone = "none"

// workerPresets counts the worker processes of each preset the key offers,
// as the pinned upstream's matrix_synapse_workers_presets defines them
// (roles/custom/matrix-synapse/defaults/main.yml): one-of-each is a
// generic worker, six single-purpose ones (pusher, federation sender,
// media repository, appservice, user directory, background) and nine
// stream writers; specialized-workers swaps the generic worker for room,
// sync, client reader and federation reader workers. A test keeps the
// counts equal to the snapshot's. little-federation-helper (one federation
// sender) is not offered: it lightens nothing but outgoing federation.
var workerPresets = map[string]int{
	"one-of-each":         16,
	"specialized-workers": 19,
}

// WorkerPresetNames lists the values matrix:synapseWorkers accepts.
func WorkerPresetNames() []string { return []string{WorkersNone, "one-of-each", "specialized-workers"} }

// workerMiB is what the memory rule reserves per worker process. The
// upstream states no memory need for workers
// (docs/configuring-playbook-synapse.md, "Load balancing with workers"),
// so the figure is derived: a worker is a Synapse process with its own
// caches (docs/maintenance-synapse.md: the cache limits apply per process),
// and Synapse's own guidance puts one process at its smallest cache factor
// at "roughly ~512MB" of resident memory (matrix-org/synapse README.rst,
// "Help!! Synapse eats all my RAM!").
const workerMiB = 512

// WorkersMemoryMiB is the memory a host needs for a preset: the playbook's
// documented minimum for Synapse, PostgreSQL and Traefik (minMemoryMiB),
// plus workerMiB per worker process. Presets unknown here need nothing
// more.
func WorkersMemoryMiB(preset string) int {
	return minMemoryMiB + workerPresets[preset]*workerMiB
}

// MASMigrating says whether the operator marked the server as migrating to
// MAS (docs/runbook-mas-migration.md): until syn2mas has run, Synapse
// still authenticates and MAS is not advertised.
func (c Config) MASMigrating() bool {
	on, _ := c.PlaybookVars.Values[masMigrationVar].(bool)
	return c.Auth == AuthMAS && on
}

// masMigrationVar is the upstream's switch for a server on its way to MAS.
const masMigrationVar = "matrix_authentication_service_migration_in_progress"

func (r *reader) auth() Auth {
	return oneOf(r, "auth", "an authentication mode", "synapse (default) or mas", AuthSynapse, AuthMAS)
}

// synapseWorkers reads the preset and refuses an instance type without
// the memory it needs, naming the smallest type of the same family that
// has it.
func (r *reader) synapseWorkers(instanceType string) string {
	v, _ := r.value("synapseWorkers")
	preset := strings.ToLower(strings.TrimSpace(v))
	if _, ok := workerPresets[preset]; !ok && preset != WorkersNone {
		r.add("synapseWorkers", "%q is not a worker preset; use %s", v, strings.Join(WorkerPresetNames(), ", "))
		return ""
	}
	if preset == WorkersNone {
		return preset
	}
	need := WorkersMemoryMiB(preset)
	have, known := memoryMiB(instanceType)
	if !known || have >= need {
		return preset
	}
	fix := "a type with more memory"
	if t := smallestFitting(instanceType, need); t != "" {
		fix = t
	}
	r.add("synapseWorkers", "%s runs %d worker processes, which with Synapse, PostgreSQL and Traefik need %s of memory (%d MiB per worker on top of the playbook's %d GiB); matrix:instanceType %s has %s: set matrix:instanceType %s, or matrix:synapseWorkers none",
		preset, workerPresets[preset], gib(need), workerMiB, minMemoryMiB/1024, instanceType, gib(have), fix)
	return preset
}

func gib(mib int) string { return fmt.Sprintf("%g GiB", float64(mib)/1024) }

// WorkerProcesses is the number of worker processes of a preset the key
// offers (0 for none).
func WorkerProcesses(preset string) int { return workerPresets[preset] }
