package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// qemuReplicas are two gateways on one etcd serving host "qemu" (qemu:///system,
// which every connection sees alike), with a diskless template of the test's own.
type qemuReplicas struct {
	a, b   *Gateway
	c      *etcdtest.Cluster
	prefix string // of every domain the test creates
}

func startQemuReplicas(t *testing.T) qemuReplicas {
	t.Helper()
	viewtest.RequireLibvirtd(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING QEMU replica test: qemu-system-x86_64 not installed")
	}
	c := etcdtest.Start(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	q := qemuReplicas{c: c, prefix: "vgrep-" + hex.EncodeToString(rnd[:])}
	dir := t.TempDir()
	tplDir := filepath.Join(dir, "templates")
	if err := os.MkdirAll(tplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tpl := `<domain type='qemu'><name>` + q.prefix + `</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices></devices></domain>`
	if err := os.WriteFile(filepath.Join(tplDir, q.prefix+".xml"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range virshNames(t, q.prefix) {
			_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", n).Run()
			_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", n).Run()
		}
	})
	conf := func(replica string) *Config {
		return mustParse(t, fmt.Sprintf(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: %s
  workers: 64
  users:
    - {name: rw, auth_protocol: SHA-256, auth_passphrase: rw-auth-pass, priv_protocol: AES,
       priv_passphrase: rw-priv-pass, access: read-write, contexts: ["*"]}
hosts: [{name: qemu, uri: "qemu:///system", call_timeout: 60s, stats_interval: 10s}]
templates: {dir: %s}
registry: {backend: etcd, endpoints: [%s], prefix: /sets/, timeout: 2s}
replica: {name: %s}
`, filepath.Join(dir, replica), tplDir, strings.Join(c.Endpoints(), ", "), replica))
	}
	q.a, _ = startGateway(t, conf("gw-a"), Options{Version: "test"})
	q.b, _ = startGateway(t, conf("gw-b"), Options{Version: "test"})
	for _, g := range []*Gateway{q.a, q.b} {
		testkit.WaitFor(t, 120*time.Second, "host qemu up", func() bool {
			h, ok := g.View().Read().HostHealth("qemu")
			return ok && h.Status == hosts.Up
		})
		var idx uint32
		for _, tp := range g.tpl.List() {
			if tp.Name == q.prefix {
				idx = tp.Index
			}
		}
		if idx == 0 {
			t.Fatal("template not listed")
		}
		cur := gosnmp.SnmpPDU{Name: mib.VirtualMachineTemplate.OID.Append(0).String(), Type: gosnmp.Gauge32, Value: uint(idx)}
		if st, err := snmpSet(t, g.Addrs()[0], "rw", "", 0, cur); err != nil || st != gosnmp.NoError {
			t.Fatalf("virtualMachineTemplate: %v, %v", st, err)
		}
	}
	return q
}

// virshNames lists the domains of qemu:///system whose name starts with prefix.
func virshNames(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").Output()
	if err != nil {
		t.Fatalf("virsh list: %v", err)
	}
	var names []string
	for _, n := range strings.Fields(string(out)) {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	return names
}

// snmpSet sends one SNMPv3 authPriv SET as user (passphrases USER-auth-pass and
// USER-priv-pass) to addr in ctxName; reqID, when not 0, is its request-id. It returns
// the error status.
func snmpSet(t *testing.T, addr net.Addr, user, ctxName string, reqID uint32, pdus ...gosnmp.SnmpPDU) (gosnmp.SNMPError, error) {
	t.Helper()
	ua := addr.(*net.UDPAddr)
	c := &gosnmp.GoSNMP{
		Target: ua.IP.String(), Port: uint16(ua.Port), Transport: "udp", Version: gosnmp.Version3,
		SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv, ContextName: ctxName,
		SecurityParameters: &gosnmp.UsmSecurityParameters{
			UserName: user, AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: user + "-auth-pass",
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: user + "-priv-pass",
		},
		// A SET may wait for the other replica's; no retry: each SET is sent once.
		Timeout: 90 * time.Second, Retries: 0, MaxOids: 10,
	}
	if err := c.Connect(); err != nil {
		return 0, err
	}
	defer c.Conn.Close()
	if reqID != 0 {
		c.SetRequestID(reqID - 1) // the next request uses reqID
	}
	pkt, err := c.Set(pdus)
	if err != nil {
		return 0, err
	}
	return pkt.Error, nil
}

// createVM are the varbinds of a createAndGo (or createAndWait) of vmId id named name.
func createVM(id uint32, name string, rs mib.RowStatus) []gosnmp.SnmpPDU {
	t := mib.VirtualMachinesTable
	return []gosnmp.SnmpPDU{
		{Name: t.Instance(mib.ColVmRowStatus, id).String(), Type: gosnmp.Integer, Value: int(rs)},
		{Name: t.Instance(mib.ColVmName, id).String(), Type: gosnmp.OctetString, Value: name},
	}
}

// freeVMIDs returns the first of n consecutive vmIds free in g's registry.
func freeVMIDs(t *testing.T, g *Gateway, n uint32) uint32 {
	t.Helper()
	for base := g.reg.NextFree(registry.NSVM) + 100; base < registry.MaxIndex-n; base += n {
		free := true
		for i := range n {
			free = free && g.reg.Free(registry.NSVM, base+i)
		}
		if free {
			return base
		}
	}
	t.Fatal("no free vmIds")
	return 0
}

// TestReplicasCreateOnce: 24 createAndGo SETs at once, half through each replica,
// on 4 vmIds and 2 names (two VMs at most start, each request must end in 10 s): every VM is created once, no vmId and no name twice, and
// the losers are told why (inconsistentName: vmId taken; inconsistentValue: it
// exists, or the name is taken), never commitFailed.
func TestReplicasCreateOnce(t *testing.T) {
	q := startQemuReplicas(t)
	base := freeVMIDs(t, q.a, 4)
	type result struct {
		id   uint32
		name string
		st   gosnmp.SNMPError
		err  error
	}
	results := make([]result, 24)
	var wg sync.WaitGroup
	for i := range results {
		g := q.a
		if i%2 == 1 {
			g = q.b
		}
		r := &results[i]
		// SETs 2k and 2k+1 are the same create, one through each replica.
		r.id, r.name = base+uint32(i/2%4), fmt.Sprintf("%s-%d", q.prefix, i/2%2)
		wg.Go(func() {
			r.st, r.err = snmpSet(t, g.Addrs()[0], "rw", "qemu", 0, createVM(r.id, r.name, mib.RowCreateAndGo)...)
		})
	}
	wg.Wait()
	won := map[string]uint32{}
	wonID := map[uint32]bool{}
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("SET %d: %v", i, r.err)
		case r.st == gosnmp.NoError:
			if _, dup := won[r.name]; dup || wonID[r.id] {
				t.Fatalf("SET %d (vmId %d, %s) succeeded twice: %v", i, r.id, r.name, won)
			}
			won[r.name], wonID[r.id] = r.id, true
		case r.st != gosnmp.InconsistentName && r.st != gosnmp.InconsistentValue:
			t.Fatalf("SET %d (vmId %d, %s): %v, want noError, inconsistentName or inconsistentValue", i, r.id, r.name, r.st)
		}
	}
	if len(won) == 0 {
		t.Fatal("no SET succeeded")
	}
	if names := virshNames(t, q.prefix+"-"); len(names) != len(won) {
		t.Fatalf("libvirt has %v, the SETs that succeeded created %v", names, won)
	}
	for _, g := range []*Gateway{q.a, q.b} {
		testkit.WaitFor(t, 60*time.Second, "the created VMs in both views", func() bool {
			seen := map[string]uint32{}
			for vm := range g.View().Read().VMs("qemu", 0) {
				if strings.HasPrefix(vm.Domain.Name, q.prefix+"-") {
					seen[vm.Domain.Name] = vm.VMID
				}
			}
			return fmt.Sprint(seen) == fmt.Sprint(won)
		})
	}
}

// TestReplicasRunSetOnce: the same SET (same user, request-id and varbinds, a new
// message) sent to both replicas at once runs once and both get its answer; without
// etcd quorum a SET answers resourceUnavailable and changes nothing; with quorum
// back SETs work again.
func TestReplicasRunSetOnce(t *testing.T) {
	q := startQemuReplicas(t)
	base := freeVMIDs(t, q.a, 3)
	name := q.prefix + "-once"
	var wg sync.WaitGroup
	var st [2]gosnmp.SNMPError
	var errs [2]error
	for i, g := range []*Gateway{q.a, q.b} {
		wg.Go(func() {
			st[i], errs[i] = snmpSet(t, g.Addrs()[0], "rw", "qemu", 424242, createVM(base, name, mib.RowCreateAndWait)...)
		})
	}
	wg.Wait()
	for i := range st {
		if errs[i] != nil || st[i] != gosnmp.NoError {
			t.Fatalf("replica %d: %v, %v; want the first run's noError", i, st[i], errs[i])
		}
	}
	if names := virshNames(t, name); len(names) != 1 {
		t.Fatalf("domains %v, want one %s", names, name)
	}

	q.c.Kill(1)
	q.c.Kill(2)
	lost := q.prefix + "-noquorum"
	if s, err := snmpSet(t, q.a.Addrs()[0], "rw", "qemu", 0, createVM(base+1, lost, mib.RowCreateAndWait)...); err != nil || s != gosnmp.ResourceUnavailable {
		t.Fatalf("without quorum: %v, %v; want resourceUnavailable", s, err)
	}
	if names := virshNames(t, lost); len(names) != 0 {
		t.Fatalf("without quorum the SET defined %v", names)
	}
	q.c.Heal()
	back := q.prefix + "-back"
	testkit.WaitFor(t, 60*time.Second, "a SET with quorum back", func() bool {
		s, err := snmpSet(t, q.b.Addrs()[0], "rw", "qemu", 0, createVM(base+2, back, mib.RowCreateAndWait)...)
		return err == nil && s == gosnmp.NoError
	})
	if names := virshNames(t, lost); len(names) != 0 {
		t.Fatalf("the SET refused without quorum ran later: %v", names)
	}
}
