package mib

import (
	"time"

	"github.com/vmgate/vmgate/snmp"
)

// What VM-MIB reads beyond the module's own rows: the View's Snapshot answers both.

// StdInfo is VM-MIB's hypervisor group of one context, as the Snapshot computes it.
type StdInfo struct {
	Software string   // vmHvSoftware
	Version  string   // vmHvVersion
	ObjectID snmp.OID // vmHvObjectID; nil reads zeroDotZero
	// Up is vmHvUpTime; LastChange is vmTableLastChange, Up at the last creation or
	// deletion of a vmTable row (0: none since Up began).
	Up, LastChange time.Duration
	VMs            uint32 // vmNumber
}

// StdAdminState is VirtualMachineAdminState.
type StdAdminState int

const (
	AdminRunning   StdAdminState = 1
	AdminSuspended StdAdminState = 2
	AdminPaused    StdAdminState = 3
	AdminShutdown  StdAdminState = 4
)

// StdOperState is VirtualMachineOperState.
type StdOperState int

const (
	OperUnknown      StdOperState = 1
	OperOther        StdOperState = 2
	OperPreparing    StdOperState = 3
	OperRunning      StdOperState = 4
	OperSuspending   StdOperState = 5
	OperSuspended    StdOperState = 6
	OperResuming     StdOperState = 7
	OperPaused       StdOperState = 8
	OperMigrating    StdOperState = 9
	OperShuttingdown StdOperState = 10
	OperShutdown     StdOperState = 11
	OperCrashed      StdOperState = 12
)

// StdStorageSourceType is VirtualMachineStorageSourceType.
type StdStorageSourceType int

const (
	StorageSourceUnknown StdStorageSourceType = 1
	StorageSourceOther   StdStorageSourceType = 2
	StorageSourceBlock   StdStorageSourceType = 3
	StorageSourceRaw     StdStorageSourceType = 4
	StorageSourceSparse  StdStorageSourceType = 5
	StorageSourceNetwork StdStorageSourceType = 6
)

// StdMediaType is IANAStorageMediaType (as its SYNTAX numbers it: other is 1).
type StdMediaType int

const (
	MediaOther   StdMediaType = 1
	MediaUnknown StdMediaType = 2
	MediaHard    StdMediaType = 3
	MediaOptical StdMediaType = 4
	MediaFloppy  StdMediaType = 5
)

// StdAffinity is vmCpuAffinity.
type StdAffinity int

const (
	AffinityUnknown StdAffinity = 0
	AffinityEnable  StdAffinity = 1
	AffinityDisable StdAffinity = 2
)

// CPUAffinityRow is a row of vmCpuAffinityTable: may vCPU CPU (from 1) of VM VMID run on
// host CPU Phys (from 1)?
type CPUAffinityRow struct {
	VMID, CPU, Phys uint32
	Affinity        StdAffinity
}

// StdEnables are VM-MIB's two writable scalars, vmPerVMNotificationsEnabled and
// vmBulkNotificationsEnabled: the gateway keeps them (and its notifier reads them).
type StdEnables interface {
	PerVM() bool
	Bulk() bool
	SetPerVM(on bool) error
	SetBulk(on bool) error
}
