package hosts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// inFlight runs every index once, k of them at a time at most and at least (each fn
// waits until k run together), and stops at the first error.
func TestInFlight(t *testing.T) {
	for _, tt := range []struct{ n, k int }{{0, 8}, {1, 8}, {5, 1}, {7, 3}, {64, 8}, {3, 8}} {
		var (
			mu        sync.Mutex
			ran       = make([]int, tt.n)
			now, most int
			full      = make(chan struct{})
			once      sync.Once
		)
		want := min(tt.n, tt.k)
		err := inFlight(tt.n, tt.k, func(i int) error {
			mu.Lock()
			ran[i]++
			now++
			most = max(most, now)
			if now == want {
				once.Do(func() { close(full) })
			}
			mu.Unlock()
			<-full // no fn returns before k ran together
			mu.Lock()
			now--
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Errorf("n %d k %d: %v", tt.n, tt.k, err)
		}
		if most != want && tt.n > 0 {
			t.Errorf("n %d k %d: %d at once, want %d", tt.n, tt.k, most, want)
		}
		for i, r := range ran {
			if r != 1 {
				t.Errorf("n %d k %d: fn(%d) ran %d times", tt.n, tt.k, i, r)
			}
		}
	}
	boom := errors.New("boom")
	var calls atomic.Int32
	if err := inFlight(10, 1, func(i int) error {
		calls.Add(1)
		if i == 2 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) || calls.Load() != 3 {
		t.Errorf("one at a time: %v after %d calls, want boom after 3", err, calls.Load())
	}
	calls.Store(0)
	if err := inFlight(1000, 4, func(i int) error {
		calls.Add(1)
		return fmt.Errorf("%d: %w", i, boom)
	}); !errors.Is(err, boom) || calls.Load() > 4 {
		t.Errorf("in flight: %v after %d calls, want boom after 4 at most", err, calls.Load())
	}
}

// addrDom is a domain of addrNode: one NIC on network, running unless off.
type addrDom struct {
	name, network string
	off           bool
}

// addrNode is a test-driver node with the network "default" (a DHCP range) and doms.
func addrNode(tb testing.TB, doms []addrDom) string {
	tb.Helper()
	node := `<?xml version="1.0"?>
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
    <active>2</active><mhz>2400</mhz><model>x86_64</model></cpu>
  <memory>16777216</memory>
  <network><name>default</name><forward mode="nat"/><bridge name="virbr0"/>
    <ip address="10.9.0.1" netmask="255.255.0.0"><dhcp><range start="10.9.0.2" end="10.9.255.254"/></dhcp></ip>
  </network>
`
	for i, d := range doms {
		runstate := ""
		if d.off {
			runstate = "<test:runstate>5</test:runstate>"
		}
		node += fmt.Sprintf(`  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>%s</name><uuid>44444444-3333-4444-5555-%012d</uuid>
    <memory>262144</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>%s
    <devices><interface type='network'><mac address='52:54:00:44:%02x:%02x'/><source network='%s'/></interface></devices>
  </domain>
`, d.name, i, runstate, i>>8, i&0xff, d.network)
	}
	node += "</node>\n"
	path := tb.TempDir() + "/node.xml"
	if err := os.WriteFile(path, []byte(node), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// startPolled runs a supervisor until its first stats round has been reported, and
// returns it with its connection.
func startPolled(t *testing.T, cfg Config, sink *fakeSink, opts ...Option) (*Supervisor, *conn) {
	t.Helper()
	s := startSupervisor(t, cfg, sink, opts...)
	waitUp(t, sink)
	testkit.WaitFor(t, 30*time.Second, "first stats", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestAddressRoundInFlight: an address round reads its domains several at a time; each
// domain gets what a query of its own gives, the failures (a network the host lacks)
// are remembered per domain, and stopped domains get nothing.
func TestAddressRoundInFlight(t *testing.T) {
	requireLibvirtd(t)
	var nets []addrDom
	for i := range 40 {
		d := addrDom{name: fmt.Sprintf("addr-%03d", i), network: "default"}
		switch i % 8 {
		case 3:
			d.network = "nowhere"
		case 6:
			d.off = true
		}
		nets = append(nets, d)
	}
	sink := newFakeSink()
	cfg := Config{Name: "inflight", URI: "test+unix://" + addrNode(t, nets), KeepaliveInterval: time.Hour,
		KeepaliveTimeout: 5 * time.Second, StatsInterval: time.Hour} // one stats round, at the start
	s, c := startPolled(t, cfg, sink)
	sink.mu.Lock()
	st := sink.stats[0]
	sink.mu.Unlock()
	doms := sink.lastSync().Domains
	if len(doms) != len(nets) {
		t.Fatalf("%d domains, want %d", len(doms), len(nets))
	}
	for i, d := range doms {
		ds := statsOf(st, d.UUID)
		switch {
		case nets[i].off:
			if len(ds.Addrs) != 0 || ds.State != StateShutoff {
				t.Errorf("%s (shut off): state %d, addresses %v", d.Name, ds.State, ds.Addrs)
			}
		case nets[i].network == "default":
			p, _ := planOf(&d)
			dom := libvirt.Domain{Name: d.Name, UUID: libvirt.UUID(d.UUID), ID: int32(d.ID)}
			alone, _, err := s.domainAddresses(context.Background(), c, d.UUID, dom, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Addrs) != 1 || ds.Addrs[0].Source != AddrLease || !slices.Equal(ds.Addrs, alone) {
				t.Errorf("%s: round's addresses %v, its own query's %v", d.Name, ds.Addrs, alone)
			}
		default:
			if len(ds.Addrs) != 0 {
				t.Errorf("%s (no such network): addresses %v", d.Name, ds.Addrs)
			}
			if got := s.plans.deadSources(d.UUID, time.Time{}); !got.has(AddrLease) {
				t.Errorf("%s (no such network): dead sources %b, want the lease", d.Name, got)
			}
		}
	}
}

// BenchmarkAddressRound measures this process's CPU per DomainInterfaceAddresses call
// (cpu-us/call, getrusage: libvirtd's share is not in it) in a round over 50 running
// domains, with 1 (one after the other), 4, addrReadsInFlight and 16 calls in flight.
// go test -run - -bench AddressRound ./hosts
func BenchmarkAddressRound(b *testing.B) {
	if _, err := os.Stat(systemSocket); err != nil {
		b.Skipf("SKIPPING: no libvirtd at %s", systemSocket)
	}
	var nets []addrDom
	for i := range 50 {
		nets = append(nets, addrDom{name: fmt.Sprintf("addr-%03d", i), network: "default"})
	}
	ctx, sink, c := benchConn(b, addrNode(b, nets))
	var doms []libvirt.Domain
	for _, d := range sink.lastSync().Domains {
		doms = append(doms, libvirt.Domain{Name: d.Name, UUID: libvirt.UUID(d.UUID), ID: int32(d.ID)})
	}
	sctx := withSession(ctx, c)
	for _, k := range []int{1, 4, addrReadsInFlight, 16} {
		b.Run(fmt.Sprint("inflight-", k), func(b *testing.B) {
			b.ReportAllocs()
			t0 := cpuTime()
			for b.Loop() {
				err := inFlight(len(doms), k, func(i int) error {
					_, err := callT(sctx, c, "DomainInterfaceAddresses", func(l *lv) ([]libvirt.DomainInterface, error) {
						return l.DomainInterfaceAddresses(doms[i], uint32(AddrLease), 0)
					})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-t0)/float64(time.Microsecond)/float64(b.N*len(doms)), "cpu-us/call")
		})
	}
}

// TestBulkLeasesLackedOnce: a host without NetworkGetDhcpLeases (the test driver) is
// asked it once per connection, as one domain at a time asked it: once it answered
// "no support", no domain of the round asks it again for another network, also not
// one that was already waiting for the round's lease lock.
func TestBulkLeasesLackedOnce(t *testing.T) {
	requireLibvirtd(t)
	var doms []addrDom
	for i := range 32 {
		network := "default"
		if i%2 == 1 {
			network = fmt.Sprintf("other%d", i%8)
		}
		doms = append(doms, addrDom{name: fmt.Sprintf("lacked-%03d", i), network: network})
	}
	path := addrNode(t, doms)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	node, nets := string(b), ""
	for _, n := range []int{1, 3, 5, 7} {
		nets += fmt.Sprintf(`  <network><name>other%d</name><forward mode="nat"/><bridge name="virbr%d"/>
    <ip address="10.%d.0.1" netmask="255.255.0.0"><dhcp><range start="10.%d.0.2" end="10.%d.255.254"/></dhcp></ip>
  </network>
`, n, 10+n, 20+n, 20+n, 20+n)
	}
	node = strings.Replace(node, "  </network>\n", "  </network>\n"+nets, 1)
	if err := os.WriteFile(path, []byte(node), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := &callCounter{}
	sink := newFakeSink()
	cfg := Config{Name: "lacked", URI: "test+unix://" + path, KeepaliveInterval: time.Hour,
		KeepaliveTimeout: 5 * time.Second, StatsInterval: time.Hour} // one stats round, at the start
	_, c := startPolled(t, cfg, sink, WithCallObserver(calls.observe))
	if lacks := c.lacks.Load(); lacks&(1<<srcBulkLeases) == 0 {
		t.Fatalf("the host lacks sources %b, want the bulk leases among them", lacks)
	}
	n := 0
	for _, p := range calls.snapshot() {
		if p == "NetworkGetDhcpLeases" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("NetworkGetDhcpLeases asked %d times in the round, want once (the host lacks it)", n)
	}
}
