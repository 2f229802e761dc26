package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/mib"
)

// virsh's words -> VM-MIB's numbers.
var (
	virshOper  = map[string]string{"running": "4", "paused": "8", "shut off": "11"}
	virshAdmin = map[string]string{"running": "1", "paused": "3", "shut off": "4"}
)

// TestQemuVMMIB compares VM-MIB's vmTable, vmCpuTable, vmCpuAffinityTable,
// vmStorageTable and vmNetworkTable with what virsh says about three real QEMU domains
// (running with vCPU 1 pinned, paused, shut off), read by name with snmptable in the
// host's context (v3 authPriv) and the merged one (v2c). Domains are named m11-*; run
// it under the shared lock (flock /run/lock/vmgate-shared-tests.lock).
func TestQemuVMMIB(t *testing.T) {
	bin, mibPath, host, dir := qemuStart(t, "m11")
	running, paused, off := defineThree(t, dir, host, func(vm qemuVM) {
		virsh(t, "vcpupin", vm.Name, "1", "0", "--config")
	})
	vms := []qemuVM{running, paused, off}

	g := Start(t, bin, qemuConfig(host))
	for _, c := range qemuContexts(host) {
		t.Run(c.name, func(t *testing.T) {
			waitUUIDs(t, g, mibPath, c.cred, running.UUID, paused.UUID, off.UUID)
			pollUntil(t, time.Minute, "VM-MIB tables match virsh", func() string {
				tables := map[string]mibTable{}
				for _, tb := range mib.StdTables() {
					tables[tb.Name] = readModuleTable(t, g, mibPath, c.cred, mib.StdModuleName, tb.Name)
				}
				var diffs []string
				for _, vm := range vms {
					diffs = append(diffs, compareStdVM(t, tables, vm)...)
				}
				return strings.Join(diffs, "\n")
			})
		})
	}
}

func compareStdVM(t *testing.T, tb map[string]mibTable, vm qemuVM) []string {
	t.Helper()
	id, err := vmIDOf(tb["vmTable"], vm.UUID)
	if err != nil {
		return []string{vm.Name + ": " + err.Error()}
	}
	var diffs []string
	diff := func(format string, a ...any) { diffs = append(diffs, vm.Name+": "+fmt.Sprintf(format, a...)) }
	info := parseColon(virsh(t, "dominfo", vm.Name))
	kib := func(s string) string { return strings.TrimSuffix(s, " KiB") }
	want := map[string]string{
		"vmName": info["Name"], "vmOperState": virshOper[info["State"]], "vmAdminState": virshAdmin[info["State"]],
		"vmCurCpuNumber": info["CPU(s)"], "vmMaxCpuNumber": "2", "vmMemUnit": "1024",
		"vmCurMem": kib(info["Used memory"]), "vmMaxMem": kib(info["Max memory"]),
		"vmAutoStart":  map[bool]string{true: "2", false: "3"}[info["Autostart"] == "enable"],
		"vmPersistent": map[bool]string{true: "2", false: "3"}[info["Persistent"] == "yes"],
		"vmOSType":     "hvm",
	}
	for col, w := range want {
		if got := tb["vmTable"][id][col]; got != w {
			diff("%s.%s = %q, virsh says %q", col, id, got, w)
		}
	}
	n, _ := strconv.Atoi(info["CPU(s)"])
	if rows := tb["vmCpuTable"].subRows(id); len(rows) != n {
		diff("%d vmCpuTable rows, virsh says %d vCPUs: %v", len(rows), n, rows)
	}
	diffs = append(diffs, compareStdAffinity(t, tb, id, vm, n)...)
	diffs = append(diffs, compareStdDisks(t, tb, id, vm)...)
	diffs = append(diffs, compareStdNICs(t, tb, id, vm)...)
	return diffs
}

