package gateway

import (
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// TestVMCursorMatchesVMs: the MIB view's cursor answers every seek, in any order, as
// Snapshot.VMs does, in the merged context (a UUID on two hosts shown once, by Prefer)
// and in each host's context.
func TestVMCursorMatchesVMs(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	reg, err := OpenRegistry(filepath.Join(t.TempDir(), "indexes.json"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	v, err := NewView(reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}, {Name: "c", URI: "test:///c"}})
	for _, h := range []string{"a", "b", "c"} {
		v.Health(h, hosts.Health{Status: hosts.Up, Since: time.Now()})
	}
	dom := func(n byte, st hosts.DomainState) hosts.Domain {
		return hosts.Domain{UUID: hosts.UUID{0xcc, 15: n}, Name: string('a' + rune(n)), ID: -1, State: st}
	}
	var a, b []hosts.Domain
	for n := byte(0); n < 30; n++ {
		switch n % 3 {
		case 0:
			a = append(a, dom(n, hosts.StateShutoff))
		case 1:
			b = append(b, dom(n, hosts.StateRunning))
		default: // on both hosts: running on one of them
			a = append(a, dom(n, hosts.StateRunning))
			b = append(b, dom(n, hosts.StateShutoff))
		}
	}
	v.Synced("a", hosts.Inventory{Domains: a})
	v.Synced("b", hosts.Inventory{Domains: b})
	v.Health("b", hosts.Health{Status: hosts.Down, Since: time.Now()})
	m := NewMIBView(v, reg, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ctx := range []string{"", "a", "b", "c", "nosuch"} {
		ms := m.Snapshot(ctx).(*mibSnap)
		var last uint32
		for i := range 2000 {
			from := last + 1 // mostly a walk, sometimes a jump or a repeat
			switch rng.IntN(5) {
			case 0:
				from = uint32(rng.IntN(40))
			case 1:
				from = last
			}
			got, ok := ms.seekVM(from)
			var want VMRow
			wok := false
			for r := range ms.s.VMs(ctx, from) {
				want, wok = r, true
				break
			}
			if ok != wok || (ok && (got.VM != want.VM || got.Stale != want.Stale)) {
				t.Fatalf("context %q seek %d (#%d): cursor %v %v, VMs %v %v", ctx, from, i, ok, got.VM, wok, want.VM)
			}
			if ok {
				last = got.VMID
			} else {
				last = 0
			}
		}
	}
}
