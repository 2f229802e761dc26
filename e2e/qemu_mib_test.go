package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/mib"
)

// virsh's words -> the MIB's numbers.
var (
	virshState = map[string]string{"running": "2", "idle": "3", "paused": "4", "in shutdown": "5",
		"shut off": "6", "crashed": "7", "pmsuspended": "8"}
	virshDevice  = map[string]string{"disk": "1", "cdrom": "2", "floppy": "3", "lun": "4"}
	virshNICType = map[string]string{"bridge": "2", "network": "3", "direct": "4", "user": "5"}
	virshVCPU    = map[string]string{"offline": "1", "running": "2", "blocked": "3"}
)

// TestQemuMIB compares the gateway's tables with what virsh says about three real QEMU
// domains (running, paused, shut off; disks, user-mode NICs, 2 vCPUs), read by MIB name
// with snmptable and snmpget in the host's context over SNMPv3 authPriv and in the
// merged context over v2c; then it changes the running one's state with virsh and waits
// for vmState to follow.
func TestQemuMIB(t *testing.T) {
	bin, mibPath, host, dir := qemuStart(t, "mibchk")
	running, paused, off := defineThree(t, dir, host, nil)
	vms := []qemuVM{running, paused, off}

	g := Start(t, bin, qemuConfig(host))
	contexts := qemuContexts(host)
	ids := map[string]map[string]string{} // context -> UUID -> vmId
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			waitUUIDs(t, g, mibPath, c.cred, running.UUID, paused.UUID, off.UUID)
			// Events may still be on their way: poll until the tables agree with virsh.
			pollUntil(t, time.Minute, "tables match virsh", func() string {
				return compareWithVirsh(t, g, mibPath, c.cred, host, vms)
			})
			all := readTable(t, g, mibPath, c.cred, "virtualMachinesTable")
			ids[c.name] = map[string]string{}
			for _, vm := range vms {
				ids[c.name][vm.UUID], _ = vmIDOf(all, vm.UUID)
			}
		})
	}
	if t.Failed() {
		return
	}
	for _, vm := range vms {
		if a, b := ids[contexts[0].name][vm.UUID], ids[contexts[1].name][vm.UUID]; a != b {
			t.Errorf("%s: vmId %s in its host's context but %s in the merged one", vm.Name, a, b)
		}
	}

	t.Run("snmpget by name", func(t *testing.T) {
		id := ids[contexts[0].name][running.UUID]
		info := parseColon(virsh(t, "dominfo", running.Name))
		r := getByName(t, g, mibPath, admin.Cred(host), "vmName."+id, "vmUUID."+id, "vmVcpus."+id, "vmHost."+id)
		mustSucceed(t, r)
		got := r.Vars()
		want := []string{info["Name"], info["UUID"], info["CPU(s)"], host}
		if len(got) != len(want) {
			t.Fatalf("want %d varbinds: %s", len(want), r)
		}
		got[1].Value = vmUUIDHex(t, g, admin.Cred(host), id)
		for i, w := range want {
			if got[i].Value != w {
				t.Errorf("%s = %q, virsh says %q", got[i].OID, got[i].Value, w)
			}
		}
	})

	// QEMU suspends to RAM through the guest agent: a domain without its channel is
	// refused in the test phase (inconsistentValue), and nothing changes.
	t.Run("pmsuspended without guest agent", func(t *testing.T) {
		id := ids[contexts[0].name][running.UUID]
		r := g.Set(t, admin.Cred(host), inst(vmEntry, colVmState, mustVMID(t, id)), "i", "8")
		mustFail(t, r)
		mustContain(t, r, "Reason: inconsistentValue")
		if st := parseColon(virsh(t, "dominfo", running.Name))["State"]; st != "running" {
			t.Errorf("virsh dominfo: state %q after the refused SET", st)
		}
	})

	// QEMU cannot unplug a vCPU the domain booted with: the SET is refused in its test
	// phase (inconsistentValue), not left to fail in libvirt, and nothing changes.
	t.Run("unplug a boot vCPU", func(t *testing.T) {
		id := ids[contexts[0].name][running.UUID]
		r := g.Set(t, admin.Cred(host), inst(cpuEntry, colCpuRowStatus, mustVMID(t, id), 2), "i", "6")
		mustFail(t, r)
		mustContain(t, r, "Reason: inconsistentValue")
		if got := strings.TrimSpace(virsh(t, "vcpucount", running.Name, "--live", "--active")); got != "2" {
			t.Errorf("virsh vcpucount --live --active = %q, want 2", got)
		}
	})

	t.Run("state changes", func(t *testing.T) {
		id := ids[contexts[0].name][running.UUID]
		steps := []struct{ cmd, virshState, mib string }{
			{"suspend", "paused", "4"},
			{"resume", "running", "2"},
			{"destroy", "shut off", "6"},
			{"start", "running", "2"},
		}
		for _, s := range steps {
			virsh(t, s.cmd, running.Name)
			if st := parseColon(virsh(t, "dominfo", running.Name))["State"]; st != s.virshState {
				t.Fatalf("after virsh %s: virsh says %q, want %q", s.cmd, st, s.virshState)
			}
			for _, c := range contexts {
				pollUntil(t, time.Minute, fmt.Sprintf("vmState.%s after virsh %s (%s)", id, s.cmd, c.name), func() string {
					r := getByName(t, g, mibPath, c.cred, "vmState."+id)
					if r.Err != nil || len(r.Vars()) != 1 {
						return r.String()
					}
					if v := r.Vars()[0].Value; v != s.mib {
						return "vmState " + v
					}
					return ""
				})
			}
		}
	})
}

