//go:build tools

// Package tools pins the linters scripts/lint runs: go.mod and go.sum here
// fix their versions, and scripts/lint builds them from this directory with
//
//	go build -o <dir> honnef.co/go/tools/cmd/staticcheck github.com/rhysd/actionlint/cmd/actionlint
//
// staticcheck 2026.1 (honnef.co/go/tools v0.7.0) understands Go 1.25 and 1.26
// code; it must be built by the toolchain that builds the main module.
package tools

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
