package view

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/vmgate/vmgate/hosts"
)

// The inventory is a go-memdb database. Every record below is stored by pointer and
// shared by every snapshot that sees it: readers must never modify one, and the writer
// inserts fresh copies instead of mutating.
//
// Index keys are raw bytes built by the key helpers at the end of this file. Numbers are
// big-endian uint32 so that byte order equals numeric order and a LowerBound seek finds
// "the first row with index >= k" in O(log n).

const (
	tableVM      = "vm"
	tablePool    = "pool"
	tableImage   = "image"
	tableHost    = "host"
	indexID      = "id"
	indexHost    = "host"
	indexAgentOS = "agent_os"
	indexKernel  = "kernel"
	indexHostKn  = "host_kernel"
	indexNumber  = "number"
)

// VM is one domain as one host reports it: the inventory holds one VM per (UUID, host).
// Disks and NICs carry the indexes allocated for them, sorted by index.
type VM struct {
	Host string
	VMID uint32 // vmId: the same for a UUID on every host and in every context
	// Domain is what the host reported, compactly, without its devices (they are
	// below, once).
	Domain Domain
	Disks  []Disk // the domain's disks with their indexes, sorted by StorageIndex
	NICs   []NIC  // the domain's NICs with their indexes, sorted by NetworkIndex
	HBAs   []HBA  // the domain's controllers with their indexes, sorted by HBAIndex

	OSIndex     uint32 // supportedOsTable row (its registry key: osRegKey(&Domain))
	KernelIndex uint32 // kernelTable row; 0 when the domain does not boot a kernel directly
	runStart    bool   // RunSeen is the run's start, as the view saw it (ActiveSince)

	// RunSeen is when the view first saw the current run of an active domain: ActiveSince
	// when known, else the write that first showed this run (vmUptime counts from it);
	// zero when inactive.
	RunSeen time.Time

	FirstSeen uint64 // order in which the view first heard of this (UUID, host)
}

// ActiveSince is when the current run of an active domain started, as the view saw it
// start; zero when inactive or unknown (running already when first seen, or restarted
// while the host was not followed). When known, it is RunSeen.
func (vm *VM) ActiveSince() time.Time {
	if vm.runStart {
		return vm.RunSeen
	}
	return time.Time{}
}

// domain returns the domain as its host reported it, devices in the XML's order.
func (vm *VM) domain() hosts.Domain {
	d := vm.Domain.hostsDomain()
	d.Disks = inOrder(vm.Disks, func(x *Disk) (int32, hosts.Disk) { return x.pos, x.hostsDisk() })
	d.NICs = inOrder(vm.NICs, func(x *NIC) (int32, hosts.NIC) { return x.pos, x.hostsNIC() })
	d.Controllers = inOrder(vm.HBAs, func(x *HBA) (int32, hosts.Controller) { return x.pos, x.Controller })
	return d
}

// inOrder returns the devices of xs at their places in the domain's XML.
func inOrder[T, D any](xs []T, dev func(*T) (int32, D)) []D {
	if len(xs) == 0 {
		return nil
	}
	out := make([]D, len(xs))
	for i := range xs {
		pos, d := dev(&xs[i])
		out[pos] = d
	}
	return out
}

// Disk is a domain disk (hosts.Disk's fields) with its storageIndex and, when it has a
// source, the diskImageIndex of the image it uses. Its fields of few distinct values
// (DiskKind) are shared by every disk with the same ones: 120 bytes a disk instead of
// 208 with a whole hosts.Disk. The pointer is never nil in a record of the view.
type Disk struct {
	*DiskKind
	Target               string // vda, sda, hdc...: stable key
	Source               string
	Volume               string // type=volume only
	Capacity, Allocation uint64
	StorageIndex         uint32
	DiskImageIndex       uint32 // 0 when the disk has no source (empty cdrom)
	ImagePath            string // the DiskImage's Path: the volume's path for type=volume, else Source
	pos                  int32  // place among the domain's disks
	ReadOnly             bool
}

// DiskKind is what many disks share (hosts.Disk's fields of the same names).
type DiskKind struct {
	Device, Type, Bus, Pool, Format string
}

