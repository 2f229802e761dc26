package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	storageTemplate  = vmObjects + ".13.2.0"
	storageIndexNext = vmObjects + ".14.0"
	diskImagesEntry  = vmObjects + ".7.1"
	storageEntry     = vmObjects + ".6.1"
	colDiskImagePath = 2
	colStorageImage  = 4
	colStorageRS     = 13
)

// TestControlTemplateDisk: with storageTemplate set, a VM created by vmRowStatus on a
// real QEMU host gets its own copy of the image (a qcow2 overlay in the image's pool,
// named after the VM) as its first disk, boots from that definition, and deleting the
// VM keeps the copy; the template image is never written.
func TestControlTemplateDisk(t *testing.T) {
	qc := startQemuControl(t, "vgdisk-", "qemu-disk")
	g, cred, poolDir, image, name := qc.g, qc.cred, qc.poolDir, qc.image, qc.vm
	before, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	var imgIdx uint32
	for _, r := range g.Walk(t, cred, inst(diskImagesEntry, colDiskImagePath)) {
		if strings.Trim(r.Value, `"`) == image {
			imgIdx = lastSub(t, r.OID)
		}
	}
	if imgIdx == 0 {
		t.Fatalf("image %s not in diskImagesTable", image)
	}
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(qc.tplIdx)), storageTemplate, "u", strconv.Itoa(int(imgIdx))))

	id := uint32(mustUint(t, getVal(t, g, cred, vmIndexNext)))
	mustSucceed(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "4", inst(vmEntry, colVmName, id), "s", name))
	if got := getVal(t, g, cred, inst(vmEntry, colVmState, id)); got != "2" {
		t.Fatalf("createAndGo: vmState %s, want running(2)", got)
	}
	blk, err := exec.Command("virsh", "-q", "-c", "qemu:///system", "domblklist", name).CombinedOutput()
	if err != nil {
		t.Fatalf("domblklist: %v\n%s", err, blk)
	}
	copyPath := filepath.Join(poolDir, name+".qcow2")
	if f := strings.Fields(string(blk)); len(f) != 2 || f[0] != "vda" || f[1] != copyPath {
		t.Fatalf("domblklist %q, want vda %s", blk, copyPath)
	}
	vol, err := exec.Command("virsh", "-c", "qemu:///system", "vol-dumpxml", copyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("vol-dumpxml: %v\n%s", err, vol)
	}
	for _, want := range []string{"<format type='qcow2'/>", "<path>" + image + "</path>"} {
		if !strings.Contains(string(vol), want) {
			t.Fatalf("the copy's volume XML lacks %s:\n%s", want, vol)
		}
	}

	mustSucceed(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "6"))
	if _, err := os.Stat(copyPath); err != nil {
		t.Fatalf("deleting the VM removed its disk copy: %v", err)
	}
	after, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatal("the template image was written")
	}
}

// TestControlUndoAttach: a PDU that attaches a disk image to a shut-off QEMU VM and
// starts it; the start fails at commit (the image file was removed behind the pool's
// back): the answer is commitFailed on the vmState varbind, and the disk is detached
// again. (Undoing a live attach needs the guest to release the device: a test guest
// without an OS never does.)
func TestControlUndoAttach(t *testing.T) {
	qc := startQemuControl(t, "vgundo-", "qemu-undo")
	g, cred := qc.g, qc.cred
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(qc.tplIdx))))
	id := createVM(t, g, cred, qc.vm)
	var imgIdx uint32
	for _, r := range g.Walk(t, cred, inst(diskImagesEntry, colDiskImagePath)) {
		if strings.Trim(r.Value, `"`) == qc.image {
			imgIdx = lastSub(t, r.OID)
		}
	}
	if imgIdx == 0 {
		t.Fatalf("image %s not in diskImagesTable", qc.image)
	}
	if err := os.Remove(qc.image); err != nil {
		t.Fatal(err)
	}
	si := uint32(mustUint(t, getVal(t, g, cred, storageIndexNext)))
	r := g.Set(t, cred, inst(storageEntry, colStorageRS, id, si), "i", "4",
		inst(storageEntry, colStorageImage, id, si), "u", strconv.Itoa(int(imgIdx)),
		inst(vmEntry, colVmState, id), "i", "2")
	mustFail(t, r)
	mustContain(t, r, "Reason: commitFailed")
	mustContain(t, r, "Failed object: "+inst(vmEntry, colVmState, id))
	mustContain(t, g.Run(t, "snmpget", cred, inst(storageEntry, colStorageRS, id, si)), "No Such Instance")
	blk, err := exec.Command("virsh", "-q", "-c", "qemu:///system", "domblklist", "--inactive", qc.vm).CombinedOutput()
	if err != nil {
		t.Fatalf("domblklist: %v\n%s", err, blk)
	}
	if strings.Contains(string(blk), qc.image) {
		t.Fatalf("the disk stayed attached:\n%s", blk)
	}
	if !strings.Contains(g.Logs(), "object=storageRowStatus."+strconv.Itoa(int(id))+"."+strconv.Itoa(int(si))) {
		t.Fatal("the attach was not logged")
	}
}

// qemuControl is a gateway on qemu:///system (host name = context) with a qemuPool set-up
// whose template (64 MiB, one vCPU, diskless; ACPI, which PCI hotplug needs) is found
// as tplIdx; vm is the name tests
// give the VM they create, removed when the test ends.
type qemuControl struct {
	qemuSetup
	g      *Gateway
	cred   Cred
	tplIdx uint32
	vm     string
}

func startQemuControl(t *testing.T, prefix, host string) qemuControl {
	t.Helper()
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING QEMU control test: %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING QEMU control test: qemu-system-x86_64 not installed")
	}
	prefix = randomName(t, prefix)
	qc := qemuControl{vm: prefix + "-vm", cred: admin.Cred(host)}
	qc.qemuSetup = qemuPool(t, prefix, `<domain type='qemu'>
  <name>`+prefix+`</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices></devices>
</domain>
`)
	t.Cleanup(func() {
		_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", qc.vm).Run()
		_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", qc.vm).Run()
	})
	qc.g = Start(t, binary(t), Config{
		Users:        []User{admin},
		TemplatesDir: qc.tplDir,
		Raw: map[string]any{"hosts": []map[string]any{{
			"name": host, "uri": "qemu:///system", "call_timeout": "60s", "stats_interval": "2s",
		}}},
	})
	waitConnected(t, qc.g, 120*time.Second)
	for _, r := range qc.g.Walk(t, qc.cred, inst(templateEntry, 2)) {
		if strings.Trim(r.Value, `"`) == prefix {
			qc.tplIdx = lastSub(t, r.OID)
		}
	}
	if qc.tplIdx == 0 {
		t.Fatal("template not listed")
	}
	return qc
}
