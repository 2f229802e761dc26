package hosts

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"
)

// UUID is a libvirt domain UUID.
type UUID [16]byte

// String renders the canonical 8-4-4-4-12 lowercase form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// ParseUUID accepts the canonical form, with or without dashes.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	clean := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) != 32 {
		return u, fmt.Errorf("uuid %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(u[:], clean); err != nil {
		return u, fmt.Errorf("uuid %q: %w", s, err)
	}
	return u, nil
}

// Status is a host connection's state.
type Status int

const (
	Connecting Status = iota + 1
	Up
	Down
)

func (s Status) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Health is what the gateway shows of a host's connection.
type Health struct {
	Status           Status
	Since            time.Time // when Status last changed
	LastError        string    // last connection or sync error, "" if none
	LastSync         time.Time // end of the last successful full resync
	LastSyncDuration time.Duration
	LastSyncRPCs     uint64 // libvirt calls the last resync made
}

// DomainState mirrors libvirt's virDomainState.
type DomainState int

const (
	StateNoState     DomainState = 0
	StateRunning     DomainState = 1
	StateBlocked     DomainState = 2
	StatePaused      DomainState = 3
	StateShutdown    DomainState = 4 // being shut down
	StateShutoff     DomainState = 5
	StateCrashed     DomainState = 6
	StatePMSuspended DomainState = 7
)

// Hypervisor describes the host as libvirt reports it.
type Hypervisor struct {
	URI            string // as configured
	Type           string // ConnectGetType, e.g. "QEMU"
	Version        uint64 // ConnectGetVersion, e.g. 7002022
	LibvirtVersion uint64 // ConnectGetLibVersion, e.g. 9000000
	Hostname       string
	Node           NodeInfo
}

// NodeInfo is libvirt's virNodeInfo.
type NodeInfo struct {
	Model     string
	MemoryKiB uint64
	CPUs      uint32
	MHz       uint32
	Nodes     uint32
	Sockets   uint32
	Cores     uint32
	Threads   uint32
}

// Domain is a VM with what the MIB needs from its state and XML.
type Domain struct {
	UUID       UUID
	Name       string
	ID         int32 // -1 when inactive
	State      DomainState
	Reason     int32
	Persistent bool
	Autostart  bool

	MemoryKiB        uint64 // <memory>: maximum
	CurrentMemoryKiB uint64 // <currentMemory>
	VCPUs            int    // current vCPUs (<vcpu current=...>, else <vcpu>)
	MaxVCPUs         int    // <vcpu>

	DomainType string // <domain type=...>: kvm, qemu, xen, test
	OSType     string // <os><type>: hvm, xen, linux, exe
	Arch       string // <os><type arch=...>
	Machine    string // <os><type machine=...>
	Kernel     string // direct kernel boot
	Initrd     string
	Cmdline    string
	OSInfoID   string // libosinfo id from <metadata>, e.g. http://debian.org/debian/12
	GuestAgent bool   // has a QEMU guest agent channel (org.qemu.guest_agent.0)
	// FixedVCPUs: while it runs the domain cannot lose a vCPU. QEMU unplugs only vCPUs
	// plugged while it runs (<vcpus><vcpu hotpluggable='yes'>), and only with ACPI;
	// other drivers (test, xen...) have no such limit here.
	FixedVCPUs bool
	// CPUSet is <vcpu cpuset>: the host CPUs every vCPU may run on unless pinned; nil
	// when the definition gives none (every host CPU).
	CPUSet CPUSet
	// VCPUPins are <cputune><vcpupin>: one vCPU's own host CPUs, in the XML's order.
	VCPUPins []VCPUPin
	// GuestOS is the guest agent's last answer about the running OS (zero when there is
	// no agent, it has not answered yet, or the domain is not running). It comes from
	// the address rounds (address_interval), not from the XML.
	GuestOS GuestOS

	Disks       []Disk
	NICs        []NIC
	Controllers []Controller
}

// CPUSet is a set of host CPU numbers (from 0), ascending, without repeats.
type CPUSet []uint32

// Has reports whether cpu is in the set.
func (s CPUSet) Has(cpu uint32) bool {
	_, ok := slices.BinarySearch(s, cpu)
	return ok
}

// VCPUPin is a <vcpupin>: vCPU number VCPU (from 0) runs on CPUs only.
type VCPUPin struct {
	VCPU int
	CPUs CPUSet
}

