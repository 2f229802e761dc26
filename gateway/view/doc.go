// Package view is the merged view of every host: a go-memdb inventory of VMs, storage
// pools, disk images and hosts, keyed so that a VM's UUID has one vmId on every host,
// plus one immutable counter snapshot per host swapped atomically. It implements
// hosts.Sink: supervisors write into it; SNMP requests read it through a Snapshot,
// the one read path (cursors and a flat index of the merged context make a walk
// cheap). Indexes come from a registry.Store; registry releases and change
// notifications run only after a write has committed.
//
// It imports hosts and gateway/registry, and nothing of SNMP or the MIB.
package view
