package mib

// The device tables of the VMs: storageTable, networkTable, networkAddressTable and
// hbaTable. Counter64 columns have no instance when the counters are not current.

func storageTable() node {
	return &table[StorageRow]{
		t:    StorageTable,
		seek: func(s Snapshot, from key) (StorageRow, bool) { return s.Storage(from[0], from[1]) },
		into: storageInto,
		key:  func(r *StorageRow) key { return key{r.VMID, r.Index} },
		col:  storageColumn,
		fill: storageCounters,
		fillCols: []uint32{ColStorageCapacity, ColStorageAllocation, ColStorageReadRequests, ColStorageReadBytes,
			ColStorageWriteRequests, ColStorageWriteBytes},
	}
}

// storageCounters is the storage tables' fill: what DeviceFiller's StorageInto left out.
func storageCounters(s Snapshot, r *StorageRow) {
	if f, ok := s.(DeviceFiller); ok {
		f.StorageCounters(r)
	}
}

// storageInto and networkInto are the device tables' in-place seeks: DeviceFiller's
// when the snapshot has it.
func storageInto(s Snapshot, from key, dst *StorageRow) bool {
	if f, ok := s.(DeviceFiller); ok {
		return f.StorageInto(from[0], from[1], dst)
	}
	var ok bool
	*dst, ok = s.Storage(from[0], from[1])
	return ok
}

// networkCounters is networkTable's fill (vmNetworkTable shows no counters).
func networkCounters(s Snapshot, r *NetworkRow) {
	if f, ok := s.(DeviceFiller); ok {
		f.NetworkCounters(r)
	}
}

func networkInto(s Snapshot, from key, dst *NetworkRow) bool {
	if f, ok := s.(DeviceFiller); ok {
		return f.NetworkInto(from[0], from[1], dst)
	}
	var ok bool
	*dst, ok = s.Network(from[0], from[1])
	return ok
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
	return &table[NetworkRow]{
		t:    NetworkTable,
		seek: func(s Snapshot, from key) (NetworkRow, bool) { return s.Network(from[0], from[1]) },
		into: networkInto,
		key:  func(r *NetworkRow) key { return key{r.VMID, r.Index} },
		col:  networkColumn,
		fill: networkCounters,
		fillCols: []uint32{ColNetworkInOctets, ColNetworkInPackets, ColNetworkInErrors, ColNetworkInDrops,
			ColNetworkOutOctets, ColNetworkOutPackets, ColNetworkOutErrors, ColNetworkOutDrops},
	}
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
