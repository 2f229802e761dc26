package mib

import (
	"errors"
	"slices"
	"testing"

	"github.com/vmgate/vmgate/snmp"
)

const maxU32 = ^uint32(0)

func TestDecodeIndex(t *testing.T) {
	tests := []struct {
		name    string
		suffix  []uint32
		n       int
		want    Index
		wantErr bool
	}{
		{"single", []uint32{7}, 1, Index{7}, false},
		{"pair", []uint32{7, 1}, 2, Index{7, 1}, false},
		{"triple", []uint32{1, 2, 3}, 3, Index{1, 2, 3}, false},
		{"max", []uint32{MaxIndex, MaxIndex}, 2, Index{MaxIndex, MaxIndex}, false},
		{"empty", nil, 1, nil, true},
		{"short", []uint32{7}, 2, nil, true},
		{"long", []uint32{7, 1, 1}, 2, nil, true},
		{"zero", []uint32{0}, 1, nil, true},
		{"zero second", []uint32{3, 0}, 2, nil, true},
		{"above max", []uint32{MaxIndex + 1}, 1, nil, true},
		{"uint32 max", []uint32{1, maxU32}, 2, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeIndex(tt.suffix, tt.n)
			if tt.wantErr {
				if !errors.Is(err, ErrNoSuchInstance) {
					t.Fatalf("DecodeIndex(%v, %d) = %v, %v; want ErrNoSuchInstance", tt.suffix, tt.n, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("DecodeIndex(%v, %d) = %v, %v; want %v", tt.suffix, tt.n, got, err, tt.want)
			}
		})
	}
}

func TestParseInstance(t *testing.T) {
	e := CpuTable.Entry()
	tests := []struct {
		name    string
		oid     snmp.OID
		col     uint32
		idx     Index
		wantErr error
	}{
		{"ok", e.Append(ColCpuMhz, 5, 2), ColCpuMhz, Index{5, 2}, nil},
		{"last column", e.Append(ColCpuRowStatus, 1, 1), ColCpuRowStatus, Index{1, 1}, nil},
		{"index column not accessible", e.Append(ColCpuIndex, 5, 2), 0, nil, ErrNoSuchObject},
		{"unknown column", e.Append(99, 5, 2), 0, nil, ErrNoSuchObject},
		{"column zero", e.Append(0, 5, 2), 0, nil, ErrNoSuchObject},
		{"entry only", e, 0, nil, ErrNoSuchObject},
		{"table only", CpuTable.OID, 0, nil, ErrNoSuchObject},
		{"other table", MemoryTable.Entry().Append(ColMemoryRssKB, 5, 2), 0, nil, ErrNoSuchObject},
		{"column without index", e.Append(ColCpuMhz), 0, nil, ErrNoSuchInstance},
		{"short index", e.Append(ColCpuMhz, 5), 0, nil, ErrNoSuchInstance},
		{"long index", e.Append(ColCpuMhz, 5, 2, 0), 0, nil, ErrNoSuchInstance},
		{"zero vmId", e.Append(ColCpuMhz, 0, 2), 0, nil, ErrNoSuchInstance},
		{"huge cpuIndex", e.Append(ColCpuMhz, 5, maxU32), 0, nil, ErrNoSuchInstance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col, idx, err := parseInstance(CpuTable, tt.oid)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseInstance(%v) err = %v, want %v", tt.oid, err, tt.wantErr)
				}
				return
			}
			if err != nil || col != tt.col || !slices.Equal(idx, tt.idx) {
				t.Fatalf("ParseInstance(%v) = %d, %v, %v; want %d, %v", tt.oid, col, idx, err, tt.col, tt.idx)
			}
			if back := CpuTable.Instance(col, idx...); back.Compare(tt.oid) != 0 {
				t.Fatalf("Instance round trip: %v, want %v", back, tt.oid)
			}
		})
	}
}

// cursor is where a GETNEXT continues: the first row >= From (nil: the first row) in
// column Col.
type cursor struct {
	Col  uint32
	From Index
}

