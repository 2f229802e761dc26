package mib

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vmgate/vmgate/snmp"
)

// MaxIndex is the largest index value of every table (VmIndex, VmTableIndex).
const MaxIndex = 2147483647

// Index is a row's index: one value per INDEX object, in order (in a table with
// AddrIndex: the instance suffix's sub-identifiers, the address as type, length,
// octets). Rows compare in SNMP order, which is numeric order component by component.
type Index []uint32

// Compare orders indexes as their instance OIDs: -1, 0 or +1.
func (x Index) Compare(y Index) int { return slices.Compare(x, y) }

// Pair is the index {vmId, sub} of the per-VM tables.
func Pair(vmID, sub uint32) Index { return Index{vmID, sub} }

var (
	// ErrNoSuchObject: the OID names no accessible column of the table.
	ErrNoSuchObject = errors.New("no such object")
	// ErrNoSuchInstance: the column exists, the index is malformed or out of range.
	ErrNoSuchInstance = errors.New("no such instance")
)

// DecodeIndex decodes an instance suffix of n index values, each 1..MaxIndex.
func DecodeIndex(suffix []uint32, n int) (Index, error) {
	if len(suffix) != n {
		return nil, fmt.Errorf("%w: index has %d sub-identifiers, want %d", ErrNoSuchInstance, len(suffix), n)
	}
	for i, v := range suffix {
		if v == 0 || v > MaxIndex {
			return nil, fmt.Errorf("%w: index value %d at position %d out of range 1..%d",
				ErrNoSuchInstance, v, i+1, MaxIndex)
		}
	}
	return Index(slices.Clone(suffix)), nil
}

// Instance returns the OID of column col in the row idx: Entry.col.idx...
func (t *Table) Instance(col uint32, idx ...uint32) snmp.OID {
	o := make(snmp.OID, 0, len(t.entry)+1+len(idx))
	o = append(o, t.entry...)
	o = append(o, col)
	return append(o, idx...)
}

// ParseInstance splits an instance OID of this table into its column and row index, for
// GET and SET. The errors wrap ErrNoSuchObject (not an accessible column of the table)
// or ErrNoSuchInstance (bad index).
func (t *Table) ParseInstance(oid snmp.OID) (col uint32, idx Index, err error) {
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

// Cursor is where a GETNEXT continues in a table: at the first row whose index is >= From
// in column Col, where a nil From means the table's first row.
type Cursor struct {
	Col  uint32
	From Index
}

// Start returns where the walk continues for a GETNEXT of oid: the first instance of the
// table strictly after oid is the first row >= From in column Col, or (no such row)
// the first row of a following column. false: no instance of the table follows oid.
// Tables are walked column by column (all rows of the first accessible column, then
// the next...). The arithmetic is pure; with an ordered row source the whole step
// costs O(log n) (see Next).
func (t *Table) Start(oid snmp.OID) (Cursor, bool) {
	if !oid.HasPrefix(t.entry) {
		if oid.Compare(t.entry) < 0 {
			return t.firstColumn()
		}
		return Cursor{}, false // past the table
	}
	rest := oid[len(t.entry):]
	if len(rest) == 0 {
		return t.firstColumn()
	}
	col := rest[0]
	i, exact := slices.BinarySearch(t.accessible, col)
	if !exact {
		if i == len(t.accessible) {
			return Cursor{}, false
		}
		return Cursor{Col: t.accessible[i]}, true
	}
	from, ok := successor(rest[1:], t.IndexLen())
	if t.AddrIndex && len(rest) > 1 {
		var k AddrKey
		k, ok = addrAfter(rest[1:])
		from = k.Index()
	}
	if !ok {
		return t.NextColumn(col)
	}
	return Cursor{Col: col, From: from}, true
}

// NextColumn returns a cursor at the first row of the accessible column after col.
func (t *Table) NextColumn(col uint32) (Cursor, bool) {
	i, exact := slices.BinarySearch(t.accessible, col)
	if exact {
		i++
	}
	if i >= len(t.accessible) {
		return Cursor{}, false
	}
	return Cursor{Col: t.accessible[i]}, true
}

func (t *Table) firstColumn() (Cursor, bool) {
	if len(t.accessible) == 0 {
		return Cursor{}, false
	}
	return Cursor{Col: t.accessible[0]}, true
}

// successor returns the smallest n-value index whose instance suffix is strictly
// greater than r, as a lower bound (its values may be 0 or above MaxIndex: no row
// has them, so a seek from there finds the next real row). nil means "any row".
// false: no n-value index is greater than r.
func successor(r []uint32, n int) (Index, bool) {
	switch {
	case len(r) == 0:
		return nil, true // Entry.col itself: every row of the column follows it
	case len(r) < n:
		// A longer suffix starting with r is greater than r.
		from := make(Index, n)
		copy(from, r)
		return from, true
	}
	// Any index equal to r[:n] is r itself or a prefix of r: not greater. Increment.
	from := Index(slices.Clone(r[:n]))
	for i := n - 1; i >= 0; i-- {
		if from[i] < ^uint32(0) {
			from[i]++
			return from, true
		}
		from[i] = 0
	}
	return nil, false
}

// Hit is the result of Next: the instance found and its row.
type Hit[R any] struct {
	Col   uint32
	Index Index
	Row   R
}

// OID returns the hit's instance OID.
func (h Hit[R]) OID(t *Table) snmp.OID { return t.Instance(h.Col, h.Index...) }

// Seeker finds the first row whose index is >= from (from nil: the first row), returning
// the row's index and the row; false when there is none. It must be O(log n): e.g. a
// memdb LowerBound on a big-endian key.
type Seeker[R any] func(from Index) (Index, R, bool)

// Next finds the first instance of t strictly after oid, for GETNEXT/GETBULK, with at
// most two seeks. It assumes every row has a value in every accessible column (the
// tables of this module are dense).
func Next[R any](t *Table, oid snmp.OID, seek Seeker[R]) (Hit[R], bool) {
	cur, ok := t.Start(oid)
	if !ok {
		return Hit[R]{}, false
	}
	if cur.From != nil {
		if idx, row, found := seek(cur.From); found {
			return Hit[R]{Col: cur.Col, Index: idx, Row: row}, true
		}
		if cur, ok = t.NextColumn(cur.Col); !ok {
			return Hit[R]{}, false
		}
	}
	idx, row, found := seek(nil)
	if !found {
		return Hit[R]{}, false // the table is empty
	}
	return Hit[R]{Col: cur.Col, Index: idx, Row: row}, true
}
