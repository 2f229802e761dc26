package snmp

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// BenchmarkBulk25 measures one v2c GETBULK of 25 repetitions through handlePacket,
// reported per varbind.
func BenchmarkBulk25(b *testing.B) {
	benchBulk25(b, &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public"})
}

// BenchmarkBulk25V3 is BenchmarkBulk25 with SNMPv3 authPriv (SHA-256, AES): digest
// check and decryption of the request, encryption and digest of the answer.
func BenchmarkBulk25V3(b *testing.B) {
	benchBulk25(b, &gosnmp.SnmpPacket{Version: gosnmp.Version3, MsgFlags: gosnmp.AuthPriv | gosnmp.Reportable,
		SecurityModel: gosnmp.UserSecurityModel, MsgID: 1, ContextEngineID: string(fixedEngineIDBytes(b)),
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "rw",
			AuthoritativeEngineID: string(fixedEngineIDBytes(b)), AuthenticationProtocol: gosnmp.SHA256,
			AuthenticationPassphrase: string(authPass), PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: string(privPass)}})
}

// BenchmarkBulk25Walker is BenchmarkBulk25 with a handler that walks (Walker).
func BenchmarkBulk25Walker(b *testing.B) {
	l := &listWalker{}
	for i := uint32(1); i <= 2000; i++ {
		l.vbs = append(l.vbs, VarBind{OID: MustOID("1.3.6.1.4.1.99999.3.1.2").Append(i), Type: gosnmp.OctetString,
			Value: []byte("some-vm-name-here")})
	}
	benchBulk25With(b, &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public"}, l)
}

func benchBulk25(b *testing.B, req *gosnmp.SnmpPacket) {
	b.Helper()
	h := &scalars{}
	for i := uint32(1); i <= 2000; i++ {
		h.add(MustOID("1.3.6.1.4.1.99999.3.1.2").Append(i), func() VarBind {
			return VarBind{Type: gosnmp.OctetString, Value: []byte("some-vm-name-here")}
		})
	}
	benchBulk25With(b, req, h)
}

func benchBulk25With(b *testing.B, req *gosnmp.SnmpPacket, h Handler) {
	b.Helper()
	e := fixedEngine(b)
	e.Register(MustOID("1.3.6.1.4.1.99999.3"), h)
	// The community caps (10 repetitions by default) would cut the 25 asked for.
	sec := *e.sec.Load()
	sec.communityMaxReps, sec.communityMaxSize = 100, maxUDPPayload
	e.sec.Store(&sec)
	req.PDUType, req.RequestID, req.MaxRepetitions = gosnmp.GetBulkRequest, 1, 25
	req.Variables = []gosnmp.SnmpPDU{{Name: ".1.3.6.1.4.1.99999.3.1.2.100", Type: gosnmp.Null}}
	if sp, ok := req.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok {
		sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime = e.boots, e.engineTime()
		if err := sp.InitSecurityKeys(); err != nil {
			b.Fatal(err)
		}
		if err := sp.InitPacket(req); err != nil { // the salt
			b.Fatal(err)
		}
	}
	raw, err := req.MarshalMsg()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := e.handlePacket(context.Background(), raw, nil, maxUDPPayload); len(out) < 25*30 {
			b.Fatalf("answer of %d bytes: %x", len(out), out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*25), "ns/varbind")
}

func fixedEngineIDBytes(tb testing.TB) []byte {
	tb.Helper()
	id, err := hex.DecodeString(fixedEngineID)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}