// compareStdAffinity: one row per vCPU and host CPU, enable where virsh vcpupin
// --config lists the host CPU for the vCPU.
func compareStdAffinity(t *testing.T, tb map[string]mibTable, id string, vm qemuVM, vcpus int) []string {
	t.Helper()
	pcpus, _ := strconv.Atoi(parseColon(virsh(t, "nodeinfo"))["CPU(s)"])
	want := map[string]string{}
	for _, l := range strings.Split(virsh(t, "vcpupin", vm.Name, "--config"), "\n") {
		f := strings.Fields(l)
		v, err := strconv.Atoi(strings.TrimSuffix(firstOr(f), ":"))
		if len(f) != 2 || err != nil {
			continue
		}
		set := cpuList(t, f[1])
		for p := range pcpus {
			want[fmt.Sprintf("%d.%d", v+1, p+1)] = map[bool]string{true: "1", false: "2"}[slices.Contains(set, p)]
		}
	}
	got := map[string]string{}
	prefix := id + "."
	for idx, r := range tb["vmCpuAffinityTable"] {
		if strings.HasPrefix(idx, prefix) {
			got[strings.TrimPrefix(idx, prefix)] = r["vmCpuAffinity"]
		}
	}
	if len(want) != vcpus*pcpus || fmt.Sprint(got) != fmt.Sprint(want) {
		return []string{fmt.Sprintf("%s: vmCpuAffinity %v, virsh vcpupin --config says %v (%d host CPUs)", vm.Name, got, want, pcpus)}
	}
	return nil
}

func firstOr(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuList parses virsh's CPU list ("0-1,3").
func cpuList(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			t.Fatalf("virsh CPU list %q", s)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out
}

// compareStdDisks: one vmStorageTable row per domblklist row: its source, a raw file
// read-write on a hard disk over virtio, the size domblkinfo gives.
func compareStdDisks(t *testing.T, tb map[string]mibTable, id string, vm qemuVM) []string {
	t.Helper()
	blk := parseColumns(virsh(t, "domblklist", "--details", vm.Name))
	rows := tb["vmStorageTable"].subRows(id)
	if len(rows) != len(blk) {
		return []string{fmt.Sprintf("%s: %d vmStorageTable rows, virsh lists %d disks: %v", vm.Name, len(rows), len(blk), rows)}
	}
	var diffs []string
	for _, b := range blk {
		var r map[string]string
		for _, row := range rows {
			if row["vmStorageResourceID"] == b["Source"] {
				r = row
			}
		}
		if r == nil {
			diffs = append(diffs, fmt.Sprintf("%s: no vmStorageTable row with source %s: %v", vm.Name, b["Source"], rows))
			continue
		}
		capacity := parseColon(virsh(t, "domblkinfo", vm.Name, b["Target"]))["Capacity"]
		unit, _ := strconv.ParseUint(r["vmStorageSizeUnit"], 10, 64)
		size, _ := strconv.ParseUint(r["vmStorageDefinedSize"], 10, 64)
		if r["vmStorageSourceType"] != "4" || r["vmStorageSourceTypeString"] != "raw" || r["vmStorageAccess"] != "2" ||
			r["vmStorageMediaType"] != "3" || r["vmStorageMediaTypeString"] != "virtio" || r["vmStorageParent"] != "0" ||
			strconv.FormatUint(unit*size, 10) != capacity || r["vmStorageAllocatedSize"] != r["vmStorageDefinedSize"] {
			diffs = append(diffs, fmt.Sprintf("%s: storage row %v, virsh %v capacity %s", vm.Name, r, b, capacity))
		}
	}
	return diffs
}

// compareStdNICs: one vmNetworkTable row per domiflist row: its MAC and model, and no
// ifIndex (this agent has no ifTable).
func compareStdNICs(t *testing.T, tb map[string]mibTable, id string, vm qemuVM) []string {
	t.Helper()
	ifs := parseColumns(virsh(t, "domiflist", vm.Name))
	rows := tb["vmNetworkTable"].subRows(id)
	if len(rows) != len(ifs) {
		return []string{fmt.Sprintf("%s: %d vmNetworkTable rows, virsh lists %d NICs: %v", vm.Name, len(rows), len(ifs), rows)}
	}
	var diffs []string
	for _, nic := range ifs {
		var r map[string]string
		for _, row := range rows {
			if normMAC(row["vmNetworkPhysAddress"]) == nic["MAC"] {
				r = row
			}
		}
		if r == nil || r["vmNetworkModel"] != nic["Model"] || r["vmNetworkIfIndex"] != "0" || r["vmNetworkParent"] != "0" {
			diffs = append(diffs, fmt.Sprintf("%s: network row %v, virsh %v", vm.Name, r, nic))
		}
	}
	return diffs
}
