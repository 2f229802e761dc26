package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/cluster"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// indexesOf returns what g's merged view numbers: vmId per UUID, storageIndex per
// disk, hypervisor index per host.
func indexesOf(g *Gateway) map[string]uint32 {
	out := map[string]uint32{}
	read := g.View().Read()
	for vm := range read.VMs("", 0) {
		out["vm "+vm.Domain.UUID.String()] = vm.VMID
		for _, d := range vm.Disks {
			out[fmt.Sprintf("disk %s/%s", vm.Domain.UUID, d.Target)] = d.StorageIndex
		}
	}
	for h := range read.Hosts(0) {
		out["host "+h.Name] = h.Index
	}
	return out
}

// TestReplicasShowSameIndexes: two gateways started at once on one etcd registry
// with the same test-driver hosts number every VM, disk and host alike; a third one
// started later, too.
func TestReplicasShowSameIndexes(t *testing.T) {
	viewtest.RequireLibvirtd(t)
	c := etcdtest.Start(t)
	dir := t.TempDir()
	hs := []string{hostYAML("sim-disks", viewtest.RequireLibvirtd(t))}
	for i := range 4 {
		name := fmt.Sprintf("sim-%d", i)
		hs = append(hs, hostYAML(name, writeSimNode(t, dir, name+".xml")))
	}
	const wantVMs = 2 + 4*2
	conf := func(replica string) *Config {
		y := gatewayYAML(t, filepath.Join(dir, replica), "sim", "public-sim", "["+strings.Join(hs, ", ")+"]")
		y += fmt.Sprintf("registry: {backend: etcd, endpoints: [%s], prefix: /replicas/, timeout: 10s}\nreplica: {name: %s}\n",
			strings.Join(c.Endpoints(), ", "), replica)
		return mustParse(t, y)
	}
	// Started one right after the other: their first syncs overlap.
	a, _ := startGateway(t, conf("gw-a"), Options{Version: "test"})
	b, _ := startGateway(t, conf("gw-b"), Options{Version: "test"})
	complete := func(g *Gateway) bool {
		idx := indexesOf(g)
		n := 0
		for k, v := range idx {
			if strings.HasPrefix(k, "vm ") && v != 0 {
				n++
			}
		}
		return n == wantVMs && idx["host sim-3"] != 0
	}
	testkit.WaitFor(t, 90*time.Second, "every VM in both replicas", func() bool { return complete(a) && complete(b) })
	ia, ib := indexesOf(a), indexesOf(b)
	if !maps.Equal(ia, ib) {
		t.Fatalf("replicas differ:\n gw-a %v\n gw-b %v", ia, ib)
	}
	ids := map[uint32]bool{}
	for k, v := range ia {
		if strings.HasPrefix(k, "vm ") {
			ids[v] = true
		}
	}
	if len(ids) != wantVMs {
		t.Fatalf("%d vmIds for %d VMs: %v", len(ids), wantVMs, slices.Sorted(maps.Keys(ia)))
	}
	late, _ := startGateway(t, conf("gw-c"), Options{Version: "test"})
	testkit.WaitFor(t, 90*time.Second, "every VM in the late replica", func() bool { return complete(late) })
	if il := indexesOf(late); !maps.Equal(ia, il) {
		t.Fatalf("late replica differs:\n gw-a %v\n gw-c %v", ia, il)
	}
}

// adminSet sends one SET of vars to addr as the v3 user admin (merged context) and
// returns the error status.
func adminSet(t *testing.T, addr net.Addr, vars ...gosnmp.SnmpPDU) gosnmp.SNMPError {
	t.Helper()
	st, err := snmpSet(t, addr, "admin", "", 0, vars...)
	if err != nil {
		t.Fatalf("SET %v: %v", vars, err)
	}
	return st
}

