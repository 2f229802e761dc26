package mib

// The device tables of the VMs: storageTable, networkTable, networkAddressTable and
// hbaTable. Counter64 columns have no instance when the counters are not current.

func storageTable() node {
	return subRowTable(StorageTable, Snapshot.Storage, DeviceFiller.StorageInto, DeviceFiller.StorageCounters,
		storageKey, storageColumn, ColStorageCapacity, ColStorageAllocation, ColStorageReadRequests,
		ColStorageReadBytes, ColStorageWriteRequests, ColStorageWriteBytes)
}

func storageKey(r *StorageRow) key { return key{r.VMID, r.Index} }
func networkKey(r *NetworkRow) key { return key{r.VMID, r.Index} }

// subRowTable is a table of rows (vmId, index) read by the Snapshot's seek, or in place
// by DeviceFiller's into with counters added for the columns fillCols only.
func subRowTable[R any](t *Table, seek func(Snapshot, uint32, uint32) (R, bool),
	into func(DeviceFiller, uint32, uint32, *R) bool, counters func(DeviceFiller, *R),
	key func(*R) key, col func(*R, uint32) value, fillCols ...uint32) *table[R] {
	tb := &table[R]{t: t, key: key, col: col,
		seek: func(s Snapshot, from [3]uint32) (R, bool) { return seek(s, from[0], from[1]) },
		into: func(s Snapshot, from [3]uint32, dst *R) bool {
			if f, ok := s.(DeviceFiller); ok {
				return into(f, from[0], from[1], dst)
			}
			var ok bool
			*dst, ok = seek(s, from[0], from[1])
			return ok
		},
	}
	if len(fillCols) > 0 {
		if counters == nil { // a table definition's mistake: fail when the module is built, not in a walk
			panic("mib: " + t.Name + ": counter columns without a counters filler")
		}
		tb.fill = func(s Snapshot, r *R) {
			if f, ok := s.(DeviceFiller); ok {
				counters(f, r)
			}
		}
		tb.fillCols = fillCols
	}
	return tb
}

func storageColumn(r *StorageRow, col uint32) value {
	switch col {
	case ColStorageVmUUID:
		return uuid(&r.UUID)
	case ColStorageDevice:
		return integer(int(r.Device)).when(r.Device.Valid())
	case ColStorageDiskImageIndex:
		return u32(r.DiskImageIndex)
	case ColStorageTargetDevice:
		return str(displayString(r.Target))
	case ColStorageBus:
		return str(displayString(r.Bus))
	case ColStorageCapacity:
		return c64(r.Capacity, true)
	case ColStorageAllocation:
		return c64(r.Allocation, true)
	case ColStorageReadRequests:
		return c64(r.ReadReqs, r.Counters)
	case ColStorageReadBytes:
		return c64(r.ReadBytes, r.Counters)
	case ColStorageWriteRequests:
		return c64(r.WriteReqs, r.Counters)
	case ColStorageWriteBytes:
		return c64(r.WriteBytes, r.Counters)
	case ColStorageRowStatus:
		return integer(int(RowActive))
	}
	return value{}
}

func networkTable() node {
	return subRowTable(NetworkTable, Snapshot.Network, DeviceFiller.NetworkInto, DeviceFiller.NetworkCounters,
		networkKey, networkColumn, ColNetworkInOctets, ColNetworkInPackets, ColNetworkInErrors, ColNetworkInDrops,
		ColNetworkOutOctets, ColNetworkOutPackets, ColNetworkOutErrors, ColNetworkOutDrops)
}

func networkColumn(r *NetworkRow, col uint32) value {
	switch col {
	case ColNetworkVmUUID:
		return uuid(&r.UUID)
	case ColNetworkMacAddress:
		return octets(r.MAC[:])
	case ColNetworkModel:
		return str(displayString(r.Model))
	case ColNetworkSourceType:
		t := r.SourceType
		if !t.Valid() {
			t = SourceOther
		}
		return integer(int(t))
	case ColNetworkSource:
		return str(adminString(r.Source))
	case ColNetworkTargetDevice:
		return str(displayString(r.Target))
	case ColNetworkInOctets:
		return c64(r.InOctets, r.Counters)
	case ColNetworkInPackets:
		return c64(r.InPackets, r.Counters)
	case ColNetworkInErrors:
		return c64(r.InErrors, r.Counters)
	case ColNetworkInDrops:
		return c64(r.InDrops, r.Counters)
	case ColNetworkOutOctets:
		return c64(r.OutOctets, r.Counters)
	case ColNetworkOutPackets:
		return c64(r.OutPackets, r.Counters)
	case ColNetworkOutErrors:
		return c64(r.OutErrors, r.Counters)
	case ColNetworkOutDrops:
		return c64(r.OutDrops, r.Counters)
	}
	return value{}
}

func hbaTable() node {
	return &table[HBARow]{
		t:    HbaTable,
		seek: func(s Snapshot, from key) (HBARow, bool) { return s.HBA(from[0], from[1]) },
		key:  func(r *HBARow) key { return key{r.VMID, r.Index} },
		col:  hbaColumn,
	}
}

func hbaColumn(r *HBARow, col uint32) value {
	switch col {
	case ColHbaVmUUID:
		return uuid(&r.UUID)
	case ColHbaType:
		return str(displayString(r.Type))
	case ColHbaModel:
		return str(displayString(r.Model))
	case ColHbaControllerIndex:
		return u32(r.ControllerIndex)
	}
	return value{}
}
