package view

import (
	"iter"
	"math"
	"sort"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"
)

// How the VIRTUAL-MACHINES-MIB tables read a Snapshot (ctx = the request's context):
//
//	virtualMachinesTable {vmId}        VMs / VM; a Stale row's state is unknown(9);
//	                                   uptime = Now() - RunSeen (the run's start, or its first sight)
//	memoryTable {vmId}                 VMs + DomainStats (Balloon*)
//	cpuTable {vmId, cpuIndex}          cpuIndex = vCPU number + 1 (Domain.VCPUs); counters in
//	                                   DomainStats.VCPUs; MHz from Host(row.Host).Hypervisor.Node
//	storageTable {vmId, storageIndex}  VMRow.Disks / DiskFrom; counters: DomainStats.Blocks
//	                                   whose Name is the disk's Target
//	networkTable {vmId, networkIndex}  VMRow.NICs / NICFrom; counters: DomainStats.Nets whose
//	                                   Name is the NIC's Target (host-side device)
//	hbaTable {vmId, hbaIndex}          VMRow.HBAs / HBAFrom
//	diskImagesTable {diskImageIndex}   Images / Image (Volume nil: a file outside pools)
//	supportedOsTable, kernelTable      OSes / OS, Kernels / Kernel
//	hypervisor table, vmm scalars      Hosts / HostByIndex; Host(ctx) in a host's context
//	templates                          not in the view: Registry.Index(registry.NSTemplate, file)
//
// GETNEXT on a two-level index (vmId, sub) after (v, s): VM(ctx, v) and its first
// device with index > s (DiskFrom(s+1)...), else the first row of VMs(ctx, v+1) that
// has a device.

// Snapshot is one consistent picture of the view: a memdb read transaction plus the
// counter snapshots of every host taken at the same moment. It never changes and
// needs no closing; take a fresh one per SNMP request (Read is cheap: O(hosts)).
//
// Contexts: "" is the merged cluster, any other name a configured host. An unknown
// context has no rows. Iterators yield rows in index order starting at the first row
// whose index is >= from, each step O(log n); stop them early by breaking out of the
// range loop. Every record is shared with the view: never modify one.
type Snapshot struct {
	v        *View
	txn      *memdb.Txn
	now      time.Time
	hosts    map[string]*HostEntry
	stats    map[string]*hosts.Stats
	interval time.Duration

	// The cursors of cursor.go and what the last rows looked up: a walk asks for the
	// same host, its counters and the same VM's counters row after row.
	ctx        string // the context the cursors are of
	cur        vmCursor
	vidx       *vmIndex    // merged context: the index of txn's tree, once looked up
	oidx       *osIndex    // supportedOsTable's rows of txn's tree, once looked up
	iidx       *imageIndex // the merged context's images of txn's tree, once looked up
	vpos       int         // position of the last seek in vidx
	vrow       VMRow       // its answer
	imHost     string      // the host hostImages last looked up, and its images
	imValid    bool
	ims        []*DiskImage
	upHost     string // the host up() last looked up
	upVal      bool
	upValid    bool
	lastHost   *HostEntry
	statsHost  string // the host Stats last looked up
	lastStats  *hosts.Stats
	statsFresh bool
	dsVM       *VM // the record whose counters ds holds
	ds         *hosts.DomainStats
}

// VMRow is a VM as a context shows it.
type VMRow struct {
	*VM
	// Stale is true when the VM's host is not Up: Domain.State is the last one known,
	// the real state is unknown (show it as such), and counters are not current.
	Stale bool
}

// DiskFrom returns the VM's first disk with StorageIndex >= from (shared: read only).
func (r VMRow) DiskFrom(from uint32) (*Disk, bool) {
	return firstFrom(r.Disks, from, func(d *Disk) uint32 { return d.StorageIndex })
}

// NICFrom returns the VM's first NIC with NetworkIndex >= from (shared: read only).
func (r VMRow) NICFrom(from uint32) (*NIC, bool) {
	return firstFrom(r.NICs, from, func(n *NIC) uint32 { return n.NetworkIndex })
}

// HBAFrom returns the VM's first controller with HBAIndex >= from (shared: read only).
func (r VMRow) HBAFrom(from uint32) (*HBA, bool) {
	return firstFrom(r.HBAs, from, func(h *HBA) uint32 { return h.HBAIndex })
}

// firstFrom binary-searches a slice sorted by index (by position: a walk's hot path
// allocates nothing).
func firstFrom[T any](xs []T, from uint32, index func(*T) uint32) (*T, bool) {
	i := sort.Search(len(xs), func(i int) bool { return index(&xs[i]) >= from })
	if i == len(xs) {
		return nil, false
	}
	return &xs[i], true
}

// OSRow is a row of the supported OS table: a guest OS some VM of the context runs.
type OSRow struct {
	Index    uint32
	OSInfoID string        // libosinfo id, "" when the domain XML has none or Agent is set
	OSType   string        // hvm, xen, linux, exe
	Agent    hosts.GuestOS // the guest agent's answer, which wins over the XML; zero if none
}

// KernelRow is a row of the kernel table: a direct kernel boot some VM of the context uses.
type KernelRow struct {
	Index                   uint32
	Kernel, Initrd, Cmdline string
}

// Now is the time the snapshot was taken (for uptimes and ages).
func (s *Snapshot) Now() time.Time { return s.now }

