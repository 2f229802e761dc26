package view_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
)

func TestSyncedReplacesAllRows(t *testing.T) {
	tv := viewtest.New(t, "a")
	tv.Synced("a", hosts.Inventory{
		Hypervisor: hosts.Hypervisor{Type: "TEST", Hostname: "node-a"},
		Domains:    []hosts.Domain{viewtest.Domain(1, hosts.StateRunning), viewtest.Domain(2, hosts.StateShutoff), viewtest.Domain(3, hosts.StatePaused)},
		Pools:      []hosts.Pool{{Name: "p1", Active: true}, {Name: "p2"}},
		Volumes:    []hosts.Volume{{Pool: "p1", Name: "v1", Path: "/p1/v1"}, {Pool: "p2", Name: "v2", Path: "/p2/v2"}},
	})
	s1 := tv.Read()
	ids1 := viewtest.VMIDs(t, s1, "a")
	if got := viewtest.Names(s1, "a"); !slices.Equal(got, []string{"a/vm1", "a/vm2", "a/vm3"}) {
		t.Fatalf("after first sync: %v", got)
	}
	if e, _ := s1.Host("a"); e.VMs != 3 || e.Hypervisor.Hostname != "node-a" || e.URI != "test:///a" {
		t.Fatalf("host entry: %+v", e)
	}

	tv.Synced("a", hosts.Inventory{
		Domains: []hosts.Domain{viewtest.Domain(3, hosts.StateRunning), viewtest.Domain(4, hosts.StateShutoff), viewtest.Domain(1, hosts.StateRunning)},
		Pools:   []hosts.Pool{{Name: "p2"}},
		Volumes: []hosts.Volume{{Pool: "p2", Name: "v2", Path: "/p2/v2"}},
	})
	s2 := tv.Read()
	if got := viewtest.Names(s2, "a"); !slices.Equal(got, []string{"a/vm1", "a/vm3", "a/vm4"}) {
		t.Fatalf("after resync: %v", got)
	}
	ids2 := viewtest.VMIDs(t, s2, "a")
	for _, n := range []byte{1, 3} {
		if ids1[viewtest.UUID(n)] != ids2[viewtest.UUID(n)] {
			t.Errorf("vm%d changed vmId %d -> %d across resync", n, ids1[viewtest.UUID(n)], ids2[viewtest.UUID(n)])
		}
	}
	if ids2[viewtest.UUID(4)] <= ids1[viewtest.UUID(3)] {
		t.Errorf("new VM got vmId %d, want above every earlier one", ids2[viewtest.UUID(4)])
	}
	var pools []string
	for p := range s2.Pools("a", 0) {
		pools = append(pools, p.Pool.Name)
	}
	if !slices.Equal(pools, []string{"p2"}) {
		t.Errorf("pools after resync: %v", pools)
	}
	var images []string
	for im := range s2.Images("", 0) {
		images = append(images, im.Path)
	}
	if !slices.Equal(images, []string{"/p2/v2"}) {
		t.Errorf("images after resync: %v", images)
	}
	// The old snapshot still sees the old rows: snapshots are immutable.
	if got := viewtest.Names(s1, "a"); len(got) != 3 || got[1] != "a/vm2" {
		t.Errorf("old snapshot changed: %v", got)
	}
}

func TestDomainEvents(t *testing.T) {
	tv := viewtest.New(t, "a")
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateShutoff)}})
	id1, _ := tv.Read().VMByUUID("a", viewtest.UUID(1))

	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning))
	tv.DomainUpdated("a", viewtest.Domain(2, hosts.StateRunning, "/img/two.qcow2"))
	s := tv.Read()
	r1, ok := s.VM("a", id1.VMID)
	if !ok || r1.Domain.State != hosts.StateRunning || r1.FirstSeen != id1.FirstSeen {
		t.Fatalf("updated vm1 = %+v, %v", r1, ok)
	}
	r2, ok := s.VMByUUID("", viewtest.UUID(2))
	if !ok || r2.VMID == id1.VMID {
		t.Fatalf("new vm2 = %+v, %v", r2, ok)
	}
	if e, _ := s.Host("a"); e.VMs != 2 {
		t.Errorf("host VM count = %d, want 2", e.VMs)
	}
	im, ok := s.Image("a", r2.Disks[0].DiskImageIndex)
	if !ok || im.Path != "/img/two.qcow2" || im.Volume != nil || im.Format != "qcow2" {
		t.Errorf("disk image of vm2 = %+v, %v", im, ok)
	}

	tv.DomainRemoved("a", viewtest.UUID(2))
	tv.DomainRemoved("a", viewtest.UUID(9)) // unknown: ignored
	s = tv.Read()
	if got := viewtest.Names(s, ""); !slices.Equal(got, []string{"a/vm1"}) {
		t.Fatalf("after removal: %v", got)
	}
	if _, ok := s.Image("", r2.Disks[0].DiskImageIndex); ok {
		t.Errorf("image of the removed VM is still listed")
	}
}

