// Package mib is the VIRTUAL-MACHINES-MIB: the module text (embedded), its OIDs, index
// encoding and enumerations, and the tables that turn the gateway's view into varbinds
// and check SETs column by column. It knows nothing of libvirt.
package mib
