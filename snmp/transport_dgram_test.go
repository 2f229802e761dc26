package snmp

import (
	"net"
	"testing"
)

// TestDgramConn: a reader's dgramConn receives a datagram, names its sender as the
// net package does, and answers it (the raw recvfrom/sendto path on Linux).
func TestDgramConn(t *testing.T) {
	for _, tt := range []struct{ name, network, addr string }{
		{"ipv4", "udp4", "127.0.0.1:0"},
		{"ipv6", "udp6", "[::1]:0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := net.ListenPacket(tt.network, tt.addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", tt.network, err)
			}
			defer srv.Close()
			cli, err := net.Dial(tt.network, srv.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if _, err := cli.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			c := newDgramConn(srv)
			buf := make([]byte, 64)
			n, from, err := c.readFrom(buf)
			if err != nil || string(buf[:n]) != "ping" {
				t.Fatalf("readFrom = %q, %v", buf[:n], err)
			}
			if from.String() != cli.LocalAddr().String() || from.Network() != "udp" {
				t.Errorf("sender %s %q, want udp %q", from.Network(), from, cli.LocalAddr())
			}
			if err := c.writeTo([]byte("pong"), from); err != nil {
				t.Fatal(err)
			}
			n, err = cli.Read(buf)
			if err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("answer %q, %v", buf[:n], err)
			}
			// An address of another origin goes through the net package.
			if err := c.writeTo([]byte("pong2"), cli.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if n, err = cli.Read(buf); err != nil || string(buf[:n]) != "pong2" {
				t.Fatalf("answer %q, %v", buf[:n], err)
			}
		})
	}
}
