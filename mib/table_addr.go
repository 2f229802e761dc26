package mib

import (
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// networkAddressTable, indexed by the address (AddrKey): its own node, as its instance
// suffixes have a variable length that the generic table's key arrays do not hold.
// Like table, a lookup allocates nothing but the answer's OID.

type addrTable struct{ t *Table }

func networkAddressTable() node { return addrTable{NetworkAddressTable} }

func (at addrTable) root() snmp.OID { return at.t.entry }

func (at addrTable) get(s Snapshot, oid snmp.OID) snmp.VarBind {
	col, exc := accessibleColumn(at.t, oid)
	if exc != 0 {
		return snmp.VarBind{OID: oid, Type: exc}
	}
	k, ok := ParseAddrKey(oid[len(at.t.entry)+1:])
	if !ok {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	row, ok := s.NetworkAddress(k)
	if !ok || row.Key() != k {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	v := networkAddressColumn(&row, col)
	if !v.ok {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	return v.varbind(oid)
}

// next walks column by column, as table.next does; the table has no Counter64 column.
func (at addrTable) next(rs *reqSnap, oid snmp.OID, _ bool) (snmp.VarBind, bool) {
	col, from, ok := addrStart(at.t, oid)
	for ; ok; col, ok = nextColumn(at.t, col) {
		for {
			row, found := rs.s.NetworkAddress(from)
			if !found {
				break
			}
			k := row.Key()
			if v := networkAddressColumn(&row, col); v.ok {
				return v.varbind(addrInstance(rs, at.t, col, k)), true
			}
			if from, found = k.nextKey(); !found {
				break
			}
		}
		from = AddrKey{}
	}
	return snmp.VarBind{}, false
}

func (at addrTable) walk(rs *reqSnap, oid snmp.OID, v1 bool, w *snmp.VarBindWriter) bool {
	return walkByNext(at, rs, oid, v1, w)
}

// addrStart is start for a table with AddrIndex, the row bound an AddrKey (the zero
// key: the first row).
func addrStart(t *Table, oid snmp.OID) (col uint32, from AddrKey, ok bool) {
	col, r, ok := startColumn(t, oid)
	if !ok || r == nil {
		return col, AddrKey{}, ok
	}
	if from, ok = addrAfter(r); !ok {
		col, ok = nextColumn(t, col)
		return col, AddrKey{}, ok
	}
	return col, from, true
}

// addrInstance returns Entry.col.k, cut from the request's arena.
func addrInstance(rs *reqSnap, t *Table, col uint32, k AddrKey) snmp.OID {
	e := t.entry
	o := rs.newOID(len(e) + 3 + addrIndexLen(k.Addr))
	copy(o, e)
	o[len(e)] = col
	o[len(e)+1], o[len(e)+2] = k.VMID, k.Network
	AppendAddr(o[:len(e)+3], k.Addr)
	return o
}

func networkAddressColumn(r *NetworkAddressRow, col uint32) value {
	switch col {
	case ColNetworkAddressPrefixLength:
		return u32(r.PrefixLength)
	case ColNetworkAddressSource:
		return integer(int(r.Source)).when(r.Source.Valid())
	}
	return value{}
}
