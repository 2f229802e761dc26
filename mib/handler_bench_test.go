package mib_test

import (
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
)

// BenchmarkHandlerWalk measures the handler alone (over the in-memory fake view): a
// walk of virtualMachinesTable with 25 varbinds per request; ns/op is per varbind.
func BenchmarkHandlerWalk(b *testing.B) {
	d := &mibtest.Data{}
	for i := range 1000 {
		d.VMs = append(d.VMs, mib.VMRow{ID: uint32(i + 1), Name: "vm", Host: "h", State: mib.StateRunning,
			Counters: true, CPUTimeNs: uint64(i) * 1e9})
	}
	h := mib.NewHandler(mibtest.New(map[string]*mibtest.Data{"": d}))
	root, _ := mib.Lookup("virtualMachinesTable")
	mibtest.BenchWalk(b, h, root)
}
