package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Numeric OIDs of the VIRTUAL-MACHINES-MIB objects the control tests set.
const (
	vmObjects        = ".1.3.6.1.3.7466.1"
	vmIndexNext      = vmObjects + ".2.0"
	vmEntry          = vmObjects + ".3.1"
	memoryEntry      = vmObjects + ".4.1"
	cpuEntry         = vmObjects + ".5.1"
	hypervisorEntry  = vmObjects + ".1.4.1"
	vmTemplate       = vmObjects + ".13.1.0"
	templateEntry    = vmObjects + ".13.3.1"
	colVmUUID        = 2
	colVmName        = 3
	colVmState       = 5
	colVmRowStatus   = 8
	colVmHost        = 9
	colVmAutostart   = 10
	colVmVcpus       = 13
	colMemoryTotalMb = 2
	colCpuRowStatus  = 7
	colTplRowStatus  = 7
	colHvConnState   = 13
)

func inst(entry string, col int, idx ...uint32) string {
	s := fmt.Sprintf("%s.%d", entry, col)
	for _, i := range idx {
		s += "." + strconv.FormatUint(uint64(i), 10)
	}
	return s
}

// ops may write, but only in the merged context.
var ops = User{
	Name: "ops", AuthProtocol: "SHA-256", AuthPassphrase: "ops-auth-pass",
	PrivProtocol: "AES", PrivPassphrase: "ops-priv-pass", Access: "read-write", Contexts: []string{""},
}

func randomName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// waitConnected polls until every configured host reads connected(1).
func waitConnected(t *testing.T, g *Gateway, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := g.Run(t, "snmpbulkwalk", admin.Cred(""), hypervisorEntry+"."+strconv.Itoa(colHvConnState))
		vars := r.WalkVars()
		ok := r.Err == nil && len(vars) > 0
		for _, v := range vars {
			ok = ok && v.Value == "1"
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts not connected within %s: %s", timeout, r)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition with a deadline
	}
}

// vmIDByName finds a VM's vmId in ctx by name.
func vmIDByName(t *testing.T, g *Gateway, ctx, name string) (uint32, bool) {
	t.Helper()
	for _, v := range g.Walk(t, admin.Cred(ctx), inst(vmEntry, colVmName)) {
		if v.Value == name {
			return lastSub(t, v.OID), true
		}
	}
	return 0, false
}

func lastSub(t *testing.T, oid string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(oid[strings.LastIndexByte(oid, '.')+1:], 10, 32)
	if err != nil {
		t.Fatalf("%s: %v", oid, err)
	}
	return uint32(n)
}

// createVM creates a VM named name by createAndGo at vmIndexNext and returns its vmId.
func createVM(t *testing.T, g *Gateway, cred Cred, name string) uint32 {
	t.Helper()
	id := uint32(mustUint(t, getVal(t, g, cred, vmIndexNext)))
	mustSucceed(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "5", inst(vmEntry, colVmName, id), "s", name))
	return id
}

func getVal(t *testing.T, g *Gateway, cred Cred, oid string) string {
	t.Helper()
	r := g.Run(t, "snmpget", cred, oid)
	if r.Err != nil {
		t.Fatalf("get %s: %s", oid, r)
	}
	vars := r.Vars()
	if len(vars) != 1 {
		t.Fatalf("get %s: %s", oid, r)
	}
	return vars[0].Value
}

