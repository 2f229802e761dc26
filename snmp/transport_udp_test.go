package snmp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// TestReaderWatchdog: the watchdog cancels the context of a datagram that has kept
// its reader for requestTimeout, not before, and counts a new datagram from zero.
// Every reader is busy (Workers 1), so none is started here.
func TestReaderWatchdog(t *testing.T) {
	u := &udpServer{e: &Engine{workers: 1}, readers: &sync.WaitGroup{}}
	u.active.Store(1)
	r := &reader{u: u}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.timer = time.AfterFunc(time.Hour, func() {})
	defer r.timer.Stop()
	r.seq.Store(1)
	r.busy.Store(true)
	runs := int(requestTimeout / handoffDelay)
	for i := range runs {
		if i == runs/2 {
			r.seq.Add(1) // the next datagram: its time starts now
		}
		r.watch(context.Background())
		if ctx.Err() != nil {
			t.Fatalf("cancelled at run %d of %d", i+1, runs)
		}
	}
	for range runs/2 + 1 { // the second datagram reaches requestTimeout
		r.watch(context.Background())
	}
	if ctx.Err() == nil {
		t.Fatal("a datagram over requestTimeout was not cancelled")
	}
	if r.replaced || u.active.Load() != 1 {
		t.Errorf("replaced %v, %d readers active: none may start when all are busy", r.replaced, u.active.Load())
	}
}

// stuckHandler answers a GET only once its context ends, and reports how it ended.
type stuckHandler struct{ cause chan error }

func (h *stuckHandler) Get(ctx context.Context, _ *Request, oid OID) VarBind {
	<-ctx.Done()
	h.cause <- context.Cause(ctx)
	return VarBind{OID: oid, Type: gosnmp.Integer, Value: 1}
}

func (h *stuckHandler) Next(context.Context, *Request, OID) (VarBind, bool) { return VarBind{}, false }

// TestRequestTimeoutIsDeadline: a handler held past requestTimeout over UDP sees its
// context end with context.DeadlineExceeded (as context.Cause), as with the
// context.WithTimeout the watchdog replaced and as over TCP. The gateway tells a
// libvirt call that ran out of time (outcome unknown: a domain define may still
// happen, so its vmId stays bound) from one abandoned; a plain Canceled made a
// timed-out create unbind the vmId of a domain libvirt went on to define.
func TestRequestTimeoutIsDeadline(t *testing.T) {
	e, addr := startEngine(t, baseConfig(t))
	h := &stuckHandler{cause: make(chan error, 1)}
	root := MustOID("1.3.6.1.4.1.99999.6")
	e.Register(root, h)
	x := v2client(t, addr, "public", gosnmp.Version2c)
	x.Timeout, x.Retries = 3*requestTimeout, 0
	if _, err := x.Get([]string{root.Append(1, 0).String()}); err != nil {
		t.Fatalf("get: %v", err)
	}
	if err := <-h.cause; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("handler context ended with %v, want context.DeadlineExceeded", err)
	}
}
