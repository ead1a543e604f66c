package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// errRangeExhausted is upstream's cidrset.ErrCIDRRangeNoCIDRsRemaining.
var errRangeExhausted = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")

// maxSubnetBits bounds how many node ranges one cluster range may hold
// (2^16), as upstream's clusterSubnetMaxDiff does: the set is a bitmap.
const maxSubnetBits = 16

// cidrSet hands out the node-sized subnets of one cluster range, as
// upstream's cidrset.CidrSet: a bitmap of used subnets and a rotating
// next candidate, so a released range is not handed out again at once.
// It is not safe for concurrent use.
type cidrSet struct {
	cluster  netip.Prefix
	nodeBits int
	max      int
	used     big.Int
	count    int
	next     int
}

func newCIDRSet(cluster netip.Prefix, nodeBits int) (*cidrSet, error) {
	cluster = cluster.Masked()
	switch {
	case nodeBits < cluster.Bits():
		return nil, fmt.Errorf("node CIDR mask size /%d is larger than the cluster CIDR %s", nodeBits, cluster)
	case nodeBits > cluster.Addr().BitLen():
		return nil, fmt.Errorf("node CIDR mask size /%d is longer than a %s address", nodeBits, cluster.Addr())
	case nodeBits-cluster.Bits() > maxSubnetBits:
		return nil, fmt.Errorf("node CIDR mask size /%d is too small for cluster CIDR %s: at most 2^%d node ranges", nodeBits, cluster, maxSubnetBits)
	}
	return &cidrSet{cluster: cluster, nodeBits: nodeBits, max: 1 << (nodeBits - cluster.Bits())}, nil
}

// allocateNext reserves the first free subnet at or after the candidate.
func (s *cidrSet) allocateNext() (netip.Prefix, error) {
	if s.count == s.max {
		return netip.Prefix{}, errRangeExhausted
	}
	candidate := s.next
	for s.used.Bit(candidate) == 1 {
		candidate = (candidate + 1) % s.max
	}
	s.next = (candidate + 1) % s.max
	s.used.SetBit(&s.used, candidate, 1)
	s.count++
	return s.subnet(candidate), nil
}

// occupy marks every subnet that p overlaps as used: a node's own range,
// or a service range that lies inside the cluster range.
func (s *cidrSet) occupy(p netip.Prefix) error {
	begin, end, err := s.indices(p)
	if err != nil {
		return err
	}
	for i := begin; i <= end; i++ {
		if s.used.Bit(i) == 0 {
			s.used.SetBit(&s.used, i, 1)
			s.count++
		}
	}
	return nil
}

// release frees every subnet that p overlaps.
func (s *cidrSet) release(p netip.Prefix) error {
	begin, end, err := s.indices(p)
	if err != nil {
		return err
	}
	for i := begin; i <= end; i++ {
		if s.used.Bit(i) == 1 {
			s.used.SetBit(&s.used, i, 0)
			s.count--
		}
	}
	return nil
}

// indices are the first and last subnet that p overlaps.
func (s *cidrSet) indices(p netip.Prefix) (begin, end int, err error) {
	p = p.Masked()
	if p.Addr().BitLen() != s.cluster.Addr().BitLen() || !p.Overlaps(s.cluster) {
		return 0, 0, fmt.Errorf("CIDR %s is outside the cluster CIDR %s", p, s.cluster)
	}
	if p.Bits() <= s.cluster.Bits() {
		return 0, s.max - 1, nil
	}
	return s.index(p.Addr()), s.index(lastAddr(p)), nil
}

// index is the number of the node subnet that holds addr.
func (s *cidrSet) index(addr netip.Addr) int {
	offset := new(big.Int).Sub(addrInt(addr), addrInt(s.cluster.Addr()))
	return int(offset.Rsh(offset, uint(addr.BitLen()-s.nodeBits)).Int64())
}

// subnet is node subnet number i.
func (s *cidrSet) subnet(i int) netip.Prefix {
	n := new(big.Int).Lsh(big.NewInt(int64(i)), uint(s.cluster.Addr().BitLen()-s.nodeBits))
	n.Add(n, addrInt(s.cluster.Addr()))
	return netip.PrefixFrom(intAddr(n, s.cluster.Addr().Is4()), s.nodeBits)
}

func addrInt(a netip.Addr) *big.Int {
	b := a.AsSlice()
	return new(big.Int).SetBytes(b)
}

func intAddr(n *big.Int, is4 bool) netip.Addr {
	size := 16
	if is4 {
		size = 4
	}
	addr, _ := netip.AddrFromSlice(n.FillBytes(make([]byte, size)))
	return addr
}

func lastAddr(p netip.Prefix) netip.Addr {
	hostBits := uint(p.Addr().BitLen() - p.Bits())
	n := addrInt(p.Addr())
	ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), hostBits), big.NewInt(1))
	return intAddr(n.Or(n, ones), p.Addr().Is4())
}
