package hosts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// lv shortens go-libvirt's client type in the many call closures.
type lv = libvirt.Libvirt

// conn is one established libvirt connection. go-libvirt calls have no deadline, so
// every call runs in a goroutine under a timer that closes the net.Conn when it fires:
// that is the only way to make go-libvirt return (ErrInterrupted) from a hung call.
type conn struct {
	l           *libvirt.Libvirt
	nc          *readErrConn
	callTimeout time.Duration
	observe     CallObserver // nil: calls are not measured

	mu     sync.Mutex
	reason error // why kill was called, first reason wins

	statsMu sync.Mutex // one stats call at a time (allDomainStats)

	// poolEvents says storage pool lifecycle events are registered: the pools need
	// listing only when one came (readErrConn.poolEvents). Session goroutine only.
	poolEvents bool

	// lacks is the set (srcSet) of address sources the hypervisor's libvirtd cannot
	// answer for any domain: a driver without the function, or libvirt 9.0 failing to
	// read its own ARP table on kernels that end a neighbour dump in the same datagram
	// ("wrong nlmsg len"). None is asked again on this connection.
	lacks atomic.Uint32
	// bulkLeases: a network's leases were read in bulk once on this connection, so a
	// network that does not exist has no leases; before that, its NICs are asked one
	// by one (the driver may lack the bulk call, which another network would show).
	bulkLeases atomic.Bool
}

// lack adds src to c.lacks and says whether it is news.
func (c *conn) lack(src AddrSource) bool {
	bit := uint32(1) << src
	return c.lacks.Or(bit)&bit == 0
}

// openConn dials, then opens the driver URI holding one of slots (nil: none), each
// within connectTimeout: the wait for a slot is in neither, so a host that does not
// answer its dial keeps no slot, and one waiting its turn is not timed out.
func openConn(ctx context.Context, dial DialFunc, driverURI string, slots *OpenSlots, connectTimeout, callTimeout time.Duration) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	raw, err := dial(dctx)
	cancel()
	if err != nil {
		return nil, err
	}
	release, err := slots.acquire(ctx)
	if err != nil {
		raw.Close()
		return nil, err
	}
	defer release()
	ctx, cancel = context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	nc := &readErrConn{Conn: raw, opened: make(chan struct{})}
	c := &conn{l: libvirt.NewWithDialer(dialers.NewAlreadyConnected(nc)), nc: nc, callTimeout: callTimeout}
	done := make(chan error, 1)
	go func() {
		err := c.l.ConnectToURI(libvirt.ConnectURI(driverURI))
		close(nc.opened)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Closing the socket is safe even if the ConnectOpen reply just got through:
		// readErrConn holds the read error back until ConnectToURI has returned.
		c.kill(fmt.Errorf("connect: %w", ErrTimeout))
		<-done // returns promptly: the socket is closed or the reply is in hand
		err = fmt.Errorf("no answer within connect_timeout: %w", ErrTimeout)
	}
	if err != nil {
		c.kill(err)
		if rerr := nc.readErr(); rerr != nil && !errors.Is(rerr, net.ErrClosed) { // ErrClosed: our own kill
			// What the peer said (e.g. a TLS alert) explains go-libvirt's ErrInterrupted.
			err = fmt.Errorf("%w (connection: %w)", err, rerr)
		}
		return nil, fmt.Errorf("open %q: %w", driverURI, err)
	}
	return c, nil
}

// readErrConn remembers the first read error, which go-libvirt swallows.
//
// It also works around a data race in go-libvirt's ConnectToURI: once the ConnectOpen
// reply is routed, ConnectToURI assigns l.disconnected, which the goroutine watching the
// socket reads as soon as a read fails. So a socket that dies right after a successful
// ConnectOpen (our connect timeout closing it, or the peer going away) raced, and could
// leave Disconnected() open forever. readErrConn follows the RPC framing of what it
// passes up; once a successful ConnectOpen reply has gone through, a read error is held
// back until ConnectToURI has returned (opened is closed), which it does without any
// further read. Before that reply, errors pass at once, so a hung connect still fails.
type readErrConn struct {
	net.Conn
	opened chan struct{} // closed when ConnectToURI has returned

	mu      sync.Mutex
	err     error
	open    openReplyWatch
	onEvent func(UUID) // told of each device event's domain (tapped events)
	sent    frames     // the framing of what is written: the serial of a stats call
}

