package mibview_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// BenchmarkMIBWalkAddresses walks networkAddressTable over 1000 VMs whose NIC has four
// addresses reported by libvirt out of order (an IPv6 one first, a duplicate from the
// ARP table), 25 varbinds per request; ns/op and allocs/op are per varbind.
func BenchmarkMIBWalkAddresses(b *testing.B) {
	v, h := fleetMIB(b, 1, 1000)
	// The stats of syncBenchHost's VMs, with addresses.
	var ds []hosts.DomainStats
	for i := range 1000 {
		u := hosts.UUID{0xbe, byte(i >> 16), byte(i >> 8), byte(i)}
		mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i))
		ds = append(ds, hosts.DomainStats{UUID: u, CPUTimeNs: uint64(i) * 1e9,
			Blocks: []hosts.BlockStats{{Name: "vda", RdBytes: 1}, {Name: "vdb", RdBytes: 2}},
			Nets:   []hosts.NetStats{{Name: fmt.Sprintf("vnet%d", i), RxBytes: 3}},
			Addrs: []hosts.IfaceAddr{
				{MAC: mac, Source: hosts.AddrAgent, Addr: netip.MustParseAddr(fmt.Sprintf("fd00::%x", i)), Prefix: 64},
				{MAC: mac, Source: hosts.AddrAgent, Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Prefix: 16},
				{MAC: mac, Source: hosts.AddrAgent, Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Prefix: 16},
				{MAC: mac, Source: hosts.AddrARP, Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})},
			}})
	}
	v.Stats("h000", hosts.NewStats(time.Now(), ds))
	root, _ := mib.Lookup("networkAddressTable")
	ctx := context.Background()
	if vb, ok := h.Next(ctx, &snmp.Request{}, root); !ok || !vb.OID.HasPrefix(root) {
		b.Fatalf("no address rows: %v", vb.OID)
	}
	mibtest.BenchWalk(b, h, root)
}
