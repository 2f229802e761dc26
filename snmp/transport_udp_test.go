package snmp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
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

// TestRequestTimeoutIsDeadline: the watchdog ends a reader's handlers' context, once a
// datagram has run requestTimeout, with context.DeadlineExceeded as its cause, as the
// context.WithTimeout it replaced (and TCP's) did. The gateway tells a libvirt call that
// ran out of time (outcome unknown: a domain define may still happen, so its vmId
// stays bound) from one abandoned; a plain Canceled made a timed-out create unbind the
// vmId of a domain libvirt went on to define.
func TestRequestTimeoutIsDeadline(t *testing.T) {
	u := &udpServer{e: &Engine{workers: 1}, readers: &sync.WaitGroup{}}
	u.active.Store(1)
	r := &reader{u: u}
	ctx := r.handlerContext(context.Background())
	r.timer = time.AfterFunc(time.Hour, func() {})
	defer r.timer.Stop()
	r.seq.Store(1)
	r.busy.Store(true)
	for range int(requestTimeout/handoffDelay) + 1 {
		r.watch(context.Background())
	}
	if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("handler context ended with %v, want context.DeadlineExceeded", err)
	}
}
