package snmp

import (
	"context"
	"fmt"
	"math"

	"github.com/gosnmp/gosnmp"
)

// Walker is implemented by a Handler that can answer a run of GETNEXT steps in one
// call: the engine asks it for a GETBULK repeater's successive instances at once, and
// the handler writes their values straight into the answer, none boxed per varbind.
type Walker interface {
	// Walk writes to w the instances of the handler's subtree that follow oid, in
	// order, exactly as successive Next calls would answer them (a Counter64 included:
	// GETBULK is never SNMPv1), until a write returns false or the subtree ends. oid
	// stays valid for the call; the engine asks Next for anything Walk left out.
	Walk(ctx context.Context, r *Request, oid OID, w *VarBindWriter)
}

// VarBindWriter takes the instances a Walker answers, encoding each at once. It
// refuses an instance that is not after the previous one (the starting OID first),
// outside the handler's subtree or at or after the next registered subtree: the
// engine then answers from there with Next. Every write reports whether the walker
// should go on (false: the instance was refused, or w is full now).
type VarBindWriter struct {
	l      *vbList
	room   int
	n      int
	prev   OID  // written instances must be greater
	inRoot bool // prev has root as prefix
	root   OID  // and have this prefix
	upper  OID  // and be smaller than this; nil: no bound
	last   OID  // the last written instance (w's copy)

	// The last instance's encoded arcs, reused for the next one's common prefix (a
	// column's instances share all but their index): the contents of its OBJECT
	// IDENTIFIER are at encOff in l.b, encAt[i] is the length of arcs 0..i in it;
	// valid when encOK. begin overwrites encAt from the first arc that differs.
	encAt  []int
	encOff int
	encOK  bool
	oidAt  int // where begin wrote the pending instance's arcs
}

// NewVarBindWriter returns a writer that takes at most max instances after from in the
// subtree root: for tests and benchmarks of a Walker outside the engine.
func NewVarBindWriter(root, from OID, max int) *VarBindWriter {
	w := &VarBindWriter{}
	w.reset(&vbList{}, root, nil, from, max)
	return w
}

// Reset empties a writer from NewVarBindWriter, keeping its buffers.
func (w *VarBindWriter) Reset(root, from OID, max int) {
	w.l.b, w.l.ends = w.l.b[:0], w.l.ends[:0]
	w.reset(w.l, root, nil, from, max)
}

func (w *VarBindWriter) reset(l *vbList, root, upper, from OID, max int) {
	w.l, w.root, w.upper, w.prev, w.room, w.n = l, root, upper, from, max, 0
	w.inRoot, w.encOK = from.HasPrefix(root), false
}

// Room is how many more instances w takes.
func (w *VarBindWriter) Room() int { return w.room }

// Len is how many instances w took.
func (w *VarBindWriter) Len() int { return w.n }

// Last is the last instance w took (nil: none), valid until the next write.
func (w *VarBindWriter) Last() OID {
	if w.n == 0 {
		return nil
	}
	return w.last
}

// VarBinds decodes what w took, values in the types gosnmp's decoder gives (OCTET
// STRING []byte, Counter32 and Gauge32 uint32...): for tests.
func (w *VarBindWriter) VarBinds() ([]VarBind, error) {
	if w.n == 0 {
		return nil, nil
	}
	return gosnmpVarBinds(buildPDU(gosnmp.GetResponse, 1, 0, 0, w.l.b))
}

// begin checks instance oid and appends the start of its element, up to its name
// included; false: refused, nothing appended.
func (w *VarBindWriter) begin(oid OID) (start int, ok bool) {
	if w.room <= 0 {
		return 0, false
	}
	// One pass gives the order against prev and the arcs shared with it.
	p := w.prev
	n := min(len(oid), len(p))
	cp := 0
	for cp < n && oid[cp] == p[cp] {
		cp++
	}
	if (cp == n && len(oid) <= len(p)) || (cp < n && oid[cp] < p[cp]) {
		return 0, false
	}
	if (!w.inRoot || cp < len(w.root)) && !oid.HasPrefix(w.root) {
		return 0, false
	}
	if w.upper != nil && oid.Compare(w.upper) >= 0 {
		return 0, false
	}
	shared := w.encOK && cp >= 2
	if !shared && !encodable(oid) {
		return 0, false
	}
	b := w.l.b
	start = len(b)
	b = append(b, 0x30, 0, 0x06, 0)
	at := len(b)
	if len(w.encAt) < len(oid) {
		w.encAt = append(w.encAt, make([]int, len(oid)-len(w.encAt))...)
	}
	encAt := w.encAt[:len(oid)]
	k := 2
	if shared {
		b = append(b, b[w.encOff:w.encOff+encAt[cp-1]]...)
		k = cp
	} else {
		b = appendArc(b, oid[0]*40+oid[1])
		encAt[0], encAt[1] = len(b)-at, len(b)-at
	}
	for ; k < len(oid); k++ {
		b = appendArc(b, oid[k])
		encAt[k] = len(b) - at
	}
	w.oidAt = at
	if len(b)-at >= 0x80 { // the long form: not kept for reuse
		w.oidAt = -1
		b = patchLength(b, start+2)
	} else {
		b[at-1] = byte(len(b) - at)
	}
	w.l.b = b
	return start, true
}

