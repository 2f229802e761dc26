package mibview_test

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// TestImageSizesOutsidePools: an image file a VM uses outside pools has the sizes
// libvirt gave for its disk (DomainGetBlockInfo), follows them when the domain is
// re-read, and a pool volume keeps the volume's own sizes.
func TestImageSizesOutsidePools(t *testing.T) {
	tv := viewtest.New(t, "a")
	d := viewtest.Domain(1, hosts.StateShutoff, "/img/free.qcow2", "/pool/vol.qcow2")
	d.Disks[0].Capacity, d.Disks[0].Allocation = 64<<20, 196608
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d},
		Pools:   []hosts.Pool{{Name: "p", Active: true}},
		Volumes: []hosts.Volume{{Pool: "p", Name: "vol.qcow2", Path: "/pool/vol.qcow2", Capacity: 1 << 30, Allocation: 1 << 20}}})
	sizes := func() map[string][2]uint64 {
		m := map[string][2]uint64{}
		ms := mibview.New(tv.View, nil, nil).Snapshot("a")
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
	r, _ := tv.Read().VMByUUID("a", viewtest.UUID(1))
	ms := mibview.New(tv.View, nil, nil).Snapshot("a")
	if row, ok := ms.Storage(r.VMID, 0); !ok || row.Capacity != 64<<20 || row.Allocation != 1<<20 {
		t.Errorf("storage row of the inactive VM's free image: %+v %v", row, ok)
	}
}

// TestStorageSynced: pools and volumes re-read between resyncs replace the host's,
// and a domain's volume disk is resolved to the volume once it exists.
func TestStorageSynced(t *testing.T) {
	tv := viewtest.New(t, "a")
	d := viewtest.Domain(1, hosts.StateShutoff)
	d.Disks = []hosts.Disk{{Device: "disk", Type: "volume", Target: "vda", Pool: "p", Volume: "new.qcow2", Source: "p/new.qcow2"}}
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	vol := hosts.Volume{Pool: "p", Name: "new.qcow2", Path: "/p/new.qcow2", Format: "qcow2", Capacity: 1 << 20}
	tv.StorageSynced("a", []hosts.Pool{{Name: "p", Active: true}}, []hosts.Volume{vol})
	s := tv.Read()
	var p *view.StoragePool
	for sp := range s.Pools("a", 0) {
		p = sp
	}
	if p == nil || p.Pool.Name != "p" {
		t.Fatalf("pool after StorageSynced: %+v", p)
	}
	r, _ := s.VMByUUID("a", viewtest.UUID(1))
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
// NIC of the same MAC, keyed by the address: in AddrKey order (IPv4 before IPv6, by
// octets) whatever libvirt's order, an address reported twice is one row with the best
// source's prefix (agent > lease > arp); GETNEXT-style seeks from inside the table;
// nothing once the counters are stale.
func TestNetworkAddresses(t *testing.T) {
	tv := viewtest.New(t, "a")
	d := viewtest.Domain(1, hosts.StateRunning)
	d.NICs = append(d.NICs, hosts.NIC{MAC: "52:54:00:00:00:99", Type: "network", Source: "default"})
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d, viewtest.Domain(2, hosts.StateRunning)}})
	ip := netip.MustParseAddr
	tv.Stats("a", hosts.NewStats(tv.Clock.Now(), []hosts.DomainStats{
		{UUID: viewtest.UUID(1), State: hosts.StateRunning, Addrs: []hosts.IfaceAddr{
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrLease, Addr: ip("fd00::7"), Prefix: 64},
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrARP, Addr: ip("192.168.122.7"), Prefix: 0},
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrLease, Addr: ip("192.168.122.7"), Prefix: 24},
			{MAC: "52:54:00:00:00:99", Source: hosts.AddrLease, Addr: ip("192.168.122.10"), Prefix: 24},
			{MAC: "52:54:00:00:00:01", Source: hosts.AddrARP, Addr: ip("10.0.0.5"), Prefix: 0},
			{MAC: "52:54:00:00:00:01", Source: hosts.AddrAgent, Addr: ip("10.0.0.5"), Prefix: 16},
			{MAC: "52:54:00:00:00:01", Source: hosts.AddrARP, Addr: ip("10.0.0.5"), Prefix: 0},
			{MAC: "52:54:00:00:00:77", Source: hosts.AddrAgent, Addr: ip("10.9.9.9"), Prefix: 8}, // no such NIC
		}},
		{UUID: viewtest.UUID(2), State: hosts.StateRunning},
	}))
	s := tv.Read()
	r, _ := s.VMByUUID("a", viewtest.UUID(1))
	nicIdx := map[string]uint32{}
	for _, n := range r.NICs {
		nicIdx[n.MAC] = n.NetworkIndex
	}
	type row struct {
		nic    uint32
		addr   string
		src    mib.AddrSource
		prefix uint32
	}
	var got []row
	ms := mibview.New(tv.View, nil, nil).Snapshot("")
	for k := (mib.AddrKey{}); ; {
		a, ok := ms.NetworkAddress(k)
		if !ok {
			break
		}
		if a.VMID != r.VMID {
			t.Fatalf("address row of vmId %d: %+v", a.VMID, a)
		}
		if a.Key().Compare(k) < 0 {
			t.Fatalf("seek from %v gave %v", k, a.Key())
		}
		got = append(got, row{a.NetworkIndex, a.Addr.String(), a.Source, a.PrefixLength})
		k = a.Key()
		k.Addr = k.Addr.Next() // the smallest key after the row (no row at the family's top here)
	}
	v99, v01 := nicIdx["52:54:00:00:00:99"], nicIdx["52:54:00:00:00:01"]
	want := []row{
		{v99, "192.168.122.7", mib.AddrLease, 24},
		{v99, "192.168.122.10", mib.AddrLease, 24},
		{v99, "fd00::7", mib.AddrLease, 64},
		{v01, "10.0.0.5", mib.AddrAgent, 16},
	}
	slices.SortStableFunc(want, func(a, b row) int { return cmp.Compare(a.nic, b.nic) })
	if !slices.Equal(got, want) {
		t.Fatalf("address rows\ngot  %+v\nwant %+v", got, want)
	}
	// Seeks from between rows, and past the first NIC's last address.
	first, second := got[0].nic, got[len(got)-1].nic
	for _, tc := range []struct {
		from mib.AddrKey
		want row
	}{
		{mib.AddrKey{VMID: r.VMID, Network: v99, Addr: ip("192.168.122.8")}, want[slices.IndexFunc(want, func(w row) bool { return w.addr == "192.168.122.10" })]},
		{mib.AddrKey{VMID: r.VMID, Network: v99, Addr: ip("::")}, want[slices.IndexFunc(want, func(w row) bool { return w.addr == "fd00::7" })]},
		{mib.AddrKey{VMID: r.VMID, Network: first, Addr: ip("ffff::")}, got[slices.IndexFunc(got, func(w row) bool { return w.nic == second })]},
	} {
		a, ok := ms.NetworkAddress(tc.from)
		if g := (row{a.NetworkIndex, a.Addr.String(), a.Source, a.PrefixLength}); !ok || g != tc.want {
			t.Errorf("seek from %v = %+v, %v; want %+v", tc.from, g, ok, tc.want)
		}
	}

	tv.Clock.Add(time.Hour) // the poll is no longer fresh
	if a, ok := mibview.New(tv.View, nil, nil).Snapshot("a").NetworkAddress(mib.AddrKey{}); ok {
		t.Errorf("stale counters still give addresses: %+v", a)
	}
}
