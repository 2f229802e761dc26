package gateway

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
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
