package view_test

import (
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

func TestHostSpecs(t *testing.T) {
	got := view.HostSpecs([]hosts.Config{
		{Name: "a", URI: "qemu:///system"},
		{Name: "b", URI: "test:///x", StatsInterval: 3 * time.Second},
	})
	want := []view.HostSpec{
		{Name: "a", URI: "qemu:///system", StatsInterval: hosts.DefaultStatsInterval},
		{Name: "b", URI: "test:///x", StatsInterval: 3 * time.Second},
	}
	if !slices.Equal(got, want) {
		t.Errorf("HostSpecs = %+v, want %+v", got, want)
	}
}

// released reports whether key of ns is in the registry and released.
func released(t *testing.T, r *registry.File, ns, key string) bool {
	t.Helper()
	rel, ok := r.Released(ns, key)
	if !ok {
		t.Fatalf("registry has no %s key %q", ns, key)
	}
	return rel
}

func TestDeviceIndexesDistinctAndReleased(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	d := viewtest.Domain(1, hosts.StateRunning, "/x", "/y")
	d.Disks[1].Target = d.Disks[0].Target // a duplicate target must not share an index
	d.NICs = append(d.NICs, hosts.NIC{})  // no MAC
	d.Controllers = []hosts.Controller{{Type: "pci", Index: 0}, {Type: "usb", Index: 0}}
	tv.DomainUpdated("a", d)
	tv.DomainUpdated("b", d) // same UUID elsewhere: same sub-indexes
	s := tv.Read()
	ra, _ := s.VMByUUID("a", viewtest.UUID(1))
	rb, _ := s.VMByUUID("b", viewtest.UUID(1))
	seen := map[[2]uint32]bool{}
	for _, dk := range ra.Disks {
		seen[[2]uint32{1, dk.StorageIndex}] = true
	}
	for _, n := range ra.NICs {
		seen[[2]uint32{2, n.NetworkIndex}] = true
	}
	for _, c := range ra.HBAs {
		seen[[2]uint32{3, c.HBAIndex}] = true
	}
	if len(seen) != 6 {
		t.Fatalf("devices share indexes: %+v %+v %+v", ra.Disks, ra.NICs, ra.HBAs)
	}
	if !slices.EqualFunc(ra.Disks, rb.Disks, func(x, y view.Disk) bool { return x.StorageIndex == y.StorageIndex }) {
		t.Errorf("hosts disagree on storage indexes: %+v vs %+v", ra.Disks, rb.Disks)
	}

	// Detach the second disk and the USB controller on a only: b still holds them.
	d2 := d
	d2.Disks = d.Disks[:1]
	d2.Controllers = d.Controllers[:1]
	tv.DomainUpdated("a", d2)
	gone := ra.RegKey(registry.NSStorage, ra.Disks[1].StorageIndex)
	if released(t, tv.Reg, registry.NSStorage, gone) {
		t.Fatalf("storage key %q released while host b still uses it", gone)
	}
	tv.DomainUpdated("b", d2)
	if !released(t, tv.Reg, registry.NSStorage, gone) || !released(t, tv.Reg, registry.NSHBA, ra.RegKey(registry.NSHBA, ra.HBAs[1].HBAIndex)) {
		t.Errorf("keys of detached devices not released")
	}
	if released(t, tv.Reg, registry.NSStorage, ra.RegKey(registry.NSStorage, ra.Disks[0].StorageIndex)) {
		t.Errorf("key of a kept disk released")
	}
	tv.DomainRemoved("a", viewtest.UUID(1))
	tv.DomainRemoved("b", viewtest.UUID(1))
	if !released(t, tv.Reg, registry.NSVM, viewtest.UUID(1).String()) || !released(t, tv.Reg, registry.NSNetwork, ra.RegKey(registry.NSNetwork, ra.NICs[0].NetworkIndex)) {
		t.Errorf("keys of a removed VM not released")
	}
}

func TestActiveSince(t *testing.T) {
	type step struct {
		resync bool // report by Synced instead of DomainUpdated
		state  hosts.DomainState
		id     int32
		known  bool // ActiveSince set afterwards
		keep   bool // ... and unchanged from the previous step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"running at first sight: unknown", []step{{true, hosts.StateRunning, 4, false, false}}},
		{"start event: known and kept while the run goes on", []step{
			{true, hosts.StateShutoff, -1, false, false},
			{false, hosts.StateRunning, 5, true, false},
			{false, hosts.StatePaused, 5, true, true},
			{true, hosts.StateRunning, 5, true, true},
		}},
		{"restart seen only by a resync: unknown", []step{
			{false, hosts.StateShutoff, -1, false, false},
			{false, hosts.StateRunning, 5, true, false},
			{true, hosts.StateRunning, 6, false, false},
		}},
		{"start seen only by a resync: unknown", []step{
			{true, hosts.StateShutoff, -1, false, false},
			{true, hosts.StateRunning, 7, false, false},
		}},
		{"stopped: zero", []step{
			{false, hosts.StateShutoff, -1, false, false},
			{false, hosts.StateRunning, 8, true, false},
			{false, hosts.StateShutoff, -1, false, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tv := viewtest.New(t, "a")
			var prev, prevSeen time.Time
			prevID := int32(-1)
			for i, st := range tc.steps {
				tv.Clock.Add(time.Minute)
				d := viewtest.Domain(1, st.state)
				d.ID = st.id
				if st.resync {
					tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
				} else {
					tv.DomainUpdated("a", d)
				}
				r, _ := tv.Read().VMByUUID("a", d.UUID)
				got := r.ActiveSince()
				if !got.IsZero() != st.known || (st.keep && !got.Equal(prev)) ||
					(st.known && !st.keep && !got.Equal(tv.Clock.Now())) {
					t.Fatalf("step %d: ActiveSince = %v (previous %v, now %v)", i, got, prev, tv.Clock.Now())
				}
				// RunSeen: zero when inactive, kept while the run goes on, else now.
				want := tv.Clock.Now()
				switch active := view.DomainActive(st.state); {
				case !active:
					want = time.Time{}
				case prevID == st.id && !prevSeen.IsZero():
					want = prevSeen
				}
				if !r.RunSeen.Equal(want) {
					t.Fatalf("step %d: RunSeen = %v, want %v", i, r.RunSeen, want)
				}
				prev, prevSeen, prevID = got, r.RunSeen, st.id
			}
		})
	}
}