func TestDownHostStaleThenReconnectReconciles(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning), viewtest.Domain(2, hosts.StateRunning)}})
	tv.Synced("b", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(5, hosts.StateRunning)}})
	tv.Stats("a", hosts.NewStats(tv.Clock.Now(), []hosts.DomainStats{{UUID: viewtest.UUID(1), CPUTimeNs: 7}}))
	before := viewtest.VMIDs(t, tv.Read(), "")

	tv.Health("a", hosts.Health{Status: hosts.Down, LastError: "connection reset"})
	s := tv.Read()
	for r := range s.VMs("", 0) {
		if want := r.Host == "a"; r.Stale != want {
			t.Errorf("%s/%s stale = %v, want %v", r.Host, r.Domain.Name, r.Stale, want)
		}
	}
	if got := len(viewtest.Names(s, "a")); got != 2 {
		t.Errorf("down host shows %d VMs, want its 2 last known", got)
	}
	r1, _ := s.VMByUUID("", viewtest.UUID(1))
	st, fresh := s.Stats(r1.Host)
	if ds, ok := st.Domain(r1.Domain.UUID); !ok || fresh || ds.CPUTimeNs != 7 {
		t.Errorf("counters of a down host: fresh=%v ok=%v %+v, want last values, not fresh", fresh, ok, ds)
	}
	if _, fresh := s.DomainStats(r1); fresh {
		t.Error("a down host's VM row has current counters")
	}
	if h, _ := s.HostHealth("a"); h.Status != hosts.Down || h.LastError != "connection reset" {
		t.Errorf("health = %+v", h)
	}

	// Back up: vm2 was deleted meanwhile, vm3 created.
	tv.Health("a", hosts.Health{Status: hosts.Up})
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning), viewtest.Domain(3, hosts.StateShutoff)}})
	s = tv.Read()
	if got := viewtest.Names(s, ""); !slices.Equal(got, []string{"a/vm1", "b/vm5", "a/vm3"}) {
		t.Fatalf("after reconnect: %v", got)
	}
	after := viewtest.VMIDs(t, s, "")
	if after[viewtest.UUID(1)] != before[viewtest.UUID(1)] || after[viewtest.UUID(5)] != before[viewtest.UUID(5)] {
		t.Errorf("vmIds changed across reconnect: %v -> %v", before, after)
	}
	for r := range s.VMs("", 0) {
		if r.Stale {
			t.Errorf("%s still stale after resync", r.Domain.Name)
		}
	}
}

func TestStatsFreshness(t *testing.T) {
	tv := viewtest.New(t, "a")
	tv.SetHosts([]view.HostSpec{{Name: "a", StatsInterval: 5 * time.Second}})
	if st, fresh := tv.Read().Stats("a"); st != nil || fresh {
		t.Fatalf("no stats yet: %v %v", st, fresh)
	}
	tv.Stats("a", &hosts.Stats{At: tv.Clock.Now()})
	tests := []struct {
		name    string
		advance time.Duration
		health  hosts.Status
		fresh   bool
	}{
		{"just polled", 0, hosts.Up, true},
		{"within 3 intervals", 14 * time.Second, hosts.Up, true},
		{"older than 3 intervals", 2 * time.Second, hosts.Up, false},
		{"host down", -10 * time.Second, hosts.Down, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tv.Clock.Add(tc.advance)
			tv.Health("a", hosts.Health{Status: tc.health})
			if st, fresh := tv.Read().Stats("a"); st == nil || fresh != tc.fresh {
				t.Errorf("fresh = %v, want %v", fresh, tc.fresh)
			}
		})
	}
}

