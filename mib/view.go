package mib

import (
	"net/netip"
	"time"
)

// View is the read side of the gateway as the MIB handler needs it (gateway implements
// it; mib never imports gateway or hosts). The handler takes one Snapshot per request
// (PDU) and uses it from one goroutine: a Snapshot may keep cursors without locks.
type View interface {
	// Snapshot returns one consistent picture of context ctx: "" is the merged cluster
	// (one row per VM UUID), any other name one hypervisor. It must be cheap (no copy
	// of the rows) and safe for concurrent use.
	Snapshot(ctx string) Snapshot
}

// Snapshot is one context's rows at one moment. Every seek method returns the first row
// whose index is >= the arguments (compared as the index tuple: {vmID, sub} orders by
// vmID, then sub; all zero: the first row), false when there is none; each must cost
// O(log n) in the number of rows (plus the rows of VMs without such sub-rows skipped). Rows are values: the handler
// may keep them, never modifies their strings' backing data.
type Snapshot interface {
	// Known reports whether the context exists ("" always does). An unknown context
	// has no instances at all.
	Known() bool
	// Host is the context's own hypervisor (vmmName, vmmVersion...); false in the
	// merged context.
	Host() (HypervisorRow, bool)
	// IndexNext is vmIndexNext: a vmId no VM has, for creating one.
	IndexNext() uint32
	// StorageIndexNext is storageIndexNext: a storageIndex no device has.
	StorageIndexNext() uint32
	// TemplateChoice returns virtualMachineTemplate and storageTemplate (0: none).
	TemplateChoice() (template, storage uint32)

	Hypervisor(from uint32) (HypervisorRow, bool) // every configured host; a host's context: that host
	VM(from uint32) (VMRow, bool)                 // virtualMachinesTable and memoryTable
	// VMCounters fills the counters of a row VM returned (Counters and the fields
	// after it), which VM may leave out: most columns show none, and a walk reads
	// one column of every row.
	VMCounters(r *VMRow)
	CPU(vmID, cpu uint32) (CPURow, bool)
	Storage(vmID, storage uint32) (StorageRow, bool)
	DiskImage(from uint32) (DiskImageRow, bool)
	Network(vmID, network uint32) (NetworkRow, bool)
	NetworkAddress(from AddrKey) (NetworkAddressRow, bool) // compared by AddrKey.Compare
	HBA(vmID, hba uint32) (HBARow, bool)
	OS(from uint32) (OSRow, bool)
	Kernel(from uint32) (KernelRow, bool)
	Template(from uint32) (TemplateRow, bool)
	Replica(from uint32) (ReplicaRow, bool) // the merged context only; none with one gateway

	// VM-MIB (std_*.go): the hypervisor group, and vmCpuAffinityTable's rows (index
	// {vmID, cpu, phys}; cpu as in CPU, phys a host CPU number + 1).
	Std() StdInfo
	CPUAffinity(vmID, cpu, phys uint32) (CPUAffinityRow, bool)
}

// VMFiller is a Snapshot that can also read VM's row into dst (optional): a walk reads
// a row per varbind, and copying a returned row costs more than building it.
type VMFiller interface {
	// VMInto is VM, the row read into dst; dst is left as it was when it returns false.
	VMInto(from uint32, dst *VMRow) bool
}

// ImageFiller is a Snapshot that can also read DiskImage's row into dst (optional):
// DiskImageInto gives the capacity the image record has, DiskImageCapacity adds what a
// running domain's stats say of an image outside pools (a map lookup the walk leaves
// to diskImageCapacity's column).
type ImageFiller interface {
	DiskImageInto(from uint32, dst *DiskImageRow) bool
	DiskImageCapacity(row *DiskImageRow)
}

// DeviceFiller is a Snapshot that can also read Storage's and Network's rows into dst
// (optional, as VMFiller).
type DeviceFiller interface {
	// StorageInto is Storage without the row's capacity and counters (Capacity,
	// Allocation, Counters and the statistics), which StorageCounters adds: a walk
	// reads them for the columns showing them only.
	StorageInto(vmID, storage uint32, dst *StorageRow) bool
	StorageCounters(row *StorageRow)
	// NetworkInto is Network without the row's counters, which NetworkCounters adds.
	NetworkInto(vmID, network uint32, dst *NetworkRow) bool
	NetworkCounters(row *NetworkRow)
	// CPUInto is CPU without the row's state, time and Counters, which CPUCounters adds.
	CPUInto(vmID, cpu uint32, dst *CPURow) bool
	CPUCounters(row *CPURow)
}

// HypervisorRow is a row of hypervisorTable.
type HypervisorRow struct {
	Index          uint32
	Name           string // configured name = context name
	URI            string // as managers may see it: without password or query (hosts.PublicURI)
	Type           string // virConnectGetType, "" if never connected
	Version        uint64 // virConnectGetVersion, 0 if unknown
	LibvirtVersion uint64 // virConnectGetLibVersion, 0 if unknown
	Hostname       string
	CPUModel       string
	CPUs           uint32
	MHz            uint32
	MemoryKiB      uint64
	Conn           ConnState
	LastError      string
	LastSync       time.Time // zero: never synced
	LastSyncTook   time.Duration
	VMCount        uint32
}

