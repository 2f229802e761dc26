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
	root   OID
	h      Handler
	parent int // index of the nearest registered root enclosing this one, or -1
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
	linkParents(next)
	r.cur.Store(&next)
}

// linkParents sets each entry's parent; es is sorted, so enclosing roots come first.
func linkParents(es []entry) {
	var stack []int
	for i := range es {
		for len(stack) > 0 && !es[i].root.HasPrefix(es[stack[len(stack)-1]].root) {
			stack = stack[:len(stack)-1]
		}
		es[i].parent = -1
		if len(stack) > 0 {
			es[i].parent = stack[len(stack)-1]
		}
		stack = append(stack, i)
	}
}

func (r *registry) unregister(root OID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	next := slices.DeleteFunc(slices.Clone(old), func(e entry) bool { return e.root.Compare(root) == 0 })
	linkParents(next)
	r.cur.Store(&next)
}

// find returns the index of the deepest and of the outermost subtree holding oid (-1
// when none does) and the index of the first subtree whose root is greater than oid.
// O(log n + nesting depth): a registered root that is a prefix of oid and sorts before
// entry i is also a prefix of entry i's root, so only parents need checking.
func find(es []entry, oid OID) (deepest, outermost, after int) {
	after, _ = slices.BinarySearchFunc(es, oid, func(e entry, o OID) int {
		if e.root.Compare(o) <= 0 {
			return -1
		}
		return 1
	})
	deepest = after - 1
	for deepest >= 0 && !oid.HasPrefix(es[deepest].root) {
		deepest = es[deepest].parent
	}
	outermost = deepest
	for outermost >= 0 && es[outermost].parent >= 0 {
		outermost = es[outermost].parent
	}
	return deepest, outermost, after
}

// maxSkips bounds how many v1-hidden instances one GETNEXT steps over.
const maxSkips = 10000

// get serves one GET varbind.
func (e *Engine) get(ctx context.Context, r *Request, oid OID, v1 bool) VarBind {
	es := e.reg.load()
	i, _, _ := find(es, oid)
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

// nextIn asks, in root order, every subtree that may hold a successor of oid and keeps
// the smallest answer; nested roots make more than one candidate possible.
func nextIn(ctx context.Context, r *Request, es []entry, oid OID) (VarBind, bool) {
	_, start, after := find(es, oid)
	if start < 0 {
		start = after
	}
	var best VarBind
	found := false
	for _, en := range es[start:] {
		if found && en.root.Compare(best.OID) > 0 {
			break // every instance below this root sorts after best
		}
		vb, ok := en.h.Next(ctx, r, oid)
		// A handler answering outside its subtree or not strictly after oid would
		// make walks loop forever: ignore such answers.
		if ok && vb.OID.Compare(oid) > 0 && vb.OID.HasPrefix(en.root) && !isException(vb.Type) &&
			(!found || vb.OID.Compare(best.OID) < 0) {
			best, found = vb, true
		}
		if ctx.Err() != nil {
			return VarBind{}, false
		}
	}
	return best, found
}

func isException(t gosnmp.Asn1BER) bool {
	return t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance || t == gosnmp.EndOfMibView
}
