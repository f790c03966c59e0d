//go:build tools

// Package tools pins the Dendrite homeserver that the verifier's integration
// tests run against. The test harness in internal/dendritetest builds it with
//
//	go build github.com/element-hq/dendrite/cmd/dendrite
//
// from this directory, so go.mod and go.sum here fix every version.
package tools

import _ "github.com/element-hq/dendrite/cmd/dendrite"
