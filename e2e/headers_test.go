package e2e

import (
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Counters of RFC 3412 section 7.2 and RFC 3418 the message-level checks bump.
const (
	snmpInBadVersions         = ".1.3.6.1.2.1.11.3.0"
	snmpUnknownSecurityModels = ".1.3.6.1.6.3.11.2.1.1.0"
	snmpInvalidMsgs           = ".1.3.6.1.6.3.11.2.1.2.0"
)

// TestBadHeaders: well-formed BER with a bad header is dropped silently and counted in
// its own counter, exactly once (RFC 3412 7.2 steps 2-5, RFC 3418 snmpInBadVersions).
func TestBadHeaders(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	v2c := v2cGetPacket(t, "public")
	v3 := v3ProbePacket(t)
	cases := []struct {
		name    string
		pkt     []byte
		counter string
	}{
		{"version 5", patchVersion(t, v2c, 5), snmpInBadVersions},
		{"version 2 (SNMPv2u)", patchVersion(t, v2c, 2), snmpInBadVersions},
		{"v3 security model 99", patchV3Header(t, v3, 99, -1), snmpUnknownSecurityModels},
		{"v3 security model 2 (v2c)", patchV3Header(t, v3, 2, -1), snmpUnknownSecurityModels},
		{"v3 priv without auth", patchV3Header(t, v3, -1, 0x06), snmpInvalidMsgs},
	}
	// Controls: the unpatched messages are answered (a Response, a discovery Report).
	for _, pkt := range [][]byte{v2c, v3} {
		if _, err := g.Exchange(pkt, 5*time.Second); err != nil {
			t.Fatalf("unpatched message % x not answered: %v", pkt, err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.Counter(t, V2c("public"), c.counter)
			if reply, err := g.Exchange(c.pkt, time.Second); err == nil {
				t.Fatalf("want no answer, got % x", reply)
			}
			if got := g.Counter(t, V2c("public"), c.counter); got != before+1 {
				t.Fatalf("%s %d -> %d, want +1", c.counter, before, got)
			}
		})
	}
	g.Get(t, admin.Cred(""), sysUpTime) // still serving
}

// v3ProbePacket encodes a noAuthNoPriv, reportable v3 GET with an empty engine ID (a
// discovery probe, answered with a Report); the user name does not matter to a probe.
func v3ProbePacket(t *testing.T) []byte {
	t.Helper()
	c := &gosnmp.GoSNMP{
		Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "u-noauth"}, MaxOids: gosnmp.MaxOids,
	}
	b, err := c.SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: sysUpTime, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// berTLV returns the tag, the offset of the contents and their length at off (short or
// long form lengths).
func berTLV(t *testing.T, b []byte, off int) (tag byte, start, n int) {
	t.Helper()
	if off+2 > len(b) {
		t.Fatalf("BER element past the end at %d", off)
	}
	tag, l := b[off], int(b[off+1])
	start = off + 2
	if l&0x80 != 0 {
		k := l & 0x7f
		l = 0
		for i := 0; i < k; i++ {
			l = l<<8 | int(b[start+i])
		}
		start += k
	}
	return tag, start, l
}

// patchVersion rewrites msgVersion (a one-byte INTEGER) of a v1/v2c/v3 message.
func patchVersion(t *testing.T, pkt []byte, v byte) []byte {
	t.Helper()
	b := append([]byte(nil), pkt...)
	_, start, _ := berTLV(t, b, 0)
	tag, vs, n := berTLV(t, b, start)
	if tag != 0x02 || n != 1 {
		t.Fatalf("unexpected msgVersion encoding % x", b[start:start+4])
	}
	b[vs] = v
	return b
}

// patchV3Header rewrites msgSecurityModel (if model >= 0) and msgFlags (if flags >= 0)
// in msgGlobalData: SEQUENCE { msgID, msgMaxSize, msgFlags, msgSecurityModel }.
func patchV3Header(t *testing.T, pkt []byte, model, flags int) []byte {
	t.Helper()
	b := append([]byte(nil), pkt...)
	_, start, _ := berTLV(t, b, 0)
	_, vs, vn := berTLV(t, b, start)  // msgVersion
	_, hs, _ := berTLV(t, b, vs+vn)   // msgGlobalData
	_, is, in := berTLV(t, b, hs)     // msgID
	_, ms, mn := berTLV(t, b, is+in)  // msgMaxSize
	ft, fs, fn := berTLV(t, b, ms+mn) // msgFlags
	st, ss, sn := berTLV(t, b, fs+fn) // msgSecurityModel
	if ft != 0x04 || fn != 1 || st != 0x02 || sn != 1 {
		t.Fatalf("unexpected msgGlobalData encoding % x", b[hs:ss+sn])
	}
	if flags >= 0 {
		b[fs] = byte(flags)
	}
	if model >= 0 {
		b[ss] = byte(model)
	}
	return b
}
