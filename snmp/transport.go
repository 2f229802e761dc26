package snmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

const (
	maxUDPPayload  = 65507
	requestTimeout = 10 * time.Second // bounds a handler stuck on a request
)

// tcpLimits keep TCP slots (4 x workers connections in all) from being held by peers
// without credentials: a peer holds at most perPeer connections; a connection must earn
// an authenticated answer within authTimeout of its accept, else it is closed; after
// that each message must come within idle; none lives beyond lifetime. Only answered,
// authenticated messages move the deadline: garbage, an unknown community, a wrong
// digest close the stream. One Report is allowed before authentication: net-snmp
// sends its discovery probe and then the request on the same connection.
type tcpLimits struct {
	perPeer     int
	authTimeout time.Duration
	idle        time.Duration
	lifetime    time.Duration
}

var defaultTCPLimits = tcpLimits{perPeer: 8, authTimeout: 10 * time.Second, idle: 2 * time.Minute,
	lifetime: 10 * time.Minute}

// Serve binds every listen address, serves until ctx is done, then closes them. A
// bind failure closes what was bound and returns the error.
func (e *Engine) Serve(ctx context.Context) error {
	if !e.served.CompareAndSwap(false, true) {
		return errors.New("snmp: Serve called twice")
	}
	var pcs []net.PacketConn
	var lns []net.Listener
	closeAll := func() {
		for _, c := range pcs {
			c.Close()
		}
		for _, l := range lns {
			l.Close()
		}
	}
	var addrs []net.Addr
	for _, l := range e.listen {
		network, addr, err := parseListen(l)
		if err != nil {
			closeAll()
			return err
		}
		if strings.HasPrefix(network, "tcp") {
			ln, err := (&net.ListenConfig{}).Listen(ctx, network, addr)
			if err != nil {
				closeAll()
				return fmt.Errorf("snmp listen %s: %w", l, err)
			}
			lns = append(lns, ln)
			addrs = append(addrs, ln.Addr())
			continue
		}
		pc, err := (&net.ListenConfig{}).ListenPacket(ctx, network, addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("snmp listen %s: %w", l, err)
		}
		pcs = append(pcs, pc)
		addrs = append(addrs, pc.LocalAddr())
	}
	e.mu.Lock()
	e.addrs = addrs
	e.mu.Unlock()
	for _, a := range addrs {
		e.log.Info("snmp listening", "network", a.Network(), "addr", a.String())
	}
	close(e.ready)

	var wg sync.WaitGroup
	var readers sync.WaitGroup
	for _, pc := range pcs {
		u := &udpServer{e: e, pc: pc, readers: &readers}
		u.active.Store(1)
		readers.Go(func() { u.read(ctx) })
	}
	tcpSlots := make(chan struct{}, 4*e.workers)
	peers := &tcpPeers{n: map[string]int{}}
	for _, ln := range lns {
		readers.Go(func() { e.acceptTCP(ctx, ln, tcpSlots, peers, &wg) })
	}
	<-ctx.Done()
	closeAll()
	readers.Wait()
	wg.Wait()
	e.log.Info("snmp stopped")
	return nil
}

// acceptTCP serves RFC 3430 streams: BER messages back to back on a connection.
func (e *Engine) acceptTCP(ctx context.Context, ln net.Listener, slots chan struct{}, peers *tcpPeers, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Warn("snmp tcp accept", "err", err)
			continue
		}
		// Anyone can cause a refusal per connection: the lines are rate-limited.
		peer, ok := peers.add(c.RemoteAddr(), e.tcp.perPeer)
		if !ok {
			e.plog.Log(slog.LevelWarn, "snmp tcp connection refused: too many from this peer", "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			peers.done(peer)
			e.plog.Log(slog.LevelWarn, "snmp tcp connection refused: too many", "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			defer peers.done(peer)
			e.serveStream(ctx, c)
		})
	}
}

// tcpPeers counts the open connections of each peer: an IPv4 address, or an IPv6 /64
// (one host may hold a whole /64).
type tcpPeers struct {
	mu sync.Mutex
	n  map[string]int
}

