package hosts

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

var (
	fixRunning = UUID{0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x01}
	fixStopped = UUID{0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x02}
)

// testHost is a test-driver host on the machine's libvirtd: read-only tests only.
func testHost(t *testing.T, name string) Config {
	t.Helper()
	return Config{Name: name, URI: "test+unix://" + writeNode(t, t.TempDir()),
		KeepaliveInterval: 500 * time.Millisecond, KeepaliveTimeout: 5 * time.Second}
}

// privateTestHost is a test-driver host on a private libvirtd, for tests that change
// domains: libvirt 9.0's test driver has crashed the daemon on some operations.
func privateTestHost(t *testing.T, name string) Config {
	t.Helper()
	p := startPrivateLibvirtd(t)
	return Config{Name: name, URI: p.testURI(writeNode(t, t.TempDir())),
		KeepaliveInterval: 500 * time.Millisecond, KeepaliveTimeout: 5 * time.Second}
}

func waitUp(t *testing.T, sink *fakeSink) {
	t.Helper()
	testkit.WaitFor(t, 90*time.Second, "host up", func() bool { return sink.lastHealth().Status == Up })
}

func TestTestDriverSync(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	s := startSupervisor(t, privateTestHost(t, "fixture"), sink)
	waitUp(t, sink)
	inv := sink.lastSync()

	if inv.Hypervisor.Type != "TEST" || inv.Hypervisor.Node.CPUs != 16 || inv.Hypervisor.Node.MHz != 2400 ||
		inv.Hypervisor.LibvirtVersion == 0 || inv.Hypervisor.Hostname == "" {
		t.Errorf("hypervisor = %+v", inv.Hypervisor)
	}
	if len(inv.Domains) != 2 {
		t.Fatalf("domains = %+v, want 2", inv.Domains)
	}
	run, _ := sink.domain(fixRunning)
	if run.Name != "fix-running" || run.State != StateRunning || run.ID <= 0 || !run.Persistent ||
		run.VCPUs != 1 || run.MaxVCPUs != 2 || run.MemoryKiB != 1048576 || run.CurrentMemoryKiB != 524288 ||
		len(run.Disks) != 1 || run.Disks[0].Target != "vda" || len(run.NICs) != 1 || run.NICs[0].MAC != "52:54:00:11:22:01" {
		t.Errorf("fix-running = %+v", run)
	}
	if st, _ := sink.domain(fixStopped); st.State != StateShutoff || st.ID != -1 {
		t.Errorf("fix-stopped = %+v", st)
	}
	if len(inv.Pools) != 1 || inv.Pools[0].Name != "fix-pool" || !inv.Pools[0].Active || inv.Pools[0].Path != "/fake/pool" {
		t.Errorf("pools = %+v", inv.Pools)
	}
	if len(inv.Volumes) != 2 || inv.Volumes[0].Pool != "fix-pool" || inv.Volumes[1].Capacity != 2<<30 {
		t.Errorf("volumes = %+v", inv.Volumes)
	}
	if h := s.Health(); h.LastSync.IsZero() || h.LastError != "" {
		t.Errorf("health = %+v", h)
	}
	testkit.WaitFor(t, 90*time.Second, "stats", func() bool { _, _, _, n := sink.counts(); return n > 0 })
}

