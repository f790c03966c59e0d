package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// committedStacks lists every Pulumi.<stack>.yaml at the top of the repo.
func committedStacks(t *testing.T) []string {
	t.Helper()
	stacks, err := stackfile.Stacks("../..")
	if err != nil || len(stacks) == 0 {
		t.Fatalf("no stack files: %v", err)
	}
	return stacks
}

// TestGolden renders every committed stack in both modes and compares with
// testdata; regenerate with `go test ./cmd/synth -update` and review the diff
// like code.
func TestGolden(t *testing.T) {
	for _, stack := range committedStacks(t) {
		for _, mode := range []string{"update", "preview"} {
			t.Run(stack+"/"+mode, func(t *testing.T) {
				args := []string{"--dir", "../..", "--stack", stack}
				if mode == "preview" {
					args = append(args, "--preview")
				}
				var out bytes.Buffer
				if err := run(args, &out); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", stack+"."+mode+".json")
				if *update {
					if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/synth -update)", err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("synth output for %s differs from %s; run go test ./cmd/synth -update and review the diff", stack, golden)
				}
			})
		}
	}
}

func TestNoSecretInOutput(t *testing.T) {
	for _, stack := range committedStacks(t) {
		var out bytes.Buffer
		if err := run([]string{"--dir", "../..", "--stack", stack}, &out); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, stackfile.SecretPlaceholder) {
			t.Errorf("%s: secret material in synth output", stack)
		}
		var doc struct {
			Outputs map[string]any `json:"outputs"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if v, ok := doc.Outputs["sshPrivateKey"]; ok && v != "[secret]" {
			t.Errorf("%s: sshPrivateKey = %v", stack, v)
		}
	}
}

func TestConfigOverride(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"--dir", "../..", "--stack", "dev", "--config", "access=ssh", "--config", `matrix:sshAllowedCidrs=["198.51.100.1/32"]`, "--config", "turn=true"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{`"cidrIpv4": "198.51.100.1/32"`, `"fromPort": 3478`} {
		if !strings.Contains(s, want) {
			t.Errorf("override not applied: no %s", want)
		}
	}
	// The dev stack itself (matrix:access ssm) opens no port 22.
	if strings.Count(s, `"fromPort": 22,`) != 1 {
		t.Errorf("%d port-22 rules, want the one override", strings.Count(s, `"fromPort": 22,`))
	}
}

// TestBadConfigExits runs the command itself: exit status 1 and the same
// messages ParseConfig gives `pulumi up`.
func TestBadConfigExits(t *testing.T) {
	if os.Getenv("SYNTH_RUN_MAIN") == "1" {
		os.Args = append([]string{"synth"}, strings.Fields(os.Getenv("SYNTH_ARGS"))...)
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBadConfigExits$")
	cmd.Env = append(os.Environ(), "SYNTH_RUN_MAIN=1", "SYNTH_ARGS=--dir ../.. --stack dev --config matrix:domain=matrix.example.org --config matrix:instanceType=t3.micro")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, stderr:\n%s", err, stderr.String())
	}
	cfg, _ := stackfile.Load("../..", "matrix", "dev")
	cfg.Values["matrix:domain"] = "matrix.example.org"
	cfg.Values["matrix:instanceType"] = "t3.micro"
	_, want := infra.ParseConfig(cfg.Values)
	if want == nil || !strings.Contains(stderr.String(), want.Error()) {
		t.Errorf("stderr:\n%s\nwant the message of pulumi up:\n%v", stderr.String(), want)
	}
}

func TestUnknownStack(t *testing.T) {
	err := run([]string{"--dir", "../..", "--stack", "nosuch"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "Pulumi.nosuch.yaml") {
		t.Errorf("error %v", err)
	}
}
