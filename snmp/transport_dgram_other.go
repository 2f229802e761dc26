//go:build !linux || 386

package snmp

import "net"

func newDgramConn(pc net.PacketConn) dgramConn { return pcConn{pc} }
