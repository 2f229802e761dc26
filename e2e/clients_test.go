package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// docs/clients.md shows the files of deploy/clients (and the kit's prometheus.yml)
// verbatim: a line "<!-- include PATH -->" and the fenced block after it.
var includeRe = regexp.MustCompile("(?m)^<!-- include (\\S+) -->\n```[a-z]*\n")

// TestClientsDoc: every include of docs/clients.md is its file, byte for byte, and every
// file of deploy/clients is included.
func TestClientsDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/clients.md")
	if err != nil {
		t.Fatal(err)
	}
	included := map[string]bool{}
	for _, m := range includeRe.FindAllSubmatchIndex(doc, -1) {
		path := string(doc[m[2]:m[3]])
		rest := string(doc[m[1]:])
		end := strings.Index(rest, "```\n")
		want, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Errorf("docs/clients.md includes %s: %v", path, err)
			continue
		}
		if end < 0 || rest[:end] != string(want) {
			t.Errorf("docs/clients.md: the block after <!-- include %s --> differs from the file", path)
		}
		included[path] = true
	}
	files, err := filepath.Glob("../deploy/clients/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "../deploy/prometheus/prometheus.yml") {
		if p := strings.TrimPrefix(f, "../"); !included[p] {
			t.Errorf("docs/clients.md does not include %s", p)
		}
	}
}

func clientFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clientUsers are the users of deploy/clients/vmgate-users.yaml, by name.
func clientUsers(t *testing.T) map[string]User {
	t.Helper()
	var doc struct{ Users []User }
	if err := yaml.Unmarshal([]byte(clientFile(t, "vmgate-users.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	m := map[string]User{}
	for _, u := range doc.Users {
		m[u.Name] = u
	}
	return m
}

// TestClients runs each documented client configuration of docs/clients.md as it is
// in deploy/clients (only the address, port and intervals replaced) against vmgate
// with one test-driver host of 5 running VMs, as the users of vmgate-users.yaml.
func TestClients(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	users := clientUsers(t)
	var list []User
	for _, u := range users {
		list = append(list, u)
	}
	host, err := TestDriverHost("cli-0", replicaNode(t, t.TempDir(), 0, 5))
	if err != nil {
		t.Fatal(err)
	}
	g := Start(t, bin, Config{Users: append(list, admin), Hosts: []Host{host}})
	pollUntil(t, time.Minute, "the 5 VMs", func() string {
		if n := len(g.Walk(t, users["monitor"].Cred(host.Name), mustOID(t, "vmName"))); n != 5 {
			return fmt.Sprintf("%d VMs", n)
		}
		return ""
	})
	addr := "127.0.0.1:" + strconv.Itoa(g.Port)

	t.Run("net-snmp", func(t *testing.T) { testNetSNMPConf(t, addr, host.Name) })
	t.Run("check_snmp", func(t *testing.T) { testCheckSNMP(t, g, users["nagios"], host.Name) })
	t.Run("collectd", func(t *testing.T) { testCollectd(t, addr) })
}

// testNetSNMPConf: snmp.conf in a private SNMPCONFPATH, its mibdirs line pointed at the
// test's MIB directories; the doc's commands without credentials.
func testNetSNMPConf(t *testing.T, addr, ctx string) {
	t.Helper()
	dir := t.TempDir()
	conf := regexp.MustCompile(`(?m)^mibdirs .*$`).ReplaceAllString(clientFile(t, "snmp.conf"), "mibdirs +"+mibDirs(t))
	if err := os.WriteFile(filepath.Join(dir, "snmp.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SNMPCONFPATH=" + dir, "SNMP_PERSISTENT_DIR=" + dir, "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("snmptable", "-Ci", "-n", ctx, addr, "virtualMachinesTable")
	for i := range 5 {
		if want := fmt.Sprintf("rep-0-%d", i); !strings.Contains(out, want) {
			t.Errorf("snmptable virtualMachinesTable lacks %s:\n%s", want, out)
		}
	}
	if merged := run("snmptable", "-Ci", "-n", "", addr, "virtualMachinesTable"); !strings.Contains(merged, "0e2e0000-0000-4000-8000-000000000003") {
		t.Errorf("merged snmptable lacks VM 3's vmUUIDText:\n%s", merged)
	}
	id := rowOf(t, out, "rep-0-2")
	got := run("snmpget", "-n", ctx, addr, "vmState."+id, "vmUUIDText."+id)
	if !strings.Contains(got, "running(2)") || !strings.Contains(got, "STRING: 0e2e0000-0000-4000-8000-000000000002") {
		t.Errorf("snmpget vmState vmUUIDText:\n%s", got)
	}
}

// rowOf returns the index of the snmptable row that names vm.
func rowOf(t *testing.T, table, vm string) string {
	t.Helper()
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == vm {
			return f[0]
		}
	}
	t.Fatalf("no row for %s in:\n%s", vm, table)
	return ""
}

// testCheckSNMP runs the command_lines of check_snmp.cfg with Nagios's macros filled in.
func testCheckSNMP(t *testing.T, g *Gateway, u User, ctx string) {
	t.Helper()
	plugins := "/usr/lib/nagios/plugins"
	if _, err := os.Stat(filepath.Join(plugins, "check_snmp")); err != nil {
		t.Skipf("SKIPPING: check_snmp not installed (monitoring-plugins-standard): %v", err)
	}
	lines := map[string]string{}
	var name string
	for _, l := range strings.Split(clientFile(t, "check_snmp.cfg"), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "command_name":
			name = f[1]
		case len(f) > 1 && f[0] == "command_line":
			lines[name] = strings.Join(f[1:], " ")
		}
	}
	var id string
	for _, v := range g.Walk(t, u.Cred(ctx), mustOID(t, "vmName")) {
		if v.Value == "rep-0-1" {
			id = strconv.Itoa(int(lastSub(t, v.OID)))
		}
	}
	check := func(command, arg2 string, code int, want string) {
		t.Helper()
		line, ok := lines[command]
		if !ok {
			t.Fatalf("check_snmp.cfg has no command %s", command)
		}
		line = strings.NewReplacer("$USER1$", plugins, "$HOSTADDRESS$", "127.0.0.1",
			"-p 161", "-p "+strconv.Itoa(g.Port), "$USER3$", u.AuthPassphrase, "$USER4$", u.PrivPassphrase,
			"$ARG1$", ctx, "$ARG2$", arg2).Replace(line)
		cmd := exec.Command("sh", "-c", line)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "MIBS="}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != code || !strings.Contains(string(out), want) {
			t.Errorf("%s (%s): exit %d (%v), want %d and %q:\n%s", command, line, cmd.ProcessState.ExitCode(), err,
				code, want, out)
		}
	}
	check("check_vmgate_hypervisor", "", 0, "SNMP OK - hypervisorConnState 1")
	check("check_vmgate_vm", id, 0, "SNMP OK - vmState 2")
	// A paused VM is critical.
	if r := g.Set(t, admin.Cred(ctx), mustOID(t, "vmState")+"."+id, "i", "4"); r.Err != nil {
		t.Fatalf("pause: %v", r)
	}
	pollUntil(t, 30*time.Second, "VM paused", func() string {
		if v := g.Get(t, admin.Cred(ctx), mustOID(t, "vmState")+"."+id); len(v) != 1 || v[0].Value != "4" {
			return fmt.Sprint(v)
		}
		return ""
	})
	check("check_vmgate_vm", id, 2, "SNMP CRITICAL - vmState *4*")
}

// testCollectd runs collectd in the foreground with collectd.conf included and the csv
// plugin writing what it read; it waits for every VM's three values.
func testCollectd(t *testing.T, addr string) {
	t.Helper()
	bin, err := exec.LookPath("collectd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/collectd"); err != nil {
			t.Skipf("SKIPPING: collectd not installed (collectd-core): %v", err)
		}
	}
	dir := t.TempDir()
	plugin := strings.NewReplacer("udp:192.0.2.5:161", "udp:"+addr, "Interval 60", "Interval 2").
		Replace(clientFile(t, "collectd.conf"))
	if err := os.WriteFile(filepath.Join(dir, "vmgate.conf"), []byte(plugin), 0o644); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "csv")
	main := fmt.Sprintf(`Hostname "collectd-test"
FQDNLookup false
BaseDir %q
PIDFile %q
TypesDB "/usr/share/collectd/types.db"
Interval 2
LoadPlugin csv
<Plugin csv>
  DataDir %q
</Plugin>
Include %q
`, dir, filepath.Join(dir, "collectd.pid"), csv, filepath.Join(dir, "vmgate.conf"))
	if err := os.WriteFile(filepath.Join(dir, "collectd.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, dir, "collectd", bin, "-f", "-C", filepath.Join(dir, "collectd.conf"))
	pollUntil(t, time.Minute, "collectd's csv files of every VM", func() string {
		for i := range 5 {
			for _, pattern := range []string{"snmp/memory-rep-0-%d-*", "snmp-vcpus/gauge-rep-0-%d-*", "snmp-state/gauge-rep-0-%d-*"} {
				p := filepath.Join(csv, "vmgate", fmt.Sprintf(pattern, i))
				if m, _ := filepath.Glob(p); len(m) == 0 {
					return "no " + p
				}
			}
		}
		return ""
	})
	m, _ := filepath.Glob(filepath.Join(csv, "vmgate", "snmp", "memory-rep-0-0-*"))
	pollUntil(t, 30*time.Second, "a memory value in "+m[0], func() string {
		b, _ := os.ReadFile(m[0])
		if !strings.Contains(string(b), ",67108864") { // 64 MiB
			return string(b)
		}
		return ""
	})
}