func TestStart(t *testing.T) {
	e := CpuTable.Entry() // accessible columns 2..7, index {vmId, cpuIndex}
	tests := []struct {
		name string
		oid  snmp.OID
		want cursor
		ok   bool
	}{
		{"empty OID", snmp.OID{}, cursor{Col: 2}, true},
		{"root", Root, cursor{Col: 2}, true},
		{"earlier table", MemoryTable.Entry().Append(ColMemoryRssKB, maxU32), cursor{Col: 2}, true},
		{"table", CpuTable.OID, cursor{Col: 2}, true},
		{"table.0", CpuTable.OID.Append(0), cursor{Col: 2}, true},
		{"entry", e, cursor{Col: 2}, true},
		{"column 0", e.Append(0), cursor{Col: 2}, true},
		{"index column", e.Append(1, 9, 9), cursor{Col: 2}, true},
		{"column", e.Append(2), cursor{Col: 2}, true},
		{"partial index", e.Append(2, 5), cursor{2, Index{5, 0}}, true},
		{"partial zero", e.Append(3, 0), cursor{3, Index{0, 0}}, true},
		{"full index", e.Append(2, 5, 7), cursor{2, Index{5, 8}}, true},
		{"longer than index", e.Append(2, 5, 7, 1, 1), cursor{2, Index{5, 8}}, true},
		{"carry", e.Append(2, 5, maxU32), cursor{2, Index{6, 0}}, true},
		{"carry out of the column", e.Append(2, maxU32, maxU32), cursor{Col: 3}, true},
		{"carry out of the last column", e.Append(7, maxU32, maxU32, 4), cursor{}, false},
		{"last column", e.Append(7, 3, 3), cursor{7, Index{3, 4}}, true},
		{"after last column", e.Append(8), cursor{}, false},
		{"big column", e.Append(maxU32), cursor{}, false},
		{"entry.2 sibling", CpuTable.OID.Append(2), cursor{}, false},
		{"next table", StorageTable.OID, cursor{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col, from, ok := start(CpuTable, tt.oid)
			var want key
			copy(want[:], tt.want.From)
			if ok != tt.ok || (ok && (col != tt.want.Col || from != want)) {
				t.Fatalf("start(%v) = %d %v, %v; want %+v, %v", tt.oid, col, from, ok, tt.want, tt.ok)
			}
		})
	}
}

// bruteNext is the specification of Next: every instance of the table, sorted, and the
// first one strictly greater than oid.
func bruteNext(t *Table, rows []Index, oid snmp.OID) (snmp.OID, bool) {
	var all []snmp.OID
	for _, c := range t.accessible {
		for _, r := range rows {
			all = append(all, t.Instance(c, r...))
		}
	}
	slices.SortFunc(all, snmp.OID.Compare)
	for _, o := range all {
		if o.Compare(oid) > 0 {
			return o, true
		}
	}
	return nil, false
}

// fixtures are row sets per index length, with extremes.
var fixtures = map[int][]Index{
	1: {{1}, {2}, {10}, {MaxIndex}},
	2: {{1, 1}, {1, 2}, {1, MaxIndex}, {3, 1}, {MaxIndex, 7}},
	3: {{1, 1, 1}, {1, 1, 2}, {1, 2, 1}, {4, MaxIndex, 2}},
}

// fixtureRows returns the fixture rows of tb.
func fixtureRows(tb *Table) []Index {
	if tb.AddrIndex {
		return addrFixtures()
	}
	return fixtures[tb.IndexLen()]
}

// checkNext checks the handler's walk arithmetic (walkNext) against the brute-force
// order.
func checkNext(t *testing.T, tb *Table, rows []Index, oid snmp.OID) {
	t.Helper()
	got, ok := walkNext(tb, rows, oid)
	want, wantOK := bruteNext(tb, rows, oid)
	if ok != wantOK || (ok && got.Compare(want) != 0) {
		t.Fatalf("%s: next of %v = %v, %v; want %v, %v", tb.Name, oid, got, ok, want, wantOK)
	}
}

// walkNext is one GETNEXT step of the handler (start or addrStart, then nextColumn)
// over a set of rows.
func walkNext(tb *Table, rows []Index, oid snmp.OID) (snmp.OID, bool) {
	rows = slices.SortedFunc(slices.Values(rows), Index.Compare)
	var col uint32
	var from Index
	var ok bool
	if tb.AddrIndex {
		var k AddrKey
		col, k, ok = addrStart(tb, oid)
		from = k.Index()
	} else {
		var k key
		col, k, ok = start(tb, oid)
		from = Index(k[:tb.IndexLen()])
	}
	for ; ok; col, ok = nextColumn(tb, col) {
		if i, _ := slices.BinarySearchFunc(rows, from, Index.Compare); i < len(rows) {
			return tb.Instance(col, rows[i]...), true
		}
		from = nil
	}
	return nil, false
}

// TestNextWalk walks every fixture table with GETNEXT from the root and checks the whole
// walk against the brute-force order, including the empty table.
func TestNextWalk(t *testing.T) {
	for _, tb := range []*Table{VirtualMachinesTable, CpuTable, NetworkAddressTable} {
		for _, rows := range [][]Index{fixtureRows(tb), nil} {
			t.Run(tb.Name, func(t *testing.T) {
				oid, steps := Root, 0
				for {
					checkNext(t, tb, rows, oid)
					next, ok := walkNext(tb, rows, oid)
					if !ok {
						break
					}
					oid = next
					steps++
				}
				if want := len(rows) * len(tb.accessible); steps != want {
					t.Fatalf("walk visited %d instances, want %d", steps, want)
				}
			})
		}
	}
}