func TestTestDriverOperations(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	s := startSupervisor(t, privateTestHost(t, "ops"), sink)
	waitUp(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	steps := []struct {
		name  string
		op    func() error
		state DomainState
	}{
		{"suspend", func() error { return s.Suspend(ctx, fixRunning) }, StatePaused},
		{"resume", func() error { return s.Resume(ctx, fixRunning) }, StateRunning},
		{"destroy", func() error { return s.Destroy(ctx, fixRunning) }, StateShutoff},
		{"start", func() error { return s.Start(ctx, fixRunning) }, StateRunning},
	}
	for _, st := range steps {
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// operations refresh the view before they return
		if d, _ := sink.domain(fixRunning); d.State != st.state {
			t.Fatalf("after %s: state %d, want %d", st.name, d.State, st.state)
		}
	}
	if err := s.SetVCPUs(ctx, fixStopped, 1, ApplyConfig); err != nil {
		t.Fatalf("SetVCPUs: %v", err)
	}
	if err := s.SetMemory(ctx, fixStopped, 131072, ApplyConfig); err != nil {
		t.Fatalf("SetMemory: %v", err)
	}
	if d, _ := sink.domain(fixStopped); d.CurrentMemoryKiB != 131072 {
		t.Errorf("after SetMemory: %+v", d)
	}
	if err := s.Rename(ctx, fixStopped, "fix-renamed"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if d, _ := sink.domain(fixStopped); d.Name != "fix-renamed" {
		t.Errorf("after Rename: name %q", d.Name)
	}
	doc, err := s.DomainXML(ctx, fixStopped, true)
	if err != nil || !strings.Contains(doc, "<name>fix-renamed</name>") {
		t.Errorf("DomainXML: %v %q", err, doc)
	}
	if caps, err := s.Capabilities(ctx); err != nil || !strings.Contains(caps, "<capabilities>") {
		t.Errorf("Capabilities: %v", err)
	}
	if ni, err := s.NodeInfo(ctx); err != nil || ni.CPUs != 16 {
		t.Errorf("NodeInfo: %+v %v", ni, err)
	}
	if p, err := s.Pools(ctx); err != nil || len(p) != 1 {
		t.Errorf("Pools: %+v %v", p, err)
	}
	if v, err := s.Volumes(ctx); err != nil || len(v) != 2 {
		t.Errorf("Volumes: %+v %v", v, err)
	}
	if st, err := s.PollStats(ctx); err != nil || len(st.Domains()) != 2 || statsOf(st, fixRunning).State != StateRunning {
		t.Errorf("PollStats: %+v %v", st, err)
	}
}

func TestOperationErrors(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	s := startSupervisor(t, privateTestHost(t, "errs"), sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitUp(t, sink)

	if err := s.Start(ctx, UUID{0xde, 0xad}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Start(unknown) = %v, want ErrNotFound", err)
	}
	err := s.Resume(ctx, fixStopped) // not paused: libvirt refuses
	var le libvirt.Error
	if !errors.As(err, &le) || le.Code == 0 || errors.Is(err, ErrNotConnected) {
		t.Errorf("Resume(shut off) = %v, want a libvirt error", err)
	}
	if _, err := s.Define(ctx, "<domain type='test'><name>x</name>"); err == nil || !errors.As(err, &le) {
		t.Errorf("Define(bad xml) = %v, want a libvirt error", err)
	}
	if err := s.Suspend(ctx, fixStopped); err == nil || !strings.Contains(err.Error(), `host "errs"`) {
		t.Errorf("Suspend(shut off) = %v, want error naming the host", err)
	}

	down, err := New(Config{Name: "never", URI: "qemu+tcp://127.0.0.1:1/system"}, newFakeSink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Start(ctx, fixRunning); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Start on a host never connected = %v, want ErrNotConnected", err)
	}
}

func TestDefineUndefineEvents(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	cfg := privateTestHost(t, "define")
	s := startSupervisor(t, cfg, sink)
	waitUp(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	d, err := s.Define(ctx, readFixture(t, "domain-minimal.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "tiny" || !d.Persistent || d.State != StateShutoff {
		t.Errorf("Define = %+v", d)
	}
	if _, ok := sink.domain(d.UUID); !ok {
		t.Error("defined domain not in the view")
	}
	if err := s.Undefine(ctx, d.UUID); err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.domain(d.UUID); ok {
		t.Error("undefined domain still in the view")
	}
}

func TestUnreachableHostsAreIsolated(t *testing.T) {
	requireLibvirtd(t)
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	// A host that accepts and never answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hung.Close() })
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never read
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})

	fast := func(name, uri string) Config {
		return Config{Name: name, URI: uri, ConnectTimeout: 500 * time.Millisecond, BackoffMax: 500 * time.Millisecond}
	}
	refused, hanging, good := newFakeSink(), newFakeSink(), newFakeSink()
	startSupervisor(t, fast("refused", "qemu+tcp://"+closed+"/system"), refused, WithBackoffStart(50*time.Millisecond))
	startSupervisor(t, fast("hung", "qemu+tcp://"+hung.Addr().String()+"/system"), hanging, WithBackoffStart(50*time.Millisecond))
	startSupervisor(t, testHost(t, "good"), good)

	waitUp(t, good)
	testkit.WaitFor(t, 90*time.Second, "refused host down", func() bool {
		h := refused.lastHealth()
		return h.Status == Down && strings.Contains(h.LastError, "connection refused")
	})
	testkit.WaitFor(t, 90*time.Second, "hung host down on connect timeout", func() bool {
		h := hanging.lastHealth()
		return h.Status == Down && strings.Contains(h.LastError, ErrTimeout.Error())
	})
	testkit.WaitFor(t, 90*time.Second, "hung host retried", func() bool { return len(accepted) >= 2 })
	if h := good.lastHealth(); h.Status != Up {
		t.Errorf("good host affected: %+v", h)
	}
	// Since stays while a host stays down, retries do not flap its status.
	first := refused.lastHealth().Since
	testkit.WaitFor(t, 90*time.Second, "more retries", func() bool { return len(accepted) >= 3 })
	if h := refused.lastHealth(); h.Status != Down || !h.Since.Equal(first) {
		t.Errorf("down host flapped: %+v (since was %s)", h, first)
	}
}

func TestWatchdogAndReconnect(t *testing.T) {
	d := startPrivateLibvirtd(t)
	p := testkit.NewLink(d.socket)
	t.Cleanup(func() { p.Cut() })
	dir := t.TempDir()
	cfg := Config{Name: "wd", URI: "test+unix://" + writeNode(t, dir),
		KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: 500 * time.Millisecond,
		CallTimeout: 10 * time.Second, BackoffMax: 300 * time.Millisecond}
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink, WithDialer(p.Dial), WithBackoffStart(50*time.Millisecond))
	waitUp(t, sink)

	// A hung daemon: the watchdog disconnects, and a call in flight returns.
	p.Freeze()
	res := make(chan error, 1)
	go func() { _, err := s.DomainXML(context.Background(), fixRunning, false); res <- err }()
	testkit.WaitFor(t, 90*time.Second, "watchdog fired", func() bool {
		h := sink.lastHealth()
		return h.Status == Down && strings.Contains(h.LastError, "keepalive")
	})
	select {
	case err := <-res:
		if !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrTimeout) {
			t.Errorf("hung call returned %v, want ErrNotConnected or ErrTimeout", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hung call did not return after the watchdog fired")
	}

	// A dead daemon whose host changed meanwhile: reconnect, resync, no ghosts.
	p.Cut()
	writeNode(t, dir, "fix-stopped", "fix-new", "555555555502", "555555555503")
	syncs, _, _, _ := sink.counts()
	p.Restore()
	testkit.WaitFor(t, 90*time.Second, "resync after reconnect", func() bool {
		n, _, _, _ := sink.counts()
		return n > syncs && sink.lastHealth().Status == Up
	})
	if _, ok := sink.domain(fixStopped); ok {
		t.Error("ghost: fix-stopped still in the view after resync")
	}
	newID := fixStopped
	newID[15] = 3
	if d, ok := sink.domain(newID); !ok || d.Name != "fix-new" {
		t.Errorf("fix-new missing after resync: %+v", d)
	}
}

func TestCallTimeoutKillsConnection(t *testing.T) {
	d := startPrivateLibvirtd(t)
	p := testkit.NewLink(d.socket)
	t.Cleanup(func() { p.Cut() })
	cfg := Config{Name: "ct", URI: "test+unix://" + writeNode(t, t.TempDir()),
		KeepaliveInterval: time.Hour, CallTimeout: 300 * time.Millisecond, BackoffMax: 300 * time.Millisecond}
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink, WithDialer(p.Dial), WithBackoffStart(50*time.Millisecond))
	waitUp(t, sink)
	// The session is idle once its first poll (stats, then addresses) is reported: a
	// poll call caught by the hang would time out first and end the session, and the
	// DomainXML call below would fail as interrupted instead of timing out itself.
	testkit.WaitFor(t, 90*time.Second, "first stats poll", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	p.Freeze()
	_, err := s.DomainXML(context.Background(), fixRunning, false)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("DomainXML on a hung host = %v, want ErrTimeout", err)
	}
	testkit.WaitFor(t, 90*time.Second, "host down after call timeout", func() bool { return sink.lastHealth().Status == Down })
	p.Restore()
	waitUp(t, sink)

	// A caller's own shorter deadline returns ErrTimeout too.
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if err := s.Refresh(ctx, fixRunning); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Refresh with an expired ctx = %v", err)
	}
	// A caller that gives up while its call hangs: the call finishes on its own later
	// (killed by call_timeout), without racing with the caller (run with -race).
	p.Freeze()
	for _, op := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := s.NodeInfo(ctx); return err },
		func(ctx context.Context) error { _, err := s.DomainXML(ctx, fixRunning, false); return err },
		func(ctx context.Context) error { _, err := s.PollStats(ctx); return err },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := op(ctx)
		cancel()
		if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNotConnected) {
			t.Errorf("op on a hung host with a short deadline = %v, want ErrTimeout", err)
		}
	}
	p.Restore()
	testkit.WaitFor(t, 90*time.Second, "up again", func() bool {
		_, err := s.NodeInfo(context.Background())
		return err == nil
	})
}