// TestControlTemplates: a template row created by SET becomes an XML file in the
// template directory at the manager's index, can be chosen, and is destroyed with its
// file; the current template cannot be destroyed.
func TestControlTemplates(t *testing.T) {
	g, cur := controlGateway(t)
	dir := g.Config().TemplatesDir
	cred := admin.Cred("")
	const idx = 4040
	name := randomName(t, "tpl-e2e-")
	mustSucceed(t, g.Set(t, cred,
		inst(templateEntry, colTplRowStatus, idx), "i", "4",
		inst(templateEntry, 2, idx), "s", name,
		inst(templateEntry, 3, idx), "u", "128",
		inst(templateEntry, 4, idx), "u", "2"))
	data, err := os.ReadFile(filepath.Join(dir, name+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<name>" + name + "</name>", "<memory unit='KiB'>131072</memory>", "<vcpu>2</vcpu>"} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("template file lacks %q:\n%s", want, data)
		}
	}
	if got := getVal(t, g, cred, inst(templateEntry, 2, idx)); got != name {
		t.Fatalf("domainTemplateName.%d = %q", idx, got)
	}
	mustContain(t, g.Set(t, cred, inst(templateEntry, 3, idx), "u", "256"), "Reason: inconsistentValue")
	mustContain(t, g.Set(t, cred, inst(templateEntry, colTplRowStatus, cur), "i", "6"), "Reason: inconsistentValue")
	mustContain(t, g.Set(t, cred, inst(templateEntry, colTplRowStatus, idx+1), "i", "5"), "Reason: wrongValue")
	// A new row named like an existing template replaced its file (and its row).
	ctl := filepath.Join(dir, "ctl.xml")
	before, _ := os.ReadFile(ctl)
	mustContain(t, g.Set(t, cred,
		inst(templateEntry, colTplRowStatus, idx+1), "i", "4",
		inst(templateEntry, 2, idx+1), "s", "ctl"), "Reason: inconsistentValue")
	if after, _ := os.ReadFile(ctl); string(after) != string(before) {
		t.Fatalf("ctl.xml rewritten by a new row named ctl:\n%s", after)
	}
	if got := getVal(t, g, cred, inst(templateEntry, 2, cur)); got != "ctl" {
		t.Fatalf("domainTemplateName.%d = %q after a clashing create", cur, got)
	}
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(idx)))
	mustSucceed(t, g.Set(t, cred, vmTemplate, "u", strconv.Itoa(int(cur))))
	mustSucceed(t, g.Set(t, cred, inst(templateEntry, colTplRowStatus, idx), "i", "6"))
	if _, err := os.Stat(filepath.Join(dir, name+".xml")); !os.IsNotExist(err) {
		t.Fatalf("template file still there: %v", err)
	}
	mustContain(t, g.Run(t, "snmpget", cred, inst(templateEntry, 2, idx)), "No Such Instance")
}

// controlGateway starts vmgate on the test-driver host with a template directory
// holding one test-driver template, chosen as the current template.
func controlGateway(t *testing.T) (*Gateway, uint32) {
	t.Helper()
	return controlGatewayWith(t)
}

// controlGatewayWith is controlGateway with more users than admin, reader and ops.
func controlGatewayWith(t *testing.T, users ...User) (*Gateway, uint32) {
	t.Helper()
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING control test: %v", err)
	}
	dir := t.TempDir()
	tpl := `<domain type='test'>
  <name>ctl</name>
  <memory unit='MiB'>64</memory>
  <vcpu current='1'>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
`
	if err := os.WriteFile(filepath.Join(dir, "ctl.xml"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, append([]User{ops}, users...)...)
	cfg.TemplatesDir = dir
	g := Start(t, binary(t), cfg)
	waitConnected(t, g, 60*time.Second)
	rows := g.Walk(t, admin.Cred(""), inst(templateEntry, colTplRowStatus))
	if len(rows) != 1 {
		t.Fatalf("template rows: %v", rows)
	}
	idx := lastSub(t, rows[0].OID)
	mustSucceed(t, g.Set(t, admin.Cred(hostCtx), vmTemplate, "u", strconv.Itoa(int(idx))))
	return g, idx
}

