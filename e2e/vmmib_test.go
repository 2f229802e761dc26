package e2e

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vmgate/vmgate/mib"
)

// VM-MIB (RFC 7666), served beside VIRTUAL-MACHINES-MIB from the same view. net-snmp
// loads it by name from the standard modules' directory (VM-MIB.txt is not the
// project's: mibDirs finds it with the others).

func init() {
	for _, c := range []string{"vmUpTime", "vmCpuTime", "vmCpuCoreTime", "vmStorageSizeUnit",
		"vmStorageDefinedSize", "vmStorageAllocatedSize", "vmStorageReadIOs", "vmStorageWriteIOs",
		"vmStorageReadOctets", "vmStorageWriteOctets", "vmStorageReadLatency", "vmStorageWriteLatency"} {
		volatile[c] = true
	}
}

// vmStateOper is vmState (VIRTUAL-MACHINES-MIB) -> vmOperState (VM-MIB) for the states
// a test-driver or an idle QEMU domain shows (no migration, save or start-up reason).
var vmStateOper = map[string]string{
	"2": "4", "3": "4", "4": "8", "5": "10", "6": "11", "7": "12", "8": "6", "9": "1",
}

// mibContexts are the contexts of the MIB tests with a principal of each.
func mibContexts() []struct {
	dir  string
	cred Cred
} {
	return []struct {
		dir  string
		cred Cred
	}{
		{"merged", V2c("public")},
		{mibHostA, admin.Cred(mibHostA)},
		{mibHostB, admin.Cred(mibHostB)},
	}
}

// TestVMMIBGolden reads VM-MIB's tables with snmptable, by name, in every context and
// compares them with testdata/vm-mib/<context>/<table>.txt (regenerate with
// go test ./e2e -run TestVMMIBGolden -update).
func TestVMMIBGolden(t *testing.T) {
	if _, err := os.Stat("/usr/bin/snmptable"); err != nil {
		t.Skip("SKIPPING: snmptable (net-snmp) not installed")
	}
	mibPath := mibDirs(t)
	g := startMIBGateway(t)
	checkGoldens(t, g, mibPath, mib.StdModuleName, mib.StdTables(), "vm-mib")
}

// TestVMMIBAgreesWithModule is issue 11's acceptance: in every context, VM-MIB's vmTable
// lists the same VMs, under the same numbers, names and UUIDs, in the corresponding
// states, as virtualMachinesTable; vmNumber counts them; the hypervisor group says
// what the context is.
func TestVMMIBAgreesWithModule(t *testing.T) {
	mibPath := mibDirs(t)
	g := startMIBGateway(t)
	for _, c := range mibContexts() {
		t.Run(c.dir, func(t *testing.T) {
			own := readTable(t, g, mibPath, c.cred, "virtualMachinesTable")
			std := readModuleTable(t, g, mibPath, c.cred, mib.StdModuleName, "vmTable")
			if got, want := sortedKeys(std), sortedKeys(own); !slices.Equal(got, want) {
				t.Fatalf("vmTable indexes %v, virtualMachinesTable vmIds %v", got, want)
			}
			for id, o := range own {
				s := std[id]
				if s["vmName"] != o["vmName"] || s["vmUUID"] != o["vmUUID"] {
					t.Errorf("vm %s: VM-MIB says %q %s, the module %q %s", id, s["vmName"], s["vmUUID"], o["vmName"], o["vmUUID"])
				}
				if want := vmStateOper[o["vmState"]]; s["vmOperState"] != want {
					t.Errorf("vm %s: vmOperState %s for vmState %s, want %s", id, s["vmOperState"], o["vmState"], want)
				}
				if s["vmCurCpuNumber"] != o["vmVcpus"] || s["vmMaxCpuNumber"] != o["vmVcpusMax"] {
					t.Errorf("vm %s: vCPUs %s/%s, the module %s/%s", id, s["vmCurCpuNumber"], s["vmMaxCpuNumber"],
						o["vmVcpus"], o["vmVcpusMax"])
				}
			}
			sc := stdGet(t, g, mibPath, c.cred, "vmNumber.0", "vmHvSoftware.0", "vmHvObjectID.0")
			if sc[0] != strconv.Itoa(len(own)) {
				t.Errorf("vmNumber %s, virtualMachinesTable has %d rows", sc[0], len(own))
			}
			wantSoftware, wantOID := "TEST", ".0.0"
			if c.dir == "merged" {
				wantSoftware, wantOID = "vmgate", mib.AgentOID.String()
			}
			if sc[1] != wantSoftware || sc[2] != wantOID {
				t.Errorf("vmHvSoftware %q vmHvObjectID %s, want %q %s", sc[1], sc[2], wantSoftware, wantOID)
			}
		})
	}
}

// TestVMMIBGroups walks, by name, every object of each group of VM-MIB's compliance
// statements (MANDATORY-GROUPS) in the merged context: each has instances.
func TestVMMIBGroups(t *testing.T) {
	mibPath := mibDirs(t)
	g := startMIBGateway(t)
	for _, grp := range mib.StdObjectGroups() {
		t.Run(grp.Name, func(t *testing.T) {
			for _, obj := range grp.Objects {
				r := g.Run(t, "snmpbulkwalk", V2c("public"), "-M", "+"+mibPath, "-m", "+"+mib.StdModuleName,
					"-Cr25", mib.StdModuleName+"::"+obj)
				if r.Err != nil || strings.Contains(r.Stderr, "Unknown Object") {
					t.Fatalf("walk %s: %s", obj, r)
				}
				col, _ := mib.StdLookup(obj)
				n := 0
				for _, v := range r.WalkVars() {
					if strings.HasPrefix(v.OID+".", col.String()+".") {
						n++
					}
				}
				if n == 0 {
					t.Errorf("%s: no instance of %s:\n%s", grp.Name, obj, r)
				}
			}
		})
	}
}

