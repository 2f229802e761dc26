package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmgate/vmgate/mib"
)

// limitedUser may read one host's context only (set in TestQemuContexts).
func limitedUser(context string) User {
	return User{
		Name: "limited", AuthProtocol: "SHA-256", AuthPassphrase: "limited-auth-pass",
		PrivProtocol: "AES", PrivPassphrase: "limited-priv-pass", Access: "read-only",
		Contexts: []string{context},
	}
}

// TestQemuContexts serves two hosts, a real QEMU one (qemu:///system with one domain of
// the test's own) and a test-driver one (e2e-vm-1): each host's context shows only its
// own VMs, the merged context both; a user or a community bound to one context sees
// that one only and gets authorizationError elsewhere; an unknown context is answered
// with a Report (snmpUnknownContexts). Then it walks the whole tree from .1 in every
// context.
func TestQemuContexts(t *testing.T) {
	bin := needQemu(t)
	mibPath := mibDirs(t)
	host := "mibctx-" + randHex(t, 4)
	vm := defineVM(t, imageDir(t), host+"-vm", vmSpec{Disks: 1, NICs: 1})
	td, err := TestDriverHost(host+"-td", filepath.Join("testdata", "node.xml"))
	if err != nil {
		t.Fatal(err)
	}
	limited := limitedUser(td.Name)
	cfg := qemuConfig(host, td)
	cfg.Users = append(cfg.Users, limited)
	cfg.Communities = append(cfg.Communities, Community{Community: "td-only", Access: "read-only", Context: td.Name})
	g := Start(t, bin, cfg)

	const tdVM = "e2e-vm-1"
	both := []string{vm.Name, tdVM}
	views := []struct {
		name      string
		cred      Cred
		host      string // every row's vmHost; "" in the merged context
		want, not []string
	}{
		{"qemu host context v3", admin.Cred(host), host, []string{vm.Name}, []string{tdVM}},
		{"test host context v3", admin.Cred(td.Name), td.Name, []string{tdVM}, []string{vm.Name}},
		{"test host community v2c", V2c("td-only"), td.Name, []string{tdVM}, []string{vm.Name}},
		{"limited user in its context", limited.Cred(td.Name), td.Name, []string{tdVM}, []string{vm.Name}},
		{"merged context v2c", V2c("public"), "", both, nil},
		{"merged context v3", admin.Cred(""), "", both, nil},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			var vms mibTable
			pollUntil(t, qemuSyncTimeout, "VMs "+strings.Join(v.want, ", ")+" served", func() string {
				vms = readTable(t, g, mibPath, v.cred, "virtualMachinesTable")
				// snmptable reads column by column: a VM that another test defined or
				// removed on the same libvirtd meanwhile has some columns only ("?").
				for id, row := range vms {
					if row["vmName"] == "?" || row["vmHost"] == "?" {
						return "vm " + id + " changed during the read"
					}
				}
				for _, n := range v.want {
					if len(vms.byColumn("vmName", n)) != 1 {
						return n + " missing"
					}
				}
				return ""
			})
			for id, row := range vms {
				if slices.Contains(v.not, row["vmName"]) {
					t.Errorf("vm %s (%s) of another host is served here", id, row["vmName"])
				}
				if v.host != "" && row["vmHost"] != v.host {
					t.Errorf("vm %s (%s) has vmHost %q in context %q", id, row["vmName"], row["vmHost"], v.host)
				}
			}
		})
	}

	refused := []struct {
		name string
		cred Cred
		want string
	}{
		{"limited user in the qemu context", limited.Cred(host), "authorizationError"},
		{"limited user in the merged context", limited.Cred(""), "authorizationError"},
		{"unknown context", admin.Cred("no-such-host"), "Bad context specified"},
		{"limited user in an unknown context", limited.Cred("no-such-host"), "Bad context specified"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			col, _ := mib.Lookup("vmName")
			for _, op := range [][]string{{"snmpget", sysUpTime}, {"snmpbulkwalk", col.String()}} {
				var r Result
				n := delta(t, g, snmpUnknownContexts, func() { r = g.Run(t, op[0], c.cred, op[1:]...) })
				mustFail(t, r)
				mustContain(t, r, c.want)
				if len(r.Vars()) > 0 {
					t.Errorf("%s returned data: %s", op[0], r)
				}
				wantUnknown := uint64(0)
				if c.want == "Bad context specified" {
					wantUnknown = 1
				}
				if n != wantUnknown {
					t.Errorf("snmpUnknownContexts grew by %d, want %d", n, wantUnknown)
				}
			}
		})
	}

	walks := []Cred{V2c("public"), V2c("td-only"), admin.Cred(""), admin.Cred(host), admin.Cred(td.Name), limited.Cred(td.Name)}
	for _, c := range walks {
		t.Run("walk .1 "+c.String(), func(t *testing.T) { checkWholeWalk(t, g, c) })
	}
}

// checkWholeWalk walks from .1 with snmpbulkwalk: no error, no exception but the final
// endOfMibView, strictly increasing OIDs, instances of the module present.
func checkWholeWalk(t *testing.T, g *Gateway, c Cred) {
	t.Helper()
	r := g.Run(t, "snmpbulkwalk", c, "-Cr25", ".1")
	mustSucceed(t, r)
	if r.Stderr != "" {
		t.Errorf("walk printed errors: %s", r.Stderr)
	}
	vars := r.Vars()
	if n := len(vars); n == 0 || vars[n-1].Type != "" || !strings.HasPrefix(vars[n-1].Value, endOfMibView) {
		t.Fatalf("walk does not end with endOfMibView: %s", r)
	}
	walk := r.WalkVars()
	for _, v := range walk {
		// net-snmp prints an empty string without its type: `= ""`.
		if v.Type == "" && v.Value != `""` {
			t.Fatalf("exception at %s: %s", v.OID, v.Value)
		}
	}
	if checkIncreasing(t, walk) == 0 {
		t.Errorf("walk shows no instance of the VIRTUAL-MACHINES-MIB:\n%s", r.Stdout)
	}
}

// needQemu returns the vmgate binary or skips the test loudly.
func needQemu(t *testing.T) string {
	t.Helper()
	bin := binary(t)
	if err := QemuMissing(); err != nil {
		t.Skipf("SKIPPING real-QEMU test: %v", err)
	}
	return bin
}

// qemuStart is the start of a real-QEMU test: the vmgate binary (or a loud skip), the
// MIB directories, a host name unique to the run (prefix-XXXXXXXX) and a directory for
// the domains' disk images.
func qemuStart(t *testing.T, prefix string) (bin, mibPath, host, dir string) {
	t.Helper()
	bin = needQemu(t)
	mibPath = mibDirs(t)
	host = prefix + "-" + randHex(t, 4)
	return bin, mibPath, host, imageDir(t)
}

// qemuConfig is a gateway with the public community, admin, and qemu:///system as host
// hostName (call timeout long enough for a slow libvirtd, counters every 2 s), plus more.
func qemuConfig(hostName string, more ...Host) Config {
	cfg := Config{
		SysName:     "vmgate-mibchk",
		Communities: []Community{public},
		Users:       []User{admin},
		Hosts:       append([]Host{{Name: hostName, URI: QemuURI}}, more...),
	}
	hostOptions(&cfg, map[string]map[string]any{
		hostName: {"call_timeout": "3m", "stats_interval": "2s"},
	})
	return cfg
}
