package gateway

import (
	"github.com/vmgate/vmgate/gateway/registry"

	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// TestVMCursorMatchesVMs: the MIB view's cursor answers every seek, in any order, as
// Snapshot.VMs does, in the merged context (a UUID on two hosts shown once, by Prefer)
// and in each host's context.
func TestVMCursorMatchesVMs(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.OpenFile(filepath.Join(t.TempDir(), "indexes.json"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	v, err := NewView(reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}, {Name: "c", URI: "test:///c"}})
	for _, h := range []string{"a", "b", "c"} {
		v.Health(h, hosts.Health{Status: hosts.Up, Since: time.Now()})
	}
	dom := func(n byte, st hosts.DomainState) hosts.Domain {
		return hosts.Domain{UUID: hosts.UUID{0xcc, 15: n}, Name: string('a' + rune(n)), ID: -1, State: st}
	}
	var a, b []hosts.Domain
	for n := byte(0); n < 30; n++ {
		switch n % 3 {
		case 0:
			a = append(a, dom(n, hosts.StateShutoff))
		case 1:
			b = append(b, dom(n, hosts.StateRunning))
		default: // on both hosts: running on one of them
			a = append(a, dom(n, hosts.StateRunning))
			b = append(b, dom(n, hosts.StateShutoff))
		}
	}
	v.Synced("a", hosts.Inventory{Domains: a})
	v.Synced("b", hosts.Inventory{Domains: b})
	v.Health("b", hosts.Health{Status: hosts.Down, Since: time.Now()})
	m := NewMIBView(v, reg, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(ctx string) {
		t.Helper()
		ms := m.Snapshot(ctx).(*mibSnap)
		var last uint32
		for i := range 2000 {
			from := last + 1 // mostly a walk, sometimes a jump or a repeat
			switch rng.IntN(5) {
			case 0:
				from = uint32(rng.IntN(40))
			case 1:
				from = last
			}
			got, ok := ms.seekVM(from)
			var want VMRow
			wok := false
			for r := range ms.s.VMs(ctx, from) {
				want, wok = r, true
				break
			}
			if ok != wok || (ok && (got.VM != want.VM || got.Stale != want.Stale)) {
				t.Fatalf("context %q seek %d (#%d): cursor %v %v, VMs %v %v", ctx, from, i, ok, got.VM, wok, want.VM)
			}
			if ok {
				last = got.VMID
			} else {
				last = 0
			}
		}
	}
	for _, ctx := range []string{"", "a", "b", "c", "nosuch"} {
		check(ctx)
	}
	// The merged context's cached index follows changes of the records (a new VM, one
	// gone, a state change) and of the hosts (b up again changes the preferred records).
	v.DomainUpdated("c", dom(40, hosts.StateRunning))
	v.DomainRemoved("a", hosts.UUID{0xcc, 15: 3})
	v.DomainUpdated("b", dom(4, hosts.StatePaused))
	check("")
	v.Health("b", hosts.Health{Status: hosts.Up, Since: time.Now()})
	check("")
	old := m.Snapshot("").(*mibSnap)
	old.vmIndex()
	v.DomainRemoved("b", hosts.UUID{0xcc, 15: 1})
	check("")
	if x := m.Snapshot("").(*mibSnap).vmIndex(); x == old.vidx || len(x.recs) != len(old.vidx.recs)-1 {
		t.Errorf("index after a removal: %d records, was %d", len(x.recs), len(old.vidx.recs))
	}
}

// TestSubRowSeeks: the sub-table seeks (storage, network, HBA, CPU) of the MIB view
// return the first row at or after (vmId, sub), as a scan of every row finds it.
func TestSubRowSeeks(t *testing.T) {
	v, _ := mibFixture(t)
	m := NewMIBView(v, nil, nil)
	type pair struct{ vm, sub uint32 }
	rng := rand.New(rand.NewPCG(7, 8))
	vals := []uint32{0, 1, 2, 3, 4, 5, 6, registry.MaxIndex, ^uint32(0)}
	for _, ctx := range []string{"", "kvm1", "kvm2"} {
		ms := m.Snapshot(ctx).(*mibSnap)
		var all = map[string][]pair{}
		for r := range ms.s.VMs(ctx, 0) {
			for _, d := range r.Disks {
				all["storage"] = append(all["storage"], pair{r.VMID, d.StorageIndex})
			}
			for _, n := range r.NICs {
				all["network"] = append(all["network"], pair{r.VMID, n.NetworkIndex})
			}
			for _, h := range r.HBAs {
				all["hba"] = append(all["hba"], pair{r.VMID, h.HBAIndex})
			}
			for c := range uint32(max(r.Domain.VCPUs, 0)) {
				all["cpu"] = append(all["cpu"], pair{r.VMID, c + 1})
			}
		}
		seek := map[string]func(vm, sub uint32) (pair, bool){
			"storage": func(vm, sub uint32) (pair, bool) { r, ok := ms.Storage(vm, sub); return pair{r.VMID, r.Index}, ok },
			"network": func(vm, sub uint32) (pair, bool) { r, ok := ms.Network(vm, sub); return pair{r.VMID, r.Index}, ok },
			"hba":     func(vm, sub uint32) (pair, bool) { r, ok := ms.HBA(vm, sub); return pair{r.VMID, r.Index}, ok },
			"cpu":     func(vm, sub uint32) (pair, bool) { r, ok := ms.CPU(vm, sub); return pair{r.VMID, r.Index}, ok },
		}
		for name, f := range seek {
			for range 500 {
				vm, sub := vals[rng.IntN(len(vals))], vals[rng.IntN(len(vals))]
				got, ok := f(vm, sub)
				var want pair
				wok := false
				for _, p := range all[name] {
					if p.vm > vm || (p.vm == vm && p.sub >= sub) {
						want, wok = p, true
						break
					}
				}
				if ok != wok || got != want {
					t.Fatalf("context %q %s(%d, %d) = %v %v, want %v %v", ctx, name, vm, sub, got, ok, want, wok)
				}
			}
		}
	}
}

// TestImageCursorMatchesImages: diskImagesTable seeks, in any order, answer as
// Snapshot.Images does.
func TestImageCursorMatchesImages(t *testing.T) {
	v, _ := mibFixture(t)
	m := NewMIBView(v, nil, nil)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, ctx := range []string{"", "kvm1", "kvm2", "nosuch"} {
		ms := m.Snapshot(ctx).(*mibSnap)
		var last uint32
		for i := range 500 {
			from := last + 1
			switch rng.IntN(4) {
			case 0:
				from = uint32(rng.IntN(8))
			case 1:
				from = last
			}
			got := ms.seekImage(from)
			var want *DiskImage
			for im := range ms.s.Images(ctx, from) {
				want = im
				break
			}
			if got != want {
				t.Fatalf("context %q seek %d (#%d): cursor %+v, Images %+v", ctx, from, i, got, want)
			}
			last = 0
			if got != nil {
				last = got.Index
			}
		}
	}
}
