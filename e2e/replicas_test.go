package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/mib"
)

// replicaNode writes a test-driver node of n domains (one disk and one NIC each) for
// host h and returns its path.
func replicaNode(t *testing.T, dir string, h, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<node><cpu><mhz>2000</mhz><model>x86_64</model><active>4</active>` +
		`<nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>2</threads></cpu><memory>8388608</memory>`)
	for i := range n {
		fmt.Fprintf(&b, `<domain type="test"><name>rep-%d-%d</name><uuid>0e2e0000-0000-4000-8000-%06d%06d</uuid>`+
			`<memory unit="MiB">64</memory><vcpu>1</vcpu><os><type arch="x86_64">hvm</type></os><devices>`+
			`<disk type="file" device="disk"><source file="/img/rep-%d-%d.qcow2"/><target dev="vda" bus="virtio"/></disk>`+
			`<interface type="network"><mac address="52:54:00:%02x:%02x:%02x"/><source network="default"/></interface>`+
			`</devices></domain>`, h, i, h, i, h, i, h, i>>8, i&0xff)
	}
	b.WriteString(`</node>`)
	p := filepath.Join(dir, fmt.Sprintf("rep-%d.xml", h))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReplicasIdenticalIndexes: two gateways sharing an etcd registry, started at
// once on the same 10 test-driver hosts of 100 VMs each, number every row alike: walks
// with net-snmp of the configuration columns of every table through each replica give
// the same instances and values.
func TestReplicasIdenticalIndexes(t *testing.T) {
	bin := binary(t)
	const nHosts, perHost = 10, 100
	hs, _ := replicaHosts(t, nHosts, perHost)
	c := etcdtest.Start(t)
	start := func(replica string) *Gateway {
		return Start(t, bin, replicaConfig(Config{Users: []User{admin}, Hosts: hs}, c, "/e2e-replicas/", replica, "10s"))
	}
	a, b := start("rep-a"), start("rep-b")
	vmName := mustOID(t, "vmName")
	for _, g := range []*Gateway{a, b} {
		pollUntil(t, 3*time.Minute, "every VM in "+g.Dir, func() string {
			if n := len(g.Walk(t, admin.Cred(""), vmName, "-Cr50")); n != nHosts*perHost {
				return fmt.Sprintf("%d VMs", n)
			}
			return ""
		})
	}
	for _, col := range []string{"hypervisorName", "vmUUID", "vmName", "vmHost", "storageVmUUID",
		"storageTargetDevice", "networkVmUUID", "networkMacAddress"} {
		root := mustOID(t, col)
		wa, wb := a.Walk(t, admin.Cred(""), root, "-Cr50"), b.Walk(t, admin.Cred(""), root, "-Cr50")
		if len(wa) == 0 || fmtVars(wa) != fmtVars(wb) {
			t.Fatalf("%s differs between the replicas (%d and %d instances):\nA:\n%.2000s\nB:\n%.2000s",
				col, len(wa), len(wb), fmtVars(wa), fmtVars(wb))
		}
	}
}

// replicaConfig is cfg as replica name of a cluster whose registry is in etcd
// cluster c under prefix; timeout is registry.timeout, how long a SET waits for etcd.
func replicaConfig(cfg Config, c *etcdtest.Cluster, prefix, name, timeout string) Config {
	raw := map[string]any{}
	maps.Copy(raw, cfg.Raw)
	raw["registry"] = map[string]any{"backend": "etcd", "endpoints": c.Endpoints(), "prefix": prefix, "timeout": timeout}
	raw["replica"] = map[string]any{"name": name}
	cfg.Raw = raw
	return cfg
}

// mustOID is the numeric OID of a VIRTUAL-MACHINES-MIB object.
func mustOID(t *testing.T, name string) string {
	t.Helper()
	o, ok := mib.Lookup(name)
	if !ok {
		t.Fatalf("no object %q in the module", name)
	}
	return o.String()
}
