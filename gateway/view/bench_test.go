package view_test

import (
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vmgate/vmgate/hosts"
)

// benchView is a view with two hosts of n VMs each, half of them on both hosts.
func benchView(b *testing.B, n int) *view.View {
	b.Helper()
	v, _ := viewtest.Open(b, filepath.Join(b.TempDir(), "i.json"))
	for h, host := range []string{"a", "b"} {
		v.Health(host, hosts.Health{Status: hosts.Up})
		v.Synced(host, benchInventory(n, h*n/2))
	}
	return v
}

func benchInventory(n, offset int) hosts.Inventory {
	var inv hosts.Inventory
	for i := range n {
		var u hosts.UUID
		u[0], u[1], u[2] = byte((i+offset)>>16), byte((i+offset)>>8), byte(i+offset)
		inv.Domains = append(inv.Domains, hosts.Domain{UUID: u, Name: fmt.Sprint("vm", i),
			State: hosts.StateRunning, Disks: []hosts.Disk{{Target: "vda", Source: fmt.Sprint("/img/", i+offset)}},
			NICs: []hosts.NIC{{MAC: fmt.Sprintf("52:54:00:%06x", i+offset)}}})
	}
	return inv
}

// BenchmarkSnapshotNextVM is what a GETNEXT costs: a snapshot and the first VM >= k.
func BenchmarkSnapshotNextVM(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			v := benchView(b, n)
			b.ResetTimer()
			for i := range b.N {
				s := v.Read()
				for r := range s.VMs("", uint32(i%n)+1) {
					_ = r
					break
				}
			}
		})
	}
}

// BenchmarkSynced is a full resync of a host of 1000 VMs that are already known.
func BenchmarkSynced(b *testing.B) {
	v := benchView(b, 1000)
	inv := benchInventory(1000, 0)
	b.ResetTimer()
	for range b.N {
		v.Synced("a", inv)
	}
}

// BenchmarkViewMemory is the view's (and its file registry's) heap per VM over hosts of
// VMs shaped like bench/cmd/fleet's test-driver domains (a qcow2 disk, a NIC), every
// string allocated on its own as the XML parser does. One op builds the whole view;
// bytes/VM is the live heap it adds, after a GC.
func BenchmarkViewMemory(b *testing.B) {
	for _, size := range []struct{ hosts, vms int }{{1, 10000}, {100, 100}, {1000, 50}} {
		b.Run(fmt.Sprintf("%dx%d", size.hosts, size.vms), func(b *testing.B) {
			for range b.N {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				v, reg := viewtest.Open(b, filepath.Join(b.TempDir(), "i.json"))
				for h := range size.hosts {
					host := fmt.Sprintf("fleet%03d", h)
					v.Health(host, hosts.Health{Status: hosts.Up})
					v.Synced(host, fleetInventory(h, size.vms))
				}
				if err := reg.Flush(); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&m1)
				alloc := m1.TotalAlloc - m0.TotalAlloc
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(size.hosts*size.vms), "bytes/VM")
				b.ReportMetric(float64(alloc)/float64(size.hosts*size.vms), "alloc-B/VM")
				viewKept = v
			}
		})
	}
}

// viewKept keeps the last view of BenchmarkViewMemory alive for go test -memprofile
// (written after the benchmarks), which then shows where its bytes go.
var viewKept *view.View

// fleetInventory is host h's domains as bench/internal/fleet writes them.
func fleetInventory(h, n int) hosts.Inventory {
	c := strings.Clone
	var inv hosts.Inventory
	for i := range n {
		u := hosts.UUID{0xf1, 0xee, 0x70, byte(h >> 8), byte(h), 14: byte(i >> 8), 15: byte(i)}
		state := hosts.StateRunning
		if i%10 == 9 {
			state = hosts.StateShutoff
		}
		inv.Domains = append(inv.Domains, hosts.Domain{UUID: u, Name: fmt.Sprintf("h%03d-vm%03d", h, i),
			ID: int32(i + 1), State: state, Persistent: true, MemoryKiB: 2 << 20, CurrentMemoryKiB: 3 << 19,
			VCPUs: 2, MaxVCPUs: 2, DomainType: c("test"), OSType: c("hvm"), Arch: c("x86_64"),
			Disks: []hosts.Disk{{Device: c("disk"), Type: c("file"), Bus: c("virtio"), Target: c("vda"),
				Source: fmt.Sprintf("/fleet/h%03d/vm%03d.qcow2", h, i), Format: c("qcow2")}},
			NICs: []hosts.NIC{{MAC: fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", h>>8, h&0xff, i>>8, i&0xff),
				Type: c("network"), Source: c("default"), Model: c("virtio")}}})
	}
	return inv
}

// BenchmarkSizesPatched is the sizes a host's resync left, reported after the first
// view as hosts.readDueSizes does (DomainsPatched, FieldSizes, 256 domains a call) over
// 10,000 VMs of one host with a disk outside pools each, after a read that cached the
// merged context's summaries (an SNMP walk's). alloc-B/VM is what the patches allocate,
// live-B/VM the live heap they add (after a GC).
func BenchmarkSizesPatched(b *testing.B) {
	const n, batch = 10000, 256
	inv := fleetInventory(0, n)
	for range b.N {
		b.StopTimer()
		v, _ := viewtest.Open(b, filepath.Join(b.TempDir(), "i.json"))
		v.Health("h", hosts.Health{Status: hosts.Up})
		v.Synced("h", inv)
		func() { // the walk's snapshot goes; its summaries stay cached
			s := v.Read()
			for range s.VMs("", 1) {
			}
			for range s.Images("", 1) {
			}
		}()
		sized := make([]hosts.Domain, n)
		for i, d := range inv.Domains {
			dk := d.Disks[0]
			dk.Capacity, dk.Allocation = 10<<30, uint64(i+1)<<20
			sized[i] = hosts.Domain{UUID: d.UUID, Disks: []hosts.Disk{dk}}
		}
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		for i := 0; i < n; i += batch {
			v.DomainsPatched("h", sized[i:min(i+batch, n)], hosts.FieldSizes)
		}
		b.StopTimer()
		runtime.ReadMemStats(&m1)
		alloc := m1.TotalAlloc - m0.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(alloc)/n, "alloc-B/VM")
		b.ReportMetric((float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/n, "live-B/VM")
		if im, ok := v.Read().Image("", 1); !ok || im.Capacity != 10<<30 {
			b.Fatalf("image 1 after the patches: %+v", im)
		}
		b.StartTimer()
	}
}
