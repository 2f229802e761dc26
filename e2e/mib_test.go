package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/mib"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestMIBGolden (testdata/mib/)")

// The two hosts of the MIB tests: libvirt test-driver fixtures with fixed UUIDs.
const (
	mibHostA = "mib-a"
	mibHostB = "mib-b"
)

// volatile are the columns whose values change from run to run or from machine to
// machine (times, counters, versions, the host name); the goldens show them as "*".
var volatile = map[string]bool{
	"hypervisorVersion": true, "hypervisorVersionString": true, "hypervisorLibvirtVersion": true,
	"hypervisorHostname": true, "hypervisorLastSync": true, "hypervisorLastSyncDuration": true,
	"vmUptime": true, "vmCpuMilliseconds": true,
	"memoryUsedKB": true, "memoryFreeKB": true, "memoryBalloonKB": true, "memoryRssKB": true,
	"cpuMilliseconds": true, "cpuState": true,
	"storageReadRequests": true, "storageReadBytes": true, "storageWriteRequests": true, "storageWriteBytes": true,
	"storageCapacity": true, "storageAllocation": true,
	"networkInOctets": true, "networkInPackets": true, "networkInErrors": true, "networkInDrops": true,
	"networkOutOctets": true, "networkOutPackets": true, "networkOutErrors": true, "networkOutDrops": true,
}

// mibDirs returns the net-snmp -M path that finds VIRTUAL-MACHINES-MIB and the standard
// modules it imports: the repo's mib/ plus $VMGATE_MIBDIRS, else ../shared/mibs next to
// the repo, else /usr/share/snmp/mibs. It skips the test when none has SNMPv2-SMI.
func mibDirs(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	candidates := []string{filepath.Join(root, "..", "shared", "mibs"), "/usr/share/snmp/mibs"}
	if env := os.Getenv("VMGATE_MIBDIRS"); env != "" {
		candidates = []string{env}
	}
	for _, dirs := range candidates {
		for _, d := range filepath.SplitList(dirs) {
			if _, err := os.Stat(filepath.Join(d, "SNMPv2-SMI.txt")); err == nil {
				return filepath.Join(root, "mib") + ":" + dirs
			}
		}
	}
	t.Skipf("SKIPPING MIB-by-name test: no SNMPv2-SMI.txt in %v (set VMGATE_MIBDIRS)", candidates)
	return ""
}

// startMIBGateway starts vmgate with the two fixture hosts and waits until both are
// synced. Host a is configured first and synced before b is added (SIGHUP), so that
// every index is allocated in the same order on every run.
func startMIBGateway(t *testing.T) *Gateway {
	t.Helper()
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	a, err := TestDriverHost(mibHostA, filepath.Join("testdata", "mib-node-a.xml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := TestDriverHost(mibHostB, filepath.Join("testdata", "mib-node-b.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t)
	cfg.Hosts = []Host{a}
	if cfg.TemplatesDir, err = filepath.Abs(filepath.Join("testdata", "mib-templates")); err != nil {
		t.Fatal(err)
	}
	g := Start(t, bin, cfg)
	waitVMs(t, g, admin.Cred(mibHostA), "mib-web", "mib-kernel")
	cfg.Hosts = []Host{a, b}
	g.WriteConfig(t, cfg)
	g.Signal(t, syscall.SIGHUP)
	waitVMs(t, g, admin.Cred(mibHostB), "mib-batch", "mib-paused")
	// The address of mib-b's VM (test driver, arp) comes with b's first stats poll, just
	// after its sync.
	col, _ := mib.Lookup("networkAddressPrefixLength")
	pollUntil(t, 90*time.Second, "mib-b's first stats poll", func() string {
		r := g.Run(t, "snmpbulkwalk", admin.Cred(mibHostB), "-Cr25", col.String())
		for _, v := range r.WalkVars() {
			if strings.HasPrefix(v.OID, col.String()+".") {
				return ""
			}
		}
		return r.String()
	})
	// The sizes of images outside pools come after a host's first stats poll
	// (hosts.Supervisor readDueSizes): 0 until then.
	capCol, _ := mib.Lookup("diskImageCapacity")
	for _, h := range []string{mibHostA, mibHostB} {
		pollUntil(t, 90*time.Second, h+"'s disk sizes", func() string {
			r := g.Run(t, "snmpbulkwalk", admin.Cred(h), "-Cr25", capCol.String())
			for _, v := range r.WalkVars() {
				if strings.HasPrefix(v.OID, capCol.String()+".") && v.Value == "0" {
					return r.String()
				}
			}
			return ""
		})
	}
	return g
}

// waitVMs polls the vmName column until it shows every name (hosts connect and sync in
// the background).
func waitVMs(t *testing.T, g *Gateway, cred Cred, names ...string) {
	t.Helper()
	col, _ := mib.Lookup("vmName")
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := g.Run(t, "snmpbulkwalk", cred, "-Cr25", col.String())
		if r.Err == nil && containsAll(r.Stdout, names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: VMs %v not served after 90s: %s\n%s", cred, names, r, g.Logs())
		}
	}
}