// defineThree defines the three domains of the QEMU MIB tests, host-run (2 disks, a
// NIC), host-pause (a disk, 2 NICs) and host-off (a disk, a NIC, autostart), calls
// prepare (may be nil) with host-run's definition, then starts host-run and starts and
// suspends host-pause.
func defineThree(t *testing.T, dir, host string, prepare func(qemuVM)) (running, paused, off qemuVM) {
	t.Helper()
	running = defineVM(t, dir, host+"-run", vmSpec{Disks: 2, NICs: 1})
	paused = defineVM(t, dir, host+"-pause", vmSpec{Disks: 1, NICs: 2})
	off = defineVM(t, dir, host+"-off", vmSpec{Disks: 1, NICs: 1})
	if prepare != nil {
		prepare(running)
	}
	virsh(t, "start", running.Name)
	virsh(t, "start", paused.Name)
	virsh(t, "suspend", paused.Name)
	virsh(t, "autostart", off.Name)
	return running, paused, off
}

// qemuContexts are the two ways the QEMU MIB tests read: the host's context over v3
// authPriv, the merged one over v2c.
func qemuContexts(host string) []struct {
	name string
	cred Cred
} {
	return []struct {
		name string
		cred Cred
	}{
		{"v3 authPriv host context", admin.Cred(host)},
		{"v2c merged context", V2c("public")},
	}
}

// compareWithVirsh reads the per-VM tables once and returns every difference from
// virsh's dominfo, domblklist --details, domiflist and vcpuinfo ("" when none).
func compareWithVirsh(t *testing.T, g *Gateway, mibPath string, cred Cred, host string, vms []qemuVM) string {
	t.Helper()
	tables := map[string]mibTable{}
	for _, name := range []string{"virtualMachinesTable", "memoryTable", "cpuTable", "storageTable",
		"diskImagesTable", "networkTable"} {
		tables[name] = readTable(t, g, mibPath, cred, name)
	}
	var diffs []string
	for _, vm := range vms {
		diffs = append(diffs, compareVM(t, tables, host, vm)...)
	}
	return strings.Join(diffs, "\n")
}

func compareVM(t *testing.T, tb map[string]mibTable, host string, vm qemuVM) []string {
	t.Helper()
	var diffs []string
	diff := func(format string, a ...any) { diffs = append(diffs, vm.Name+": "+fmt.Sprintf(format, a...)) }
	id, err := vmIDOf(tb["virtualMachinesTable"], vm.UUID)
	if err != nil {
		return []string{vm.Name + ": " + err.Error()}
	}
	row := tb["virtualMachinesTable"][id]
	info := parseColon(virsh(t, "dominfo", vm.Name))
	kib := func(s string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(s, " KiB"))
		return n
	}
	truth := func(b bool) string { return map[bool]string{true: "1", false: "2"}[b] }
	want := map[string]string{
		"vmName":       info["Name"],
		"vmUUID":       info["UUID"],
		"vmState":      virshState[info["State"]],
		"vmVcpus":      info["CPU(s)"],
		"vmMemoryMb":   strconv.Itoa(kib(info["Used memory"]) / 1024),
		"vmAutostart":  truth(info["Autostart"] == "enable"),
		"vmPersistent": truth(info["Persistent"] == "yes"),
		"vmHost":       host,
		"vmConfFile":   "/etc/libvirt/qemu/" + vm.Name + ".xml",
		"vmRowStatus":  "1",
	}
	if info["State"] == "shut off" {
		// libvirt reports libvirtd's own CPU time for an inactive domain.
		want["vmCpuMilliseconds"] = "0"
	}
	for col, w := range want {
		if row[col] != w {
			diff("%s.%s = %q, virsh says %q", col, id, row[col], w)
		}
	}
	mem := tb["memoryTable"][id]
	if mem["memoryMaxKB"] != strconv.Itoa(kib(info["Max memory"])) || mem["memoryTotalMb"] != want["vmMemoryMb"] {
		diff("memoryTable row %s = %v, virsh max %s used %s", id, mem, info["Max memory"], info["Used memory"])
	}
	diffs = append(diffs, compareDisks(t, tb, id, vm)...)
	diffs = append(diffs, compareNICs(t, tb, id, vm)...)
	diffs = append(diffs, compareCPUs(t, tb, id, vm)...)
	return diffs
}

