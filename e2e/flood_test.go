package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// TestLogFlood: 500 requests with a wrong auth passphrase and 500 with an unknown
// community produce a bounded number of log lines (one per reason and minute), while
// usmStatsWrongDigests and snmpInBadCommunityNames count every one.
func TestLogFlood(t *testing.T) {
	const n = 500
	g := Start(t, binary(t), baseConfig(t))
	digests0 := g.Counter(t, V2c("public"), usmStatsWrongDigests)
	bad0 := g.Counter(t, V2c("public"), snmpInBadCommunityNames)
	off := g.LogLen()

	wrong := admin
	wrong.AuthPassphrase = "wrong-auth-passphrase"
	x, err := g.GoSNMP(wrong.Cred(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Connect(); err != nil {
		t.Fatal(err)
	}
	defer x.Conn.Close()
	for range n {
		if _, err := x.Get([]string{sysName}); err == nil {
			t.Fatal("GET with a wrong passphrase succeeded")
		}
	}
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "not-a-community", PDUType: gosnmp.GetRequest,
		RequestID: 1, Variables: []gosnmp.SnmpPDU{{Name: sysName, Type: gosnmp.Null}}}
	raw, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// In bursts of 50, each waited for: a long burst overflows the socket buffer.
	for sent := 0; sent < n; {
		for range 50 {
			if _, err := conn.Write(raw); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		deadline := time.Now().Add(30 * time.Second)
		for g.Counter(t, V2c("public"), snmpInBadCommunityNames)-bad0 < uint64(sent) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
		}
	}
	if d := g.Counter(t, V2c("public"), snmpInBadCommunityNames) - bad0; d != n {
		t.Errorf("snmpInBadCommunityNames grew by %d for %d datagrams", d, n)
	}
	if d := g.Counter(t, V2c("public"), usmStatsWrongDigests) - digests0; d != n {
		t.Errorf("usmStatsWrongDigests grew by %d, want %d", d, n)
	}
	var lines int
	for _, l := range strings.Split(g.LogsSince(off), "\n") {
		if strings.Contains(l, "level=INFO") || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			lines++
		}
	}
	if lines > 4 {
		t.Errorf("%d info or louder log lines for %d bad packets, want at most a few:\n%s", lines, 2*n, g.LogsSince(off))
	}
}
