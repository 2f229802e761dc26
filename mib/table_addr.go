package mib

import (
	"slices"

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

// accessibleColumn returns the accessible column an instance OID of t names; NoSuchObject when
// it names none.
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

// addrStart is Table.Start of a table with AddrIndex, the row bound as an AddrKey (the
// zero key: the first row).
func addrStart(t *Table, oid snmp.OID) (col uint32, from AddrKey, ok bool) {
	if !oid.HasPrefix(t.entry) {
		if oid.Compare(t.entry) < 0 && len(t.accessible) > 0 {
			return t.accessible[0], AddrKey{}, true
		}
		return 0, AddrKey{}, false
	}
	rest := oid[len(t.entry):]
	if len(rest) == 0 {
		return t.accessible[0], AddrKey{}, len(t.accessible) > 0
	}
	col = rest[0]
	i, exact := slices.BinarySearch(t.accessible, col)
	if !exact {
		if i == len(t.accessible) {
			return 0, AddrKey{}, false
		}
		return t.accessible[i], AddrKey{}, true
	}
	if from, ok = addrAfter(rest[1:]); !ok {
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
		return value{tInt, int(r.Source), r.Source.Valid()}
	}
	return value{}
}
