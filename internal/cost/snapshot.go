package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
)

// Global is the snapshot's pseudo-region of prices that are the same in
// every region (Rule.Global).
const Global = "global"

// Snapshot is the committed price snapshot (prices.json): the list prices
// of Rules in each region priced, with where each came from. cmd/pricelist
// writes it from the AWS Price List Bulk API.
type Snapshot struct {
	Comment string `json:"comment,omitempty"`
	// Date is when the prices were read.
	Date string `json:"date"`
	// Source says in one line how the prices were obtained; Sources names
	// each origin a price refers to by its Source.
	Source  string            `json:"source"`
	Sources map[string]string `json:"sources"`
	// Regions maps a region (or Global) to its prices by Rule.Key.
	Regions map[string]map[string]Price `json:"regions"`
	// Missing records, by region and key, why a price is not in the
	// snapshot, so the gap is stated rather than filled in.
	Missing map[string]map[string]string `json:"missing,omitempty"`
}

// Price is one list price.
type Price struct {
	USD  float64 `json:"usd"`
	Unit string  `json:"unit"`
	// Free is the usage each month before this price applies (the paid
	// tier's beginRange), such as the first 1,000 SNS emails.
	Free   float64 `json:"free,omitempty"`
	SKU    string  `json:"sku,omitempty"`
	Source string  `json:"source"`
}

//go:embed prices.json
var pricesJSON []byte

// Load parses the committed snapshot.
func Load() (*Snapshot, error) {
	return Parse(pricesJSON)
}

// Parse reads a snapshot and checks it against Rules: every price is a
// rule's key in the rule's unit, cites a known source, and every rule is
// priced or stated missing in each region.
func Parse(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("cost: price snapshot: %w", err)
	}
	if s.Date == "" || s.Source == "" {
		return nil, fmt.Errorf("cost: price snapshot lacks its date or source")
	}
	rules := map[string]Rule{}
	for _, r := range Rules() {
		rules[r.Key] = r
	}
	if s.Regions[Global] == nil {
		s.Regions[Global] = map[string]Price{}
	}
	var problems []string
	for region, prices := range s.Regions {
		for key, p := range prices {
			r, ok := rules[key]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: %s is no rule's key", region, key))
			case r.Global != (region == Global):
				problems = append(problems, fmt.Sprintf("%s: %s belongs under %q", region, key, where(r)))
			case r.Unit != "" && p.Unit != r.Unit:
				problems = append(problems, fmt.Sprintf("%s: %s is per %q, the rule expects %q", region, key, p.Unit, r.Unit))
			case s.Sources[p.Source] == "":
				problems = append(problems, fmt.Sprintf("%s: %s cites unknown source %q", region, key, p.Source))
			}
		}
		for _, r := range rules {
			if (region == Global) != r.Global {
				continue
			}
			if _, ok := prices[r.Key]; !ok && s.Missing[region][r.Key] == "" {
				problems = append(problems, fmt.Sprintf("%s: %s neither priced nor stated missing", region, r.Key))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("cost: price snapshot: %v", problems)
	}
	return &s, nil
}

func where(r Rule) string {
	if r.Global {
		return Global
	}
	return "a region"
}

// RegionNames lists the regions priced.
func (s *Snapshot) RegionNames() []string {
	var out []string
	for r := range s.Regions {
		if r != Global {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// Lookup returns a region's price of key (a Global rule's from the global
// prices), or why there is none.
func (s *Snapshot) Lookup(region, key string) (Price, error) {
	if r, ok := s.Regions[Global][key]; ok {
		return r, nil
	}
	if p, ok := s.Regions[region][key]; ok {
		return p, nil
	}
	why := s.Missing[region][key]
	if why == "" {
		why = s.Missing[Global][key]
	}
	if why == "" {
		why = "not in the snapshot"
	}
	return Price{}, fmt.Errorf("%s in %s: %s", key, region, why)
}