func TestDuplicateUUIDMergedRule(t *testing.T) {
	tests := []struct {
		name       string
		first      string // host that reports the UUID first
		a, b       hosts.DomainState
		downA      bool
		wantMerged string
	}{
		{"migration: running on b wins over paused-out a", "a", hosts.StateShutoff, hosts.StateRunning, false, "b"},
		{"active on a wins", "b", hosts.StateRunning, hosts.StateShutoff, false, "a"},
		{"both active: first reporter", "b", hosts.StateRunning, hosts.StatePaused, false, "b"},
		{"neither active: first reporter", "b", hosts.StateShutoff, hosts.StateShutoff, false, "b"},
		{"down host counts as not active", "a", hosts.StateRunning, hosts.StateShutoff, true, "a"},
		{"running on down a loses to running on b", "a", hosts.StateRunning, hosts.StateRunning, true, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tv := viewtest.New(t, "a", "b")
			da, db := viewtest.Domain(1, tc.a), viewtest.Domain(1, tc.b)
			da.Name, db.Name = "on-a", "on-b"
			if tc.first == "a" {
				tv.DomainUpdated("a", da)
				tv.DomainUpdated("b", db)
			} else {
				tv.DomainUpdated("b", db)
				tv.DomainUpdated("a", da)
			}
			tv.DomainUpdated("a", viewtest.Domain(2, hosts.StateRunning)) // an unrelated VM
			if tc.downA {
				tv.Health("a", hosts.Health{Status: hosts.Down})
			}
			s := tv.Read()
			merged := viewtest.Names(s, "")
			if len(merged) != 2 || merged[0] != tc.wantMerged+"/on-"+tc.wantMerged {
				t.Errorf("merged = %v, want the record of %s first and once", merged, tc.wantMerged)
			}
			ra, _ := s.VMByUUID("a", viewtest.UUID(1))
			rb, _ := s.VMByUUID("b", viewtest.UUID(1))
			if ra.Domain.Name != "on-a" || rb.Domain.Name != "on-b" || ra.VMID != rb.VMID {
				t.Errorf("host contexts: a=%q/%d b=%q/%d, want own records with one vmId",
					ra.Domain.Name, ra.VMID, rb.Domain.Name, rb.VMID)
			}
			if n := strings.Count(tv.Logs.String(), "same VM UUID on several hosts"); n != 1 {
				t.Errorf("duplicate warned %d times, want once", n)
			}
		})
	}
}

func TestDuplicateWarnedOncePerDuplicate(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	for range 3 {
		tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning))
		tv.DomainUpdated("b", viewtest.Domain(1, hosts.StateShutoff))
	}
	tv.DomainRemoved("a", viewtest.UUID(1)) // migration done
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning))
	if n := strings.Count(tv.Logs.String(), "same VM UUID on several hosts"); n != 2 {
		t.Errorf("warned %d times, want 2 (one per time the duplicate arose)", n)
	}
}

func TestIndexesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "indexes.json")
	inv := hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(3, hosts.StateRunning, "/i/3a", "/i/3b"),
		viewtest.Domain(1, hosts.StateShutoff, "/i/1")}}
	tv := viewtest.Reopen(t, path, "a")
	tv.Synced("a", inv)
	want := tv.Read()
	if err := tv.Reg.Close(); err != nil {
		t.Fatalf("close registry: %v", err)
	}

	tv2 := viewtest.Reopen(t, path, "a")
	tv2.Synced("a", hosts.Inventory{Domains: []hosts.Domain{inv.Domains[1], inv.Domains[0]}})
	got := tv2.Read()
	for r := range want.VMs("", 0) {
		g, ok := got.VMByUUID("", r.Domain.UUID)
		if !ok || g.VMID != r.VMID || g.OSIndex != r.OSIndex {
			t.Fatalf("%s: ids %d/%d after restart, want %d/%d", r.Domain.Name, g.VMID, g.OSIndex, r.VMID, r.OSIndex)
		}
		for i := range r.Disks {
			if g.Disks[i].StorageIndex != r.Disks[i].StorageIndex || g.Disks[i].DiskImageIndex != r.Disks[i].DiskImageIndex {
				t.Errorf("%s disk %d: %+v, want %+v", r.Domain.Name, i, g.Disks[i], r.Disks[i])
			}
		}
		if g.NICs[0].NetworkIndex != r.NICs[0].NetworkIndex {
			t.Errorf("%s NIC index changed", r.Domain.Name)
		}
	}
	hw, _ := want.Host("a")
	hg, _ := got.Host("a")
	if hw.Index != hg.Index {
		t.Errorf("hypervisor index %d -> %d", hw.Index, hg.Index)
	}
}

