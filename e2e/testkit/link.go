package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Link is a dialer for a libvirt unix socket that a test can break as a network
// would: Freeze stops forwarding without closing (a hung daemon or a silent link), Cut
// closes every connection and refuses new ones (a host that dropped off the network),
// Restore undoes both.
type Link struct {
	target string
	mu     sync.Mutex
	frozen bool
	down   bool
	conns  []net.Conn
}

// NewLink returns a link to the unix socket at target, up.
func NewLink(target string) *Link { return &Link{target: target} }

// Dial connects through the link; it has the signature hosts.DialFunc wants.
func (p *Link) Dial(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	down, frozen := p.down, p.frozen
	p.mu.Unlock()
	if down {
		return nil, errors.New("testkit link: connection refused")
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

func (p *Link) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		for p.isFrozen() {
			time.Sleep(pollEvery)
			if p.isDown() {
				return
			}
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *Link) isFrozen() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.frozen }
func (p *Link) isDown() bool   { p.mu.Lock(); defer p.mu.Unlock(); return p.down }

// Freeze stops forwarding; open connections stay open and hang.
func (p *Link) Freeze() { p.set(true, false) }

// Cut closes every connection and refuses new ones.
func (p *Link) Cut() { p.set(false, true) }

// Restore lets traffic through again.
func (p *Link) Restore() { p.set(false, false) }

func (p *Link) set(frozen, down bool) {
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

func (p *Link) String() string {
	return fmt.Sprintf("link(frozen=%v down=%v)", p.isFrozen(), p.isDown())
}