// compareDisks: one storageTable row per domblklist row, same target and device, and
// its diskImagesTable row has the source path.
func compareDisks(t *testing.T, tb map[string]mibTable, id string, vm qemuVM) []string {
	t.Helper()
	var diffs []string
	blk := parseColumns(virsh(t, "domblklist", "--details", vm.Name))
	rows := tb["storageTable"].subRows(id)
	if len(rows) != len(blk) || len(blk) != len(vm.Disks) {
		return []string{fmt.Sprintf("%s: %d storageTable rows, virsh lists %d disks, defined %d: %v", vm.Name, len(rows), len(blk), len(vm.Disks), rows)}
	}
	for _, b := range blk {
		var found map[string]string
		for _, r := range rows {
			if r["storageTargetDevice"] == b["Target"] {
				found = r
			}
		}
		if found == nil {
			diffs = append(diffs, fmt.Sprintf("%s: no storageTable row for target %s: %v", vm.Name, b["Target"], rows))
			continue
		}
		if found["storageDevice"] != virshDevice[b["Device"]] || found["storageVmUUID"] != vm.UUID || found["storageBus"] != "virtio" {
			diffs = append(diffs, fmt.Sprintf("%s: storage row %v, virsh %v", vm.Name, found, b))
		}
		img := tb["diskImagesTable"][found["storageDiskImageIndex"]]
		if img["diskImagePath"] != b["Source"] {
			diffs = append(diffs, fmt.Sprintf("%s: %s: storageDiskImageIndex %s -> diskImagePath %q, virsh source %q",
				vm.Name, b["Target"], found["storageDiskImageIndex"], img["diskImagePath"], b["Source"]))
		}
	}
	return diffs
}

// compareNICs: one networkTable row per domiflist row, same MAC, model, source.
func compareNICs(t *testing.T, tb map[string]mibTable, id string, vm qemuVM) []string {
	t.Helper()
	var diffs []string
	ifs := parseColumns(virsh(t, "domiflist", vm.Name))
	rows := tb["networkTable"].subRows(id)
	if len(rows) != len(ifs) || len(ifs) != len(vm.MACs) {
		return []string{fmt.Sprintf("%s: %d networkTable rows, virsh lists %d NICs, defined %d: %v", vm.Name, len(rows), len(ifs), len(vm.MACs), rows)}
	}
	for _, nic := range ifs {
		var found map[string]string
		for _, r := range rows {
			if normMAC(r["networkMacAddress"]) == nic["MAC"] {
				found = r
			}
		}
		src := nic["Source"]
		if src == "-" {
			src = ""
		}
		switch {
		case found == nil:
			diffs = append(diffs, fmt.Sprintf("%s: no networkTable row with MAC %s: %v", vm.Name, nic["MAC"], rows))
		case found["networkModel"] != nic["Model"] || found["networkSourceType"] != virshNICType[nic["Type"]] ||
			found["networkSource"] != src || found["networkVmUUID"] != vm.UUID:
			diffs = append(diffs, fmt.Sprintf("%s: network row %v, virsh %v", vm.Name, found, nic))
		}
	}
	return diffs
}

// compareCPUs: one cpuTable row per vCPU of vcpuinfo, state as virsh says where it
// knows it.
func compareCPUs(t *testing.T, tb map[string]mibTable, id string, vm qemuVM) []string {
	t.Helper()
	out := virsh(t, "vcpuinfo", vm.Name)
	rows := tb["cpuTable"].subRows(id)
	if n := vcpuCount(out); len(rows) != n {
		return []string{fmt.Sprintf("%s: %d cpuTable rows, virsh vcpuinfo lists %d: %v", vm.Name, len(rows), n, rows)}
	}
	var diffs []string
	for i, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		st, known := virshVCPU[parseColon(block)["State"]]
		r := rows[strconv.Itoa(i+1)]
		if r == nil {
			diffs = append(diffs, fmt.Sprintf("%s: no cpuTable row %s.%d", vm.Name, id, i+1))
			continue
		}
		if known && r["cpuState"] != st {
			diffs = append(diffs, fmt.Sprintf("%s: cpuState.%s.%d = %q, virsh says %s", vm.Name, id, i+1, r["cpuState"], st))
		}
		if r["cpuVmUUID"] != vm.UUID {
			diffs = append(diffs, fmt.Sprintf("%s: cpuVmUUID.%s.%d = %q", vm.Name, id, i+1, r["cpuVmUUID"]))
		}
	}
	return diffs
}

// vmUUIDHex reads vmUUID.id numerically: its exact octets, as a dashed UUID.
func vmUUIDHex(t *testing.T, g *Gateway, cred Cred, id string) string {
	t.Helper()
	col, _ := mib.Lookup("vmUUID")
	return hexUUID(g.Get(t, cred, col.String()+"."+id)[0].Hex())
}

// mustVMID parses a vmId read from a table.
func mustVMID(t *testing.T, id string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		t.Fatalf("vmId %q: %v", id, err)
	}
	return uint32(n)
}
