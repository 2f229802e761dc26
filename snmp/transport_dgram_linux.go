//go:build linux && !386

package snmp

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// rawConn receives and answers with recvfrom/sendto as raw system calls on the
// non-blocking socket, waiting for readiness through the runtime's poller (RawConn).
// The net package's ReadFrom/WriteTo enter the scheduler's syscall state around each
// call, and the first such entry after the process was idle wakes the runtime's
// monitor thread: on a walk that was a thread wake-up (and a 20 us sleep loop) per
// request, up to a third of the agent's CPU. A non-blocking call needs none of that.
// It also keeps the sender's address as the kernel gave it: no allocation per datagram.
type rawConn struct {
	pc   net.PacketConn
	rc   syscall.RawConn
	from rawAddr
}

func newDgramConn(pc net.PacketConn) dgramConn {
	if uc, ok := pc.(*net.UDPConn); ok {
		if rc, err := uc.SyscallConn(); err == nil {
			return &rawConn{pc: pc, rc: rc}
		}
	}
	return pcConn{pc}
}

// rawAddr is a sender's address as recvfrom gave it.
type rawAddr struct {
	sa  syscall.RawSockaddrAny
	len uint32
}

func (a *rawAddr) Network() string { return "udp" }

func (a *rawAddr) String() string { return a.addrPort().String() }

func (a *rawAddr) addrPort() netip.AddrPort {
	switch a.sa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&a.sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port))
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&a.sa))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func (c *rawConn) readFrom(buf []byte) (int, net.Addr, error) {
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			c.from.len = uint32(syscall.SizeofSockaddrAny)
			r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])),
				uintptr(len(buf)), 0, uintptr(unsafe.Pointer(&c.from.sa)), uintptr(unsafe.Pointer(&c.from.len)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, nil, err
	}
	if errno != 0 {
		return 0, nil, &net.OpError{Op: "read", Net: "udp", Addr: c.pc.LocalAddr(), Err: errno}
	}
	return n, &c.from, nil
}

func (c *rawConn) writeTo(b []byte, to net.Addr) error {
	a, ok := to.(*rawAddr)
	if !ok || a != &c.from {
		_, err := c.pc.WriteTo(b, to)
		return err
	}
	var errno syscall.Errno
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	err := c.rc.Write(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(p), uintptr(len(b)), 0,
				uintptr(unsafe.Pointer(&a.sa)), uintptr(a.len))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			errno = e
			return true
		}
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return &net.OpError{Op: "write", Net: "udp", Addr: to, Err: errno}
	}
	return nil
}
