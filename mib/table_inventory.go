package mib

import (
	"time"
)

// The tables that are not per VM: hypervisorTable, diskImagesTable, supportedOsTable,
// kernelTable and virtualMachineTemplateTable.

func hypervisorTable() node {
	return &table[HypervisorRow]{
		t:    HypervisorTable,
		seek: func(s Snapshot, from key) (HypervisorRow, bool) { return s.Hypervisor(from[0]) },
		key:  func(r *HypervisorRow) key { return key{r.Index} },
		col:  hypervisorColumn,
	}
}

func hypervisorColumn(r *HypervisorRow, col uint32) value {
	switch col {
	case ColHypervisorName:
		return str(adminString(r.Name))
	case ColHypervisorUri:
		return str(longString(r.URI))
	case ColHypervisorType:
		return str(adminString(r.Type))
	case ColHypervisorVersion:
		return g32(r.Version)
	case ColHypervisorVersionString:
		return str(versionString(r.Version))
	case ColHypervisorLibvirtVersion:
		return str(versionString(r.LibvirtVersion))
	case ColHypervisorHostname:
		return str(adminString(r.Hostname))
	case ColHypervisorCpuModel:
		return str(displayString(r.CPUModel))
	case ColHypervisorCpus:
		return u32(r.CPUs)
	case ColHypervisorCpuMhz:
		return u32(r.MHz)
	case ColHypervisorMemoryMb:
		return g32(r.MemoryKiB / 1024)
	case ColHypervisorConnState:
		c := r.Conn
		if !c.Valid() {
			c = ConnConnecting
		}
		return integer(int(c))
	case ColHypervisorLastError:
		return str(adminString(r.LastError))
	case ColHypervisorLastSync:
		return octets(DateAndTime(r.LastSync))
	case ColHypervisorLastSyncDuration:
		return g32(uint64(r.LastSyncTook / time.Millisecond))
	case ColHypervisorVmCount:
		return u32(r.VMCount)
	}
	return value{}
}

// DateAndTime encodes t in UTC as SNMPv2-TC DateAndTime (8 octets); the zero time is
// year 0, January 1st, as hypervisorLastSync's "none yet".
func DateAndTime(t time.Time) []byte {
	if t.IsZero() {
		return []byte{0, 0, 1, 1, 0, 0, 0, 0}
	}
	t = t.UTC()
	y := t.Year()
	return []byte{byte(y >> 8), byte(y), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()), byte(t.Nanosecond() / 1e8)}
}

func diskImagesTable() node {
	return &table[DiskImageRow]{
		t:    DiskImagesTable,
		seek: func(s Snapshot, from key) (DiskImageRow, bool) { return s.DiskImage(from[0]) },
		into: func(s Snapshot, from key, dst *DiskImageRow) bool {
			if f, ok := s.(ImageFiller); ok {
				return f.DiskImageInto(from[0], dst)
			}
			var ok bool
			*dst, ok = s.DiskImage(from[0])
			return ok
		},
		key: func(r *DiskImageRow) key { return key{r.Index} },
		col: diskImageColumn,
		fill: func(s Snapshot, r *DiskImageRow) {
			if f, ok := s.(ImageFiller); ok {
				f.DiskImageCapacity(r)
			}
		},
		fillCols: []uint32{ColDiskImageCapacity},
	}
}

func diskImageColumn(r *DiskImageRow, col uint32) value {
	switch col {
	case ColDiskImagePath:
		return str(longString(r.Path))
	case ColDiskImageHost:
		return str(adminString(r.Host))
	case ColDiskImagePool:
		return str(adminString(r.Pool))
	case ColDiskImageName:
		return str(adminString(r.Name))
	case ColDiskImageFormat:
		return str(displayString(r.Format))
	case ColDiskImageCapacity:
		return c64(r.Capacity, true)
	case ColDiskImageAllocation:
		return c64(r.Allocation, true)
	}
	return value{}
}

func osTable() node {
	return &table[OSRow]{
		t:    SupportedOsTable,
		seek: func(s Snapshot, from key) (OSRow, bool) { return s.OS(from[0]) },
		key:  func(r *OSRow) key { return key{r.Index} },
		col:  osColumn,
	}
}

func osColumn(r *OSRow, col uint32) value {
	switch col {
	case ColOsName:
		info, _ := r.Info()
		return str(adminString(info.Name))
	case ColOsVersion:
		info, _ := r.Info()
		return str(adminString(info.Version))
	case ColOsFamily:
		info, _ := r.Info()
		return str(adminString(info.Family))
	case ColOsInfoId:
		return str(longString(r.OSInfoID))
	case ColOsSource:
		_, src := r.Info()
		return integer(int(src))
	}
	return value{}
}

func kernelTable() node {
	return &table[KernelRow]{
		t:    KernelTable,
		seek: func(s Snapshot, from key) (KernelRow, bool) { return s.Kernel(from[0]) },
		key:  func(r *KernelRow) key { return key{r.Index} },
		col:  kernelColumn,
	}
}

func kernelColumn(r *KernelRow, col uint32) value {
	switch col {
	case ColKernelPath:
		return str(longString(r.Path))
	case ColKernelInitrd:
		return str(longString(r.Initrd))
	case ColKernelCmdline:
		return str(longString(r.Cmdline))
	}
	return value{}
}

func templateTable() node {
	return &table[TemplateRow]{
		t:    VirtualMachineTemplateTable,
		seek: func(s Snapshot, from key) (TemplateRow, bool) { return s.Template(from[0]) },
		key:  func(r *TemplateRow) key { return key{r.Index} },
		col:  templateColumn,
	}
}

func templateColumn(r *TemplateRow, col uint32) value {
	switch col {
	case ColDomainTemplateName:
		return str(adminString(r.Name))
	case ColTemplateMemoryMb:
		return u32(r.MemoryMiB)
	case ColTemplateVcpus:
		return u32(r.VCPUs)
	case ColTemplateDiskImageIndex:
		return u32(r.DiskImageIndex)
	case ColTemplateXmlFile:
		return str(longString(r.XMLFile))
	case ColTemplateRowStatus:
		s := r.Status
		if !s.Valid() {
			s = RowActive
		}
		return integer(int(s))
	}
	return value{}
}
