package verify

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

const fixDNS = "set the A/AAAA records of %s to %s (not behind a CDN proxy)"

// checkDNS compares the addresses of each name with the expected ones.
// A family without expectations is not compared.
func (v *verifier) checkDNS(ctx context.Context) Result {
	var found, problems []string
	for _, name := range v.cfg.dnsNames() {
		addrs, err := v.cfg.Network.resolver().LookupNetIP(ctx, "ip", name)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		v4, v6 := splitFamilies(addrs)
		if p := compareAddrs(name, "IPv4", v4, v.cfg.ExpectIPv4); p != "" {
			problems = append(problems, p)
		}
		if p := compareAddrs(name, "IPv6", v6, v.cfg.ExpectIPv6); p != "" {
			problems = append(problems, p)
		}
		found = append(found, fmt.Sprintf("%s → %s", name, joinAddrs(append(v4, v6...))))
	}
	if len(problems) > 0 {
		want := joinAddrs(append(slices.Clone(v.cfg.ExpectIPv4), v.cfg.ExpectIPv6...))
		return failed(fmt.Sprintf(fixDNS, strings.Join(v.cfg.dnsNames(), " and "), want), "%s", strings.Join(problems, "; "))
	}
	return passed("%s", strings.Join(found, "; "))
}

func splitFamilies(addrs []netip.Addr) (v4, v6 []netip.Addr) {
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return v4, v6
}

// compareAddrs describes the difference between got and want, or returns
// "" when they hold the same addresses or nothing is expected.
func compareAddrs(name, family string, got, want []netip.Addr) string {
	if len(want) == 0 {
		return ""
	}
	got = sortedUnique(got)
	want = sortedUnique(want)
	if slices.Equal(got, want) {
		return ""
	}
	if len(got) == 0 {
		return fmt.Sprintf("%s has no %s address, want %s", name, family, joinAddrs(want))
	}
	return fmt.Sprintf("%s %s is %s, want %s", name, family, joinAddrs(got), joinAddrs(want))
}

func sortedUnique(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	for i := range out {
		out[i] = out[i].Unmap()
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

func joinAddrs(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "nothing"
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
