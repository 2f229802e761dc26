package mib

import (
	"slices"
	"sync"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// key is a row index of up to three values (the tables' INDEX has 1 to 3 objects);
// the unused tail is 0. Arrays, unlike Index slices, cost no allocation.
type key = [3]uint32

// value is one column's value in one row, typed (a walk writes it without boxing);
// ok false: the row has no instance of the column (e.g. a counter of a VM whose host
// is down).
type value struct {
	typ   gosnmp.Asn1BER
	ok    bool
	bytes bool // an OCTET STRING held in b, else in s
	// uuidText: the OCTET STRING is the text form of the 16-byte UUID in b
	uuidText bool
	n        uint64 // Integer (as int64), Counter32, Gauge32, TimeTicks, Counter64
	s        string // OCTET STRING, OBJECT IDENTIFIER (".1.3...")
	b        []byte // OCTET STRING: may be the row's own bytes (a pooled row): copy to keep
}

// varbind is the value in the Go type snmp.VarBind wants for its BER type.
func (v value) varbind(oid snmp.OID) snmp.VarBind {
	vb := snmp.VarBind{OID: oid, Type: v.typ}
	switch v.typ {
	case gosnmp.Integer:
		vb.Value = int(int64(v.n))
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		vb.Value = uint32(v.n)
	case gosnmp.Counter64:
		vb.Value = v.n
	case gosnmp.OctetString:
		switch {
		case v.uuidText:
			var b [36]byte
			formatUUID(&b, v.b)
			vb.Value = string(b[:])
		case v.bytes:
			vb.Value = slices.Clone(v.b)
		default:
			vb.Value = v.s
		}
	case gosnmp.ObjectIdentifier:
		vb.Value = v.s
	}
	return vb
}

// write gives the value of instance oid to a walk; false: stop walking.
func (v value) write(w *snmp.VarBindWriter, oid snmp.OID) bool {
	switch v.typ {
	case gosnmp.Integer:
		return w.Integer(oid, int64(v.n))
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Counter64:
		return w.Unsigned(oid, v.typ, v.n)
	case gosnmp.OctetString:
		switch {
		case v.uuidText:
			var b [36]byte
			formatUUID(&b, v.b)
			return w.Octets(oid, b[:])
		case v.bytes:
			return w.Octets(oid, v.b)
		}
		return w.String(oid, v.s)
	}
	return w.VarBind(v.varbind(oid))
}

// table serves a Table whose rows come from a Snapshot seek: rows of type R, their
// index by key and their columns by value.
type table[R any] struct {
	t *Table
	// seek returns the first row whose index is >= from (O(log n)).
	seek func(s Snapshot, from key) (R, bool)
	// into, when set, is seek reading the row into dst: a walk reads a row per
	// varbind, and copies of a large row cost more than building it.
	into func(s Snapshot, from key, dst *R) bool
	key  func(r *R) key
	col  func(r *R, col uint32) value
	// fill, when set, completes a row before col reads one of the columns fills (the
	// counters the seek left out); a walk decides it once per column.
	fill     func(s Snapshot, r *R)
	fillCols []uint32

	// rows recycles the *R a lookup reads into: a row passed by pointer to key and col
	// (func values) would escape, one heap row per varbind.
	rows sync.Pool
}

// row returns a scratch row from the pool; give it back with putRow.
func (tb *table[R]) row() *R {
	if p, ok := tb.rows.Get().(*R); ok {
		return p
	}
	return new(R)
}

func (tb *table[R]) putRow(p *R) {
	var zero R
	*p = zero // drop references to the snapshot's data
	tb.rows.Put(p)
}

// seekInto reads the first row whose index is >= from into dst.
func (tb *table[R]) seekInto(s Snapshot, from key, dst *R) bool {
	if tb.into != nil {
		return tb.into(s, from, dst)
	}
	var ok bool
	*dst, ok = tb.seek(s, from)
	return ok
}

func (tb *table[R]) root() snmp.OID { return tb.t.Entry() }

// fills reports whether column col needs the row filled.
func (tb *table[R]) fills(col uint32) bool {
	return tb.fill != nil && slices.Contains(tb.fillCols, col)
}

func (tb *table[R]) get(s Snapshot, oid snmp.OID) snmp.VarBind {
	col, k, exc := parse(tb.t, oid)
	if exc != 0 {
		return snmp.VarBind{OID: oid, Type: exc}
	}
	row := tb.row()
	defer tb.putRow(row)
	if !tb.seekInto(s, k, row) || tb.key(row) != k {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	if tb.fills(col) {
		tb.fill(s, row)
	}
	v := tb.col(row, col)
	if !v.ok {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	return v.varbind(oid)
}

// accessibleColumn returns the accessible column an instance OID of t names (GET and
// SET); NoSuchObject when it names none.
func accessibleColumn(t *Table, oid snmp.OID) (uint32, gosnmp.Asn1BER) {
	if len(oid) <= len(t.entry) || !oid.HasPrefix(t.entry) {
		return 0, gosnmp.NoSuchObject
	}
	col := oid[len(t.entry)]
	if _, ok := slices.BinarySearch(t.accessible, col); !ok {
		return 0, gosnmp.NoSuchObject
	}
	return col, 0
}

// parse splits an instance OID of t into its column and row key, without allocating: exc is NoSuchObject
// when oid names no accessible column, NoSuchInstance when its index is malformed
// (wrong length, a value 0 or above MaxIndex), else 0.
func parse(t *Table, oid snmp.OID) (col uint32, k key, exc gosnmp.Asn1BER) {
	if col, exc = accessibleColumn(t, oid); exc != 0 {
		return 0, k, exc
	}
	idx := oid[len(t.entry)+1:]
	if len(idx) != t.IndexLen() {
		return 0, k, gosnmp.NoSuchInstance
	}
	for i, v := range idx {
		if v == 0 || v > MaxIndex {
			return 0, k, gosnmp.NoSuchInstance
		}
		k[i] = v
	}
	return col, k, 0
}

// next walks column by column (all rows of a column, then the next column). A row
// without an instance of the column is stepped over with one more seek. start works on
// key arrays, so that a step allocates only its result.
func (tb *table[R]) next(rs *reqSnap, oid snmp.OID, v1 bool) (vb snmp.VarBind, found bool) {
	tb.cells(rs, oid, v1, func(col uint32, k key, v value) bool {
		vb, found = v.varbind(instance(rs, tb.t, col, k, tb.t.IndexLen())), true
		return false
	})
	return vb, found
}

// walk is next's answers one after another: each column in one pass of the seek's
// cursor, the instance OID built in place and the values written unboxed.
func (tb *table[R]) walk(rs *reqSnap, oid snmp.OID, v1 bool, w *snmp.VarBindWriter) bool {
	e, n := tb.t.entry, tb.t.IndexLen()
	inst := make(snmp.OID, len(e)+1+n)
	copy(inst, e)
	return tb.cells(rs, oid, v1, func(col uint32, k key, v value) bool {
		inst[len(e)] = col
		copy(inst[len(e)+1:], k[:n])
		return v.write(w, inst)
	})
}

// cells gives yield the instances after oid in walk order, the row's bytes valid for
// the call only, until yield returns false (then cells does) or the table ends.
func (tb *table[R]) cells(rs *reqSnap, oid snmp.OID, v1 bool, yield func(col uint32, k key, v value) bool) bool {
	n := tb.t.IndexLen()
	col, from, ok := start(tb.t, oid)
	if !ok {
		return true
	}
	row := tb.row()
	defer tb.putRow(row)
	for ; ok; col, ok = nextColumn(tb.t, col) {
		if v1 && isCounter64(tb.t, col) {
			from = key{}
			continue
		}
		fill := tb.fills(col)
		for tb.seekInto(rs.s, from, row) {
			k := tb.key(row)
			if fill {
				tb.fill(rs.s, row)
			}
			if v := tb.col(row, col); v.ok && !yield(col, k, v) {
				return false
			}
			var more bool
			if from, more = after(k, n); !more {
				break
			}
		}
		from = key{}
	}
	return true
}

// startColumn is the column part of where a GETNEXT of oid continues in t: the first
// accessible column at or after the one oid names, and, when oid names that column
// itself, the rest of oid (the row bound; empty: the column's first row); nil rest: the
// column's first row. false: no instance of t follows oid.
func startColumn(t *Table, oid snmp.OID) (col uint32, rest []uint32, ok bool) {
	if !oid.HasPrefix(t.entry) {
		if oid.Compare(t.entry) < 0 && len(t.accessible) > 0 {
			return t.accessible[0], nil, true
		}
		return 0, nil, false
	}
	r := oid[len(t.entry):]
	if len(r) == 0 {
		if len(t.accessible) == 0 {
			return 0, nil, false
		}
		return t.accessible[0], nil, true
	}
	i, exact := slices.BinarySearch(t.accessible, r[0])
	switch {
	case exact:
		return r[0], r[1:], true
	case i == len(t.accessible):
		return 0, nil, false
	}
	return t.accessible[i], nil, true
}

// start is where a GETNEXT of oid continues: the first row >= from (all zero: the first
// row) in column col, or the first row of a following column. Tables are walked column
// by column (all rows of the first accessible column, then the next...).
func start(t *Table, oid snmp.OID) (col uint32, from key, ok bool) {
	col, r, ok := startColumn(t, oid)
	if !ok || r == nil {
		return col, key{}, ok
	}
	n := t.IndexLen()
	copy(from[:], r[:min(len(r), n)])
	if len(r) < n {
		return col, from, true // r padded with zeros is the smallest index after r
	}
	if from, ok = after(from, n); !ok { // r[:n] itself is not after r: the next one is
		col, ok = nextColumn(t, col)
		return col, key{}, ok
	}
	return col, from, true
}

// nextColumn returns the accessible column after col.
func nextColumn(t *Table, col uint32) (uint32, bool) {
	i, exact := slices.BinarySearch(t.accessible, col)
	if exact {
		i++
	}
	if i >= len(t.accessible) {
		return 0, false
	}
	return t.accessible[i], true
}

// instance returns Entry.col.k[:n], cut from the request's arena.
func instance(rs *reqSnap, t *Table, col uint32, k key, n int) snmp.OID {
	e := t.entry
	o := rs.newOID(len(e) + 1 + n)
	copy(o, e)
	o[len(e)] = col
	copy(o[len(e)+1:], k[:n])
	return o
}

// scalar serves a scalar's one instance (OID.0).
type scalar struct {
	s    *Scalar
	inst snmp.OID
	val  func(s Snapshot) value
}

func newScalar(s *Scalar, val func(Snapshot) value) *scalar {
	return &scalar{s: s, inst: s.Instance(), val: val}
}

func (sc *scalar) root() snmp.OID { return sc.s.OID }

func (sc *scalar) get(s Snapshot, oid snmp.OID) snmp.VarBind {
	if v := sc.val(s); v.ok && oid.Compare(sc.inst) == 0 {
		return v.varbind(oid)
	}
	return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
}

func (sc *scalar) next(rs *reqSnap, oid snmp.OID, _ bool) (snmp.VarBind, bool) {
	if oid.Compare(sc.inst) >= 0 {
		return snmp.VarBind{}, false
	}
	if v := sc.val(rs.s); v.ok {
		return v.varbind(sc.inst), true
	}
	return snmp.VarBind{}, false
}

func (sc *scalar) walk(rs *reqSnap, oid snmp.OID, v1 bool, w *snmp.VarBindWriter) bool {
	return walkByNext(sc, rs, oid, v1, w)
}

// after returns the smallest index greater than k (n values); false if none.
func after(k key, n int) (key, bool) {
	for i := n - 1; i >= 0; i-- {
		if k[i] < ^uint32(0) {
			k[i]++
			return k, true
		}
		k[i] = 0
	}
	return k, false
}

// isCounter64 reports whether column col of t is a Counter64 (or CounterBasedGauge64).
func isCounter64(t *Table, col uint32) bool {
	c, ok := t.Column(col)
	return ok && c.Type == gosnmp.Counter64
}
