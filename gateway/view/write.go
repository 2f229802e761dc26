package view

import (
	"cmp"

	"github.com/vmgate/vmgate/gateway/registry"

	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// errNoIndex reports an exhausted registry namespace.
var errNoIndex = errors.New("no free index")

// sync replaces host's domains, pools and images with inv.
func (w *writeTxn) sync(host string, inv hosts.Inventory) error {
	w.resync = true
	old := map[hosts.UUID]*VM{}
	if err := w.eachHostVM(host, func(vm *VM) { old[vm.Domain.UUID] = vm; w.touch(vm.Domain.UUID) }); err != nil {
		return err
	}
	if err := w.syncPools(host, inv.Pools); err != nil {
		return err
	}
	resolve := w.volumeResolver(host, inv.Volumes)
	seen := map[hosts.UUID]bool{}
	for _, d := range inv.Domains {
		if seen[d.UUID] {
			w.v.logger.Warn("view: host reported a UUID twice in one sync; keeping the first",
				"host", host, "uuid", d.UUID.String())
			continue
		}
		seen[d.UUID] = true
		w.touch(d.UUID)
		if err := w.putVM(host, d, old[d.UUID], resolve); err != nil {
			return err
		}
	}
	for u, vm := range old {
		if !seen[u] {
			if err := w.deleteVM(vm); err != nil {
				return err
			}
		}
	}
	if err := w.syncImages(host, inv.Volumes, true); err != nil {
		return err
	}
	return w.putHost(host, func(e *HostEntry) {
		e.Hypervisor = inv.Hypervisor
		if inv.Hypervisor.URI != "" {
			e.URI = inv.Hypervisor.URI
		}
		e.SyncedAt = w.now
		e.VMs = len(seen)
	})
}

// afterDomains refreshes what depends on a host's domains after a single change.
func (w *writeTxn) afterDomains(host string) error {
	if err := w.syncImages(host, nil, false); err != nil {
		return err
	}
	n := 0
	if err := w.eachHostVM(host, func(*VM) { n++ }); err != nil {
		return err
	}
	return w.putHost(host, func(e *HostEntry) { e.VMs = n })
}

func (w *writeTxn) eachHostVM(host string, fn func(*VM)) error {
	it, err := w.txn.Get(tableVM, indexID, hostKey(host))
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if vm := raw.(*VM); vm.Host == host {
			fn(vm)
		}
	}
	return nil
}

// hostVM returns host's record of u, nil if none: the record of u's vmId (see
// records) on host.
func (w *writeTxn) hostVM(host string, u hosts.UUID) (*VM, error) {
	vmID, ok := w.vmID(u)
	if !ok {
		return nil, nil
	}
	raw, err := w.txn.First(tableVM, indexID, hostNumKey(host, vmID))
	if err != nil {
		return nil, fmt.Errorf("find domain: %w", err)
	}
	if vm, _ := raw.(*VM); vm != nil && vm.Domain.UUID == u {
		return vm, nil
	}
	return nil, nil
}

// putVM stores a fresh record of d for host, allocating its indexes. old is host's
// current record of the UUID, if any: it keeps its FirstSeen, and stays in place when
// nothing changed (a resync rewrites only what differs).
//
// A domain one of whose indexes the registry cannot give now (etcd unreachable) is
// left out, its old record kept, and written again later (View.retryPending): never
// with a number that could change.
func (w *writeTxn) putVM(host string, d hosts.Domain, old *VM, resolve func(hosts.Disk) string) error {
	missing := w.missing
	defer func() {
		if w.missing > missing {
			w.setPending(d.UUID, &d)
		} else {
			w.setPending(d.UUID, nil)
		}
	}()
	vmID := w.index(registry.NSVM, d.UUID.String())
	if vmID == 0 {
		return nil
	}
	vm := &VM{Host: host, VMID: vmID, Domain: w.v.strs.compact(&d), FirstSeen: w.seq}
	vm.OSIndex = w.index(registry.NSOS, osRegKey(&vm.Domain))
	if old != nil {
		vm.FirstSeen = old.FirstSeen
	}
	since := w.activeSince(old, &d)
	vm.RunSeen, vm.runStart = w.runSeen(old, &d, since), !since.IsZero()
	if k := kernelRegKey(&vm.Domain); k != "" {
		vm.KernelIndex = w.index(registry.NSKernel, k)
	}
	w.indexDevices(vm, d.Disks, d.NICs, d.Controllers, resolve)
	if w.missing > missing || old != nil && sameVM(old, vm) {
		return nil
	}
	if old != nil && old.VMID != vmID { // the UUID's number changed: its old row goes
		if err := w.deleteVM(old); err != nil {
			return fmt.Errorf("domain %s: %w", d.UUID, err)
		}
	}
	if err := w.insertVM(vm); err != nil {
		return fmt.Errorf("domain %s: %w", d.UUID, err)
	}
	return nil
}

