package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// Helpers of the real-VM MIB checks (qemu_mib_test.go, restart_mib_test.go,
// contexts_test.go): QEMU domains defined through virsh, virsh output parsed, the MIB's
// tables read by name with snmptable, and a TCP proxy that takes a host away.

// QemuURI is the local system QEMU driver every real-VM test uses.
const QemuURI = "qemu:///system"

// qemuSyncTimeout bounds how long a test waits for the gateway to show what virsh did:
// the first synchronisation of qemu:///system alone can take tens of seconds on a loaded
// test machine (libvirtd answers ConnectGetVersion only after probing QEMU).
const qemuSyncTimeout = 3 * time.Minute

// virshTimeout bounds one virsh command: defining or starting a domain waits for
// libvirtd's QEMU capabilities, which it re-probes (a minute or more under load) when
// another daemon on the machine rewrote its cache.
const virshTimeout = 5 * time.Minute

// QemuMissing says why real QEMU domains cannot be run here, or nil.
func QemuMissing() error {
	if err := LibvirtMissing(); err != nil {
		return err
	}
	for _, tool := range []string{"virsh", "qemu-system-x86_64", "snmptable"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not on PATH: %w", tool, err)
		}
	}
	if _, err := virshRun("uri"); err != nil {
		return fmt.Errorf("virsh -c %s: %w", QemuURI, err)
	}
	return nil
}

// virshRun runs virsh -c qemu:///system args... and returns its stdout.
func virshRun(args ...string) (string, error) { return virshAt(QemuURI, args...) }

