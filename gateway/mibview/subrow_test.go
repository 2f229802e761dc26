package mibview_test

import (
	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/registry"

	"math/rand/v2"
	"testing"
)

// TestSubRowSeeks: the sub-table seeks (storage, network, HBA, CPU) of the MIB view
// return the first row at or after (vmId, sub), as a scan of every row finds it.
func TestSubRowSeeks(t *testing.T) {
	v, _ := mibFixture(t)
	m := mibview.New(v, nil, nil)
	type pair struct{ vm, sub uint32 }
	rng := rand.New(rand.NewPCG(7, 8))
	vals := []uint32{0, 1, 2, 3, 4, 5, 6, registry.MaxIndex, ^uint32(0)}
	for _, ctx := range []string{"", "kvm1", "kvm2"} {
		ms := m.Snapshot(ctx)
		var all = map[string][]pair{}
		for r := range v.Read().VMs(ctx, 0) {
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
