package view

import (
	"cmp"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"
)

// allVMs is the oracle of SeekVM: every VM row of ctx, from a scan of the whole VM
// table (the merged context: per vmId the record Prefer chooses), in vmId order.
func allVMs(s *Snapshot, ctx string) []VMRow {
	it, err := s.txn.Get(tableVM, indexID)
	if err != nil {
		return nil
	}
	byID := map[uint32]*VM{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		vm := raw.(*VM)
		if ctx != "" && vm.Host != ctx {
			continue
		}
		if best := byID[vm.VMID]; best == nil || s.Prefer(vm, best) {
			byID[vm.VMID] = vm
		}
	}
	var out []VMRow
	for _, vm := range byID {
		e := s.hosts[vm.Host]
		out = append(out, VMRow{VM: vm, Stale: e == nil || e.Health.Status != hosts.Up})
	}
	slices.SortFunc(out, func(a, b VMRow) int { return cmp.Compare(a.VMID, b.VMID) })
	return out
}

// allImages is the oracle of SeekImage: the disk images of ctx in index order.
func allImages(s *Snapshot, ctx string) []*DiskImage {
	it, err := s.txn.Get(tableImage, indexID)
	if err != nil {
		return nil
	}
	var out []*DiskImage
	for raw := it.Next(); raw != nil; raw = it.Next() {
		for _, im := range raw.(*hostImages).ims {
			if ctx == "" || im.Host == ctx && s.hosts[ctx] != nil {
				out = append(out, im)
			}
		}
	}
	slices.SortFunc(out, func(a, b *DiskImage) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// openView returns an empty view over a file registry in a temporary directory.
func openView(t *testing.T) *View {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.OpenFile(filepath.Join(t.TempDir(), registry.FileName), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	v, err := New(reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cursorView(t *testing.T) *View {
	t.Helper()
	v := openView(t)
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}, {Name: "c", URI: "test:///c"}})
	for _, h := range []string{"a", "b", "c"} {
		v.Health(h, hosts.Health{Status: hosts.Up, Since: time.Now()})
	}
	return v
}

func cursorDomain(n byte, st hosts.DomainState) hosts.Domain {
	d := hosts.Domain{UUID: hosts.UUID{0xcc, 15: n}, Name: string('a' + rune(n)), ID: -1, State: st}
	if n%4 == 0 {
		d.Disks = []hosts.Disk{{Device: "disk", Type: "file", Target: "vda", Source: "/img/" + d.Name}}
	}
	return d
}

// TestVMCursor: SeekVM answers every seek, in any order, as a scan of the whole table
// does, in the merged context (a UUID on two hosts shown once, by Prefer) and in each
// host's context; so does SeekImage. The merged context's flat index follows changes.
func TestVMCursor(t *testing.T) {
	v := cursorView(t)
	var a, b []hosts.Domain
	for n := byte(0); n < 30; n++ {
		switch n % 3 {
		case 0:
			a = append(a, cursorDomain(n, hosts.StateShutoff))
		case 1:
			b = append(b, cursorDomain(n, hosts.StateRunning))
		default: // on both hosts: running on one of them
			a = append(a, cursorDomain(n, hosts.StateRunning))
			b = append(b, cursorDomain(n, hosts.StateShutoff))
		}
	}
	v.Synced("a", hosts.Inventory{Domains: a})
	v.Synced("b", hosts.Inventory{Domains: b})
	v.Health("b", hosts.Health{Status: hosts.Down, Since: time.Now()})
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(ctx string) {
		t.Helper()
		s := v.Read()
		want := allVMs(s, ctx)
		images := allImages(s, ctx)
		var last uint32
		for i := range 2000 {
			from := last + 1 // mostly a walk, sometimes a jump or a repeat
			switch rng.IntN(5) {
			case 0:
				from = uint32(rng.IntN(40))
			case 1:
				from = last
			}
			got, ok := s.SeekVM(ctx, from)
			j, _ := slices.BinarySearchFunc(want, from, func(r VMRow, k uint32) int { return cmp.Compare(r.VMID, k) })
			wok := j < len(want)
			if ok != wok || (ok && (got.VM != want[j].VM || got.Stale != want[j].Stale)) {
				t.Fatalf("context %q seek %d (#%d): cursor %v %+v, scan %v", ctx, from, i, ok, got, wok)
			}
			im := s.SeekImage(ctx, from%8)
			k, _ := slices.BinarySearchFunc(images, from%8, func(x *DiskImage, k uint32) int { return cmp.Compare(x.Index, k) })
			if (k < len(images)) != (im != nil) || im != nil && im != images[k] {
				t.Fatalf("context %q image seek %d (#%d): cursor %+v", ctx, from%8, i, im)
			}
			last = 0
			if ok {
				last = got.VMID
			}
		}
	}
	for _, ctx := range []string{"", "a", "b", "c", "nosuch"} {
		check(ctx)
	}
	v.DomainUpdated("c", cursorDomain(40, hosts.StateRunning))
	v.DomainRemoved("a", hosts.UUID{0xcc, 15: 3})
	v.DomainUpdated("b", cursorDomain(4, hosts.StatePaused))
	check("")
	v.Health("b", hosts.Health{Status: hosts.Up, Since: time.Now()})
	check("")
	old := v.Read()
	old.vmIndex()
	v.DomainRemoved("b", hosts.UUID{0xcc, 15: 1})
	check("")
	if x := v.Read().vmIndex(); x == old.vidx || len(x.recs) != len(old.vidx.recs)-1 {
		t.Errorf("index after a removal: %d records, was %d", len(x.recs), len(old.vidx.recs))
	}
	checkVMHosts(t, v)
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "c", URI: "test:///c"}})
	checkVMHosts(t, v)
	check("")
}

// checkVMHosts: View.vmHosts lists, per vmId, exactly the hosts with a record of it.
func checkVMHosts(t *testing.T, v *View) {
	t.Helper()
	want := map[uint32][]string{}
	for _, r := range allVMRecords(v.Read()) {
		want[r.VMID] = append(want[r.VMID], r.Host)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, hs := range want {
		slices.Sort(hs)
		if got := v.vmHosts.get(id); !slices.Equal(got, hs) {
			t.Errorf("vmId %d: vmHosts %q, records on %q", id, got, hs)
		}
	}
	if n := v.vmHosts.len(); n != len(want) {
		t.Errorf("vmHosts has %d vmIds, the records %d", n, len(want))
	}
}

// allVMRecords is every host's every VM record.
func allVMRecords(s *Snapshot) []*VM {
	it, err := s.txn.Get(tableVM, indexID)
	if err != nil {
		return nil
	}
	var out []*VM
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*VM))
	}
	return out
}
