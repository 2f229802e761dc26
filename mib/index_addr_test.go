package mib

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/vmgate/vmgate/snmp"
)

// addrFixtures are networkAddressTable rows (instance suffixes, ascending) with
// extremes: IPv4 and IPv6 on one NIC, the lowest and highest addresses, a v4-mapped
// IPv6 address, NICs and VMs at MaxIndex.
func addrFixtures() []Index {
	keys := []AddrKey{
		{1, 1, netip.MustParseAddr("0.0.0.0")},
		{1, 1, netip.MustParseAddr("10.0.0.255")},
		{1, 1, netip.MustParseAddr("10.0.1.0")},
		{1, 1, netip.MustParseAddr("255.255.255.255")},
		{1, 1, netip.MustParseAddr("::")},
		{1, 1, netip.MustParseAddr("::ffff:10.0.0.1")},
		{1, 1, netip.MustParseAddr("fe80::1")},
		{1, 1, netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
		{1, 2, netip.MustParseAddr("192.0.2.1")},
		{1, MaxIndex, netip.MustParseAddr("2001:db8::1")},
		{3, 1, netip.MustParseAddr("192.0.2.1")},
		{MaxIndex, MaxIndex, netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
	}
	var rows []Index
	for _, k := range keys {
		rows = append(rows, k.Index())
	}
	return rows
}

func TestAddrIndex(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want []uint32
	}{
		{"ipv4", "192.0.2.10", []uint32{7, 3, 1, 4, 192, 0, 2, 10}},
		{"ipv6", "fe80::1", []uint32{7, 3, 2, 16, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"v4-mapped ipv6", "::ffff:10.0.0.1", []uint32{7, 3, 2, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := AddrKey{7, 3, netip.MustParseAddr(tt.addr)}
			if got := k.Index(); !slices.Equal(got, tt.want) {
				t.Fatalf("Index() = %v, want %v", got, tt.want)
			}
			if len(tt.want) != 2+addrIndexLen(k.Addr) {
				t.Fatalf("addrIndexLen = %d", addrIndexLen(k.Addr))
			}
			if back, ok := ParseAddrKey(tt.want); !ok || back != k {
				t.Fatalf("ParseAddrKey = %v, %v; want %v", back, ok, k)
			}
			o := NetworkAddressTable.Instance(ColNetworkAddressSource, tt.want...)
			if col, idx, err := parseInstance(NetworkAddressTable, o); err != nil || col != ColNetworkAddressSource ||
				!slices.Equal(idx, tt.want) {
				t.Fatalf("ParseInstance(%v) = %d %v %v", o, col, idx, err)
			}
		})
	}
	for _, bad := range [][]uint32{
		{}, {1}, {1, 1}, {1, 1, 1}, {1, 1, 1, 4}, {1, 1, 1, 4, 1, 2, 3},
		{1, 1, 1, 4, 1, 2, 3, 4, 5}, {1, 1, 1, 4, 1, 2, 3, 256}, {1, 1, 1, 4, 1, 2, 3, maxU32},
		{1, 1, 1, 16, 1, 2, 3, 4}, {1, 1, 2, 4, 1, 2, 3, 4}, {1, 1, 0, 4, 1, 2, 3, 4},
		{1, 1, 3, 4, 1, 2, 3, 4}, {1, 1, 4, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{1, 1, 16, 4, 1, 2, 3, 4}, {0, 1, 1, 4, 1, 2, 3, 4}, {1, 0, 1, 4, 1, 2, 3, 4},
		{MaxIndex + 1, 1, 1, 4, 1, 2, 3, 4}, {1, maxU32, 1, 4, 1, 2, 3, 4},
	} {
		if k, ok := ParseAddrKey(bad); ok {
			t.Errorf("ParseAddrKey(%v) = %v, want malformed", bad, k)
		}
	}
}

// TestAddrKeyOrder: AddrKey.Compare is the order of the instance suffixes: by VM, NIC,
// then IPv4 before IPv6, each by octets.
func TestAddrKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var keys []AddrKey
	for range 2000 {
		k := AddrKey{VMID: uint32(1 + rng.IntN(3)), Network: uint32(1 + rng.IntN(3))}
		var b [16]byte
		for i := range b {
			b[i] = []byte{0, 1, 127, 128, 255}[rng.IntN(5)]
		}
		if rng.IntN(2) == 0 {
			k.Addr = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			k.Addr = netip.AddrFrom16(b)
		}
		keys = append(keys, k)
	}
	byKey := slices.Clone(keys)
	slices.SortFunc(byKey, AddrKey.Compare)
	byOID := slices.Clone(keys)
	slices.SortFunc(byOID, func(a, b AddrKey) int { return a.Index().Compare(b.Index()) })
	for i := range byKey {
		if byKey[i] != byOID[i] {
			t.Fatalf("position %d: Compare order %v, OID order %v", i, byKey[i], byOID[i])
		}
		if i > 0 && byKey[i-1].VMID == byKey[i].VMID && byKey[i-1].Network == byKey[i].Network &&
			byKey[i-1].Addr.Is6() && byKey[i].Addr.Is4() {
			t.Fatalf("IPv6 %v before IPv4 %v", byKey[i-1], byKey[i])
		}
	}
}

// TestAddrNext checks GETNEXT arithmetic of networkAddressTable (addrStart) against the
// brute-force order, from random OIDs near the rows:
// sub-identifiers around the type, length and octet limits.
func TestAddrNext(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows := addrFixtures()
	vals := []uint32{0, 1, 2, 3, 4, 15, 16, 17, 254, 255, 256, MaxIndex, MaxIndex + 1, maxU32}
	e := NetworkAddressTable.Entry()
	for range 20000 {
		var oid snmp.OID
		if rng.IntN(3) > 0 { // start from a row, then change its tail
			r := rows[rng.IntN(len(rows))]
			oid = e.Append(uint32(3 + rng.IntN(3)))
			oid = append(oid, r[:rng.IntN(len(r)+1)]...)
		} else {
			oid = e.Append(uint32(rng.IntN(7)))
		}
		for range rng.IntN(5) {
			oid = append(oid, vals[rng.IntN(len(vals))])
		}
		checkNext(t, NetworkAddressTable, rows, oid)
	}
}

// TestAddrNextKey: the row after a row's key, across the IPv4/IPv6 boundary and the
// ends of a NIC and of the VMs.
func TestAddrNextKey(t *testing.T) {
	tests := []struct {
		k    AddrKey
		want AddrKey
		ok   bool
	}{
		{AddrKey{1, 1, netip.MustParseAddr("10.0.0.255")}, AddrKey{1, 1, netip.MustParseAddr("10.0.1.0")}, true},
		{AddrKey{1, 1, netip.MustParseAddr("255.255.255.255")}, AddrKey{1, 1, netip.MustParseAddr("::")}, true},
		{AddrKey{1, 1, netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}, AddrKey{1, 2, netip.Addr{}}, true},
		{AddrKey{1, maxU32, netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}, AddrKey{2, 0, netip.Addr{}}, true},
		{AddrKey{maxU32, maxU32, netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}, AddrKey{}, false},
	}
	for _, tt := range tests {
		if got, ok := tt.k.nextKey(); ok != tt.ok || got != tt.want {
			t.Errorf("%v.nextKey() = %v, %v; want %v, %v", tt.k, got, ok, tt.want, tt.ok)
		}
	}
}
