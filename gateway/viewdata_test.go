package gateway

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// TestImageSizesOutsidePools: an image file a VM uses outside pools has the sizes
// libvirt gave for its disk (DomainGetBlockInfo), follows them when the domain is
// re-read, and a pool volume keeps the volume's own sizes.
func TestImageSizesOutsidePools(t *testing.T) {
	tv := newTestView(t, "a")
	d := dom(1, hosts.StateShutoff, "/img/free.qcow2", "/pool/vol.qcow2")
	d.Disks[0].Capacity, d.Disks[0].Allocation = 64<<20, 196608
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d},
		Pools:   []hosts.Pool{{Name: "p", Active: true}},
		Volumes: []hosts.Volume{{Pool: "p", Name: "vol.qcow2", Path: "/pool/vol.qcow2", Capacity: 1 << 30, Allocation: 1 << 20}}})
	sizes := func() map[string][2]uint64 {
		m := map[string][2]uint64{}
		ms := NewMIBView(tv.View, nil, nil).Snapshot("a")
		for from := uint32(0); ; from++ {
			row, ok := ms.DiskImage(from)
			if !ok {
				return m
			}
			m[row.Path] = [2]uint64{row.Capacity, row.Allocation}
			from = row.Index
		}
	}
	want := map[string][2]uint64{"/img/free.qcow2": {64 << 20, 196608}, "/pool/vol.qcow2": {1 << 30, 1 << 20}}
	if got := sizes(); len(got) != 2 || got["/img/free.qcow2"] != want["/img/free.qcow2"] || got["/pool/vol.qcow2"] != want["/pool/vol.qcow2"] {
		t.Fatalf("image sizes %v, want %v", got, want)
	}
	d.Disks[0].Allocation = 1 << 20
	tv.DomainUpdated("a", d)
	if got := sizes()["/img/free.qcow2"]; got != [2]uint64{64 << 20, 1 << 20} {
		t.Errorf("after the domain was re-read: %v", got)
	}
	r, _ := tv.Read().VMByUUID("a", uuidN(1))
	ms := NewMIBView(tv.View, nil, nil).Snapshot("a")
	if row, ok := ms.Storage(r.VMID, 0); !ok || row.Capacity != 64<<20 || row.Allocation != 1<<20 {
		t.Errorf("storage row of the inactive VM's free image: %+v %v", row, ok)
	}
}

// TestStorageSynced: pools and volumes re-read between resyncs replace the host's,
// and a domain's volume disk is resolved to the volume once it exists.
func TestStorageSynced(t *testing.T) {
	tv := newTestView(t, "a")
	d := dom(1, hosts.StateShutoff)
	d.Disks = []hosts.Disk{{Device: "disk", Type: "volume", Target: "vda", Pool: "p", Volume: "new.qcow2", Source: "p/new.qcow2"}}
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	vol := hosts.Volume{Pool: "p", Name: "new.qcow2", Path: "/p/new.qcow2", Format: "qcow2", Capacity: 1 << 20}
	tv.StorageSynced("a", []hosts.Pool{{Name: "p", Active: true}}, []hosts.Volume{vol})
	s := tv.Read()
	var p *StoragePool
	for sp := range s.Pools("a", 0) {
		p = sp
	}
	if p == nil || p.Pool.Name != "p" {
		t.Fatalf("pool after StorageSynced: %+v", p)
	}
	r, _ := s.VMByUUID("a", uuidN(1))
	im, ok := s.Image("a", r.Disks[0].DiskImageIndex)
	if !ok || im.Volume == nil || *im.Volume != vol || im.PoolIndex != p.Index {
		t.Fatalf("the volume disk's image: %+v %v", im, ok)
	}

	tv.StorageSynced("a", nil, nil)
	s = tv.Read()
	for p := range s.Pools("a", 0) {
		t.Errorf("pool still listed: %+v", p)
	}
	var paths []string
	for im := range s.Images("a", 0) {
		paths = append(paths, im.Path)
		if im.Volume != nil {
			t.Errorf("volume still listed: %+v", im)
		}
	}
	if len(paths) != 1 || paths[0] != "p/new.qcow2" {
		t.Errorf("images after the pool went: %v", paths)
	}
}

// TestNetworkAddresses: a running VM's addresses from its host's last poll, under the
// NIC of the same MAC, numbered from 1 in libvirt's order; GETNEXT-style seeks from
// inside the table; nothing once the counters are stale.
func TestNetworkAddresses(t *testing.T) {
	tv := newTestView(t, "a")
	d := dom(1, hosts.StateRunning)
	d.NICs = append(d.NICs, hosts.NIC{MAC: "52:54:00:00:00:99", Type: "network", Source: "default"})
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d, dom(2, hosts.StateRunning)}})
	ip := netip.MustParseAddr
	tv.Stats("a", &hosts.Stats{At: tv.clk.Now(), Domains: map[hosts.UUID]hosts.DomainStats{
		uuidN(1): {UUID: uuidN(1), State: hosts.StateRunning, Addrs: []hosts.IfaceAddr{
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrLease, Addr: ip("192.168.122.7"), Prefix: 24},
			{MAC: "52:54:00:00:00:01", Source: hosts.AddrARP, Addr: ip("10.0.0.5"), Prefix: 0},
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrLease, Addr: ip("fd00::7"), Prefix: 64},
			{MAC: "52:54:00:00:00:77", Source: hosts.AddrAgent, Addr: ip("10.9.9.9"), Prefix: 8}, // no such NIC
		}},
		uuidN(2): {UUID: uuidN(2), State: hosts.StateRunning},
	}})
	s := tv.Read()
	r, _ := s.VMByUUID("a", uuidN(1))
	nicIdx := map[string]uint32{}
	for _, n := range r.NICs {
		nicIdx[n.MAC] = n.NetworkIndex
	}
	type row struct {
		nic, idx uint32
		addr     string
		src      mib.AddrSource
		typ      mib.InetAddressType
		prefix   uint32
	}
	var got []row
	ms := NewMIBView(tv.View, nil, nil).Snapshot("")
	for k := [3]uint32{}; ; {
		a, ok := ms.NetworkAddress(k[0], k[1], k[2])
		if !ok {
			break
		}
		ad, _ := netip.AddrFromSlice(a.Address)
		if a.VMID != r.VMID {
			t.Fatalf("address row of vmId %d: %+v", a.VMID, a)
		}
		got = append(got, row{a.NetworkIndex, a.Index, ad.String(), a.Source, a.Type, a.PrefixLength})
		k = [3]uint32{a.VMID, a.NetworkIndex, a.Index + 1}
	}
	want := []row{
		{nicIdx["52:54:00:00:00:99"], 1, "192.168.122.7", mib.AddrLease, mib.InetIPv4, 24},
		{nicIdx["52:54:00:00:00:99"], 2, "fd00::7", mib.AddrLease, mib.InetIPv6, 64},
		{nicIdx["52:54:00:00:00:01"], 1, "10.0.0.5", mib.AddrARP, mib.InetIPv4, 0},
	}
	slices.SortFunc(want, func(a, b row) int { return cmp.Or(cmp.Compare(a.nic, b.nic), cmp.Compare(a.idx, b.idx)) })
	if !slices.Equal(got, want) {
		t.Fatalf("address rows\ngot  %+v\nwant %+v", got, want)
	}

	tv.clk.Add(time.Hour) // the poll is no longer fresh
	if a, ok := NewMIBView(tv.View, nil, nil).Snapshot("a").NetworkAddress(0, 0, 0); ok {
		t.Errorf("stale counters still give addresses: %+v", a)
	}
}
