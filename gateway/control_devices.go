package gateway

import (
	"github.com/vmgate/vmgate/gateway/registry"

	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
func (c *Control) SetMemory(ctx context.Context, host string, vmID uint32, mb uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	kib := uint64(mb) << 10
	raised := false
	if !vm.State.Active() && kib > vm.MaxMemKiB {
		if err := sup.SetMaxMemory(ctx, vm.uuid, kib); err != nil {
			return err
		}
		raised = true
	}
	if err := sup.SetMemory(ctx, vm.uuid, kib, apply(vm)); err != nil {
		if raised {
			if uerr := sup.SetMaxMemory(ctx, vm.uuid, vm.MaxMemKiB); uerr != nil {
				return fmt.Errorf("%w: set memory: %w; restore maximum: %w", mib.ErrPartial, err, uerr)
			}
		}
		return err
	}
	return nil
}

// SetVCPUs implements mib.Controller: the vCPU count, live and in the definition; for
// an inactive domain the maximum is raised first when needed.
func (c *Control) SetVCPUs(ctx context.Context, host string, vmID uint32, n uint32) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	if !vm.State.Active() && n > vm.MaxVCPUs {
		if err := sup.SetVCPUs(ctx, vm.uuid, n, hosts.ApplyMaximum|hosts.ApplyConfig); err != nil {
			return err
		}
	}
	return sup.SetVCPUs(ctx, vm.uuid, n, apply(vm))
}

// AttachDisk implements mib.Controller: the storage row's index is bound to the new
// device's registry key before the attach, so the row appears where the manager
// created it.
func (c *Control) AttachDisk(ctx context.Context, host string, vmID uint32, d mib.DiskSpec) error {
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
		d.Bus = DefaultBus(d.Device)
	}
	if d.Target == "" {
		d.Target = FreeTarget(d.Bus, vm.Disks)
	}
	key := storageRegKey(vmID, d.Target)
	if err := c.reg.Bind(registry.NSStorage, key, d.Index); err != nil {
		return err
	}
	if err := sup.AttachDevice(ctx, vm.uuid, diskXML(d.Device, d.Target, d.Bus, img), apply(vm)); err != nil {
		c.reg.Unbind(registry.NSStorage, key)
		return err
	}
	return nil
}

// DetachDisk implements mib.Controller.
func (c *Control) DetachDisk(ctx context.Context, host string, vmID uint32, target string) error {
	sup, vm, err := c.target(host, vmID)
	if err != nil {
		return err
	}
	for _, dk := range vm.Disks {
		if dk.Target == target {
			img, _ := c.Image(host, dk.Image)
			return sup.DetachDevice(ctx, vm.uuid, diskXML(dk.Device, dk.Target, dk.Bus, img), apply(vm))
		}
	}
	return fmt.Errorf("disk %s of vmId %d: not found", target, vmID)
}

// ChangeMedia implements mib.Controller.
func (c *Control) ChangeMedia(ctx context.Context, host string, vmID uint32, target string, image uint32) error {
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
			return sup.UpdateDevice(ctx, vm.uuid, diskXML(dk.Device, dk.Target, dk.Bus, img), apply(vm))
		}
	}
	return fmt.Errorf("disk %s of vmId %d: not found", target, vmID)
}

// PutTemplate implements mib.Controller: a template row becomes <name>.xml in the
// template directory, from the row's XML file (or the built-in definition) with the
// row's memory and vCPUs.
func (c *Control) PutTemplate(t mib.TemplateInfo) error {
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
	doc, err := NewDomainXML(base, t.Name, hosts.UUID{}, t.MemoryMb, t.VCPUs, t.VCPUs)
	if err != nil {
		return err
	}
	// A template carries no UUID: every VM made from it gets a fresh one.
	doc = strings.Replace(doc, "\n  <uuid>"+hosts.UUID{}.String()+"</uuid>", "", 1)
	return c.tpl.Put(Template{Index: t.Index, File: t.Name + ".xml", Image: t.Image, XML: doc})
}

// DeleteTemplate implements mib.Controller.
func (c *Control) DeleteTemplate(idx uint32) error { return c.tpl.Delete(idx) }

// DefaultBus is storageBus's default for a device kind.
func DefaultBus(dev mib.StorageDevice) string {
	switch dev {
	case mib.DeviceCdRom:
		return "sata"
	case mib.DeviceFloppy:
		return "fdc"
	case mib.DeviceLun:
		return "scsi"
	}
	return "virtio"
}

// FreeTarget returns the first device name of bus's naming scheme (vda, vdb... for
// virtio; sda... for sata, scsi and usb; hda... for ide; fda... for fdc) that no disk
// uses.
func FreeTarget(bus string, disks []mib.DiskInfo) string {
	prefix := map[string]string{"virtio": "vd", "ide": "hd", "fdc": "fd", "xen": "xvd"}[bus]
	if prefix == "" {
		prefix = "sd"
	}
	used := map[string]bool{}
	for _, d := range disks {
		used[d.Target] = true
	}
	for i := 0; ; i++ {
		name := prefix + driveSuffix(i)
		if !used[name] {
			return name
		}
	}
}

// driveSuffix is libvirt's disk name suffix: a..z, aa..az, ba...
func driveSuffix(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}

// diskXML is a <disk> element for attach, detach and media change; img.Path "" is an
// empty drive.
func diskXML(dev mib.StorageDevice, target, bus string, img mib.ImageInfo) string {
	device := map[mib.StorageDevice]string{mib.DeviceDisk: "disk", mib.DeviceCdRom: "cdrom",
		mib.DeviceFloppy: "floppy", mib.DeviceLun: "lun"}[dev]
	var b bytes.Buffer
	typ := "file"
	if strings.HasPrefix(img.Path, "/dev/") {
		typ = "block"
	}
	fmt.Fprintf(&b, "<disk type='%s' device='%s'>", typ, device)
	format := img.Format
	if format == "" {
		format = "raw"
	}
	fmt.Fprintf(&b, "<driver name='qemu' type='%s'/>", attr(format))
	if img.Path != "" {
		attrName := "file"
		if typ == "block" {
			attrName = "dev"
		}
		fmt.Fprintf(&b, "<source %s='%s'/>", attrName, attr(img.Path))
	}
	fmt.Fprintf(&b, "<target dev='%s' bus='%s'/>", attr(target), attr(bus))
	if dev == mib.DeviceCdRom || dev == mib.DeviceFloppy {
		b.WriteString("<readonly/>")
	}
	b.WriteString("</disk>")
	return b.String()
}

// attr escapes s for an XML attribute in single quotes.
func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}
