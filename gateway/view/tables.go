package view

import (
	"iter"
	"math"

	"github.com/vmgate/vmgate/gateway/registry"
)

// The inventory tables beside the VMs: pools, disk images, guest OSes, kernels.

// Pools yields the storage pools of ctx (every host's in the merged context) with
// index >= from, in index order.
func (s *Snapshot) Pools(ctx string, from uint32) iter.Seq[*StoragePool] {
	return func(yield func(*StoragePool) bool) {
		scan(s, tablePool, ctx, from, func(raw any) bool { return yield(raw.(*StoragePool)) })
	}
}

// Pool returns the pool of ctx with that index.
func (s *Snapshot) Pool(ctx string, idx uint32) (*StoragePool, bool) {
	for p := range s.Pools(ctx, idx) {
		return p, p.Index == idx
	}
	return nil, false
}

// Images yields the disk images of ctx (pool volumes and image files used outside
// pools) with index >= from, in index order.
func (s *Snapshot) Images(ctx string, from uint32) iter.Seq[*DiskImage] {
	return func(yield func(*DiskImage) bool) {
		for next := uint64(from); next <= math.MaxUint32; {
			im := s.SeekImage(ctx, uint32(next))
			if im == nil || !yield(im) {
				return
			}
			next = uint64(im.Index) + 1
		}
	}
}

// Image returns the disk image of ctx with that index.
func (s *Snapshot) Image(ctx string, idx uint32) (*DiskImage, bool) {
	for im := range s.Images(ctx, idx) {
		return im, im.Index == idx
	}
	return nil, false
}

// scan walks the pools of ctx (a global "id" index and a per-host "host" index) from
// index from, until fn returns false or the context's rows end.
func scan(s *Snapshot, table, ctx string, from uint32, fn func(any) bool) {
	index, key := indexID, numKey(from)
	if ctx != "" {
		if s.hosts[ctx] == nil {
			return
		}
		index, key = indexHost, hostNumKey(ctx, from)
	}
	it, err := s.txn.LowerBound(table, index, key)
	if err != nil {
		return
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if ctx != "" && rowHost(raw) != ctx {
			return
		}
		if !fn(raw) {
			return
		}
	}
}

func rowHost(raw any) string { return raw.(*StoragePool).Host }

// OSes yields the guest OSes the VMs of ctx run, with osIndex >= from, in index order.
func (s *Snapshot) OSes(ctx string, from uint32) iter.Seq[OSRow] {
	return func(yield func(OSRow) bool) {
		for _, vm := range s.osRows(ctx, from) {
			if !yield(osRow(vm)) {
				return
			}
		}
	}
}

// OS returns the OS row of ctx with that index.
func (s *Snapshot) OS(ctx string, idx uint32) (OSRow, bool) {
	for r := range s.OSes(ctx, idx) {
		return r, r.Index == idx
	}
	return OSRow{}, false
}

// osRow is the supportedOsTable row vm's OS key (osRegKey) stands for: the agent's
// answer when there is one, else the XML's libosinfo id and OS type.
func osRow(vm *VM) OSRow {
	d := &vm.Domain
	if d.GuestOS.Known() {
		return OSRow{Index: vm.OSIndex, OSType: d.OSType, Agent: d.GuestOS}
	}
	return OSRow{Index: vm.OSIndex, OSInfoID: d.OSInfoID, OSType: d.OSType}
}

// Kernels yields the direct kernel boots the VMs of ctx use, with kernelIndex >= from.
func (s *Snapshot) Kernels(ctx string, from uint32) iter.Seq[KernelRow] {
	return func(yield func(KernelRow) bool) {
		s.distinct(ctx, indexKernel, indexHostKn, from, func(vm *VM) uint32 { return vm.KernelIndex },
			func(vm *VM) bool {
				d := &vm.Domain
				return yield(KernelRow{Index: vm.KernelIndex, Kernel: d.Kernel, Initrd: d.Initrd, Cmdline: d.Cmdline})
			})
	}
}

// Kernel returns the kernel row of ctx with that index.
func (s *Snapshot) Kernel(ctx string, idx uint32) (KernelRow, bool) {
	for r := range s.Kernels(ctx, idx) {
		return r, r.Index == idx
	}
	return KernelRow{}, false
}

// distinct yields one VM per distinct value of a VM index (OS, kernel), each found by
// a LowerBound seek past the previous value: O(log n) per row.
func (s *Snapshot) distinct(ctx, global, perHost string, from uint32, val func(*VM) uint32, yield func(*VM) bool) {
	if ctx != "" && s.hosts[ctx] == nil {
		return
	}
	for next := uint64(from); next <= registry.MaxIndex; {
		index, key := global, numKey(uint32(next))
		if ctx != "" {
			index, key = perHost, hostNumKey(ctx, uint32(next))
		}
		raw, err := s.txn.LowerBound(tableVM, index, key)
		if err != nil {
			return
		}
		first := raw.Next()
		if first == nil {
			return
		}
		vm := first.(*VM)
		if (ctx != "" && vm.Host != ctx) || !yield(vm) {
			return
		}
		next = uint64(val(vm)) + 1
	}
}
