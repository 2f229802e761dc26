package view

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"
)

// downRegistry is a registry that, while down, allocates nothing new: what registry.Etcd
// answers without quorum (known keys keep their numbers).
type downRegistry struct {
	registry.Store
	down atomic.Bool
}

func (r *downRegistry) Index(ns, key string) uint32 {
	if _, known := r.Lookup(ns, key); known || !r.down.Load() {
		return r.Store.Index(ns, key)
	}
	return 0
}

// TestPendingUntilIndexed: while the registry cannot allocate, a domain seen for the
// first time is left out (no provisional number), and so is a new disk of a known one,
// which keeps its old record; the rest of the same resync is applied. Once the registry
// allocates again, the next counter poll writes them: the view catches up by itself.
func TestPendingUntilIndexed(t *testing.T) {
	v := openView(t)
	reg := &downRegistry{Store: v.reg}
	v.reg = reg
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}})
	v.Health("a", hosts.Health{Status: hosts.Up, Since: time.Now()})
	known := cursorDomain(1, hosts.StateRunning)
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{known}})
	before, ok := v.Read().VMByUUID("a", known.UUID)
	if !ok {
		t.Fatal("known domain not shown")
	}

	reg.down.Store(true)
	renamed := known
	renamed.Name = "renamed"
	grown := cursorDomain(2, hosts.StateShutoff)
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{renamed, cursorDomain(3, hosts.StateRunning)}})
	s := v.Read()
	if r, ok := s.VMByUUID("a", known.UUID); !ok || r.Domain.Name != "renamed" || r.VMID != before.VMID {
		t.Errorf("known domain during the outage: %+v %v, want renamed with vmId %d", r.VM, ok, before.VMID)
	}
	if _, ok := s.VMByUUID("a", cursorDomain(3, 0).UUID); ok {
		t.Error("a domain first seen during the outage is shown")
	}
	grown.Disks = append(grown.Disks, hosts.Disk{Device: "disk", Type: "file", Target: "vdb", Source: "/img/new"})
	var changes []Change
	v.OnChange(func(c Change) { changes = append(changes, c) })
	v.DomainUpdated("a", grown)
	if len(changes) != 0 {
		t.Errorf("a domain left out was notified: %v", changes)
	}
	if _, ok := v.Read().VMByUUID("a", grown.UUID); ok {
		t.Error("a new domain with a new disk is shown during the outage")
	}
	v.Stats("a", &hosts.Stats{At: time.Now()}) // a poll during the outage changes nothing
	if got := len(slices.Collect(v.Read().VMs("a", 0))); got != 1 {
		t.Errorf("%d VMs shown during the outage, want 1", got)
	}

	reg.down.Store(false)
	v.Stats("a", &hosts.Stats{At: time.Now()})
	if len(changes) != 2 {
		t.Errorf("notified %v once written, want the two new domains", changes)
	}
	s = v.Read()
	for _, d := range []hosts.Domain{renamed, cursorDomain(3, 0), grown} {
		r, ok := s.VMByUUID("a", d.UUID)
		if !ok || r.VMID == 0 {
			t.Errorf("%s not shown after the registry came back", d.Name)
			continue
		}
		for _, dk := range r.Disks {
			if dk.StorageIndex == 0 {
				t.Errorf("%s: disk %s without storageIndex", d.Name, dk.Target)
			}
		}
	}
	v.pendMu.Lock()
	n := len(v.pending)
	v.pendMu.Unlock()
	if n != 0 {
		t.Errorf("%d hosts still have pending domains", n)
	}
}

// TestSetHostsWhileRegistryDown: a reload that adds a host the registry cannot number
// still removes the hosts no longer configured, with their rows.
func TestSetHostsWhileRegistryDown(t *testing.T) {
	v := openView(t)
	reg := &downRegistry{Store: v.reg}
	v.reg = reg
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}})
	v.Synced("b", hosts.Inventory{Domains: []hosts.Domain{cursorDomain(1, hosts.StateRunning)}})
	reg.down.Store(true)
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "c", URI: "test:///c"}})
	s := v.Read()
	if _, ok := s.Host("b"); ok {
		t.Error("removed host b still shown")
	}
	if n := len(slices.Collect(s.VMs("", 0))); n != 0 {
		t.Errorf("%d VMs of the removed host still shown", n)
	}
	if _, ok := s.Host("a"); !ok {
		t.Error("host a lost")
	}
	reg.down.Store(false)
	v.Health("c", hosts.Health{Status: hosts.Up, Since: time.Now()})
	if e, ok := v.Read().Host("c"); !ok || e.Index == 0 {
		t.Errorf("host c after the registry came back: %+v %v", e, ok)
	}
}