// virshAt runs virsh -c uri args... and returns its stdout.
func virshAt(uri string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), virshTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("virsh %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// virsh runs virsh and fails the test on error.
func virsh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := virshRun(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randHex returns n random bytes as hex.
func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// qemuVM is a domain a test defined on qemu:///system.
type qemuVM struct {
	Name  string
	UUID  string   // lowercase, dashed
	Disks []string // raw image paths, one per virtio disk vda, vdb...
	MACs  []string // aa:bb:cc:dd:ee:ff, one per user-mode NIC
}

// vmSpec says what a test domain has.
type vmSpec struct {
	Disks, NICs int
}

// imageDir returns a directory the QEMU processes (user libvirt-qemu) can reach, removed
// at cleanup (t.TempDir is mode 0700 under a 0700 parent).
func imageDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmgate-mibchk-") //nolint:usetesting // QEMU must reach it; t.TempDir is 0700
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// makeRawImage creates a small raw disk image: with qemu-img when installed, else a
// sparse file of the size (which is what a raw image is).
func makeRawImage(t testing.TB, path string, size int64) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err == nil {
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "raw", path, strconv.FormatInt(size, 10)).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img create %s: %v: %s", path, err, out)
		}
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// defineVM defines a 64 MiB, 2-vCPU TCG domain named name with spec's disks (raw files
// in dir) and user-mode NICs; it is destroyed and undefined at cleanup.
func defineVM(t testing.TB, dir, name string, spec vmSpec) qemuVM {
	t.Helper()
	u := randHex(t, 16)
	vm := qemuVM{Name: name, UUID: u[0:8] + "-" + u[8:12] + "-4" + u[13:16] + "-8" + u[17:20] + "-" + u[20:32]}
	var dev strings.Builder
	for i := range spec.Disks {
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.raw", name, i))
		makeRawImage(t, p, int64(1+i)<<20)
		vm.Disks = append(vm.Disks, p)
		fmt.Fprintf(&dev, `<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='%s'/><target dev='vd%c' bus='virtio'/></disk>
`, p, 'a'+i)
	}
	for range spec.NICs {
		m := randHex(t, 3)
		mac := "52:54:00:" + m[0:2] + ":" + m[2:4] + ":" + m[4:6]
		vm.MACs = append(vm.MACs, mac)
		fmt.Fprintf(&dev, "<interface type='user'><mac address='%s'/><model type='virtio'/></interface>\n", mac)
	}
	xml := fmt.Sprintf(`<domain type='qemu'>
<name>%s</name><uuid>%s</uuid>
<memory unit='KiB'>65536</memory><currentMemory unit='KiB'>65536</currentMemory>
<vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
<devices>
%s</devices>
</domain>
`, name, vm.UUID, dev.String())
	file := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	// Cleanup first: a define that times out here may still complete in libvirtd.
	t.Cleanup(func() { removeVM(name) })
	virsh(t, "define", file)
	return vm
}

// removeVM destroys and undefines a domain, ignoring "not running" and "not found".
func removeVM(name string) {
	_, _ = virshRun("destroy", name)
	_, _ = virshRun("undefine", name)
}

// parseColon parses "Key:   value" lines (virsh dominfo, vcpuinfo blocks).
func parseColon(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// parseColumns parses virsh's tables (domblklist, domiflist): header, dashes, rows.
func parseColumns(out string) []map[string]string {
	var head []string
	var rows []map[string]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0 || strings.HasPrefix(strings.TrimSpace(l), "---"):
		case head == nil:
			head = f
		default:
			r := map[string]string{}
			for i, h := range head {
				if i < len(f) {
					r[h] = f[i]
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// vcpuCount counts the vCPUs virsh vcpuinfo lists.
func vcpuCount(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "VCPU:") {
			n++
		}
	}
	return n
}

// mibTable is one snmptable read: rows by instance index ("7" or "7.2"), each column by
// descriptor.
type mibTable map[string]map[string]string

// readTable runs snmptable on a table of the module, by name, enums as numbers, no units.
func readTable(t testing.TB, g *Gateway, mibPath string, cred Cred, table string) mibTable {
	t.Helper()
	return readModuleTable(t, g, mibPath, cred, mib.ModuleName, table)
}

// readModuleTable is readTable of a table of module (mib.ModuleName or mib.StdModuleName).
func readModuleTable(t testing.TB, g *Gateway, mibPath string, cred Cred, module, table string) mibTable {
	t.Helper()
	args := append([]string{"-r", "0", "-t", "10"}, cred.Args()...)
	args = append(args, "-M", "+"+mibPath, "-m", "+"+module, "-Oe", "-OU", "-Ci", "-Cf", "|",
		g.Addr, module+"::"+table)
	r := runTool(filepath.Join(g.Dir, "netsnmp"), "snmptable", args...)
	if r.Err != nil && !strings.Contains(r.Output(), "No entries") {
		t.Fatalf("snmptable %s %s: %s", table, cred, r)
	}
	if strings.Contains(r.Stderr, "Cannot find module") || strings.Contains(r.Stderr, "Unknown Object") {
		t.Fatalf("snmptable %s: MIB not loaded: %s", table, r)
	}
	rows := mibTable{}
	var head []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if !strings.Contains(l, "|") {
			continue
		}
		f := strings.Split(l, "|")
		if head == nil {
			head = f
			continue
		}
		row := map[string]string{}
		for i, h := range head {
			if i < len(f) {
				row[h] = f[i]
			}
		}
		rows[row["index"]] = row
	}
	lookup := mib.Lookup
	if module == mib.StdModuleName {
		lookup = mib.StdLookup
	}
	exactUUIDs(t, g, cred, rows, head, lookup)
	return rows
}

// byColumn returns the indexes of the rows whose column col is val.
func (m mibTable) byColumn(col, val string) []string {
	var idx []string
	for i, r := range m {
		if r[col] == val {
			idx = append(idx, i)
		}
	}
	return idx
}

// subRows returns the rows of a per-VM table whose index starts with vmID.
func (m mibTable) subRows(vmID string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for i, r := range m {
		if id, sub, ok := strings.Cut(i, "."); ok && id == vmID {
			out[sub] = r
		}
	}
	return out
}

// getByName runs snmpget with objects named by descriptor (e.g. "vmState.3") and
// returns the varbinds (numeric OIDs, enums as numbers); a failing command is returned
// as is for the caller to check.
func getByName(t testing.TB, g *Gateway, mibPath string, cred Cred, names ...string) Result {
	t.Helper()
	args := []string{"-M", "+" + mibPath, "-m", "+" + mib.ModuleName}
	for _, n := range names {
		args = append(args, mib.ModuleName+"::"+n)
	}
	return g.Run(t, "snmpget", cred, args...)
}

// hexUUID formats 16 octets of hex (Var.Hex) as a dashed UUID.
func hexUUID(h string) string {
	if len(h) != 32 {
		return h
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// exactUUIDs replaces the UUID columns of a snmptable read by their exact octets, read
// by a numeric walk: net-snmp renders UUIDorZero's display hint "4x-2x-2x-2x-6x"
// lossily (octets 89 06 print as "896").
func exactUUIDs(t testing.TB, g *Gateway, cred Cred, rows mibTable, head []string, lookup func(string) (snmp.OID, bool)) {
	t.Helper()
	for _, h := range head {
		if !strings.HasSuffix(h, "UUID") {
			continue
		}
		col, ok := lookup(h)
		if !ok {
			t.Fatalf("no OID for column %s", h)
		}
		prefix := col.String() + "."
		r := g.Run(t, "snmpbulkwalk", cred, "-Cr25", col.String())
		if r.Err != nil {
			t.Fatalf("walk %s: %s", h, r)
		}
		for _, v := range r.WalkVars() {
			if row, ok := rows[strings.TrimPrefix(v.OID, prefix)]; ok && strings.HasPrefix(v.OID, prefix) {
				row[h] = hexUUID(v.Hex())
			}
		}
	}
}

// normMAC turns net-snmp's "52:54:0:a:bb:1" (display hint 1x:) into 52:54:00:0a:bb:01.
func normMAC(s string) string {
	parts := strings.Split(strings.TrimSpace(s), ":")
	for i, p := range parts {
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	return strings.ToLower(strings.Join(parts, ":"))
}

// pollUntil calls f until it returns "" (done) or timeout passes; then it fails the test
// with f's last explanation.
func pollUntil(t testing.TB, timeout time.Duration, what string, f func() string) {
	t.Helper()
	var why string
	if !testkit.Poll(timeout, func() bool { why = f(); return why == "" }) {
		t.Fatalf("%s: not reached within %v: %s", what, timeout, why)
	}
}

// hostOptions renders cfg.Hosts into Raw["hosts"] with extra keys per host name (e.g.
// call_timeout, keepalive_interval), for options the Host type does not model.
func hostOptions(cfg *Config, extra map[string]map[string]any) {
	hs := make([]map[string]any, 0, len(cfg.Hosts))
	for _, h := range cfg.Hosts {
		m := map[string]any{"name": h.Name, "uri": h.URI}
		for k, v := range extra[h.Name] {
			m[k] = v
		}
		hs = append(hs, m)
	}
	if cfg.Raw == nil {
		cfg.Raw = map[string]any{}
	}
	cfg.Raw["hosts"] = hs
}

// tcpProxy forwards TCP connections on a loopback port to a unix socket (the local
// libvirtd), so a test can make a "remote" host vanish (Stop) and come back (Start)
// on the same port.
type tcpProxy struct {
	Port   int
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startProxy listens on a free loopback port; it is stopped at cleanup.
func startProxy(t testing.TB, unixSocket string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: unixSocket, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Port = ln.Addr().(*net.TCPAddr).Port
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// Start listens again on the same port after Stop.
func (p *tcpProxy) Start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	pollUntil(t, 10*time.Second, "re-listen on the proxy port", func() string {
		ln, err = net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p.Port))
		if err != nil {
			return err.Error()
		}
		return ""
	})
	p.serve(ln)
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	u, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, u) {
		return
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(u, c)
	go cp(c, u)
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// track registers both ends, or closes them when the proxy is stopping.
func (p *tcpProxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	return true
}

// Stop closes the listener and every forwarded connection (the host "goes down") and
// waits for the goroutines.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// errNoRow is returned when a VM is not (yet) in a table.
var errNoRow = errors.New("no row")

// vmIDOf returns the vmId of the VM with the given UUID in a virtualMachinesTable read.
func vmIDOf(vms mibTable, uuid string) (string, error) {
	ids := vms.byColumn("vmUUID", uuid)
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: vmUUID %s", errNoRow, uuid)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("vmUUID %s in %d rows %v", uuid, len(ids), ids)
}

// waitUUIDs polls virtualMachinesTable in cred's context until every UUID is served
// and returns the last read.
func waitUUIDs(t testing.TB, g *Gateway, mibPath string, cred Cred, uuids ...string) mibTable {
	t.Helper()
	var vms mibTable
	pollUntil(t, qemuSyncTimeout, fmt.Sprintf("VMs %v served to %s", uuids, cred), func() string {
		vms = readTable(t, g, mibPath, cred, "virtualMachinesTable")
		for _, u := range uuids {
			if _, err := vmIDOf(vms, u); err != nil {
				return err.Error()
			}
		}
		return ""
	})
	return vms
}
