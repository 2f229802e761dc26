package mib

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// The SET side of the Handler. TestSet checks a PDU against the column syntax (RFC 3416
// order: notWritable, wrongType, wrongLength, wrongValue, then noCreation,
// inconsistentName, inconsistentValue) and against the view through the Controller,
// and plans the changes; CommitSet plans again and applies them in PDU order through
// the Controller. A failing step undoes the earlier ones where it can (commitFailed),
// else the answer is undoFailed. Every change is logged with the principal, the
// context, the object, the old and new value and the result.

// WithController enables SET: c performs the changes (nil: the module is read-only).
func WithController(c Controller) Option { return func(h *Handler) { h.ctl = c } }

// TestSet implements snmp.Setter.
func (h *Handler) TestSet(_ context.Context, r *snmp.Request, vars []snmp.SetVar) error {
	_, err := h.plan(r, vars)
	return err
}

// CommitSet implements snmp.Setter. It plans again against the view as it is now and
// applies; a Controller that is also a sync.Locker is held meanwhile, so that commits
// stay whole even if the engine stopped serializing SET PDUs.
func (h *Handler) CommitSet(ctx context.Context, r *snmp.Request, vars []snmp.SetVar) error {
	if l, ok := h.ctl.(sync.Locker); ok {
		l.Lock()
		defer l.Unlock()
	}
	changes, err := h.plan(r, vars)
	if err != nil {
		// The view changed since TestSet (an event between the phases): nothing applied.
		var se *snmp.SetError
		if errors.As(err, &se) {
			return &snmp.SetError{Status: gosnmp.CommitFailed, Index: se.Index, Err: se.Err}
		}
		return &snmp.SetError{Status: gosnmp.CommitFailed, Index: 1, Err: err}
	}
	for i, c := range changes {
		err := c.do(ctx)
		h.audit(r, c, err)
		if err == nil {
			continue
		}
		status := gosnmp.CommitFailed
		if errors.Is(err, ErrPartial) || !h.undo(ctx, r, changes[:i]) {
			status = gosnmp.UndoFailed
		}
		return &snmp.SetError{Status: status, Index: c.index, Err: err}
	}
	return nil
}

// change is one planned modification of a host or of the template store.
type change struct {
	index    int    // the varbind it answers for
	object   string // e.g. vmState.12
	old, new any
	do       func(context.Context) error
	undo     func(context.Context) error // nil: cannot be undone
}

// undo reverts applied changes, last first; false when one could not be.
func (h *Handler) undo(ctx context.Context, r *snmp.Request, applied []change) bool {
	ok := true
	for _, c := range slices.Backward(applied) {
		if c.undo == nil {
			h.log.Warn("set: cannot undo", "context", r.Context, "principal", r.Principal.Name, "object", c.object)
			ok = false
			continue
		}
		err := c.undo(ctx)
		h.audit(r, change{object: c.object, old: c.new, new: c.old, index: c.index}, err)
		ok = ok && err == nil
	}
	return ok
}

func (h *Handler) audit(r *snmp.Request, c change, err error) {
	args := []any{"principal", r.Principal.Name, "model", int(r.Principal.Model), "context", r.Context,
		"object", c.object, "old", fmt.Sprint(c.old), "new", fmt.Sprint(c.new)}
	if err != nil {
		h.log.Warn("set", append(args, "result", "failed", "err", err)...)
		return
	}
	h.log.Info("set", append(args, "result", "ok")...)
}

// setVar is a varbind of the PDU with its decoded object and value.
type setVar struct {
	snmp.SetVar
	table *Table  // nil for a scalar
	col   Column  // for a table
	sc    *Scalar // for a scalar
	index Index
	num   int64  // integer value
	text  string // string value
}

// rowVars are the varbinds of one PDU on one row (or one scalar), by column.
type rowVars struct {
	table *Table
	index Index
	cols  map[uint32]setVar
	first int // position of the first varbind, to keep PDU order
}

func (rv *rowVars) get(col uint32) (setVar, bool) { v, ok := rv.cols[col]; return v, ok }

// anyVar returns the row's varbind with the smallest PDU position.
func (rv *rowVars) anyVar() setVar {
	var best setVar
	for _, v := range rv.cols {
		if best.Index == 0 || v.Index < best.Index {
			best = v
		}
	}
	return best
}

func setErr(status gosnmp.SNMPError, v setVar, format string, args ...any) error {
	return &snmp.SetError{Status: status, Index: v.Index, Err: fmt.Errorf(format, args...)}
}

