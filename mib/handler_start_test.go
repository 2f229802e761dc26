package mib

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// TestStartRandom checks the handler's walk arithmetic (start, addrStart) on random OIDs
// around every table against the brute-force order.
func TestStartRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []uint32{0, 1, 2, 7, MaxIndex, MaxIndex + 1, ^uint32(0) - 1, ^uint32(0)}
	for _, tb := range Tables() {
		rows := fixtureRows(tb)
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
			checkNext(t, tb, rows, oid)
		}
	}
}

// TestParseMatchesParseInstance checks the handler's allocation-free instance parsing
// against parseInstance, which decodes with DecodeIndex and ParseAddrKey.
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
			col, idx, err := parseInstance(tb, oid)
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
				t.Fatalf("%s %v: parseInstance = %v %v %v, parse = %v %v %v", tb.Name, oid, col, idx, err, col2, k, exc)
			}
		}
	}
}

// checkAddrParse checks the handler's parsing (accessibleColumn, ParseAddrKey) against
// parseInstance's result for a table with AddrIndex.
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
		t.Fatalf("%s %v: parseInstance = %v %v %v, handler = %v %v %v", tb.Name, oid, col, idx, err, col2, k, exc)
	}
}

// parseInstance is the oracle of parse: it splits an instance OID of t into its column
// and row index. The errors wrap ErrNoSuchObject (not an accessible column of the
// table) or ErrNoSuchInstance (bad index).
func parseInstance(t *Table, oid snmp.OID) (col uint32, idx Index, err error) {
	if len(oid) <= len(t.entry) || !oid.HasPrefix(t.entry) {
		return 0, nil, fmt.Errorf("%w: %v is not a column of %s", ErrNoSuchObject, oid, t.Name)
	}
	col = oid[len(t.entry)]
	if _, ok := slices.BinarySearch(t.accessible, col); !ok {
		return 0, nil, fmt.Errorf("%w: %s has no accessible column %d", ErrNoSuchObject, t.Name, col)
	}
	if t.AddrIndex {
		if _, ok := ParseAddrKey(oid[len(t.entry)+1:]); !ok {
			return 0, nil, fmt.Errorf("%w: %s column %d: malformed address index %v",
				ErrNoSuchInstance, t.Name, col, oid[len(t.entry)+1:])
		}
		return col, Index(slices.Clone(oid[len(t.entry)+1:])), nil
	}
	idx, err = DecodeIndex(oid[len(t.entry)+1:], t.IndexLen())
	if err != nil {
		return 0, nil, fmt.Errorf("%s column %d: %w", t.Name, col, err)
	}
	return col, idx, nil
}