// add counts a connection from a; false (nothing counted) when the peer has limit.
func (p *tcpPeers) add(a net.Addr, limit int) (string, bool) {
	key := addrString(a)
	if ta, ok := a.(*net.TCPAddr); ok {
		ip := ta.IP
		if ip4 := ip.To4(); ip4 != nil {
			key = ip4.String()
		} else {
			key = ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key] >= limit {
		return "", false
	}
	p.n[key]++
	return key, true
}

func (p *tcpPeers) done(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key]--; p.n[key] <= 0 {
		delete(p.n, key)
	}
}

func (e *Engine) serveStream(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	from := c.RemoteAddr().String()
	born := time.Now()
	deadline := born.Add(e.tcp.authTimeout)
	authed, reports := false, 0
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(deadline)
		raw, err := readBERMessage(br, e.maxSize)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				e.log.Debug("snmp tcp stream closed", "from", from, "err", err)
			}
			return
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		out := e.handlePacket(rctx, raw, c.RemoteAddr(), e.maxSize)
		cancel()
		last := false
		switch streamAnswer(out) {
		case answerServed:
			authed = true
			deadline = time.Now().Add(e.tcp.idle)
			if end := born.Add(e.tcp.lifetime); deadline.After(end) {
				deadline = end
			}
		case answerReport:
			// Before authentication a manager needs two: the engine ID (discovery) and
			// the engine time (an authenticated notInTimeWindow report). Reports never
			// extend the deadline: a replayed message cannot hold the connection.
			reports++
			last = authed || reports >= maxStreamReports
		default:
			e.log.Debug("snmp tcp stream closed: message not answered", "from", from)
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(requestTimeout))
		if _, err := c.Write(out); err != nil || last {
			return
		}
	}
}

// Kinds of answers on a stream.
const (
	answerNone   = iota // nothing: malformed, unknown community, dropped
	answerReport        // a v3 Report (discovery, time window, unknown user, wrong digest)
	answerServed        // to a community, or to a known user at its level
)

// maxStreamReports is how many Reports a stream gets before its first served answer,
// the last one included: discovery, time synchronization, then a wrong key's.
const maxStreamReports = 3

// streamAnswer says what the engine answered: only an answer to a principal keeps a
// stream open. It reads the engine's own message, not the peer's.
func streamAnswer(out []byte) int {
	if out == nil {
		return answerNone
	}
	m, err := parseMessage(out)
	switch {
	case err != nil:
		return answerNone
	case m.version != wireV3, m.flags&flagPriv != 0:
		return answerServed // Reports are never encrypted
	}
	sp, err := parseScopedPDU(m.scoped)
	if err != nil || len(sp.pdu) == 0 {
		return answerNone
	}
	if gosnmp.PDUType(sp.pdu[0]) == gosnmp.Report {
		return answerReport
	}
	return answerServed // a noAuth user's answer
}

// readBERMessage reads one whole SEQUENCE from a stream, at most limit bytes.
func readBERMessage(br *bufio.Reader, limit int) ([]byte, error) {
	hdr := make([]byte, 2, 6)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return nil, fmt.Errorf("%w: stream message tag 0x%02x", errBER, hdr[0])
	}
	l := int(hdr[1])
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 3 {
			return nil, fmt.Errorf("%w: stream length form 0x%02x", errBER, hdr[1])
		}
		ext := make([]byte, k)
		if _, err := io.ReadFull(br, ext); err != nil {
			return nil, err
		}
		hdr = append(hdr, ext...)
		l = 0
		for _, b := range ext {
			l = l<<8 | int(b)
		}
	}
	if len(hdr)+l > limit {
		return nil, fmt.Errorf("message of %d bytes over the %d limit", len(hdr)+l, limit)
	}
	msg := make([]byte, len(hdr)+l)
	copy(msg, hdr)
	if _, err := io.ReadFull(br, msg[len(hdr):]); err != nil {
		return nil, err
	}
	return msg, nil
}