// up reports whether host is connected: its records are current.
func (s *Snapshot) up(host string) bool {
	if s.upHost != host || !s.upValid {
		e := s.hosts[host]
		s.upHost, s.upVal, s.upValid = host, e != nil && e.Health.Status == hosts.Up, true
	}
	return s.upVal
}

func (s *Snapshot) row(vm *VM) VMRow { return VMRow{VM: vm, Stale: !s.up(vm.Host)} }

// VMs yields the VMs of ctx with vmId >= from, in vmId order (SeekVM after SeekVM).
func (s *Snapshot) VMs(ctx string, from uint32) iter.Seq[VMRow] {
	return func(yield func(VMRow) bool) {
		for next := uint64(from); next <= math.MaxUint32; {
			r, ok := s.SeekVM(ctx, uint32(next))
			if !ok || !yield(r) {
				return
			}
			next = uint64(r.VMID) + 1
		}
	}
}

// VM returns the VM of ctx with vmId id.
func (s *Snapshot) VM(ctx string, id uint32) (VMRow, bool) {
	r, ok := s.SeekVM(ctx, id)
	return r, ok && r.VMID == id
}

// VMByUUID returns the VM of ctx with that UUID.
func (s *Snapshot) VMByUUID(ctx string, u hosts.UUID) (VMRow, bool) {
	vmID, ok := s.v.reg.Lookup(registry.NSVM, u.String()) // kept while a record of u is
	if !ok {
		return VMRow{}, false
	}
	r, ok := s.VM(ctx, vmID)
	return r, ok && r.Domain.UUID == u
}

// Prefer is the merged-context rule between two hosts' records of one UUID (a live
// migration in flight, a cloned definition): a true if a wins. The record from an Up
// host whose domain is active (running, blocked, paused, shutting down, pmsuspended)
// wins; if both or neither are, the host that reported the UUID first; then the
// smaller host name.
func (s *Snapshot) Prefer(a, b *VM) bool {
	aa, ba := s.active(a), s.active(b)
	if aa != ba {
		return aa
	}
	if a.FirstSeen != b.FirstSeen {
		return a.FirstSeen < b.FirstSeen
	}
	return a.Host < b.Host
}

func (s *Snapshot) active(vm *VM) bool {
	return s.up(vm.Host) && DomainActive(vm.Domain.State) // a down host's state is unknown
}

// DomainActive reports whether a domain in state st has a running instance (running,
// blocked, paused, shutting down, pmsuspended).
func DomainActive(st hosts.DomainState) bool {
	switch st {
	case hosts.StateRunning, hosts.StateBlocked, hosts.StatePaused, hosts.StateShutdown,
		hosts.StatePMSuspended:
		return true
	}
	return false
}

// Hosts yields the configured hosts with hypervisor index >= from, in index order.
func (s *Snapshot) Hosts(from uint32) iter.Seq[*HostEntry] {
	return func(yield func(*HostEntry) bool) {
		it, err := s.txn.LowerBound(tableHost, indexNumber, numKey(from))
		if err != nil {
			return
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if !yield(raw.(*HostEntry)) {
				return
			}
		}
	}
}

// HostByIndex returns the host with that hypervisor index.
func (s *Snapshot) HostByIndex(idx uint32) (*HostEntry, bool) {
	for e := range s.Hosts(idx) {
		return e, e.Index == idx
	}
	return nil, false
}

// Host returns a host by configured name (= context name).
func (s *Snapshot) Host(name string) (*HostEntry, bool) {
	if s.lastHost != nil && s.lastHost.Name == name {
		return s.lastHost, true
	}
	e, ok := s.hosts[name]
	if ok {
		s.lastHost = e
	}
	return e, ok
}

// HostHealth returns a host's connection health.
func (s *Snapshot) HostHealth(name string) (hosts.Health, bool) {
	if e, ok := s.hosts[name]; ok {
		return e.Health, true
	}
	return hosts.Health{}, false
}

// Stats returns host's last counter snapshot (nil if none yet) and whether it is fresh:
// the host is Up and the snapshot is at most 3 stats intervals old.
func (s *Snapshot) Stats(host string) (st *hosts.Stats, fresh bool) {
	if s.statsHost == host && s.lastStats != nil {
		return s.lastStats, s.statsFresh
	}
	st = s.stats[host]
	if st == nil {
		return nil, false
	}
	iv := s.interval
	if e := s.hosts[host]; e != nil && e.StatsInterval > 0 {
		iv = e.StatsInterval
	}
	fresh = s.up(host) && s.now.Sub(st.At) <= 3*iv
	s.statsHost, s.lastStats, s.statsFresh = host, st, fresh
	return st, fresh
}

// DomainStats returns a VM row's counters and whether they are current: its host is
// connected and polled recently. A domain missing from a current poll (inactive) has
// zero counters, which are current. The result is read only: the Stats' own.
func (s *Snapshot) DomainStats(r VMRow) (*hosts.DomainStats, bool) {
	st, fresh := s.Stats(r.Host)
	if !fresh || r.Stale {
		return &noStats, false
	}
	if s.dsVM != r.VM { // the sub-rows of one VM come one after another
		ds, ok := st.Domain(r.Domain.UUID)
		if !ok {
			ds = &noStats
		}
		s.ds, s.dsVM = ds, r.VM
	}
	return s.ds, true
}

// noStats is DomainStats' answer without counters; never modified.
var noStats hosts.DomainStats
