package mib

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// Handler serves the module's subtree (Root) from a View: every scalar and table, in
// every context. Register it with snmp.Engine.Register(mib.Root, h). It is safe for
// concurrent use; it holds no lock: each request (PDU) reads one Snapshot of the view.
//
// What it shows, where the MIB leaves a choice:
//   - Contexts: "" is the merged cluster, a host name that host only; a context the
//     view does not know has no instances. vmmName, vmmVersion and vmmVersionString
//     exist in a host's context only (noSuchInstance in the merged one, as the MIB
//     says); hypervisorTable, the template table and the two template scalars are the
//     same in every context.
//   - A VM whose host is not connected keeps its last known definition (name, memory,
//     vCPUs, devices, capacities) with vmState unknown(9); its Counter64 columns and
//     cpuState have no instance (noSuchInstance; walks step over them), and the memory
//     statistics read 0, the MIB's "0 if unknown". While a connected host's last
//     counter poll is older than three polling intervals, its VMs show their state
//     but, in the same way, no counters.
//   - Walks go column by column; GETNEXT costs O(log n) per step (one seek, two when
//     a column ends), plus one seek per row stepped over for a missing instance. A
//     GETBULK's repetitions of one varbind are one Walk: a seek per column, then the
//     cursor's next row per instance.
//   - vmIndexNext has no instance when the registry has no free vmId left.
type Handler struct {
	view  View
	log   *slog.Logger
	ctl   Controller // the SET side (set*.go); nil: read-only
	nodes []node     // the module's objects in OID order
	roots []snmp.OID // nodes[i].root(), for the binary searches
	// dropped is vmNotificationsDropped's count (WithNotificationsDropped).
	dropped func() uint64
	// lastNode is the node of the last answer to any request: a walk's next request
	// starts there, without a search of roots.
	lastNode atomic.Int32
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger (default: discard; nil is ignored).
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithNotificationsDropped sets the count vmNotificationsDropped serves (default 0).
func WithNotificationsDropped(f func() uint64) Option {
	return func(h *Handler) { h.dropped = f }
}

// NewHandler returns a handler serving v.
func NewHandler(v View, opts ...Option) *Handler {
	return newHandler(v, func(h *Handler) []node {
		dropped := h.dropped
		if dropped == nil {
			dropped = func() uint64 { return 0 }
		}
		return nodesOf(dropped)
	}, opts)
}

// newHandler returns a handler serving the nodes (in OID order) nodes gives for the
// configured handler, from v.
func newHandler(v View, nodes func(*Handler) []node, opts []Option) *Handler {
	h := &Handler{view: v, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	h.nodes = nodes(h)
	for _, n := range h.nodes {
		h.roots = append(h.roots, n.root())
	}
	return h
}

// node is one object of the module the handler serves: a scalar or a table.
type node interface {
	// root is the scalar's OID or the table's entry OID: every instance has it as a prefix.
	root() snmp.OID
	get(s Snapshot, oid snmp.OID) snmp.VarBind
	// next returns the first instance after oid, its OID cut from rs's arena; v1
	// leaves out Counter64 columns, which SNMPv1 cannot carry (RFC 3584 4.2.2.1), a
	// whole column at a time.
	next(rs *reqSnap, oid snmp.OID, v1 bool) (snmp.VarBind, bool)
	// walk writes to w what next answers one after another from oid, which it reads
	// before its first write only; false: w took no more.
	walk(rs *reqSnap, oid snmp.OID, v1 bool, w *snmp.VarBindWriter) bool
}

// walkByNext is a node's walk by its next, for the nodes a walk seldom crosses.
func walkByNext(nd node, rs *reqSnap, oid snmp.OID, v1 bool, w *snmp.VarBindWriter) bool {
	for {
		vb, ok := nd.next(rs, oid, v1)
		if !ok {
			return true
		}
		if !w.VarBind(vb) {
			return false
		}
		oid = vb.OID
	}
}

// snapshot returns the request's snapshot: the same for every varbind of one PDU (the
// engine makes one *snmp.Request per PDU), so a GETBULK answers from one picture and
// pays for one view read.
func (h *Handler) snapshot(r *snmp.Request) Snapshot { return h.reqSnap(r).s }

// Get implements snmp.Handler.
func (h *Handler) Get(_ context.Context, r *snmp.Request, oid snmp.OID) snmp.VarBind {
	i := h.holder(oid)
	if i < 0 {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchObject}
	}
	s := h.snapshot(r)
	if !s.Known() {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	vb := h.nodes[i].get(s, oid)
	vb.OID = oid
	return vb
}

// Next implements snmp.Handler: the first instance after oid, objects in OID order.
func (h *Handler) Next(ctx context.Context, r *snmp.Request, oid snmp.OID) (snmp.VarBind, bool) {
	rs := h.reqSnap(r)
	if !rs.s.Known() {
		return snmp.VarBind{}, false
	}
	v1 := r.Principal.Model == snmp.ModelV1
	for i := h.startNode(rs, oid); i < len(h.nodes); i++ {
		if vb, ok := h.nodes[i].next(rs, oid, v1); ok {
			rs.hint = i
			h.remember(i)
			return vb, true
		}
		if ctx.Err() != nil {
			break
		}
	}
	return snmp.VarBind{}, false
}

// remember keeps i as the node of the last answer, written only when it changes: one
// word all requests share, so concurrent walks do not bounce its cache line.
func (h *Handler) remember(i int) {
	if h.lastNode.Load() != int32(i) {
		h.lastNode.Store(int32(i))
	}
}

// Walk implements snmp.Walker: Next's answers one after another, a table's column
// read in one pass of the view's cursor and its values written unboxed.
func (h *Handler) Walk(ctx context.Context, r *snmp.Request, oid snmp.OID, w *snmp.VarBindWriter) {
	rs := h.reqSnap(r)
	if !rs.s.Known() {
		return
	}
	v1 := r.Principal.Model == snmp.ModelV1
	for i := h.startNode(rs, oid); i < len(h.nodes) && w.Room() > 0 && ctx.Err() == nil; i++ {
		n := w.Len()
		more := h.nodes[i].walk(rs, oid, v1, w)
		if w.Len() > n {
			rs.hint, oid = i, w.Last()
			h.remember(i)
		}
		if !more {
			return
		}
	}
}

// startNode is the first node that may hold an instance after oid.
func (h *Handler) startNode(rs *reqSnap, oid snmp.OID) int {
	// A walk asks after the instance the last answer gave: try that node first (the
	// request's, else the handler's last).
	start := rs.hint
	if start < 0 || start >= len(h.roots) || !oid.HasPrefix(h.roots[start]) {
		if start = h.holder(oid); start < 0 {
			// The first node whose root is after oid (oid may be an ancestor of it).
			start, _ = slices.BinarySearchFunc(h.roots, oid, snmp.OID.Compare)
		}
	}
	return start
}

// holder returns the index of the node whose root is a prefix of oid, or -1.
func (h *Handler) holder(oid snmp.OID) int {
	i, _ := slices.BinarySearchFunc(h.roots, oid, func(r, o snmp.OID) int {
		if r.Compare(o) <= 0 {
			return -1
		}
		return 1
	})
	if i > 0 && oid.HasPrefix(h.roots[i-1]) {
		return i - 1
	}
	return -1
}

// reqSnap is one request's snapshot, kept with the request (snmp.Request.Local).
type reqSnap struct {
	s    Snapshot
	hint int      // the node of the last answer, -1 for none
	oids []uint32 // the unused rest of the chunk instance OIDs are cut from
}

// oidChunk is how many arcs one allocation gives the instance OIDs of a request:
// a GETBULK of 25 table cells fits in one.
const oidChunk = 512

// newOID returns an OID of n arcs from the request's arena: one allocation serves
// dozens of answers. The slices never overlap (their capacity ends at their length),
// and the engine never modifies a varbind's OID in place.
func (rs *reqSnap) newOID(n int) snmp.OID {
	if len(rs.oids) < n {
		rs.oids = make([]uint32, max(n, oidChunk))
	}
	o := rs.oids[:n:n]
	rs.oids = rs.oids[n:]
	return o
}

// reqSnap returns the request's snapshot, taken on its first varbind and kept with
// the request, so every varbind of a PDU is answered from one picture.
func (h *Handler) reqSnap(r *snmp.Request) *reqSnap {
	return r.Local(h, func() any {
		return &reqSnap{s: h.view.Snapshot(r.Context), hint: int(h.lastNode.Load())}
	}).(*reqSnap)
}
