package mibview

import (
	"net/netip"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// NetworkAddress implements mib.Snapshot: the addresses libvirt reported for a view.NIC in
// the last poll of its host (fresh counters only), one row per address of the view.NIC in
// mib.AddrKey order (IPv4 before IPv6, then by octets), whatever libvirt's order. An
// address reported more than once for a view.NIC is one row, with the best source's prefix
// and source (see better).
//
// A view.NIC has a handful of addresses: each seek scans the VM's list (no sorted copy is
// kept), which allocates nothing.
func (ms *mibSnap) NetworkAddress(from mib.AddrKey) (mib.NetworkAddressRow, bool) {
	return subRow(ms, from.VMID, from.Network, func(r view.VMRow, nic uint32) (mib.NetworkAddressRow, bool) {
		ds, fresh := ms.s.DomainStats(r)
		if !fresh || len(ds.Addrs) == 0 {
			return mib.NetworkAddressRow{}, false
		}
		for n, ok := r.NICFrom(nic); ok; n, ok = r.NICFrom(n.NetworkIndex + 1) {
			var lo netip.Addr // the zero Addr: every address of the NIC
			if r.VMID == from.VMID && n.NetworkIndex == from.Network {
				lo = from.Addr
			}
			if a := lowestAddr(ds.Addrs, n.MAC, lo); a != nil {
				return addressRow(r.VMID, n.NetworkIndex, a), true
			}
		}
		return mib.NetworkAddressRow{}, false
	})
}

// lowestAddr returns the lowest address >= lo that addrs give for the view.NIC mac, and of
// its duplicates the best; nil when there is none.
func lowestAddr(addrs []hosts.IfaceAddr, mac string, lo netip.Addr) *hosts.IfaceAddr {
	var best *hosts.IfaceAddr
	for j := range addrs {
		a := &addrs[j]
		if a.MAC != mac || !servable(a.Addr) || a.Addr.Compare(lo) < 0 {
			continue
		}
		if best == nil {
			best = a
			continue
		}
		switch c := a.Addr.Compare(best.Addr); {
		case c < 0, c == 0 && better(a.Source, best.Source):
			best = a
		}
	}
	return best
}

// servable: the MIB serves IPv4 and IPv6 addresses without a zone (hosts drops zones;
// a zoned address could not be found again by its index).
func servable(a netip.Addr) bool { return a.IsValid() && a.Zone() == "" }

// better reports whether an address learnt from source a is preferred to the same
// address learnt from b: the guest agent knows the guest's own configuration (and the
// real prefix), a DHCP lease of a libvirt network comes next, the host's ARP table
// (no prefix, possibly stale) last.
func better(a, b hosts.AddrSource) bool { return sourceRank(a) < sourceRank(b) }

func sourceRank(s hosts.AddrSource) int {
	switch s {
	case hosts.AddrAgent:
		return 0
	case hosts.AddrLease:
		return 1
	case hosts.AddrARP:
		return 2
	}
	return 3
}

func addressRow(vmID, network uint32, a *hosts.IfaceAddr) mib.NetworkAddressRow {
	return mib.NetworkAddressRow{VMID: vmID, NetworkIndex: network, Addr: a.Addr,
		PrefixLength: a.Prefix, Source: mib.AddrSource(int(a.Source) + 1)}
}
