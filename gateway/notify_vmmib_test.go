package gateway

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

type fixedEnables struct{ perVM, bulk bool }

func (f fixedEnables) PerVM() bool { return f.perVM }
func (f fixedEnables) Bulk() bool  { return f.bulk }

// trapLog is a v2c trap receiver (gosnmp's listener) that keeps what it receives.
type trapLog struct {
	mu   sync.Mutex
	pkts []*gosnmp.SnmpPacket
}

func (l *trapLog) trapOIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.pkts {
		if len(p.Variables) > 1 {
			out = append(out, p.Variables[1].Value.(string))
		}
	}
	return out
}

// byTrap returns the varbinds of the first notification received with trapOID.
func (l *trapLog) byTrap(trapOID string) []gosnmp.SnmpPDU {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.pkts {
		if len(p.Variables) > 1 && p.Variables[1].Value == trapOID {
			return p.Variables[2:]
		}
	}
	return nil
}

func startTrapLog(t *testing.T) (*trapLog, string) {
	t.Helper()
	l := &trapLog{}
	port := testkit.FreeUDPPort(t)
	tl := gosnmp.NewTrapListener()
	tl.Params = &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}
	tl.OnNewTrap = func(p *gosnmp.SnmpPacket, _ *net.UDPAddr) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.pkts = append(l.pkts, p)
	}
	errc := make(chan error, 1)
	go func() { errc <- tl.Listen("127.0.0.1:" + strconv.Itoa(port)) }()
	select {
	case <-tl.Listening():
	case err := <-errc:
		t.Fatalf("trap listener: %v", err)
	}
	t.Cleanup(tl.Close)
	return l, "udp:127.0.0.1:" + strconv.Itoa(port)
}

// TestVMMIBBulk: with vmBulkNotificationsEnabled, the VMs that entered a state within
// the bulk window are listed in one bulk notification of that state (vmAffectedVMs,
// VM-MIB's bitmap), after the lossless vmStateChange of each event; with per-VM
// notifications disabled none is sent.
func TestVMMIBBulk(t *testing.T) {
	rcv, addr := startTrapLog(t)
	e, err := snmp.New(snmp.Config{Listen: []string{"udp:127.0.0.1:0"}, StateDir: t.TempDir(),
		Notify: []snmp.Target{{Address: addr, Version: "v2c", Community: "public"}}})
	if err != nil {
		t.Fatal(err)
	}
	tv := viewtest.New(t, "a")
	n := newNotifier(e, tv.View, tv.Reg, 0, func() int { return 1 }, slog.New(slog.DiscardHandler))
	n.enables = fixedEnables{perVM: false, bulk: true}
	s := newEventSink(tv.View, n, nil)
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning),
		viewtest.Domain(2, hosts.StateRunning), viewtest.Domain(3, hosts.StateRunning)}})
	ids := make([]uint32, 4)
	for i := byte(1); i <= 3; i++ {
		ids[i], _ = tv.Reg.Lookup(registry.NSVM, viewtest.UUID(i).String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventSuspended, 0))
	s.DomainEvent("a", lifecycle(2, libvirt.DomainEventSuspended, 0))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventResumed, 0))
	s.DomainEvent("a", lifecycle(3, libvirt.DomainEventSuspended, 0))
	const bulkRunning, bulkPaused = "1.3.6.1.2.1.236.0.11", "1.3.6.1.2.1.236.0.14"
	testkit.WaitFor(t, 30*time.Second, "4 vmStateChange and 2 bulk notifications", func() bool {
		return len(rcv.trapOIDs()) >= 6
	})
	got := rcv.trapOIDs()
	want := []string{".1.3.6.1.3.7466.0.1", ".1.3.6.1.3.7466.0.1", ".1.3.6.1.3.7466.0.1", ".1.3.6.1.3.7466.0.1",
		"." + bulkRunning, "." + bulkPaused}
	if len(got) != len(want) {
		t.Fatalf("received %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("notification %d: %s, want %s (all: %v)", i, got[i], want[i], got)
		}
	}
	bitmap := func(ids ...uint32) string { return string(affectedVMs(ids)) }
	for _, c := range []struct {
		trap string
		want string
	}{{bulkRunning, bitmap(ids[1])}, {bulkPaused, bitmap(ids[1], ids[2], ids[3])}} {
		vbs := rcv.byTrap("." + c.trap)
		if len(vbs) != 1 || vbs[0].Name != ".1.3.6.1.2.1.236.1.11.0" || string(vbs[0].Value.([]byte)) != c.want {
			t.Errorf("%s: varbinds %v, want vmAffectedVMs.0 = %x", c.trap, vbs, c.want)
		}
	}
}