// Affinity returns the host CPUs vCPU number vcpu (from 0) may run on as the
// definition says (its <vcpupin>, else <vcpu cpuset>); false: every host CPU.
func (d *Domain) Affinity(vcpu int) (CPUSet, bool) {
	for _, p := range d.VCPUPins {
		if p.VCPU == vcpu {
			return p.CPUs, true
		}
	}
	return d.CPUSet, d.CPUSet != nil
}

// Disk is a <disk> of the domain XML.
type Disk struct {
	Device   string // disk, cdrom, floppy, lun
	Type     string // file, block, volume, network, dir
	Bus      string // virtio, sata, ide, scsi, usb, fdc
	Target   string // vda, sda, hdc...: stable key
	Source   string // path for file/block; pool/volume for volume; name for network
	Pool     string // type=volume only
	Volume   string // type=volume only
	Format   string // <driver type=...>: raw, qcow2
	ReadOnly bool
	// Capacity and Allocation (bytes) come from DomainGetBlockInfo for file and block
	// disks outside storage pools (a pool volume has its own sizes); 0 if unknown.
	Capacity, Allocation uint64
}

// NIC is an <interface> of the domain XML.
type NIC struct {
	MAC    string // lowercase aa:bb:cc:dd:ee:ff: stable key
	Type   string // network, bridge, direct, user, ethernet
	Source string // network or bridge name, or device
	Model  string // virtio, e1000, rtl8139
	Target string // host-side device (vnet0) while running
}

// Controller is a <controller> of the domain XML.
type Controller struct {
	Type  string // pci, usb, scsi, ide, sata, virtio-serial
	Model string
	Index int
}

// Pool is a storage pool.
type Pool struct {
	Name       string
	UUID       UUID
	Type       string // dir, logical, netfs...
	Path       string // <target><path>
	Active     bool
	Capacity   uint64 // bytes
	Allocation uint64
	Available  uint64
}

// Volume is a storage volume of a pool.
type Volume struct {
	Pool       string
	Name       string
	Key        string
	Path       string
	Format     string // raw, qcow2, iso...
	Capacity   uint64 // bytes
	Allocation uint64
}

// Inventory is everything a full resync learns about a host.
type Inventory struct {
	Hypervisor Hypervisor
	Domains    []Domain
	Pools      []Pool
	Volumes    []Volume
}

// DomainStats are the counters ConnectGetAllDomainStats returns for one domain.
// Fields libvirt did not report are zero; Has* say which groups came back.
type DomainStats struct {
	UUID       UUID
	State      DomainState
	Reason     int32
	HasBalloon bool

	CPUTimeNs, CPUUserNs, CPUSystemNs uint64

	BalloonCurrentKiB   uint64
	BalloonMaximumKiB   uint64
	BalloonRSSKiB       uint64
	BalloonUnusedKiB    uint64 // guest-reported free memory, needs a balloon driver
	BalloonAvailableKiB uint64
	BalloonUsableKiB    uint64

	// In a Stats, VCPUs, Blocks and Nets are capped sub-slices of arrays shared by
	// all the host's domains.
	VCPUs  []VCPUStats
	Blocks []BlockStats
	Nets   []NetStats
	// Addrs are the interfaces' IP addresses of a running domain, in libvirt's order
	// (DomainInterfaceAddresses, read with the counters); nil when none are known.
	Addrs []IfaceAddr
}

// VCPUStats is one vcpu.<n>.* group.
type VCPUStats struct {
	Number int32
	State  int32
	TimeNs uint64
}

// BlockStats is one block.<n>.* group.
type BlockStats struct {
	Name                           string // target, e.g. vda
	Path                           string
	RdReqs, RdBytes                uint64
	WrReqs, WrBytes                uint64
	RdTimesNs, WrTimesNs           uint64 // rd.times, wr.times: total time spent on requests
	Errors                         uint64
	Capacity, Allocation, Physical uint64
}

// NetStats is one net.<n>.* group.
type NetStats struct {
	Name                            string // host-side device, e.g. vnet0
	RxBytes, RxPkts, RxErrs, RxDrop uint64
	TxBytes, TxPkts, TxErrs, TxDrop uint64
}

// Stats is one poll of a host's counters. It is immutable once handed to a Sink.
// A host's domains are packed in a few arrays (a poll of thousands of domains is a
// handful of objects): the DomainStats, and the VCPU, Block and Net groups of all of
// them.
type Stats struct {
	At      time.Time
	domains []DomainStats
	// index finds a domain by UUID (a walk looks one up per row and column): open
	// addressing, a slot holds a domains index + 1, 0 when empty.
	index []int32
}

