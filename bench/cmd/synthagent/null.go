package main

import (
	"context"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// nullTable is the engine's floor: one Integer column of rows 1..rows under tableRoot
// whose Next is arithmetic (no search, no formatting), so a walk of it costs what the
// engine and the UDP path cost with a handler that does no work. bench/run measures it
// next to the real tables to show how much of an agent's CPU per varbind is not the
// MIB's.
type nullTable struct {
	entry snmp.OID
	rows  uint32
}

func newNullTable(rows int) *nullTable {
	return &nullTable{entry: tableRoot.Append(1), rows: uint32(rows)}
}

func (t *nullTable) instance(r uint32) snmp.VarBind {
	n := len(t.entry)
	oid := make(snmp.OID, n+2)
	copy(oid, t.entry)
	oid[n], oid[n+1] = 1, r
	return snmp.VarBind{OID: oid, Type: gosnmp.Integer, Value: 1}
}

// Get returns the instance at oid exactly.
func (t *nullTable) Get(_ context.Context, _ *snmp.Request, oid snmp.OID) snmp.VarBind {
	n := len(t.entry)
	if !oid.HasPrefix(t.entry) || len(oid) < n+1 || oid[n] != 1 {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchObject}
	}
	if len(oid) == n+2 && oid[n+1] >= 1 && oid[n+1] <= t.rows {
		return snmp.VarBind{OID: oid, Type: gosnmp.Integer, Value: 1}
	}
	return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
}

// Next returns the first instance after oid.
func (t *nullTable) Next(_ context.Context, _ *snmp.Request, oid snmp.OID) (snmp.VarBind, bool) {
	n := len(t.entry)
	switch {
	case !oid.HasPrefix(t.entry):
		if oid.Compare(t.entry) < 0 {
			return t.instance(1), true
		}
		return snmp.VarBind{}, false
	case len(oid) == n || oid[n] < 1:
		return t.instance(1), true
	case oid[n] > 1:
		return snmp.VarBind{}, false
	case len(oid) == n+1:
		return t.instance(1), true
	}
	// A longer OID below row r still sorts after r: the next row is r+1.
	if r := oid[n+1]; r < t.rows {
		return t.instance(r + 1), true
	}
	return snmp.VarBind{}, false
}
