package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteThenCheck refreshes a snapshot from the hand-written offer
// fixtures of internal/pricelist (served on loopback), then checks it:
// equal first, a changed price reported and failed after.
func TestWriteThenCheck(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/offers/v1.0/aws", http.FileServer(http.Dir("../../internal/pricelist/testdata/offers/v1.0/aws"))))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "prices.json")
	args := []string{"--endpoint", srv.URL, "--regions", "us-east-1,eu-west-1", "--out", out, "--date", "2026-11-22"}
	var stdout bytes.Buffer
	if err := run(context.Background(), append(args, "--write"), &stdout, srv.Client()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "wrote "+out+": 2 regions, prices of 2026-11-22") {
		t.Errorf("stdout %q", stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), args, &stdout, srv.Client()); err != nil || !strings.Contains(stdout.String(), "matches the price list") {
		t.Fatalf("check after write: %v\n%s", err, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(b), `"usd": 0.0208`, `"usd": 0.0199`, 1)
	if stale == string(b) {
		t.Fatal("the snapshot lacks t3.small's price")
	}
	if err := os.WriteFile(out, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	err = run(context.Background(), args, &stdout, srv.Client())
	if err == nil || !strings.Contains(stdout.String(), "us-east-1 ec2:t3.small: $0.0199/Hrs -> $0.0208/Hrs") {
		t.Errorf("stale snapshot: err %v\n%s", err, stdout.String())
	}
}