// activeSince carries the start of a domain's current run: kept while the same run
// goes on (active before and now with the same domain ID), the time of the change when
// an event shows the domain starting, zero (unknown) otherwise: first sight, another
// run, or a start that only a resync saw (it happened while the host was not followed).
func (w *writeTxn) activeSince(old *VM, d *hosts.Domain) time.Time {
	switch {
	case !DomainActive(d.State) || old == nil:
		return time.Time{}
	case DomainActive(old.Domain.State):
		if old.Domain.ID == d.ID {
			return old.ActiveSince()
		}
		return time.Time{}
	case w.resync:
		return time.Time{}
	}
	return w.now
}

// runSeen is when the view first saw the domain's current run: kept while the same
// run goes on, its start when known, else now.
func (w *writeTxn) runSeen(old *VM, d *hosts.Domain, since time.Time) time.Time {
	switch {
	case !DomainActive(d.State):
		return time.Time{}
	case old != nil && DomainActive(old.Domain.State) && old.Domain.ID == d.ID && !old.RunSeen.IsZero():
		return old.RunSeen
	case !since.IsZero():
		return since
	}
	return w.now
}

// sameVM reports whether two records of one (UUID, host) are the same.
func sameVM(a, b *VM) bool {
	return a.VMID == b.VMID && a.FirstSeen == b.FirstSeen && a.OSIndex == b.OSIndex &&
		a.runStart == b.runStart && a.RunSeen.Equal(b.RunSeen) &&
		a.KernelIndex == b.KernelIndex && reflect.DeepEqual(a.Domain, b.Domain) &&
		reflect.DeepEqual(a.Disks, b.Disks) && reflect.DeepEqual(a.NICs, b.NICs) &&
		reflect.DeepEqual(a.HBAs, b.HBAs)
}

// indexDevices fills vm's disks, NICs and HBAs from the domain's devices with their
// indexes; the record keeps them there only (its Domain has none). Each device
// remembers its place in the XML, which its registry key depends on (regKeys).
func (w *writeTxn) indexDevices(vm *VM, disks []hosts.Disk, nics []hosts.NIC, ctls []hosts.Controller, resolve func(hosts.Disk) string) {
	if len(disks) > 0 {
		vm.Disks = make([]Disk, 0, len(disks))
	}
	for i := range disks {
		dk := w.v.strs.disk(&disks[i])
		dk.pos = int32(i)
		if dk.ImagePath = resolve(disks[i]); dk.ImagePath != "" {
			dk.DiskImageIndex = w.index(registry.NSImage, hostRegKey(vm.Host, dk.ImagePath))
		}
		vm.Disks = append(vm.Disks, dk)
	}
	if len(nics) > 0 {
		vm.NICs = make([]NIC, 0, len(nics))
	}
	for i := range nics {
		nic := w.v.strs.nic(&nics[i])
		nic.pos = int32(i)
		vm.NICs = append(vm.NICs, nic)
	}
	if len(ctls) > 0 {
		vm.HBAs = make([]HBA, 0, len(ctls))
	}
	for i, c := range ctls {
		vm.HBAs = append(vm.HBAs, HBA{Controller: w.v.strs.controller(c), pos: int32(i)})
	}
	vm.regKeys(func(ns, key string, idx *uint32) { *idx = w.index(ns, key) })
	slices.SortFunc(vm.Disks, func(a, b Disk) int { return cmp.Compare(a.StorageIndex, b.StorageIndex) })
	slices.SortFunc(vm.NICs, func(a, b NIC) int { return cmp.Compare(a.NetworkIndex, b.NetworkIndex) })
	slices.SortFunc(vm.HBAs, func(a, b HBA) int { return cmp.Compare(a.HBAIndex, b.HBAIndex) })
}