// TestVMMIBEnables sets the notification enables by name (a read-write user), checks
// the SET errors, and restarts the gateway: the values stay.
func TestVMMIBEnables(t *testing.T) {
	mibPath := mibDirs(t)
	g := startMIBGateway(t)
	set := func(cred Cred, triples ...string) Result {
		args := []string{"-M", "+" + mibPath, "-m", "+" + mib.StdModuleName}
		for i := 0; i+2 < len(triples)+1; i += 3 {
			args = append(args, mib.StdModuleName+"::"+triples[i], triples[i+1], triples[i+2])
		}
		return g.Run(t, "snmpset", cred, args...)
	}
	if got := stdGet(t, g, mibPath, admin.Cred(""), "vmPerVMNotificationsEnabled.0", "vmBulkNotificationsEnabled.0"); got[0] != "1" || got[1] != "2" {
		t.Fatalf("enables at first start %v, want per-VM true(1), bulk false(2)", got)
	}
	for _, tc := range []struct {
		name    string
		cred    Cred
		triples []string
		reason  string
	}{
		{"read-only community", V2c("public"), []string{"vmBulkNotificationsEnabled.0", "i", "1"}, "noAccess"},
		{"read-write community: one context", V2c("private-rw"), []string{"vmBulkNotificationsEnabled.0", "i", "1"}, "noAccess"},
		{"not a TruthValue", admin.Cred(""), []string{"vmBulkNotificationsEnabled.0", "i", "3"}, "wrongValue"},
		{"read-only object", admin.Cred(mibHostA), []string{"vmNumber.0", "i", "3"}, "notWritable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := set(tc.cred, tc.triples...)
			mustFail(t, r)
			mustContain(t, r, tc.reason)
		})
	}
	mustSucceed(t, set(admin.Cred(mibHostB), "vmPerVMNotificationsEnabled.0", "i", "2", "vmBulkNotificationsEnabled.0", "i", "1"))
	for _, c := range mibContexts() {
		if got := stdGet(t, g, mibPath, c.cred, "vmPerVMNotificationsEnabled.0", "vmBulkNotificationsEnabled.0"); got[0] != "2" || got[1] != "1" {
			t.Errorf("%s: enables %v after the SET, want false(2) true(1)", c.dir, got)
		}
	}
	g.Stop(t)
	g.Start(t)
	waitVMs(t, g, admin.Cred(mibHostA), "mib-web")
	if got := stdGet(t, g, mibPath, admin.Cred(""), "vmPerVMNotificationsEnabled.0", "vmBulkNotificationsEnabled.0"); got[0] != "2" || got[1] != "1" {
		t.Errorf("enables %v after a restart, want the SET's false(2) true(1)", got)
	}
}

// stdGet gets VM-MIB objects by name and returns their values (enums as numbers).
func stdGet(t *testing.T, g *Gateway, mibPath string, cred Cred, names ...string) []string {
	t.Helper()
	args := []string{"-M", "+" + mibPath, "-m", "+" + mib.StdModuleName, "-Oe", "-OU", "-Ot"}
	for _, n := range names {
		args = append(args, mib.StdModuleName+"::"+n)
	}
	r := g.Run(t, "snmpget", cred, args...)
	mustSucceed(t, r)
	vars := r.Vars()
	if len(vars) != len(names) {
		t.Fatalf("snmpget %v: %s", names, r)
	}
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Value
		// snmpget -Oe leaves a textual convention's labels: true(1) -> 1.
		if l, n, ok := strings.Cut(v.Value, "("); ok && l != "" && strings.HasSuffix(n, ")") {
			out[i] = strings.TrimSuffix(n, ")")
		}
	}
	return out
}

func sortedKeys(m mibTable) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestVMMIBPySNMP reads vmTable's names with the second manager, pysnmp (SNMPv3 in a
// host's context), as net-snmp does, and sets an enable with a value outside the
// TruthValue (wrongValue) and then a good one.
func TestVMMIBPySNMP(t *testing.T) {
	if err := PySNMPMissing(); err != nil {
		t.Skipf("SKIPPING pysnmp test: %v", err)
	}
	g := startMIBGateway(t)
	col, _ := mib.StdLookup("vmName")
	want := map[string]string{}
	for _, v := range g.Walk(t, admin.Cred(mibHostB), col.String()) {
		want[v.OID] = v.Value
	}
	res := g.PySNMP(t, PyRequestFor(admin.Cred(mibHostB), "walk", col.String()[1:]))
	got := map[string]string{}
	for _, vb := range res.VarBinds {
		if o := "." + vb[0]; strings.HasPrefix(o, col.String()+".") {
			got[o] = vb[2]
		}
	}
	if res.ErrorIndication != nil || len(got) != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pysnmp walk of vmName in %s: %v (%s), net-snmp %v", mibHostB, got, res, want)
	}

	bulk, _ := mib.StdLookup("vmBulkNotificationsEnabled")
	req := PyRequestFor(admin.Cred(mibHostA), "set")
	req.SetValues = [][]string{{bulk.String()[1:] + ".0", "i", "0"}}
	if res := g.PySNMP(t, req); res.ErrorStatus == nil || *res.ErrorStatus != "wrongValue" || res.ErrorIndex != 1 {
		t.Errorf("set vmBulkNotificationsEnabled 0: want wrongValue at 1, got %s", res)
	}
	req.SetValues = [][]string{{bulk.String()[1:] + ".0", "i", "1"}}
	if res := g.PySNMP(t, req); res.ErrorStatus != nil || res.ErrorIndication != nil {
		t.Errorf("set vmBulkNotificationsEnabled 1: %s", res)
	}
}
