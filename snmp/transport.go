package snmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

const (
	maxUDPPayload  = 65507
	requestTimeout = 10 * time.Second // bounds a handler stuck on a request
	tcpIdleTimeout = 2 * time.Minute
)

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
	for _, ln := range lns {
		readers.Go(func() { e.acceptTCP(ctx, ln, tcpSlots, &wg) })
	}
	<-ctx.Done()
	closeAll()
	readers.Wait()
	wg.Wait()
	e.log.Info("snmp stopped")
	return nil
}

// acceptTCP serves RFC 3430 streams: BER messages back to back on a connection.
func (e *Engine) acceptTCP(ctx context.Context, ln net.Listener, slots chan struct{}, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Warn("snmp tcp accept", "err", err)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			e.log.Warn("snmp tcp connection refused: too many", "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			e.serveStream(ctx, c)
		})
	}
}

func (e *Engine) serveStream(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		raw, err := readBERMessage(br, e.maxSize)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				e.log.Debug("snmp tcp stream closed", "from", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		out := e.handlePacket(rctx, raw, c.RemoteAddr(), e.maxSize)
		cancel()
		if out == nil {
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(requestTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
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
