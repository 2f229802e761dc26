package e2e

import (
	"testing"
)

// TestSetIndexNextAfterUndoneCreate: a creation with vmId 2147483647 that is undone
// (the PDU's second varbind fails on the hypervisor) leaves vmIndexNext as it was, also
// after a restart (issue 10, finding 6: it answered noSuchInstance for good).
func TestSetIndexNextAfterUndoneCreate(t *testing.T) {
	g, _ := controlGateway(t)
	cred := admin.Cred(hostCtx)
	running, ok := vmIDByName(t, g, hostCtx, "e2e-vm-1")
	if !ok {
		t.Fatal("fixture VM e2e-vm-1 not listed")
	}
	before := getVal(t, g, cred, vmIndexNext)
	const top = 2147483647
	// pmsuspended(8) of the running test-driver VM fails at commit: the creation is undone.
	r := g.Set(t, cred, inst(vmEntry, colVmRowStatus, top), "i", "5",
		inst(vmEntry, colVmName, top), "s", randomName(t, "ctl-top-"),
		inst(vmEntry, colVmState, running), "i", "8")
	mustFail(t, r)
	mustContain(t, r, "Reason: commitFailed")
	mustContain(t, g.Run(t, "snmpget", cred, inst(vmEntry, colVmName, top)), "No Such Instance")
	if got := getVal(t, g, cred, vmIndexNext); got != before {
		t.Fatalf("vmIndexNext %s after an undone creation, was %s", got, before)
	}
	g.Stop(t)
	g.Start(t)
	if got := getVal(t, g, cred, vmIndexNext); got != before {
		t.Fatalf("vmIndexNext %s after a restart, was %s", got, before)
	}
	if n := mustUint(t, before); n == 0 || n >= top {
		t.Fatalf("vmIndexNext %d", n)
	}
}