// tapEvents has fn told, on the reading goroutine, of the domain of every device event
// (deviceEventProcs) read from now on. fn must not block.
func (c *readErrConn) tapEvents(fn func(UUID)) {
	c.mu.Lock()
	c.onEvent = fn
	c.mu.Unlock()
}

// Write follows the framing of the calls written, to learn the serial of the stats
// call armed with armStats.
func (c *readErrConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	for p := b; len(p) > 0; {
		k, header, _, _ := c.sent.next(p)
		p = p[k:]
		st := &c.open.stats
		if header && st.armed && !st.sent && c.sent.program() == rpcRemoteProgram &&
			c.sent.proc() == rpcProcGetAllDomainStats && c.sent.typ() == rpcTypeCall {
			st.serial, st.sent = c.sent.serial(), true
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *readErrConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.open.feed(b[:n])
	hold := false
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		hold = c.open.seen
	}
	events, onEvent := c.open.events, c.onEvent
	c.open.events = nil
	c.mu.Unlock()
	if onEvent != nil {
		for _, id := range events {
			onEvent(id)
		}
	}
	if hold {
		<-c.opened
	}
	return n, err
}

// openReplyWatch follows libvirt RPC packet framing (a 4-byte length including itself,
// then program, version, procedure, type, serial, status) in a byte stream: seen once
// it has had the whole of a successful reply to REMOTE_PROC_CONNECT_OPEN, replies
// counts the replies (the RPCs made), events collects the domains of the device
// events (deviceEventProcs) read, and stats decodes the reply to an armed stats call.
//
// The device events are taken here rather than through go-libvirt's SubscribeEvents,
// which runs two goroutines per subscription for as long as the connection lives;
// registered with ConnectDomainEventCallbackRegisterAny alone, go-libvirt decodes them
// and drops them (no stream has their callback ID).
type openReplyWatch struct {
	seen    bool
	replies uint64
	events  []UUID
	f       frames
	open    bool
	tap     bool   // the current packet is a device event: keep its body's start
	body    []byte // what was kept of it
	stats   statsTap
	pools   uint64 // storage pool lifecycle events read
}

// frames follows the RPC packet framing of a byte stream.
type frames struct {
	hdr  [28]byte
	hn   int // bytes of hdr filled
	rest int // body bytes of the current packet still to come
}

// next consumes p up to the end of the current header or packet: it returns the
// bytes used, whether they completed a header (then in f.hdr), the body bytes among
// them and whether they ended the packet.
func (f *frames) next(p []byte) (used int, header bool, body []byte, end bool) {
	if f.hn < len(f.hdr) {
		k := copy(f.hdr[f.hn:], p)
		f.hn += k
		if f.hn < len(f.hdr) {
			return k, false, nil, false
		}
		f.rest = max(int(binary.BigEndian.Uint32(f.hdr[0:4]))-len(f.hdr), 0)
		if f.rest == 0 {
			f.hn = 0
		}
		return k, true, nil, f.rest == 0
	}
	k := min(f.rest, len(p))
	f.rest -= k
	if f.rest == 0 {
		f.hn = 0
	}
	return k, false, p[:k], f.rest == 0
}

func (f *frames) field(at int) uint32 { return binary.BigEndian.Uint32(f.hdr[at : at+4]) }
func (f *frames) program() uint32     { return f.field(4) }
func (f *frames) proc() uint32        { return f.field(12) }
func (f *frames) typ() uint32         { return f.field(16) }
func (f *frames) serial() uint32      { return f.field(20) }
func (f *frames) status() uint32      { return f.field(24) }

// Device events as libvirt's remote protocol numbers them
// (REMOTE_PROC_DOMAIN_EVENT_CALLBACK_*), each with the domain it is about.
var deviceEventProcs = map[uint32]libvirt.DomainEventID{
	331: libvirt.DomainEventIDBalloonChange,
	333: libvirt.DomainEventIDDeviceRemoved,
	346: libvirt.DomainEventIDTunable,
	354: libvirt.DomainEventIDDeviceAdded,
	367: libvirt.DomainEventIDDeviceRemovalFailed,
	379: libvirt.DomainEventIDMetadataChange,
}

const (
	rpcTypeMessage = 2 // VIR_NET_MESSAGE: an event
	// tapMax bounds what is kept of an event: its callback ID and domain (a name of
	// up to 4 KiB and the UUID). An event with a longer name is not seen.
	tapMax = 4 + 4 + 4096 + 16
)

// eventDomainUUID reads the domain's UUID at the start of a callback event's body:
// the callback ID (int32), then remote_nonnull_domain's name (XDR string: length,
// bytes padded to 4) and UUID (16 bytes).
func eventDomainUUID(body []byte) (UUID, bool) {
	if len(body) < 8 {
		return UUID{}, false
	}
	l := binary.BigEndian.Uint32(body[4:8])
	if l > 4096 { // compared before int(): a 32-bit int would go negative
		return UUID{}, false
	}
	at := 8 + (int(l)+3)&^3
	if len(body) < at+16 {
		return UUID{}, false
	}
	return UUID(body[at : at+16]), true
}

const (
	rpcRemoteProgram         = 0x20008086 // REMOTE_PROGRAM
	rpcProcConnectOpen       = 1          // REMOTE_PROC_CONNECT_OPEN
	rpcProcGetAllDomainStats = 344        // REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS
	rpcProcPoolLifecycle     = 370        // REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE
	rpcTypeCall              = 0          // VIR_NET_CALL
	rpcTypeReply             = 1          // VIR_NET_REPLY
	rpcStatusOK              = 0          // VIR_NET_OK
)

func (w *openReplyWatch) feed(p []byte) {
	for len(p) > 0 {
		k, header, body, end := w.f.next(p)
		p = p[k:]
		if header {
			reply := w.f.typ() == rpcTypeReply
			if reply {
				w.replies++
			}
			remote := w.f.program() == rpcRemoteProgram
			w.open = !w.seen && reply && remote && w.f.proc() == rpcProcConnectOpen &&
				w.f.status() == rpcStatusOK
			_, device := deviceEventProcs[w.f.proc()]
			w.tap = remote && device && w.f.typ() == rpcTypeMessage
			w.body = w.body[:0]
			w.stats.header(&w.f, remote && reply)
			if remote && w.f.typ() == rpcTypeMessage && w.f.proc() == rpcProcPoolLifecycle {
				w.pools++
			}
		}
		if w.tap && len(w.body) < tapMax {
			w.body = append(w.body, body[:min(len(body), tapMax-len(w.body))]...)
		}
		w.stats.feed(body)
		if end {
			w.seen = w.seen || w.open
			if id, ok := eventDomainUUID(w.body); w.tap && ok {
				w.events = append(w.events, id)
			}
			w.tap = false
			w.stats.end()
		}
	}
}

// replies is how many replies to calls have come over the connection so far.
func (c *readErrConn) replies() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open.replies
}

