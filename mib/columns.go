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
	ColNetworkAddressIndex        uint32 = 1
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
		Column{"hypervisorIndex", ColHypervisorIndex, tU32, NotAccessible},
		Column{"hypervisorName", ColHypervisorName, tStr, ReadOnly},
		Column{"hypervisorUri", ColHypervisorUri, tStr, ReadOnly},
		Column{"hypervisorType", ColHypervisorType, tStr, ReadOnly},
		Column{"hypervisorVersion", ColHypervisorVersion, tU32, ReadOnly},
		Column{"hypervisorVersionString", ColHypervisorVersionString, tStr, ReadOnly},
		Column{"hypervisorLibvirtVersion", ColHypervisorLibvirtVersion, tStr, ReadOnly},
		Column{"hypervisorHostname", ColHypervisorHostname, tStr, ReadOnly},
		Column{"hypervisorCpuModel", ColHypervisorCpuModel, tStr, ReadOnly},
		Column{"hypervisorCpus", ColHypervisorCpus, tU32, ReadOnly},
		Column{"hypervisorCpuMhz", ColHypervisorCpuMhz, tU32, ReadOnly},
		Column{"hypervisorMemoryMb", ColHypervisorMemoryMb, tU32, ReadOnly},
		Column{"hypervisorConnState", ColHypervisorConnState, tInt, ReadOnly},
		Column{"hypervisorLastError", ColHypervisorLastError, tStr, ReadOnly},
		Column{"hypervisorLastSync", ColHypervisorLastSync, tStr, ReadOnly},
		Column{"hypervisorLastSyncDuration", ColHypervisorLastSyncDuration, tU32, ReadOnly},
		Column{"hypervisorVmCount", ColHypervisorVmCount, tU32, ReadOnly},
	)

	VirtualMachinesTable = newTable("virtualMachinesTable", "virtualMachinesEntry", Objects.Append(3),
		[]string{"vmId"},
		Column{"vmId", ColVmId, tU32, NotAccessible},
		Column{"vmUUID", ColVmUUID, tStr, ReadOnly},
		Column{"vmName", ColVmName, tStr, ReadCreate},
		Column{"vmOsIndex", ColVmOsIndex, tU32, ReadOnly},
		Column{"vmState", ColVmState, tInt, ReadCreate},
		Column{"vmConfFile", ColVmConfFile, tStr, ReadOnly},
		Column{"vmKernelIndex", ColVmKernelIndex, tU32, ReadOnly},
		Column{"vmRowStatus", ColVmRowStatus, tInt, ReadCreate},
		Column{"vmHost", ColVmHost, tStr, ReadCreate},
		Column{"vmAutostart", ColVmAutostart, tInt, ReadCreate},
		Column{"vmPersistent", ColVmPersistent, tInt, ReadOnly},
		Column{"vmUptime", ColVmUptime, tTicks, ReadOnly},
		Column{"vmVcpus", ColVmVcpus, tU32, ReadOnly},
		Column{"vmVcpusMax", ColVmVcpusMax, tU32, ReadOnly},
		Column{"vmMemoryMb", ColVmMemoryMb, tU32, ReadOnly},
		Column{"vmCpuMilliseconds", ColVmCpuMilliseconds, tC64, ReadOnly},
	)

	MemoryTable = newTable("memoryTable", "memoryEntry", Objects.Append(4),
		[]string{"vmId"},
		Column{"memoryVmUUID", ColMemoryVmUUID, tStr, ReadOnly},
		Column{"memoryTotalMb", ColMemoryTotalMb, tU32, ReadWrite},
		Column{"memoryUsedKB", ColMemoryUsedKB, tU32, ReadOnly},
		Column{"memoryFreeKB", ColMemoryFreeKB, tU32, ReadOnly},
		Column{"memoryMaxKB", ColMemoryMaxKB, tU32, ReadOnly},
		Column{"memoryBalloonKB", ColMemoryBalloonKB, tU32, ReadOnly},
		Column{"memoryRssKB", ColMemoryRssKB, tU32, ReadOnly},
	)

	CpuTable = newTable("cpuTable", "cpuEntry", Objects.Append(5),
		[]string{"vmId", "cpuIndex"},
		Column{"cpuIndex", ColCpuIndex, tU32, NotAccessible},
		Column{"cpuVmUUID", ColCpuVmUUID, tStr, ReadOnly},
		Column{"cpuArch", ColCpuArch, tStr, ReadOnly},
		Column{"cpuMhz", ColCpuMhz, tU32, ReadOnly},
		Column{"cpuMilliseconds", ColCpuMilliseconds, tC64, ReadOnly},
		Column{"cpuState", ColCpuState, tInt, ReadOnly},
		Column{"cpuRowStatus", ColCpuRowStatus, tInt, ReadCreate},
	)

	StorageTable = newTable("storageTable", "storageEntry", Objects.Append(6),
		[]string{"vmId", "storageIndex"},
		Column{"storageIndex", ColStorageIndex, tU32, NotAccessible},
		Column{"storageVmUUID", ColStorageVmUUID, tStr, ReadOnly},
		Column{"storageDevice", ColStorageDevice, tInt, ReadCreate},
		Column{"storageDiskImageIndex", ColStorageDiskImageIndex, tU32, ReadCreate},
		Column{"storageTargetDevice", ColStorageTargetDevice, tStr, ReadCreate},
		Column{"storageBus", ColStorageBus, tStr, ReadCreate},
		Column{"storageCapacity", ColStorageCapacity, tC64, ReadOnly},
		Column{"storageAllocation", ColStorageAllocation, tC64, ReadOnly},
		Column{"storageReadRequests", ColStorageReadRequests, tC64, ReadOnly},
		Column{"storageReadBytes", ColStorageReadBytes, tC64, ReadOnly},
		Column{"storageWriteRequests", ColStorageWriteRequests, tC64, ReadOnly},
		Column{"storageWriteBytes", ColStorageWriteBytes, tC64, ReadOnly},
		Column{"storageRowStatus", ColStorageRowStatus, tInt, ReadCreate},
	)

	DiskImagesTable = newTable("diskImagesTable", "diskImagesEntry", Objects.Append(7),
		[]string{"diskImageIndex"},
		Column{"diskImageIndex", ColDiskImageIndex, tU32, NotAccessible},
		Column{"diskImagePath", ColDiskImagePath, tStr, ReadOnly},
		Column{"diskImageHost", ColDiskImageHost, tStr, ReadOnly},
		Column{"diskImagePool", ColDiskImagePool, tStr, ReadOnly},
		Column{"diskImageName", ColDiskImageName, tStr, ReadOnly},
		Column{"diskImageFormat", ColDiskImageFormat, tStr, ReadOnly},
		Column{"diskImageCapacity", ColDiskImageCapacity, tC64, ReadOnly},
		Column{"diskImageAllocation", ColDiskImageAllocation, tC64, ReadOnly},
	)

	NetworkTable = newTable("networkTable", "networkEntry", Objects.Append(8),
		[]string{"vmId", "networkIndex"},
		Column{"networkIndex", ColNetworkIndex, tU32, NotAccessible},
		Column{"networkVmUUID", ColNetworkVmUUID, tStr, ReadOnly},
		Column{"networkMacAddress", ColNetworkMacAddress, tStr, ReadOnly},
		Column{"networkModel", ColNetworkModel, tStr, ReadOnly},
		Column{"networkSourceType", ColNetworkSourceType, tInt, ReadOnly},
		Column{"networkSource", ColNetworkSource, tStr, ReadOnly},
		Column{"networkTargetDevice", ColNetworkTargetDevice, tStr, ReadOnly},
		Column{"networkInOctets", ColNetworkInOctets, tC64, ReadOnly},
		Column{"networkInPackets", ColNetworkInPackets, tC64, ReadOnly},
		Column{"networkInErrors", ColNetworkInErrors, tC64, ReadOnly},
		Column{"networkInDrops", ColNetworkInDrops, tC64, ReadOnly},
		Column{"networkOutOctets", ColNetworkOutOctets, tC64, ReadOnly},
		Column{"networkOutPackets", ColNetworkOutPackets, tC64, ReadOnly},
		Column{"networkOutErrors", ColNetworkOutErrors, tC64, ReadOnly},
		Column{"networkOutDrops", ColNetworkOutDrops, tC64, ReadOnly},
	)

	NetworkAddressTable = newTable("networkAddressTable", "networkAddressEntry", Objects.Append(9),
		[]string{"vmId", "networkIndex", "networkAddressIndex"},
		Column{"networkAddressIndex", ColNetworkAddressIndex, tU32, NotAccessible},
		Column{"networkAddressType", ColNetworkAddressType, tInt, ReadOnly},
		Column{"networkAddress", ColNetworkAddress, tStr, ReadOnly},
		Column{"networkAddressPrefixLength", ColNetworkAddressPrefixLength, tU32, ReadOnly},
		Column{"networkAddressSource", ColNetworkAddressSource, tInt, ReadOnly},
	)

	HbaTable = newTable("hbaTable", "hbaEntry", Objects.Append(10),
		[]string{"vmId", "hbaIndex"},
		Column{"hbaIndex", ColHbaIndex, tU32, NotAccessible},
		Column{"hbaVmUUID", ColHbaVmUUID, tStr, ReadOnly},
		Column{"hbaType", ColHbaType, tStr, ReadOnly},
		Column{"hbaModel", ColHbaModel, tStr, ReadOnly},
		Column{"hbaControllerIndex", ColHbaControllerIndex, tU32, ReadOnly},
	)

	SupportedOsTable = newTable("supportedOsTable", "supportedOsEntry", Objects.Append(11),
		[]string{"osIndex"},
		Column{"osIndex", ColOsIndex, tU32, NotAccessible},
		Column{"osName", ColOsName, tStr, ReadOnly},
		Column{"osVersion", ColOsVersion, tStr, ReadOnly},
		Column{"osFamily", ColOsFamily, tStr, ReadOnly},
		Column{"osInfoId", ColOsInfoId, tStr, ReadOnly},
		Column{"osSource", ColOsSource, tInt, ReadOnly},
	)

	KernelTable = newTable("kernelTable", "kernelEntry", Objects.Append(12),
		[]string{"kernelIndex"},
		Column{"kernelIndex", ColKernelIndex, tU32, NotAccessible},
		Column{"kernelPath", ColKernelPath, tStr, ReadOnly},
		Column{"kernelInitrd", ColKernelInitrd, tStr, ReadOnly},
		Column{"kernelCmdline", ColKernelCmdline, tStr, ReadOnly},
	)

	VirtualMachineTemplateTable = newTable("virtualMachineTemplateTable", "virtualMachineTemplateEntry",
		Templates.Append(3),
		[]string{"templateIndex"},
		Column{"templateIndex", ColTemplateIndex, tU32, NotAccessible},
		Column{"domainTemplateName", ColDomainTemplateName, tStr, ReadCreate},
		Column{"templateMemoryMb", ColTemplateMemoryMb, tU32, ReadCreate},
		Column{"templateVcpus", ColTemplateVcpus, tU32, ReadCreate},
		Column{"templateDiskImageIndex", ColTemplateDiskImageIndex, tU32, ReadCreate},
		Column{"templateXmlFile", ColTemplateXmlFile, tStr, ReadCreate},
		Column{"templateRowStatus", ColTemplateRowStatus, tInt, ReadCreate},
	)
)

// Tables returns every table of the module in OID order.
func Tables() []*Table {
	return []*Table{
		HypervisorTable, VirtualMachinesTable, MemoryTable, CpuTable, StorageTable,
		DiskImagesTable, NetworkTable, NetworkAddressTable, HbaTable, SupportedOsTable,
		KernelTable, VirtualMachineTemplateTable,
	}
}

// Column is one columnar object of a table.
type Column struct {
	Name   string
	Num    uint32         // sub-identifier under the entry
	Type   gosnmp.Asn1BER // the BER type on the wire
	Access Access
}

// Table describes a conceptual table: its OIDs, INDEX and columns. Its methods (in
// index.go) build, parse and walk instance OIDs.
type Table struct {
	Name      string   // e.g. "virtualMachinesTable"
	EntryName string   // e.g. "virtualMachinesEntry"
	OID       snmp.OID // the table; the entry is OID.1
	// Index names the INDEX objects in order; every one is a 1..MaxIndex integer, so an
	// instance suffix is exactly len(Index) sub-identifiers.
	Index []string
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

// Entry returns the OID of the table's entry (OID.1); shared, do not modify.
func (t *Table) Entry() snmp.OID { return t.entry }

// IndexLen is the number of sub-identifiers of an instance suffix.
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
