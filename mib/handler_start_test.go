package mib

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// TestStartMatchesTableStart checks the handler's allocation-free walk arithmetic
// against Table.Start on random OIDs around every table (both then seek the same row).
func TestStartMatchesTableStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []uint32{0, 1, 2, 7, MaxIndex, MaxIndex + 1, ^uint32(0) - 1, ^uint32(0)}
	for _, tb := range Tables() {
		for range 3000 {
			oid := tb.Entry().Append()
			switch rng.IntN(6) {
			case 0:
				oid = tb.OID.Append()
			case 1:
				oid = oid[:len(oid)-1-rng.IntN(3)]
			}
			for range rng.IntN(6) {
				oid = append(oid, vals[rng.IntN(len(vals))])
			}
			if rng.IntN(4) == 0 && len(oid) > len(tb.Entry()) {
				oid[len(tb.Entry())] = uint32(rng.IntN(len(tb.Columns) + 3))
			}
			cur, ok := tb.Start(oid)
			if tb.AddrIndex {
				checkAddrStart(t, tb, oid, cur, ok)
				continue
			}
			col, from, ok2 := start(tb, oid)
			var want key
			copy(want[:], cur.From)
			if ok != ok2 || (ok && (cur.Col != col || want != from)) {
				t.Fatalf("%s %v: Start = %v %v %v, start = %v %v %v", tb.Name, snmp.OID(oid), cur.Col, cur.From, ok, col, from, ok2)
			}
		}
	}
}

// TestParseMatchesParseInstance checks the handler's allocation-free instance parsing
// against Table.ParseInstance.
func TestParseMatchesParseInstance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []uint32{0, 1, 2, MaxIndex, MaxIndex + 1, ^uint32(0)}
	for _, tb := range Tables() {
		for range 3000 {
			oid := tb.Entry().Append(uint32(rng.IntN(len(tb.Columns) + 2)))
			if rng.IntN(8) == 0 {
				oid = oid[:len(oid)-1-rng.IntN(2)]
			}
			for range rng.IntN(5) {
				oid = append(oid, vals[rng.IntN(len(vals))])
			}
			col, idx, err := tb.ParseInstance(oid)
			if tb.AddrIndex {
				checkAddrParse(t, tb, oid, col, idx, err)
				continue
			}
			col2, k, exc := parse(tb, oid)
			var want key
			copy(want[:], idx)
			switch {
			case errors.Is(err, ErrNoSuchObject) && exc == gosnmp.NoSuchObject:
			case errors.Is(err, ErrNoSuchInstance) && exc == gosnmp.NoSuchInstance:
			case err == nil && exc == 0 && col == col2 && want == k:
			default:
				t.Fatalf("%s %v: ParseInstance = %v %v %v, parse = %v %v %v", tb.Name, oid, col, idx, err, col2, k, exc)
			}
		}
	}
}

// checkAddrStart checks addrStart against Table.Start (cur, ok) for a table with
// AddrIndex: the same column, and the same bound (a nil From is the first row).
func checkAddrStart(t *testing.T, tb *Table, oid snmp.OID, cur Cursor, ok bool) {
	t.Helper()
	col, from, ok2 := addrStart(tb, oid)
	want := cur.From
	if want == nil {
		want = Index{0, 0}
	}
	if ok != ok2 || (ok && (cur.Col != col || want.Compare(from.Index()) != 0)) {
		t.Fatalf("%s %v: Start = %v %v %v, addrStart = %v %v %v", tb.Name, oid, cur.Col, cur.From, ok, col, from, ok2)
	}
}

// checkAddrParse checks the handler's parsing (accessibleColumn, ParseAddrKey) against
// Table.ParseInstance's result for a table with AddrIndex.
func checkAddrParse(t *testing.T, tb *Table, oid snmp.OID, col uint32, idx Index, err error) {
	t.Helper()
	col2, exc := accessibleColumn(tb, oid)
	var k AddrKey
	if exc == 0 {
		var ok bool
		if k, ok = ParseAddrKey(oid[len(tb.Entry())+1:]); !ok {
			exc = gosnmp.NoSuchInstance
		}
	}
	switch {
	case errors.Is(err, ErrNoSuchObject) && exc == gosnmp.NoSuchObject:
	case errors.Is(err, ErrNoSuchInstance) && exc == gosnmp.NoSuchInstance:
	case err == nil && exc == 0 && col == col2 && idx.Compare(k.Index()) == 0:
	default:
		t.Fatalf("%s %v: ParseInstance = %v %v %v, handler = %v %v %v", tb.Name, oid, col, idx, err, col2, k, exc)
	}
}
