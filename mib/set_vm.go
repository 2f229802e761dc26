package mib

import (
	"context"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// MaxDomainName is the longest vmName a SET accepts: hypervisors keep a definition in
// a file named after the domain (<name>.xml), and a file name has at most 255 bytes.
const MaxDomainName = 251

// vmRow plans a row of virtualMachinesTable: creation and destruction by vmRowStatus,
// then rename and state transitions of an existing VM (in that order, so that one PDU
// can rename a shut-off VM and start it).
func (p *planner) vmRow(rv *rowVars) ([]change, error) {
	id := rv.index[0]
	vm, exists := p.ctl.VM(p.scope, id)
	if rs, ok := rv.get(ColVmRowStatus); ok {
		switch RowStatus(rs.num) {
		case RowCreateAndGo, RowCreateAndWait:
			return p.createVM(rv, rs, exists)
		case RowDestroy:
			if !exists {
				return nil, nil // RFC 2579: destroying a row that does not exist is no error
			}
			if vm.State == StateUnknown {
				return nil, setErr(gosnmp.InconsistentValue, rs, "host %q is not connected", vm.Host)
			}
			return []change{{index: rs.Index, object: obj("vmRowStatus", id), old: vm.Name, new: "destroy",
				do: func(ctx context.Context) error { return p.ctl.Destroy(ctx, vm.Host, id) }}}, nil
		case RowActive:
			if !exists {
				return nil, setErr(gosnmp.InconsistentValue, rs, "vmId %d does not exist", id)
			}
		}
	}
	if !exists {
		return nil, setErr(gosnmp.InconsistentName, rv.anyVar(), "vmId %d does not exist: create it with vmRowStatus", id)
	}
	if vm.State == StateUnknown {
		return nil, setErr(gosnmp.InconsistentValue, rv.anyVar(), "host %q is not connected", vm.Host)
	}
	if v, ok := rv.get(ColVmHost); ok && v.text != vm.Host {
		return nil, setErr(gosnmp.InconsistentValue, v, "vmHost cannot change (no migration)")
	}
	var out []change
	if v, ok := rv.get(ColVmAutostart); ok && TruthValue(v.num) != Truth(vm.Autostart) {
		on := TruthValue(v.num) == True
		if on && !vm.Persistent {
			return nil, setErr(gosnmp.InconsistentValue, v, "vmAutostart: a transient domain cannot autostart")
		}
		out = append(out, change{index: v.Index, object: obj("vmAutostart", id), old: vm.Autostart, new: on,
			do:   func(ctx context.Context) error { return p.ctl.SetAutostart(ctx, vm.Host, id, on) },
			undo: func(ctx context.Context) error { return p.ctl.SetAutostart(ctx, vm.Host, id, !on) }})
	}
	if v, ok := rv.get(ColVmName); ok && v.text != vm.Name {
		switch {
		case vm.State.Active():
			return nil, setErr(gosnmp.InconsistentValue, v, "rename needs the VM shut off (it is %v)", vm.State)
		case p.ctl.NameTaken(vm.Host, v.text):
			return nil, setErr(gosnmp.InconsistentValue, v, "host %q has a VM named %q", vm.Host, v.text)
		case len(v.text) > MaxDomainName:
			return nil, setErr(gosnmp.InconsistentValue, v, "vmName of %d bytes: at most %d", len(v.text), MaxDomainName)
		}
		name, old := v.text, vm.Name
		out = append(out, change{index: v.Index, object: obj("vmName", id), old: old, new: name,
			do:   func(ctx context.Context) error { return p.ctl.Rename(ctx, vm.Host, id, name) },
			undo: func(ctx context.Context) error { return p.ctl.Rename(ctx, vm.Host, id, old) }})
	}
	if v, ok := rv.get(ColVmState); ok {
		c, err := p.transition(v, vm)
		if err != nil {
			return nil, err
		}
		if c.do != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// transition plans a vmState SET from the VM's current state (see vmState's
// DESCRIPTION). A zero change (do nil) is a no-op.
func (p *planner) transition(v setVar, vm VMInfo) (change, error) {
	to, from, id := VMState(v.num), vm.State, vm.ID
	c := change{index: v.Index, object: obj("vmState", id), old: from, new: to}
	set := func(s VMState) func(context.Context) error {
		return func(ctx context.Context) error { return p.ctl.SetState(ctx, vm.Host, id, s) }
	}
	inactive := from == StateShutoff || from == StateDefined || from == StateCrashed
	switch {
	case to == StateRunning && (from == StateRunning || from == StateBlocked),
		to == StatePaused && from == StatePaused,
		to == StateShutdown && from == StateShutdown,
		to == StatePMSuspended && from == StatePMSuspended,
		to == StateShutoff && inactive:
		return change{}, nil
	case to == StateRunning && inactive:
		c.do, c.undo = set(StateRunning), set(StateShutoff)
	case to == StateRunning && from == StatePaused:
		c.do, c.undo = set(StateRunning), set(StatePaused)
	case to == StateRunning && from == StatePMSuspended:
		c.do = set(StateRunning)
	case to == StatePMSuspended && (from == StateRunning || from == StateBlocked) && vm.NoPMAgent:
		return change{}, setErr(gosnmp.InconsistentValue, v,
			"pmsuspended needs the QEMU guest agent: the domain has no org.qemu.guest_agent.0 channel")
	case to == StatePMSuspended && (from == StateRunning || from == StateBlocked):
		c.do = set(StatePMSuspended)
	case to == StatePaused && (from == StateRunning || from == StateBlocked):
		c.do, c.undo = set(StatePaused), set(StateRunning)
	case to == StateShutdown && (from == StateRunning || from == StateBlocked || from == StatePaused):
		c.do = set(StateShutdown)
	case to == StateShutoff && from.Active():
		c.do = set(StateShutoff)
	default:
		return change{}, setErr(gosnmp.InconsistentValue, v, "vmState %v -> %v is not a supported transition", from, to)
	}
	return c, nil
}

// createVM plans vmRowStatus createAndGo/createAndWait: a new domain from the current
// template on the context's host (or vmHost in the merged context).
func (p *planner) createVM(rv *rowVars, rs setVar, exists bool) ([]change, error) {
	id := rv.index[0]
	if exists {
		return nil, setErr(gosnmp.InconsistentValue, rs, "vmId %d exists", id)
	}
	if !p.ctl.VMIDFree(id) {
		return nil, setErr(gosnmp.InconsistentName, rs, "vmId %d is taken (read vmIndexNext)", id)
	}
	spec := CreateSpec{VMID: id, Start: RowStatus(rs.num) == RowCreateAndGo}
	var err error
	if spec.Host, err = p.createHost(rv, rs); err != nil {
		return nil, err
	}
	tpl, storage := p.ctl.CurrentTemplates()
	t, ok := p.ctl.Template(tpl)
	if !ok {
		return nil, setErr(gosnmp.InconsistentValue, rs, "no current template (virtualMachineTemplate is %d)", tpl)
	}
	spec.Template = tpl
	if _, ok := p.memoryInPDU(id); !ok {
		if err := p.fitsHost(rs, spec.Host, uint64(t.MemoryMb)); err != nil {
			return nil, err
		}
	}
	if spec.Image = t.Image; storage != 0 {
		spec.Image = storage
	}
	if spec.Image != 0 {
		// The new VM gets a copy of this image, made in its pool on the VM's host.
		img, ok := p.ctl.Image(spec.Host, spec.Image)
		switch {
		case !ok:
			return nil, setErr(gosnmp.InconsistentValue, rs, "disk image %d (storageTemplate %d, templateDiskImageIndex %d) is not on host %q", spec.Image, storage, t.Image, spec.Host)
		case !img.InPool:
			return nil, setErr(gosnmp.InconsistentValue, rs, "disk image %d (%s) is outside storage pools: it cannot be copied", spec.Image, img.Path)
		}
	}
	if v, ok := rv.get(ColVmState); ok {
		return nil, setErr(gosnmp.InconsistentValue, v, "vmState cannot be set when creating (use createAndGo)")
	}
	if v, ok := rv.get(ColVmName); ok {
		if p.ctl.NameTaken(spec.Host, v.text) {
			return nil, setErr(gosnmp.InconsistentValue, v, "host %q has a VM named %q", spec.Host, v.text)
		}
		if len(v.text) > MaxDomainName {
			return nil, setErr(gosnmp.InconsistentValue, v, "vmName of %d bytes: at most %d", len(v.text), MaxDomainName)
		}
		spec.Name = v.text
	}
	if v, ok := rv.get(ColVmAutostart); ok {
		on := TruthValue(v.num) == True
		spec.Autostart = &on
	}
	if mv, ok := p.memoryInPDU(id); ok {
		if err := p.fitsHost(mv, spec.Host, uint64(mv.num)); err != nil {
			return nil, err
		}
		spec.MemoryMb = uint32(mv.num)
	}
	return []change{{index: rs.Index, object: obj("vmRowStatus", id), old: "", new: fmt.Sprintf("%v on %s", RowStatus(rs.num), spec.Host),
		do:   func(ctx context.Context) error { return p.ctl.Create(ctx, spec) },
		undo: func(ctx context.Context) error { return p.ctl.Destroy(ctx, spec.Host, id) }}}, nil
}

// createHost returns the host a new VM goes to: the context's, or vmHost in the merged
// context (required there); it must be configured and connected.
func (p *planner) createHost(rv *rowVars, rs setVar) (string, error) {
	hv, hasHost := rv.get(ColVmHost)
	host, at := p.scope, rs
	switch {
	case p.scope != "" && hasHost && hv.text != p.scope:
		return "", setErr(gosnmp.InconsistentValue, hv, "vmHost %q: this context is host %q", hv.text, p.scope)
	case p.scope == "" && !hasHost:
		return "", setErr(gosnmp.InconsistentValue, rs, "in the merged context the creating PDU must set vmHost")
	case p.scope == "":
		host, at = hv.text, hv
	}
	up, known := p.ctl.HostUp(host)
	if !known {
		return "", setErr(gosnmp.InconsistentValue, at, "no configured host %q", host)
	}
	if !up {
		return "", setErr(gosnmp.InconsistentValue, at, "host %q is not connected", host)
	}
	return host, nil
}

// memoryInPDU returns the memoryTotalMb varbind of vmID in this PDU, if any.
func (p *planner) memoryInPDU(vmID uint32) (setVar, bool) {
	for _, rv := range p.rows {
		if rv.table == MemoryTable && rv.index[0] == vmID {
			return rv.cols[ColMemoryTotalMb], true
		}
	}
	return setVar{}, false
}

// fitsHost refuses mb MiB above the host's physical memory (host "": above every
// host's): libvirt would accept it in a shut-off VM's definition (raising its
// maximum), which then could not start.
func (p *planner) fitsHost(v setVar, host string, mb uint64) error {
	if hostKiB := p.ctl.HostMemoryKiB(host); hostKiB != 0 && mb<<10 > hostKiB {
		if host == "" {
			return setErr(gosnmp.InconsistentValue, v, "%d MiB is above every host's memory (at most %d MiB)", mb, hostKiB>>10)
		}
		return setErr(gosnmp.InconsistentValue, v, "%d MiB is above host %q's memory (%d MiB)", mb, host, hostKiB>>10)
	}
	return nil
}

// memoryRow plans memoryTotalMb.
func (p *planner) memoryRow(rv *rowVars) ([]change, error) {
	id := rv.index[0]
	v := rv.cols[ColMemoryTotalMb]
	if _, ok := p.creating(id); ok {
		return nil, nil // part of the creation (createVM)
	}
	vm, ok := p.ctl.VM(p.scope, id)
	if !ok {
		return nil, setErr(gosnmp.NoCreation, v, "vmId %d does not exist", id)
	}
	if vm.State == StateUnknown {
		return nil, setErr(gosnmp.InconsistentValue, v, "host %q is not connected", vm.Host)
	}
	kib := uint64(v.num) << 10
	if vm.State.Active() && kib > vm.MaxMemKiB {
		return nil, setErr(gosnmp.InconsistentValue, v, "%d MiB is above the maximum %d KiB of the running VM", v.num, vm.MaxMemKiB)
	}
	if err := p.fitsHost(v, vm.Host, uint64(v.num)); err != nil {
		return nil, err
	}
	if kib == vm.MemoryKiB {
		return nil, nil
	}
	mb, old := uint32(v.num), uint32(vm.MemoryKiB>>10)
	return []change{{index: v.Index, object: obj("memoryTotalMb", id), old: old, new: mb,
		do:   func(ctx context.Context) error { return p.ctl.SetMemory(ctx, vm.Host, id, mb) },
		undo: func(ctx context.Context) error { return p.ctl.SetMemory(ctx, vm.Host, id, old) }}}, nil
}

// obj names an instance for the audit log: descriptor.index...
func obj(name string, idx ...uint32) string {
	s := name
	for _, i := range idx {
		s += fmt.Sprintf(".%d", i)
	}
	return s
}
