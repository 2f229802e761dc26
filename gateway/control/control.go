package control

import (
	"github.com/vmgate/vmgate/gateway/mibview"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view"

	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// Executor implements mib.Controller: SETs of the VIRTUAL-MACHINES-MIB become
// operations of the hosts' supervisors. Its read methods use the view only.
type Executor struct {
	// commit is held by the MIB handler around each SET's commit (sync.Locker): changes
	// of two PDUs never interleave, whatever the engine's scheduling.
	commit sync.Mutex
	view   *view.View
	reg    registry.Store
	tpl    templates.Store
	host   func(name string) (*hosts.Supervisor, bool)
	touch  func(host string, id hosts.UUID)
	logger *slog.Logger
}

// Option tunes an Executor.
type Option func(*Executor)

// WithTouch makes the Executor report each domain a commit is about to change (or
// create) to f, before it does: replicas announce them to each other (gateway/coord).
func WithTouch(f func(host string, id hosts.UUID)) Option { return func(c *Executor) { c.touch = f } }

var _ mib.Controller = (*Executor)(nil)

// Lock and Unlock make Executor a sync.Locker for the MIB handler's commits.
func (c *Executor) Lock()   { c.commit.Lock() }
func (c *Executor) Unlock() { c.commit.Unlock() }

// New returns the controller over view (with its registry), the template store
// and the supervisors host returns by configured name.
func New(view *view.View, reg registry.Store, tpl templates.Store,
	host func(string) (*hosts.Supervisor, bool), logger *slog.Logger, opts ...Option) *Executor {
	c := &Executor{view: view, reg: reg, tpl: tpl, host: host, logger: logger,
		touch: func(string, hosts.UUID) {}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// VM implements mib.Controller.
func (c *Executor) VM(scope string, vmID uint32) (mib.VMInfo, bool) {
	r, ok := c.view.Read().VM(scope, vmID)
	if !ok {
		return mib.VMInfo{}, false
	}
	d := &r.Domain
	info := mib.VMInfo{
		ID: r.VMID, UUID: d.UUID.String(), Name: d.Name, Host: r.Host,
		State: mib.VMState(int(d.State) + 1), Persistent: d.Persistent, Autostart: d.Autostart,
		NoPMAgent: (d.DomainType == "qemu" || d.DomainType == "kvm") && !d.GuestAgent, FixedVCPUs: d.FixedVCPUs, MemoryKiB: d.CurrentMemoryKiB, MaxMemKiB: d.MemoryKiB,
		VCPUs: uint32(max(d.VCPUs, 0)), MaxVCPUs: uint32(max(d.MaxVCPUs, 0)),
	}
	if r.Stale {
		info.State = mib.StateUnknown
	}
	for _, dk := range r.Disks {
		info.Disks = append(info.Disks, mib.DiskInfo{Index: dk.StorageIndex, Device: mibview.StorageDevice(dk.Device),
			Target: dk.Target, Bus: dk.Bus, Image: dk.DiskImageIndex})
	}
	return info, true
}

// VMIDFree implements mib.Controller.
func (c *Executor) VMIDFree(vmID uint32) bool { return c.reg.Free(registry.NSVM, vmID) }

// StorageIndexFree implements mib.Controller.
func (c *Executor) StorageIndexFree(_, idx uint32) bool { return c.reg.Free(registry.NSStorage, idx) }

// HostUp implements mib.Controller.
func (c *Executor) HostUp(name string) (up, known bool) {
	h, ok := c.view.Read().HostHealth(name)
	return ok && h.Status == hosts.Up, ok
}

// HostMemoryKiB implements mib.Controller.
func (c *Executor) HostMemoryKiB(name string) uint64 {
	s := c.view.Read()
	if name == "" {
		var most uint64
		for h := range s.Hosts(0) {
			most = max(most, h.Hypervisor.Node.MemoryKiB)
		}
		return most
	}
	if h, ok := s.Host(name); ok {
		return h.Hypervisor.Node.MemoryKiB
	}
	return 0
}

// NameTaken implements mib.Controller.
func (c *Executor) NameTaken(host, name string) bool {
	for r := range c.view.Read().VMs(host, 0) {
		if r.Domain.Name == name {
			return true
		}
	}
	return false
}

// TemplateDir implements mib.Controller.
func (c *Executor) TemplateDir() string { return c.tpl.Dir() }

// TemplateFileExists implements mib.Controller.
func (c *Executor) TemplateFileExists(name string) bool { return c.tpl.FileExists(name) }

// TemplateIndexFree implements mib.Controller: a destroyed template's index stays its
// file's for the registry's grace period, which Bind would refuse at commit.
func (c *Executor) TemplateIndexFree(idx uint32, file string) bool {
	if c.reg.Free(registry.NSTemplate, idx) {
		return true
	}
	held, ok := c.reg.Lookup(registry.NSTemplate, file)
	return ok && held == idx
}

// TemplatesAvailable implements mib.Controller.
func (c *Executor) TemplatesAvailable() error { return c.tpl.Available() }

// Image implements mib.Controller.
func (c *Executor) Image(scope string, idx uint32) (mib.ImageInfo, bool) {
	im, ok := c.view.Read().Image(scope, idx)
	if !ok {
		return mib.ImageInfo{}, false
	}
	return mib.ImageInfo{Index: im.Index, Host: im.Host, Path: im.Path, Format: im.Format,
		InPool: im.Volume != nil}, true
}

// templates.Template implements mib.Controller.
func (c *Executor) Template(idx uint32) (mib.TemplateInfo, bool) {
	t, ok := c.tpl.Get(idx)
	if !ok {
		return mib.TemplateInfo{}, false
	}
	return templateInfo(t), true
}

func templateInfo(t templates.Template) mib.TemplateInfo {
	return mib.TemplateInfo{Index: t.Index, Name: t.Name, MemoryMb: t.MemoryMb, VCPUs: t.VCPUs,
		Image: t.Image, XMLFile: t.Path(""), Status: mib.RowActive}
}

// CurrentTemplates implements mib.Controller.
func (c *Executor) CurrentTemplates() (vm, storage uint32) { return c.tpl.Current() }

// SetCurrentTemplates implements mib.Controller.
func (c *Executor) SetCurrentTemplates(vm, storage uint32) error {
	return c.tpl.SetCurrent(vm, storage)
}

// Create implements mib.Controller: bind the manager's vmId to a fresh UUID, define the
// domain from the template, start it for createAndGo. A failed start undefines it again.
func (c *Executor) Create(ctx context.Context, spec mib.CreateSpec) error {
	sup, err := c.supervisor(spec.Host)
	if err != nil {
		return err
	}
	t, ok := c.tpl.Get(spec.Template)
	if !ok {
		return fmt.Errorf("template %d: no such template", spec.Template)
	}
	name := spec.Name
	if name == "" {
		name = c.uniqueName(spec.Host, t.Name+"-"+strconv.FormatUint(uint64(spec.VMID), 10))
	}
	id, err := newUUID()
	if err != nil {
		return err
	}
	mem := t.MemoryMb
	if spec.MemoryMb != 0 {
		mem = spec.MemoryMb
	}
	doc, err := hosts.NewDomainXML(t.XML, name, id, mem, t.VCPUs, t.MaxVCPUs)
	if err != nil {
		return fmt.Errorf("template %s: %w", t.File, err)
	}
	var disk *hosts.Volume // the new VM's copy of the template's disk image
	if spec.Image != 0 {
		if disk, err = c.cloneImage(ctx, sup, spec.Host, spec.Image, name); err != nil {
			return err
		}
		d, err := hosts.ParseDomainXML(doc)
		if err != nil {
			return c.dropClone(ctx, sup, disk, fmt.Errorf("template %s: %w", t.File, err))
		}
		var used []string
		for _, dk := range d.Disks {
			used = append(used, dk.Target)
		}
		img := mib.ImageInfo{Path: disk.Path, Format: disk.Format}
		doc = hosts.WithDevice(doc, diskXML(mib.DeviceDisk, hosts.FreeTarget("virtio", used), "virtio", img))
	}
	c.touch(spec.Host, id)
	if err := c.reg.Bind(registry.NSVM, id.String(), spec.VMID); err != nil {
		return c.dropClone(ctx, sup, disk, err)
	}
	if _, err := sup.Define(ctx, doc); err != nil {
		if errors.Is(err, hosts.ErrTimeout) {
			// libvirt may still define it: keep the vmId bound so that it shows up there.
			return fmt.Errorf("%w: define %s: outcome unknown: %w", mib.ErrPartial, id, err)
		}
		c.reg.Unbind(registry.NSVM, id.String())
		return c.dropClone(ctx, sup, disk, err)
	}
	ref := hosts.Named{UUID: id, Name: name}
	if spec.Autostart != nil && *spec.Autostart {
		if err := sup.SetAutostart(ctx, ref, true); err != nil {
			if uerr := sup.Undefine(ctx, ref); uerr != nil {
				return fmt.Errorf("%w: autostart: %w; undefine: %w", mib.ErrPartial, err, uerr)
			}
			return c.dropClone(ctx, sup, disk, fmt.Errorf("autostart: %w (domain undefined again)", err))
		}
	}
	if !spec.Start {
		return nil
	}
	if err := sup.Start(ctx, ref); err != nil {
		if uerr := sup.Undefine(ctx, ref); uerr != nil {
			return fmt.Errorf("%w: start: %w; undefine: %w", mib.ErrPartial, err, uerr)
		}
		return c.dropClone(ctx, sup, disk, fmt.Errorf("start: %w (domain undefined again)", err))
	}
	return nil
}

// cloneImage copies disk image idx of host (a pool volume) for a new VM named vm: a
// volume named after the VM in the image's pool (see hosts.CloneVolume).
func (c *Executor) cloneImage(ctx context.Context, sup *hosts.Supervisor, host string, idx uint32, vm string) (*hosts.Volume, error) {
	im, ok := c.view.Read().Image(host, idx)
	if !ok || im.Volume == nil {
		return nil, fmt.Errorf("disk image %d: no pool volume on host %q", idx, host)
	}
	src := im.Volume
	v, err := sup.CloneVolume(ctx, src.Pool, src.Name, vm)
	if errors.Is(err, hosts.ErrAbandoned) {
		// The copy still runs until libvirt ends it and is then deleted: not undone yet.
		return nil, fmt.Errorf("%w: copy disk image %d (%s): %w", mib.ErrPartial, idx, src.Path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("copy disk image %d (%s): %w", idx, src.Path, err)
	}
	return &v, nil
}

// dropClone deletes the copy made for a VM that could not be defined, and returns err
// (wrapped as partial if the copy stays behind).
func (c *Executor) dropClone(ctx context.Context, sup *hosts.Supervisor, v *hosts.Volume, err error) error {
	if v == nil {
		return err
	}
	if derr := sup.DeleteVolume(ctx, v.Pool, v.Name); derr != nil {
		return fmt.Errorf("%w: %w; delete the disk copy %s: %w", mib.ErrPartial, err, v.Path, derr)
	}
	return err
}

// uniqueName returns base, or base-2, base-3... when a domain of host has that name.
func (c *Executor) uniqueName(host, base string) string {
	name := base
	for i := 2; c.NameTaken(host, name); i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}

// Destroy implements mib.Controller.
func (c *Executor) Destroy(ctx context.Context, host string, vmID uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	if vm.State.Active() {
		if err := sup.Destroy(ctx, vm.ref()); err != nil {
			return err
		}
	}
	if err := sup.Undefine(ctx, vm.ref()); err != nil {
		if vm.State.Active() {
			return fmt.Errorf("%w: powered off, undefine: %w", mib.ErrPartial, err)
		}
		return err
	}
	return nil
}

// SetState implements mib.Controller with the transitions of vmState's DESCRIPTION.
func (c *Executor) SetState(ctx context.Context, host string, vmID uint32, to mib.VMState) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	from := vm.State
	switch {
	case to == from, to == mib.StateRunning && from == mib.StateBlocked,
		to == mib.StatePaused && from == mib.StatePaused:
		return nil
	case to == mib.StateRunning && from == mib.StatePaused:
		return sup.Resume(ctx, vm.ref())
	case to == mib.StateRunning && from == mib.StatePMSuspended:
		return sup.PMWakeup(ctx, vm.ref())
	case to == mib.StatePMSuspended && (from == mib.StateRunning || from == mib.StateBlocked):
		return sup.PMSuspend(ctx, vm.ref())
	case to == mib.StateRunning && !from.Active():
		return sup.Start(ctx, vm.ref())
	case to == mib.StatePaused:
		return sup.Suspend(ctx, vm.ref())
	case to == mib.StateShutdown:
		return sup.Shutdown(ctx, vm.ref())
	case to == mib.StateShutoff && from.Active():
		return sup.Destroy(ctx, vm.ref())
	}
	return fmt.Errorf("vmState %v -> %v: not a supported transition", from, to)
}

// Rename implements mib.Controller.
func (c *Executor) Rename(ctx context.Context, host string, vmID uint32, name string) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	return sup.Rename(ctx, vm.ref(), name)
}

// SetAutostart implements mib.Controller.
func (c *Executor) SetAutostart(ctx context.Context, host string, vmID uint32, on bool) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	if vm.Autostart == on {
		return nil
	}
	return sup.SetAutostart(ctx, vm.ref(), on)
}

type targetVM struct {
	mib.VMInfo
	uuid hosts.UUID
}

// ref names the VM to its supervisor by UUID and name: no lookup before the operation.
func (v targetVM) ref() hosts.Named { return hosts.Named{UUID: v.uuid, Name: v.Name} }

// target returns the supervisor and the view's record of vmID on host.
func (c *Executor) target(host string, vmID uint32) (*hosts.Supervisor, targetVM, error) {
	sup, err := c.supervisor(host)
	if err != nil {
		return nil, targetVM{}, err
	}
	info, ok := c.VM(host, vmID)
	if !ok {
		return nil, targetVM{}, fmt.Errorf("vmId %d on host %q: %w", vmID, host, hosts.ErrNotFound)
	}
	u, err := hosts.ParseUUID(info.UUID)
	if err != nil {
		return nil, targetVM{}, err
	}
	c.touch(info.Host, u)
	return sup, targetVM{VMInfo: info, uuid: u}, nil
}

func (c *Executor) supervisor(host string) (*hosts.Supervisor, error) {
	sup, ok := c.host(host)
	if !ok {
		return nil, fmt.Errorf("host %q: not configured", host)
	}
	return sup, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (hosts.UUID, error) {
	var u hosts.UUID
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("uuid: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u, nil
}
