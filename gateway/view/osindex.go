package view

import (
	"sort"

	"github.com/hashicorp/go-memdb"
)

// osIndex is supportedOsTable's rows of one memdb tree: per context, one VM per
// distinct osIndex, ascending; the VM is the first with that osIndex in (host, vmId)
// order, whose OS row the table shows. It replaces two memdb indexes of every VM
// record (a radix leaf each, about 350 bytes per VM each) with a summary built in one
// pass over the VMs, O(n), by the first request for OS rows that sees a new tree.
type osIndex struct {
	rows map[string][]*VM // "" (the merged context) and each host: by OSIndex
}

// osRows returns the OS rows of ctx whose osIndex is >= from.
func (s *Snapshot) osRows(ctx string, from uint32) []*VM {
	if ctx != "" && s.hosts[ctx] == nil {
		return nil
	}
	x := s.osIndex()
	if x == nil {
		return nil
	}
	rows := x.rows[ctx]
	i := sort.Search(len(rows), func(i int) bool { return rows[i].OSIndex >= from })
	return rows[i:]
}

// osIndex returns the summary of the snapshot's tree, building it when the cached one
// is of another tree; nil if the tree cannot be read.
func (s *Snapshot) osIndex() *osIndex {
	if s.oidx == nil {
		s.oidx = ofTree(s, tableVM, indexID, &s.v.oses, buildOSIndex)
	}
	return s.oidx
}

func buildOSIndex(it memdb.ResultIterator) *osIndex {
	x := &osIndex{rows: map[string][]*VM{}}
	seen := map[string]map[uint32]bool{}
	add := func(ctx string, vm *VM) {
		m := seen[ctx]
		if m == nil {
			m = map[uint32]bool{}
			seen[ctx] = m
		}
		if !m[vm.OSIndex] { // the id index's order: the first is the lowest (host, vmId)
			m[vm.OSIndex] = true
			x.rows[ctx] = append(x.rows[ctx], vm)
		}
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		vm := raw.(*VM)
		add("", vm)
		add(vm.Host, vm)
	}
	for _, rows := range x.rows {
		sort.Slice(rows, func(i, j int) bool { return rows[i].OSIndex < rows[j].OSIndex })
	}
	return x
}
