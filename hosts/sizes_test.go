package hosts

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// A host's first address round and the disk sizes its resync left wait at the
// SyncGate while another host sharing it has not made its first resync attempt; its
// stats polls do not.
func TestSyncGateHoldsFirstRounds(t *testing.T) {
	requireLibvirtd(t)
	gate := NewSyncGate(time.Hour)
	calls := &callCounter{}
	sinkA := newFakeSink()
	cfgA := testHost(t, "gate-a")
	cfgA.StatsInterval = time.Second
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

	testkit.WaitFor(t, 90*time.Second, "two stats polls of gate-a", func() bool { _, _, _, n := sinkA.counts(); return n >= 2 })
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