// TestReplicasShareTemplates: a template created through replica A's SNMP engine is
// listed by B; chosen on B, it is the one A creates a VM from. Both replicas have a
// template directory (templates are enabled), B's empty: the row's definition comes
// from A's file and lives in etcd.
func TestReplicasShareTemplates(t *testing.T) {
	viewtest.RequireLibvirtd(t)
	c := etcdtest.Start(t)
	dir := t.TempDir()
	node := writeSimNode(t, dir, "sim-0.xml")
	start := func(replica string) (*Gateway, string) {
		tplDir := filepath.Join(dir, replica+"-templates")
		if err := os.MkdirAll(tplDir, 0o755); err != nil {
			t.Fatal(err)
		}
		g, _ := startGateway(t, mustParse(t, fmt.Sprintf(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: %s
  communities: [{community: public-sim, access: read-only, context: ""}]
  users:
    - {name: admin, auth_protocol: SHA-256, auth_passphrase: admin-auth-pass, priv_protocol: AES,
       priv_passphrase: admin-priv-pass, access: read-write, contexts: ["*"]}
hosts: [%s]
templates: {dir: %s}
registry: {backend: etcd, endpoints: [%s], prefix: /tpl-replicas/, timeout: 10s}
replica: {name: %s}
`, filepath.Join(dir, replica), hostYAML("sim-0", node), tplDir, strings.Join(c.Endpoints(), ", "), replica)),
			Options{Version: "test"})
		return g, tplDir
	}
	a, aDir := start("gw-a")
	b, _ := start("gw-b")
	// Written after the start, so not imported: only the file a SET names.
	base := "<domain type='test'><name>base</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>" +
		"<os><type arch='x86_64'>hvm</type></os></domain>"
	if err := os.WriteFile(filepath.Join(aDir, "base.xml"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	tplT := mib.VirtualMachineTemplateTable
	col := func(c uint32, typ gosnmp.Asn1BER, v any) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: tplT.Instance(c, 4).String(), Type: typ, Value: v}
	}
	get := func(g *Gateway, oid string) string {
		v, err := snmpGet(t, g.Addrs()[0], "public-sim", "", oid)
		if err != nil {
			return err.Error()
		}
		return v
	}

	if st := adminSet(t, a.Addrs()[0], col(mib.ColTemplateRowStatus, gosnmp.Integer, int(mib.RowCreateAndGo)),
		col(mib.ColDomainTemplateName, gosnmp.OctetString, "web"), col(mib.ColTemplateXmlFile, gosnmp.OctetString, "base.xml"),
		col(mib.ColTemplateMemoryMb, gosnmp.Gauge32, uint(96))); st != gosnmp.NoError {
		t.Fatalf("template createAndGo on A: %v", st)
	}
	name := tplT.Instance(mib.ColDomainTemplateName, 4).String()
	testkit.WaitFor(t, 30*time.Second, "B lists the template", func() bool { return get(b, name) == "web" })
	if tpl, ok := b.tpl.Get(4); !ok || !strings.Contains(tpl.XML, "type='test'") || tpl.MemoryMb != 96 {
		t.Fatalf("B's template 4: %+v, %v; want A's base.xml with 96 MiB", tpl, ok)
	}

	current := mib.VirtualMachineTemplate.Instance().String()
	if st := adminSet(t, b.Addrs()[0], gosnmp.SnmpPDU{Name: current, Type: gosnmp.Gauge32, Value: uint(4)}); st != gosnmp.NoError {
		t.Fatalf("virtualMachineTemplate on B: %v", st)
	}
	testkit.WaitFor(t, 30*time.Second, "A's current template is B's choice", func() bool { return get(a, current) == "4" })

	testkit.WaitFor(t, 90*time.Second, "sim-0 up on A", func() bool {
		h, ok := a.View().Read().HostHealth("sim-0")
		return ok && h.Status == hosts.Up
	})
	vmT := mib.VirtualMachinesTable
	const vmID = 100
	if st := adminSet(t, a.Addrs()[0],
		gosnmp.SnmpPDU{Name: vmT.Instance(mib.ColVmRowStatus, vmID).String(), Type: gosnmp.Integer, Value: int(mib.RowCreateAndGo)},
		gosnmp.SnmpPDU{Name: vmT.Instance(mib.ColVmHost, vmID).String(), Type: gosnmp.OctetString, Value: "sim-0"},
	); st != gosnmp.NoError {
		t.Fatalf("vmRowStatus createAndGo on A: %v", st)
	}
	if got := get(a, vmT.Instance(mib.ColVmName, vmID).String()); got != "web-100" {
		t.Fatalf("A's new VM is named %q, want web-100 (from the template chosen on B)", got)
	}

	// Destroyed on B while it is current: refused; once another is chosen, gone on A too.
	destroy := col(mib.ColTemplateRowStatus, gosnmp.Integer, int(mib.RowDestroy))
	if st := adminSet(t, b.Addrs()[0], destroy); st != gosnmp.InconsistentValue {
		t.Fatalf("destroying the current template on B: %v, want inconsistentValue", st)
	}
	if st := adminSet(t, a.Addrs()[0], gosnmp.SnmpPDU{Name: current, Type: gosnmp.Gauge32, Value: uint(0)}); st != gosnmp.NoError {
		t.Fatalf("virtualMachineTemplate 0 on A: %v", st)
	}
	testkit.WaitFor(t, 30*time.Second, "B sees no current template", func() bool { return get(b, current) == "0" })
	if st := adminSet(t, b.Addrs()[0], destroy); st != gosnmp.NoError {
		t.Fatalf("destroying the template on B: %v", st)
	}
	testkit.WaitFor(t, 30*time.Second, "the template gone on A", func() bool { return strings.Contains(get(a, name), "NoSuch") })

	// Quorum lost: the rows are still served, a change answers resourceUnavailable
	// once the replica knows (a change that finds out fails whole: commitFailed).
	c.Kill(0)
	c.Kill(1)
	// Index 5: 4 stays web.xml's for the registry's grace period.
	create := []gosnmp.SnmpPDU{
		{Name: tplT.Instance(mib.ColTemplateRowStatus, 5).String(), Type: gosnmp.Integer, Value: int(mib.RowCreateAndGo)},
		{Name: tplT.Instance(mib.ColDomainTemplateName, 5).String(), Type: gosnmp.OctetString, Value: "web2"},
	}
	testkit.WaitFor(t, 120*time.Second, "resourceUnavailable without quorum", func() bool {
		st := adminSet(t, a.Addrs()[0], create...)
		if st != gosnmp.ResourceUnavailable && st != gosnmp.CommitFailed {
			t.Fatalf("template createAndGo without quorum: %v", st)
		}
		return st == gosnmp.ResourceUnavailable
	})
	if got := get(a, current); got != "0" {
		t.Fatalf("virtualMachineTemplate without quorum: %q", got)
	}
	c.Heal()
	testkit.WaitFor(t, 120*time.Second, "a template created with quorum back", func() bool {
		return adminSet(t, a.Addrs()[0], create...) == gosnmp.NoError
	})
	name5 := tplT.Instance(mib.ColDomainTemplateName, 5).String()
	testkit.WaitFor(t, 30*time.Second, "B lists it", func() bool { return get(b, name5) == "web2" })
}

// replicaRows walks replicaName and replicaRegistryState through g (v2c, merged
// context): name -> state per replicaIndex, as "name/state".
func replicaRows(t *testing.T, g *Gateway, community string) map[uint32]string {
	t.Helper()
	ua := g.Addrs()[0].(*net.UDPAddr)
	c := &gosnmp.GoSNMP{Target: ua.IP.String(), Port: uint16(ua.Port), Transport: "udp", Version: gosnmp.Version2c,
		Community: community, Timeout: 500 * time.Millisecond, Retries: 1, MaxRepetitions: 10}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	defer c.Conn.Close()
	rows := map[uint32]string{}
	for _, col := range []uint32{mib.ColReplicaName, mib.ColReplicaRegistryState} {
		colOID := mib.ReplicaTable.ColumnOID(col)
		pdus, err := c.BulkWalkAll(colOID.String())
		if err != nil {
			return nil // polled again
		}
		for _, p := range pdus {
			var idx uint32
			if _, err := fmt.Sscanf(strings.TrimPrefix(p.Name, colOID.String()+"."), "%d", &idx); err != nil {
				t.Fatalf("replicaTable instance %s: %v", p.Name, err)
			}
			switch v := p.Value.(type) {
			case []byte:
				rows[idx] += string(v)
			case int:
				rows[idx] += "/" + mib.ReplicaState(v).String()
			}
		}
	}
	return rows
}

// TestReplicaTable: two replicas on one etcd registry list each other in replicaTable,
// with the same replicaIndex; a replica that stops leaves the other's table.
func TestReplicaTable(t *testing.T) {
	c := etcdtest.Start(t)
	dir := t.TempDir()
	conf := func(replica string) *Config {
		y := gatewayYAML(t, filepath.Join(dir, replica), "sim", "public-rep", "[]")
		y += fmt.Sprintf("registry: {backend: etcd, endpoints: [%s], prefix: /replica-table/, timeout: 5s}\nreplica: {name: %s}\n",
			strings.Join(c.Endpoints(), ", "), replica)
		return mustParse(t, y)
	}
	opts := Options{Version: "test", clusterOpts: []cluster.Option{cluster.WithTTL(2 * time.Second)}}
	a, _ := startGateway(t, conf("gw-a"), opts)

	logs := &testkit.Buffer{}
	b, err := New(conf("gw-b"), slog.New(slog.NewTextHandler(logs, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx) }()
	<-b.Engine().Ready()

	var rows map[uint32]string
	testkit.WaitFor(t, 30*time.Second, "both replicas list both", func() bool {
		rows = replicaRows(t, a, "public-rep")
		return len(rows) == 2 && maps.Equal(rows, replicaRows(t, b, "public-rep"))
	})
	if !slices.Equal(slices.Sorted(maps.Values(rows)), []string{"gw-a/up", "gw-b/up"}) {
		t.Fatalf("replicaTable: %v", rows)
	}
	addr := mib.ReplicaTable.ColumnOID(mib.ColReplicaAddress).Append(indexOf(rows, "gw-b/up")).String()
	testkit.WaitFor(t, 30*time.Second, "gw-b's replicaAddress through gw-a: its bound address", func() bool {
		got, err := snmpGet(t, a.Addrs()[0], "public-rep", "", addr)
		return err == nil && got == "udp:"+b.Addrs()[0].String()
	})

	stopB()
	if err := <-bDone; err != nil {
		t.Fatalf("gw-b: %v\n%s", err, logs)
	}
	testkit.WaitFor(t, 30*time.Second, "gw-b gone from gw-a's table", func() bool {
		rows := replicaRows(t, a, "public-rep")
		return len(rows) == 1 && rows[indexOf(rows, "gw-a/up")] == "gw-a/up"
	})
}

func indexOf(rows map[uint32]string, v string) uint32 {
	for k, r := range rows {
		if r == v {
			return k
		}
	}
	return 0
}
