package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestAddressesAndHypervisorContexts serves two test-driver hosts, one with a libvirt
// network: networkAddressTable shows what virsh domifaddr says for the running domain,
// under the NIC of the same MAC; hypervisorTable shows every host in the merged context
// and only the context's own host in a host's context.
func TestAddressesAndHypervisorContexts(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	mibPath := mibDirs(t)
	addr, err := TestDriverHost("addr-"+randHex(t, 3), filepath.Join("testdata", "addr-node.xml"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := TestDriverHost("other-"+randHex(t, 3), filepath.Join("testdata", "node2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{SysName: "vmgate-viewdata", Communities: []Community{public}, Users: []User{admin},
		Hosts: []Host{addr, other}}
	hostOptions(&cfg, map[string]map[string]any{addr.Name: {"stats_interval": "1s"}})
	g := Start(t, bin, cfg)

	out, err := exec.Command("virsh", "-c", addr.URI, "domifaddr", "e2e-addr").CombinedOutput()
	if err != nil {
		t.Fatalf("virsh domifaddr: %v: %s", err, out)
	}
	want := map[string]string{} // MAC -> address/prefix
	for _, l := range strings.Split(string(out), "\n") {
		// "Name MAC address Protocol Address": the header's words do not align.
		if f := strings.Fields(l); len(f) == 4 && strings.Count(f[1], ":") == 5 {
			want[f[1]] = f[3]
		}
	}
	if len(want) != 2 {
		t.Fatalf("virsh domifaddr lists %d interfaces: %s", len(want), out)
	}
	cred := admin.Cred(addr.Name)
	pollUntil(t, 90*time.Second, "networkAddressTable as virsh domifaddr", func() string {
		nics := readTable(t, g, mibPath, cred, "networkTable")
		addrs := readTable(t, g, mibPath, cred, "networkAddressTable")
		got := map[string]string{}
		for idx, nic := range nics {
			for sub, a := range addrs {
				if strings.HasPrefix(sub, idx+".") {
					if got[normMAC(nic["networkMacAddress"])] != "" {
						return fmt.Sprintf("two addresses for NIC %s: %v", idx, addrs)
					}
					// The rest of the index is the address: ipv4."192.0.2.1" (-Oe leaves the
					// type of an index named).
					typ, ad, _ := strings.Cut(strings.TrimPrefix(sub, idx+"."), ".")
					got[normMAC(nic["networkMacAddress"])] = inetAddr(ad) + "/" + a["networkAddressPrefixLength"]
					if typ != "ipv4" || a["networkAddressSource"] == "" {
						return fmt.Sprintf("address row %s: %v", sub, a)
					}
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("served %v, virsh domifaddr %v", got, want)
		}
		return ""
	})

	for _, c := range []struct {
		cred Cred
		want []string
	}{
		{V2c("public"), []string{addr.Name, other.Name}},
		{admin.Cred(""), []string{addr.Name, other.Name}},
		{admin.Cred(addr.Name), []string{addr.Name}},
		{admin.Cred(other.Name), []string{other.Name}},
	} {
		var names []string
		for _, r := range readTable(t, g, mibPath, c.cred, "hypervisorTable") {
			names = append(names, r["hypervisorName"])
		}
		slices.Sort(names)
		slices.Sort(c.want)
		if !slices.Equal(names, c.want) {
			t.Errorf("hypervisorTable for %s lists %v, want %v", c.cred, names, c.want)
		}
	}
}

// inetAddr turns net-snmp's rendering of an IPv4 InetAddress (as an index: "192.168.122.3";
// as a value: "c0 a8 7a 03", or the
// dotted form with the INET-ADDRESS-MIB hint) into dotted form.
func inetAddr(s string) string {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	f := strings.Fields(s)
	if len(f) != 4 {
		return s
	}
	var b []byte
	for _, h := range f {
		n, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return s
		}
		b = append(b, byte(n))
	}
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
}
