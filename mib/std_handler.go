package mib

import (
	"context"
	"fmt"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// StdHandler serves VM-MIB (RFC 7666) under StdRoot from the same View as the module's
// Handler, in every context: a host's context shows that hypervisor, the merged one
// every VM (the View's Std says what vmHv* mean there). vmIndex is vmId, so both
// modules give a VM the same number. Everything is read-only but the two notification
// enables, which are the same in every context and kept by a StdEnables. Register it
// with snmp.Engine.Register(mib.StdRoot, h). Safe for concurrent use.
type StdHandler struct {
	h  *Handler
	en StdEnables // nil: both enables read false and are not writable
}

// NewStdHandler returns a handler serving VM-MIB from v; en keeps the enables (nil:
// notifications are off and the enables read-only). Options as for NewHandler
// (WithController has no effect).
func NewStdHandler(v View, en StdEnables, opts ...Option) *StdHandler {
	return &StdHandler{h: newHandler(v, func(*Handler) []node { return stdNodes(en) }, opts), en: en}
}

// Get implements snmp.Handler.
func (s *StdHandler) Get(ctx context.Context, r *snmp.Request, oid snmp.OID) snmp.VarBind {
	return s.h.Get(ctx, r, oid)
}

// Next implements snmp.Handler.
func (s *StdHandler) Next(ctx context.Context, r *snmp.Request, oid snmp.OID) (snmp.VarBind, bool) {
	return s.h.Next(ctx, r, oid)
}

// Walk implements snmp.Walker.
func (s *StdHandler) Walk(ctx context.Context, r *snmp.Request, oid snmp.OID, w *snmp.VarBindWriter) {
	s.h.Walk(ctx, r, oid, w)
}

// TestSet implements snmp.Setter: only the enables' instances are writable, by a
// principal of every context ("*"; else noAccess), with a TruthValue (wrongType,
// wrongValue); any other object of the module is notWritable.
func (s *StdHandler) TestSet(_ context.Context, r *snmp.Request, vars []snmp.SetVar) error {
	_, err := s.plan(r, vars)
	return err
}

// CommitSet implements snmp.Setter: the enables change in PDU order; when one cannot
// be kept (its state file), the ones changed before are put back (commitFailed).
func (s *StdHandler) CommitSet(ctx context.Context, r *snmp.Request, vars []snmp.SetVar) error {
	changes, err := s.plan(r, vars)
	if err != nil {
		return err
	}
	for i, c := range changes {
		err := c.do(ctx)
		s.h.audit(r, c, err)
		if err == nil {
			continue
		}
		status := gosnmp.CommitFailed
		if !s.h.undo(ctx, r, changes[:i]) {
			status = gosnmp.UndoFailed
		}
		return &snmp.SetError{Status: status, Index: c.index, Err: err}
	}
	return nil
}

// plan checks vars (RFC 3416 4.2.5 order) and returns the changes they ask.
func (s *StdHandler) plan(r *snmp.Request, vars []snmp.SetVar) ([]change, error) {
	out := make([]change, 0, len(vars))
	for _, v := range vars {
		sc, set, get := s.enable(v.OID)
		if sc != nil && !r.Principal.AllContexts {
			// The enables serve every context, as the templates do: only a principal
			// of every context may change them (first, as RFC 3416 orders noAccess).
			return nil, &snmp.SetError{Status: gosnmp.NoAccess, Index: v.Index,
				Err: fmt.Errorf("%s is writable only with access to all contexts (\"*\")", sc.Name)}
		}
		if sc == nil {
			return nil, &snmp.SetError{Status: gosnmp.NotWritable, Index: v.Index,
				Err: fmt.Errorf("%v: VM-MIB is read-only but for its two notification enables", v.OID)}
		}
		if st, err := sc.Check(v.Type, v.Value); st != gosnmp.NoError {
			return nil, &snmp.SetError{Status: st, Index: v.Index, Err: err}
		}
		if len(v.OID) != len(sc.OID)+1 || v.OID[len(sc.OID)] != 0 {
			return nil, &snmp.SetError{Status: gosnmp.NoCreation, Index: v.Index,
				Err: fmt.Errorf("%s has only instance .0", sc.Name)}
		}
		if !s.h.view.Snapshot(r.Context).Known() {
			return nil, &snmp.SetError{Status: gosnmp.NoCreation, Index: v.Index,
				Err: fmt.Errorf("%s: no context %q", sc.Name, r.Context)}
		}
		n, _ := toInt64(v.Value)
		old, on := get(), TruthValue(n) == True
		out = append(out, change{index: v.Index, object: sc.Name + ".0", old: Truth(old), new: Truth(on),
			do:   func(context.Context) error { return set(on) },
			undo: func(context.Context) error { return set(old) }})
	}
	return out, nil
}

// enable returns the enable scalar oid falls in, with its setter and getter; nil if
// none (or no StdEnables).
func (s *StdHandler) enable(oid snmp.OID) (*Scalar, func(bool) error, func() bool) {
	if s.en == nil {
		return nil, nil, nil
	}
	switch {
	case oid.HasPrefix(StdPerVMNotificationsEnabled.OID):
		return StdPerVMNotificationsEnabled, s.en.SetPerVM, s.en.PerVM
	case oid.HasPrefix(StdBulkNotificationsEnabled.OID):
		return StdBulkNotificationsEnabled, s.en.SetBulk, s.en.Bulk
	}
	return nil, nil, nil
}
