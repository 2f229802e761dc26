package hosts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSink records what a Supervisor reports and keeps the resulting view.
type fakeSink struct {
	mu      sync.Mutex
	health  []Health
	syncs   []Inventory
	updates []Domain
	removed []UUID
	stats   []*Stats
	storage []Inventory     // StorageSynced reports: Pools and Volumes only
	view    map[UUID]Domain // Synced replaces it, updates and removals edit it
}

func newFakeSink() *fakeSink { return &fakeSink{view: map[UUID]Domain{}} }

func (f *fakeSink) Health(_ string, h Health) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.health = append(f.health, h)
}

func (f *fakeSink) Synced(_ string, inv Inventory) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs = append(f.syncs, inv)
	f.view = map[UUID]Domain{}
	for _, d := range inv.Domains {
		f.view[d.UUID] = d
	}
}

func (f *fakeSink) DomainUpdated(_ string, d Domain) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, d)
	f.view[d.UUID] = d
}

func (f *fakeSink) StorageSynced(_ string, pools []Pool, vols []Volume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.storage = append(f.storage, Inventory{Pools: pools, Volumes: vols})
}

func (f *fakeSink) DomainRemoved(_ string, id UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	delete(f.view, id)
}

func (f *fakeSink) Stats(_ string, s *Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = append(f.stats, s)
}

// lastHealth returns the last reported health, zero if none.
func (f *fakeSink) lastHealth() Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.health) == 0 {
		return Health{}
	}
	return f.health[len(f.health)-1]
}

func (f *fakeSink) domain(id UUID) (Domain, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.view[id]
	return d, ok
}

func (f *fakeSink) counts() (syncs, updates, removed, stats int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.syncs), len(f.updates), len(f.removed), len(f.stats)
}

func (f *fakeSink) lastSync() Inventory {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs[len(f.syncs)-1]
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a readiness guess
	}
}

const systemSocket = "/var/run/libvirt/libvirt-sock"

// requireLibvirtd skips loudly when the machine's libvirtd is not reachable.
func requireLibvirtd(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("unix", systemSocket, 2*time.Second)
	if err != nil && os.Geteuid() == 0 {
		// Start the test bed's daemon (idempotent): libvirt 9.0's has been seen to crash
		// when a client of the same test run disconnected at a bad moment.
		if out, uerr := exec.Command("../deploy/testbed/libvirtd-up").CombinedOutput(); uerr != nil {
			t.Logf("deploy/testbed/libvirtd-up: %v\n%s", uerr, out)
		}
		c, err = net.DialTimeout("unix", systemSocket, 2*time.Second)
	}
	if err != nil {
		t.Skipf("SKIPPING: libvirtd not reachable at %s (%v); run deploy/testbed/libvirtd-up", systemSocket, err)
	}
	c.Close()
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startSupervisor runs a Supervisor until the test ends.
func startSupervisor(t *testing.T, cfg Config, sink Sink, opts ...Option) *Supervisor {
	t.Helper()
	s, err := New(cfg, sink, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return s
}

func randomPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "vmgt-h3-" + hex.EncodeToString(b)
}

// writeNode copies a test-driver node fixture into a temp dir, editing it with repl.
func writeNode(t *testing.T, dir string, repl ...string) string {
	t.Helper()
	doc := strings.NewReplacer(repl...).Replace(readFixture(t, "node.xml"))
	p := dir + "/node.xml"
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// proxy forwards to a libvirt unix socket; freeze stops forwarding without
// closing (a hung daemon), down refuses and drops connections (a dead one).
type proxy struct {
	target string // unix socket
	mu     sync.Mutex
	frozen bool
	down   bool
	conns  []net.Conn
}

func (p *proxy) dial(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	down, frozen := p.down, p.frozen
	p.mu.Unlock()
	if down {
		return nil, errors.New("proxy: connection refused")
	}
	var d net.Dialer
	up, err := d.DialContext(ctx, "unix", p.target)
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	p.mu.Lock()
	p.conns = append(p.conns, up, b)
	p.mu.Unlock()
	if frozen {
		return a, nil // nothing is forwarded: every call hangs
	}
	go p.copy(b, up)
	go p.copy(up, b)
	return a, nil
}

func (p *proxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		for p.isFrozen() {
			time.Sleep(10 * time.Millisecond)
			if p.isDown() {
				return
			}
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *proxy) isFrozen() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.frozen }
func (p *proxy) isDown() bool   { p.mu.Lock(); defer p.mu.Unlock(); return p.down }

func (p *proxy) set(frozen, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen, p.down = frozen, down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func (p *proxy) String() string {
	return fmt.Sprintf("proxy(frozen=%v down=%v)", p.isFrozen(), p.isDown())
}
