package snmp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// tcpEngine serves baseConfig on TCP only, with its TCP limits changed by lim.
func tcpEngine(t *testing.T, lim func(*tcpLimits)) *net.TCPAddr {
	t.Helper()
	_, addr := tcpServing(t, lim)
	return addr
}

// tcpServing is tcpEngine, with the engine.
func tcpServing(t *testing.T, lim func(*tcpLimits)) (*Engine, *net.TCPAddr) {
	t.Helper()
	cfg := baseConfig(t)
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	e, err := New(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	lim(&e.tcp)
	testkit.Go(t, "Serve", e.Serve)
	<-e.Ready()
	return e, e.Addrs()[0].(*net.TCPAddr)
}

// dialFrom opens a TCP connection to addr from the loopback address local.
func dialFrom(t *testing.T, local string, addr *net.TCPAddr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// v2cGet is a GET of sysName.0 with community.
func v2cGet(t *testing.T, community string) []byte {
	t.Helper()
	b, err := (&gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: community, PDUType: gosnmp.GetRequest,
		RequestID: 1, Variables: []gosnmp.SnmpPDU{{Name: "1.3.6.1.2.1.1.5.0", Type: gosnmp.Null}}}).MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange writes msg on c and returns the answer, or nil and the error that ended
// the read (io.EOF when the engine closed the stream). Reads are bounded at 60 s.
func exchange(t *testing.T, c net.Conn, msg []byte) ([]byte, error) {
	t.Helper()
	if msg != nil {
		if _, err := c.Write(msg); err != nil {
			return nil, err
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	return readBERMessage(bufio.NewReader(c), maxUDPPayload)
}

// closed says whether err is the engine closing the stream (not a timeout).
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// TestTCPPerPeer: a peer (address) holds at most perPeer connections; others are
// served, and a closed connection frees its place.
func TestTCPPerPeer(t *testing.T) {
	addr := tcpEngine(t, func(l *tcpLimits) { l.perPeer = 2 })
	a := dialFrom(t, "127.0.0.1", addr)
	dialFrom(t, "127.0.0.1", addr)
	if _, err := exchange(t, dialFrom(t, "127.0.0.1", addr), nil); !closed(err) {
		t.Fatalf("third connection of a peer: %v, want closed", err)
	}
	if out, err := exchange(t, dialFrom(t, "127.0.0.2", addr), v2cGet(t, "public")); err != nil || out == nil {
		t.Fatalf("another peer's GET: %v", err)
	}
	a.Close()
	if !eventually(t, func() bool {
		out, err := exchange(t, dialFrom(t, "127.0.0.1", addr), v2cGet(t, "public"))
		return err == nil && out != nil
	}) {
		t.Fatal("the peer's place was not freed")
	}
}

// TestTCPCloses: a stream that brings no answered, authenticated message is closed; a
// discovery probe then the request on one connection (net-snmp, gosnmp) is served.
// TestTCPReplayedMessage: a captured authenticated message sent again out of its time
// window earns authenticated Reports, which neither extend the stream's deadline nor
// keep it open past maxStreamReports: no credentials, no held slot.
func TestTCPReplayedMessage(t *testing.T) {
	e, addr := tcpServing(t, func(*tcpLimits) {})
	u := baseConfig(t).Users[1]
	stale := rawV3{engineID: e.engineID, boots: e.boots, time: e.engineTime() + 10*timeWindow, user: u,
		flags: gosnmp.AuthPriv | gosnmp.Reportable, msgID: 7, requestID: 7}.build(t, "1.3.6.1.2.1.1.5.0")
	c := dialFrom(t, "127.0.0.1", addr)
	for range maxStreamReports + 2 {
		if _, err := c.Write(stale); err != nil {
			break // closed already
		}
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	answers := 0
	for {
		if _, err := readBERMessage(br, maxUDPPayload); err != nil {
			if !closed(err) {
				t.Fatalf("after %d answers: %v, want the stream closed", answers, err)
			}
			break
		}
		answers++
	}
	if answers != maxStreamReports {
		t.Fatalf("%d Reports before the close, want %d", answers, maxStreamReports)
	}
}

func TestTCPCloses(t *testing.T) {
	addr := tcpEngine(t, func(l *tcpLimits) {})
	probe := rawV3{flags: gosnmp.Reportable, msgID: 1, requestID: 1}.build(t, "1.3.6.1.2.1.1.5.0")
	tests := []struct {
		name    string
		msgs    [][]byte
		answers int // before the engine closes
	}{
		{"empty SEQUENCE", [][]byte{{0x30, 0x00}}, 0},
		{"unknown community", [][]byte{v2cGet(t, "nope")}, 0},
		{"served, then garbage", [][]byte{v2cGet(t, "public"), {0x30, 0x00}}, 1},
		{"discovery probes", [][]byte{probe, probe, probe, probe}, maxStreamReports},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", addr)
			answers := 0
			for _, m := range tt.msgs {
				if _, err := c.Write(m); err != nil {
					t.Fatal(err)
				}
			}
			br := bufio.NewReader(c)
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for {
				_, err := readBERMessage(br, maxUDPPayload)
				if err != nil {
					if !closed(err) {
						t.Fatalf("after %d answers: %v, want the stream closed", answers, err)
					}
					break
				}
				answers++
			}
			if answers != tt.answers {
				t.Fatalf("%d answers before the close, want %d", answers, tt.answers)
			}
		})
	}
	u := baseConfig(t).Users[1] // authPriv: discovery, then the request, on one stream
	x := v3client(t, &net.UDPAddr{IP: addr.IP, Port: addr.Port}, u, "")
	x.Conn.Close()
	x.Transport = "tcp"
	connect(t, x)
	for range 3 {
		if res, err := x.Get([]string{"1.3.6.1.2.1.1.5.0"}); err != nil || string(res.Variables[0].Value.([]byte)) != "gw1" {
			t.Fatalf("v3 over TCP: %v %v", res, err)
		}
	}
}

// TestTCPDeadlines: a silent connection is closed authTimeout after its accept; an
// authenticated one that keeps asking is closed at its lifetime.
func TestTCPDeadlines(t *testing.T) {
	addr := tcpEngine(t, func(l *tcpLimits) { l.authTimeout, l.lifetime = time.Second, 2*time.Second })
	if _, err := exchange(t, dialFrom(t, "127.0.0.1", addr), nil); !closed(err) {
		t.Fatalf("silent connection: %v, want closed", err)
	}
	c := dialFrom(t, "127.0.0.1", addr)
	if !eventually(t, func() bool {
		_, err := exchange(t, c, v2cGet(t, "public"))
		return closed(err)
	}) {
		t.Fatal("a busy connection outlived its lifetime")
	}
}

// FuzzReadBERMessage feeds a byte stream to the TCP framing: it never panics, never
// returns more than the limit, and returns whole SEQUENCEs, in order, from the stream.
func FuzzReadBERMessage(f *testing.F) {
	f.Add([]byte{0x30, 0x00, 0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 512
		br := bufio.NewReader(bytes.NewReader(b))
		var got []byte
		for {
			msg, err := readBERMessage(br, limit)
			if err != nil {
				break
			}
			if len(msg) > limit || len(msg) < 2 || msg[0] != 0x30 {
				t.Fatalf("message % x", msg)
			}
			got = append(got, msg...)
		}
		if !bytes.HasPrefix(b, got) {
			t.Fatalf("messages % x are not the stream's start % x", got, b)
		}
	})
}
