package hosts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
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

	mu     sync.Mutex
	reason error // why kill was called, first reason wins
}

// openConn dials and opens the driver URI, all under ctx (the connect deadline).
func openConn(ctx context.Context, dial DialFunc, driverURI string, callTimeout time.Duration) (*conn, error) {
	raw, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	nc := &readErrConn{Conn: raw}
	c := &conn{l: libvirt.NewWithDialer(dialers.NewAlreadyConnected(nc)), nc: nc, callTimeout: callTimeout}
	done := make(chan error, 1)
	go func() { done <- c.l.ConnectToURI(libvirt.ConnectURI(driverURI)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		c.kill(fmt.Errorf("connect: %w", ErrTimeout))
		<-done // returns promptly now that the socket is closed
		err = fmt.Errorf("no answer within connect_timeout: %w", ErrTimeout)
	}
	if err != nil {
		c.kill(err)
		if rerr := nc.readErr(); rerr != nil {
			// What the peer said (e.g. a TLS alert) explains go-libvirt's ErrInterrupted.
			err = fmt.Errorf("%w (connection: %w)", err, rerr)
		}
		return nil, fmt.Errorf("open %q: %w", driverURI, err)
	}
	return c, nil
}

// readErrConn remembers the first read error, which go-libvirt swallows.
type readErrConn struct {
	net.Conn
	mu  sync.Mutex
	err error
}

func (c *readErrConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
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

func callWithin[T any](ctx context.Context, c *conn, limit time.Duration, what string, fn func(*lv) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	go func() {
		timer := time.AfterFunc(limit, func() {
			c.kill(fmt.Errorf("%s: no answer within %s: %w", what, limit, ErrTimeout))
		})
		v, err := fn(c.l)
		if !timer.Stop() {
			err = fmt.Errorf("no answer within %s: %w", limit, ErrTimeout)
		}
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		return r.v, wrapCallErr(what, r.err)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("%s: %w: %w", what, ErrTimeout, ctx.Err())
		}
		return zero, fmt.Errorf("%s: %w", what, ctx.Err())
	}
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