// TestControlErrors: every error status a SET can get, reached by a real snmpset, and
// nothing changed.
func TestControlErrors(t *testing.T) {
	g, _ := controlGateway(t)
	id, ok := vmIDByName(t, g, hostCtx, "e2e-vm-1")
	if !ok {
		t.Fatal("fixture VM e2e-vm-1 not listed")
	}
	long := strings.Repeat("x", 256)
	state := getVal(t, g, admin.Cred(hostCtx), inst(vmEntry, colVmState, id))
	// A shut-off VM (createAndWait) for a transition that is impossible from shutoff:
	// every vmState value is a valid transition from running.
	off := uint32(mustUint(t, getVal(t, g, admin.Cred(hostCtx), vmIndexNext)))
	mustSucceed(t, g.Set(t, admin.Cred(hostCtx), inst(vmEntry, colVmRowStatus, off), "i", "5",
		inst(vmEntry, colVmName, off), "s", randomName(t, "ctl-off-")))
	t.Cleanup(func() { g.Set(t, admin.Cred(hostCtx), inst(vmEntry, colVmRowStatus, off), "i", "6") })
	cases := []struct {
		name    string
		cred    Cred
		triples []string
		reason  string
		failed  string // the failed object, when not the first triple's
	}{
		{"notWritable", admin.Cred(hostCtx), []string{inst(vmEntry, colVmUUID, id), "s", "x"}, "notWritable", ""},
		{"wrongType", admin.Cred(hostCtx), []string{inst(vmEntry, colVmState, id), "s", "running"}, "wrongType", ""},
		{"wrongLength", admin.Cred(hostCtx), []string{inst(vmEntry, colVmName, id), "s", long}, "wrongLength", ""},
		{"wrongValue", admin.Cred(hostCtx), []string{inst(vmEntry, colVmState, id), "i", "7"}, "wrongValue", ""},
		{"wrongValue notReady", admin.Cred(hostCtx), []string{inst(vmEntry, colVmRowStatus, 77), "i", "3"}, "wrongValue", ""},
		{"noCreation", admin.Cred(hostCtx), []string{inst(vmEntry, colVmRowStatus, 0), "i", "5"}, "noCreation", ""},
		{"inconsistentName", admin.Cred(hostCtx), []string{inst(vmEntry, colVmName, 999999), "s", "x"}, "inconsistentName", ""},
		{"inconsistentName vCPU index not next", admin.Cred(hostCtx), []string{inst(vmEntry, colVmRowStatus, id), "i", "6", inst(cpuEntry, colCpuRowStatus, id, 5), "i", "4"}, "inconsistentName", inst(cpuEntry, colCpuRowStatus, id, 5)},
		{"inconsistentValue exists", admin.Cred(hostCtx), []string{inst(vmEntry, colVmRowStatus, id), "i", "4"}, "inconsistentValue", ""},
		{"inconsistentValue rename running", admin.Cred(hostCtx), []string{inst(vmEntry, colVmName, id), "s", "other"}, "inconsistentValue", ""},
		{"inconsistentValue transition", admin.Cred(hostCtx), []string{inst(vmEntry, colVmState, off), "i", "4"}, "inconsistentValue", ""},
		{"inconsistentValue memory above the host's", admin.Cred(hostCtx), []string{inst(memoryEntry, colMemoryTotalMb, off), "u", "4294967295"}, "inconsistentValue", ""},
		{"inconsistentValue name beyond a file name", admin.Cred(hostCtx), []string{inst(vmEntry, colVmName, off), "s", strings.Repeat("n", 252)}, "inconsistentValue", ""},
		// pmsuspended(8) from running is a valid transition, but the test driver refuses
		// it for this domain (a QEMU domain without the guest agent's channel is refused
		// in the test phase: TestQemuMIB).
		{"commitFailed unsupported by the hypervisor", admin.Cred(hostCtx), []string{inst(vmEntry, colVmState, id), "i", "8"}, "commitFailed", ""},
		{"inconsistentValue no vmHost", admin.Cred(""), []string{inst(vmEntry, colVmRowStatus, 999998), "i", "5"}, "inconsistentValue", ""},
		{"noAccess read-only", reader.Cred(""), []string{inst(vmEntry, colVmState, id), "i", "2"}, "noAccess", ""},
		{"authorizationError other context", ops.Cred(hostCtx), []string{inst(vmEntry, colVmState, id), "i", "2"}, "authorizationError", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.Set(t, c.cred, c.triples...)
			mustFail(t, r)
			mustContain(t, r, "Reason: "+c.reason)
			if c.failed == "" {
				c.failed = c.triples[0]
			}
			if c.reason != "authorizationError" {
				mustContain(t, r, "Failed object: "+c.failed)
			}
			if got := getVal(t, g, admin.Cred(hostCtx), inst(vmEntry, colVmState, id)); got != state {
				t.Fatalf("vmState changed from %s to %s", state, got)
			}
		})
	}
}

