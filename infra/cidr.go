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
