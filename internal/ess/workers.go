package ess

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// WorkerType is a Synapse worker type of the chart (synapse.workers.<name>).
type WorkerType struct {
	Name string
	// MaxReplicas is 1 for the types Synapse runs as a single instance
	// (a stream writer or a singleton task); 0 means no limit.
	MaxReplicas int
}

// WorkerTypes lists the chart's worker types, as its values.schema.json
// declares them (synapse.workers.*.replicas, its maximum); a test keeps
// this table equal to the pinned chart's schema, so that the topology can
// refuse a wrong matrix:synapseWorkers entry while parsing its config.
func WorkerTypes() []WorkerType {
	return []WorkerType{
		{"account-data", 1},
		{"appservice", 1},
		{"background", 1},
		{"client-reader", 0},
		{"device-lists", 0},
		{"encryption", 1},
		{"event-creator", 0},
		{"event-persister", 0},
		{"federation-inbound", 0},
		{"federation-reader", 0},
		{"federation-sender", 0},
		{"initial-synchrotron", 0},
		{"mas-helper", 0},
		{"media-repository", 1},
		{"presence-writer", 1},
		{"push-rules", 1},
		{"pusher", 0},
		{"receipts", 0},
		{"sliding-sync", 0},
		{"sso-login", 1},
		{"synchrotron", 0},
		{"typing-persister", 1},
		{"user-dir", 1},
	}
}

// CheckWorkers returns one problem per wrong entry of workers (type ->
// replicas): an unknown type, or a replica count the chart refuses. Which
// types go with which Auth is the chart's own validation (sso-login only
// without MAS, mas-helper only with it); it reports those on render.
func CheckWorkers(workers map[string]int) []string {
	var p []string
	for _, name := range slices.Sorted(maps.Keys(workers)) {
		n := workers[name]
		i := slices.IndexFunc(WorkerTypes(), func(w WorkerType) bool { return w.Name == name })
		switch {
		case i < 0:
			p = append(p, fmt.Sprintf("Workers[%q] is not a worker type of the chart; use one of %s", name, workerNames()))
		case n < 1:
			p = append(p, fmt.Sprintf("Workers[%q] = %d: at least 1 replica (leave the type out not to run it)", name, n))
		case WorkerTypes()[i].MaxReplicas > 0 && n > WorkerTypes()[i].MaxReplicas:
			p = append(p, fmt.Sprintf("Workers[%q] = %d: Synapse runs at most %d of this type", name, n, WorkerTypes()[i].MaxReplicas))
		}
	}
	return p
}

func workerNames() string {
	var names []string
	for _, w := range WorkerTypes() {
		names = append(names, w.Name)
	}
	return strings.Join(names, ", ")
}