// TestControlLifecycle: create, rename, RAM, vCPU, state transitions and destroy on the
// test driver, each answered and visible to the next GET at once.
func TestControlLifecycle(t *testing.T) {
	g, _ := controlGateway(t)
	cred := admin.Cred(hostCtx)
	name := randomName(t, "ctl-e2e-")
	id := createVM(t, g, cred, name)
	if got := getVal(t, g, cred, inst(vmEntry, colVmState, id)); got != "6" {
		t.Fatalf("new VM state %s, want shutoff(6)", got)
	}
	if next := mustUint(t, getVal(t, g, cred, vmIndexNext)); next == uint64(id) {
		t.Fatalf("vmIndexNext still %d", next)
	}
	// The merged context shows it with the same vmId, on its host.
	if got := getVal(t, g, admin.Cred(""), inst(vmEntry, colVmHost, id)); got != hostCtx {
		t.Fatalf("vmHost %q", got)
	}
	steps := []struct {
		name     string
		triples  []string
		check    string
		want     string
		failWith string
	}{
		{"rename", []string{inst(vmEntry, colVmName, id), "s", name + "-r"}, inst(vmEntry, colVmName, id), name + "-r", ""},
		{"autostart on", []string{inst(vmEntry, colVmAutostart, id), "i", "1"}, inst(vmEntry, colVmAutostart, id), "1", ""},
		{"autostart off", []string{inst(vmEntry, colVmAutostart, id), "i", "2"}, inst(vmEntry, colVmAutostart, id), "2", ""},
		{"RAM raised while shut off", []string{inst(memoryEntry, colMemoryTotalMb, id), "u", "96"}, inst(memoryEntry, colMemoryTotalMb, id), "96", ""},
		{"add a vCPU", []string{inst(cpuEntry, colCpuRowStatus, id, 2), "i", "4"}, inst(vmEntry, colVmVcpus, id), "2", ""},
		{"remove it", []string{inst(cpuEntry, colCpuRowStatus, id, 2), "i", "6"}, inst(vmEntry, colVmVcpus, id), "1", ""},
		{"start", []string{inst(vmEntry, colVmState, id), "i", "2"}, inst(vmEntry, colVmState, id), "2", ""},
		{"rename while running", []string{inst(vmEntry, colVmName, id), "s", name + "-x"}, inst(vmEntry, colVmName, id), name + "-r", "inconsistentValue"},
		{"RAM above the maximum while running", []string{inst(memoryEntry, colMemoryTotalMb, id), "u", "4096"}, inst(memoryEntry, colMemoryTotalMb, id), "96", "inconsistentValue"},
		{"pause", []string{inst(vmEntry, colVmState, id), "i", "4"}, inst(vmEntry, colVmState, id), "4", ""},
		{"resume", []string{inst(vmEntry, colVmState, id), "i", "2"}, inst(vmEntry, colVmState, id), "2", ""},
		{"power off", []string{inst(vmEntry, colVmState, id), "i", "6"}, inst(vmEntry, colVmState, id), "6", ""},
	}
	for _, s := range steps {
		r := g.Set(t, cred, s.triples...)
		if s.failWith == "" {
			mustSucceed(t, r)
		} else {
			mustFail(t, r)
			mustContain(t, r, "Reason: "+s.failWith)
		}
		if got := getVal(t, g, cred, s.check); got != s.want {
			t.Fatalf("%s: %s reads %q, want %q", s.name, s.check, got, s.want)
		}
	}
	mustSucceed(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "6"))
	r := g.Run(t, "snmpget", cred, inst(vmEntry, colVmName, id))
	mustContain(t, r, "No Such Instance")
	mustContain(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "4"), "Reason: inconsistentName")

	// Created from the merged context, with vmHost; the audit log names the principal.
	id2 := uint32(mustUint(t, getVal(t, g, cred, vmIndexNext)))
	mustSucceed(t, g.Set(t, ops.Cred(""), inst(vmEntry, colVmRowStatus, id2), "i", "4", inst(vmEntry, colVmHost, id2), "s", hostCtx))
	if got := getVal(t, g, cred, inst(vmEntry, colVmState, id2)); got != "2" {
		t.Fatalf("createAndGo: state %s, want running(2)", got)
	}
	mustSucceed(t, g.Set(t, ops.Cred(""), inst(vmEntry, colVmRowStatus, id2), "i", "6"))
	for _, want := range []string{"msg=set", "principal=ops", "object=vmRowStatus." + strconv.Itoa(int(id2)), "result=ok"} {
		if !strings.Contains(g.Logs(), want) {
			t.Fatalf("audit log lacks %q", want)
		}
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestExperiments runs deploy/experiments, the design's nine experiments, against a
// real QEMU host (qemu:///system) with a diskless 64 MiB TCG template and a 16 MiB raw
// image in a transient pool of its own.
func TestExperiments(t *testing.T) {
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING experiments: %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING experiments: qemu-system-x86_64 not installed")
	}
	mibdirs := stdMIBDirs()
	if mibdirs == "" {
		t.Skip("SKIPPING experiments: no MIB directory with SNMPv2-SMI.txt (set VMGATE_MIBDIRS)")
	}
	bin := binary(t)
	prefix := randomName(t, "vgexp-")
	q := qemuPool(t, prefix, `<domain type='qemu'>
  <name>`+prefix+`</name>
  <memory unit='MiB'>64</memory>
  <vcpu current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices></devices>
</domain>
`)
	script, tplDir, image := q.script, q.tplDir, q.image

	cfg := Config{
		Users:        []User{admin},
		TemplatesDir: tplDir,
		Raw: map[string]any{"hosts": []map[string]any{{
			"name": "qemu-e2e", "uri": "qemu:///system", "call_timeout": "60s", "stats_interval": "2s",
		}}},
	}
	g := Start(t, bin, cfg)
	waitConnected(t, g, 120*time.Second)
	name := prefix + "-vm"
	t.Cleanup(func() { // the script deletes the VM; this is for a failure half-way
		out, _ := exec.Command("virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").Output()
		for _, n := range strings.Fields(string(out)) {
			if strings.HasPrefix(n, prefix) {
				_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", n).Run()
				_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", n).Run()
			}
		}
	})
	cmd := exec.Command(script, "run")
	cmd.Env = append(os.Environ(),
		"VMGATE_ADDR="+g.Addr, "VMGATE_USER="+admin.Name,
		"VMGATE_AUTH_PROTO="+admin.AuthProtocol, "VMGATE_AUTH_PASS="+admin.AuthPassphrase,
		"VMGATE_PRIV_PROTO="+admin.PrivProtocol, "VMGATE_PRIV_PASS="+admin.PrivPassphrase,
		"VMGATE_CONTEXT=qemu-e2e", "VMGATE_IMAGE="+image, "VMGATE_NAME="+name,
		"VMGATE_MIBDIRS="+mibdirs, "HOME="+g.Dir, "SNMP_PERSISTENT_DIR="+filepath.Join(g.Dir, "netsnmp"))
	out, err := cmd.CombinedOutput()
	t.Logf("deploy/experiments:\n%s", out)
	if err != nil {
		t.Fatalf("deploy/experiments: %v", err)
	}
	if !strings.Contains(string(out), "All nine experiments passed.") {
		t.Fatal("the script did not finish")
	}
	if _, err := os.Stat(image); err != nil {
		t.Fatalf("the disk image was not kept: %v", err)
	}
}

