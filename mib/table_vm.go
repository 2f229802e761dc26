package mib

import (
	"time"
)

// The per-VM tables: virtualMachinesTable, memoryTable and cpuTable.

func vmTable() node {
	return &table[VMRow]{
		t:        VirtualMachinesTable,
		seek:     func(s Snapshot, from key) (VMRow, bool) { return s.VM(from[0]) },
		into:     vmInto,
		key:      func(r *VMRow) key { return key{r.ID} },
		col:      vmColumn,
		fill:     counters,
		fillCols: []uint32{ColVmCpuMilliseconds},
	}
}

// vmInto is the VM tables' in-place seek: VMFiller's when the snapshot has it.
func vmInto(s Snapshot, from key, dst *VMRow) bool {
	if f, ok := s.(VMFiller); ok {
		return f.VMInto(from[0], dst)
	}
	var ok bool
	*dst, ok = s.VM(from[0])
	return ok
}

// counters is a VM table's fill: the row's counters.
func counters(s Snapshot, r *VMRow) { s.VMCounters(r) }

func vmColumn(r *VMRow, col uint32) value {
	switch col {
	case ColVmUUID:
		return uuid(&r.UUID)
	case ColVmName:
		return str(adminString(r.Name))
	case ColVmOsIndex:
		return u32(r.OSIndex)
	case ColVmState:
		return integer(int(r.shownState()))
	case ColVmConfFile:
		return str(longString(r.confFile()))
	case ColVmKernelIndex:
		return u32(r.KernelIndex)
	case ColVmRowStatus:
		return integer(int(RowActive))
	case ColVmHost:
		return str(adminString(r.Host))
	case ColVmAutostart:
		return integer(int(Truth(r.Autostart)))
	case ColVmPersistent:
		return integer(int(Truth(r.Persistent)))
	case ColVmUptime:
		return timeticks(r.Uptime)
	case ColVmVcpus:
		return u32(r.VCPUs)
	case ColVmVcpusMax:
		return u32(r.MaxVCPUs)
	case ColVmMemoryMb:
		return g32(r.MemoryKiB / 1024)
	case ColVmCpuMilliseconds:
		return c64(r.CPUTimeNs/1e6, r.Counters)
	case ColVmUUIDText:
		return uuidText(&r.UUID)
	}
	return value{}
}

// shownState is vmState: unknown(9) while the host is not connected.
func (r *VMRow) shownState() VMState {
	if r.Stale || !r.State.Valid() {
		return StateUnknown
	}
	return r.State
}

// confFile is vmConfFile: the persistent definition's path when the host's driver keeps
// it in a known directory.
func (r *VMRow) confFile() string {
	if r.ConfDir == "" || !r.Persistent {
		return ""
	}
	return r.ConfDir + "/" + r.Name + ".xml"
}

// ticks converts to TimeTicks (hundredths of a second), saturating.
func ticks(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return gauge(uint64(d / (10 * time.Millisecond)))
}

func memoryTable() node {
	return &table[VMRow]{
		t:        MemoryTable,
		seek:     func(s Snapshot, from key) (VMRow, bool) { return s.VM(from[0]) },
		into:     vmInto,
		key:      func(r *VMRow) key { return key{r.ID} },
		col:      memoryColumn,
		fill:     counters,
		fillCols: []uint32{ColMemoryUsedKB, ColMemoryFreeKB, ColMemoryBalloonKB, ColMemoryRssKB},
	}
}

// memoryColumn: the balloon statistics read 0 (the MIB's "0 if unknown") when they
// are not current.
func memoryColumn(r *VMRow, col uint32) value {
	cur := func(n uint64) uint64 {
		if !r.Counters {
			return 0
		}
		return n
	}
	switch col {
	case ColMemoryVmUUID:
		return uuid(&r.UUID)
	case ColMemoryTotalMb:
		return g32(r.MemoryKiB / 1024)
	case ColMemoryUsedKB:
		return g32(cur(r.UsedKiB))
	case ColMemoryFreeKB:
		return g32(cur(r.FreeKiB))
	case ColMemoryMaxKB:
		return g32(r.MaxMemKiB)
	case ColMemoryBalloonKB:
		return g32(cur(r.BalloonKiB))
	case ColMemoryRssKB:
		return g32(cur(r.RSSKiB))
	}
	return value{}
}

func cpuTable() node {
	return subRowTable(CpuTable, Snapshot.CPU, DeviceFiller.CPUInto, DeviceFiller.CPUCounters, cpuKey, cpuColumn,
		ColCpuMilliseconds, ColCpuState)
}

func cpuKey(r *CPURow) key { return key{r.VMID, r.Index} }

func cpuColumn(r *CPURow, col uint32) value {
	switch col {
	case ColCpuVmUUID:
		return uuid(&r.UUID)
	case ColCpuArch:
		return str(displayString(r.Arch))
	case ColCpuMhz:
		return u32(r.MHz)
	case ColCpuMilliseconds:
		return c64(r.TimeNs/1e6, r.Counters)
	case ColCpuState:
		return integer(int(r.State)).when(r.State.Valid())
	case ColCpuRowStatus:
		return integer(int(RowActive))
	}
	return value{}
}
