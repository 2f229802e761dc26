package mib_test

import (
	"context"
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
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
	ctx := context.Background()
	cur, r := root, &snmp.Request{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%25 == 0 {
			r = &snmp.Request{}
		}
		vb, ok := h.Next(ctx, r, cur)
		if !ok || !vb.OID.HasPrefix(root) {
			cur = root
			continue
		}
		cur = vb.OID
	}
}
