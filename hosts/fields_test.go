package hosts

import "testing"

// Apply writes only the named fields; a state read keeps the ID unless it gives one or
// finds the domain shut off, and does not make an inactive record active without an ID.
func TestFieldsApply(t *testing.T) {
	rec := Domain{UUID: UUID{1}, Name: "a", ID: 5, State: StateRunning, Persistent: true, Autostart: true,
		MemoryKiB: 2048, CurrentMemoryKiB: 1024, VCPUs: 1, GuestOS: GuestOS{ID: "debian"},
		Disks: []Disk{{Target: "vda", Source: "/a.img"}}}
	for _, tc := range []struct {
		name string
		f    Fields
		src  Domain
		ok   bool
		want func(Domain) bool
	}{
		{"pause", FieldState, Domain{State: StatePaused, Reason: 1, ID: -1}, true,
			func(d Domain) bool {
				return d.State == StatePaused && d.Reason == 1 && d.ID == 5 && d.GuestOS.ID == "debian"
			}},
		{"destroy", FieldState, Domain{State: StateShutoff, Reason: 2, ID: -1}, true,
			func(d Domain) bool {
				return d.State == StateShutoff && d.ID == -1 && d.GuestOS == GuestOS{} && d.Name == "a"
			}},
		{"memory", FieldMemory, Domain{MemoryKiB: 4096, CurrentMemoryKiB: 3072}, true,
			func(d Domain) bool {
				return d.MemoryKiB == 4096 && d.CurrentMemoryKiB == 3072 && d.State == StateRunning
			}},
		{"autostart", FieldAutostart, Domain{}, true, func(d Domain) bool { return !d.Autostart && d.Persistent }},
		{"xml", FieldXML, Domain{Name: "b", ID: -1, VCPUs: 2, Disks: []Disk{{Target: "vdb"}}}, true,
			func(d Domain) bool {
				return d.Name == "b" && d.VCPUs == 2 && len(d.Disks) == 1 && d.Disks[0].Target == "vdb" &&
					d.ID == 5 && d.State == StateRunning && d.Persistent && d.Autostart && d.GuestOS.ID == "debian" && d.UUID == UUID{1}
			}},
	} {
		d := rec
		d.Disks = append([]Disk(nil), rec.Disks...)
		if ok := tc.f.Apply(&d, &tc.src); ok != tc.ok || !tc.want(d) {
			t.Errorf("%s: Apply = %v, record %+v", tc.name, ok, d)
		}
	}
	off := Domain{UUID: UUID{1}, ID: -1, State: StateShutoff}
	if FieldState.Apply(&off, &Domain{State: StateRunning, ID: -1}) || off.State != StateShutoff {
		t.Errorf("a start without the ID applied: %+v", off)
	}
	if !FieldState.Apply(&off, &Domain{State: StateRunning, ID: 9}) || off.ID != 9 || off.State != StateRunning {
		t.Errorf("a start with the ID: %+v", off)
	}
	// Started with ID 9, then destroyed and started again by another client (ID 10)
	// before the patch: the patch must not bring back 9.
	restarted := Domain{UUID: UUID{1}, ID: 10, State: StateRunning}
	if FieldState.Apply(&restarted, &Domain{State: StateRunning, ID: 9}) || restarted.ID != 10 {
		t.Errorf("a patch with an older ID applied: %+v", restarted)
	}
}

// Sizes go to the disk of the same target and source only, on a copy of the disks.
func TestFieldSizesApply(t *testing.T) {
	shared := []Disk{{Target: "vda", Source: "/a.img"}, {Target: "vdb", Source: "/b.img"}}
	d := Domain{UUID: UUID{1}, State: StateRunning, ID: 3, Disks: shared}
	src := Domain{Disks: []Disk{{Target: "vda", Source: "/a.img", Capacity: 10, Allocation: 4},
		{Target: "vdb", Source: "/replaced.img", Capacity: 20, Allocation: 5}}}
	if !FieldSizes.Apply(&d, &src) {
		t.Fatal("Apply refused")
	}
	if got := d.Disks; got[0].Capacity != 10 || got[0].Allocation != 4 || got[1].Capacity != 0 || d.State != StateRunning || d.ID != 3 {
		t.Errorf("record %+v", d)
	}
	if shared[0].Capacity != 0 {
		t.Errorf("the record's disks were written in place: %+v", shared)
	}
}
