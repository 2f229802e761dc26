package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestControlSetRetried: net-snmp retries a SET that is not answered within its timeout
// (here 0.1 s, while starting a real QEMU VM takes longer) with the same request-id.
// Retries during the run go unanswered, the first one after it gets the first run's
// answer instead of running again: the createAndGo succeeds for the manager (a second
// run would answer inconsistentValue, "vmId exists") and defines one VM. The 100
// retries give it 10 s.
func TestControlSetRetried(t *testing.T) {
	qc := startQemuControl(t, "vgretry-", "qemu-retry")
	g, cred, name := qc.g, qc.cred, qc.vm
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(qc.tplIdx))))

	id := uint32(mustUint(t, getVal(t, g, cred, vmIndexNext)))
	r := g.Run(t, "snmpset", cred, "-t", "0.1", "-r", "100",
		inst(vmEntry, colVmRowStatus, id), "i", "4", inst(vmEntry, colVmName, id), "s", name)
	mustSucceed(t, r)
	if got := getVal(t, g, cred, inst(vmEntry, colVmState, id)); got != "2" {
		t.Fatalf("vmState %s, want running(2)", got)
	}
	out, err := exec.Command("virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), name); n != 1 {
		t.Fatalf("%d domains named %s, want 1:\n%s", n, name, out)
	}
	t.Logf("retries dropped during the run: %d, answered from it: %d",
		strings.Count(g.Logs(), "snmp set repeated while the first still runs"),
		strings.Count(g.Logs(), "snmp set repeated: answered as the first time"))
}