func TestLibvirtdRestart(t *testing.T) {
	d := startPrivateLibvirtd(t)
	cfg := Config{Name: "restart", URI: d.testURI(writeNode(t, t.TempDir())),
		KeepaliveInterval: 200 * time.Millisecond, KeepaliveTimeout: 2 * time.Second, BackoffMax: 500 * time.Millisecond}
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink, WithBackoffStart(50*time.Millisecond))
	waitUp(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Suspend(ctx, fixRunning); err != nil {
		t.Fatal(err)
	}

	d.kill()
	testkit.WaitFor(t, 90*time.Second, "host down after libvirtd died", func() bool { return sink.lastHealth().Status == Down })
	if err := s.Resume(ctx, fixRunning); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Resume while down = %v, want ErrNotConnected", err)
	}
	syncs, _, _, _ := sink.counts()
	d.start(t)
	testkit.WaitFor(t, 90*time.Second, "resync after libvirtd restart", func() bool {
		n, _, _, _ := sink.counts()
		return n > syncs && sink.lastHealth().Status == Up
	})
	// The restarted test driver starts from node.xml again: the view says so, with the
	// same two domains and nothing stale.
	inv := sink.lastSync()
	if len(inv.Domains) != 2 {
		t.Errorf("domains after restart: %+v", inv.Domains)
	}
	if dom, _ := sink.domain(fixRunning); dom.State != StateRunning {
		t.Errorf("fix-running after restart: state %d, want running", dom.State)
	}
}

