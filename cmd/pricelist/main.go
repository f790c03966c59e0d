// Command pricelist refreshes the committed price snapshot
// (internal/cost/prices.json) from the AWS Price List Bulk API, which is
// public and needs no credentials: it reads the offer index, each
// service's region index and the offer file of each region, and keeps
// exactly the prices cost.Rules name (docs/cost.md).
//
//	go run ./cmd/pricelist [--regions us-east-1,eu-central-1,...] [--write]
//
// Without --write it prints how the list prices differ from the committed
// snapshot and exits 1 when they do. The EC2 offer files are gigabytes;
// they are read as a stream, never stored.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/cost"
	"github.com/matrix-on-aws/homeserver/internal/pricelist"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, http.DefaultClient); err != nil {
		fmt.Fprintln(os.Stderr, "pricelist:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, hc *http.Client) error {
	fs := flag.NewFlagSet("pricelist", flag.ContinueOnError)
	base := fs.String("endpoint", pricelist.Endpoint, "Price List Bulk API endpoint")
	regions := fs.String("regions", strings.Join(pricelist.Regions, ","), "regions to price, comma-separated")
	out := fs.String("out", "internal/cost/prices.json", "snapshot to compare with or write")
	write := fs.Bool("write", false, "write the snapshot instead of comparing")
	date := fs.String("date", time.Now().UTC().Format(time.DateOnly), "date to record as when the prices were read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &pricelist.Client{Base: strings.TrimSuffix(*base, "/"), HTTP: hc}
	snap, err := c.Build(ctx, cost.Rules(), strings.Split(*regions, ","), *date)
	if err != nil {
		return err
	}
	b, err := pricelist.Marshal(snap)
	if err != nil {
		return err
	}
	// What the estimate will load must parse: every rule priced.
	if _, err := cost.Parse(b); err != nil {
		return err
	}
	if *write {
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %d regions, prices of %s\n", *out, len(snap.RegionNames()), snap.Date)
		return nil
	}
	old, err := os.ReadFile(*out)
	if err != nil {
		return err
	}
	committed, err := cost.Parse(old)
	if err != nil {
		return err
	}
	diff := pricelist.Diff(committed, snap)
	for _, d := range diff {
		fmt.Fprintln(stdout, d)
	}
	if len(diff) > 0 {
		return fmt.Errorf("%d prices differ from %s (of %s); refresh with --write", len(diff), *out, committed.Date)
	}
	fmt.Fprintf(stdout, "%s matches the price list\n", *out)
	return nil
}
