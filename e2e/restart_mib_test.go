package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// indexMap names every index a test VM has: "vm NAME" -> vmId, "disk NAME vda" ->
// vmId.storageIndex, "nic NAME MAC" -> vmId.networkIndex, "image PATH" ->
// diskImageIndex.
type indexMap map[string]string

// readIndexes polls until every VM of vms has its rows (disks, NICs, images) in cred's
// context and returns their indexes.
func readIndexes(t *testing.T, g *Gateway, mibPath string, cred Cred, vms ...qemuVM) indexMap {
	t.Helper()
	var m indexMap
	pollUntil(t, qemuSyncTimeout, "indexes of the test VMs", func() string {
		m = indexMap{}
		all := readTable(t, g, mibPath, cred, "virtualMachinesTable")
		storage := readTable(t, g, mibPath, cred, "storageTable")
		network := readTable(t, g, mibPath, cred, "networkTable")
		images := readTable(t, g, mibPath, cred, "diskImagesTable")
		for _, vm := range vms {
			id, err := vmIDOf(all, vm.UUID)
			if err != nil {
				return fmt.Sprintf("%v; served: %v", err, all)
			}
			m["vm "+vm.Name] = id
			for sub, r := range storage.subRows(id) {
				m["disk "+vm.Name+" "+r["storageTargetDevice"]] = id + "." + sub
			}
			for sub, r := range network.subRows(id) {
				m["nic "+vm.Name+" "+normMAC(r["networkMacAddress"])] = id + "." + sub
			}
			for _, p := range vm.Disks {
				idx := images.byColumn("diskImagePath", p)
				if len(idx) != 1 {
					return fmt.Sprintf("image %s in %d diskImagesTable rows", p, len(idx))
				}
				m["image "+p] = idx[0]
			}
		}
		if want := countIndexes(vms); len(m) != want {
			return fmt.Sprintf("%d indexes, want %d: %v", len(m), want, m)
		}
		return ""
	})
	return m
}

func countIndexes(vms []qemuVM) int {
	n := 0
	for _, vm := range vms {
		n += 1 + 2*len(vm.Disks) + len(vm.MACs)
	}
	return n
}

// TestQemuRestartKeepsIndexes restarts vmgate with the same state_dir: every vmId,
// storage and network sub-index and diskImageIndex of the test's QEMU domains stays the
// same. A domain undefined and a new one defined: the new one gets a vmId no other VM
// ever had, and keeps it over the next restart.
func TestQemuRestartKeepsIndexes(t *testing.T) {
	bin, mibPath, host, dir := qemuStart(t, "mibrst")
	a := defineVM(t, dir, host+"-a", vmSpec{Disks: 2, NICs: 2})
	b := defineVM(t, dir, host+"-b", vmSpec{Disks: 1, NICs: 1})
	g := Start(t, bin, qemuConfig(host))
	cred := admin.Cred(host)

	before := readIndexes(t, g, mibPath, cred, a, b)
	g.Stop(t)
	g.Start(t)
	after := readIndexes(t, g, mibPath, cred, a, b)
	if !maps.Equal(before, after) {
		t.Fatalf("indexes changed over a restart:\nbefore %v\nafter  %v", before, after)
	}

	removeVM(b.Name)
	c := defineVM(t, dir, host+"-c", vmSpec{Disks: 1, NICs: 1})
	var idC string
	pollUntil(t, qemuSyncTimeout, "new VM served, undefined one gone", func() string {
		vms := readTable(t, g, mibPath, cred, "virtualMachinesTable")
		if _, err := vmIDOf(vms, b.UUID); err == nil {
			return b.Name + " still served"
		}
		var err error
		if idC, err = vmIDOf(vms, c.UUID); err != nil {
			hv := readTable(t, g, mibPath, cred, "hypervisorTable")
			return fmt.Sprintf("%v; served: %v; hypervisorTable: %v", err, vms, hv)
		}
		return ""
	})
	for k, id := range before {
		if strings.HasPrefix(k, "vm ") && id == idC {
			t.Fatalf("new VM %s got vmId %s, which %s had", c.Name, idC, k)
		}
	}
	g.Stop(t)
	g.Start(t)
	again := readIndexes(t, g, mibPath, cred, a, c)
	if again["vm "+c.Name] != idC || again["vm "+a.Name] != before["vm "+a.Name] {
		t.Fatalf("vmIds changed over the second restart: %s %s -> %s, %s %s -> %s",
			c.Name, idC, again["vm "+c.Name], a.Name, before["vm "+a.Name], again["vm "+a.Name])
	}
	if again["vm "+c.Name] == before["vm "+b.Name] {
		t.Fatalf("vmId %s of the undefined %s reused by %s", before["vm "+b.Name], b.Name, c.Name)
	}
}

