package mibview_test

import (
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
)

// BenchmarkMIBBulkFleetTable is BenchmarkMIBWalkFleetTable as a GETBULK answers it:
// one Walk per 25 varbinds, values encoded (ns/op and allocs/op per varbind). Its
// instructions per varbind: the same callgrind recipe, with
// --toggle-collect='*mibtest.BenchBulk'.
func BenchmarkMIBBulkFleetTable(b *testing.B) {
	h := benchFleetMIB(b, 100, 100)
	mibtest.BenchBulk(b, h, mib.VirtualMachinesTable.OID)
}

// BenchmarkMIBBulkFleet walks the whole module so, as BenchmarkMIBWalkFleet does.
func BenchmarkMIBBulkFleet(b *testing.B) {
	h := benchFleetMIB(b, 100, 100)
	mibtest.BenchBulk(b, h, mib.Root)
}
