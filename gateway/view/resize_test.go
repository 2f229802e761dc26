package view

import (
	"sync/atomic"
	"testing"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"
)

// countingRegistry counts the indexes asked of it.
type countingRegistry struct {
	registry.Store
	n atomic.Int64
}

func (r *countingRegistry) Index(ns, key string) uint32 {
	r.n.Add(1)
	return r.Store.Index(ns, key)
}

// TestSizesPatchWritesOnlySizes: a sizes patch (the sizes a resync left, read after the
// first view) writes a copy of the record with its disks' sizes and shares the rest
// with the old record: no index is asked of the registry, the domain, NICs and
// controllers are the old record's. The images the disks feed take the sizes by the
// rule of a whole recompute (the first disk in vmId order with a capacity), which then
// finds nothing to change.
func TestSizesPatchWritesOnlySizes(t *testing.T) {
	v := openView(t)
	reg := &countingRegistry{Store: v.reg}
	v.reg = reg
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}})
	disk := func(target, src string, size uint64) hosts.Disk {
		return hosts.Disk{Device: "disk", Type: "file", Target: target, Source: src, Capacity: size, Allocation: size / 2}
	}
	d1, d2 := cursorDomain(1, hosts.StateRunning), cursorDomain(2, hosts.StateRunning)
	d1.Disks = []hosts.Disk{disk("vda", "/img/one", 0), disk("vdb", "/img/shared", 0)}
	d1.NICs = []hosts.NIC{{MAC: "52:54:00:00:00:01", Type: "network", Source: "default"}}
	d1.Controllers = []hosts.Controller{{Type: "scsi", Model: "virtio-scsi"}}
	d2.Disks = []hosts.Disk{disk("vda", "/img/shared", 0)}
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d1, d2}})
	before, _ := v.Read().VMByUUID("a", d1.UUID)
	sized := func(d hosts.Domain, disks ...hosts.Disk) hosts.Domain {
		return hosts.Domain{UUID: d.UUID, Disks: disks}
	}
	image := func(path string) *DiskImage {
		t.Helper()
		for im := range v.Read().Images("a", 1) {
			if im.Path == path {
				return im
			}
		}
		t.Fatalf("no image %s", path)
		return nil
	}

	for _, tc := range []struct {
		name      string
		patch     []hosts.Domain
		vda, vdb  uint64 // d1's disks' capacities after the patch
		shared    uint64 // /img/shared's capacity and the disk it comes from
		sharedBy  hosts.UUID
		sharedTgt string
	}{
		// d1's vdb (vmId order first) has no capacity yet: d2's disk gives the image's.
		{"d2 first", []hosts.Domain{sized(d1, disk("vda", "/img/one", 10)), sized(d2, disk("vda", "/img/shared", 20), disk("vdb", "/img/gone", 5))},
			10, 0, 20, d2.UUID, "vda"},
		{"then d1", []hosts.Domain{sized(d1, disk("vdb", "/img/shared", 30))}, 10, 30, 30, d1.UUID, "vdb"},
		{"a replaced source keeps its sizes", []hosts.Domain{sized(d1, disk("vdb", "/img/other", 40))}, 10, 30, 30, d1.UUID, "vdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := reg.n.Load()
			v.DomainsPatched("a", tc.patch, hosts.FieldSizes)
			if n := reg.n.Load() - asked; n != 0 {
				t.Errorf("%d indexes asked of the registry", n)
			}
			r, _ := v.Read().VMByUUID("a", d1.UUID)
			if len(r.Disks) != 2 || r.Disks[0].Capacity != tc.vda || r.Disks[1].Capacity != tc.vdb || r.Disks[1].Allocation != tc.vdb/2 {
				t.Errorf("d1's disks %+v, want capacities %d, %d", r.Disks, tc.vda, tc.vdb)
			}
			for i := range r.Disks {
				if r.Disks[i].StorageIndex != before.Disks[i].StorageIndex || r.Disks[i].DiskImageIndex != before.Disks[i].DiskImageIndex {
					t.Errorf("disk %d's indexes changed: %+v, before %+v", i, r.Disks[i], before.Disks[i])
				}
			}
			if &r.NICs[0] != &before.NICs[0] || &r.HBAs[0] != &before.HBAs[0] || r.Domain.DomainExtra != before.Domain.DomainExtra ||
				r.Domain.DomainKind != before.Domain.DomainKind || r.FirstSeen != before.FirstSeen {
				t.Error("the patch rewrote more of the record than its disks")
			}
			if im := image("/img/shared"); im.Capacity != tc.shared || im.SizeFrom != (DiskRef{UUID: tc.sharedBy, Target: tc.sharedTgt}) {
				t.Errorf("/img/shared: %+v, want %d from %v %s", im, tc.shared, tc.sharedBy, tc.sharedTgt)
			}
			if im := image("/img/one"); im.Capacity != 10 || im.Allocation != 5 {
				t.Errorf("/img/one: %+v", im)
			}
			// A whole recompute (after another domain's update) keeps every image row.
			var ims []*DiskImage
			for im := range v.Read().Images("a", 1) {
				ims = append(ims, im)
			}
			v.DomainUpdated("a", cursorDomain(3, hosts.StateShutoff))
			v.DomainRemoved("a", cursorDomain(3, hosts.StateShutoff).UUID)
			i := 0
			for im := range v.Read().Images("a", 1) {
				if i >= len(ims) || im != ims[i] {
					t.Errorf("a whole recompute changed image %+v", im)
				}
				i++
			}
		})
	}
}
