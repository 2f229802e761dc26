package snmp

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// BenchmarkBulk25 measures one v2c GETBULK of 25 repetitions through handlePacket,
// reported per varbind.
func BenchmarkBulk25(b *testing.B) {
	e := fixedEngine(b)
	h := &scalars{}
	for i := uint32(1); i <= 2000; i++ {
		h.add(MustOID("1.3.6.1.4.1.99999.3.1.2").Append(i), func() VarBind {
			return VarBind{Type: gosnmp.OctetString, Value: []byte("some-vm-name-here")}
		})
	}
	e.Register(MustOID("1.3.6.1.4.1.99999.3"), h)
	req := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
		RequestID: 1, MaxRepetitions: 25, Variables: []gosnmp.SnmpPDU{{Name: ".1.3.6.1.4.1.99999.3.1.2.100", Type: gosnmp.Null}}}
	raw, err := req.MarshalMsg()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := e.handlePacket(context.Background(), raw, nil, maxUDPPayload); out == nil {
			b.Fatal("no answer")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*25), "ns/varbind")
}
