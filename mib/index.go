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