// hostsDisk is d as hosts reported it.
func (d *Disk) hostsDisk() hosts.Disk {
	return hosts.Disk{Device: d.Device, Type: d.Type, Bus: d.Bus, Target: d.Target, Source: d.Source,
		Pool: d.Pool, Volume: d.Volume, Format: d.Format, ReadOnly: d.ReadOnly,
		Capacity: d.Capacity, Allocation: d.Allocation}
}

// NIC is a domain interface (hosts.NIC's fields) with its networkIndex; its fields of
// few distinct values (NICKind) are shared as a Disk's: 64 bytes instead of 112.
type NIC struct {
	*NICKind
	MAC          string // lowercase aa:bb:cc:dd:ee:ff: stable key
	Target       string // host-side device (vnet0) while running
	NetworkIndex uint32
	pos          int32
}

// NICKind is what many interfaces share (hosts.NIC's fields of the same names).
type NICKind struct {
	Type, Source, Model string
}

// hostsNIC is n as hosts reported it.
func (n *NIC) hostsNIC() hosts.NIC {
	return hosts.NIC{MAC: n.MAC, Type: n.Type, Source: n.Source, Model: n.Model, Target: n.Target}
}

// HBA is a domain controller with its hbaIndex.
type HBA struct {
	hosts.Controller
	HBAIndex uint32
	pos      int32
}

// StoragePool is a pool of one host with its index (unique over all hosts).
type StoragePool struct {
	Host  string
	Index uint32
	Pool  hosts.Pool
}

// DiskImage is a row of the disk images table: a volume of a pool, or an image file or
// device a domain uses outside any pool. Index is unique over all hosts.
type DiskImage struct {
	Host      string
	Index     uint32
	PoolIndex uint32        // 0 outside pools (beside Index: no padding after either)
	Path      string        // volume path, or the disk source
	Volume    *hosts.Volume // nil for an image outside pools
	Format    string        // from the volume, else from the first disk that uses it
	// Capacity and Allocation of an image outside pools: from the first disk that uses
	// it and has them (the volume's own otherwise).
	Capacity, Allocation uint64
	// SizeFrom is that disk (zero UUID: none): while its domain runs, the MIB shows the
	// capacity of its latest stats poll (block.N.capacity, which follows a live resize);
	// the domain read's otherwise, and always its allocation.
	SizeFrom DiskRef
}

// DiskRef names one disk of one domain of the image's host.
type DiskRef struct {
	UUID   hosts.UUID
	Target string
}

// HostEntry is what the view knows of one configured hypervisor.
type HostEntry struct {
	Name       string // configured name = SNMPv3 context
	Index      uint32 // hypervisor table index
	URI        string // as configured
	Hypervisor hosts.Hypervisor
	Health     hosts.Health
	VMs        int       // domains the host reports (stale ones included while down)
	SyncedAt   time.Time // when the view applied the last full resync; zero if never
	// StatsInterval is the host's polling period; counters older than 3 of them are stale.
	StatsInterval time.Duration
}

// schema returns the inventory schema; validated by a test.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableVM: {Name: tableVM, Indexes: map[string]*memdb.IndexSchema{
			// id: host, vmId: a host context in index order; hostKey(host) as a
			// prefix (Get) lists one host's records.
			indexID: {Name: indexID, Unique: true, Indexer: keyIndex(vmHostKey)},
			// The merged context's vmId order comes from vmindex.go's summary, a vmId's
			// hosts from View.vmHosts: no index by vmId (nor by UUID).
			// agent_os: the VMs whose OS row comes from a guest agent's answer, by
			// osIndex (whether a VM still holds such a row). supportedOsTable's rows
			// come from osindex.go's summary, not from an index of every VM.
			indexAgentOS: {Name: indexAgentOS, AllowMissing: true, Indexer: keyIndex(vmAgentOSKey)},
			indexKernel:  {Name: indexKernel, AllowMissing: true, Indexer: keyIndex(vmKernelKey)},
			indexHostKn: {Name: indexHostKn, AllowMissing: true, Indexer: keyIndex(func(o any) ([]byte, bool) {
				vm := o.(*VM)
				return hostNumKey(vm.Host, vm.KernelIndex), vm.KernelIndex != 0
			})},
		}},
		tablePool: {Name: tablePool, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: keyIndex(func(o any) ([]byte, bool) {
				return numKey(o.(*StoragePool).Index), true
			})},
			indexHost: {Name: indexHost, Unique: true, Indexer: keyIndex(func(o any) ([]byte, bool) {
				p := o.(*StoragePool)
				return hostNumKey(p.Host, p.Index), true
			})},
		}},
		// One record per host (hostImages), not per image: see imageindex.go.
		tableImage: {Name: tableImage, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: keyIndex(func(o any) ([]byte, bool) {
				return hostKey(o.(*hostImages).Host), true
			})},
		}},
		tableHost: {Name: tableHost, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			indexNumber: {Name: indexNumber, Unique: true, Indexer: keyIndex(func(o any) ([]byte, bool) {
				return numKey(o.(*HostEntry).Index), true
			})},
		}},
	}}
}

