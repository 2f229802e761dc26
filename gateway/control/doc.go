// Package control executes the SETs of the VIRTUAL-MACHINES-MIB: Executor implements
// mib.Controller, answering the test phase's questions from the view, the registry and
// the template store, and carrying out the commit phase through the hosts'
// supervisors (create from a template, delete, state changes, memory, vCPUs, disks)
// and the template store. A change returns once the view shows it.
//
// It imports gateway/view, gateway/mibview, gateway/registry, gateway/templates,
// hosts and mib.
package control
