package view_test

import (
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"fmt"
	"path/filepath"
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