func TestVMIDNotReusedAfterDeletion(t *testing.T) {
	tv := viewtest.New(t, "a")
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning, "/d1"))
	old, _ := tv.Read().VMByUUID("", viewtest.UUID(1))
	tv.DomainRemoved("a", viewtest.UUID(1))
	tv.DomainUpdated("a", viewtest.Domain(2, hosts.StateRunning, "/d2"))
	n, _ := tv.Read().VMByUUID("", viewtest.UUID(2))
	if n.VMID == old.VMID || n.Disks[0].StorageIndex == old.Disks[0].StorageIndex ||
		n.NICs[0].NetworkIndex == old.NICs[0].NetworkIndex {
		t.Fatalf("indexes of a deleted VM reused: old %+v new %+v", old.VM, n.VM)
	}
	// Back within the grace period (e.g. undefined and defined again): same ids.
	tv.Clock.Add(time.Minute)
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning, "/d1"))
	back, _ := tv.Read().VMByUUID("", viewtest.UUID(1))
	if back.VMID != old.VMID || back.Disks[0].StorageIndex != old.Disks[0].StorageIndex {
		t.Fatalf("VM back within grace got vmId %d, want %d", back.VMID, old.VMID)
	}
	// After the grace period: a fresh id.
	tv.DomainRemoved("a", viewtest.UUID(1))
	tv.Clock.Add(2 * time.Hour)
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning, "/d1"))
	late, _ := tv.Read().VMByUUID("", viewtest.UUID(1))
	if late.VMID == old.VMID || late.VMID <= n.VMID {
		t.Fatalf("VM back after grace got vmId %d, want a fresh one above %d", late.VMID, n.VMID)
	}
}

// TestImagesFirstIndexesByPath: volumes no VM uses, first seen in one sync, get their
// diskImageIndex in path order, the same on every run (they used to get it in map order).
func TestImagesFirstIndexesByPath(t *testing.T) {
	paths := []string{"/p/a.img", "/p/b.img", "/p/c.img", "/p/d.img", "/p/e.img", "/p/f.img", "/p/g.img", "/p/h.img"}
	for run := 0; run < 5; run++ {
		tv := viewtest.New(t, "a")
		var vols []hosts.Volume
		for _, p := range slices.Backward(paths) {
			vols = append(vols, hosts.Volume{Pool: "p", Name: filepath.Base(p), Path: p})
		}
		tv.Synced("a", hosts.Inventory{Pools: []hosts.Pool{{Name: "p", Active: true}}, Volumes: vols})
		var got []string
		for im := range tv.Read().Images("a", 0) {
			got = append(got, fmt.Sprintf("%d %s", im.Index, im.Path))
		}
		var want []string
		for i, p := range paths {
			want = append(want, fmt.Sprintf("%d %s", i+1, p))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: images %q, want %q", run, got, want)
		}
	}
}

// TestViewChanges: OnChange hears of a VM whose state an event changed (or that an
// event made appear), not of an update in the same state nor of a resync; and of a
// host's connection going up or down, once per transition.
func TestViewChanges(t *testing.T) {
	tv := viewtest.New(t)
	var got []view.Change
	tv.OnChange(func(c view.Change) { got = append(got, c) })
	tv.SetHosts([]view.HostSpec{{Name: "a", URI: "test:///a"}})
	tv.Health("a", hosts.Health{Status: hosts.Connecting})
	tv.Health("a", hosts.Health{Status: hosts.Up})
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateShutoff)}})
	id1, _ := tv.Read().VMByUUID("a", viewtest.UUID(1))
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateShutoff))
	tv.DomainUpdated("a", viewtest.Domain(1, hosts.StateRunning))
	tv.DomainUpdated("a", viewtest.Domain(2, hosts.StateShutoff))
	id2, _ := tv.Read().VMByUUID("a", viewtest.UUID(2))
	tv.Health("a", hosts.Health{Status: hosts.Down, LastError: "one"})
	tv.Health("a", hosts.Health{Status: hosts.Down, LastError: "two"})
	tv.Health("a", hosts.Health{Status: hosts.Up})
	want := []view.Change{{Host: "a"}, {Host: "a", VMID: id1.VMID}, {Host: "a", VMID: id2.VMID}, {Host: "a"}, {Host: "a"}}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

