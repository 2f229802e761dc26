package view

import "github.com/vmgate/vmgate/hosts"

// Domain is a VM record's domain: the fields of hosts.Domain the MIB shows, without
// the devices (they are the record's Disks, NICs and HBAs). Its fields of few distinct
// values (DomainKind) are shared by every record with the same ones, and the fields few
// domains use (DomainExtra) sit behind a pointer shared by every record without them:
// 96 bytes a record instead of the 440 of a hosts.Domain. Both pointers are never nil
// in a record of the view, so their fields read as the Domain's own (d.Arch, d.Kernel).
type Domain struct {
	UUID             hosts.UUID
	Name             string
	ID               int32 // -1 when inactive
	Reason           int32
	State            hosts.DomainState
	MemoryKiB        uint64 // <memory>: maximum
	CurrentMemoryKiB uint64 // <currentMemory>
	VCPUs            int32  // current vCPUs
	MaxVCPUs         int32  // <vcpu>
	Persistent       bool
	Autostart        bool
	GuestAgent       bool
	FixedVCPUs       bool
	*DomainKind
	*DomainExtra
}

// DomainKind is what many domains share: type, OS and machine (hosts.Domain's fields
// of the same names).
type DomainKind struct {
	DomainType, OSType, Arch, Machine, OSInfoID string
}

// DomainExtra is what few domains have (hosts.Domain's fields of the same names):
// direct kernel boot, CPU affinity, a guest agent's OS.
type DomainExtra struct {
	Kernel, Initrd, Cmdline string
	CPUSet                  hosts.CPUSet
	VCPUPins                []hosts.VCPUPin
	GuestOS                 hosts.GuestOS
}

// noExtra is the DomainExtra of every domain without one; never modified.
var noExtra = &DomainExtra{}

func (x *DomainExtra) zero() bool {
	return x.Kernel == "" && x.Initrd == "" && x.Cmdline == "" && x.CPUSet == nil &&
		x.VCPUPins == nil && x.GuestOS == (hosts.GuestOS{})
}

// Affinity is hosts.Domain.Affinity: the host CPUs vCPU number vcpu (from 0) may run on
// as the definition says; false: every host CPU.
func (x *DomainExtra) Affinity(vcpu int) (hosts.CPUSet, bool) {
	d := hosts.Domain{CPUSet: x.CPUSet, VCPUPins: x.VCPUPins}
	return d.Affinity(vcpu)
}

// compact returns the record form of d (its devices left out), its strings of few
// values interned.
func (t *strTable) compact(d *hosts.Domain) Domain {
	kind := DomainKind{DomainType: t.intern(d.DomainType), OSType: t.intern(d.OSType),
		Arch: t.intern(d.Arch), Machine: t.intern(d.Machine), OSInfoID: t.intern(d.OSInfoID)}
	x := &DomainExtra{Kernel: t.intern(d.Kernel), Initrd: t.intern(d.Initrd), Cmdline: t.intern(d.Cmdline),
		CPUSet: d.CPUSet, VCPUPins: d.VCPUPins, GuestOS: d.GuestOS}
	if x.zero() {
		x = noExtra
	}
	return Domain{UUID: d.UUID, Name: d.Name, ID: d.ID, Reason: d.Reason, State: d.State,
		MemoryKiB: d.MemoryKiB, CurrentMemoryKiB: d.CurrentMemoryKiB,
		VCPUs: int32(d.VCPUs), MaxVCPUs: int32(d.MaxVCPUs), Persistent: d.Persistent,
		Autostart: d.Autostart, GuestAgent: d.GuestAgent, FixedVCPUs: d.FixedVCPUs,
		DomainKind: t.kind(kind), DomainExtra: x}
}

// hostsDomain is d as hosts reported it, without devices.
func (d *Domain) hostsDomain() hosts.Domain {
	return hosts.Domain{UUID: d.UUID, Name: d.Name, ID: d.ID, Reason: d.Reason, State: d.State,
		MemoryKiB: d.MemoryKiB, CurrentMemoryKiB: d.CurrentMemoryKiB,
		VCPUs: int(d.VCPUs), MaxVCPUs: int(d.MaxVCPUs), Persistent: d.Persistent,
		Autostart: d.Autostart, GuestAgent: d.GuestAgent, FixedVCPUs: d.FixedVCPUs,
		DomainType: d.DomainType, OSType: d.OSType, Arch: d.Arch, Machine: d.Machine, OSInfoID: d.OSInfoID,
		Kernel: d.Kernel, Initrd: d.Initrd, Cmdline: d.Cmdline, CPUSet: d.CPUSet, VCPUPins: d.VCPUPins,
		GuestOS: d.GuestOS}
}
