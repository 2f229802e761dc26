package mib

import (
	"errors"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// key is a row index of up to three values (the tables' INDEX has 1 to 3 objects);
// the unused tail is 0. Arrays, unlike Index slices, cost no allocation.
type key = [3]uint32

// value is one column's value in one row; ok false: the row has no instance of the
// column (e.g. a counter of a VM whose host is down).
type value struct {
	typ gosnmp.Asn1BER
	v   any
	ok  bool
}

func (v value) varbind(oid snmp.OID) snmp.VarBind {
	return snmp.VarBind{OID: oid, Type: v.typ, Value: v.v}
}

// table serves a Table whose rows come from a Snapshot seek: rows of type R, their
// index by key and their columns by value.
type table[R any] struct {
	t *Table
	// seek returns the first row whose index is >= from (O(log n)).
	seek func(s Snapshot, from key) (R, bool)
	key  func(r *R) key
	col  func(r *R, col uint32) value
}

func (tb *table[R]) root() snmp.OID { return tb.t.Entry() }

func (tb *table[R]) get(s Snapshot, oid snmp.OID) snmp.VarBind {
	col, idx, err := tb.t.ParseInstance(oid)
	if err != nil {
		if errors.Is(err, ErrNoSuchObject) {
			return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchObject}
		}
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	var k key
	copy(k[:], idx)
	row, ok := tb.seek(s, k)
	if !ok || tb.key(&row) != k {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	v := tb.col(&row, col)
	if !v.ok {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	return v.varbind(oid)
}

// next walks column by column (all rows of a column, then the next column). A row
// without an instance of the column is stepped over with one more seek.
func (tb *table[R]) next(s Snapshot, oid snmp.OID) (snmp.VarBind, bool) {
	n := tb.t.IndexLen()
	cur, ok := tb.t.Start(oid)
	for ; ok; cur, ok = tb.t.NextColumn(cur.Col) {
		var from key
		copy(from[:], cur.From)
		for {
			row, found := tb.seek(s, from)
			if !found {
				break
			}
			k := tb.key(&row)
			if v := tb.col(&row, cur.Col); v.ok {
				return v.varbind(tb.t.Instance(cur.Col, k[:n]...)), true
			}
			if from, found = after(k, n); !found {
				break
			}
		}
	}
	return snmp.VarBind{}, false
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

func (sc *scalar) next(s Snapshot, oid snmp.OID) (snmp.VarBind, bool) {
	if oid.Compare(sc.inst) >= 0 {
		return snmp.VarBind{}, false
	}
	if v := sc.val(s); v.ok {
		return v.varbind(sc.inst), true
	}
	return snmp.VarBind{}, false
}
