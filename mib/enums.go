package mib

import "strconv"

// The enumerations of the module, as sent on the wire (INTEGER). String returns the MIB
// label; Valid reports whether a value is one of the enumeration's.

// VMState is vmState (textual convention VirtualMachineState). Values 1..8 are libvirt's
// virDomainState plus one.
type VMState int

const (
	StateDefined     VMState = 1
	StateRunning     VMState = 2
	StateBlocked     VMState = 3
	StatePaused      VMState = 4
	StateShutdown    VMState = 5
	StateShutoff     VMState = 6
	StateCrashed     VMState = 7
	StatePMSuspended VMState = 8
	StateUnknown     VMState = 9  // hypervisor unreachable
	StateUndefined   VMState = 10 // only in vmStateChange: the definition was removed
)

var vmStateLabels = map[int]string{1: "defined", 2: "running", 3: "blocked", 4: "paused",
	5: "shutdown", 6: "shutoff", 7: "crashed", 8: "pmsuspended", 9: "unknown", 10: "undefined"}

func (s VMState) String() string { return label(vmStateLabels, int(s), "VMState") }
func (s VMState) Valid() bool    { _, ok := vmStateLabels[int(s)]; return ok }

// Active reports whether the domain runs in some form (running, blocked, paused,
// shutting down, pmsuspended).
func (s VMState) Active() bool {
	switch s {
	case StateRunning, StateBlocked, StatePaused, StateShutdown, StatePMSuspended:
		return true
	}
	return false
}

// StorageDevice is storageDevice.
type StorageDevice int

const (
	DeviceDisk   StorageDevice = 1
	DeviceCdRom  StorageDevice = 2
	DeviceFloppy StorageDevice = 3
	DeviceLun    StorageDevice = 4
)

var storageDeviceLabels = map[int]string{1: "disk", 2: "cdRom", 3: "floppy", 4: "lun"}

func (d StorageDevice) String() string { return label(storageDeviceLabels, int(d), "StorageDevice") }
func (d StorageDevice) Valid() bool    { _, ok := storageDeviceLabels[int(d)]; return ok }

// RowStatus is SNMPv2-TC RowStatus (RFC 2579).
type RowStatus int

const (
	RowActive        RowStatus = 1
	RowNotInService  RowStatus = 2
	RowNotReady      RowStatus = 3
	RowCreateAndGo   RowStatus = 4
	RowCreateAndWait RowStatus = 5
	RowDestroy       RowStatus = 6
)

var rowStatusLabels = map[int]string{1: "active", 2: "notInService", 3: "notReady",
	4: "createAndGo", 5: "createAndWait", 6: "destroy"}

func (r RowStatus) String() string { return label(rowStatusLabels, int(r), "RowStatus") }
func (r RowStatus) Valid() bool    { _, ok := rowStatusLabels[int(r)]; return ok }

// Settable reports whether a manager may write the value: notReady(3) is read-only
// (RFC 2579 answers wrongValue to it).
func (r RowStatus) Settable() bool { return r.Valid() && r != RowNotReady }

// TruthValue is SNMPv2-TC TruthValue.
type TruthValue int

const (
	True  TruthValue = 1
	False TruthValue = 2
)

var truthLabels = map[int]string{1: "true", 2: "false"}

func (v TruthValue) String() string { return label(truthLabels, int(v), "TruthValue") }
func (v TruthValue) Valid() bool    { _, ok := truthLabels[int(v)]; return ok }

// Truth converts a bool.
func Truth(b bool) TruthValue {
	if b {
		return True
	}
	return False
}

// ConnState is hypervisorConnState.
type ConnState int

const (
	ConnConnected    ConnState = 1
	ConnConnecting   ConnState = 2
	ConnDisconnected ConnState = 3
)

var connStateLabels = map[int]string{1: "connected", 2: "connecting", 3: "disconnected"}

func (c ConnState) String() string { return label(connStateLabels, int(c), "ConnState") }
func (c ConnState) Valid() bool    { _, ok := connStateLabels[int(c)]; return ok }

// CPUState is cpuState: libvirt's virVcpuState plus one.
type CPUState int

const (
	CPUOffline CPUState = 1
	CPURunning CPUState = 2
	CPUBlocked CPUState = 3
)