// regKeys calls fn with the registry namespace and key of each of vm's devices and
// the index that key numbers: disks, NICs, then controllers, each in the domain's XML
// order. The keys are made again from the record when needed, not kept in it (16
// bytes a device). fn may set the index only while vm is not stored.
func (vm *VM) regKeys(fn func(ns, key string, idx *uint32)) {
	used := map[string]bool{}
	for _, dk := range inOrder(vm.Disks, func(x *Disk) (int32, *Disk) { return x.pos, x }) {
		fn(registry.NSStorage, uniqueKey(used, StorageKey(vm.VMID, dk.Target), int(dk.pos)), &dk.StorageIndex)
	}
	for _, n := range inOrder(vm.NICs, func(x *NIC) (int32, *NIC) { return x.pos, x }) {
		fn(registry.NSNetwork, uniqueKey(used, networkRegKey(vm.VMID, n.MAC), int(n.pos)), &n.NetworkIndex)
	}
	for _, c := range inOrder(vm.HBAs, func(x *HBA) (int32, *HBA) { return x.pos, x }) {
		fn(registry.NSHBA, uniqueKey(used, hbaRegKey(vm.VMID, c.Controller), int(c.pos)), &c.HBAIndex)
	}
}

// uniqueKey returns k, or k#i when k is already used by another device of this domain
// (an empty target or MAC, a duplicate), so that two devices never share a sub-index.
func uniqueKey(used map[string]bool, k string, i int) string {
	if used[k] || strings.HasSuffix(k, "/") {
		k = fmt.Sprintf("%s#%d", k, i)
	}
	used[k] = true
	return k
}

// volumeResolver maps a disk to its image path: a type=volume disk to the path of its
// pool volume (from vols, or the host's stored volume images when vols is nil), other
// disks to their source. "" for a disk without source.
func (w *writeTxn) volumeResolver(host string, vols []hosts.Volume) func(hosts.Disk) string {
	if vols == nil {
		_ = w.eachHostImage(host, func(im *DiskImage) {
			if im.Volume != nil {
				vols = append(vols, *im.Volume)
			}
		})
	}
	byName := make(map[[2]string]string, len(vols))
	for _, v := range vols {
		byName[[2]string{v.Pool, v.Name}] = volumePath(v)
	}
	return func(d hosts.Disk) string {
		if d.Type == "volume" {
			if p, ok := byName[[2]string{d.Pool, d.Volume}]; ok {
				return p
			}
		}
		return d.Source
	}
}

// volumePath is a volume's image key: its path, else pool/name (e.g. rbd volumes).
func volumePath(v hosts.Volume) string {
	if v.Path != "" {
		return v.Path
	}
	return v.Pool + "/" + v.Name
}

func (w *writeTxn) eachHostImage(host string, fn func(*DiskImage)) error {
	ims, err := w.hostImages(host)
	for _, im := range ims {
		fn(im)
	}
	return err
}

// hostImages returns host's images as stored, ascending Index: never to be modified.
func (w *writeTxn) hostImages(host string) ([]*DiskImage, error) {
	raw, err := w.txn.First(tableImage, indexID, hostKey(host))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*hostImages).ims, nil
}

// syncPools replaces host's pools.
func (w *writeTxn) syncPools(host string, pools []hosts.Pool) error {
	old, err := w.txn.Get(tablePool, indexHost, hostKey(host))
	if err != nil {
		return fmt.Errorf("list pools: %w", err)
	}
	var gone []*StoragePool
	keep := map[string]bool{}
	for _, p := range pools {
		keep[p.Name] = true
	}
	for raw := old.Next(); raw != nil; raw = old.Next() {
		if p := raw.(*StoragePool); p.Host == host && !keep[p.Pool.Name] {
			gone = append(gone, p)
		}
	}
	for _, p := range gone {
		if err := w.txn.Delete(tablePool, p); err != nil {
			return fmt.Errorf("pool %q: %w", p.Pool.Name, err)
		}
		w.release(registry.NSPool, hostRegKey(host, p.Pool.Name))
	}
	for _, p := range pools {
		idx := w.index(registry.NSPool, hostRegKey(host, p.Name))
		if idx == 0 {
			continue // shown once the registry gives it a number (the next storage round)
		}
		if err := w.txn.Insert(tablePool, &StoragePool{Host: host, Index: idx, Pool: p}); err != nil {
			return fmt.Errorf("pool %q: %w", p.Name, err)
		}
	}
	return nil
}

