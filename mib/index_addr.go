package mib

import (
	"cmp"
	"net/netip"
)

// The index of networkAddressTable: {vmId, networkIndex, networkAddressType,
// networkAddress}, the address encoded as RFC 4001 section 4.1 and RFC 2578 section
// 7.7 describe (not IMPLIED): the type, the length in octets, one sub-identifier per
// octet. Only ipv4(1) with 4 octets and ipv6(2) with 16 are served, so an instance
// suffix has 2+2+4 or 2+2+16 sub-identifiers.

// AddrKey is a networkAddressTable row index. Keys compare (Compare) as their instance
// OIDs do: by vmId, networkIndex, then the address's type, length and octets, which is
// netip.Addr's order (IPv4 before IPv6, then by octets). The zero Addr, before every
// address, serves as a seek bound only: {vm, nic, zero} is the first row of that NIC.
type AddrKey struct {
	VMID, Network uint32
	Addr          netip.Addr // IPv4 or IPv6 without a zone
}

// Compare orders keys as their instance OIDs: -1, 0 or +1.
func (k AddrKey) Compare(o AddrKey) int {
	if c := cmp.Compare(k.VMID, o.VMID); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Network, o.Network); c != 0 {
		return c
	}
	return k.Addr.Compare(o.Addr)
}

// Index returns the key's instance suffix: vmId, networkIndex, type, length, octets
// (only vmId and networkIndex for the zero Addr).
func (k AddrKey) Index() Index { return AppendAddr(Index{k.VMID, k.Network}, k.Addr) }

// AppendAddr appends an address's index sub-identifiers (type, length, octets) to o;
// nothing for an address that is neither IPv4 nor IPv6.
func AppendAddr[S ~[]uint32](o S, a netip.Addr) S {
	switch {
	case a.Is4():
		b := a.As4()
		return append(o, uint32(InetIPv4), 4, uint32(b[0]), uint32(b[1]), uint32(b[2]), uint32(b[3]))
	case a.Is6():
		o = append(o, uint32(InetIPv6), 16)
		for _, c := range a.As16() {
			o = append(o, uint32(c))
		}
	}
	return o
}

// addrIndexLen is the number of sub-identifiers AppendAddr appends for a.
func addrIndexLen(a netip.Addr) int { return 2 + a.BitLen()/8 }

// ParseAddrKey decodes a whole instance suffix of networkAddressTable; false when it is
// malformed: a vmId or networkIndex outside 1..MaxIndex, a type other than ipv4(1) or
// ipv6(2), a length that is not the type's, an octet above 255, sub-identifiers
// missing or left over. It does not allocate.
func ParseAddrKey(r []uint32) (AddrKey, bool) {
	if len(r) < 4 || r[0] == 0 || r[0] > MaxIndex || r[1] == 0 || r[1] > MaxIndex {
		return AddrKey{}, false
	}
	n, ok := addrLen(r[2])
	if !ok || r[3] != uint32(n) || len(r) != 4+n {
		return AddrKey{}, false
	}
	var b [16]byte
	for i, v := range r[4:] {
		if v > 255 {
			return AddrKey{}, false
		}
		b[i] = byte(v)
	}
	return AddrKey{VMID: r[0], Network: r[1], Addr: addrOf(b, n)}, true
}

// addrLen is the address length of a served InetAddressType.
func addrLen(typ uint32) (int, bool) {
	switch InetAddressType(typ) {
	case InetIPv4:
		return 4, true
	case InetIPv6:
		return 16, true
	}
	return 0, false
}

func addrOf(b [16]byte, n int) netip.Addr {
	if n == 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

// addrAfter returns the smallest seek bound whose rows all have instance suffixes
// strictly greater than r, any sub-identifiers (a GETNEXT's OID after the column);
// false: no row's suffix is greater. Every row at or after the bound is after r, and
// every row after r is at or after the bound.
func addrAfter(r []uint32) (AddrKey, bool) {
	var k AddrKey
	switch len(r) {
	case 0:
		return k, true
	case 1:
		k.VMID = r[0] // {r0, 0, ...} is above r and below every longer suffix after it
		return k, true
	}
	k.VMID, k.Network = r[0], r[1]
	if a, ok := addrAbove(r[2:]); ok {
		k.Addr = a
		return k, true
	}
	// No address of this NIC is after r: the next NIC's first one.
	if k.Network < ^uint32(0) {
		k.Network++
		return k, true
	}
	if k.VMID < ^uint32(0) {
		return AddrKey{VMID: k.VMID + 1}, true
	}
	return AddrKey{}, false
}

// addrAbove returns the smallest address whose sub-identifiers (type, length, octets)
// are strictly greater than r; false: none (r is above every IPv6 address).
func addrAbove(r []uint32) (netip.Addr, bool) {
	if len(r) == 0 || r[0] < uint32(InetIPv4) {
		return netip.IPv4Unspecified(), true
	}
	switch InetAddressType(r[0]) {
	case InetIPv4:
		if a, ok := familyAbove(r[1:], 4); ok {
			return a, true
		}
		return netip.IPv6Unspecified(), true
	case InetIPv6:
		return familyAbove(r[1:], 16)
	}
	return netip.Addr{}, false
}

// familyAbove returns the smallest n-octet address whose {length, octets} are strictly
// greater than r; false: none of that length.
func familyAbove(r []uint32, n int) (netip.Addr, bool) {
	var b [16]byte
	switch {
	case len(r) == 0 || r[0] < uint32(n):
		return addrOf(b, n), true // every address of the family
	case r[0] > uint32(n):
		return netip.Addr{}, false
	}
	o := r[1:]
	for i := range n {
		if i == len(o) {
			return addrOf(b, n), true // o is a proper prefix of b: b is after it
		}
		if o[i] > 255 { // no octet matches: the next value of b[:i], then zeros
			return bump(b, i, n)
		}
		b[i] = byte(o[i])
	}
	return bump(b, n, n) // b equals o[:n], not after o: the next address
}

// bump adds one to the big-endian number b[:i] (octets i.. are zero) and returns it as
// an n-octet address; false when it overflows.
func bump(b [16]byte, i, n int) (netip.Addr, bool) {
	for j := i - 1; j >= 0; j-- {
		if b[j] < 255 {
			b[j]++
			return addrOf(b, n), true
		}
		b[j] = 0
	}
	return netip.Addr{}, false
}

// nextKey returns the smallest row key after k, a row's key, for stepping over a row;
// false: none.
func (k AddrKey) nextKey() (AddrKey, bool) {
	if a := k.Addr.Next(); a.IsValid() {
		k.Addr = a
		return k, true
	}
	if k.Addr.Is4() {
		k.Addr = netip.IPv6Unspecified()
		return k, true
	}
	return addrAfter([]uint32{k.VMID, k.Network, ^uint32(0)})
}