// moduleSnmptable runs net-snmp's snmptable on a table of module, by name, with the
// index column and '|' between fields.
func moduleSnmptable(t *testing.T, g *Gateway, mibPath string, cred Cred, module, table string) Result {
	t.Helper()
	args := append([]string{"-r", "0", "-t", "5"}, cred.Args()...)
	args = append(args, "-M", "+"+mibPath, "-m", "+"+module, "-Ci", "-Cf", "|",
		g.Addr, module+"::"+table)
	return runTool(filepath.Join(g.Dir, "netsnmp"), "snmptable", args...)
}

// maskTable replaces the volatile columns' values by "*" and the fixture directory by
// <testdata>, and aligns the columns.
func maskTable(out, testdata string) string {
	out = strings.ReplaceAll(out, testdata, "<testdata>")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var rows [][]string
	var head []string
	for _, l := range lines {
		if !strings.Contains(l, "|") {
			head = append(head, l)
			continue
		}
		rows = append(rows, strings.Split(l, "|"))
	}
	if len(rows) == 0 {
		return strings.Join(head, "\n") + "\n"
	}
	width := make([]int, len(rows[0]))
	for i, r := range rows {
		for j := range r {
			if i > 0 && j < len(rows[0]) && volatile[rows[0][j]] {
				r[j] = "*"
			}
			if j < len(width) {
				width[j] = max(width[j], len(r[j]))
			}
		}
	}
	var b strings.Builder
	for _, h := range head {
		b.WriteString(h + "\n")
	}
	for _, r := range rows {
		for j, f := range r {
			if j > 0 {
				b.WriteString(" ")
			}
			if j < len(r)-1 && j < len(width) {
				f += strings.Repeat(" ", width[j]-len(f))
			}
			b.WriteString(f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestMIBGolden reads every table of VIRTUAL-MACHINES-MIB with snmptable, by name, in
// the merged context (v2c) and in each host's context (v3 authPriv), and compares the
// output with testdata/mib/<context>/<table>.txt. Regenerate with
// go test ./e2e -run TestMIBGolden -update.
func TestMIBGolden(t *testing.T) {
	if _, err := os.Stat("/usr/bin/snmptable"); err != nil {
		t.Skip("SKIPPING: snmptable (net-snmp) not installed")
	}
	mibPath := mibDirs(t)
	g := startMIBGateway(t)
	checkGoldens(t, g, mibPath, mib.ModuleName, mib.Tables(), "mib")
}

// checkGoldens reads each table of module with snmptable in every context of
// mibContexts and compares the masked output with testdata/<dir>/<context>/<table>.txt
// (or writes it, with -update).
func checkGoldens(t *testing.T, g *Gateway, mibPath, module string, tables []*mib.Table, dir string) {
	t.Helper()
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mibContexts() {
		for _, tb := range tables {
			t.Run(c.dir+"/"+tb.Name, func(t *testing.T) {
				r := moduleSnmptable(t, g, mibPath, c.cred, module, tb.Name)
				if r.Err != nil || strings.Contains(r.Stderr, "Cannot find module") {
					t.Fatalf("snmptable: %s", r)
				}
				got := maskTable(r.Stdout, testdata)
				golden := filepath.Join("testdata", dir, c.dir, tb.Name+".txt")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (create the goldens with -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", tb.Name, golden, got, want)
				}
			})
		}
	}
}

// TestMIBWalkWholeTree walks everything the agent serves, from .1, in every context:
// the built-in groups, VM-MIB and the module together come in strictly increasing order and
// the walk ends cleanly (endOfMibView).
func TestMIBWalkWholeTree(t *testing.T) {
	g := startMIBGateway(t)
	for _, c := range []Cred{V1("public"), V2c("public"), admin.Cred(""), admin.Cred(mibHostA), admin.Cred(mibHostB)} {
		t.Run(c.String(), func(t *testing.T) {
			var r Result
			if c.Version == "1" { // no GETBULK; Counter64 instances are skipped (RFC 3584)
				r = g.Run(t, "snmpwalk", c, ".1")
				if strings.Contains(r.Stdout, "Counter64:") {
					t.Errorf("SNMPv1 walk shows Counter64 values")
				}
			} else {
				r = g.Run(t, "snmpbulkwalk", c, "-Cr50", ".1")
			}
			mustSucceed(t, r)
			vars := r.WalkVars()
			for _, v := range vars {
				if v.Type == "" && (strings.HasPrefix(v.Value, "No Such") || strings.HasPrefix(v.Value, "No more")) {
					t.Fatalf("walk returned an exception at %s: %s", v.OID, v.Value)
				}
			}
			if inModule := checkIncreasing(t, vars); inModule < 50 {
				t.Errorf("walk shows %d instances of the module, want the fixture's tables:\n%s", inModule, r.Stdout)
			}
			if n := strings.Count(r.Stdout, "\n"+mib.StdRoot.String()+"."); n < 20 {
				t.Errorf("walk shows %d instances of VM-MIB, want its scalars and the fixture's rows", n)
			}
			if sys := mib.AgentOID.String(); !strings.Contains(r.Stdout, "= OID: "+sys+"\n") {
				t.Errorf("sysObjectID is not vmgateAgent %s", sys)
			}
		})
	}
}
