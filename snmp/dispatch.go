package snmp

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gosnmp/gosnmp"
)

// entry is one registered subtree.
type entry struct {
	root OID
	h    Handler
}

// registry is the sorted list of subtrees, copied on write and read without locks.
type registry struct {
	mu  sync.Mutex // serializes writers only
	cur atomic.Pointer[[]entry]
}

func (r *registry) load() []entry {
	if p := r.cur.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *registry) register(root OID, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	next := make([]entry, 0, len(old)+1)
	for _, e := range old {
		if e.root.Compare(root) != 0 {
			next = append(next, e)
		}
	}
	next = append(next, entry{root: slices.Clone(root), h: h})
	slices.SortFunc(next, func(a, b entry) int { return a.root.Compare(b.root) })
	r.cur.Store(&next)
}

func (r *registry) unregister(root OID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	next := slices.DeleteFunc(slices.Clone(old), func(e entry) bool { return e.root.Compare(root) == 0 })
	r.cur.Store(&next)
}

// find returns the index of the subtree holding oid (the longest registered root that
// is a prefix of oid), or -1, and the index of the first subtree whose root is
// greater than oid.
func find(es []entry, oid OID) (holder, after int) {
	after, _ = slices.BinarySearchFunc(es, oid, func(e entry, o OID) int {
		if e.root.Compare(o) <= 0 {
			return -1
		}
		return 1
	})
	for i := after - 1; i >= 0; i-- {
		if oid.HasPrefix(es[i].root) {
			return i, after
		}
	}
	return -1, after
}

// maxSkips bounds how many v1-hidden instances one GETNEXT steps over.
const maxSkips = 10000

// get serves one GET varbind.
func (e *Engine) get(ctx context.Context, r *Request, oid OID, v1 bool) VarBind {
	es := e.reg.load()
	i, _ := find(es, oid)
	if i < 0 {
		return VarBind{OID: oid, Type: gosnmp.NoSuchObject}
	}
	vb := es[i].h.Get(ctx, r, oid)
	vb.OID = oid
	if v1 && vb.Type == gosnmp.Counter64 {
		return VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	return vb
}

// next serves one GETNEXT varbind: the first instance after oid across subtrees, in
// order; EndOfMibView when there is none.
func (e *Engine) next(ctx context.Context, r *Request, oid OID, v1 bool) VarBind {
	es := e.reg.load()
	cur := oid
	for skips := 0; skips < maxSkips; skips++ {
		vb, ok := nextIn(ctx, r, es, cur)
		if !ok {
			break
		}
		if v1 && vb.Type == gosnmp.Counter64 { // RFC 3584 section 4.2.2.1
			cur = vb.OID
			continue
		}
		return vb
	}
	return VarBind{OID: oid, Type: gosnmp.EndOfMibView}
}

func nextIn(ctx context.Context, r *Request, es []entry, oid OID) (VarBind, bool) {
	holder, after := find(es, oid)
	start := after
	if holder >= 0 {
		start = holder
	}
	for _, en := range es[start:] {
		vb, ok := en.h.Next(ctx, r, oid)
		// A handler answering outside its subtree or not strictly after oid would
		// make walks loop forever: ignore such answers.
		if ok && vb.OID.Compare(oid) > 0 && vb.OID.HasPrefix(en.root) && !isException(vb.Type) {
			return vb, true
		}
		if err := ctx.Err(); err != nil {
			return VarBind{}, false
		}
	}
	return VarBind{}, false
}

func isException(t gosnmp.Asn1BER) bool {
	return t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance || t == gosnmp.EndOfMibView
}
