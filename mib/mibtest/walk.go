package mibtest

import (
	"context"
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
