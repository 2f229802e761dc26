package mib

import (
	"context"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// vmFor returns the VM a per-VM table row belongs to, refusing when it does not exist
// (inconsistentName: the row could exist with another vmId) or its host is down.
func (p *planner) vmFor(v setVar, id uint32) (VMInfo, error) {
	vm, ok := p.ctl.VM(p.scope, id)
	if !ok {
		return vm, setErr(gosnmp.InconsistentName, v, "vmId %d does not exist", id)
	}
	if vm.State == StateUnknown {
		return vm, setErr(gosnmp.InconsistentValue, v, "host %q is not connected", vm.Host)
	}
	return vm, nil
}

// cpuRow plans cpuRowStatus: createAndGo on cpuIndex vmVcpus+1 adds a vCPU, destroy on
// cpuIndex vmVcpus removes the last one.
func (p *planner) cpuRow(rv *rowVars) ([]change, error) {
	id, cpu := rv.index[0], rv.index[1]
	v := rv.cols[ColCpuRowStatus]
	vm, err := p.vmFor(v, id)
	if err != nil {
		return nil, err
	}
	n := vm.VCPUs
	set := func(k uint32) func(context.Context) error {
		return func(ctx context.Context) error { return p.ctl.SetVCPUs(ctx, vm.Host, id, k) }
	}
	c := change{index: v.Index, object: obj("cpuRowStatus", id, cpu), old: n}
	switch RowStatus(v.num) {
	case RowActive:
		if cpu < 1 || cpu > n {
			return nil, setErr(gosnmp.InconsistentValue, v, "vCPU %d of vmId %d does not exist", cpu, id)
		}
		return nil, nil
	case RowCreateAndGo:
		if cpu <= n {
			return nil, setErr(gosnmp.InconsistentValue, v, "vCPU %d of vmId %d exists", cpu, id)
		}
		if cpu != n+1 {
			return nil, setErr(gosnmp.InconsistentName, v, "the next vCPU of vmId %d is cpuIndex %d", id, n+1)
		}
		if vm.State.Active() && cpu > vm.MaxVCPUs {
			return nil, setErr(gosnmp.InconsistentValue, v, "vmId %d runs with its maximum of %d vCPUs", id, vm.MaxVCPUs)
		}
		c.new, c.do, c.undo = n+1, set(n+1), set(n)
	case RowDestroy:
		if cpu > n {
			return nil, nil // no such row: nothing to destroy
		}
		if cpu != n {
			return nil, setErr(gosnmp.InconsistentName, v, "only the last vCPU (cpuIndex %d) can be removed", n)
		}
		if n <= 1 {
			return nil, setErr(gosnmp.InconsistentValue, v, "the last vCPU cannot be removed")
		}
		if vm.State.Active() && vm.FixedVCPUs {
			return nil, setErr(gosnmp.InconsistentValue, v,
				"vCPU %d of vmId %d cannot be unplugged while it runs: QEMU unplugs only vCPUs added while it runs, with ACPI; shut it off first", cpu, id)
		}
		c.new, c.do, c.undo = n-1, set(n-1), set(n)
	}
	return []change{c}, nil
}

// storageRow plans storageTable: createAndGo attaches a device, destroy
// detaches it, storageDiskImageIndex on a cdRom/floppy row changes the medium.
func (p *planner) storageRow(rv *rowVars) ([]change, error) {
	id, si := rv.index[0], rv.index[1]
	first := rv.anyVar()
	vm, err := p.vmFor(first, id)
	if err != nil {
		return nil, err
	}
	var disk DiskInfo
	exists := false
	for _, d := range vm.Disks {
		if d.Index == si {
			disk, exists = d, true
		}
	}
	if rs, ok := rv.get(ColStorageRowStatus); ok {
		switch RowStatus(rs.num) {
		case RowCreateAndGo:
			if exists {
				return nil, setErr(gosnmp.InconsistentValue, rs, "storage row %d.%d exists", id, si)
			}
			return p.attach(rv, rs, vm, si)
		case RowDestroy:
			if !exists {
				return nil, nil
			}
			return []change{{index: rs.Index, object: obj("storageRowStatus", id, si), old: disk.Target, new: "destroy",
				do: func(ctx context.Context) error { return p.ctl.DetachDisk(ctx, vm.Host, id, disk.Target) }}}, nil
		case RowActive:
			if !exists {
				return nil, setErr(gosnmp.InconsistentValue, rs, "storage row %d.%d does not exist", id, si)
			}
		}
	}
	if !exists {
		return nil, setErr(gosnmp.InconsistentName, first, "storage row %d.%d does not exist: create it with storageRowStatus", id, si)
	}
	if v, ok := rv.get(ColStorageDevice); ok && StorageDevice(v.num) != disk.Device {
		return nil, setErr(gosnmp.InconsistentValue, v, "storageDevice cannot change")
	}
	if v, ok := rv.get(ColStorageTargetDevice); ok && v.text != disk.Target {
		return nil, setErr(gosnmp.InconsistentValue, v, "storageTargetDevice cannot change")
	}
	if v, ok := rv.get(ColStorageBus); ok && v.text != disk.Bus {
		return nil, setErr(gosnmp.InconsistentValue, v, "storageBus cannot change")
	}
	v, ok := rv.get(ColStorageDiskImageIndex)
	if !ok || uint32(v.num) == disk.Image {
		return nil, nil
	}
	if disk.Device != DeviceCdRom && disk.Device != DeviceFloppy {
		return nil, setErr(gosnmp.InconsistentValue, v, "only a cdRom or floppy medium can change")
	}
	img := uint32(v.num)
	if err := p.imageOn(v, img, vm.Host); err != nil {
		return nil, err
	}
	old := disk.Image
	return []change{{index: v.Index, object: obj("storageDiskImageIndex", id, si), old: old, new: img,
		do:   func(ctx context.Context) error { return p.ctl.ChangeMedia(ctx, vm.Host, id, disk.Target, img) },
		undo: func(ctx context.Context) error { return p.ctl.ChangeMedia(ctx, vm.Host, id, disk.Target, old) }}}, nil
}

// attach plans a new storage row: the image from storageDiskImageIndex, else the
// storage template.
func (p *planner) attach(rv *rowVars, rs setVar, vm VMInfo, si uint32) ([]change, error) {
	if !p.ctl.StorageIndexFree(vm.ID, si) {
		return nil, setErr(gosnmp.InconsistentName, rs, "storageIndex %d is taken", si)
	}
	d := DiskSpec{Index: si, Device: DeviceDisk}
	at := rs
	if v, ok := rv.get(ColStorageDevice); ok {
		d.Device = StorageDevice(v.num)
	}
	if v, ok := rv.get(ColStorageDiskImageIndex); ok {
		d.Image, at = uint32(v.num), v
	} else {
		_, d.Image = p.ctl.CurrentTemplates()
	}
	if d.Image == 0 && (d.Device == DeviceDisk || d.Device == DeviceLun) {
		return nil, setErr(gosnmp.InconsistentValue, at, "a %v needs storageDiskImageIndex", d.Device)
	}
	if err := p.imageOn(at, d.Image, vm.Host); err != nil {
		return nil, err
	}
	if v, ok := rv.get(ColStorageBus); ok {
		d.Bus = v.text
	}
	if v, ok := rv.get(ColStorageTargetDevice); ok {
		for _, o := range vm.Disks {
			if o.Target == v.text {
				return nil, setErr(gosnmp.InconsistentValue, v, "vmId %d has a device %s", vm.ID, v.text)
			}
		}
		d.Target = v.text
	}
	return []change{{index: rs.Index, object: obj("storageRowStatus", vm.ID, si), old: "", new: d,
		do:   func(ctx context.Context) error { return p.ctl.AttachDisk(ctx, vm.Host, vm.ID, d) },
		undo: func(ctx context.Context) error { return p.detachRow(ctx, vm, si) }}}, nil
}

// detachRow detaches the device of storage row si of vm (the undo of an attach, whose
// target the controller may have chosen).
func (p *planner) detachRow(ctx context.Context, vm VMInfo, si uint32) error {
	now, ok := p.ctl.VM(p.scope, vm.ID)
	if ok {
		for _, dk := range now.Disks {
			if dk.Index == si {
				return p.ctl.DetachDisk(ctx, vm.Host, vm.ID, dk.Target)
			}
		}
	}
	return fmt.Errorf("storage row %d.%d not found to detach", vm.ID, si)
}

// imageOn checks that image (0: none) is a disk image of host.
func (p *planner) imageOn(v setVar, image uint32, host string) error {
	if image == 0 {
		return nil
	}
	im, ok := p.ctl.Image(p.scope, image)
	if !ok || im.Host != host {
		return setErr(gosnmp.InconsistentValue, v, "disk image %d is not on host %q", image, host)
	}
	return nil
}
