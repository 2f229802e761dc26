package mib

import (
	"github.com/vmgate/vmgate/snmp"
)

// replicaTable: the gateways that serve the cluster through the shared registry, and
// the objects of replicaChange.

func replicaTable() node {
	return &table[ReplicaRow]{
		t:    ReplicaTable,
		seek: func(s Snapshot, from key) (ReplicaRow, bool) { return s.Replica(from[0]) },
		key:  func(r *ReplicaRow) key { return key{r.Index} },
		col:  replicaColumn,
	}
}

func replicaColumn(r *ReplicaRow, col uint32) value {
	switch col {
	case ColReplicaName:
		return str(adminString(r.Name))
	case ColReplicaAddress:
		return str(longString(r.Addresses))
	case ColReplicaRegistryState:
		s := r.State
		if !s.Valid() {
			s = ReplicaUnknown
		}
		return integer(int(s))
	case ColReplicaUpSince:
		return octets(DateAndTime(r.UpSince))
	case ColReplicaLastHeartbeat:
		return octets(DateAndTime(r.LastHeartbeat))
	}
	return value{}
}

// ReplicaChangeVarBinds returns the objects of replicaChange for r, instances
// .r.Index, built from the row itself: when a replica leaves, its row is already gone
// from replicaTable, so the objects cannot be read through the handler.
func ReplicaChangeVarBinds(r ReplicaRow) []snmp.VarBind {
	cols := [...]uint32{ColReplicaName, ColReplicaRegistryState} // as ReplicaChange.Objects
	vbs := make([]snmp.VarBind, 0, len(cols))
	for _, c := range cols {
		vbs = append(vbs, replicaColumn(&r, c).varbind(ReplicaTable.ColumnOID(c).Append(r.Index)))
	}
	return vbs
}