// TestStorageSyncedKeepsDevices: a record keeps its devices by index (its Domain has
// no field for them), and a storage round that writes it again from them gives every
// device the same index, duplicate keys (numbered by their place in the XML) included.
func TestStorageSyncedKeepsDevices(t *testing.T) {
	tv := viewtest.New(t, "a")
	d := viewtest.Domain(1, hosts.StateRunning, "/i/b", "/i/a", "/i/c")
	d.Disks[0].Target, d.Disks[1].Target, d.Disks[2].Target = "vdb", "vda", "vda"
	d.NICs = []hosts.NIC{{MAC: "52:54:00:00:00:02"}, {MAC: "52:54:00:00:00:01"}}
	d.Controllers = []hosts.Controller{{Type: "usb"}, {Type: "pci"}}
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	indexes := func() []string {
		vm := viewtest.FindVM(t, tv.Read(), "vm1", func(view.VMRow) bool { return true })
		var out []string
		for _, dk := range vm.Disks {
			out = append(out, fmt.Sprintf("disk %s %s %d", dk.Target, vm.RegKey(registry.NSStorage, dk.StorageIndex), dk.StorageIndex))
		}
		for _, n := range vm.NICs {
			out = append(out, fmt.Sprintf("nic %s %d", n.MAC, n.NetworkIndex))
		}
		for _, c := range vm.HBAs {
			out = append(out, fmt.Sprintf("hba %s %d", c.Type, c.HBAIndex))
		}
		return out
	}
	before := indexes()
	if len(before) != 7 {
		t.Fatalf("devices: %v", before)
	}
	tv.StorageSynced("a", []hosts.Pool{{Name: "p"}}, nil)
	if after := indexes(); !slices.Equal(after, before) {
		t.Errorf("after a storage round:\n%v\nwant\n%v", after, before)
	}
}

// TestStatsReplacedAreFreed: once a host's counters are swapped, the view keeps nothing
// of the old snapshot, reads in between or not (the read cache held the previous
// snapshot of every host until the next read: a second copy of the fleet's counters).
func TestStatsReplacedAreFreed(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	w := func() weak.Pointer[hosts.Stats] { // nothing of the test's keeps old
		old := hosts.NewStats(tv.Clock.Now(), []hosts.DomainStats{{UUID: hosts.UUID{1}, CPUTimeNs: 1}})
		tv.Stats("a", old)
		tv.Stats("b", &hosts.Stats{At: tv.Clock.Now()})
		if st, _ := tv.Read().Stats("a"); st != old {
			t.Fatalf("read %p, want %p", st, old)
		}
		return weak.Make(old)
	}()
	tv.Stats("a", &hosts.Stats{At: tv.Clock.Now()})
	runtime.GC()
	if w.Value() != nil {
		t.Fatal("the replaced counter snapshot is still reachable")
	}
	if st, _ := tv.Read().Stats("a"); st == nil || len(st.Domains()) != 0 {
		t.Fatalf("after the swap: %+v", st)
	}
}

// TestReplacedRecordsAreFreed: once a VM's record and its disk image are replaced, the
// view keeps neither, though no read came since the walk that cached the merged
// context's summaries (they held every record replaced after them: a second
// generation of the records once the sizes left by a resync were written).
func TestReplacedRecordsAreFreed(t *testing.T) {
	d := viewtest.Domain(1, hosts.StateRunning, "/img/one.qcow2")
	sized := d
	sized.Disks = slices.Clone(d.Disks)
	sized.Disks[0].Capacity, sized.Disks[0].Allocation = 10<<30, 1<<30
	for _, tc := range []struct {
		name    string
		replace func(*viewtest.View)
	}{
		{"sizes patch", func(tv *viewtest.View) { tv.DomainsPatched("a", []hosts.Domain{sized}, hosts.FieldSizes) }},
		{"domain update", func(tv *viewtest.View) { tv.DomainUpdated("a", sized) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tv := viewtest.New(t, "a")
			tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
			vm, im := func() (weak.Pointer[view.VM], weak.Pointer[view.DiskImage]) { // a walk
				s := tv.Read()
				r, ok := s.VM("", 1)
				img, ok2 := s.Image("", 1)
				if !ok || !ok2 {
					t.Fatalf("before: VM %v, image %v", ok, ok2)
				}
				return weak.Make(r.VM), weak.Make(img)
			}()
			tc.replace(tv)
			runtime.GC()
			if vm.Value() != nil || im.Value() != nil {
				t.Errorf("still reachable: the replaced record %v, the replaced image %v", vm.Value() != nil, im.Value() != nil)
			}
			if img, ok := tv.Read().Image("", 1); !ok || img.Capacity != 10<<30 {
				t.Errorf("the image after: %+v", img)
			}
		})
	}
}
