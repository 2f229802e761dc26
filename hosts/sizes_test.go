package hosts

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// A host's first address round and the disk sizes its resync left wait at the
// SyncGate while another host sharing it has not made its first resync attempt; its
// stats polls do not. They run as soon as the gate opens: here the next stats round is
// an hour away.
func TestSyncGateHoldsFirstRounds(t *testing.T) {
	requireLibvirtd(t)
	gate := NewSyncGate(time.Hour)
	calls := &callCounter{}
	sinkA := newFakeSink()
	cfgA := testHost(t, "gate-a")
	cfgA.StatsInterval = time.Hour
	a := startSupervisor(t, cfgA, sinkA, WithSyncGate(gate), WithCallObserver(calls.observe))

	release := make(chan struct{})
	cfgB := testHost(t, "gate-b")
	cfgB.ConnectTimeout = 10 * time.Minute
	startSupervisor(t, cfgB, newFakeSink(), WithSyncGate(gate), WithDialer(func(ctx context.Context) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var d net.Dialer
		return d.DialContext(ctx, "unix", systemSocket)
	}))

	testkit.WaitFor(t, 90*time.Second, "gate-a's first stats poll", func() bool { _, _, _, n := sinkA.counts(); return n >= 1 })
	addressCalls := func() (n int) {
		for p, k := range perProcOf(calls.snapshot()) {
			if strings.HasPrefix(p, "DomainInterfaceAddresses") || strings.HasPrefix(p, "NetworkGetDhcpLeases") ||
				strings.HasPrefix(p, "DomainGetBlockInfo") {
				n += k
			}
		}
		return n
	}
	if n, due := addressCalls(), a.SizesDue(); n != 0 || due == 0 {
		t.Fatalf("while gate-b connects: %d address or block info calls, %d domains' sizes due; want 0 and > 0", n, due)
	}
	close(release)
	testkit.WaitFor(t, 90*time.Second, "gate-a's addresses and sizes once gate-b synced", func() bool {
		return addressCalls() > 0 && a.SizesDue() == 0
	})
}

// A reconnect's resync shows the sizes last read for a disk that is due again (same
// target), not unknown; a target that was not sized stays unknown until read.
func TestLastSizesKeptOverResync(t *testing.T) {
	var a addrPlans
	a.reset([]Domain{{UUID: UUID{1}, Disks: []Disk{
		{Type: "file", Target: "vda", Source: "/a.qcow2", Capacity: 10, Allocation: 4},
		{Type: "file", Target: "vdb", Source: "/b.qcow2", Capacity: 20, Allocation: 5}}}})
	doms := []Domain{{UUID: UUID{1}, Disks: []Disk{
		{Type: "file", Target: "vda", Source: "/a.qcow2"}, {Type: "file", Target: "vdc", Source: "/new.qcow2"}}}}
	due := map[UUID]dueSizes{{1}: {disks: []dueDisk{{"vda", "/a.qcow2"}, {"vdc", "/new.qcow2"}}}}
	a.lastSizes(doms, due)
	if got := doms[0].Disks; got[0].Capacity != 10 || got[0].Allocation != 4 || got[1].Capacity != 0 {
		t.Errorf("disks after the resync: %+v", got)
	}
}

// Sizes read after the resync replace the plan's entry of the same disk.
func TestAddSizedReplaces(t *testing.T) {
	var a addrPlans
	a.reset([]Domain{{UUID: UUID{1}, Disks: []Disk{{Type: "file", Target: "vda", Source: "/a.qcow2", Capacity: 10}}}})
	a.addSized(UUID{1}, []Disk{{Type: "file", Target: "vda", Source: "/a.qcow2", Capacity: 12}, {Target: "vdb", Source: "/b"}})
	if p := a.m[UUID{1}].plan; len(p.sized) != 1 || p.sized[0].capacity != 12 {
		t.Errorf("sized disks %+v, want vda at 12 only", p.sized)
	}
	a.addSized(UUID{2}, []Disk{{Target: "vda", Source: "/c", Capacity: 1}})
	if x := a.m[UUID{2}]; x == nil || len(x.plan.sized) != 1 || x.plan.gen == 0 {
		t.Errorf("a domain without a plan: %+v", x)
	}
}

// knownSizes sizes the disks outside pools that an inactive domain's block stats give
// and leaves the others due, by target and source only; pool volumes, network disks and
// empty drives are never due.
func TestKnownSizes(t *testing.T) {
	disks := []Disk{
		{Type: "file", Device: "disk", Bus: "virtio", Format: "qcow2", Target: "vda", Source: "/img/a.qcow2"},
		{Type: "file", Target: "vdb", Source: "/pool/b.img"},
		{Type: "block", Target: "vdc", Source: "/dev/sdc"},
		{Type: "network", Target: "vdd", Source: "rbd/d"},
		{Type: "file", Device: "cdrom", Target: "hda"},
	}
	inPool := func(p string) bool { return strings.HasPrefix(p, "/pool/") }
	known := []BlockStats{{Name: "vdc", Path: "/dev/sdc", Capacity: 8, Allocation: 8}}
	due := knownSizes(disks, inPool, known)
	if want := []dueDisk{{"vda", "/img/a.qcow2"}}; !slices.Equal(due, want) {
		t.Errorf("due %+v, want %+v", due, want)
	}
	if disks[2].Capacity != 8 || disks[0].Capacity != 0 || disks[1].Capacity != 0 {
		t.Errorf("disks after: %+v", disks)
	}
}
