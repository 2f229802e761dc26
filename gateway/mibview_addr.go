package gateway

import (
	"slices"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// NetworkAddress implements mib.Snapshot: the addresses libvirt reported for a NIC in
// the last poll of its host (fresh counters only), numbered from 1 in libvirt's order.
func (ms *mibSnap) NetworkAddress(vmID, network, addr uint32) (mib.NetworkAddressRow, bool) {
	return subRow(ms, vmID, network, func(r VMRow, from uint32) (mib.NetworkAddressRow, bool) {
		ds, fresh := ms.domainStats(r)
		if !fresh || len(ds.Addrs) == 0 {
			return mib.NetworkAddressRow{}, false
		}
		i, _ := slices.BinarySearchFunc(r.NICs, from, func(n NIC, k uint32) int { return cmpU32(n.NetworkIndex, k) })
		for ; i < len(r.NICs); i++ {
			n := &r.NICs[i]
			lo := uint32(1)
			if r.VMID == vmID && n.NetworkIndex == network {
				lo = max(addr, 1)
			}
			k := uint32(0)
			for j := range ds.Addrs {
				if a := &ds.Addrs[j]; a.MAC == n.MAC {
					if k++; k >= lo {
						return addressRow(r.VMID, n.NetworkIndex, k, a), true
					}
				}
			}
		}
		return mib.NetworkAddressRow{}, false
	})
}

func addressRow(vmID, network, idx uint32, a *hosts.IfaceAddr) mib.NetworkAddressRow {
	row := mib.NetworkAddressRow{VMID: vmID, NetworkIndex: network, Index: idx, Address: a.Addr.AsSlice(),
		PrefixLength: a.Prefix, Source: mib.AddrSource(int(a.Source) + 1), Type: mib.InetIPv4}
	if a.Addr.Is6() {
		row.Type = mib.InetIPv6
	}
	return row
}
