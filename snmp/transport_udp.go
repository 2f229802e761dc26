package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handoffDelay is how long a reader may work on one datagram before another reader
// takes over the socket (after one to two delays). Reads answer from memory in
// microseconds; a handler that waits (a SET on a hypervisor, a stuck read) must not
// stall everyone else.
const handoffDelay = 2 * time.Millisecond

// udpServer serves one UDP socket. A reader goroutine receives a datagram and answers
// it itself: no handoff to a worker, no thread to wake per request, which is most of
// an answer's cost on a walk (a request and its answer, over and over). A watchdog
// timer per reader, armed while the reader works, notices a datagram that keeps it
// busy longer than handoffDelay and starts another reader for the socket; the busy
// one ends after its answer. At most Workers readers exist, so at most that many
// requests are in progress on the socket (more wait in the socket buffer, beyond it
// the kernel drops them).
type udpServer struct {
	e       *Engine
	pc      net.PacketConn
	readers *sync.WaitGroup
	active  atomic.Int32 // readers running
}

// reader is one reader goroutine's state, shared with its watchdog.
type reader struct {
	u     *udpServer
	seq   atomic.Uint64 // datagrams taken so far
	busy  atomic.Bool   // serving one
	armed atomic.Bool   // the watchdog timer is pending
	timer *time.Timer

	mu       sync.Mutex // orders the end of a datagram against the watchdog's actions
	replaced bool
	lastSeq  uint64 // the watchdog's: seq at its previous run
	ticks    int    // the watchdog's: runs in a row that found the same datagram
	// cancel ends the handlers' context, which the reader's datagrams share until the
	// watchdog cancels it (one datagram over requestTimeout): no context and timer
	// per datagram.
	cancel context.CancelFunc
}

// read runs one reader: it serves datagrams until the socket closes or another reader
// has taken over while it was busy.
func (u *udpServer) read(ctx context.Context) {
	defer u.active.Add(-1)
	r := &reader{u: u}
	r.timer = time.AfterFunc(time.Hour, func() { r.watch(ctx) })
	r.timer.Stop()
	defer r.timer.Stop()
	hctx := r.handlerContext(ctx)
	defer func() { r.mu.Lock(); r.cancel(); r.mu.Unlock() }()
	buf := make([]byte, 65536)
	conn := newDgramConn(u.pc)
	for {
		n, from, err := conn.readFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			u.e.log.Warn("snmp udp read", "err", err)
			continue
		}
		raw := make([]byte, n) // a handler may keep slices of the request
		copy(raw, buf[:n])
		r.seq.Add(1)
		r.busy.Store(true)
		r.arm()
		u.e.serveDatagram(hctx, conn, from, raw)
		r.mu.Lock()
		r.busy.Store(false)
		done := r.replaced
		if hctx.Err() != nil && !done { // timed out: a fresh context for the next
			r.cancel()
			hctx = r.handlerContext(ctx)
		}
		r.mu.Unlock()
		if done {
			return
		}
	}
}

// errRequestTimeout is the cause a handlers' context ends with when the watchdog
// cancels it: context.DeadlineExceeded, as with the context.WithTimeout per datagram it
// replaces (callers tell a call that ran out of time, whose outcome is unknown, from
// one abandoned).
var errRequestTimeout = fmt.Errorf("snmp request over %s: %w", requestTimeout, context.DeadlineExceeded)

// handlerContext returns a new context for the reader's datagrams and sets r.cancel,
// which ends it with errRequestTimeout. Callers hold r.mu or own r alone.
func (r *reader) handlerContext(ctx context.Context) context.Context {
	hctx, cancel := context.WithCancelCause(ctx)
	r.cancel = func() { cancel(errRequestTimeout) }
	return hctx
}

// arm starts the watchdog unless it is pending already: at a walk's pace it fires
// once per handoffDelay, not once per datagram.
func (r *reader) arm() {
	if r.armed.CompareAndSwap(false, true) {
		r.timer.Reset(handoffDelay)
	}
}

// watch is the watchdog. A reader busy with the same datagram as at the previous run
// has been on it for at least handoffDelay: another reader takes over the socket.
// After requestTimeout the datagram's context is cancelled.
func (r *reader) watch(ctx context.Context) {
	r.mu.Lock()
	seq, busy := r.seq.Load(), r.busy.Load()
	if busy && seq == r.lastSeq {
		r.ticks++
	} else {
		r.ticks = 0
	}
	r.lastSeq = seq
	if r.ticks > 0 && !r.replaced {
		if r.u.active.Add(1) <= int32(r.u.e.workers) {
			// The reader is busy, so alive and counted in readers: Add is safe.
			r.replaced = true
			r.u.readers.Go(func() { r.u.read(ctx) })
		} else {
			r.u.active.Add(-1) // every reader is busy: no one left to take over
		}
	}
	if time.Duration(r.ticks)*handoffDelay >= requestTimeout {
		r.cancel() // under mu: the datagram that is still the one in progress
	}
	r.mu.Unlock()
	r.armed.Store(false)
	if r.busy.Load() {
		r.arm() // still working (this datagram or the next): keep watching
	}
}

// serveDatagram answers one datagram; ctx bounds the handlers (requestTimeout).
func (e *Engine) serveDatagram(ctx context.Context, conn dgramConn, from net.Addr, raw []byte) {
	out := e.handlePacket(ctx, raw, from, maxUDPPayload)
	if out == nil {
		return
	}
	if err := conn.writeTo(out, from); err != nil {
		e.log.Debug("snmp udp write", "to", from.String(), "err", err)
	}
	releaseMsg(out)
}