// keyIndex is a memdb indexer over a key computed from the record; queries pass the key
// as one []byte argument built by the same helpers.
type keyIndex func(obj any) ([]byte, bool)

func (f keyIndex) FromObject(obj any) (bool, []byte, error) {
	k, ok := f(obj)
	return ok, k, nil
}

func (f keyIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one []byte argument, got %d", len(args))
	}
	k, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("want []byte argument, got %T", args[0])
	}
	return k, nil
}

func (f keyIndex) PrefixFromArgs(args ...any) ([]byte, error) { return f.FromArgs(args...) }

// numKey encodes n big-endian: byte order = numeric order.
func numKey(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// hostKey is the prefix of every host-scoped key. Host names never contain NUL.
func hostKey(host string) []byte { return append([]byte(host), 0) }

func hostNumKey(host string, n uint32) []byte {
	return binary.BigEndian.AppendUint32(hostKey(host), n)
}

func vmHostKey(o any) ([]byte, bool) {
	vm := o.(*VM)
	return hostNumKey(vm.Host, vm.VMID), true
}

func vmAgentOSKey(o any) ([]byte, bool) {
	vm := o.(*VM)
	return numKey(vm.OSIndex), vm.Domain.GuestOS.Known()
}

func vmKernelKey(o any) ([]byte, bool) {
	vm := o.(*VM)
	return numKey(vm.KernelIndex), vm.KernelIndex != 0
}

// Registry keys.

// StorageKey is the registry key (namespace NSStorage) of disk target of vmID: a
// manager creating a storage row binds its storageIndex to it before the disk exists.
func StorageKey(vmID uint32, target string) string { return fmt.Sprintf("%d/%s", vmID, target) }
func networkRegKey(vmID uint32, mac string) string { return fmt.Sprintf("%d/%s", vmID, mac) }

func hbaRegKey(vmID uint32, c hosts.Controller) string {
	return fmt.Sprintf("%d/%s/%d", vmID, c.Type, c.Index)
}
func hostRegKey(host, name string) string { return host + ":" + name }

// osRegKey identifies a guest OS: what its guest agent reported (os-release ID and
// VERSION_ID), else its libosinfo id, else its OS type. The agent wins: it tells what
// runs now, the metadata what was installed.
func osRegKey(d *Domain) string {
	if g := d.GuestOS; g.Known() {
		// Everything supportedOsTable shows of the row is in its key (the name, the
		// version, the ID the family comes from): a guest's answer never changes the
		// row other VMs point at. ID and VERSION_ID hold no '/' or NUL (hosts keeps
		// os-release's identifier characters only), the name no NUL.
		return osAgentKey + g.ID + "/" + g.VersionID + "\x00" + cmp.Or(g.Name, g.PrettyName, g.ID)
	}
	if d.OSInfoID != "" {
		return d.OSInfoID
	}
	return "type:" + d.OSType
}

// osAgentKey starts the os keys of guest agents' answers: the guest writes them, so
// they are released when no VM holds them any more (other os keys are few and kept).
const osAgentKey = "agent:"

// kernelRegKey identifies a direct kernel boot; "" when there is none.
func kernelRegKey(d *Domain) string {
	if d.Kernel == "" {
		return ""
	}
	return d.Kernel + "\x00" + d.Initrd + "\x00" + d.Cmdline
}