// syncImages recomputes host's disk images: every volume (vols when fromInventory, else
// the stored ones) plus every disk source of the host's domains that is not a volume.
func (w *writeTxn) syncImages(host string, vols []hosts.Volume, fromInventory bool) error {
	old := map[string]*DiskImage{}
	if err := w.eachHostImage(host, func(im *DiskImage) { old[im.Path] = im }); err != nil {
		return err
	}
	if !fromInventory {
		for _, im := range old {
			if im.Volume != nil {
				vols = append(vols, *im.Volume)
			}
		}
	}
	poolIdx := map[string]uint32{}
	if it, err := w.txn.Get(tablePool, indexHost, hostKey(host)); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if p := raw.(*StoragePool); p.Host == host {
				poolIdx[p.Pool.Name] = p.Index
			}
		}
	}
	want := map[string]*DiskImage{}
	for _, v := range vols {
		vol := v
		p := volumePath(v)
		want[p] = &DiskImage{Host: host, Path: p, Volume: &vol, PoolIndex: poolIdx[v.Pool], Format: v.Format}
	}
	if err := w.eachHostVM(host, func(vm *VM) {
		for _, d := range vm.Disks {
			if d.ImagePath == "" {
				continue
			}
			im, ok := want[d.ImagePath]
			if !ok {
				im = &DiskImage{Host: host, Path: d.ImagePath, Format: d.Format}
				want[d.ImagePath] = im
			}
			im.takeSizes(vm, &d)
		}
	}); err != nil {
		return err
	}
	changed := false
	for p := range old {
		if _, ok := want[p]; !ok {
			w.release(registry.NSImage, hostRegKey(host, p))
			changed = true
		}
	}
	// By path, not map order: images first seen together (e.g. a pool's volumes no VM
	// uses) get their diskImageIndex in the same order on every run.
	ims := make([]*DiskImage, 0, len(want))
	for _, p := range slices.Sorted(maps.Keys(want)) {
		im, o := want[p], old[p]
		switch {
		case o != nil && sameImage(o, im):
			ims = append(ims, o)
		case w.setImageIndex(im):
			ims = append(ims, im)
			changed = true
		case o != nil:
			ims = append(ims, o) // the old row stays until the registry gives a number
		}
	}
	if !changed {
		return nil
	}
	if len(ims) == 0 {
		if _, err := w.txn.DeleteAll(tableImage, indexID, hostKey(host)); err != nil {
			return fmt.Errorf("images: %w", err)
		}
		return nil
	}
	slices.SortFunc(ims, func(a, b *DiskImage) int { return cmp.Compare(a.Index, b.Index) })
	if err := w.txn.Insert(tableImage, &hostImages{Host: host, ims: ims}); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	return nil
}

// takeSizes applies the sizes rule of an image outside pools to one more disk using
// it, the host's records taken in vmId order and their disks in index order: the first
// disk with a capacity gives them, until one does the last so far; SizeFrom names it.
func (im *DiskImage) takeSizes(vm *VM, d *Disk) {
	if im.Volume == nil && im.Capacity == 0 && d.Target != "" {
		im.Capacity, im.Allocation = d.Capacity, d.Allocation
		im.SizeFrom = DiskRef{UUID: vm.Domain.UUID, Target: d.Target}
	}
}

// resize writes the disk sizes of src over vm's record (hosts.FieldSizes): a copy of
// the record with a copy of its disks, the rest shared. Nothing a size has is indexed
// or numbered, so no registry key is asked for and no memdb index but the record's
// leaf is rewritten. The copy is stored by storeResized, after every read of the
// VM table: a read in a write transaction empties memdb's cache of the tree nodes it
// copied (iradix Txn.Clone), so that each insert after one copies its whole path again,
// 4 KiB of edges a VM at 10,000 VMs a host.
func (w *writeTxn) resize(vm *VM, src *hosts.Domain) {
	if q := w.resizedVMs[vm.Domain.UUID]; q != nil {
		vm = q // patched twice in one transaction
	}
	var disks []Disk
	for i := range vm.Disks {
		dk := &vm.Disks[i]
		c, a, ok := src.DiskSizes(dk.Target, dk.Source)
		if !ok || c == dk.Capacity && a == dk.Allocation {
			continue
		}
		if disks == nil {
			disks = slices.Clone(vm.Disks)
		}
		disks[i].Capacity, disks[i].Allocation = c, a
		if dk.ImagePath != "" {
			if w.resized == nil {
				w.resized = map[string]bool{}
			}
			w.resized[dk.ImagePath] = true
		}
	}
	if disks == nil {
		return
	}
	nv := *vm
	nv.Disks = disks
	if w.resizedVMs == nil {
		w.resizedVMs = map[hosts.UUID]*VM{}
	}
	w.resizedVMs[vm.Domain.UUID] = &nv
}

