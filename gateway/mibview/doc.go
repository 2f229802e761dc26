// Package mibview adapts the merged view, the index registry and the template store to
// mib.View, the read side the VIRTUAL-MACHINES-MIB handler needs: view records become
// mib rows. It owns the mapping between libvirt's words and the MIB's enumerations
// (storageDevice, sourceType...).
//
// It imports gateway/view, gateway/registry, gateway/templates, hosts and mib.
package mibview