// TestHostDownStale takes a host away (a test-driver host reached over TCP through a
// proxy the test stops): its VM stays listed with vmState unknown(9) and no current
// counters, in its context and the merged one, while the other host's VM stays fresh;
// when the proxy comes back, the same row is fresh again.
func TestHostDownStale(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	mibPath := mibDirs(t)
	proxy := startProxy(t, LibvirtSocket)
	node2, err := filepath.Abs(filepath.Join("testdata", "node2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	suffix := randHex(t, 4)
	down := Host{Name: "mibdown-" + suffix, URI: fmt.Sprintf("test+tcp://127.0.0.1:%d%s", proxy.Port, node2)}
	up, err := TestDriverHost("mibup-"+suffix, filepath.Join("testdata", "node.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Communities: []Community{public}, Users: []User{admin}, Hosts: []Host{down, up}}
	fast := map[string]any{"connect_timeout": "3s", "keepalive_interval": "1s", "keepalive_timeout": "3s",
		"backoff_max": "1s", "stats_interval": "1s"}
	hostOptions(&cfg, map[string]map[string]any{down.Name: fast, up.Name: fast})
	g := Start(t, bin, cfg)

	const downVM, upVM = "e2e-vm-2", "e2e-vm-1"
	contexts := []Cred{admin.Cred(down.Name), V2c("public")}
	// state returns vmState, vmCpuMilliseconds (or the exception) and the VM's vmId.
	state := func(t *testing.T, cred Cred, name string) (st, cpu, id string) {
		t.Helper()
		vms := readTable(t, g, mibPath, cred, "virtualMachinesTable")
		ids := vms.byColumn("vmName", name)
		if len(ids) != 1 {
			return "", "", ""
		}
		id = ids[0]
		r := getByName(t, g, mibPath, cred, "vmState."+id, "vmCpuMilliseconds."+id)
		if r.Err != nil || len(r.Vars()) != 2 {
			t.Fatalf("snmpget: %s", r)
		}
		return r.Vars()[0].Value, r.Vars()[1].Type + ":" + r.Vars()[1].Value, id
	}
	wait := func(t *testing.T, what, wantState string, counters bool) map[string]string {
		t.Helper()
		ids := map[string]string{}
		for _, c := range contexts {
			pollUntil(t, time.Minute, what+" for "+c.String(), func() string {
				st, cpu, id := state(t, c, downVM)
				ids[c.String()] = id
				switch {
				case id == "":
					return downVM + " not served"
				case st != wantState:
					return "vmState " + st
				case counters != strings.HasPrefix(cpu, "Counter64:"):
					return "vmCpuMilliseconds " + cpu
				}
				return ""
			})
		}
		return ids
	}
	connState := func(t *testing.T, want string) {
		t.Helper()
		pollUntil(t, time.Minute, "hypervisorConnState "+want, func() string {
			hv := readTable(t, g, mibPath, V2c("public"), "hypervisorTable")
			idx := hv.byColumn("hypervisorName", down.Name)
			if len(idx) != 1 {
				return "no hypervisorTable row for " + down.Name
			}
			if s := hv[idx[0]]["hypervisorConnState"]; s != want {
				return "hypervisorConnState " + s
			}
			return ""
		})
	}

	fresh := wait(t, "running with counters", "2", true)
	connState(t, "1")

	proxy.Stop()
	connState(t, "3")
	stale := wait(t, "unknown without counters", "9", false)
	if !maps.Equal(fresh, stale) {
		t.Errorf("vmIds changed while the host was down: %v -> %v", fresh, stale)
	}
	t.Run("other host stays fresh", func(t *testing.T) {
		for _, c := range []Cred{admin.Cred(up.Name), V2c("public")} {
			if st, cpu, _ := state(t, c, upVM); st != "2" || !strings.HasPrefix(cpu, "Counter64:") {
				t.Errorf("%s: %s has vmState %q, vmCpuMilliseconds %q while another host is down", c, upVM, st, cpu)
			}
		}
	})
	t.Run("walks stay clean", func(t *testing.T) {
		for _, c := range []Cred{admin.Cred(down.Name), V2c("public")} {
			checkWholeWalk(t, g, c)
		}
	})

	proxy.Start(t)
	connState(t, "1")
	back := wait(t, "running with counters again", "2", true)
	if !maps.Equal(fresh, back) {
		t.Errorf("vmIds changed over the reconnection: %v -> %v", fresh, back)
	}
}
