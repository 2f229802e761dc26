package view_test

import (
	"testing"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
)

// A patch after an operation changes only its fields of the record: the state of a
// paused VM, told as a state change, its ID, disks and name as they were; a VM the view has no record of is not
// patched (the supervisor then reports it whole).
func TestDomainPatched(t *testing.T) {
	tv := viewtest.New(t, "a")
	d := viewtest.Domain(1, hosts.StateRunning, "/img/one.qcow2")
	d.ID = 7
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	var changes []view.Change
	tv.OnChange(func(c view.Change) { changes = append(changes, c) })
	if !tv.DomainPatched("a", hosts.Domain{UUID: d.UUID, State: hosts.StatePaused, Reason: 1, ID: -1}, hosts.FieldState) {
		t.Fatal("patch of a known VM not applied")
	}
	r, ok := tv.Read().VMByUUID("a", d.UUID)
	if !ok || r.Domain.State != hosts.StatePaused || r.Domain.Reason != 1 || r.Domain.ID != 7 || r.Domain.Name != d.Name ||
		len(r.Disks) != 1 || r.Disks[0].Source != "/img/one.qcow2" {
		t.Fatalf("after the state patch: %+v", r)
	}
	if len(changes) != 1 || changes[0].VMID != r.VMID {
		t.Errorf("state changes told: %+v, want the one of vmId %d", changes, r.VMID)
	}
	if tv.DomainPatched("a", hosts.Domain{UUID: viewtest.UUID(9), State: hosts.StatePaused}, hosts.FieldState) {
		t.Error("patch of an unknown VM applied")
	}
	if tv.DomainPatched("b", hosts.Domain{UUID: d.UUID, State: hosts.StateShutoff}, hosts.FieldState) {
		t.Error("patch of another host's VM applied")
	}
}