// plan checks vars and returns the changes to make, in PDU order.
func (h *Handler) plan(r *snmp.Request, vars []snmp.SetVar) ([]change, error) {
	decoded := make([]setVar, 0, len(vars))
	for _, v := range vars {
		// The template store and the current templates serve every host: only a
		// principal of every context may change them (first, as RFC 3416 orders noAccess).
		if v.OID.HasPrefix(Templates) && !r.Principal.AllContexts {
			return nil, &snmp.SetError{Status: gosnmp.NoAccess, Index: v.Index,
				Err: fmt.Errorf("%v: templates are writable only with access to all contexts (\"*\")", v.OID)}
		}
		sv, err := h.decode(v)
		if err != nil {
			return nil, err
		}
		decoded = append(decoded, sv)
	}
	if h.ctl == nil {
		return nil, setErr(gosnmp.NotWritable, decoded[0], "the agent is read-only (no controller)")
	}
	rows, err := groupRows(decoded)
	if err != nil {
		return nil, err
	}
	p := &planner{h: h, ctl: h.ctl, scope: r.Context, rows: rows}
	var out []change
	for _, rv := range rows {
		cs, err := p.row(rv)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// decode finds the object of a varbind and checks its value's syntax (RFC 3416 4.2.5
// steps 3-7) and, for tables, its index (step 8, noCreation).
func (h *Handler) decode(v snmp.SetVar) (setVar, error) {
	sv := setVar{SetVar: v}
	for _, s := range Scalars() {
		if v.OID.HasPrefix(s.OID) {
			sv.sc = s
			if st, err := s.Check(v.Type, v.Value); st != gosnmp.NoError {
				return sv, &snmp.SetError{Status: st, Index: v.Index, Err: err}
			}
			if len(v.OID) != len(s.OID)+1 || v.OID[len(s.OID)] != 0 {
				return sv, setErr(gosnmp.NoCreation, sv, "%s has only instance .0", s.Name)
			}
			sv.num, _ = toInt64(v.Value)
			return sv, nil
		}
	}
	for _, t := range Tables() {
		e := t.Entry()
		if !v.OID.HasPrefix(e) || len(v.OID) == len(e) {
			continue
		}
		c, ok := t.Column(v.OID[len(e)])
		if !ok || !c.Access.Writable() {
			return sv, setErr(gosnmp.NotWritable, sv, "%v is not a writable column of %s", v.OID, t.Name)
		}
		sv.table, sv.col = t, c
		if st, err := c.Check(v.Type, v.Value); st != gosnmp.NoError {
			return sv, &snmp.SetError{Status: st, Index: v.Index, Err: err}
		}
		if err := extraValueCheck(sv); err != nil {
			return sv, err
		}
		idx, err := DecodeIndex(v.OID[len(e)+1:], t.IndexLen())
		if err != nil {
			return sv, &snmp.SetError{Status: gosnmp.NoCreation, Index: v.Index, Err: err}
		}
		sv.index = idx
		sv.num, _ = toInt64(v.Value)
		sv.text = textOf(v.Value)
		return sv, nil
	}
	return sv, setErr(gosnmp.NotWritable, sv, "%v names no writable object", v.OID)
}

// extraValueCheck rejects values the syntax allows but the object never accepts
// (wrongValue): vmState values that are not transitions, RowStatus values a table does
// not support, vmNames libvirt refuses.
func extraValueCheck(v setVar) error {
	n, _ := toInt64(v.Value)
	switch v.col.Name {
	case "vmName":
		// Hypervisors keep a definition in <name>.xml: libvirt refuses '/' (and control
		// characters, refused for every string); a leading '.' would hide the file.
		if name := textOf(v.Value); strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			return setErr(gosnmp.WrongValue, v, "vmName %q: no '/' and no leading '.' (a file name)", name)
		}
	case "vmState":
		switch VMState(n) {
		case StateDefined, StateBlocked, StateCrashed, StateUnknown, StateUndefined:
			return setErr(gosnmp.WrongValue, v, "vmState %v cannot be written", VMState(n))
		}
	case "vmRowStatus":
		if RowStatus(n) == RowNotInService {
			return setErr(gosnmp.WrongValue, v, "%s: notInService(2) is not supported", v.col.Name)
		}
	case "cpuRowStatus", "storageRowStatus", "templateRowStatus":
		if RowStatus(n) == RowNotInService || RowStatus(n) == RowCreateAndWait {
			return setErr(gosnmp.WrongValue, v, "%s: %v is not supported", v.col.Name, RowStatus(n))
		}
	}
	return nil
}

func textOf(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return ""
}

// groupRows groups the varbinds by row (scalars each on their own), in PDU order of
// each row's first varbind. The same object twice in one PDU is inconsistentValue.
func groupRows(vars []setVar) ([]*rowVars, error) {
	var rows []*rowVars
	byKey := map[string]*rowVars{}
	for _, v := range vars {
		var key string
		var col uint32
		if v.sc != nil {
			key = v.sc.Name
		} else {
			key = fmt.Sprint(v.table.Name, v.index)
			col = v.col.Num
		}
		rv := byKey[key]
		if rv == nil {
			rv = &rowVars{table: v.table, index: v.index, cols: map[uint32]setVar{}, first: v.Index}
			byKey[key] = rv
			rows = append(rows, rv)
		}
		if _, dup := rv.cols[col]; dup {
			return nil, setErr(gosnmp.InconsistentValue, v, "%v set twice in one PDU", v.OID)
		}
		rv.cols[col] = v
	}
	return rows, nil
}

// planner checks the rows of one PDU against the view and turns them into changes.
type planner struct {
	h     *Handler
	ctl   Controller
	scope string
	rows  []*rowVars
}

func (p *planner) row(rv *rowVars) ([]change, error) {
	if rv.table == nil {
		return p.scalar(rv.anyVar())
	}
	switch rv.table {
	case VirtualMachinesTable:
		return p.vmRow(rv)
	case MemoryTable:
		return p.memoryRow(rv)
	case CpuTable:
		return p.cpuRow(rv)
	case StorageTable:
		return p.storageRow(rv)
	case VirtualMachineTemplateTable:
		return p.templateRow(rv)
	}
	v := rv.anyVar()
	return nil, setErr(gosnmp.NotWritable, v, "%s is not writable", rv.table.Name)
}

// creating returns the vmRowStatus varbind of this PDU that creates vmID, if any.
func (p *planner) creating(vmID uint32) (setVar, bool) {
	for _, rv := range p.rows {
		if rv.table == VirtualMachinesTable && rv.index[0] == vmID {
			if v, ok := rv.get(ColVmRowStatus); ok {
				rs := RowStatus(v.num)
				return v, rs == RowCreateAndGo || rs == RowCreateAndWait
			}
		}
	}
	return setVar{}, false
}

// scalar plans virtualMachineTemplate and storageTemplate.
func (p *planner) scalar(v setVar) ([]change, error) {
	vm, st := p.ctl.CurrentTemplates()
	n := uint32(v.num)
	switch v.sc {
	case VirtualMachineTemplate:
		if n != 0 {
			if _, ok := p.ctl.Template(n); !ok {
				return nil, setErr(gosnmp.InconsistentValue, v, "no template %d", n)
			}
		}
		if err := p.templatesAvailable(v); err != nil {
			return nil, err
		}
		// Each change sets its own scalar and keeps the other as it is at commit time,
		// so that one PDU can set both.
		return []change{{index: v.Index, object: "virtualMachineTemplate.0", old: vm, new: n,
			do:   func(context.Context) error { _, s := p.ctl.CurrentTemplates(); return p.ctl.SetCurrentTemplates(n, s) },
			undo: func(context.Context) error { _, s := p.ctl.CurrentTemplates(); return p.ctl.SetCurrentTemplates(vm, s) }}}, nil
	case StorageTemplate:
		if n != 0 {
			if im, ok := p.ctl.Image(p.scope, n); !ok || !im.InPool {
				return nil, setErr(gosnmp.InconsistentValue, v, "no disk image %d in a pool", n)
			}
		}
		if err := p.templatesAvailable(v); err != nil {
			return nil, err
		}
		return []change{{index: v.Index, object: "storageTemplate.0", old: st, new: n,
			do:   func(context.Context) error { v, _ := p.ctl.CurrentTemplates(); return p.ctl.SetCurrentTemplates(v, n) },
			undo: func(context.Context) error { v, _ := p.ctl.CurrentTemplates(); return p.ctl.SetCurrentTemplates(v, st) }}}, nil
	}
	return nil, setErr(gosnmp.NotWritable, v, "%s is read-only", v.sc.Name)
}

// SetScope says what a SET would change, for the locks replicas take around it: the
// hosts of the VMs its varbinds name (the context's host; in the merged context each
// VM's host, vmHost for a new one), sorted, and global when it needs the cluster-wide
// lock: the templates, or a new row, whose number (vmId, storageIndex) is cluster-wide.
// Varbinds TestSet refuses before any check of the view add nothing.
func (h *Handler) SetScope(r *snmp.Request, vars []snmp.SetVar) (hostNames []string, global bool) {
	add := func(name string) {
		if name != "" && !slices.Contains(hostNames, name) {
			hostNames = append(hostNames, name)
		}
	}
	for _, v := range vars {
		sv, err := h.decode(v)
		switch {
		case err != nil:
			continue
		case sv.sc != nil || sv.table == VirtualMachineTemplateTable:
			global = true
			continue
		case len(sv.table.Index) == 0 || sv.table.Index[0] != "vmId":
			continue
		}
		if rs := RowStatus(sv.num); strings.HasSuffix(sv.col.Name, "RowStatus") &&
			(rs == RowCreateAndGo || rs == RowCreateAndWait) {
			global = true
		}
		if r.Context != "" {
			add(r.Context)
			continue
		}
		if h.ctl != nil {
			if vm, ok := h.ctl.VM("", sv.index[0]); ok {
				add(vm.Host)
				continue
			}
		}
		global = true // a VM this replica does not know yet, or a new one
		if sv.table == VirtualMachinesTable && sv.col.Num == ColVmHost {
			add(sv.text)
		}
	}
	slices.Sort(hostNames)
	return hostNames, global
}