// NewStats packs the counters of a host's domains, one DomainStats per UUID, polled
// at at. It copies ds and their VCPU, Block and Net groups; Addrs stay shared.
func NewStats(at time.Time, ds []DomainStats) *Stats {
	return packStats(at, len(ds), func(i int) *DomainStats { return &ds[i] })
}

// packStats is NewStats of the n DomainStats that dom gives.
func packStats(at time.Time, n int, dom func(int) *DomainStats) *Stats {
	var nv, nb, nn int
	for i := range n {
		d := dom(i)
		nv, nb, nn = nv+len(d.VCPUs), nb+len(d.Blocks), nn+len(d.Nets)
	}
	st := &Stats{At: at, domains: make([]DomainStats, n)}
	if n > 0 {
		st.index = make([]int32, 1<<bits.Len(uint(n+n/2))) // under two thirds full
	}
	vcpus, blocks, nets := make([]VCPUStats, 0, nv), make([]BlockStats, 0, nb), make([]NetStats, 0, nn)
	for i := range st.domains {
		d := &st.domains[i]
		*d = *dom(i)
		d.VCPUs, vcpus = packed(vcpus, d.VCPUs)
		d.Blocks, blocks = packed(blocks, d.Blocks)
		d.Nets, nets = packed(nets, d.Nets)
		st.index[st.slot(d.UUID)] = int32(i + 1)
	}
	return st
}

// packed appends group to all and returns the copy, a capped sub-slice of the new all
// (nil when group is empty), and the new all.
func packed[T any](all, group []T) ([]T, []T) {
	if len(group) == 0 {
		return nil, all
	}
	n := len(all)
	all = append(all, group...)
	return all[n:len(all):len(all)], all
}

// statsSeed seeds the hash of every Stats' index.
var statsSeed = rand.Uint64()

// home returns the index slot where the probe for domain id starts. The hash mixes
// every byte: UUIDs made by a tool (f1ee7000-0001-4000-8000-000000000042) differ in a
// few bytes only. (maphash.Comparable took 25 ns.)
func (s *Stats) home(id UUID) int {
	h := mix64(mix64(binary.LittleEndian.Uint64(id[:8])^statsSeed) ^ binary.LittleEndian.Uint64(id[8:]))
	return int(h & uint64(len(s.index)-1))
}

// mix64 is MurmurHash3's 64-bit finalizer: every bit of x moves every bit of the result.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// slot returns the index slot of domain id: its own, or the empty one where it would go.
func (s *Stats) slot(id UUID) int {
	mask := len(s.index) - 1
	for i := s.home(id); ; i = (i + 1) & mask {
		if j := s.index[i]; j == 0 || s.domains[j-1].UUID == id {
			return i
		}
	}
}

// Domain returns the counters of domain id, read only; false when the poll did not
// list it.
func (s *Stats) Domain(id UUID) (*DomainStats, bool) {
	if len(s.index) == 0 {
		return nil, false
	}
	if j := s.index[s.slot(id)]; j != 0 {
		return &s.domains[j-1], true
	}
	return nil, false
}

// Domains returns the counters of every domain the poll listed, in libvirt's order;
// read only.
func (s *Stats) Domains() []DomainStats {
	return s.domains
}

// Sink receives what a Supervisor learns. Calls for one host arrive in order, from
// one goroutine; they must return promptly.
type Sink interface {
	Health(host string, h Health)
	// Synced replaces everything known about the host (a full resync).
	Synced(host string, inv Inventory)
	// DomainUpdated inserts or replaces one domain after an event or an operation.
	DomainUpdated(host string, d Domain)
	// DomainPatched writes the fields f of d over the Sink's record of d.UUID (f.Apply),
	// after an operation that changed only those; false when the Sink has no record of
	// it, and the Supervisor then reports the whole domain (DomainUpdated).
	DomainPatched(host string, d Domain, f Fields) bool
	// DomainsPatched is DomainPatched for several domains of the host in one write; a
	// record still waiting to be written takes the fields too, and a domain the Sink
	// has no record of (removed since) is left out.
	DomainsPatched(host string, ds []Domain, f Fields)
	// DomainRemoved drops one domain (undefined, or transient and stopped).
	DomainRemoved(host string, id UUID)
	// StorageSynced replaces the host's storage pools and volumes (sorted by name),
	// re-read between resyncs because the pool list changed or storage_interval passed.
	StorageSynced(host string, pools []Pool, vols []Volume)
	Stats(host string, s *Stats)
}

