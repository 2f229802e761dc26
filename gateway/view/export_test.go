package view

import "github.com/vmgate/vmgate/hosts"

// What the package's external tests see of its internals.

func (d Disk) RegKey() string { return d.regKey }
func (n NIC) RegKey() string  { return n.regKey }
func (h HBA) RegKey() string  { return h.regKey }

// OSRegKey is the registry key of a domain's guest OS row.
func OSRegKey(d *hosts.Domain) string { return osRegKey(new(newStrTable().compact(d))) }
