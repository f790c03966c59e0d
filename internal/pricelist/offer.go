// Package pricelist reads the AWS Price List Bulk API's offer files and
// extracts the prices cost.Rules name, to write the committed price
// snapshot (cmd/pricelist). The format is AWS's
// (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html):
//
//	{"offerCode": ..., "version": ..., "publicationDate": ...,
//	 "products": {SKU: {"sku", "productFamily", "attributes": {...}}},
//	 "terms": {"OnDemand": {SKU: {SKU.TERM: {"priceDimensions": {SKU.TERM.RATE:
//	     {"unit", "beginRange", "endRange", "pricePerUnit": {"USD": "0.0240000000"}}}}}},
//	           "Reserved": {...}}}
//
// An offer file of EC2 runs to gigabytes, so it is read as a stream:
// products are matched one at a time and only the matching SKUs' on-demand
// terms are decoded.
package pricelist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/cost"
)

// Offer is what one offer file yields for the rules.
type Offer struct {
	Code, Version, PublicationDate string
	Prices                         map[string]cost.Price // by Rule.Key, Source left empty
}

type product struct {
	SKU           string            `json:"sku"`
	ProductFamily string            `json:"productFamily"`
	Attributes    map[string]string `json:"attributes"`
}

type term struct {
	PriceDimensions map[string]dimension `json:"priceDimensions"`
}

type dimension struct {
	Unit         string            `json:"unit"`
	BeginRange   string            `json:"beginRange"`
	Description  string            `json:"description"`
	PricePerUnit map[string]string `json:"pricePerUnit"`
}

// Extract reads one offer file and returns the price of every rule, each
// of which must match exactly one product of region (any region when
// region is ""). Products must come before terms, as AWS writes them.
func Extract(r io.Reader, region string, rules []cost.Rule) (*Offer, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	o := &Offer{Prices: map[string]cost.Price{}}
	matched := map[string][]string{} // rule key -> SKUs
	bySKU := map[string][]cost.Rule{}
	terms := map[string]term{} // SKU -> its on-demand term
	sawProducts := false
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return nil, err
		}
		switch key {
		case "offerCode":
			err = dec.Decode(&o.Code)
		case "version":
			err = dec.Decode(&o.Version)
		case "publicationDate":
			err = dec.Decode(&o.PublicationDate)
		case "products":
			sawProducts = true
			err = eachEntry(dec, func(sku string) error {
				var p product
				if err := dec.Decode(&p); err != nil {
					return fmt.Errorf("product %s: %w", sku, err)
				}
				for _, rule := range rules {
					if matches(rule, p, region) {
						matched[rule.Key] = append(matched[rule.Key], sku)
						bySKU[sku] = append(bySKU[sku], rule)
					}
				}
				return nil
			})
		case "terms":
			if !sawProducts {
				return nil, errors.New("pricelist: terms before products, not the documented order")
			}
			err = eachEntry(dec, func(termType string) error {
				if termType != "OnDemand" {
					return skip(dec)
				}
				return eachEntry(dec, func(sku string) error {
					if bySKU[sku] == nil {
						return skip(dec)
					}
					var byCode map[string]term
					if err := dec.Decode(&byCode); err != nil {
						return fmt.Errorf("terms of %s: %w", sku, err)
					}
					if len(byCode) != 1 {
						return fmt.Errorf("SKU %s has %d on-demand terms, want 1", sku, len(byCode))
					}
					for _, t := range byCode {
						terms[sku] = t
					}
					return nil
				})
			})
		default:
			err = skip(dec)
		}
		if err != nil {
			return nil, fmt.Errorf("pricelist: %s: %w", key, err)
		}
	}
	var problems []string
	for _, rule := range rules {
		skus := matched[rule.Key]
		switch {
		case len(skus) == 0:
			problems = append(problems, fmt.Sprintf("%s: no product matches", rule.Key))
			continue
		case len(skus) > 1:
			sort.Strings(skus)
			problems = append(problems, fmt.Sprintf("%s: %d products match (%s); narrow the rule", rule.Key, len(skus), strings.Join(skus, ", ")))
			continue
		}
		t, ok := terms[skus[0]]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: SKU %s has no on-demand price", rule.Key, skus[0]))
			continue
		}
		p, err := price(t, rule)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: SKU %s: %v", rule.Key, skus[0], err))
			continue
		}
		p.SKU = skus[0]
		o.Prices[rule.Key] = p
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("pricelist: offer %s %s: %s", o.Code, region, strings.Join(problems, "; "))
	}
	return o, nil
}

// price picks the rule's price among a term's dimensions: the only one, or
// for a tiered price the first paid tier, whose beginRange is the usage a
// month that is free.
func price(t term, rule cost.Rule) (cost.Price, error) {
	type tier struct {
		begin, usd float64
		unit       string
	}
	var tiers []tier
	for _, d := range t.PriceDimensions {
		usd, err := strconv.ParseFloat(d.PricePerUnit["USD"], 64)
		if err != nil {
			return cost.Price{}, fmt.Errorf("price %q: %w", d.PricePerUnit["USD"], err)
		}
		begin := 0.0
		if d.BeginRange != "" {
			if begin, err = strconv.ParseFloat(d.BeginRange, 64); err != nil {
				return cost.Price{}, fmt.Errorf("beginRange %q: %w", d.BeginRange, err)
			}
		}
		tiers = append(tiers, tier{begin, usd, d.Unit})
	}
	sort.Slice(tiers, func(i, j int) bool { return tiers[i].begin < tiers[j].begin })
	for _, t := range tiers {
		if t.usd == 0 && len(tiers) > 1 {
			continue
		}
		if rule.Unit != "" && t.unit != rule.Unit {
			return cost.Price{}, fmt.Errorf("unit %q, the rule expects %q", t.unit, rule.Unit)
		}
		return cost.Price{USD: round(t.usd), Unit: t.unit, Free: t.begin}, nil
	}
	return cost.Price{}, errors.New("no paid tier")
}

// round drops the float noise of parsing "0.0240000000".
func round(v float64) float64 { return math.Round(v*1e10) / 1e10 }

// matches says whether product p is the one rule prices in region.
func matches(rule cost.Rule, p product, region string) bool {
	a := p.Attributes
	if rule.Family != "" && p.ProductFamily != rule.Family {
		return false
	}
	if !usageMatches(a["usagetype"], rule.UsageType) {
		return false
	}
	for k, v := range rule.Attrs {
		if a[k] != v {
			return false
		}
	}
	if region != "" {
		for _, k := range []string{"regionCode", "fromRegionCode"} {
			if c, ok := a[k]; ok && c != region {
				return false
			}
		}
	}
	return true
}

// usageMatches compares a usagetype with a rule's, ignoring the region
// prefix ("EUC1-", "EU-", "USE1-"; none in some us-east-1 offers).
func usageMatches(got, want string) bool {
	if got == want {
		return true
	}
	prefix, ok := strings.CutSuffix(got, "-"+want)
	if !ok || prefix == "" {
		return false
	}
	for _, c := range prefix {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("pricelist: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("pricelist: want %q, got %v", want, t)
	}
	return nil
}

func stringToken(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("pricelist: %w", err)
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("pricelist: want a key, got %v", t)
	}
	return s, nil
}

// eachEntry calls f with each key of the object that comes next, f reading
// (or skipping) the key's value.
func eachEntry(dec *json.Decoder, f func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return err
		}
		if err := f(key); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

// skip reads past the value that comes next, holding none of it.
func skip(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("pricelist: %w", err)
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