// TestPatchOfPendingDomain: a patch of a domain whose newer record waits for its
// indexes (a new disk during an outage) is refused, so the supervisor reports the
// whole domain and the waiting disk is written once the registry allocates again.
func TestPatchOfPendingDomain(t *testing.T) {
	v := openView(t)
	reg := &downRegistry{Store: v.reg}
	v.reg = reg
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}})
	d := cursorDomain(1, hosts.StateRunning)
	d.ID = 5
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	reg.down.Store(true)
	grown := d
	grown.Disks = []hosts.Disk{{Device: "disk", Type: "file", Target: "vdb", Source: "/img/new"}}
	v.DomainUpdated("a", grown)
	if !v.DomainPatched("a", hosts.Domain{UUID: d.UUID, State: hosts.StatePaused, ID: 5}, hosts.FieldState) {
		grown.State = hosts.StatePaused
		v.DomainUpdated("a", grown) // what the supervisor does when the patch is refused
	}
	reg.down.Store(false)
	v.Stats("a", &hosts.Stats{At: time.Now()})
	r, ok := v.Read().VMByUUID("a", d.UUID)
	if !ok || len(r.Disks) != 1 || r.Disks[0].Target != "vdb" || r.Domain.State != hosts.StatePaused {
		t.Errorf("after the outage: %+v %v, want paused with disk vdb", r.VM, ok)
	}
}

// TestSizesPatchOfPendingDomain: sizes read after the resync (DomainsPatched) reach a
// record that waits for its indexes, and are written with it; the other domains take
// them at once, and a domain the view does not know is left out.
func TestSizesPatchOfPendingDomain(t *testing.T) {
	v := openView(t)
	reg := &downRegistry{Store: v.reg}
	v.reg = reg
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}})
	disk := hosts.Disk{Device: "disk", Type: "file", Target: "vda", Source: "/img/a"}
	d1, d2 := cursorDomain(1, hosts.StateRunning), cursorDomain(2, hosts.StateRunning)
	d1.Disks, d2.Disks = []hosts.Disk{disk}, []hosts.Disk{disk}
	d2.Disks[0].Source = "/img/b"
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d1, d2}})
	reg.down.Store(true)
	grown := d2
	grown.Disks = append(grown.Disks, hosts.Disk{Device: "disk", Type: "file", Target: "vdb", Source: "/img/new"})
	v.DomainUpdated("a", grown) // waits for the new disk's index
	sized := func(d hosts.Domain, n uint64) hosts.Domain {
		d.Disks = append([]hosts.Disk(nil), d.Disks...)
		for i := range d.Disks {
			d.Disks[i].Capacity, d.Disks[i].Allocation = n, n/2
		}
		return d
	}
	v.DomainsPatched("a", []hosts.Domain{sized(d1, 1<<20), sized(grown, 2<<20), sized(cursorDomain(3, hosts.StateRunning), 1)}, hosts.FieldSizes)
	if r, ok := v.Read().VMByUUID("a", d1.UUID); !ok || len(r.Disks) != 1 || r.Disks[0].Capacity != 1<<20 || r.Disks[0].Allocation != 1<<19 {
		t.Errorf("domain 1 after the patch: %+v %v", r.VM, ok)
	}
	reg.down.Store(false)
	v.Stats("a", &hosts.Stats{At: time.Now()})
	r, ok := v.Read().VMByUUID("a", d2.UUID)
	if !ok || len(r.Disks) != 2 || r.Disks[0].Capacity != 2<<20 || r.Disks[1].Capacity != 2<<20 {
		t.Errorf("domain 2 after the outage: %+v %v, want both disks sized", r.VM, ok)
	}
	if _, ok := v.Read().VMByUUID("a", cursorDomain(3, hosts.StateRunning).UUID); ok {
		t.Error("a patch made a domain the view did not know")
	}
}
