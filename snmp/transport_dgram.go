package snmp

import "net"

// dgramConn is one reader's view of a UDP socket: receive a datagram, answer its
// sender. The address readFrom returns is valid until the reader's next readFrom.
type dgramConn interface {
	readFrom(buf []byte) (int, net.Addr, error)
	writeTo(b []byte, to net.Addr) error
}

// pcConn is the portable dgramConn: the net package's ReadFrom and WriteTo.
type pcConn struct{ pc net.PacketConn }

func (c pcConn) readFrom(buf []byte) (int, net.Addr, error) { return c.pc.ReadFrom(buf) }

func (c pcConn) writeTo(b []byte, to net.Addr) error {
	_, err := c.pc.WriteTo(b, to)
	return err
}
