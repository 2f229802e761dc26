package e2e

import (
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// TestTransports: the same agent answers v2c and v3 over UDP/IPv4, UDP/IPv6 and TCP.
func TestTransports(t *testing.T) {
	cfg := baseConfig(t)
	tcp := "tcp:127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	udp6 := "udp6:[::1]:" + strconv.Itoa(testkit.FreeUDPPort(t))
	cfg.ExtraListen = []string{tcp, udp6}
	g := Start(t, binary(t), cfg)
	for _, addr := range []string{g.Addr, tcp, udp6} {
		for _, cred := range []Cred{V2c("public"), admin.Cred("")} {
			t.Run(addr+"/"+cred.String(), func(t *testing.T) {
				r := g.RunAt(addr, cred, "snmpget", nil, sysUpTime, sysName)
				mustSucceed(t, r)
				if v := r.Vars(); len(v) != 2 || v[1].Value != "vmgate-e2e" {
					t.Fatalf("unexpected answer: %s", r)
				}
				r = g.RunAt(addr, cred, "snmpbulkwalk", []string{"-Cr25"}, systemGroup)
				mustSucceed(t, r)
				checkSortedUnder(t, r.WalkVars(), systemGroup)
			})
		}
	}
}

// TestTCPExhaustion: connections from one peer that send garbage or nothing cannot take
// the TCP slots: a real snmpget over TCP from another address still answers (v2c, and
// v3 authPriv, whose discovery and request share its connection), and the garbage
// streams are closed.
func TestTCPExhaustion(t *testing.T) {
	cfg := baseConfig(t)
	port := testkit.FreeTCPPort(t)
	tcp := "tcp:127.0.0.1:" + strconv.Itoa(port)
	cfg.ExtraListen = []string{tcp}
	g := Start(t, binary(t), cfg)
	to := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var garbage []net.Conn
	for i := range 40 { // the pool is 4 x workers: 32 on 2 cores
		c, err := d.Dial("tcp", to.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if i%2 == 0 {
			_, _ = c.Write([]byte{0x30, 0x00})
			garbage = append(garbage, c)
		}
	}
	// The listen queue is FIFO: these connect after all of the above were accepted.
	for _, cred := range []Cred{V2c("public"), admin.Cred("")} {
		r := g.RunAt(tcp, cred, "snmpget", nil, sysName)
		mustSucceed(t, r)
		mustContain(t, r, "vmgate-e2e")
	}
	for i, c := range garbage {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 16)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("garbage stream %d: %v, want closed by the agent", i, err)
		}
	}
}