// poolEvents is how many storage pool lifecycle events have come so far. go-libvirt
// routes none (they go to serial 1's caller, long gone: libvirtd sends every event
// with serial 1); this count is what watchStorage reads of them.
func (c *readErrConn) poolEvents() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open.pools
}

func (c *readErrConn) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// kill closes the connection; every pending and future call fails.
func (c *conn) kill(reason error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = reason
	}
	c.mu.Unlock()
	_ = c.nc.Close()
}

// closed reports why the connection ended, once Disconnected() is closed.
func (c *conn) closed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return c.reason
	}
	if rerr := c.nc.readErr(); rerr != nil {
		return fmt.Errorf("connection lost: %w", rerr)
	}
	return errors.New("connection closed by the peer")
}

func (c *conn) disconnected() <-chan struct{} { return c.l.Disconnected() }

// lost returns the error a session ends with after a call failed with err because the
// connection went: when the connection was killed on purpose (a keepalive or a call
// that got no answer in time) or its transport failed, that cause first, since err
// only says the call was interrupted.
func (c *conn) lost(err error) error {
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	if reason == nil {
		if rerr := c.nc.readErr(); rerr != nil && rerr != io.EOF { //nolint:errorlint // only a bare EOF says nothing more; a wrapped one carries the cause
			reason = fmt.Errorf("connection lost: %w", rerr)
		}
	}
	if reason == nil || errors.Is(err, reason) {
		return err
	}
	return fmt.Errorf("%w (interrupted: %w)", reason, err)
}

