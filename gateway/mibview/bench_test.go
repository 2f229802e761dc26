package mibview_test

import (
	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"

	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// benchMIB is a handler over a view with one host of n VMs (2 disks, 1 NIC, 2 vCPUs
// each) and current counters.
func benchMIB(b *testing.B, n int) *mib.Handler {
	b.Helper()
	return benchFleetMIB(b, 1, n)
}

// benchFleetMIB is benchMIB with nh hosts of n VMs each, as bench/cmd/fleet has them.
func benchFleetMIB(b *testing.B, nh, n int) *mib.Handler {
	b.Helper()
	_, h := fleetMIB(b, nh, n)
	return h
}

// fleetMIB is a view of nh hosts h000, h001... of n synced VMs each, and its MIB handler.
func fleetMIB(tb testing.TB, nh, n int) (*view.View, *mib.Handler) {
	tb.Helper()
	// The file is written at the end only, never by a timer in the middle of a measured
	// walk (a JSON of every index: a few hundred million instructions at 10,000 VMs).
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.OpenFile(filepath.Join(tb.TempDir(), "indexes.json"), logger, registry.WithFlushDelay(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = reg.Close() })
	v, err := view.New(reg, logger)
	if err != nil {
		tb.Fatal(err)
	}
	var specs []view.HostSpec
	for h := range nh {
		specs = append(specs, view.HostSpec{Name: fmt.Sprintf("h%03d", h), URI: "qemu:///system"})
	}
	v.SetHosts(specs)
	for h, spec := range specs {
		syncBenchHost(v, spec.Name, h*n, n)
	}
	return v, mib.NewHandler(mibview.New(v, reg, nil))
}

// syncBenchHost gives host n VMs numbered from first on, Up, with counters.
func syncBenchHost(v *view.View, host string, first, n int) {
	v.Health(host, hosts.Health{Status: hosts.Up, Since: time.Now()})
	inv := hosts.Inventory{}
	var ds []hosts.DomainStats
	for i := first; i < first+n; i++ {
		u := hosts.UUID{0xbe, byte(i >> 16), byte(i >> 8), byte(i)}
		inv.Domains = append(inv.Domains, hosts.Domain{UUID: u, Name: fmt.Sprintf("vm%05d", i), ID: int32(i + 1),
			State: hosts.StateRunning, Persistent: true, MemoryKiB: 1 << 20, VCPUs: 2, MaxVCPUs: 2, OSType: "hvm",
			Disks: []hosts.Disk{
				{Device: "disk", Type: "file", Bus: "virtio", Target: "vda", Source: fmt.Sprintf("/img/%d-a", i)},
				{Device: "disk", Type: "file", Bus: "virtio", Target: "vdb", Source: fmt.Sprintf("/img/%d-b", i)},
			},
			NICs: []hosts.NIC{{MAC: fmt.Sprintf("52:54:00:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i)),
				Type: "network", Source: "default", Target: fmt.Sprintf("vnet%d", i)}},
		})
		ds = append(ds, hosts.DomainStats{UUID: u, CPUTimeNs: uint64(i) * 1e9,
			Blocks: []hosts.BlockStats{{Name: "vda", RdBytes: 1}, {Name: "vdb", RdBytes: 2}},
			Nets:   []hosts.NetStats{{Name: fmt.Sprintf("vnet%d", i), RxBytes: 3}}})
	}
	v.Synced(host, inv)
	v.Stats(host, hosts.NewStats(time.Now(), ds))
}

// BenchmarkMIBWalk walks a table with GETBULK-sized requests (25 varbinds share one
// request, as in snmpbulkwalk -Cr25); ns/op and allocs/op are per varbind.
func BenchmarkMIBWalk(b *testing.B) {
	h := benchMIB(b, 1000)
	for _, table := range []string{"virtualMachinesTable", "storageTable", "networkTable", "cpuTable"} {
		root, _ := mib.Lookup(table)
		b.Run(table, func(b *testing.B) { mibtest.BenchWalk(b, h, root) })
	}
}

// BenchmarkMIBWalkFleet walks the whole module over 100 hosts x 100 VMs in the
// merged context, 25 varbinds per request; ns/op and allocs/op are per varbind.
func BenchmarkMIBWalkFleet(b *testing.B) {
	h := benchFleetMIB(b, 100, 100)
	mibtest.BenchWalk(b, h, mib.Root)
}

// BenchmarkMIBGet reads one column of random rows, one request per GET.
func BenchmarkMIBGet(b *testing.B) {
	h := benchMIB(b, 1000)
	col, _ := mib.Lookup("vmName")
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Get(ctx, &snmp.Request{}, col.Append(uint32(i%1000+1)))
	}
}

// BenchmarkMIBWalkFleetTable walks virtualMachinesTable over 100 hosts x 100 VMs in the
// merged context, 25 varbinds per request, as the fleet bench's 10,000-VM table walk
// does (ns/op and allocs/op per varbind). Its instructions per varbind:
// valgrind --tool=callgrind --toggle-collect='*mibtest.BenchWalk' with
// GODEBUG=asyncpreemptoff=1 (callgrind does not follow Go's preemption signals).
func BenchmarkMIBWalkFleetTable(b *testing.B) {
	h := benchFleetMIB(b, 100, 100)
	mibtest.BenchWalk(b, h, mib.VirtualMachinesTable.OID)
}
