package mib

import (
	"math"
)

// VM-MIB's objects, from the same rows as the module's own tables: vmIndex is vmId,
// vmCpuIndex cpuIndex, vmStorageIndex storageIndex, vmNetworkIndex networkIndex.

// stdNodes lists VM-MIB's objects in OID order; en may be nil (both enables false).
func stdNodes(en StdEnables) []node {
	info := func(f func(StdInfo) value) func(Snapshot) value {
		return func(s Snapshot) value { return f(s.Std()) }
	}
	enabled := func(on func() bool) func(Snapshot) value {
		return func(Snapshot) value { return integer(int(Truth(en != nil && on()))) }
	}
	var perVM, bulk func() bool
	if en != nil {
		perVM, bulk = en.PerVM, en.Bulk
	}
	return []node{
		newScalar(StdHvSoftware, info(func(i StdInfo) value { return str(adminString(i.Software)) })),
		newScalar(StdHvVersion, info(func(i StdInfo) value { return str(adminString(i.Version)) })),
		newScalar(StdHvObjectID, info(func(i StdInfo) value {
			if len(i.ObjectID) == 0 {
				return objectID(".0.0") // zeroDotZero
			}
			return objectID(i.ObjectID.String())
		})),
		newScalar(StdHvUpTime, info(func(i StdInfo) value { return timeticks(i.Up) })),
		newScalar(StdNumber, info(func(i StdInfo) value { return integer(int32of(uint64(i.VMs))) })),
		newScalar(StdTableLastChange, info(func(i StdInfo) value { return timeticks(i.LastChange) })),
		&table[VMRow]{
			t:        StdVmTable,
			seek:     func(s Snapshot, from key) (VMRow, bool) { return s.VM(from[0]) },
			into:     vmInto,
			key:      func(r *VMRow) key { return key{r.ID} },
			col:      stdVMColumn,
			fill:     counters,
			fillCols: []uint32{ColStdCpuTime},
		},
		subRowTable(StdVmCpuTable, Snapshot.CPU, DeviceFiller.CPUInto, DeviceFiller.CPUCounters, cpuKey,
			func(r *CPURow, col uint32) value {
				if col == ColStdCpuCoreTime {
					return c64(r.TimeNs/1000, r.Counters)
				}
				return value{}
			}, ColStdCpuCoreTime),
		&table[CPUAffinityRow]{
			t: StdVmCpuAffinityTable,
			seek: func(s Snapshot, from key) (CPUAffinityRow, bool) {
				return s.CPUAffinity(from[0], from[1], from[2])
			},
			key: func(r *CPUAffinityRow) key { return key{r.VMID, r.CPU, r.Phys} },
			col: func(r *CPUAffinityRow, col uint32) value {
				if col == ColStdCpuAffinity {
					return integer(int(r.Affinity))
				}
				return value{}
			},
		},
		subRowTable(StdVmStorageTable, Snapshot.Storage, DeviceFiller.StorageInto, DeviceFiller.StorageCounters,
			storageKey, stdStorageColumn, ColStdStorageSizeUnit, ColStdStorageDefinedSize, ColStdStorageAllocatedSize,
			ColStdStorageReadIOs, ColStdStorageWriteIOs, ColStdStorageReadOctets, ColStdStorageWriteOctets,
			ColStdStorageReadLatency, ColStdStorageWriteLatency),
		subRowTable(StdVmNetworkTable, Snapshot.Network, DeviceFiller.NetworkInto, nil, networkKey,
			stdNetworkColumn), // no counters
		newScalar(StdPerVMNotificationsEnabled, enabled(perVM)),
		newScalar(StdBulkNotificationsEnabled, enabled(bulk)),
	}
}

// int32of clamps to Integer32's positive range.
func int32of(n uint64) int {
	return int(min(n, math.MaxInt32))
}

// pick is the enumeration value yes when b, else no.
func pick(b bool, yes, no int) value {
	if b {
		return integer(yes)
	}
	return integer(no)
}

// memUnit is vmMemUnit: vmCurMem and vmMaxMem are in KiB, as libvirt gives them.
const memUnit = 1024

