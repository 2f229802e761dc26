package view

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
)

// vmIndex is the merged context's VM records in vmId order, sorted from the (host,
// vmId) index of one memdb tree: a walk of the merged context seeks by binary search
// (and mostly steps to the next entry) instead of iterating the radix tree, which cost
// about a fifth of the MIB's CPU on a 10,000-VM walk, and no index by vmId costs a
// radix leaf (about 370 bytes) per VM. It is rebuilt (O(n log n)) by the first request
// that sees a different tree: VM records change on domain events and resyncs that
// changed something, not on counter polls.
type vmIndex struct {
	ids   []uint32 // distinct vmIds, ascending
	start []int32  // the records of ids[i] are recs[start[i]:start[i+1]]
	recs  []*VM    // by vmId, then host name
}

// perTree is a summary of one memdb tree (vmIndex, osIndex, imageIndex), shared by the
// snapshots of that tree.
type perTree[T any] struct {
	tree <-chan struct{} // the index root's watch channel, which every write replaces
	val  *T
}

// ofTree returns the summary cached in p when it is of the snapshot's tree, else
// builds it from an iterator over the whole index idx of table and caches it; nil if
// the tree cannot be read.
func ofTree[T any](s *Snapshot, table, idx string, p *atomic.Pointer[perTree[T]], build func(memdb.ResultIterator) *T) *T {
	it, err := s.txn.Get(table, idx)
	if err != nil {
		return nil
	}
	tree := it.WatchCh()
	if c := p.Load(); c != nil && c.tree == tree {
		return c.val
	}
	v := build(it)
	p.Store(&perTree[T]{tree: tree, val: v})
	// A commit since this snapshot was taken may have run its dropStale before the
	// Store: check again, as the commit would, so no replaced tree stays cached.
	txn := s.v.db.Txn(false)
	dropStale(txn, table, idx, p)
	txn.Abort()
	return v
}

// dropStale forgets a cached summary of a tree other than the one txn reads: until the
// next read builds another, it would keep alive every record replaced since (after a
// sizes patch of every VM, a second generation of records and devices).
func dropStale[T any](txn *memdb.Txn, table, idx string, p *atomic.Pointer[perTree[T]]) {
	c := p.Load()
	if c == nil {
		return
	}
	if it, err := txn.Get(table, idx); err == nil && it.WatchCh() != c.tree {
		p.CompareAndSwap(c, nil)
	}
}

// vmIndex returns the index of the snapshot's tree, building it when the cached one
// is of another tree; nil if the tree cannot be read.
func (s *Snapshot) vmIndex() *vmIndex {
	if s.vidx == nil {
		s.vidx = ofTree(s, tableVM, indexID, &s.v.vms, buildVMIndex)
	}
	return s.vidx
}

func buildVMIndex(it memdb.ResultIterator) *vmIndex {
	// The index yields hosts in name order: a host's rank stands for its name in the
	// sort, which then reads no record.
	type rec struct {
		id, host uint32
		vm       *VM
	}
	var recs []rec
	rank, last := uint32(0), ""
	for raw := it.Next(); raw != nil; raw = it.Next() {
		vm := raw.(*VM)
		if vm.Host != last || rank == 0 {
			rank, last = rank+1, vm.Host
		}
		recs = append(recs, rec{id: vm.VMID, host: rank, vm: vm})
	}
	slices.SortFunc(recs, func(a, b rec) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.host, b.host)) })
	x := &vmIndex{recs: make([]*VM, 0, len(recs))}
	for _, r := range recs {
		if n := len(x.ids); n == 0 || x.ids[n-1] != r.id {
			x.ids = append(x.ids, r.id)
			x.start = append(x.start, int32(len(x.recs)))
		}
		x.recs = append(x.recs, r.vm)
	}
	x.start = append(x.start, int32(len(x.recs)))
	return x
}

// seekMerged is SeekVM in the merged context: the record Prefer chooses among the
// hosts' records of the first vmId >= from.
func (s *Snapshot) seekMerged(x *vmIndex, from uint32) (VMRow, bool) {
	i := s.vpos // a walk asks for the last answer again, or for the one after it
	if i < len(x.ids) && x.ids[i] < from {
		i++
	}
	if i > len(x.ids) || (i < len(x.ids) && x.ids[i] < from) || (i > 0 && x.ids[i-1] >= from) {
		i, _ = slices.BinarySearch(x.ids, from)
	}
	s.vpos = i
	if i == len(x.ids) {
		return VMRow{}, false
	}
	if s.vrow.VM != nil && s.vrow.VMID == x.ids[i] {
		return s.vrow, true // the sub-rows of one VM ask again
	}
	recs := x.recs[x.start[i]:x.start[i+1]]
	best := recs[0]
	for _, vm := range recs[1:] {
		if s.Prefer(vm, best) {
			best = vm
		}
	}
	s.vrow = VMRow{VM: best, Stale: !s.up(best.Host)}
	return s.vrow, true
}

// VMCount returns the number of VM rows of context ctx: distinct vmIds in the merged
// context ("", O(1) once the flat index is built), the host's domains otherwise.
func (s *Snapshot) VMCount(ctx string) int {
	if ctx != "" {
		if e, ok := s.Host(ctx); ok {
			return max(e.VMs, 0)
		}
		return 0
	}
	if x := s.vmIndex(); x != nil {
		return len(x.ids)
	}
	return 0
}
