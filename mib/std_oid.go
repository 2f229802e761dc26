package mib

import (
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// The Std* names are VM-MIB (RFC 7666), the IETF's standard module, served beside
// VIRTUAL-MACHINES-MIB from the same view (StdHandler). Its descriptors overlap the
// module's own (vmName, vmUUID, vmCpuTable...), hence the prefix.

// StdModuleName is VM-MIB's module name; net-snmp loads it as -m +VM-MIB (from
// VM-MIB.txt, which vmgate does not ship: the RFC's text is a standard module).
const StdModuleName = "VM-MIB"

// StdRoot is vmMIB, mib-2.236.
var StdRoot = snmp.OID{1, 3, 6, 1, 2, 1, 236}

var (
	stdObjects    = StdRoot.Append(1) // vmObjects
	stdHypervisor = stdObjects.Append(1)
	// StdGroups is vmGroups (vmConformance.2).
	StdGroups = StdRoot.Append(2, 2)
)

// VM-MIB's scalars.
var (
	StdHvSoftware      = &Scalar{"vmHvSoftware", stdHypervisor.Append(1), gosnmp.OctetString, ReadOnly, Limit{}}
	StdHvVersion       = &Scalar{"vmHvVersion", stdHypervisor.Append(2), gosnmp.OctetString, ReadOnly, Limit{}}
	StdHvObjectID      = &Scalar{"vmHvObjectID", stdHypervisor.Append(3), gosnmp.ObjectIdentifier, ReadOnly, Limit{}}
	StdHvUpTime        = &Scalar{"vmHvUpTime", stdHypervisor.Append(4), gosnmp.TimeTicks, ReadOnly, Limit{}}
	StdNumber          = &Scalar{"vmNumber", stdObjects.Append(2), gosnmp.Integer, ReadOnly, Limit{}}
	StdTableLastChange = &Scalar{"vmTableLastChange", stdObjects.Append(3), gosnmp.TimeTicks, ReadOnly, Limit{}}
	// StdPerVMNotificationsEnabled and StdBulkNotificationsEnabled are TruthValues.
	StdPerVMNotificationsEnabled = &Scalar{"vmPerVMNotificationsEnabled", stdObjects.Append(9), gosnmp.Integer, ReadWrite, Limit{1, 2}}
	StdBulkNotificationsEnabled  = &Scalar{"vmBulkNotificationsEnabled", stdObjects.Append(10), gosnmp.Integer, ReadWrite, Limit{1, 2}}
)

// StdScalars returns VM-MIB's scalars in OID order.
func StdScalars() []*Scalar {
	return []*Scalar{StdHvSoftware, StdHvVersion, StdHvObjectID, StdHvUpTime, StdNumber, StdTableLastChange,
		StdPerVMNotificationsEnabled, StdBulkNotificationsEnabled}
}

// VM-MIB's column numbers.
const (
	// vmTable
	ColStdIndex        uint32 = 1
	ColStdName         uint32 = 2
	ColStdUUID         uint32 = 3
	ColStdOSType       uint32 = 4
	ColStdAdminState   uint32 = 5
	ColStdOperState    uint32 = 6
	ColStdAutoStart    uint32 = 7
	ColStdPersistent   uint32 = 8
	ColStdCurCpuNumber uint32 = 9
	ColStdMinCpuNumber uint32 = 10
	ColStdMaxCpuNumber uint32 = 11
	ColStdMemUnit      uint32 = 12
	ColStdCurMem       uint32 = 13
	ColStdMinMem       uint32 = 14
	ColStdMaxMem       uint32 = 15
	ColStdUpTime       uint32 = 16
	ColStdCpuTime      uint32 = 17

	// vmCpuTable
	ColStdCpuIndex    uint32 = 1
	ColStdCpuCoreTime uint32 = 2

	// vmCpuAffinityTable (1 is not used: the entry's INDEX reuses vmIndex and vmCpuIndex)
	ColStdCpuPhysIndex uint32 = 2
	ColStdCpuAffinity  uint32 = 3

	// vmStorageTable
	ColStdStorageVmIndex          uint32 = 1
	ColStdStorageIndex            uint32 = 2
	ColStdStorageParent           uint32 = 3
	ColStdStorageSourceType       uint32 = 4
	ColStdStorageSourceTypeString uint32 = 5
	ColStdStorageResourceID       uint32 = 6
	ColStdStorageAccess           uint32 = 7
	ColStdStorageMediaType        uint32 = 8
	ColStdStorageMediaTypeString  uint32 = 9
	ColStdStorageSizeUnit         uint32 = 10
	ColStdStorageDefinedSize      uint32 = 11
	ColStdStorageAllocatedSize    uint32 = 12
	ColStdStorageReadIOs          uint32 = 13
	ColStdStorageWriteIOs         uint32 = 14
	ColStdStorageReadOctets       uint32 = 15
	ColStdStorageWriteOctets      uint32 = 16
	ColStdStorageReadLatency      uint32 = 17
	ColStdStorageWriteLatency     uint32 = 18

	// vmNetworkTable
	ColStdNetworkIndex       uint32 = 1
	ColStdNetworkIfIndex     uint32 = 2
	ColStdNetworkParent      uint32 = 3
	ColStdNetworkModel       uint32 = 4
	ColStdNetworkPhysAddress uint32 = 5
)

// VM-MIB's tables, in OID order.
var (
	StdVmTable = newTable("vmTable", "vmEntry", stdObjects.Append(4),
		[]string{"vmIndex"},
		col("vmIndex", ColStdIndex, tInt, NotAccessible),
		col("vmName", ColStdName, tStr, ReadOnly),
		col("vmUUID", ColStdUUID, tStr, ReadOnly),
		col("vmOSType", ColStdOSType, tStr, ReadOnly),
		col("vmAdminState", ColStdAdminState, tInt, ReadOnly),
		col("vmOperState", ColStdOperState, tInt, ReadOnly),
		col("vmAutoStart", ColStdAutoStart, tInt, ReadOnly),
		col("vmPersistent", ColStdPersistent, tInt, ReadOnly),
		col("vmCurCpuNumber", ColStdCurCpuNumber, tInt, ReadOnly),
		col("vmMinCpuNumber", ColStdMinCpuNumber, tInt, ReadOnly),
		col("vmMaxCpuNumber", ColStdMaxCpuNumber, tInt, ReadOnly),
		col("vmMemUnit", ColStdMemUnit, tInt, ReadOnly),
		col("vmCurMem", ColStdCurMem, tInt, ReadOnly),
		col("vmMinMem", ColStdMinMem, tInt, ReadOnly),
		col("vmMaxMem", ColStdMaxMem, tInt, ReadOnly),
		col("vmUpTime", ColStdUpTime, tTicks, ReadOnly),
		col("vmCpuTime", ColStdCpuTime, tC64, ReadOnly),
	)

	StdVmCpuTable = newTable("vmCpuTable", "vmCpuEntry", stdObjects.Append(5),
		[]string{"vmIndex", "vmCpuIndex"},
		col("vmCpuIndex", ColStdCpuIndex, tInt, NotAccessible),
		col("vmCpuCoreTime", ColStdCpuCoreTime, tC64, ReadOnly),
	)

	StdVmCpuAffinityTable = newTable("vmCpuAffinityTable", "vmCpuAffinityEntry", stdObjects.Append(6),
		[]string{"vmIndex", "vmCpuIndex", "vmCpuPhysIndex"},
		col("vmCpuPhysIndex", ColStdCpuPhysIndex, tInt, NotAccessible),
		col("vmCpuAffinity", ColStdCpuAffinity, tInt, ReadOnly),
	)

	StdVmStorageTable = newTable("vmStorageTable", "vmStorageEntry", stdObjects.Append(7),
		[]string{"vmStorageVmIndex", "vmStorageIndex"},
		col("vmStorageVmIndex", ColStdStorageVmIndex, tInt, NotAccessible),
		col("vmStorageIndex", ColStdStorageIndex, tInt, NotAccessible),
		col("vmStorageParent", ColStdStorageParent, tInt, ReadOnly),
		col("vmStorageSourceType", ColStdStorageSourceType, tInt, ReadOnly),
		col("vmStorageSourceTypeString", ColStdStorageSourceTypeString, tStr, ReadOnly),
		col("vmStorageResourceID", ColStdStorageResourceID, tStr, ReadOnly),
		col("vmStorageAccess", ColStdStorageAccess, tInt, ReadOnly),
		col("vmStorageMediaType", ColStdStorageMediaType, tInt, ReadOnly),
		col("vmStorageMediaTypeString", ColStdStorageMediaTypeString, tStr, ReadOnly),
		col("vmStorageSizeUnit", ColStdStorageSizeUnit, tInt, ReadOnly),
		col("vmStorageDefinedSize", ColStdStorageDefinedSize, tInt, ReadOnly),
		col("vmStorageAllocatedSize", ColStdStorageAllocatedSize, tInt, ReadOnly),
		col("vmStorageReadIOs", ColStdStorageReadIOs, tC64, ReadOnly),
		col("vmStorageWriteIOs", ColStdStorageWriteIOs, tC64, ReadOnly),
		col("vmStorageReadOctets", ColStdStorageReadOctets, tC64, ReadOnly),
		col("vmStorageWriteOctets", ColStdStorageWriteOctets, tC64, ReadOnly),
		col("vmStorageReadLatency", ColStdStorageReadLatency, tC64, ReadOnly),
		col("vmStorageWriteLatency", ColStdStorageWriteLatency, tC64, ReadOnly),
	)

	StdVmNetworkTable = newTable("vmNetworkTable", "vmNetworkEntry", stdObjects.Append(8),
		[]string{"vmIndex", "vmNetworkIndex"},
		col("vmNetworkIndex", ColStdNetworkIndex, tInt, NotAccessible),
		col("vmNetworkIfIndex", ColStdNetworkIfIndex, tInt, ReadOnly),
		col("vmNetworkParent", ColStdNetworkParent, tInt, ReadOnly),
		col("vmNetworkModel", ColStdNetworkModel, tStr, ReadOnly),
		col("vmNetworkPhysAddress", ColStdNetworkPhysAddress, tStr, ReadOnly),
	)
)

// StdTables returns VM-MIB's tables in OID order.
func StdTables() []*Table {
	return []*Table{StdVmTable, StdVmCpuTable, StdVmCpuAffinityTable, StdVmStorageTable, StdVmNetworkTable}
}

// StdGroup is an OBJECT-GROUP of VM-MIB's compliance statements.
type StdGroup struct {
	Name    string
	OID     snmp.OID
	Objects []string
}

// StdObjectGroups returns the object groups of VM-MIB's compliance statements'
// MANDATORY-GROUPS (vmGroups 1 to 6), each with its OBJECTS as the RFC lists them.
func StdObjectGroups() []StdGroup {
	names := func(t *Table) []string {
		var out []string
		for _, c := range t.Columns {
			if c.Access != NotAccessible {
				out = append(out, c.Name)
			}
		}
		return out
	}
	hv := []string{}
	for _, s := range StdScalars() {
		hv = append(hv, s.Name)
	}
	return []StdGroup{
		{"vmHypervisorGroup", StdGroups.Append(1), hv},
		{"vmVirtualMachineGroup", StdGroups.Append(2), names(StdVmTable)},
		{"vmCpuGroup", StdGroups.Append(3), names(StdVmCpuTable)},
		{"vmCpuAffinityGroup", StdGroups.Append(4), names(StdVmCpuAffinityTable)},
		{"vmStorageGroup", StdGroups.Append(5), names(StdVmStorageTable)},
		{"vmNetworkGroup", StdGroups.Append(6), names(StdVmNetworkTable)},
	}
}

// StdLookup returns the OID of a named object, table, entry or column of VM-MIB, or false.
func StdLookup(name string) (snmp.OID, bool) {
	for _, s := range StdScalars() {
		if s.Name == name {
			return s.OID.Append(), true
		}
	}
	for _, t := range StdTables() {
		switch name {
		case t.Name:
			return t.OID.Append(), true
		case t.EntryName:
			return t.Entry().Append(), true
		}
		for _, c := range t.Columns {
			if c.Name == name {
				return t.Entry().Append(c.Num), true
			}
		}
	}
	if name == "vmAffectedVMs" {
		return stdObjects.Append(11), true
	}
	return nil, false
}
