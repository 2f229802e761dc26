package hosts

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// callCounter records the procedure of every libvirt call (WithCallObserver).
type callCounter struct {
	mu    sync.Mutex
	procs []string
}

func (c *callCounter) observe(proc string, _ time.Duration, _ error) {
	c.mu.Lock()
	c.procs = append(c.procs, proc)
	c.mu.Unlock()
}

func (c *callCounter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.procs...)
}

// syncCounter is a fakeSink that notes how many calls had been made when the first
// Synced came: the subscriptions and the resync, nothing after.
type syncCounter struct {
	*fakeSink
	calls *callCounter
	sup   atomic.Pointer[Supervisor]
	mu    sync.Mutex
	at    []string
	rpcs  uint64 // Supervisor.RPCs then
}

func (s *syncCounter) Synced(host string, inv Inventory) {
	s.mu.Lock()
	if s.at == nil {
		s.at = s.calls.snapshot()
		s.rpcs = s.sup.Load().RPCs()
	}
	s.mu.Unlock()
	s.fakeSink.Synced(host, inv)
}

// A resync costs one call per domain (its XML) and a few per host: state,
// persistence and autostart come from listings and the state stats. The sizes of
// disks outside pools that no bulk call gives (the test driver has no block stats)
// come after the Synced report, in one DomainsPatched.
func TestResyncCallsPerDomain(t *testing.T) {
	requireLibvirtd(t)
	const n = 60
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
    <active>2</active><mhz>2400</mhz><model>x86_64</model></cpu>
  <memory>16777216</memory>
`)
	for i := range n {
		runstate, disk := "", ""
		if i%3 == 2 {
			runstate = "<test:runstate>5</test:runstate>"
		}
		if i%2 == 0 { // a pool volume: sized by the storage read, not per domain
			disk = `<devices><disk type='file' device='disk'><source file='/fake/pool/vol1.img'/>
        <target dev='vda' bus='virtio'/></disk></devices>`
		} else { // outside pools: sized after the resync
			disk = fmt.Sprintf(`<devices><disk type='file' device='disk'><source file='/fake/other/%03d.qcow2'/>
        <target dev='vda' bus='virtio'/></disk></devices>`, i)
		}
		fmt.Fprintf(&b, `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>rpc-%03d</name><uuid>22222222-3333-4444-5555-%012d</uuid>
    <memory>262144</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>%s%s
  </domain>
`, i, i, runstate, disk)
	}
	pool := readFixture(t, "node.xml")
	pool = pool[strings.Index(pool, "  <pool"):]
	b.WriteString(pool)
	path := t.TempDir() + "/node.xml"
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := &callCounter{}
	sink := &syncCounter{fakeSink: newFakeSink(), calls: calls}
	cfg := Config{Name: "rpc", URI: "test+unix://" + path, KeepaliveInterval: time.Hour, KeepaliveTimeout: 5 * time.Second}
	// The supervisor is known to the sink before it runs.
	sup, err := New(cfg, sink, testLogger(t), WithCallObserver(calls.observe))
	if err != nil {
		t.Fatal(err)
	}
	sink.sup.Store(sup)
	testkit.Go(t, "Supervisor.Run", sup.Run)
	testkit.WaitFor(t, 90*time.Second, "host synced", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.at != nil
	})
	inv := sink.lastSync()
	if len(inv.Domains) != n {
		t.Fatalf("synced %d domains, want %d", len(inv.Domains), n)
	}
	for i, d := range inv.Domains {
		wantState := StateRunning
		if i%3 == 2 {
			wantState = StateShutoff
		}
		if d.State != wantState || !d.Persistent || d.Autostart || (wantState == StateRunning) != (d.ID > 0) {
			t.Errorf("%s: state %d id %d persistent %v autostart %v", d.Name, d.State, d.ID, d.Persistent, d.Autostart)
		}
	}
	sink.mu.Lock()
	procs, rpcs := sink.at, sink.rpcs
	sink.mu.Unlock()
	perProc := perProcOf(procs)
	t.Logf("%d RPCs for %d domains, from connecting to the Synced report; calls: %v", rpcs, n, perProc)
	// Connecting (auth, open), host facts, storage, listings, state stats, event
	// subscriptions: about 25 RPCs whatever the number of domains.
	const perHost = 30
	if rpcs > n+perHost {
		t.Errorf("resync of %d domains made %d RPCs, want <= %d: %v", n, rpcs, n+perHost, perProc)
	}
	// The resync alone (Health.LastSyncRPCs): host facts (5), storage (pools, their
	// volumes), listings (3), state stats (1): 16 here.
	if h := sup.Health(); h.LastSyncRPCs < n || h.LastSyncRPCs > n+20 {
		t.Errorf("Health.LastSyncRPCs = %d, want %d + at most 20", h.LastSyncRPCs, n)
	}
	if perProc["DomainGetXMLDesc"] != n {
		t.Errorf("DomainGetXMLDesc %d times, want once per domain (%d)", perProc["DomainGetXMLDesc"], n)
	}
	if perProc["DomainGetBlockInfo"] != 0 {
		t.Errorf("DomainGetBlockInfo %d times before the Synced report, want 0", perProc["DomainGetBlockInfo"])
	}
	for _, d := range inv.Domains {
		if dk := d.Disks[0]; dk.Capacity != 0 && !strings.HasPrefix(dk.Source, "/fake/pool/") {
			t.Errorf("%s: %s sized %d in the Synced report, want 0 (later)", d.Name, dk.Source, dk.Capacity)
		}
	}
	// Then one DomainGetBlockInfo per disk outside pools, reported without a re-read.
	testkit.WaitFor(t, 60*time.Second, "the sizes of the disks outside pools", func() bool { return sup.SizesDue() == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, d := range sink.view {
		if dk := d.Disks[0]; dk.Capacity == 0 && !strings.HasPrefix(dk.Source, "/fake/pool/") {
			t.Errorf("%s: %s not sized after the resync", d.Name, dk.Source)
		}
	}
	if got := perProcOf(calls.snapshot())["DomainGetBlockInfo"]; got != n/2 {
		t.Errorf("DomainGetBlockInfo %d times, want one per disk outside pools (%d)", got, n/2)
	}
	if rr := perProcOf(calls.snapshot())["DomainLookupByUUID"]; rr != 0 {
		t.Errorf("%d domains re-read, want none", rr)
	}
}

func perProcOf(procs []string) map[string]int {
	m := map[string]int{}
	for _, p := range procs {
		m[p]++
	}
	return m
}

// A device event (here metadata-change, which the test driver raises) re-reads its
// domain: taken off the wire, with no go-libvirt stream behind it.
func TestDeviceEventRereads(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	s := startSupervisor(t, privateTestHost(t, "tap"), sink)
	waitUp(t, sink)
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	_, before, _, _ := sink.counts()
	// Straight on the connection: an operation would re-read the domain itself.
	err = c.call(context.Background(), "set metadata", func(l *lv) error {
		d, err := l.DomainLookupByUUID(libvirt.UUID(fixRunning))
		if err != nil {
			return err
		}
		return l.DomainSetMetadata(d, int32(libvirt.DomainMetadataDescription), libvirt.OptString{"tapped"}, nil, nil, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the domain re-read after its event", func() bool {
		_, n, _, _ := sink.counts()
		return n > before
	})
}

// A connected host costs a few goroutines: its session loop, the lifecycle events'
// reader and go-libvirt's own (the socket's reader and watcher, the lifecycle stream
// and its forwarder). Device events, polls and keepalives add none.
func TestGoroutinesPerHost(t *testing.T) {
	requireLibvirtd(t)
	const hosts, perHost = 5, 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sched.every(time.Hour, 0, func() {})() // the process's scheduler runs before the count
	g0 := runtime.NumGoroutine()
	done := make(chan struct{}, hosts)
	sinks := make([]*fakeSink, hosts)
	for h := range hosts {
		sinks[h] = newFakeSink()
		cfg := testHost(t, fmt.Sprintf("g%d", h))
		s, err := New(cfg, sinks[h], testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range hosts {
			<-done
		}
	}()
	for _, sink := range sinks {
		testkit.WaitFor(t, 60*time.Second, "host polled", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	}
	var n int
	testkit.WaitFor(t, 60*time.Second, "at most 8 goroutines per host once calls are answered", func() bool {
		n = runtime.NumGoroutine() - g0
		return n <= hosts*perHost
	})
	t.Logf("%d goroutines for %d hosts", n, hosts)
}
