package mib

import (
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// Column numbers, named after the MIB objects ("Col" + descriptor). A column's OID is
// Table.Entry().Append(col); an instance adds the row index.
const (
	// hypervisorTable
	ColHypervisorIndex            uint32 = 1
	ColHypervisorName             uint32 = 2
	ColHypervisorUri              uint32 = 3
	ColHypervisorType             uint32 = 4
	ColHypervisorVersion          uint32 = 5
	ColHypervisorVersionString    uint32 = 6
	ColHypervisorLibvirtVersion   uint32 = 7
	ColHypervisorHostname         uint32 = 8
	ColHypervisorCpuModel         uint32 = 9
	ColHypervisorCpus             uint32 = 10
	ColHypervisorCpuMhz           uint32 = 11
	ColHypervisorMemoryMb         uint32 = 12
	ColHypervisorConnState        uint32 = 13
	ColHypervisorLastError        uint32 = 14
	ColHypervisorLastSync         uint32 = 15
	ColHypervisorLastSyncDuration uint32 = 16
	ColHypervisorVmCount          uint32 = 17

	// virtualMachinesTable
	ColVmId              uint32 = 1
	ColVmUUID            uint32 = 2
	ColVmName            uint32 = 3
	ColVmOsIndex         uint32 = 4
	ColVmState           uint32 = 5
	ColVmConfFile        uint32 = 6
	ColVmKernelIndex     uint32 = 7
	ColVmRowStatus       uint32 = 8
	ColVmHost            uint32 = 9
	ColVmAutostart       uint32 = 10
	ColVmPersistent      uint32 = 11
	ColVmUptime          uint32 = 12
	ColVmVcpus           uint32 = 13
	ColVmVcpusMax        uint32 = 14
	ColVmMemoryMb        uint32 = 15
	ColVmCpuMilliseconds uint32 = 16
	ColVmUUIDText        uint32 = 17

	// memoryTable
	ColMemoryVmUUID    uint32 = 1
	ColMemoryTotalMb   uint32 = 2
	ColMemoryUsedKB    uint32 = 3
	ColMemoryFreeKB    uint32 = 4
	ColMemoryMaxKB     uint32 = 5
	ColMemoryBalloonKB uint32 = 6
	ColMemoryRssKB     uint32 = 7

	// cpuTable
	ColCpuIndex        uint32 = 1
	ColCpuVmUUID       uint32 = 2
	ColCpuArch         uint32 = 3
	ColCpuMhz          uint32 = 4
	ColCpuMilliseconds uint32 = 5
	ColCpuState        uint32 = 6
	ColCpuRowStatus    uint32 = 7

	// storageTable
	ColStorageIndex          uint32 = 1
	ColStorageVmUUID         uint32 = 2
	ColStorageDevice         uint32 = 3
	ColStorageDiskImageIndex uint32 = 4
	ColStorageTargetDevice   uint32 = 5
	ColStorageBus            uint32 = 6
	ColStorageCapacity       uint32 = 7
	ColStorageAllocation     uint32 = 8
	ColStorageReadRequests   uint32 = 9
	ColStorageReadBytes      uint32 = 10
	ColStorageWriteRequests  uint32 = 11
	ColStorageWriteBytes     uint32 = 12
	ColStorageRowStatus      uint32 = 13

	// diskImagesTable
	ColDiskImageIndex      uint32 = 1
	ColDiskImagePath       uint32 = 2
	ColDiskImageHost       uint32 = 3
	ColDiskImagePool       uint32 = 4
	ColDiskImageName       uint32 = 5
	ColDiskImageFormat     uint32 = 6
	ColDiskImageCapacity   uint32 = 7
	ColDiskImageAllocation uint32 = 8

	// networkTable
	ColNetworkIndex        uint32 = 1
	ColNetworkVmUUID       uint32 = 2
	ColNetworkMacAddress   uint32 = 3
	ColNetworkModel        uint32 = 4
	ColNetworkSourceType   uint32 = 5
	ColNetworkSource       uint32 = 6
	ColNetworkTargetDevice uint32 = 7
	ColNetworkInOctets     uint32 = 8
	ColNetworkInPackets    uint32 = 9
	ColNetworkInErrors     uint32 = 10
	ColNetworkInDrops      uint32 = 11
	ColNetworkOutOctets    uint32 = 12
	ColNetworkOutPackets   uint32 = 13
	ColNetworkOutErrors    uint32 = 14
	ColNetworkOutDrops     uint32 = 15

	// networkAddressTable
	// (1 was networkAddressIndex; the index is now the address)
	ColNetworkAddressType         uint32 = 2
	ColNetworkAddress             uint32 = 3
	ColNetworkAddressPrefixLength uint32 = 4
	ColNetworkAddressSource       uint32 = 5

	// hbaTable
	ColHbaIndex           uint32 = 1
	ColHbaVmUUID          uint32 = 2
	ColHbaType            uint32 = 3
	ColHbaModel           uint32 = 4
	ColHbaControllerIndex uint32 = 5

	// supportedOsTable
	ColOsIndex   uint32 = 1
	ColOsName    uint32 = 2
	ColOsVersion uint32 = 3
	ColOsFamily  uint32 = 4
	ColOsInfoId  uint32 = 5
	ColOsSource  uint32 = 6

	// kernelTable
	ColKernelIndex   uint32 = 1
	ColKernelPath    uint32 = 2
	ColKernelInitrd  uint32 = 3
	ColKernelCmdline uint32 = 4

	// virtualMachineTemplateTable
	ColTemplateIndex          uint32 = 1
	ColDomainTemplateName     uint32 = 2
	ColTemplateMemoryMb       uint32 = 3
	ColTemplateVcpus          uint32 = 4
	ColTemplateDiskImageIndex uint32 = 5
	ColTemplateXmlFile        uint32 = 6
	ColTemplateRowStatus      uint32 = 7

	// replicaTable
	ColReplicaIndex         uint32 = 1
	ColReplicaName          uint32 = 2
	ColReplicaAddress       uint32 = 3
	ColReplicaRegistryState uint32 = 4
	ColReplicaUpSince       uint32 = 5
	ColReplicaLastHeartbeat uint32 = 6
)

// BER types of the columns, by SMI syntax.
const (
	tInt   = gosnmp.Integer     // INTEGER, enumerations, RowStatus, TruthValue
	tStr   = gosnmp.OctetString // strings, UUIDs, MAC and IP addresses, DateAndTime
	tU32   = gosnmp.Gauge32     // Unsigned32 and Gauge32 share the tag
	tC64   = gosnmp.Counter64   // Counter64 and CounterBasedGauge64
	tTicks = gosnmp.TimeTicks
)

// The tables, in OID order.
var (
	HypervisorTable = newTable("hypervisorTable", "hypervisorEntry", Monitor.Append(4),
		[]string{"hypervisorIndex"},
		col("hypervisorIndex", ColHypervisorIndex, tU32, NotAccessible),
		col("hypervisorName", ColHypervisorName, tStr, ReadOnly),
		col("hypervisorUri", ColHypervisorUri, tStr, ReadOnly),
		col("hypervisorType", ColHypervisorType, tStr, ReadOnly),
		col("hypervisorVersion", ColHypervisorVersion, tU32, ReadOnly),
		col("hypervisorVersionString", ColHypervisorVersionString, tStr, ReadOnly),
		col("hypervisorLibvirtVersion", ColHypervisorLibvirtVersion, tStr, ReadOnly),
		col("hypervisorHostname", ColHypervisorHostname, tStr, ReadOnly),
		col("hypervisorCpuModel", ColHypervisorCpuModel, tStr, ReadOnly),
		col("hypervisorCpus", ColHypervisorCpus, tU32, ReadOnly),
		col("hypervisorCpuMhz", ColHypervisorCpuMhz, tU32, ReadOnly),
		col("hypervisorMemoryMb", ColHypervisorMemoryMb, tU32, ReadOnly),
		col("hypervisorConnState", ColHypervisorConnState, tInt, ReadOnly),
		col("hypervisorLastError", ColHypervisorLastError, tStr, ReadOnly),
		col("hypervisorLastSync", ColHypervisorLastSync, tStr, ReadOnly),
		col("hypervisorLastSyncDuration", ColHypervisorLastSyncDuration, tU32, ReadOnly),
		col("hypervisorVmCount", ColHypervisorVmCount, tU32, ReadOnly),
	)

	VirtualMachinesTable = newTable("virtualMachinesTable", "virtualMachinesEntry", Objects.Append(3),
		[]string{"vmId"},
		col("vmId", ColVmId, tU32, NotAccessible),
		col("vmUUID", ColVmUUID, tStr, ReadOnly),
		col("vmName", ColVmName, tStr, ReadCreate).limit(1, 255),
		col("vmOsIndex", ColVmOsIndex, tU32, ReadOnly),
		col("vmState", ColVmState, tInt, ReadCreate),
		col("vmConfFile", ColVmConfFile, tStr, ReadOnly),
		col("vmKernelIndex", ColVmKernelIndex, tU32, ReadOnly),
		col("vmRowStatus", ColVmRowStatus, tInt, ReadCreate),
		col("vmHost", ColVmHost, tStr, ReadCreate).limit(1, 255),
		col("vmAutostart", ColVmAutostart, tInt, ReadCreate),
		col("vmPersistent", ColVmPersistent, tInt, ReadOnly),
		col("vmUptime", ColVmUptime, tTicks, ReadOnly),
		col("vmVcpus", ColVmVcpus, tU32, ReadOnly),
		col("vmVcpusMax", ColVmVcpusMax, tU32, ReadOnly),
		col("vmMemoryMb", ColVmMemoryMb, tU32, ReadOnly),
		col("vmCpuMilliseconds", ColVmCpuMilliseconds, tC64, ReadOnly),
		col("vmUUIDText", ColVmUUIDText, tStr, ReadOnly),
	)

	MemoryTable = newTable("memoryTable", "memoryEntry", Objects.Append(4),
		[]string{"vmId"},
		col("memoryVmUUID", ColMemoryVmUUID, tStr, ReadOnly),
		col("memoryTotalMb", ColMemoryTotalMb, tU32, ReadWrite).limit(1, 4294967295),
		col("memoryUsedKB", ColMemoryUsedKB, tU32, ReadOnly),
		col("memoryFreeKB", ColMemoryFreeKB, tU32, ReadOnly),
		col("memoryMaxKB", ColMemoryMaxKB, tU32, ReadOnly),
		col("memoryBalloonKB", ColMemoryBalloonKB, tU32, ReadOnly),
		col("memoryRssKB", ColMemoryRssKB, tU32, ReadOnly),
	)

	CpuTable = newTable("cpuTable", "cpuEntry", Objects.Append(5),
		[]string{"vmId", "cpuIndex"},
		col("cpuIndex", ColCpuIndex, tU32, NotAccessible),
		col("cpuVmUUID", ColCpuVmUUID, tStr, ReadOnly),
		col("cpuArch", ColCpuArch, tStr, ReadOnly),
		col("cpuMhz", ColCpuMhz, tU32, ReadOnly),
		col("cpuMilliseconds", ColCpuMilliseconds, tC64, ReadOnly),
		col("cpuState", ColCpuState, tInt, ReadOnly),
		col("cpuRowStatus", ColCpuRowStatus, tInt, ReadCreate),
	)

	StorageTable = newTable("storageTable", "storageEntry", Objects.Append(6),
		[]string{"vmId", "storageIndex"},
		col("storageIndex", ColStorageIndex, tU32, NotAccessible),
		col("storageVmUUID", ColStorageVmUUID, tStr, ReadOnly),
		col("storageDevice", ColStorageDevice, tInt, ReadCreate),
		col("storageDiskImageIndex", ColStorageDiskImageIndex, tU32, ReadCreate).limit(0, MaxIndex),
		col("storageTargetDevice", ColStorageTargetDevice, tStr, ReadCreate).limit(1, 32),
		col("storageBus", ColStorageBus, tStr, ReadCreate).limit(1, 32),
		col("storageCapacity", ColStorageCapacity, tC64, ReadOnly),
		col("storageAllocation", ColStorageAllocation, tC64, ReadOnly),
		col("storageReadRequests", ColStorageReadRequests, tC64, ReadOnly),
		col("storageReadBytes", ColStorageReadBytes, tC64, ReadOnly),
		col("storageWriteRequests", ColStorageWriteRequests, tC64, ReadOnly),
		col("storageWriteBytes", ColStorageWriteBytes, tC64, ReadOnly),
		col("storageRowStatus", ColStorageRowStatus, tInt, ReadCreate),
	)

	DiskImagesTable = newTable("diskImagesTable", "diskImagesEntry", Objects.Append(7),
		[]string{"diskImageIndex"},
		col("diskImageIndex", ColDiskImageIndex, tU32, NotAccessible),
		col("diskImagePath", ColDiskImagePath, tStr, ReadOnly),
		col("diskImageHost", ColDiskImageHost, tStr, ReadOnly),
		col("diskImagePool", ColDiskImagePool, tStr, ReadOnly),
		col("diskImageName", ColDiskImageName, tStr, ReadOnly),
		col("diskImageFormat", ColDiskImageFormat, tStr, ReadOnly),
		col("diskImageCapacity", ColDiskImageCapacity, tC64, ReadOnly),
		col("diskImageAllocation", ColDiskImageAllocation, tC64, ReadOnly),
	)

	NetworkTable = newTable("networkTable", "networkEntry", Objects.Append(8),
		[]string{"vmId", "networkIndex"},
		col("networkIndex", ColNetworkIndex, tU32, NotAccessible),
		col("networkVmUUID", ColNetworkVmUUID, tStr, ReadOnly),
		col("networkMacAddress", ColNetworkMacAddress, tStr, ReadOnly),
		col("networkModel", ColNetworkModel, tStr, ReadOnly),
		col("networkSourceType", ColNetworkSourceType, tInt, ReadOnly),
		col("networkSource", ColNetworkSource, tStr, ReadOnly),
		col("networkTargetDevice", ColNetworkTargetDevice, tStr, ReadOnly),
		col("networkInOctets", ColNetworkInOctets, tC64, ReadOnly),
		col("networkInPackets", ColNetworkInPackets, tC64, ReadOnly),
		col("networkInErrors", ColNetworkInErrors, tC64, ReadOnly),
		col("networkInDrops", ColNetworkInDrops, tC64, ReadOnly),
		col("networkOutOctets", ColNetworkOutOctets, tC64, ReadOnly),
		col("networkOutPackets", ColNetworkOutPackets, tC64, ReadOnly),
		col("networkOutErrors", ColNetworkOutErrors, tC64, ReadOnly),
		col("networkOutDrops", ColNetworkOutDrops, tC64, ReadOnly),
	)

	NetworkAddressTable = newTable("networkAddressTable", "networkAddressEntry", Objects.Append(9),
		[]string{"vmId", "networkIndex", "networkAddressType", "networkAddress"},
		col("networkAddressType", ColNetworkAddressType, tInt, NotAccessible),
		col("networkAddress", ColNetworkAddress, tStr, NotAccessible),
		col("networkAddressPrefixLength", ColNetworkAddressPrefixLength, tU32, ReadOnly),
		col("networkAddressSource", ColNetworkAddressSource, tInt, ReadOnly),
	).addrIndex()

	HbaTable = newTable("hbaTable", "hbaEntry", Objects.Append(10),
		[]string{"vmId", "hbaIndex"},
		col("hbaIndex", ColHbaIndex, tU32, NotAccessible),
		col("hbaVmUUID", ColHbaVmUUID, tStr, ReadOnly),
		col("hbaType", ColHbaType, tStr, ReadOnly),
		col("hbaModel", ColHbaModel, tStr, ReadOnly),
		col("hbaControllerIndex", ColHbaControllerIndex, tU32, ReadOnly),
	)

	SupportedOsTable = newTable("supportedOsTable", "supportedOsEntry", Objects.Append(11),
		[]string{"osIndex"},
		col("osIndex", ColOsIndex, tU32, NotAccessible),
		col("osName", ColOsName, tStr, ReadOnly),
		col("osVersion", ColOsVersion, tStr, ReadOnly),
		col("osFamily", ColOsFamily, tStr, ReadOnly),
		col("osInfoId", ColOsInfoId, tStr, ReadOnly),
		col("osSource", ColOsSource, tInt, ReadOnly),
	)

	KernelTable = newTable("kernelTable", "kernelEntry", Objects.Append(12),
		[]string{"kernelIndex"},
		col("kernelIndex", ColKernelIndex, tU32, NotAccessible),
		col("kernelPath", ColKernelPath, tStr, ReadOnly),
		col("kernelInitrd", ColKernelInitrd, tStr, ReadOnly),
		col("kernelCmdline", ColKernelCmdline, tStr, ReadOnly),
	)

	VirtualMachineTemplateTable = newTable("virtualMachineTemplateTable", "virtualMachineTemplateEntry",
		Templates.Append(3),
		[]string{"templateIndex"},
		col("templateIndex", ColTemplateIndex, tU32, NotAccessible),
		col("domainTemplateName", ColDomainTemplateName, tStr, ReadCreate).limit(1, 64),
		col("templateMemoryMb", ColTemplateMemoryMb, tU32, ReadCreate).limit(1, 4294967295),
		col("templateVcpus", ColTemplateVcpus, tU32, ReadCreate).limit(1, 4096),
		col("templateDiskImageIndex", ColTemplateDiskImageIndex, tU32, ReadCreate).limit(0, MaxIndex),
		col("templateXmlFile", ColTemplateXmlFile, tStr, ReadCreate).limit(0, 1024),
		col("templateRowStatus", ColTemplateRowStatus, tInt, ReadCreate),
	)

	ReplicaTable = newTable("replicaTable", "replicaEntry", Objects.Append(15),
		[]string{"replicaIndex"},
		col("replicaIndex", ColReplicaIndex, tU32, NotAccessible),
		col("replicaName", ColReplicaName, tStr, ReadOnly),
		col("replicaAddress", ColReplicaAddress, tStr, ReadOnly),
		col("replicaRegistryState", ColReplicaRegistryState, tInt, ReadOnly),
		col("replicaUpSince", ColReplicaUpSince, tStr, ReadOnly),
		col("replicaLastHeartbeat", ColReplicaLastHeartbeat, tStr, ReadOnly),
	)
)

// Tables returns every table of the module in OID order.
func Tables() []*Table {
	return []*Table{
		HypervisorTable, VirtualMachinesTable, MemoryTable, CpuTable, StorageTable,
		DiskImagesTable, NetworkTable, NetworkAddressTable, HbaTable, SupportedOsTable,
		KernelTable, VirtualMachineTemplateTable, ReplicaTable,
	}
}

// Column is one columnar object of a table.
type Column struct {
	Name   string
	Num    uint32         // sub-identifier under the entry
	Type   gosnmp.Asn1BER // the BER type on the wire
	Access Access
	// Limit is the MIB's range for a writable column: of the value for an integer, of
	// the length for a string. Zero: no limit beyond the base type (or read-only).
	Limit Limit
}

func col(name string, num uint32, typ gosnmp.Asn1BER, acc Access) Column {
	return Column{Name: name, Num: num, Type: typ, Access: acc}
}

func (c Column) limit(lo, hi int64) Column {
	c.Limit = Limit{Min: lo, Max: hi}
	return c
}

// Check checks a SET value for the column; see CheckValue.
func (c Column) Check(typ gosnmp.Asn1BER, v any) (gosnmp.SNMPError, error) {
	return CheckValue(c.Name, c.Type, c.Access, c.Limit, typ, v)
}

// Table describes a conceptual table: its OIDs, INDEX and columns. Its methods (in
// index.go) build, parse and walk instance OIDs.
type Table struct {
	Name      string   // e.g. "virtualMachinesTable"
	EntryName string   // e.g. "virtualMachinesEntry"
	OID       snmp.OID // the table; the entry is OID.1
	// Index names the INDEX objects in order; every one is a 1..MaxIndex integer, so an
	// instance suffix is exactly len(Index) sub-identifiers, except in a table with
	// AddrIndex.
	Index []string
	// AddrIndex: the INDEX is {vmId, networkIndex, an InetAddressType, an InetAddress}
	// (networkAddressTable), an instance suffix of variable length (see AddrKey).
	AddrIndex bool
	// Columns are the table's own columns in ascending Num (not-accessible index columns
	// included; an INDEX object of another table, like vmId in cpuTable, is not).
	Columns []Column

	entry      snmp.OID
	accessible []uint32 // Num of the readable columns, ascending
}

func newTable(name, entryName string, oid snmp.OID, index []string, cols ...Column) *Table {
	t := &Table{Name: name, EntryName: entryName, OID: oid, Index: index, Columns: cols,
		entry: oid.Append(1)}
	for _, c := range cols {
		if c.Access != NotAccessible && c.Access != AccessibleForNotify {
			t.accessible = append(t.accessible, c.Num)
		}
	}
	return t
}

// addrIndex marks a table whose INDEX ends in an address (see Table.AddrIndex).
func (t *Table) addrIndex() *Table {
	t.AddrIndex = true
	return t
}

// Entry returns the OID of the table's entry (OID.1); shared, do not modify.
func (t *Table) Entry() snmp.OID { return t.entry }

// IndexLen is the number of sub-identifiers of an instance suffix (the number of
// INDEX objects for a table with AddrIndex, whose suffixes are longer).
func (t *Table) IndexLen() int { return len(t.Index) }

// Column returns the column numbered num, or false.
func (t *Table) Column(num uint32) (Column, bool) {
	for _, c := range t.Columns {
		if c.Num == num {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnOID returns the OID of column num (without an instance).
func (t *Table) ColumnOID(num uint32) snmp.OID { return t.entry.Append(num) }