// VMRow is a row of virtualMachinesTable and memoryTable. A VM whose host is not
// connected has Stale set: its state reads unknown(9) and it has no current counters.
type VMRow struct {
	ID          uint32
	UUID        [16]byte
	Name        string
	Host        string
	OSIndex     uint32
	KernelIndex uint32
	State       VMState // libvirt's state + 1 as last known (the handler shows unknown if Stale)
	Stale       bool
	// ConfDir is where the host's driver keeps persistent definitions (vmConfFile is
	// ConfDir/Name.xml); "" when unknown.
	ConfDir    string
	Autostart  bool
	Persistent bool
	Uptime     time.Duration // 0 when inactive or unknown
	VCPUs      uint32
	MaxVCPUs   uint32
	MemoryKiB  uint64 // current memory
	MaxMemKiB  uint64 // maximum memory
	// VM-MIB's view of the state (the handler shows OperUnknown if Stale) and of the OS.
	Admin  StdAdminState
	Oper   StdOperState
	OSType string // vmOSType: what the definition says the guest is

	// Counters is true when the stats below are current (the host is connected and its
	// last poll is recent). Otherwise the handler shows no Counter64 instances and 0
	// for the memory gauges (the MIB's "0 if unknown").
	Counters   bool
	CPUTimeNs  uint64
	UsedKiB    uint64 // balloon: available - unused; 0 if the guest does not report
	FreeKiB    uint64 // balloon: unused
	BalloonKiB uint64 // balloon: current
	RSSKiB     uint64
}

// CPURow is a row of cpuTable: vCPU number Index-1 of VM VMID.
type CPURow struct {
	VMID     uint32
	Index    uint32
	UUID     [16]byte
	Arch     string
	MHz      uint32
	State    CPUState // 0: unknown (no instance of cpuState)
	Counters bool     // as VMRow.Counters
	TimeNs   uint64
}

// StorageRow is a row of storageTable.
type StorageRow struct {
	VMID           uint32
	Index          uint32
	UUID           [16]byte
	Device         StorageDevice
	DiskImageIndex uint32 // 0: empty drive or a source outside diskImagesTable
	Target         string
	Bus            string
	Capacity       uint64 // bytes, 0 if unknown
	Allocation     uint64
	Counters       bool // as VMRow.Counters
	ReadReqs       uint64
	ReadBytes      uint64
	WriteReqs      uint64
	WriteBytes     uint64
	// VM-MIB's columns (vmStorageTable).
	SourceType  StdStorageSourceType
	Format      string // vmStorageSourceTypeString
	ResourceID  string // the source: path, volume or network name
	ReadOnly    bool
	Media       StdMediaType
	ReadTimeNs  uint64 // with the counters: time spent on reads, nanoseconds
	WriteTimeNs uint64
}

// DiskImageRow is a row of diskImagesTable.
type DiskImageRow struct {
	Index      uint32
	Path       string
	Host       string
	Pool       string // "" outside pools
	Name       string
	Format     string
	Capacity   uint64
	Allocation uint64
}

// NetworkRow is a row of networkTable.
type NetworkRow struct {
	VMID                                       uint32
	Index                                      uint32
	UUID                                       [16]byte
	MAC                                        [6]byte
	Model                                      string
	SourceType                                 SourceType
	Source                                     string
	Target                                     string // host-side device, "" when inactive
	Counters                                   bool   // as VMRow.Counters
	InOctets, InPackets, InErrors, InDrops     uint64
	OutOctets, OutPackets, OutErrors, OutDrops uint64
}

// NetworkAddressRow is a row of networkAddressTable, keyed by its address (one row per
// address of a NIC).
type NetworkAddressRow struct {
	VMID         uint32
	NetworkIndex uint32
	Addr         netip.Addr // IPv4 or IPv6 (Is4In6 included), without a zone
	PrefixLength uint32
	Source       AddrSource
}

// Key returns the row's index.
func (r *NetworkAddressRow) Key() AddrKey {
	return AddrKey{VMID: r.VMID, Network: r.NetworkIndex, Addr: r.Addr}
}

// HBARow is a row of hbaTable.
type HBARow struct {
	VMID            uint32
	Index           uint32
	UUID            [16]byte
	Type            string
	Model           string
	ControllerIndex uint32
}

// OSRow is a row of supportedOsTable. The handler derives name, version and family
// from the guest agent's answer when there is one, else from the libosinfo id (or
// shows the OS type alone): see OSRow.Info.
type OSRow struct {
	Index    uint32
	OSInfoID string  // e.g. http://debian.org/debian/12; "" when the definition has none
	OSType   string  // hvm, xen, linux, exe
	Agent    AgentOS // the guest agent's answer (osSource guestAgent(2)); zero if none
}

// KernelRow is a row of kernelTable.
type KernelRow struct {
	Index   uint32
	Path    string
	Initrd  string
	Cmdline string
}

// TemplateRow is a row of virtualMachineTemplateTable.
type TemplateRow struct {
	Index          uint32
	Name           string
	MemoryMiB      uint32
	VCPUs          uint32
	DiskImageIndex uint32
	XMLFile        string
	Status         RowStatus
}

// ReplicaRow is a row of replicaTable: a gateway serving the same cluster through the
// shared registry (etcd), as registered under its lease.
type ReplicaRow struct {
	Index         uint32
	Name          string // replica.name
	Addresses     string // its SNMP engine's bound addresses, transport:address:port, space-separated
	State         ReplicaState
	UpSince       time.Time
	LastHeartbeat time.Time
}
