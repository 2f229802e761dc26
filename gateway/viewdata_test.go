package gateway

import (
	"testing"

	"github.com/vmgate/vmgate/hosts"
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
