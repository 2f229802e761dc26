// Package mibtest provides an in-memory mib.View for tests of the MIB handler and of
// the SET side.
package mibtest

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vmgate/vmgate/mib"
)

// Data is the content of one context. Rows may be given in any order: Set sorts them.
type Data struct {
	Host        *mib.HypervisorRow // the context's own hypervisor; nil for the merged context
	Hypervisors []mib.HypervisorRow
	VMs         []mib.VMRow
	CPUs        []mib.CPURow
	Storage     []mib.StorageRow
	Images      []mib.DiskImageRow
	Networks    []mib.NetworkRow
	Addresses   []mib.NetworkAddressRow
	HBAs        []mib.HBARow
	OSes        []mib.OSRow
	Kernels     []mib.KernelRow
	Templates   []mib.TemplateRow
	Replicas    []mib.ReplicaRow
	Std         mib.StdInfo          // VM-MIB's hypervisor group
	Affinity    []mib.CPUAffinityRow // vmCpuAffinityTable

	IndexNext                 uint32
	StorageIndexNext          uint32
	Template, StorageTemplate uint32
}

// View is a mib.View over Data per context. Safe for concurrent use; Set replaces a
// context's data (snapshots taken before keep the old data).
type View struct {
	mu    sync.RWMutex
	ctxs  map[string]*Data
	reads atomic.Int64
}

var _ mib.View = (*View)(nil)

// New returns a view with the given contexts ("" is the merged cluster).
func New(ctxs map[string]*Data) *View {
	v := &View{ctxs: map[string]*Data{}}
	for name, d := range ctxs {
		v.Set(name, d)
	}
	return v
}

