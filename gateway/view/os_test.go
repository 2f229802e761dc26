package view_test

import (
	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// TestGuestAgentOS: a VM whose guest agent answered points (vmOsIndex) at a
// supportedOsTable row of its own with osSource guestAgent(2), over its libosinfo
// metadata; VMs with the same os-release ID and VERSION_ID share it; once the answer is
// gone (the VM shut off) the VM is back on its libosinfo row.
func TestGuestAgentOS(t *testing.T) {
	tv := viewtest.New(t)
	v, reg := tv.View, tv.Reg
	h := mib.NewHandler(mibview.New(v, reg, nil))
	deb := hosts.GuestOS{ID: "debian", Name: "Debian GNU/Linux", Version: "12 (bookworm)", VersionID: "12",
		PrettyName: "Debian GNU/Linux 12 (bookworm)", KernelRelease: "6.1.0-57-amd64"}
	a, b := viewtest.Domain(1, hosts.StateRunning), viewtest.Domain(2, hosts.StateRunning)
	a.OSInfoID, a.GuestAgent = "http://debian.org/debian/11", true
	b.GuestAgent = true
	v.Synced("kvm1", hosts.Inventory{Domains: []hosts.Domain{a, b}})
	libosinfo := osIndexOf(t, v, a.UUID)

	a.GuestOS = deb
	v.DomainUpdated("kvm1", a)
	b.GuestOS = deb
	b.GuestOS.KernelRelease = "6.1.0-58-amd64" // same OS, another kernel: same row
	v.DomainUpdated("kvm1", b)
	agent := osIndexOf(t, v, a.UUID)
	if agent == libosinfo || agent == 0 || osIndexOf(t, v, b.UUID) != agent {
		t.Fatalf("osIndex: libosinfo %d, agent a %d b %d", libosinfo, agent, osIndexOf(t, v, b.UUID))
	}
	want := map[string]any{"osName": "Debian GNU/Linux", "osVersion": "12", "osFamily": "linux",
		"osInfoId": "", "osSource": int(mib.OSGuestAgent)}
	for col, w := range want {
		if got := getValue(t, h, col, agent); got != w {
			t.Errorf("%s.%d = %v, want %v", col, agent, got, w)
		}
	}
	if got := getValue(t, h, "vmOsIndex", vmIDOfUUID(t, v, a.UUID)); got != agent {
		t.Errorf("vmOsIndex = %v, want %d", got, agent)
	}

	a.State, a.ID, a.GuestOS = hosts.StateShutoff, -1, hosts.GuestOS{}
	v.DomainUpdated("kvm1", a)
	if got := osIndexOf(t, v, a.UUID); got != libosinfo {
		t.Errorf("shut off: osIndex %d, want the libosinfo row %d", got, libosinfo)
	}
	if got := getValue(t, h, "osSource", libosinfo); got != int(mib.OSLibosinfo) {
		t.Errorf("osSource.%d = %v, want libosinfo(1)", libosinfo, got)
	}
	if got := getValue(t, h, "osSource", agent); got != int(mib.OSGuestAgent) {
		t.Errorf("osSource.%d = %v: the row went with a while b still runs that OS", agent, got)
	}
	key := view.OSRegKey(&b)
	if released(t, reg, registry.NSOS, key) {
		t.Errorf("os key %q released while b holds it", key)
	}

	// The guest writes its answer: one claiming b's ID and version under another name
	// gets a row of its own, and cannot rename b's.
	c := viewtest.Domain(3, hosts.StateRunning)
	c.GuestAgent, c.GuestOS = true, deb
	c.GuestOS.Name = "Not Debian"
	v.DomainUpdated("kvm1", c)
	if got := osIndexOf(t, v, c.UUID); got == agent {
		t.Errorf("c (another name) shares b's row %d", agent)
	}
	if got := getValue(t, h, "osName", agent); got != "Debian GNU/Linux" {
		t.Errorf("osName.%d = %v after c's answer", agent, got)
	}

	// Once no VM holds an agent's key, it is released (a guest rewriting its
	// os-release does not grow the registry forever).
	b.GuestOS.VersionID = "13"
	v.DomainUpdated("kvm1", b)
	if !released(t, reg, registry.NSOS, key) {
		t.Errorf("os key %q kept after its last VM moved to another", key)
	}
	if released(t, reg, registry.NSOS, view.OSRegKey(&b)) {
		t.Errorf("b's new os key released")
	}
}

func vmIDOfUUID(t *testing.T, v *view.View, u hosts.UUID) uint32 {
	t.Helper()
	r, ok := v.Read().VMByUUID("", u)
	if !ok {
		t.Fatalf("no VM %s", u)
	}
	return r.VMID
}

func osIndexOf(t *testing.T, v *view.View, u hosts.UUID) uint32 {
	t.Helper()
	return viewtest.FindVM(t, v.Read(), u.String(), func(r view.VMRow) bool { return r.Domain.UUID == u }).OSIndex
}

// getValue GETs one instance in the merged context and returns its value.
func getValue(t *testing.T, h *mib.Handler, name string, idx uint32) any {
	t.Helper()
	o, ok := mib.Lookup(name)
	if !ok {
		t.Fatalf("no object %q", name)
	}
	vb := h.Get(t.Context(), &snmp.Request{}, o.Append(idx))
	if vb.Type == gosnmp.NoSuchInstance || vb.Type == gosnmp.NoSuchObject {
		t.Fatalf("GET %s.%d: %v", name, idx, vb.Type)
	}
	switch x := vb.Value.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return vb.Value
}