func stdVMColumn(r *VMRow, col uint32) value {
	switch col {
	case ColStdName:
		return str(adminString(r.Name))
	case ColStdUUID:
		return uuid(&r.UUID)
	case ColStdOSType:
		return str(adminString(r.OSType))
	case ColStdAdminState:
		return integer(int(r.Admin)).when(r.Admin >= AdminRunning && r.Admin <= AdminShutdown)
	case ColStdOperState:
		o := r.Oper
		if r.Stale || o < OperUnknown || o > OperCrashed {
			o = OperUnknown
		}
		return integer(int(o))
	case ColStdAutoStart:
		return pick(r.Autostart, 2, 3) // enabled(2), disabled(3)
	case ColStdPersistent:
		return pick(r.Persistent, 2, 3) // persistent(2), transient(3)
	case ColStdCurCpuNumber:
		return integer(int32of(uint64(r.VCPUs)))
	case ColStdMinCpuNumber, ColStdMinMem:
		return integer(-1) // libvirt sets no lower bound
	case ColStdMaxCpuNumber:
		return integer(int32of(uint64(r.MaxVCPUs)))
	case ColStdMemUnit:
		return integer(memUnit)
	case ColStdCurMem:
		return integer(int32of(r.MemoryKiB))
	case ColStdMaxMem:
		return integer(int32of(r.MaxMemKiB))
	case ColStdUpTime:
		return timeticks(r.Uptime)
	case ColStdCpuTime:
		return c64(r.CPUTimeNs/1000, r.Counters)
	}
	return value{}
}

// storageUnit is vmStorageSizeUnit of a row: the smallest of bytes, KiB, MiB, GiB and
// TiB in which both sizes fit an Integer32, so that a small disk reads exactly.
func storageUnit(r *StorageRow) uint64 {
	unit := uint64(1)
	for max(r.Capacity, r.Allocation)/unit > math.MaxInt32 && unit < 1<<40 {
		unit <<= 10
	}
	return unit
}

func stdStorageColumn(r *StorageRow, col uint32) value {
	sized := func(n uint64) value {
		if r.Capacity == 0 { // unknown
			return integer(-1)
		}
		return integer(int32of(n / storageUnit(r)))
	}
	switch col {
	case ColStdStorageParent:
		return integer(0) // no hrStorageTable in this agent
	case ColStdStorageSourceType:
		t := r.SourceType
		if t < StorageSourceUnknown || t > StorageSourceNetwork {
			t = StorageSourceUnknown
		}
		return integer(int(t))
	case ColStdStorageSourceTypeString:
		return str(adminString(r.Format))
	case ColStdStorageResourceID:
		return str(adminString(r.ResourceID))
	case ColStdStorageAccess:
		return pick(r.ReadOnly, 3, 2) // readonly(3), readwrite(2)
	case ColStdStorageMediaType:
		m := r.Media
		if m < MediaOther || m > MediaFloppy {
			m = MediaUnknown
		}
		return integer(int(m))
	case ColStdStorageMediaTypeString:
		return str(adminString(r.Bus))
	case ColStdStorageSizeUnit:
		return integer(int32of(storageUnit(r)))
	case ColStdStorageDefinedSize:
		return sized(r.Capacity)
	case ColStdStorageAllocatedSize:
		if r.SourceType == StorageSourceBlock || r.SourceType == StorageSourceRaw {
			return sized(r.Capacity) // the RFC: equal to the defined size for block and raw
		}
		return sized(r.Allocation)
	case ColStdStorageReadIOs:
		return c64(r.ReadReqs, r.Counters)
	case ColStdStorageWriteIOs:
		return c64(r.WriteReqs, r.Counters)
	case ColStdStorageReadOctets:
		return c64(r.ReadBytes, r.Counters)
	case ColStdStorageWriteOctets:
		return c64(r.WriteBytes, r.Counters)
	case ColStdStorageReadLatency:
		return c64(r.ReadTimeNs/1000, r.Counters)
	case ColStdStorageWriteLatency:
		return c64(r.WriteTimeNs/1000, r.Counters)
	}
	return value{}
}

func stdNetworkColumn(r *NetworkRow, col uint32) value {
	switch col {
	case ColStdNetworkIfIndex, ColStdNetworkParent:
		return integer(0) // no ifTable in this agent
	case ColStdNetworkModel:
		return str(adminString(r.Model))
	case ColStdNetworkPhysAddress:
		return octets(r.MAC[:])
	}
	return value{}
}
