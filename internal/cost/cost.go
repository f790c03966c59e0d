// Package cost estimates what a stack costs a month from the resources the
// program declares (a synth run), with the list prices of the committed
// price snapshot (prices.json, written by cmd/pricelist from the AWS price
// list). Every resource type has a rule: a price, or "free" with the
// reason. The README's figures are this package's output, kept equal by a
// test.
package cost

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// HoursPerMonth is AWS's convention for monthly prices.
const HoursPerMonth = 730

// Usage assumptions for what a price list cannot know.
const (
	// SnapshotShare is the share of the data volume that daily snapshots
	// keep in changed blocks over the retention period.
	SnapshotShare = 1.0
	// LCUs is the average load balancer capacity units (ALB LCUs or NLB
	// NLCUs) of a small server.
	LCUs = 0.5
	// CallNLCUs is the average NLCUs of the NLB that carries LiveKit's call
	// media (eks with matrix:calls). An NLCU includes 1 GB processed an
	// hour (aws.amazon.com/elasticloadbalancing/pricing), so this is about
	// 12 GB of media a day: a few hours of small group video calls.
	CallNLCUs = 0.5
	// NATGB is the data a NAT gateway processes a month: what a small
	// server's private instances would fetch and send through it (image
	// and package updates, federation traffic). The program declares no
	// NAT gateway; an operator who adds one sees it priced.
	NATGB = 50
	// MediaGiB is the media a small server keeps in S3.
	MediaGiB = 10
	// AlertEmails are the alert emails a month a healthy server sends.
	AlertEmails = 100
	// SentEmails are the emails a month a small server sends (password
	// resets, notifications of missed messages).
	SentEmails = 1000
)

// Line is one item of an estimate.
type Line struct {
	Item    string
	Basis   string
	Monthly float64
}

// Estimate is a stack's monthly cost.
type Estimate struct {
	Region string
	// Snapshot is the date and source of the prices.
	SnapshotDate, SnapshotSource string
	Lines                        []Line
	// Notes price what the total cannot know the quantity of.
	Notes []string
	// Unpriced names what has no price; the total leaves it out.
	Unpriced []string
}

// Total is the sum of the lines.
func (e Estimate) Total() float64 {
	var t float64
	for _, l := range e.Lines {
		t += l.Monthly
	}
	return t
}

var get = mock.Get

// number reads a numeric input; an unknown or missing one counts as 0.
func number(v resource.PropertyValue) float64 {
	if v.IsNumber() {
		return v.NumberValue()
	}
	return 0
}