// Set sorts d's rows (in place) and makes it the content of context name.
func (v *View) Set(name string, d *Data) {
	c := *d
	sortBy(c.Hypervisors, func(r mib.HypervisorRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.VMs, vmKey)
	sortBy(c.CPUs, cpuKey)
	sortBy(c.Storage, storageKey)
	sortBy(c.Images, func(r mib.DiskImageRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.Networks, networkKey)
	slices.SortFunc(c.Addresses, func(a, b mib.NetworkAddressRow) int { return a.Key().Compare(b.Key()) })
	sortBy(c.HBAs, hbaKey)
	sortBy(c.OSes, func(r mib.OSRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.Kernels, func(r mib.KernelRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.Templates, func(r mib.TemplateRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.Replicas, func(r mib.ReplicaRow) [3]uint32 { return [3]uint32{r.Index} })
	sortBy(c.Affinity, affinityKey)
	v.mu.Lock()
	v.ctxs[name] = &c
	v.mu.Unlock()
}

// Reads returns how many snapshots were taken.
func (v *View) Reads() int64 { return v.reads.Load() }

// Snapshot implements mib.View.
func (v *View) Snapshot(ctx string) mib.Snapshot {
	v.reads.Add(1)
	v.mu.RLock()
	defer v.mu.RUnlock()
	d, ok := v.ctxs[ctx]
	if !ok {
		return snapshot{d: &Data{}}
	}
	return snapshot{d: d, known: true}
}

type snapshot struct {
	d     *Data
	known bool
}

func (s snapshot) Known() bool { return s.known }

func (s snapshot) Host() (mib.HypervisorRow, bool) {
	if s.d.Host == nil {
		return mib.HypervisorRow{}, false
	}
	return *s.d.Host, true
}

func (s snapshot) IndexNext() uint32 { return s.d.IndexNext }

func (s snapshot) StorageIndexNext() uint32 { return s.d.StorageIndexNext }

func (s snapshot) TemplateChoice() (uint32, uint32) { return s.d.Template, s.d.StorageTemplate }

func (s snapshot) Hypervisor(from uint32) (mib.HypervisorRow, bool) {
	return seek(s.d.Hypervisors, func(r mib.HypervisorRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}

// VM leaves the counters out, as the gateway's does: VMCounters adds them.
func (s snapshot) VM(from uint32) (mib.VMRow, bool) {
	r, ok := seek(s.d.VMs, vmKey, [3]uint32{from})
	r.Counters, r.CPUTimeNs, r.UsedKiB, r.FreeKiB, r.BalloonKiB, r.RSSKiB = false, 0, 0, 0, 0, 0
	return r, ok
}

func (s snapshot) VMCounters(r *mib.VMRow) {
	if full, ok := seek(s.d.VMs, vmKey, [3]uint32{r.ID}); ok && full.ID == r.ID {
		r.Counters, r.CPUTimeNs, r.UsedKiB, r.FreeKiB = full.Counters, full.CPUTimeNs, full.UsedKiB, full.FreeKiB
		r.BalloonKiB, r.RSSKiB = full.BalloonKiB, full.RSSKiB
	}
}

func (s snapshot) CPU(vm, cpu uint32) (mib.CPURow, bool) {
	return seek(s.d.CPUs, cpuKey, [3]uint32{vm, cpu})
}

func (s snapshot) Storage(vm, idx uint32) (mib.StorageRow, bool) {
	return seek(s.d.Storage, storageKey, [3]uint32{vm, idx})
}

func (s snapshot) DiskImage(from uint32) (mib.DiskImageRow, bool) {
	return seek(s.d.Images, func(r mib.DiskImageRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}

func (s snapshot) Network(vm, idx uint32) (mib.NetworkRow, bool) {
	return seek(s.d.Networks, networkKey, [3]uint32{vm, idx})
}

func (s snapshot) NetworkAddress(from mib.AddrKey) (mib.NetworkAddressRow, bool) {
	i, _ := slices.BinarySearchFunc(s.d.Addresses, from, func(r mib.NetworkAddressRow, f mib.AddrKey) int {
		return r.Key().Compare(f)
	})
	if i == len(s.d.Addresses) {
		return mib.NetworkAddressRow{}, false
	}
	return s.d.Addresses[i], true
}

func (s snapshot) HBA(vm, idx uint32) (mib.HBARow, bool) {
	return seek(s.d.HBAs, hbaKey, [3]uint32{vm, idx})
}

func (s snapshot) OS(from uint32) (mib.OSRow, bool) {
	return seek(s.d.OSes, func(r mib.OSRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}

func (s snapshot) Kernel(from uint32) (mib.KernelRow, bool) {
	return seek(s.d.Kernels, func(r mib.KernelRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}

func (s snapshot) Template(from uint32) (mib.TemplateRow, bool) {
	return seek(s.d.Templates, func(r mib.TemplateRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}

func (s snapshot) Std() mib.StdInfo { return s.d.Std }

func (s snapshot) CPUAffinity(vm, cpu, phys uint32) (mib.CPUAffinityRow, bool) {
	return seek(s.d.Affinity, affinityKey, [3]uint32{vm, cpu, phys})
}

func affinityKey(r mib.CPUAffinityRow) [3]uint32 { return [3]uint32{r.VMID, r.CPU, r.Phys} }

func vmKey(r mib.VMRow) [3]uint32           { return [3]uint32{r.ID} }
func cpuKey(r mib.CPURow) [3]uint32         { return [3]uint32{r.VMID, r.Index} }
func storageKey(r mib.StorageRow) [3]uint32 { return [3]uint32{r.VMID, r.Index} }
func networkKey(r mib.NetworkRow) [3]uint32 { return [3]uint32{r.VMID, r.Index} }
func hbaKey(r mib.HBARow) [3]uint32         { return [3]uint32{r.VMID, r.Index} }

func sortBy[R any](rows []R, k func(R) [3]uint32) {
	slices.SortFunc(rows, func(a, b R) int { return cmp(k(a), k(b)) })
}

func cmp(a, b [3]uint32) int { return slices.Compare(a[:], b[:]) }

// seek returns the first row whose key is >= from (binary search: O(log n)).
func seek[R any](rows []R, k func(R) [3]uint32, from [3]uint32) (R, bool) {
	i, _ := slices.BinarySearchFunc(rows, from, func(r R, f [3]uint32) int {
		return cmp(k(r), f)
	})
	if i == len(rows) {
		var zero R
		return zero, false
	}
	return rows[i], true
}

func (s snapshot) Replica(from uint32) (mib.ReplicaRow, bool) {
	return seek(s.d.Replicas, func(r mib.ReplicaRow) [3]uint32 { return [3]uint32{r.Index} }, [3]uint32{from})
}
