package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQemuStorageData: a qcow2 image outside any pool, attached to a shut-off QEMU
// domain, shows its capacity and allocation (virsh domblkinfo) in diskImagesTable and
// storageTable; a pool and a volume created with virsh while the gateway runs appear in
// diskImagesTable without a reconnect.
func TestQemuStorageData(t *testing.T) {
	bin := needQemu(t)
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("SKIPPING: no qemu-img: %v", err)
	}
	mibPath := mibDirs(t)
	host := "mibsto-" + randHex(t, 4)
	dir := imageDir(t)
	vm := defineVM(t, dir, host+"-vm", vmSpec{NICs: 1})
	img := filepath.Join(dir, "free.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	virsh(t, "attach-disk", vm.Name, img, "vda", "--subdriver", "qcow2", "--config")
	info := parseColon(virsh(t, "domblkinfo", vm.Name, "vda"))
	if info["Capacity"] != "67108864" || info["Allocation"] == "" || info["Allocation"] == "0" {
		t.Fatalf("virsh domblkinfo: %v", info)
	}

	cfg := qemuConfig(host)
	hostOptions(&cfg, map[string]map[string]any{
		host: {"call_timeout": "3m", "stats_interval": "1s", "storage_interval": "3s"},
	})
	g := Start(t, bin, cfg)
	cred := admin.Cred(host)
	pollUntil(t, qemuSyncTimeout, "image outside pools sized", func() string {
		imgs := readTable(t, g, mibPath, cred, "diskImagesTable")
		rows := imgs.byColumn("diskImagePath", img)
		if len(rows) != 1 {
			return fmt.Sprintf("%d rows with path %s", len(rows), img)
		}
		r := imgs[rows[0]]
		if r["diskImageCapacity"] != info["Capacity"] || r["diskImageAllocation"] != info["Allocation"] ||
			r["diskImageFormat"] != "qcow2" || r["diskImagePool"] != "" {
			return fmt.Sprintf("row %v, virsh domblkinfo %v", r, info)
		}
		vms := readTable(t, g, mibPath, cred, "virtualMachinesTable")
		id, err := vmIDOf(vms, vm.UUID)
		if err != nil {
			return err.Error()
		}
		for _, s := range readTable(t, g, mibPath, cred, "storageTable").subRows(id) {
			if s["storageCapacity"] != info["Capacity"] || s["storageAllocation"] != info["Allocation"] {
				return fmt.Sprintf("storage row %v, virsh domblkinfo %v", s, info)
			}
		}
		t.Logf("image outside pools served: %v", r)
		return ""
	})

	// A pool and a volume created now, with a client of its own.
	pool := host + "-pool"
	poolDir := filepath.Join(dir, "pool")
	if err := os.Mkdir(poolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = virshRun("pool-destroy", pool)
		_, _ = virshRun("pool-undefine", pool)
	})
	virsh(t, "pool-define-as", pool, "dir", "--target", poolDir)
	virsh(t, "pool-start", pool)
	// The first volume may come with the pool's re-read; the second is created in a
	// pool already served: only the periodic re-read (storage_interval) finds it.
	for _, name := range []string{"new.qcow2", "later.qcow2"} {
		virsh(t, "vol-create-as", pool, name, "2M", "--format", "qcow2")
		vol := filepath.Join(poolDir, name)
		pollUntil(t, qemuSyncTimeout, "volume "+name+" created after the connect served", func() string {
			imgs := readTable(t, g, mibPath, cred, "diskImagesTable")
			rows := imgs.byColumn("diskImagePath", vol)
			if len(rows) != 1 {
				return fmt.Sprintf("%d rows with path %s: %v", len(rows), vol, imgs)
			}
			r := imgs[rows[0]]
			if r["diskImagePool"] != pool || r["diskImageName"] != name || r["diskImageCapacity"] != "2097152" ||
				!strings.Contains(r["diskImageFormat"], "qcow2") {
				return fmt.Sprintf("row %v", r)
			}
			t.Logf("new volume served: %v", r)
			return ""
		})
	}
}
