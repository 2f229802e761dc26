package hosts

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
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

// DomainPatched counts as an update.
func (f *fakeSink) DomainPatched(_ string, d Domain, fl Fields) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.view[d.UUID]
	if !ok || !fl.Apply(&old, &d) {
		return false
	}
	f.updates = append(f.updates, old)
	f.view[d.UUID] = old
	return true
}

func (f *fakeSink) DomainsPatched(host string, ds []Domain, fl Fields) {
	for _, d := range ds {
		f.DomainPatched(host, d, fl)
	}
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

const systemSocket = "/var/run/libvirt/libvirt-sock"

// requireLibvirtd skips loudly when the machine's libvirtd is not reachable, and under
// -short. (hoststest.EnsureLibvirtd does this for the other packages; hosts' own tests
// cannot import hoststest.)
func requireLibvirtd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPING: libvirtd tests are integration tests (-short)")
	}
	c, err := net.DialTimeout("unix", systemSocket, 2*time.Second)
	if err != nil && os.Geteuid() == 0 {
		// Start the test bed's daemon (idempotent); a crashed one is started again.
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
	testkit.Go(t, "Supervisor.Run", s.Run)
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
