package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestControlSetRetried: net-snmp retries a SET that is not answered within its timeout
// (here 0.1 s, while starting a real QEMU VM takes longer) with the same request-id.
// The retries get the first answer instead of running again: the createAndGo succeeds
// for the manager (a second run would answer inconsistentValue, "vmId exists") and
// defines one VM.
func TestControlSetRetried(t *testing.T) {
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING retry test: %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING retry test: qemu-system-x86_64 not installed")
	}
	prefix := randomName(t, "vgretry-")
	q := qemuPool(t, prefix, `<domain type='qemu'>
  <name>`+prefix+`</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices></devices>
</domain>
`)
	name := prefix + "-vm"
	t.Cleanup(func() {
		_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", name).Run()
		_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", name).Run()
	})
	cfg := Config{
		Users:        []User{admin},
		TemplatesDir: q.tplDir,
		Raw: map[string]any{"hosts": []map[string]any{{
			"name": "qemu-retry", "uri": "qemu:///system", "call_timeout": "60s",
		}}},
	}
	g := Start(t, binary(t), cfg)
	waitConnected(t, g, 120*time.Second)
	cred := admin.Cred("qemu-retry")
	var tplIdx uint32
	for _, r := range g.Walk(t, cred, inst(templateEntry, 2)) {
		if strings.Trim(r.Value, `"`) == prefix {
			tplIdx = lastSub(t, r.OID)
		}
	}
	if tplIdx == 0 {
		t.Fatal("template not listed")
	}
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(tplIdx))))

	id := uint32(mustUint(t, getVal(t, g, cred, vmIndexNext)))
	r := g.Run(t, "snmpset", cred, "-t", "0.1", "-r", "20",
		inst(vmEntry, colVmRowStatus, id), "i", "4", inst(vmEntry, colVmName, id), "s", name)
	mustSucceed(t, r)
	if got := getVal(t, g, cred, inst(vmEntry, colVmState, id)); got != "2" {
		t.Fatalf("vmState %s, want running(2)", got)
	}
	out, err := exec.Command("virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), prefix); n != 1 {
		t.Fatalf("%d domains named %s*, want 1:\n%s", n, prefix, out)
	}
	t.Logf("retries answered from the first run: %d", strings.Count(g.Logs(), "snmp set repeated"))
}
