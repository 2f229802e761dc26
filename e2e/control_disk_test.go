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
	diskImagesEntry  = vmObjects + ".7.1"
	colDiskImagePath = 2
)

// TestControlTemplateDisk: with storageTemplate set, a VM created by vmRowStatus on a
// real QEMU host gets its own copy of the image (a qcow2 overlay in the image's pool,
// named after the VM) as its first disk, boots from that definition, and deleting the
// VM keeps the copy; the template image is never written.
func TestControlTemplateDisk(t *testing.T) {
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING template disk test: %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING template disk test: qemu-system-x86_64 not installed")
	}
	prefix := randomName(t, "vgdisk-")
	q := qemuPool(t, prefix, `<domain type='qemu'>
  <name>`+prefix+`</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices></devices>
</domain>
`)
	tplDir, poolDir, image := q.tplDir, q.poolDir, q.image
	name := prefix + "-vm"
	t.Cleanup(func() {
		_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", name).Run()
		_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", name).Run()
	})
	before, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}

	cfg := Config{
		Users:        []User{admin},
		TemplatesDir: tplDir,
		Raw: map[string]any{"hosts": []map[string]any{{
			"name": "qemu-disk", "uri": "qemu:///system", "call_timeout": "60s", "stats_interval": "2s",
		}}},
	}
	g := Start(t, binary(t), cfg)
	waitConnected(t, g, 120*time.Second)
	cred := admin.Cred("qemu-disk")

	var imgIdx uint32
	for _, r := range g.Walk(t, cred, inst(diskImagesEntry, colDiskImagePath)) {
		if strings.Trim(r.Value, `"`) == image {
			imgIdx = lastSub(t, r.OID)
		}
	}
	if imgIdx == 0 {
		t.Fatalf("image %s not in diskImagesTable", image)
	}
	var tplIdx uint32
	for _, r := range g.Walk(t, cred, inst(templateEntry, 2)) {
		if strings.Trim(r.Value, `"`) == prefix {
			tplIdx = lastSub(t, r.OID)
		}
	}
	if tplIdx == 0 {
		t.Fatal("template not listed")
	}
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(tplIdx)), storageTemplate, "u", strconv.Itoa(int(imgIdx))))

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