// qemuSetup is a template directory holding one template, and a transient libvirt dir
// pool on qemu:///system holding one 16 MiB raw image (deploy/experiments prepare).
type qemuSetup struct {
	script, tplDir, poolDir, image string
}

// qemuPool writes the template tpl as PREFIX.xml and prepares the pool; both go away
// when the test ends. Run it before the gateway starts: vmgate reads pools on connect.
func qemuPool(t *testing.T, prefix, tpl string) qemuSetup {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "deploy", "experiments"))
	if err != nil {
		t.Fatal(err)
	}
	q := qemuSetup{script: script, tplDir: t.TempDir(),
		// The pool directory must be reachable by QEMU's user: under a 0755 directory.
		poolDir: filepath.Join(os.TempDir(), prefix)}
	if err := os.WriteFile(filepath.Join(q.tplDir, prefix+".xml"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script, "prepare", q.poolDir).CombinedOutput()
	if err != nil {
		t.Fatalf("%s prepare: %v\n%s", script, err, out)
	}
	q.image = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		_ = exec.Command(script, "cleanup", q.poolDir).Run()
		_ = os.RemoveAll(q.poolDir)
	})
	return q
}

// stdMIBDirs returns net-snmp's MIB directory for the standard modules: $VMGATE_MIBDIRS,
// else ../shared/mibs or /usr/share/snmp/mibs when they hold SNMPv2-SMI.
func stdMIBDirs() string {
	for _, d := range []string{os.Getenv("VMGATE_MIBDIRS"), "../../shared/mibs", "/work/shared/mibs", "/usr/share/snmp/mibs"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "SNMPv2-SMI.txt")); err == nil {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	return ""
}