// Fields names the parts of a Domain that a re-read after an operation gives
// (Sink.DomainPatched).
type Fields uint8

const (
	// FieldState is State and Reason; the ID too when the read gives one (> 0), and
	// -1 once shut off. A domain shut off or crashed has no GuestOS.
	FieldState Fields = 1 << iota
	// FieldMemory is MemoryKiB and CurrentMemoryKiB.
	FieldMemory
	// FieldAutostart is Autostart.
	FieldAutostart
	// FieldXML is what the domain's XML gives (ParseDomainXML) with the sizes of its
	// disks outside pools: everything but the UUID, ID, State, Reason, Persistent,
	// Autostart and GuestOS.
	FieldXML
	// FieldSizes is Capacity and Allocation of each disk of src, written over dst's disk
	// of the same target and source (a disk replaced since keeps its own).
	FieldSizes
)

// Apply writes the fields f of src over dst, a record of the same domain. It refuses
// (false, dst unchanged) a state that makes active a domain dst shows inactive when
// src has no ID, and an ID other than dst's (the domain restarted since): those are to
// be read whole.
func (f Fields) Apply(dst *Domain, src *Domain) bool {
	if f&FieldState != 0 && src.ID <= 0 && src.State != StateShutoff && dst.ID <= 0 {
		return false
	}
	if f&FieldState != 0 && src.ID > 0 && dst.ID > 0 && src.ID != dst.ID {
		return false
	}
	if f&FieldXML != 0 {
		old := *dst
		*dst = *src
		dst.UUID, dst.ID, dst.State, dst.Reason = old.UUID, old.ID, old.State, old.Reason
		dst.Persistent, dst.Autostart, dst.GuestOS = old.Persistent, old.Autostart, old.GuestOS
	}
	if f&FieldState != 0 {
		dst.State, dst.Reason = src.State, src.Reason
		switch {
		case src.State == StateShutoff:
			dst.ID = -1
		case src.ID > 0:
			dst.ID = src.ID
		}
		if src.State == StateShutoff || src.State == StateCrashed {
			dst.GuestOS = GuestOS{}
		}
	}
	if f&FieldMemory != 0 {
		dst.MemoryKiB, dst.CurrentMemoryKiB = src.MemoryKiB, src.CurrentMemoryKiB
	}
	if f&FieldAutostart != 0 {
		dst.Autostart = src.Autostart
	}
	if f&FieldSizes != 0 {
		dst.Disks = slices.Clone(dst.Disks) // dst's may be shared with its Sink's record
		for i := range dst.Disks {
			dk := &dst.Disks[i]
			if c, a, ok := src.DiskSizes(dk.Target, dk.Source); ok {
				dk.Capacity, dk.Allocation = c, a
			}
		}
	}
	return true
}

// DiskSizes returns the sizes d gives its disk of that target and source: what
// FieldSizes writes over a record's disk. false when d has no such disk.
func (d *Domain) DiskSizes(target, source string) (capacity, allocation uint64, ok bool) {
	for _, s := range d.Disks {
		if s.Target == target && s.Source == source {
			capacity, allocation, ok = s.Capacity, s.Allocation, true
		}
	}
	return capacity, allocation, ok
}

// Errors returned by operations; libvirt's own errors are wrapped and can be
// inspected with errors.As(err, &libvirt.Error{}).
var (
	ErrNotConnected = errors.New("host not connected")
	ErrTimeout      = errors.New("libvirt call timed out")
	ErrNotFound     = errors.New("domain not found")
	// ErrAbandoned: the caller's context ended while libvirt went on with an operation
	// it cannot cancel (a full volume copy); what it makes is deleted when it ends.
	ErrAbandoned = errors.New("operation still running in libvirt, abandoned")
)

// Event is a libvirt lifecycle event as the daemon announced it: Type is
// virDomainEventType, Detail the detail enum of that type.
type Event struct {
	UUID   UUID
	Name   string
	Type   int32
	Detail int32
}

// EventSink is a Sink that also wants every lifecycle event: a Supervisor whose Sink
// implements it calls DomainEvent once per event, in libvirt's order, from the
// goroutine that reads the events (so not in order with the other Sink calls: the
// domain's re-read follows the event). It must return promptly.
type EventSink interface {
	Sink
	DomainEvent(host string, ev Event)
}
