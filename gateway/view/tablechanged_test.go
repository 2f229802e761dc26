package view_test

import (
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
)

// TestTableChanged: a VM row that appears or goes moves its host's time (and the
// merged context's when the vmId appears in or leaves the cluster); a state change or
// a resync that changes nothing does not.
func TestTableChanged(t *testing.T) {
	v := viewtest.New(t, "a", "b")
	at := func() time.Time { return v.Clock.Now() }
	expect := func(step string, a, b, merged time.Time) {
		t.Helper()
		for ctx, want := range map[string]time.Time{"a": a, "b": b, "": merged} {
			if got := v.TableChanged(ctx); !got.Equal(want) {
				t.Errorf("%s: TableChanged(%q) = %v, want %v", step, ctx, got, want)
			}
		}
	}
	var zero time.Time
	expect("empty", zero, zero, zero)

	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning)}})
	t1 := at()
	expect("first sync", t1, zero, t1)

	v.Clock.Add(time.Minute)
	v.DomainUpdated("a", viewtest.Domain(1, hosts.StatePaused))
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StatePaused)}})
	expect("a state change and a resync", t1, zero, t1)

	v.Clock.Add(time.Minute)
	v.DomainUpdated("b", viewtest.Domain(1, hosts.StatePaused)) // the same VM on b too
	t2 := at()
	expect("the VM on a second host", t1, t2, t1)

	v.Clock.Add(time.Minute)
	v.DomainRemoved("a", viewtest.UUID(1))
	t3 := at()
	expect("gone from a, still on b", t3, t2, t1)

	v.Clock.Add(time.Minute)
	v.DomainRemoved("b", viewtest.UUID(1))
	t4 := at()
	expect("gone from the cluster", t3, t4, t4)

	if n := v.Read().VMCount(""); n != 0 {
		t.Errorf("VMCount merged = %d after every VM went", n)
	}
}

func TestVMCount(t *testing.T) {
	v := viewtest.New(t, "a", "b")
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning),
		viewtest.Domain(2, hosts.StateShutoff)}})
	v.Synced("b", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(2, hosts.StateRunning),
		viewtest.Domain(3, hosts.StateRunning)}})
	s := v.Read()
	for ctx, want := range map[string]int{"a": 2, "b": 2, "": 3, "nowhere": 0} {
		if got := s.VMCount(ctx); got != want {
			t.Errorf("VMCount(%q) = %d, want %d", ctx, got, want)
		}
	}
}
