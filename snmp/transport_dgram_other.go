//go:build !linux

package snmp

import "net"

func newDgramConn(pc net.PacketConn) dgramConn { return pcConn{pc} }