// storeResized stores the records resize made, then their images (resizeImages).
func (w *writeTxn) storeResized(host string) error {
	for _, vm := range w.resizedVMs {
		if err := w.txn.Insert(tableVM, vm); err != nil {
			return fmt.Errorf("domain %s: %w", vm.Domain.UUID, err)
		}
	}
	return w.resizeImages(host)
}

// resizeImages recomputes, by syncImages' rule (takeSizes), the images outside pools
// that the disks resize changed feed, and writes only those that changed: sizes change
// no path, format or volume, so the host's other images stay as they are. When one of
// those images has no row (the registry could not number it), the whole syncImages runs.
func (w *writeTxn) resizeImages(host string) error {
	if len(w.resized) == 0 {
		return nil
	}
	ims, err := w.hostImages(host)
	if err != nil {
		return err
	}
	sized, rows := make(map[string]*DiskImage, len(w.resized)), 0
	for _, im := range ims {
		if !w.resized[im.Path] {
			continue
		}
		rows++
		if im.Volume == nil {
			c := *im
			c.Capacity, c.Allocation, c.SizeFrom = 0, 0, DiskRef{}
			sized[im.Path] = &c
		}
	}
	if rows < len(w.resized) {
		return w.syncImages(host, nil, false)
	}
	if err := w.eachHostVM(host, func(vm *VM) {
		for i := range vm.Disks {
			if im := sized[vm.Disks[i].ImagePath]; im != nil {
				im.takeSizes(vm, &vm.Disks[i])
			}
		}
	}); err != nil {
		return err
	}
	var out []*DiskImage
	for i, im := range ims {
		if c := sized[im.Path]; c != nil && !sameImage(im, c) {
			if out == nil {
				out = slices.Clone(ims)
			}
			out[i] = c
		}
	}
	if out == nil {
		return nil
	}
	if err := w.txn.Insert(tableImage, &hostImages{Host: host, ims: out}); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	return nil
}

// setImageIndex gives im its diskImageIndex; false when the registry cannot now.
func (w *writeTxn) setImageIndex(im *DiskImage) bool {
	im.Index = w.index(registry.NSImage, hostRegKey(im.Host, im.Path))
	return im.Index != 0
}

func sameImage(a, b *DiskImage) bool {
	if (a.Volume == nil) != (b.Volume == nil) || a.PoolIndex != b.PoolIndex || a.Format != b.Format ||
		a.Capacity != b.Capacity || a.Allocation != b.Allocation || a.SizeFrom != b.SizeFrom {
		return false
	}
	return a.Volume == nil || *a.Volume == *b.Volume
}

// putHost stores a fresh copy of host's entry with edit applied.
func (w *writeTxn) putHost(host string, edit func(*HostEntry)) error {
	raw, err := w.txn.First(tableHost, indexID, host)
	if err != nil {
		return fmt.Errorf("find host: %w", err)
	}
	var e HostEntry
	if raw != nil {
		e = *raw.(*HostEntry)
	} else {
		e = HostEntry{Name: host, Index: w.index(registry.NSHost, host)}
		if e.Index == 0 {
			return fmt.Errorf("host index: %w", errNoIndex)
		}
	}
	if spec, ok := w.v.spec(host); ok {
		if spec.URI != "" {
			e.URI = spec.URI
		}
		e.StatsInterval = spec.StatsInterval
	}
	edit(&e)
	if err := w.txn.Insert(tableHost, &e); err != nil {
		return fmt.Errorf("store host: %w", err)
	}
	return nil
}

// dropHost removes a host that is no longer configured, with all its rows.
func (w *writeTxn) dropHost(host string) error {
	w.dropped = append(w.dropped, host)
	var vms []*VM
	if err := w.eachHostVM(host, func(vm *VM) { w.touch(vm.Domain.UUID); vms = append(vms, vm) }); err != nil {
		return err
	}
	for _, vm := range vms {
		if err := w.deleteVM(vm); err != nil {
			return err
		}
	}
	if err := w.syncPools(host, nil); err != nil {
		return err
	}
	if err := w.syncImages(host, nil, true); err != nil {
		return err
	}
	if _, err := w.txn.DeleteAll(tableHost, indexID, host); err != nil {
		return err
	}
	w.release(registry.NSHost, host)
	w.v.statsMu.Lock()
	delete(w.v.stats, host)
	w.v.statsMu.Unlock()
	w.v.statsGen.Add(1)
	w.v.reads.dropStats()
	return nil
}
