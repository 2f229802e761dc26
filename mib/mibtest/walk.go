package mibtest

import (
	"context"
	"slices"
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// BenchWalk walks the subtree under root over and over with GETNEXT, 25 varbinds per
// request (as snmpbulkwalk -Cr25), starting again at root at its end; ns/op and
// allocs/op are per varbind.
func BenchWalk(b *testing.B, h *mib.Handler, root snmp.OID) {
	b.Helper()
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

// BenchBulk is BenchWalk as the engine answers a GETBULK of 25 repetitions: one
// Walk per request, the values encoded (no UDP, no message around them); ns/op and
// allocs/op are per varbind (b.N varbinds, as with BenchWalk).
func BenchBulk(b *testing.B, h snmp.Walker, root snmp.OID) {
	b.Helper()
	ctx := context.Background()
	w := snmp.NewVarBindWriter(root, root, 25)
	cur := slices.Clone(root)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		w.Reset(root, cur, min(25, b.N-i))
		h.Walk(ctx, &snmp.Request{}, cur, w)
		i += max(w.Len(), 1)
		if w.Room() > 0 {
			cur = append(cur[:0], root...)
		} else {
			cur = append(cur[:0], w.Last()...)
		}
	}
}