// call runs fn with a hard cap of callTimeout, after which the connection is killed.
// The caller's ctx may give up sooner; fn then finishes (or is killed) on its own.
// fn must not write to variables the caller reads: use callT to return values, so a
// call the caller gave up on cannot race with it.
func (c *conn) call(ctx context.Context, what string, fn func(*lv) error) error {
	_, err := callT(ctx, c, what, func(l *lv) (struct{}, error) { return struct{}{}, fn(l) })
	return err
}

// callT is call for a function with a result.
func callT[T any](ctx context.Context, c *conn, what string, fn func(*lv) (T, error)) (T, error) {
	return callWithin(ctx, c, c.callTimeout, what, fn)
}

// sessionKey marks a session's context (withSession).
type sessionKey struct{}

type sessionMark struct {
	c    *conn
	done <-chan struct{}
}

// withSession marks ctx as c's session context: the session kills c when ctx ends, so
// a call made with ctx itself (not a context derived from it with its own end) needs no
// goroutine to give up waiting (inline).
func withSession(ctx context.Context, c *conn) context.Context {
	return context.WithValue(ctx, sessionKey{}, sessionMark{c, ctx.Done()})
}

// inline says whether a call on c under ctx can run on the calling goroutine: ctx never
// ends, or it is c's session context, whose end kills c and so ends the call.
func inline(ctx context.Context, c *conn) bool {
	done := ctx.Done()
	if done == nil {
		return true
	}
	m, ok := ctx.Value(sessionKey{}).(sessionMark)
	return ok && m.c == c && m.done == done
}

// callWithin runs fn on c, killing c if it has not returned within limit. Calls under
// the session's own context (polls, resyncs, keepalives) run on the caller's goroutine;
// others (an SNMP request's) in a goroutine of their own, so that the caller can give
// up at its context's end without killing the connection.
func callWithin[T any](ctx context.Context, c *conn, limit time.Duration, what string, fn func(*lv) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	if inline(ctx, c) {
		v, err := timed(c, limit, what, fn)
		if ctx.Err() != nil { // the session ended meanwhile, and killed c
			return zero, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return v, wrapCallErr(what, err)
	}
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := timed(c, limit, what, fn)
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		return r.v, wrapCallErr(what, r.err)
	case <-ctx.Done():
		// A context ended for running out of time by a cancel (the SNMP engine's request
		// watchdog) says so in its cause only; a WithTimeout context in both.
		if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
			return zero, fmt.Errorf("%s: %w: %w", what, ErrTimeout, cause)
		}
		return zero, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// timed runs fn on c under the limit's timer, and tells c.observe.
func timed[T any](c *conn, limit time.Duration, what string, fn func(*lv) (T, error)) (T, error) {
	start := time.Now()
	timer := time.AfterFunc(limit, func() {
		c.kill(fmt.Errorf("%s: no answer within %s: %w", what, limit, ErrTimeout))
	})
	v, err := fn(c.l)
	if !timer.Stop() {
		err = fmt.Errorf("no answer within %s: %w", limit, ErrTimeout)
	}
	if c.observe != nil {
		c.observe(Procedure(what), time.Since(start), err)
	}
	return v, err
}

func wrapCallErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTimeout):
		return fmt.Errorf("%s: %w", what, err)
	case errors.Is(err, libvirt.ErrInterrupted), errors.Is(err, syscall.EINVAL),
		errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%s: %w: %w", what, ErrNotConnected, err)
	case libvirt.IsNotFound(err):
		return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// connLost says whether err means the connection is gone or hung, as opposed to
// libvirt refusing one request.
func connLost(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrNotConnected)
}
