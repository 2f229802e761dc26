package mibview_test

import (
	"testing"

	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/mib"
)

// TestVMInto: the in-place seek reads the rows VM returns, in every context, from
// every vmId and around them.
func TestVMInto(t *testing.T) {
	v, _ := mibFixture(t)
	m := mibview.New(v, nil, nil)
	for _, ctx := range []string{"", "kvm1", "kvm2", "nosuch"} {
		s := m.Snapshot(ctx)
		f := s.(mib.VMFiller)
		froms := []uint32{0, 1, ^uint32(0)}
		for r := range v.Read().VMs(ctx, 0) {
			froms = append(froms, r.VMID-1, r.VMID, r.VMID+1)
		}
		for _, from := range froms {
			want, wok := s.VM(from)
			got := mib.VMRow{ID: 12345}
			if ok := f.VMInto(from, &got); ok != wok || (ok && got != want) || (!ok && got.ID != 12345) {
				t.Errorf("context %q: VMInto(%d) = %v %+v, VM gave %v %+v", ctx, from, ok, got, wok, want)
			}
		}
	}
}
