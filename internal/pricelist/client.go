package pricelist

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/matrix-on-aws/homeserver/internal/cost"
)

// Endpoint is the Price List Bulk API's public host; it needs no
// credentials (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-ppslong.html).
const Endpoint = "https://pricing.us-east-1.amazonaws.com"

// IndexPath is the offer index listing every service's files.
const IndexPath = "/offers/v1.0/aws/index.json"

// Regions are those the committed snapshot prices: where operators run.
var Regions = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"}

// Client reads the Bulk API at Base (Endpoint, or a test server).
type Client struct {
	Base string
	HTTP *http.Client
}

type offerIndex struct {
	PublicationDate string `json:"publicationDate"`
	Offers          map[string]struct {
		CurrentVersionURL     string `json:"currentVersionUrl"`
		CurrentRegionIndexURL string `json:"currentRegionIndexUrl"`
	} `json:"offers"`
}

type regionIndex struct {
	Regions map[string]struct {
		CurrentVersionURL string `json:"currentVersionUrl"`
	} `json:"regions"`
}

func (c *Client) open(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pricelist: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("pricelist: GET %s: %s", c.Base+path, resp.Status)
	}
	return resp.Body, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	body, err := c.open(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("pricelist: %s: %w", path, err)
	}
	return nil
}

func (c *Client) extract(ctx context.Context, path, region string, rules []cost.Rule) (*Offer, error) {
	body, err := c.open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return Extract(body, region, rules)
}

// Build reads the offers rules need, each regional rule in every one of
// regions, and returns the snapshot dated date. Every rule must find its
// price: a rule that no longer matches the price list fails the refresh
// rather than leaving a stale figure.
func (c *Client) Build(ctx context.Context, rules []cost.Rule, regions []string, date string) (*cost.Snapshot, error) {
	var idx offerIndex
	if err := c.getJSON(ctx, IndexPath, &idx); err != nil {
		return nil, err
	}
	s := &cost.Snapshot{
		Comment: "Written by go run ./cmd/pricelist --write (docs/cost.md); do not edit by hand.",
		Date:    date,
		Source:  fmt.Sprintf("AWS Price List Bulk API %s%s (published %s)", c.Base, IndexPath, idx.PublicationDate),
		Sources: map[string]string{},
		Regions: map[string]map[string]cost.Price{},
	}
	add := func(region, source string, o *Offer) {
		s.Sources[source] = fmt.Sprintf("offer %s version %s, published %s", o.Code, o.Version, o.PublicationDate)
		if s.Regions[region] == nil {
			s.Regions[region] = map[string]cost.Price{}
		}
		for k, p := range o.Prices {
			p.Source = source
			s.Regions[region][k] = p
		}
	}
	for _, service := range cost.Services(rules) {
		offer, ok := idx.Offers[service]
		if !ok {
			return nil, fmt.Errorf("pricelist: the offer index has no %s", service)
		}
		regional, global := split(rules, service)
		if len(global) > 0 {
			o, err := c.extract(ctx, offer.CurrentVersionURL, "", global)
			if err != nil {
				return nil, err
			}
			add(cost.Global, service, o)
		}
		if len(regional) == 0 {
			continue
		}
		var ri regionIndex
		if err := c.getJSON(ctx, offer.CurrentRegionIndexURL, &ri); err != nil {
			return nil, err
		}
		for _, region := range regions {
			r, ok := ri.Regions[region]
			if !ok {
				return nil, fmt.Errorf("pricelist: %s has no offer file for %s", service, region)
			}
			o, err := c.extract(ctx, r.CurrentVersionURL, region, regional)
			if err != nil {
				return nil, err
			}
			add(region, service+" "+region, o)
		}
	}
	return s, nil
}

func split(rules []cost.Rule, service string) (regional, global []cost.Rule) {
	for _, r := range rules {
		switch {
		case r.Service != service:
		case r.Global:
			global = append(global, r)
		default:
			regional = append(regional, r)
		}
	}
	return regional, global
}

// Marshal renders a snapshot as committed: indented, keys sorted.
func Marshal(s *cost.Snapshot) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Diff lists the prices that differ between two snapshots, one a line.
func Diff(old, new *cost.Snapshot) []string {
	var out []string
	regions := map[string]bool{}
	for r := range old.Regions {
		regions[r] = true
	}
	for r := range new.Regions {
		regions[r] = true
	}
	for r := range regions {
		keys := map[string]bool{}
		for k := range old.Regions[r] {
			keys[k] = true
		}
		for k := range new.Regions[r] {
			keys[k] = true
		}
		for k := range keys {
			a, okA := old.Regions[r][k]
			b, okB := new.Regions[r][k]
			switch {
			case !okA:
				out = append(out, fmt.Sprintf("%s %s: new, $%g/%s", r, k, b.USD, b.Unit))
			case !okB:
				out = append(out, fmt.Sprintf("%s %s: gone (was $%g/%s)", r, k, a.USD, a.Unit))
			case a.USD != b.USD || a.Unit != b.Unit || a.Free != b.Free:
				out = append(out, fmt.Sprintf("%s %s: $%g/%s -> $%g/%s", r, k, a.USD, a.Unit, b.USD, b.Unit))
			}
		}
	}
	sort.Strings(out)
	return out
}
