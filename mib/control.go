package mib

import (
	"context"
	"errors"
)

// Controller is what the SET side of the module needs from the gateway. The read
// methods (VM, Image, HostUp, VMIDFree, StorageIndexFree, Template, TemplateIndexFree,
// CurrentTemplates)
// look at the merged view and the template store only, never at a hypervisor: TestSet
// decides every error status from them. The other methods change a hypervisor (or the
// template store) and are called by CommitSet; they return only after the view shows
// the result, so the SET's response and the next GET agree with it.
//
// scope is the SNMP context of the request: "" for the merged cluster, else a
// configured host name.
type Controller interface {
	VM(scope string, vmID uint32) (VMInfo, bool)
	// VMIDFree reports whether vmID is held by no domain, present or recently gone.
	VMIDFree(vmID uint32) bool
	// StorageIndexFree reports whether storageIndex idx of vmID is held by no device.
	StorageIndexFree(vmID, idx uint32) bool
	// HostUp reports whether name is a configured host (known) and connected (up).
	HostUp(name string) (up, known bool)
	// HostMemoryKiB is the host's physical memory, for name "" the most any host has
	// (0 when not known yet).
	HostMemoryKiB(name string) uint64
	// NameTaken reports whether a domain of host has that name.
	NameTaken(host, name string) bool
	Image(scope string, idx uint32) (ImageInfo, bool)
	Template(idx uint32) (TemplateInfo, bool)
	// CurrentTemplates returns virtualMachineTemplate and storageTemplate.
	CurrentTemplates() (vm, storage uint32)
	// TemplateDir is the template directory ("" when templates are disabled).
	TemplateDir() string
	// TemplateFileExists reports whether the template directory holds a file of that
	// name (a new template must not replace another's file).
	TemplateFileExists(name string) bool
	// TemplateIndexFree reports whether a new template of file name may take index idx:
	// no template holds idx, nor did one of another file within the grace period.
	TemplateIndexFree(idx uint32, file string) bool
	// TemplatesAvailable returns why the template store cannot change now (nil: it
	// can; replicas: etcd has no quorum). TestSet answers resourceUnavailable then.
	TemplatesAvailable() error

	Create(ctx context.Context, spec CreateSpec) error
	// Destroy powers the domain off if it is active and undefines it; disks are kept.
	Destroy(ctx context.Context, host string, vmID uint32) error
	SetState(ctx context.Context, host string, vmID uint32, to VMState) error
	Rename(ctx context.Context, host string, vmID uint32, name string) error
	SetMemory(ctx context.Context, host string, vmID uint32, mb uint32) error
	SetVCPUs(ctx context.Context, host string, vmID uint32, n uint32) error
	SetAutostart(ctx context.Context, host string, vmID uint32, on bool) error
	AttachDisk(ctx context.Context, host string, vmID uint32, d DiskSpec) error
	DetachDisk(ctx context.Context, host string, vmID uint32, target string) error
	// ChangeMedia puts image (0: none, eject) into a cdRom or floppy drive.
	ChangeMedia(ctx context.Context, host string, vmID uint32, target string, image uint32) error
	SetCurrentTemplates(vm, storage uint32) error
	// PutTemplate creates or replaces a template row (its XML file, written atomically).
	PutTemplate(t TemplateInfo) error
	DeleteTemplate(idx uint32) error
}

// ErrPartial marks a Controller error after which a change is half applied and could
// not be undone: CommitSet answers undoFailed instead of commitFailed.
var ErrPartial = errors.New("change partly applied and not undone")

// VMInfo is what SET checks need to know of one VM row.
type VMInfo struct {
	ID         uint32
	UUID       string // canonical form
	Name       string
	Host       string
	State      VMState // StateUnknown while the host is not connected
	Persistent bool
	Autostart  bool
	// NoPMAgent: a QEMU domain without the guest agent's channel (QEMU suspends to RAM
	// through the agent; other drivers, e.g. Xen's, do not need one).
	NoPMAgent bool
	// FixedVCPUs: the running VM cannot lose a vCPU (QEMU unplugs only vCPUs plugged
	// while it runs, and needs ACPI).
	FixedVCPUs bool
	MemoryKiB  uint64 // current memory
	MaxMemKiB  uint64 // maximum memory (<memory>)
	VCPUs      uint32
	MaxVCPUs   uint32
	Disks      []DiskInfo
}

// DiskInfo is one storage row of a VM.
type DiskInfo struct {
	Index  uint32 // storageIndex
	Device StorageDevice
	Target string
	Bus    string
	Image  uint32 // diskImageIndex, 0 for none
}

// ImageInfo is one row of diskImagesTable.
type ImageInfo struct {
	Index  uint32
	Host   string
	Path   string
	Format string // raw, qcow2...; "" if unknown
	InPool bool
}

// TemplateInfo is one row of virtualMachineTemplateTable.
type TemplateInfo struct {
	Index    uint32
	Name     string // domainTemplateName
	MemoryMb uint32
	VCPUs    uint32
	Image    uint32 // templateDiskImageIndex
	XMLFile  string // path inside the template directory; "" for the built-in definition
	Status   RowStatus
}

// CreateSpec is a new VM: the template's values overridden by the columns set in the
// creating PDU (zero values: the template's).
type CreateSpec struct {
	VMID      uint32
	Host      string
	Name      string // "" : the template's name, '-', vmId (made unique on the host)
	Template  uint32
	MemoryMb  uint32 // memoryTotalMb set in the creating PDU; 0: the template's
	Autostart *bool
	Image     uint32 // diskImageIndex the new VM gets a copy of (storageTemplate, else the template's); 0: none
	Start     bool   // createAndGo
}

// DiskSpec is a device to attach: the storage row created by storageRowStatus.
type DiskSpec struct {
	Index  uint32 // storageIndex chosen by the manager
	Device StorageDevice
	Image  uint32 // diskImageIndex; 0 for an empty cdRom/floppy drive
	Target string // "" : the first free name for the bus
	Bus    string // "" : the device's default bus
}
