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
