package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// tableRoot is the synthetic table; its entry is tableRoot.1 and instances are
// tableRoot.1.COL.ROW. 99999 is no one's enterprise number we care about: bench only.
var tableRoot = snmp.MustOID("1.3.6.1.4.1.99999.1.1")

// table is a read-only table of cols columns over a sorted slice of row indexes.
// Row indexes are sparse (3, 6, 9...) so lookups really search.
type table struct {
	entry snmp.OID
	rows  []uint32
	cols  uint32
}

func newTable(rows, cols int) *table {
	t := &table{entry: tableRoot.Append(1), rows: make([]uint32, rows), cols: uint32(cols)}
	for i := range t.rows {
		t.rows[i] = uint32(3 * (i + 1))
	}
	return t
}

// value renders column col of row r: one column of each common type.
func (t *table) value(col, r uint32) snmp.VarBind {
	oid := t.entry.Append(col, r)
	switch col {
	case 1:
		return snmp.VarBind{OID: oid, Type: gosnmp.Integer, Value: int(r)}
	case 2:
		return snmp.VarBind{OID: oid, Type: gosnmp.OctetString, Value: fmt.Sprintf("row-%07d", r)}
	case 3:
		return snmp.VarBind{OID: oid, Type: gosnmp.Counter32, Value: r * 7}
	case 4:
		return snmp.VarBind{OID: oid, Type: gosnmp.Gauge32, Value: r % 1000}
	default:
		return snmp.VarBind{OID: oid, Type: gosnmp.Counter64, Value: uint64(r) << 20}
	}
}

// Get returns the instance at oid exactly.
func (t *table) Get(_ context.Context, _ *snmp.Request, oid snmp.OID) snmp.VarBind {
	n := len(t.entry)
	if !oid.HasPrefix(t.entry) || len(oid) < n+1 || oid[n] < 1 || oid[n] > t.cols {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchObject}
	}
	if len(oid) == n+2 {
		if _, found := slices.BinarySearch(t.rows, oid[n+1]); found {
			return t.value(oid[n], oid[n+1])
		}
	}
	return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
}

// Next returns the first instance after oid, column by column, in O(log rows).
func (t *table) Next(_ context.Context, _ *snmp.Request, oid snmp.OID) (snmp.VarBind, bool) {
	n := len(t.entry)
	if !oid.HasPrefix(t.entry) {
		if oid.Compare(t.entry) < 0 {
			return t.value(1, t.rows[0]), true
		}
		return snmp.VarBind{}, false
	}
	if len(oid) == n || oid[n] < 1 {
		return t.value(1, t.rows[0]), true
	}
	col := oid[n]
	if col > t.cols {
		return snmp.VarBind{}, false
	}
	if len(oid) == n+1 {
		return t.value(col, t.rows[0]), true
	}
	// First row strictly after oid[n+1]: a longer OID below row r still sorts after r.
	r := oid[n+1]
	i, _ := slices.BinarySearch(t.rows, r)
	for i < len(t.rows) && t.rows[i] <= r {
		i++
	}
	if i < len(t.rows) {
		return t.value(col, t.rows[i]), true
	}
	if col < t.cols {
		return t.value(col+1, t.rows[0]), true
	}
	return snmp.VarBind{}, false
}
