package snmp

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestResponseMatchesGosnmp: a v1/v2c response message built by wrapCommunity is
// byte for byte what gosnmp marshals for the same packet: header, lengths of every
// size class, request IDs and error fields. Where gosnmp encodes a value in a
// non-minimal way the varbinds may differ (TestNativeEncodingMatchesGosnmp); the
// envelope around gosnmp's own varbind bytes must still be identical. Not compared:
// negative request IDs (gosnmp sends them as unsigned) and communities of 128 bytes
// or more (gosnmp writes their length in the short form, which BER has not).
func TestResponseMatchesGosnmp(t *testing.T) {
	long := MustOID("1.3.6.1.4.1.99999.1.2.4294967295.128.16384.2097152.268435456.0")
	all := []VarBind{
		{OID: long, Type: gosnmp.Integer, Value: math.MinInt32},
		{OID: long, Type: gosnmp.Integer, Value: -129},
		{OID: long, Type: gosnmp.Integer, Value: 255},
		{OID: long, Type: gosnmp.OctetString, Value: []byte("vm-01")},
		{OID: long, Type: gosnmp.OctetString, Value: strings.Repeat("x", 300)},
		{OID: long, Type: gosnmp.Counter32, Value: uint32(math.MaxUint32)},
		{OID: long, Type: gosnmp.Gauge32, Value: uint32(1 << 31)},
		{OID: long, Type: gosnmp.TimeTicks, Value: uint32(8640000)},
		{OID: long, Type: gosnmp.Counter64, Value: uint64(math.MaxUint64)},
		{OID: long, Type: gosnmp.Counter64, Value: uint64(0)},
		{OID: long, Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.3.7466.1.3"},
		{OID: long, Type: gosnmp.IPAddress, Value: "192.0.2.7"},
		{OID: MustOID("1.3.6.1.2.1.1.5.0"), Type: gosnmp.NoSuchObject},
		{OID: MustOID("1.3.6.1.2.1.1.5.1"), Type: gosnmp.NoSuchInstance},
		{OID: MustOID("1.3.6.1.2.1.1.9"), Type: gosnmp.EndOfMibView},
	}
	many := make([]VarBind, 0, 2000)
	for i := range 2000 { // a message over 64 KiB: three-byte lengths
		many = append(many, VarBind{OID: long.Append(uint32(i)), Type: gosnmp.OctetString, Value: []byte("0123456789")})
	}
	tests := []struct {
		name      string
		version   gosnmp.SnmpVersion
		community string
		reqID     int32
		status    gosnmp.SNMPError
		index     int
		vars      []VarBind
	}{
		{"empty", gosnmp.Version2c, "public", 1, gosnmp.NoError, 0, nil},
		{"one", gosnmp.Version2c, "public", 127, gosnmp.NoError, 0, all[3:4]},
		{"all types", gosnmp.Version2c, "public", 1 << 20, gosnmp.NoError, 0, all},
		{"each type", gosnmp.Version2c, "c", 128, gosnmp.NoError, 0, nil}, // filled below
		{"v1 error", gosnmp.Version1, "private", 0, gosnmp.NoSuchName, 2, all[:3]},
		{"v2c error", gosnmp.Version2c, strings.Repeat("k", 127), 1 << 24, gosnmp.NotWritable, 255, all[5:9]},
		{"tooBig", gosnmp.Version2c, "public", math.MaxInt32, gosnmp.TooBig, 0, nil},
		{"over 64 KiB", gosnmp.Version2c, "public", 7, gosnmp.NoError, 0, many},
	}
	for _, tt := range tests {
		cases := [][]VarBind{tt.vars}
		if tt.name == "each type" {
			cases = cases[:0]
			for i := range all {
				cases = append(cases, all[i:i+1])
			}
		}
		for _, vars := range cases {
			t.Run(tt.name, func(t *testing.T) {
				pkt := &gosnmp.SnmpPacket{Version: tt.version, Community: tt.community, PDUType: gosnmp.GetResponse,
					RequestID: uint32(tt.reqID), Error: tt.status, ErrorIndex: uint8(tt.index)}
				for _, vb := range vars {
					pkt.Variables = append(pkt.Variables, gosnmp.SnmpPDU{Name: vb.OID.String(), Type: vb.Type, Value: vb.Value})
				}
				ref, err := pkt.MarshalMsg()
				if err != nil {
					t.Fatal(err)
				}
				refVBL := []byte{}
				if len(vars) > 0 {
					if refVBL, err = marshalVBL(vars); err != nil {
						t.Fatal(err)
					}
				}
				l, _, err := encodeVarBinds(vars)
				if err != nil {
					t.Fatal(err)
				}
				defer l.release()
				p := pduOut{tag: gosnmp.GetResponse, requestID: tt.reqID, status: tt.status, index: tt.index}
				ver := int64(wireV2c)
				if tt.version == gosnmp.Version1 {
					ver = wireV1
				}
				p.vbl = refVBL
				if env := wrapCommunity(ver, []byte(tt.community), p); !bytes.Equal(env, ref) {
					t.Fatalf("envelope differs from gosnmp's:\n ours   %x\n gosnmp %x", env, ref)
				}
				p.vbl = l.b
				msg := wrapCommunity(ver, []byte(tt.community), p)
				if bytes.Equal(l.b, refVBL) && !bytes.Equal(msg, ref) {
					t.Fatalf("message differs:\n ours   %x\n gosnmp %x", msg, ref)
				}
				got, err := (&gosnmp.GoSNMP{Version: tt.version}).SnmpDecodePacket(msg)
				if err != nil {
					t.Fatalf("gosnmp cannot decode ours: %v", err)
				}
				if got.RequestID != uint32(tt.reqID) || got.Error != tt.status || int(got.ErrorIndex) != tt.index ||
					len(got.Variables) != len(vars) || got.Community != tt.community {
					t.Fatalf("decoded %+v", got)
				}
				releaseMsg(msg)
			})
		}
	}
}

// TestBuildPDUPrefix: the PDU of the first k varbinds of a list, as fitBulk cuts it,
// is what encoding those k alone gives.
func TestBuildPDUPrefix(t *testing.T) {
	vars := []VarBind{
		{OID: MustOID("1.3.6.1.2.1.1.5.0"), Type: gosnmp.OctetString, Value: "a"},
		{OID: MustOID("1.3.6.1.2.1.1.3.0"), Type: gosnmp.TimeTicks, Value: uint32(5)},
		{OID: MustOID("1.3.6.1.2.1.1.9"), Type: gosnmp.EndOfMibView},
	}
	l, _, err := encodeVarBinds(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	for k := range len(vars) + 1 {
		one, _, err := encodeVarBinds(vars[:k])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.prefix(k), one.b) {
			t.Errorf("prefix %d = %x, want %x", k, l.prefix(k), one.b)
		}
		one.release()
	}
}

// TestWrapV3RoundTrip: a v3 message built by wrapV3 parses, carries a valid digest
// where authentication is on, decrypts where privacy is on, and holds the PDU given,
// for every level and privacy protocol (DES pads to whole blocks).
func TestWrapV3RoundTrip(t *testing.T) {
	e := fixedEngine(t)
	vars := []VarBind{{OID: MustOID("1.3.6.1.2.1.1.5.0"), Type: gosnmp.OctetString, Value: strings.Repeat("n", 200)}}
	l, _, err := encodeVarBinds(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	p := pduOut{tag: gosnmp.GetResponse, requestID: 4242, vbl: l.b}
	for _, tt := range []struct {
		name       string
		auth, priv string
		level      byte
	}{
		{"noAuthNoPriv", "", "", 0},
		{"authNoPriv MD5", "MD5", "", flagAuth},
		{"authNoPriv SHA-512", "SHA-512", "", flagAuth},
		{"authPriv SHA/DES", "SHA", "DES", flagAuth | flagPriv},
		{"authPriv SHA-256/AES", "SHA-256", "AES", flagAuth | flagPriv},
		{"authPriv SHA-384/AES-256", "SHA-384", "AES-256", flagAuth | flagPriv},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := newUSMUser(User{Name: "u1", AuthProtocol: tt.auth, AuthPassphrase: authPass,
				PrivProtocol: tt.priv, PrivPassphrase: privPass}, e.engineID)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := e.wrapV3(v3out{msgID: 99, level: tt.level, user: u, contextName: "kvm1"}, p)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseMessage(msg)
			if err != nil {
				t.Fatalf("own message does not parse: %v", err)
			}
			if m.msgID != 99 || m.flags != tt.level || string(m.usm.user) != "u1" || string(m.usm.engineID) != string(e.engineID) {
				t.Fatalf("header: %+v", m)
			}
			if tt.level&flagAuth != 0 && !u.verifyDigest(m) {
				t.Fatal("digest does not verify")
			}
			scoped := m.scoped
			if tt.level&flagPriv != 0 {
				if scoped, err = u.decrypt(m); err != nil {
					t.Fatal(err)
				}
			}
			sp, err := parseScopedPDU(scoped)
			if err != nil || sp.contextName != "kvm1" || !bytes.Equal(sp.pdu, buildPDU(p.tag, p.requestID, 0, 0, p.vbl)) {
				t.Fatalf("scopedPDU %+v, %v", sp, err)
			}
			msg[len(msg)-1] ^= 1 // any change breaks the digest
			if m, err := parseMessage(msg); tt.level&flagAuth != 0 && err == nil && u.verifyDigest(m) {
				t.Error("a modified message still verifies")
			}
		})
	}
}
