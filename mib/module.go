package mib

import (
	_ "embed"
	"slices"
)

//go:embed VIRTUAL-MACHINES-MIB.txt
var moduleText []byte

// ModuleName is the SMIv2 module name; net-snmp loads the module by it
// (-m +VIRTUAL-MACHINES-MIB) from a file of that name plus ".txt".
const ModuleName = "VIRTUAL-MACHINES-MIB"

// ModuleText returns the VIRTUAL-MACHINES-MIB module text (what --print-mib writes).
// The slice is a fresh copy: callers may keep or modify it.
func ModuleText() []byte { return slices.Clone(moduleText) }