func TestTCPTransport(t *testing.T) {
	d := startPrivateLibvirtd(t)
	sink := newFakeSink()
	startSupervisor(t, Config{Name: "tcp", URI: d.tcpURI(writeNode(t, t.TempDir()))}, sink)
	waitUp(t, sink)
	if inv := sink.lastSync(); len(inv.Domains) != 2 || inv.Hypervisor.Type != "TEST" {
		t.Errorf("inventory over tcp: %+v", inv)
	}
}

// TestStorageUnchangedNotReported: with storage re-read at every stats round, a read
// that finds the same pools and volumes is not reported; a volume created meanwhile is.
func TestStorageUnchangedNotReported(t *testing.T) {
	requireLibvirtd(t)
	cfg := privateTestHost(t, "storage")
	cfg.StatsInterval, cfg.StorageInterval = 50*time.Millisecond, time.Nanosecond
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink)
	waitUp(t, sink)
	testkit.WaitFor(t, 90*time.Second, "ten stats rounds", func() bool { _, _, _, n := sink.counts(); return n >= 10 })
	sink.mu.Lock()
	reports := len(sink.storage)
	sink.mu.Unlock()
	if reports != 0 {
		t.Fatalf("%d storage reports of unchanged storage, want 0", reports)
	}
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	_, err = callT(context.Background(), c, "create volume", func(l *lv) (struct{}, error) {
		sp, err := l.StoragePoolLookupByName("fix-pool")
		if err != nil {
			return struct{}{}, err
		}
		_, err = l.StorageVolCreateXML(sp, "<volume><name>new.img</name><capacity>1048576</capacity></volume>", 0)
		return struct{}{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 90*time.Second, "the new volume reported", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, inv := range sink.storage {
			for _, v := range inv.Volumes {
				if v.Name == "new.img" {
					return true
				}
			}
		}
		return false
	})
}

// TestStoragePoolEvents: with storage pool events registered, a stats round lists the
// pools only after one came; a pool defined and started meanwhile is reported.
func TestStoragePoolEvents(t *testing.T) {
	requireLibvirtd(t)
	cfg := privateTestHost(t, "poolevents")
	cfg.StatsInterval, cfg.StorageInterval = 50*time.Millisecond, time.Hour
	calls := &callCounter{}
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink, WithCallObserver(calls.observe))
	waitUp(t, sink)
	testkit.WaitFor(t, 90*time.Second, "ten stats rounds", func() bool { _, _, _, n := sink.counts(); return n >= 10 })
	count := func(proc string) (n int) {
		for _, p := range calls.snapshot() {
			if p == proc {
				n++
			}
		}
		return n
	}
	if n := count("list_storage_pools"); n != 0 {
		t.Errorf("pools listed %d times with no pool event, want 0", n)
	}
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	_, err = callT(context.Background(), c, "create pool", func(l *lv) (struct{}, error) {
		_, err := l.StoragePoolCreateXML("<pool type='dir'><name>new-pool</name><target><path>/fake/new</path></target></pool>", 0)
		return struct{}{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 90*time.Second, "the new pool reported", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, inv := range sink.storage {
			for _, p := range inv.Pools {
				if p.Name == "new-pool" && p.Active {
					return true
				}
			}
		}
		return false
	})
	if n := count("list_storage_pools"); n == 0 {
		t.Error("pools not listed after the pool event")
	}
}
