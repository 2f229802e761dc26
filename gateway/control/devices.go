package control

import (
	"github.com/vmgate/vmgate/gateway/mibview"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// apply returns where a change to vm takes effect: the running domain and, if it has
// one, its persistent definition; the definition alone when it is inactive.
func apply(vm targetVM) hosts.Apply {
	if !vm.State.Active() {
		return hosts.ApplyConfig
	}
	if vm.Persistent {
		return hosts.ApplyLive | hosts.ApplyConfig
	}
	return hosts.ApplyLive
}

// SetMemory implements mib.Controller: the current memory, live and in the definition;
// for an inactive domain the maximum is raised first when needed (and put back if the
// second step fails).
func (c *Executor) SetMemory(ctx context.Context, host string, vmID uint32, mb uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	kib := uint64(mb) << 10
	raised := false
	if !vm.State.Active() && kib > vm.MaxMemKiB {
		if err := sup.SetMaxMemory(ctx, vm.ref(), kib); err != nil {
			return err
		}
		raised = true
	}
	if err := sup.SetMemory(ctx, vm.ref(), kib, apply(vm)); err != nil {
		if raised {
			if uerr := sup.SetMaxMemory(ctx, vm.ref(), vm.MaxMemKiB); uerr != nil {
				return fmt.Errorf("%w: set memory: %w; restore maximum: %w", mib.ErrPartial, err, uerr)
			}
		}
		return err
	}
	return nil
}

// SetVCPUs implements mib.Controller: the vCPU count, live and in the definition; for
// an inactive domain the maximum is raised first when needed.
func (c *Executor) SetVCPUs(ctx context.Context, host string, vmID uint32, n uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	if !vm.State.Active() && n > vm.MaxVCPUs {
		if err := sup.SetVCPUs(ctx, vm.ref(), n, hosts.ApplyMaximum|hosts.ApplyConfig); err != nil {
			return err
		}
	}
	return sup.SetVCPUs(ctx, vm.ref(), n, apply(vm))
}

// AttachDisk implements mib.Controller: the storage row's index is bound to the new
// device's registry key before the attach, so the row appears where the manager
// created it.
func (c *Executor) AttachDisk(ctx context.Context, host string, vmID uint32, d mib.DiskSpec) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	var img mib.ImageInfo
	if d.Image != 0 {
		var ok bool
		if img, ok = c.Image(host, d.Image); !ok {
			return fmt.Errorf("disk image %d: not on host %q", d.Image, host)
		}
	}
	if d.Bus == "" {
		d.Bus = hosts.DefaultBus(mibview.DeviceName(d.Device))
	}
	if d.Target == "" {
		d.Target = hosts.FreeTarget(d.Bus, targets(vm.Disks))
	}
	key := view.StorageKey(vmID, d.Target)
	if err := c.reg.Bind(registry.NSStorage, key, d.Index); err != nil {
		return err
	}
	if err := sup.AttachDevice(ctx, vm.ref(), diskXML(d.Device, d.Target, d.Bus, img), apply(vm)); err != nil {
		c.reg.Unbind(registry.NSStorage, key)
		return err
	}
	return nil
}

// DetachDisk implements mib.Controller.
func (c *Executor) DetachDisk(ctx context.Context, host string, vmID uint32, target string) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	for _, dk := range vm.Disks {
		if dk.Target == target {
			img, _ := c.Image(host, dk.Image)
			return sup.DetachDevice(ctx, vm.ref(), diskXML(dk.Device, dk.Target, dk.Bus, img), apply(vm))
		}
	}
	return fmt.Errorf("disk %s of vmId %d: not found", target, vmID)
}

// ChangeMedia implements mib.Controller.
func (c *Executor) ChangeMedia(ctx context.Context, host string, vmID uint32, target string, image uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	var img mib.ImageInfo
	if image != 0 {
		var ok bool
		if img, ok = c.Image(host, image); !ok {
			return fmt.Errorf("disk image %d: not on host %q", image, host)
		}
	}
	for _, dk := range vm.Disks {
		if dk.Target == target {
			return sup.UpdateDevice(ctx, vm.ref(), diskXML(dk.Device, dk.Target, dk.Bus, img), apply(vm))
		}
	}
	return fmt.Errorf("disk %s of vmId %d: not found", target, vmID)
}

// PutTemplate implements mib.Controller: a template row becomes <name>.xml in the
// template directory, from the row's XML file (or the built-in definition) with the
// row's memory and vCPUs.
func (c *Executor) PutTemplate(t mib.TemplateInfo) error {
	dir := c.tpl.Dir()
	if dir == "" {
		return errors.New("templates.dir is not configured")
	}
	var base string
	if t.XMLFile != "" {
		file, ok := mib.TemplateFile(dir, t.XMLFile)
		if !ok {
			return fmt.Errorf("template %d: templateXmlFile %q is not a file of %s", t.Index, t.XMLFile, dir)
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return fmt.Errorf("template %d: %w", t.Index, err)
		}
		base = string(data)
	}
	doc, err := hosts.NewDomainXML(base, t.Name, hosts.UUID{}, t.MemoryMb, t.VCPUs, t.VCPUs)
	if err != nil {
		return err
	}
	return c.tpl.Put(templates.Template{Index: t.Index, File: t.Name + ".xml", Image: t.Image, XML: doc})
}

// DeleteTemplate implements mib.Controller.
func (c *Executor) DeleteTemplate(idx uint32) error { return c.tpl.Delete(idx) }

// diskXML is the <disk> element of a storage row's device and image (img.Path "": an
// empty drive).
func diskXML(dev mib.StorageDevice, target, bus string, img mib.ImageInfo) string {
	return hosts.DiskXML(hosts.DiskSpec{Device: mibview.DeviceName(dev), Target: target, Bus: bus,
		Path: img.Path, Format: img.Format})
}

// targets returns the device names the disks use.
func targets(disks []mib.DiskInfo) []string {
	out := make([]string, len(disks))
	for i, d := range disks {
		out[i] = d.Target
	}
	return out
}