// end closes the element begun at start, whose value has been appended.
func (w *VarBindWriter) end(start int, oid OID) bool {
	n := len(w.l.b)
	w.l.b = patchLength(w.l.b, start)
	// A long length moved the element's name by the octets it added.
	w.encOff, w.encOK = w.oidAt+len(w.l.b)-n, w.oidAt >= 0
	w.l.ends = append(w.l.ends, len(w.l.b))
	w.last = append(w.last[:0], oid...)
	w.prev, w.inRoot = w.last, true
	w.room--
	w.n++
	return w.room > 0
}

// Integer writes an INTEGER (an enumeration, RowStatus, TruthValue...).
func (w *VarBindWriter) Integer(oid OID, v int64) bool {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return false
	}
	start, ok := w.begin(oid)
	if !ok {
		return false
	}
	w.l.b = appendBERInt(w.l.b, v)
	return w.end(start, oid)
}

// Unsigned writes a Counter32, Gauge32 (Unsigned32), TimeTicks (at most 2^32-1) or
// Counter64.
func (w *VarBindWriter) Unsigned(oid OID, typ gosnmp.Asn1BER, v uint64) bool {
	switch typ {
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		if v > math.MaxUint32 {
			return false
		}
	case gosnmp.Counter64:
	default:
		return false
	}
	start, ok := w.begin(oid)
	if !ok {
		return false
	}
	w.l.b = appendUnsigned(w.l.b, byte(typ), v)
	return w.end(start, oid)
}

// Octets writes an OCTET STRING; v is copied.
func (w *VarBindWriter) Octets(oid OID, v []byte) bool {
	start, ok := w.begin(oid)
	if !ok {
		return false
	}
	w.l.b = appendTLV(w.l.b, 0x04, v)
	return w.end(start, oid)
}

// String writes an OCTET STRING.
func (w *VarBindWriter) String(oid OID, v string) bool {
	start, ok := w.begin(oid)
	if !ok {
		return false
	}
	w.l.b = append(w.l.b, 0x04)
	w.l.b = appendBERLength(w.l.b, len(v))
	w.l.b = append(w.l.b, v...)
	return w.end(start, oid)
}

// VarBind writes any other varbind of the VarBind contract (not an exception).
func (w *VarBindWriter) VarBind(vb VarBind) bool {
	if isException(vb.Type) {
		return false
	}
	start, ok := w.begin(vb.OID)
	if !ok {
		return false
	}
	b, ok := appendValue(w.l.b, vb)
	if !ok { // not natively encodable: Next's answer goes through gosnmp's codec
		w.l.b = w.l.b[:start]
		w.encOK = false // begin rewrote encAt for this name
		return false
	}
	w.l.b = b
	return w.end(start, vb.OID)
}

// encodable reports whether an OID can be encoded (its first two arcs make one).
func encodable(o OID) bool {
	return len(o) >= 2 && o[0] <= 2 && (o[0] == 2 || o[1] < 40)
}

// add appends vb, encoded natively or by gosnmp's codec.
func (l *vbList) add(vb VarBind) error {
	var ok bool
	if l.b, ok = appendVarBind(l.b, vb); !ok {
		list, err := marshalVBL([]VarBind{vb})
		if err != nil {
			return fmt.Errorf("%w (%s, type %v): %w", errEncode, vb.OID, vb.Type, err)
		}
		l.b = append(l.b, list...)
	}
	l.ends = append(l.ends, len(l.b))
	return nil
}

// element returns the bytes of varbind i.
func (l *vbList) element(i int) []byte {
	if i == 0 {
		return l.b[:l.ends[0]]
	}
	return l.b[l.ends[i-1]:l.ends[i]]
}

// walkerAt returns the Walker that may answer the successors of oid, and the bound its
// answers must stay below (the next registered root; nil: none): only the handler of
// a subtree holding oid that no other registered subtree encloses or is enclosed in at
// oid, so that Next would have asked it alone.
func walkerAt(es []entry, oid OID) (Walker, int, OID, bool) {
	deepest, outermost, after := find(es, oid)
	if deepest < 0 || deepest != outermost {
		return nil, 0, nil, false
	}
	w, ok := es[deepest].h.(Walker)
	if !ok {
		return nil, 0, nil, false
	}
	var upper OID
	if after < len(es) {
		upper = es[after].root
	}
	return w, deepest, upper, true
}

// repeater is one repeated varbind of a GETBULK: its successors, encoded in seq.
type repeater struct {
	seq  *vbList
	last OID // the last successor (the request's OID when none): EndOfMibView's name
	cur  OID // scratch: where the walk goes on
}

// successors collects up to max successors of oid into rp.seq, as e.next gives them one
// by one; a Walker answers runs of them. Fewer than max: the MIB view ends there.
func (e *Engine) successors(ctx context.Context, r *Request, rp *repeater, oid OID, max int, w *VarBindWriter) error {
	es := e.reg.load()
	rp.last = oid
	for n := 0; n < max && ctx.Err() == nil; {
		if h, j, upper, ok := walkerAt(es, rp.last); ok {
			w.reset(rp.seq, es[j].root, upper, rp.last, max-n)
			h.Walk(ctx, r, rp.last, w)
			if w.n > 0 {
				n += w.n
				rp.cur = append(rp.cur[:0], w.last...)
				rp.last = rp.cur
				continue
			}
		}
		vb := e.next(ctx, r, rp.last, false)
		if vb.Type == gosnmp.EndOfMibView {
			break
		}
		if err := rp.seq.add(vb); err != nil {
			return err
		}
		rp.last = vb.OID
		n++
	}
	return nil
}
