package mibview

import (
	"time"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// VM-MIB (RFC 7666): what its rows need beyond VIRTUAL-MACHINES-MIB's. docs/vm-mib.md
// explains each choice.

// Std implements mib.Snapshot. A host's context describes the hypervisor as libvirt
// reports it, up since the gateway's session with it began; the merged context
// describes the gateway itself (its version, its start).
func (ms *mibSnap) Std() mib.StdInfo {
	now := ms.s.Now()
	since := func(from, to time.Time) time.Duration {
		if from.IsZero() || to.Before(from) {
			return 0
		}
		return to.Sub(from)
	}
	changed := ms.m.view.TableChanged(ms.ctx)
	if ms.ctx == "" {
		return mib.StdInfo{Software: "vmgate", Version: ms.m.version, ObjectID: mib.AgentOID,
			Up: since(ms.m.started, now), LastChange: since(ms.m.started, changed), VMs: uint32(ms.s.VMCount(""))}
	}
	e, ok := ms.s.Host(ms.ctx)
	if !ok {
		return mib.StdInfo{}
	}
	info := mib.StdInfo{Software: e.Hypervisor.Type, Version: mib.FormatVersion(e.Hypervisor.Version),
		VMs: uint32(ms.s.VMCount(ms.ctx))}
	if e.Health.Status == hosts.Up {
		info.Up, info.LastChange = since(e.Health.Since, now), since(e.Health.Since, changed)
	}
	return info
}

// CPUAffinity implements mib.Snapshot: for each vCPU of the VM (as CPU), each CPU of
// its host, enable when the definition lets the vCPU run there (hosts.Domain.Affinity).
func (ms *mibSnap) CPUAffinity(vmID, cpu, phys uint32) (mib.CPUAffinityRow, bool) {
	return subRow(ms, vmID, cpu, func(r view.VMRow, from uint32) (mib.CPUAffinityRow, bool) {
		if from != cpu || r.VMID != vmID {
			phys = 0 // a following vCPU or VM starts at its first host CPU
		}
		e, ok := ms.s.Host(r.Host)
		if !ok || e.Hypervisor.Node.CPUs == 0 {
			return mib.CPUAffinityRow{}, false
		}
		n, pcpus := uint32(max(r.Domain.VCPUs, 0)), e.Hypervisor.Node.CPUs
		c, p := max(from, 1), max(phys, 1)
		if p > pcpus {
			c, p = c+1, 1
		}
		if c > n {
			return mib.CPUAffinityRow{}, false
		}
		row := mib.CPUAffinityRow{VMID: r.VMID, CPU: c, Phys: p, Affinity: mib.AffinityEnable}
		if set, pinned := r.Domain.Affinity(int(c - 1)); pinned && !set.Has(p-1) {
			row.Affinity = mib.AffinityDisable
		}
		return row, true
	})
}

// libvirt's state reasons (virDomain*Reason) that VM-MIB's states tell apart.
const (
	pausedMigration    = 2
	pausedSave         = 3
	pausedShuttingDown = 8
	pausedCrashed      = 10
	pausedStartingUp   = 11
	pausedPostcopy     = 12
	shutoffCrashed     = 3
	shutoffSaved       = 5
	shutoffFailed      = 6
)

// stdStates maps libvirt's state and reason to VM-MIB's administrative and
// operational states.
func stdStates(s hosts.DomainState, reason int32) (mib.StdAdminState, mib.StdOperState) {
	switch s {
	case hosts.StateRunning, hosts.StateBlocked:
		return mib.AdminRunning, mib.OperRunning
	case hosts.StatePaused:
		switch reason {
		case pausedMigration, pausedPostcopy:
			return mib.AdminRunning, mib.OperMigrating
		case pausedSave:
			return mib.AdminSuspended, mib.OperSuspending
		case pausedShuttingDown:
			return mib.AdminShutdown, mib.OperShuttingdown
		case pausedCrashed:
			return mib.AdminPaused, mib.OperCrashed
		case pausedStartingUp:
			return mib.AdminRunning, mib.OperPreparing
		}
		return mib.AdminPaused, mib.OperPaused
	case hosts.StateShutdown:
		return mib.AdminShutdown, mib.OperShuttingdown
	case hosts.StateShutoff:
		switch reason {
		case shutoffCrashed, shutoffFailed:
			return mib.AdminShutdown, mib.OperCrashed
		case shutoffSaved:
			return mib.AdminSuspended, mib.OperSuspended
		}
		return mib.AdminShutdown, mib.OperShutdown
	case hosts.StateCrashed:
		return mib.AdminShutdown, mib.OperCrashed
	case hosts.StatePMSuspended:
		return mib.AdminSuspended, mib.OperSuspended
	}
	return mib.AdminRunning, mib.OperOther // nostate: libvirt knows no better
}

// stdSource is vmStorageSourceType of a libvirt disk: block and network by its type,
// a file or volume raw by its format, any other format (qcow2...) sparse.
func stdSource(typ, source, format string) mib.StdStorageSourceType {
	switch typ {
	case "block":
		return mib.StorageSourceBlock
	case "network":
		return mib.StorageSourceNetwork
	case "file", "volume":
		switch {
		case source == "":
			return mib.StorageSourceUnknown // an empty drive
		case format == "" || format == "raw":
			return mib.StorageSourceRaw
		}
		return mib.StorageSourceSparse
	}
	return mib.StorageSourceOther
}

// stdMedia is vmStorageMediaType of a libvirt disk device.
func stdMedia(device string) mib.StdMediaType {
	switch device {
	case "", "disk":
		return mib.MediaHard
	case "cdrom":
		return mib.MediaOptical
	case "floppy":
		return mib.MediaFloppy
	}
	return mib.MediaOther // lun: a host SCSI device passed through, of any kind
}
