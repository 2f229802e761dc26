package view_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
)

// TestViewWithRealSupervisors drives the view with two real hosts.Supervisors on the
// libvirt test driver (each connection is a private fake host built from
// testdata/node.xml, so both hosts report the same UUIDs: a real duplicate).
func TestViewWithRealSupervisors(t *testing.T) {
	names := []string{"gw-t1", "gw-t2"}
	tv, list, _ := viewtest.Live(t, names...)
	sups := map[string]*hosts.Supervisor{}
	for i, n := range names {
		sups[n] = list[i]
	}

	webUUID, _ := hosts.ParseUUID("5c1f0a2e-7b3d-4e6f-9a10-000000000001")
	testkit.WaitFor(t, 90*time.Second, "both hosts synced with fresh counters", func() bool {
		s := tv.Read()
		for _, n := range names {
			e, ok := s.Host(n)
			if !ok || e.Health.Status != hosts.Up || e.SyncedAt.IsZero() || e.VMs != 2 {
				return false
			}
			r, ok := s.VMByUUID(n, webUUID)
			if !ok {
				return false
			}
			if st, fresh := s.Stats(n); !fresh {
				return false
			} else if _, ok := st.Domain(r.Domain.UUID); !ok {
				return false
			}
		}
		return true
	})

	s := tv.Read()
	merged := slices.Collect(s.VMs("", 0))
	if len(merged) != 2 {
		t.Fatalf("merged context shows %d VMs, want 2 (same UUIDs on both hosts)", len(merged))
	}
	for _, n := range names {
		if got := len(slices.Collect(s.VMs(n, 0))); got != 2 {
			t.Errorf("context %s shows %d VMs, want 2", n, got)
		}
	}
	web, _ := s.VMByUUID("", webUUID)
	if web.Domain.Name != "gw-web" || web.Domain.State != hosts.StateRunning || web.Stale {
		t.Errorf("merged gw-web = %+v", web.VM)
	}
	if len(web.Disks) != 1 || web.Disks[0].DiskImageIndex == 0 {
		t.Fatalf("gw-web disks = %+v", web.Disks)
	}
	im, ok := s.Image(web.Host, web.Disks[0].DiskImageIndex)
	if !ok || im.Volume == nil || im.Path != "/gw-pool/web.qcow2" {
		t.Errorf("gw-web's volume image = %+v %v", im, ok)
	}
	if kn := slices.Collect(s.Kernels("", 0)); len(kn) != 1 || kn[0].Kernel != "/boot/vmlinuz-gw" {
		t.Errorf("kernels = %+v", kn)
	}
	if got := len(slices.Collect(s.Pools("", 0))); got != 2 {
		t.Errorf("merged pools = %d, want one per host", got)
	}

	// Pause the domain on the merged winner and power it off on the other host: each
	// context follows its own events, and the merged row stays with the host where the
	// domain is still active (paused).
	other := names[0]
	if web.Host == other {
		other = names[1]
	}
	opCtx, opCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer opCancel()
	if err := sups[web.Host].Suspend(opCtx, webUUID); err != nil {
		t.Fatalf("suspend on %s: %v", web.Host, err)
	}
	if err := sups[other].Destroy(opCtx, webUUID); err != nil {
		t.Fatalf("destroy on %s: %v", other, err)
	}
	testkit.WaitFor(t, 90*time.Second, "events applied", func() bool {
		s := tv.Read()
		a, _ := s.VMByUUID(web.Host, webUUID)
		b, _ := s.VMByUUID(other, webUUID)
		return a.VM != nil && b.VM != nil &&
			a.Domain.State == hosts.StatePaused && b.Domain.State == hosts.StateShutoff
	})
	if m, _ := tv.Read().VMByUUID("", webUUID); m.Host != web.Host {
		t.Errorf("merged row from %s, want %s where the domain is still active", m.Host, web.Host)
	}
}

// TestViewReconnectReconciles cuts a real supervisor's connection. The test driver
// gives every connection a fresh host from node.xml, so what changed during the first
// connection (a domain defined, one paused) is gone after the reconnect: the view must
// show the stale rows while the host is down, then exactly the new inventory, with the
// same vmIds for the domains that stayed.
func TestViewReconnectReconciles(t *testing.T) {
	const host = "gw-reconnect"
	tv, sups, links := viewtest.Live(t, host)
	sup, dialer := sups[0], links[0]
	hostIs := func(st hosts.Status, vms int) func() bool {
		return func() bool {
			e, ok := tv.Read().Host(host)
			return ok && e.Health.Status == st && e.VMs == vms
		}
	}
	testkit.WaitFor(t, 90*time.Second, "host up with 2 VMs", hostIs(hosts.Up, 2))
	before := viewtest.VMIDs(t, tv.Read(), host)

	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "gw-new-" + hex.EncodeToString(suffix)
	opCtx, opCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer opCancel()
	added, err := sup.Define(opCtx, "<domain type='test'><name>"+name+
		"</name><memory>65536</memory><os><type>hvm</type></os></domain>")
	if err != nil {
		t.Fatalf("define %s: %v", name, err)
	}
	testkit.WaitFor(t, 90*time.Second, "defined domain in the view", hostIs(hosts.Up, 3))

	dialer.Cut()
	testkit.WaitFor(t, 90*time.Second, "host down", hostIs(hosts.Down, 3))
	s := tv.Read()
	for r := range s.VMs("", 0) {
		if !r.Stale {
			t.Errorf("%s not stale while its host is down", r.Domain.Name)
		}
		if _, fresh := s.DomainStats(r); fresh {
			t.Errorf("%s counters fresh while its host is down", r.Domain.Name)
		}
	}
	if h, _ := s.HostHealth(host); h.LastError == "" {
		t.Errorf("down host without last error: %+v", h)
	}

	dialer.Restore()
	testkit.WaitFor(t, 90*time.Second, "host back with the fixture's 2 VMs", hostIs(hosts.Up, 2))
	s = tv.Read()
	after := viewtest.VMIDs(t, s, host)
	if _, ghost := after[added.UUID]; ghost {
		t.Errorf("domain %s gone from the host is still in the view", name)
	}
	for u, id := range before {
		if after[u] != id {
			t.Errorf("%s: vmId %d after reconnect, want %d", u, after[u], id)
		}
	}
	if got := len(slices.Collect(s.VMs("", 0))); got != 2 {
		t.Errorf("merged context shows %d VMs, want 2", got)
	}
	for r := range s.VMs("", 0) {
		if r.Stale {
			t.Errorf("%s still stale after the resync", r.Domain.Name)
		}
	}
}
