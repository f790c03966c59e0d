package infra

import (
	"fmt"
	"math/big"
	"net/netip"
)

// subnetPrefix returns the i-th subnet of the given length inside p, the way
// Terraform's cidrsubnet does.
func subnetPrefix(p netip.Prefix, bits, i int) (netip.Prefix, error) {
	width := p.Addr().BitLen()
	if bits < p.Bits() || bits > width {
		return netip.Prefix{}, fmt.Errorf("cidr: /%d does not fit in %s", bits, p)
	}
	count := new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits()))
	if i < 0 || big.NewInt(int64(i)).Cmp(count) >= 0 {
		return netip.Prefix{}, fmt.Errorf("cidr: %s has no subnet #%d of length /%d", p, i, bits)
	}
	n := new(big.Int).SetBytes(p.Masked().Addr().AsSlice())
	n.Add(n, new(big.Int).Lsh(big.NewInt(int64(i)), uint(width-bits)))
	b := n.FillBytes(make([]byte, width/8))
	addr, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(addr, bits), nil
}

// publicSubnetBits sizes the public subnets: /24s in a /16, never smaller
// than /28, the smallest subnet AWS allows.
func publicSubnetBits(vpc netip.Prefix) int { return min(vpc.Bits()+8, 28) }

// The broadest SSH sources accepted without matrix:allowSshFromAnywhere, as
// prefix lengths, for one prefix and for the union of all of them.
//
// IPv4 /8 is the largest block a single organisation holds: IANA handed
// out whole /8s to the regional registries and to a few early holders
// (17.0.0.0/8, 3.0.0.0/8), and every ISP, company and cloud range is
// inside one. A source broader than that cannot be "my network"; it spans
// unrelated organisations, and 0.0.0.0/1 plus 128.0.0.0/1 is simply the
// internet written so that no "/0" appears.
//
// IPv6 /32 is the registries' standard allocation to one ISP (RIPE-738
// section 5.1.2, ARIN NRPM 6.5.2): one provider's whole customer base. A
// home or office gets a /48 to /64 from it, so /32 is already generous.
const (
	MaxSSHSourceBitsV4 = 8
	MaxSSHSourceBitsV6 = 32
)

// unreachableSources are ranges no packet from the internet ever carries as
// its source, so a rule for them opens nothing and the first SSH
// connection of `pulumi up` waits out its whole timeout. Private ranges
// (10/8, fc00::/7) are not among them: a VPN or a peered VPC may reach the
// host from one.
var unreachableSources = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "the unspecified (\"this network\") range"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback range"},
	{netip.MustParsePrefix("::1/128"), "the loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local range"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local range"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast range"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast range"},
}

// SSHSourceProblem is one reason SSH sources are refused. Prefix is the
// source at fault, or the zero Prefix when only the set as a whole is too
// broad.
type SSHSourceProblem struct {
	Prefix  netip.Prefix
	Message string // completes a sentence that starts with the source or "together they"
}

const anywhereFix = "list your own addresses instead, or set matrix:allowSshFromAnywhere true if you really mean it"

// CheckSSHSources returns why the given (masked) prefixes may not be the
// sources of SSH: each unreachable or too broad prefix, then the set when
// the union of the others covers more than one bound. Config validation
// and the ssh-not-from-anywhere policy both call it, so what one refuses
// the other flags. With anywhereAllowed only unreachable sources remain a
// problem: the opt-in widens who may connect, it cannot make loopback
// reachable.
func CheckSSHSources(sources []netip.Prefix, anywhereAllowed bool) []SSHSourceProblem {
	var ps []SSHSourceProblem
	var fine []netip.Prefix
	for _, p := range sources {
		if msg := sshSourceProblem(p, anywhereAllowed); msg != "" {
			ps = append(ps, SSHSourceProblem{p, msg})
			continue
		}
		fine = append(fine, p)
	}
	if anywhereAllowed {
		return ps
	}
	for _, v6 := range []bool{false, true} {
		var family []netip.Prefix
		for _, p := range fine {
			if p.Addr().Is6() == v6 {
				family = append(family, p)
			}
		}
		bound, name, width := MaxSSHSourceBitsV4, "IPv4", 32
		if v6 {
			bound, name, width = MaxSSHSourceBitsV6, "IPv6", 128
		}
		limit := new(big.Int).Lsh(big.NewInt(1), uint(width-bound))
		if n := unionSize(family); n.Cmp(limit) > 0 {
			ratio, _ := new(big.Rat).SetFrac(n, limit).Float64()
			ps = append(ps, SSHSourceProblem{Message: fmt.Sprintf(
				"together the %s sources %v cover %.3g times as many addresses as a /%d, the most one organisation holds; %s",
				name, family, ratio, bound, anywhereFix)})
		}
	}
	return ps
}

// sshSourceProblem explains why one prefix may not be an SSH source, or
// returns "".
func sshSourceProblem(p netip.Prefix, anywhereAllowed bool) string {
	for _, u := range unreachableSources {
		if u.prefix.Addr().Is6() == p.Addr().Is6() && p.Bits() >= u.prefix.Bits() && u.prefix.Contains(p.Addr()) {
			return fmt.Sprintf("is %s, which no connection from the internet comes from; list the public address of the machine that runs pulumi up (curl https://checkip.amazonaws.com shows it)", u.what)
		}
	}
	if anywhereAllowed {
		return ""
	}
	bound := MaxSSHSourceBitsV4
	if p.Addr().Is6() {
		bound = MaxSSHSourceBitsV6
	}
	switch {
	case p.Bits() == 0:
		return "opens SSH to the whole internet; " + anywhereFix
	case p.Bits() < bound:
		return fmt.Sprintf("is broader than a /%d, the most one organisation holds, so it opens SSH to much of the internet; %s", bound, anywhereFix)
	}
	return ""
}

// unionSize counts the addresses the prefixes cover together. Two prefixes
// either nest or are disjoint, so the count is the sum over the prefixes
// that no other one contains.
func unionSize(ps []netip.Prefix) *big.Int {
	total := new(big.Int)
	for i, p := range ps {
		covered := false
		for j, q := range ps {
			if i != j && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				covered = true // inside q, or equal to an earlier one
				break
			}
		}
		if !covered {
			total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits())))
		}
	}
	return total
}