func str(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// FromResources prices the declared resources in region.
func FromResources(s *Snapshot, region string, resources []mock.Resource) (Estimate, error) {
	if _, ok := s.Regions[region]; !ok {
		return Estimate{}, fmt.Errorf("cost: the price snapshot (%s) has no prices for %s; it has %s (add the region to cmd/pricelist's --regions and refresh it: docs/cost.md)",
			s.Date, region, strings.Join(s.RegionNames(), ", "))
	}
	x := &estimator{s: s, e: Estimate{Region: region, SnapshotDate: s.Date, SnapshotSource: s.Source}, all: resources}
	rules := TypeRules()
	for _, r := range resources {
		rule, ok := rules.For(r.Type)
		switch {
		case !ok:
			x.unpriced(fmt.Sprintf("%s %s: no price rule for its type (internal/cost TypeRules)", r.Type, r.Name))
		case rule.Price != nil:
			rule.Price(x, r)
		}
	}
	if len(x.errs) > 0 {
		return Estimate{}, errors.Join(x.errs...)
	}
	x.e.Lines = grouped(x.e.Lines)
	sort.SliceStable(x.e.Lines, func(i, j int) bool { return x.e.Lines[i].Monthly > x.e.Lines[j].Monthly })
	x.notes()
	return x.e, nil
}

// grouped merges lines with the same item and basis into one "N × basis"
// line, so five alarms read as one line a reviewer can count, not five.
func grouped(lines []Line) []Line {
	type key struct{ item, basis string }
	count := map[key]int{}
	var order []key
	for _, l := range lines {
		k := key{l.Item, l.Basis}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	sums := map[key]float64{}
	for _, l := range lines {
		sums[key{l.Item, l.Basis}] += l.Monthly
	}
	out := make([]Line, 0, len(order))
	for _, k := range order {
		basis := k.basis
		if n := count[k]; n > 1 {
			basis = fmt.Sprintf("%d × %s", n, basis)
		}
		out = append(out, Line{k.item, basis, sums[k]})
	}
	return out
}

// notes prices the usage every stack has but no resource declares.
func (x *estimator) notes() {
	x.note(KeyHostedZone, "the Route 53 hosted zone the program looks up (%s a month)", 1)
	x.note(KeyDNSQueries, "Route 53 queries (%s per million; alias queries to AWS resources are free)", 1e6)
	x.note(KeyDataOut, "data transfer out to the internet (%s/GB)", 1)
	x.note(KeyCPUCreditT3, "CPU credits: T3 instances run in unlimited mode by default, so a host busy above its baseline for hours adds %s per vCPU-hour", 1)
}

// note adds a line under the table with key's price (times scale) in
// format; without the price it says nothing, the total being unaffected.
func (x *estimator) note(key, format string, scale float64) {
	if p, err := x.s.Lookup(x.e.Region, key); err == nil {
		x.noteText(fmt.Sprintf(format, "$"+amount(p.USD*scale)))
	}
}

func (x *estimator) noteText(text string) {
	for _, n := range x.e.Notes {
		if n == text {
			return
		}
	}
	x.e.Notes = append(x.e.Notes, text)
}

// estimator accumulates one estimate.
type estimator struct {
	s *Snapshot
	e Estimate
	// all are the resources priced, for rules that price what another
	// resource says (a chart's load balancer in the subnets the program
	// tags for it).
	all []mock.Resource
	// errs are gaps in the rules themselves, which fail the estimate.
	errs []error
}

// fail records a gap in the rules themselves, which fails the estimate.
func (x *estimator) fail(err error) {
	x.errs = append(x.errs, err)
}

func (x *estimator) unpriced(what string) {
	x.e.Unpriced = append(x.e.Unpriced, what)
}

// price looks key up, recording what it would have priced when missing.
func (x *estimator) price(item, key string) (Price, bool) {
	p, err := x.s.Lookup(x.e.Region, key)
	if err != nil {
		x.unpriced(item + ": " + err.Error())
		return p, false
	}
	return p, true
}

// hourly adds qty of an hourly price for the month.
func (x *estimator) hourly(item, key string, qty float64, basis string) {
	if p, ok := x.price(item, key); ok {
		x.add(item, fmt.Sprintf(basis, fmt.Sprintf("$%s/h", amount(p.USD))), qty*p.USD*HoursPerMonth)
	}
}

// monthly adds qty units of a monthly (or per-use) price.
func (x *estimator) monthly(item, key string, qty float64, basis string) {
	if p, ok := x.price(item, key); ok {
		x.add(item, fmt.Sprintf(basis, "$"+amount(p.USD))+allowance(p), qty*p.USD)
	}
}

// used adds qty uses of a per-use price, shown per batch of per.
func (x *estimator) used(item, key string, qty float64, per float64, what string) {
	if p, ok := x.price(item, key); ok {
		x.add(item, fmt.Sprintf("~%.0f %s at $%s per %.0f", qty, what, amount(p.USD*per), per)+allowance(p), qty*p.USD)
	}
}

// allowance names a price's free monthly allowance. It is the account's, shared
// with everything else there, so the estimate does not deduct it.
func allowance(p Price) string {
	if p.Free == 0 {
		return ""
	}
	return fmt.Sprintf(" (the first %.0f a month are free per account)", p.Free)
}

func (x *estimator) add(item, basis string, monthly float64) {
	x.e.Lines = append(x.e.Lines, Line{item, basis, monthly})
}

// amount prints a price with the digits it has, at least two decimals.
func amount(usd float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.8f", usd), "0")
	if i := strings.IndexByte(s, '.'); len(s)-i < 3 {
		s += strings.Repeat("0", 3-(len(s)-i))
	}
	return s
}

func (x *estimator) instance(typ string) {
	x.hourly("EC2 "+typ, InstanceKey(typ), 1, "%s, Linux on demand")
}

func (x *estimator) gp3(item string, gib float64) {
	x.monthly(item, KeyGP3, gib, fmt.Sprintf("%.0f GiB gp3 at %%s/GiB-month", gib))
}

func (x *estimator) gp2(item string, gib float64) {
	x.monthly(item, KeyGP2, gib, fmt.Sprintf("%.0f GiB gp2 at %%s/GiB-month", gib))
}

// snapshots prices the daily snapshots of a volume of gib.
func (x *estimator) snapshots(gib float64) {
	x.monthly("Daily snapshots", KeySnapshot, gib*SnapshotShare,
		fmt.Sprintf("~%.0f GiB of changed blocks at %%s/GiB-month", gib*SnapshotShare))
}

func (x *estimator) ipv4(item string, n int) {
	x.hourly(item, KeyPublicIPv4, float64(n), fmt.Sprintf("%d public IPv4 at %%s", n))
}

// Markdown renders the estimate as the README shows it.
func (e Estimate) Markdown() string {
	var b strings.Builder
	b.WriteString("| Item | Basis | Monthly |\n|---|---|---|\n")
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "| %s | %s | $%.2f |\n", l.Item, l.Basis, l.Monthly)
	}
	total := fmt.Sprintf("$%.2f", e.Total())
	if len(e.Unpriced) > 0 {
		total = "at least " + total
	}
	fmt.Fprintf(&b, "| **Total** | on-demand list prices of %s, %d h/month | **%s** |\n", e.Region, HoursPerMonth, total)
	if len(e.Notes) > 0 {
		fmt.Fprintf(&b, "\nNot in the total: %s.\n", strings.Join(e.Notes, "; "))
	}
	fmt.Fprintf(&b, "\nPrices: snapshot of %s (internal/cost/prices.json), %s.\n", e.SnapshotDate, e.SnapshotSource)
	for _, u := range e.Unpriced {
		fmt.Fprintf(&b, "\n(no price for %s: not in the total)\n", u)
	}
	return b.String()
}