func TestNextEdges(t *testing.T) {
	e := CpuTable.Entry()
	for _, oid := range []snmp.OID{
		e.Append(2, 1, 2), e.Append(2, 1, MaxIndex), e.Append(2, 1, maxU32),
		e.Append(2, MaxIndex, 7), e.Append(2, MaxIndex, 7, 0), e.Append(2, 2),
		e.Append(2, 1, 0, 0, 0), e.Append(7, MaxIndex, 6), e.Append(7, MaxIndex, 7),
		e.Append(1, maxU32, maxU32), e.Append(3, maxU32, maxU32, maxU32), CpuTable.OID,
		StorageTable.OID, snmp.OID{2},
	} {
		checkNext(t, CpuTable, fixtures[2], oid)
	}
}

// oidFromBytes turns fuzz input into an OID: the first byte picks a prefix (an entry,
// a table, the root or nothing); every further byte is a sub-identifier, with the top
// values standing for the interesting extremes.
func oidFromBytes(tb *Table, data []byte) snmp.OID {
	var o snmp.OID
	if len(data) > 0 {
		switch data[0] % 4 {
		case 0:
			o = tb.Entry().Append()
		case 1:
			o = tb.OID.Append()
		case 2:
			o = Root.Append()
		}
		data = data[1:]
	}
	for _, b := range data {
		switch b {
		case 255:
			o = append(o, maxU32)
		case 254:
			o = append(o, MaxIndex)
		case 253:
			o = append(o, MaxIndex+1)
		default:
			o = append(o, uint32(b))
		}
	}
	return o
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte{0, 2, 1, 1})
	f.Add([]byte{0, 7, 254, 255, 3})
	f.Add([]byte{3, 1, 3, 6, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tb := range []*Table{VirtualMachinesTable, CpuTable, NetworkAddressTable} {
			oid := oidFromBytes(tb, data)
			n := tb.IndexLen()
			if len(oid) >= n && !tb.AddrIndex {
				if idx, err := DecodeIndex(oid[len(oid)-n:], n); err == nil {
					for _, v := range idx {
						if v == 0 || v > MaxIndex {
							t.Fatalf("DecodeIndex accepted %v", idx)
						}
					}
				}
			}
			if col, idx, err := parseInstance(tb, oid); err == nil {
				if back := tb.Instance(col, idx...); back.Compare(oid) != 0 {
					t.Fatalf("%s: ParseInstance(%v) -> %d %v -> %v", tb.Name, oid, col, idx, back)
				}
			} else if !errors.Is(err, ErrNoSuchObject) && !errors.Is(err, ErrNoSuchInstance) {
				t.Fatalf("%s: ParseInstance(%v): unexpected error %v", tb.Name, oid, err)
			}
			checkNext(t, tb, fixtureRows(tb), oid)
		}
	})
}

func TestTablesWellFormed(t *testing.T) {
	var prev snmp.OID
	for _, tb := range Tables() {
		if prev != nil && tb.OID.Compare(prev) <= 0 {
			t.Errorf("%s %v not after %v", tb.Name, tb.OID, prev)
		}
		prev = tb.OID
		if tb.IndexLen() == 0 || len(tb.accessible) == 0 {
			t.Errorf("%s: index %v, accessible columns %v", tb.Name, tb.Index, tb.accessible)
		}
		for i, c := range tb.Columns {
			if i > 0 && c.Num <= tb.Columns[i-1].Num {
				t.Errorf("%s: column %s (%d) out of order", tb.Name, c.Name, c.Num)
			}
			if got, ok := tb.Column(c.Num); !ok || got.Name != c.Name {
				t.Errorf("%s: Column(%d) = %v, %v", tb.Name, c.Num, got, ok)
			}
		}
	}
	o, ok := Lookup("vmState")
	if !ok || o.String() != ".1.3.6.1.3.7466.1.3.1.5" {
		t.Fatalf("Lookup(vmState) = %v, %v", o, ok)
	}
	o[0] = 99 // a copy
	if o2, _ := Lookup("vmState"); o2[0] != 1 {
		t.Fatal("Lookup returned shared storage")
	}
	if _, ok := Lookup("nosuch"); ok {
		t.Fatal("Lookup(nosuch) found something")
	}
	if AgentOID.String() != ".1.3.6.1.3.7466.3" {
		t.Fatalf("AgentOID = %v", AgentOID)
	}
}
