package gateway

import (
	"slices"
)

// vmIndex is the merged context's VM records in vmId order, flattened from the vmid
// index of one memdb tree: a walk of the merged context seeks by binary search (and
// mostly steps to the next entry) instead of iterating the radix tree, which cost
// about a fifth of the MIB's CPU on a 10,000-VM walk. It is rebuilt (O(n)) by the
// first request that sees a different tree: VM records change on domain events and
// resyncs that changed something, not on counter polls.
type vmIndex struct {
	tree  <-chan struct{} // the vmid index root's watch channel: the tree's identity
	ids   []uint32        // distinct vmIds, ascending
	start []int32         // the records of ids[i] are recs[start[i]:start[i+1]]
	recs  []*VM           // by vmId, then host name, as the vmid index orders them
}

// vmIndex returns the index of the snapshot's tree, building it when the cached one
// is of another tree; nil if the tree cannot be read.
func (ms *mibSnap) vmIndex() *vmIndex {
	if ms.vidx != nil {
		return ms.vidx
	}
	it, err := ms.s.txn.Get(tableVM, indexVMID)
	if err != nil {
		return nil
	}
	tree := it.WatchCh()
	if x := ms.m.vms.Load(); x != nil && x.tree == tree {
		ms.vidx = x
		return x
	}
	x := &vmIndex{tree: tree}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		vm := raw.(*VM)
		if n := len(x.ids); n == 0 || x.ids[n-1] != vm.VMID {
			x.ids = append(x.ids, vm.VMID)
			x.start = append(x.start, int32(len(x.recs)))
		}
		x.recs = append(x.recs, vm)
	}
	x.start = append(x.start, int32(len(x.recs)))
	ms.m.vms.Store(x)
	ms.vidx = x
	return x
}

// seekMerged is seekVM in the merged context: the record Prefer chooses among the
// hosts' records of the first vmId >= from.
func (ms *mibSnap) seekMerged(x *vmIndex, from uint32) (VMRow, bool) {
	i := ms.vpos // a walk asks for the last answer again, or for the one after it
	if i < len(x.ids) && x.ids[i] < from {
		i++
	}
	if i > len(x.ids) || (i < len(x.ids) && x.ids[i] < from) || (i > 0 && x.ids[i-1] >= from) {
		i, _ = slices.BinarySearch(x.ids, from)
	}
	ms.vpos = i
	if i == len(x.ids) {
		return VMRow{}, false
	}
	if ms.vrow.VM != nil && ms.vrow.VMID == x.ids[i] {
		return ms.vrow, true // the sub-rows of one VM ask again
	}
	recs := x.recs[x.start[i]:x.start[i+1]]
	best := recs[0]
	for _, vm := range recs[1:] {
		if ms.s.Prefer(vm, best) {
			best = vm
		}
	}
	ms.vrow = VMRow{VM: best, Stale: !ms.up(best.Host)}
	return ms.vrow, true
}

// up is Snapshot.up, remembering the last host asked (a walk shows one host's VMs
// after another).
func (ms *mibSnap) up(host string) bool {
	if ms.upHost != host || !ms.upValid {
		ms.upHost, ms.upVal, ms.upValid = host, ms.s.up(host), true
	}
	return ms.upVal
}