var cpuStateLabels = map[int]string{1: "offline", 2: "running", 3: "blocked"}

func (c CPUState) String() string { return label(cpuStateLabels, int(c), "CPUState") }
func (c CPUState) Valid() bool    { _, ok := cpuStateLabels[int(c)]; return ok }

// SourceType is networkSourceType.
type SourceType int

const (
	SourceOther   SourceType = 1
	SourceBridge  SourceType = 2
	SourceNetwork SourceType = 3
	SourceDirect  SourceType = 4
	SourceUser    SourceType = 5
)

var sourceTypeLabels = map[int]string{1: "other", 2: "bridge", 3: "network", 4: "direct", 5: "user"}

func (s SourceType) String() string { return label(sourceTypeLabels, int(s), "SourceType") }
func (s SourceType) Valid() bool    { _, ok := sourceTypeLabels[int(s)]; return ok }

// AddrSource is networkAddressSource: libvirt's VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*
// plus one.
type AddrSource int

const (
	AddrLease AddrSource = 1
	AddrAgent AddrSource = 2
	AddrARP   AddrSource = 3
)

var addrSourceLabels = map[int]string{1: "lease", 2: "agent", 3: "arp"}

func (a AddrSource) String() string { return label(addrSourceLabels, int(a), "AddrSource") }
func (a AddrSource) Valid() bool    { _, ok := addrSourceLabels[int(a)]; return ok }

// OSSource is osSource.
type OSSource int

const (
	OSLibosinfo  OSSource = 1
	OSGuestAgent OSSource = 2
	OSType       OSSource = 3
)

var osSourceLabels = map[int]string{1: "libosinfo", 2: "guestAgent", 3: "osType"}

func (o OSSource) String() string { return label(osSourceLabels, int(o), "OSSource") }
func (o OSSource) Valid() bool    { _, ok := osSourceLabels[int(o)]; return ok }

// ReplicaState is replicaRegistryState: how a replica reaches the shared registry.
type ReplicaState int

const (
	ReplicaUp       ReplicaState = 1
	ReplicaDegraded ReplicaState = 2
	ReplicaUnknown  ReplicaState = 3
)

var replicaStateLabels = map[int]string{1: "up", 2: "degraded", 3: "unknown"}

func (r ReplicaState) String() string { return label(replicaStateLabels, int(r), "ReplicaState") }
func (r ReplicaState) Valid() bool    { _, ok := replicaStateLabels[int(r)]; return ok }

// InetAddressType is INET-ADDRESS-MIB InetAddressType (networkAddressType).
type InetAddressType int

const (
	InetUnknown InetAddressType = 0
	InetIPv4    InetAddressType = 1
	InetIPv6    InetAddressType = 2
	InetIPv4z   InetAddressType = 3
	InetIPv6z   InetAddressType = 4
	InetDNS     InetAddressType = 16
)

var inetTypeLabels = map[int]string{0: "unknown", 1: "ipv4", 2: "ipv6", 3: "ipv4z", 4: "ipv6z", 16: "dns"}

func (t InetAddressType) String() string { return label(inetTypeLabels, int(t), "InetAddressType") }
func (t InetAddressType) Valid() bool    { _, ok := inetTypeLabels[int(t)]; return ok }

func label(labels map[int]string, v int, typ string) string {
	if s, ok := labels[v]; ok {
		return s
	}
	return typ + "(" + strconv.Itoa(v) + ")"
}

// enumLabels maps every enumerated object of the module to its labels, for the test
// that compares them with the MIB text.
func enumLabels() map[string]map[int]string {
	return map[string]map[int]string{
		"vmState":              vmStateLabels,
		"vmRowStatus":          rowStatusLabels,
		"vmAutostart":          truthLabels,
		"vmPersistent":         truthLabels,
		"hypervisorConnState":  connStateLabels,
		"cpuState":             cpuStateLabels,
		"cpuRowStatus":         rowStatusLabels,
		"storageDevice":        storageDeviceLabels,
		"storageRowStatus":     rowStatusLabels,
		"networkSourceType":    sourceTypeLabels,
		"networkAddressType":   inetTypeLabels,
		"networkAddressSource": addrSourceLabels,
		"osSource":             osSourceLabels,
		"templateRowStatus":    rowStatusLabels,
		"replicaRegistryState": replicaStateLabels,
	}
}
