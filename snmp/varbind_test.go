package snmp

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestNativeEncodingMatchesGosnmp: the fast varbind encoder produces what gosnmp's
// codec decodes back to the same values, and the same bytes where gosnmp is minimal.
func TestNativeEncodingMatchesGosnmp(t *testing.T) {
	long := strings.Repeat("x", 300)
	oid := MustOID("1.3.6.1.4.1.99999.1.2.4294967295.128.16384.0")
	tests := []VarBind{
		{Type: gosnmp.Integer, Value: 0},
		{Type: gosnmp.Integer, Value: -1},
		{Type: gosnmp.Integer, Value: 127},
		{Type: gosnmp.Integer, Value: 128},
		{Type: gosnmp.Integer, Value: -129},
		{Type: gosnmp.Integer, Value: math.MaxInt32},
		{Type: gosnmp.Integer, Value: math.MinInt32},
		{Type: gosnmp.OctetString, Value: []byte{}},
		{Type: gosnmp.OctetString, Value: []byte("vm-01")},
		{Type: gosnmp.OctetString, Value: long},
		{Type: gosnmp.OctetString, Value: []byte(long[:130])},
		{Type: gosnmp.Counter32, Value: uint32(0)},
		{Type: gosnmp.Counter32, Value: uint32(math.MaxUint32)},
		{Type: gosnmp.Gauge32, Value: uint32(128)},
		{Type: gosnmp.TimeTicks, Value: uint32(8640000)},
		{Type: gosnmp.Counter64, Value: uint64(math.MaxUint64)},
		{Type: gosnmp.Counter64, Value: uint64(1) << 40},
		{Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.3.7466"},
		{Type: gosnmp.ObjectIdentifier, Value: "2.999.3"},
		{Type: gosnmp.IPAddress, Value: "192.0.2.7"},
		{Type: gosnmp.NoSuchObject},
		{Type: gosnmp.NoSuchInstance},
		{Type: gosnmp.EndOfMibView},
		{Type: gosnmp.Null},
	}
	for _, vb := range tests {
		vb.OID = oid
		t.Run(vb.Type.String(), func(t *testing.T) {
			native, ok := appendVarBind(nil, vb)
			if !ok {
				t.Fatalf("native encoder refused %v", vb)
			}
			ref, err := marshalVBL([]VarBind{vb})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(native, ref) {
				t.Logf("bytes differ (fine if both decode alike):\n native %x\n gosnmp %x", native, ref)
			}
			p, err := parsePDU(buildPDU(gosnmp.GetResponse, 1, 0, 0, native))
			if err != nil {
				t.Fatal(err)
			}
			got := p.vars[0]
			want := vb.Value
			if s, ok := want.(string); ok && vb.Type == gosnmp.OctetString {
				want = []byte(s)
			}
			if vb.Type == gosnmp.ObjectIdentifier && !strings.HasPrefix(want.(string), ".") {
				want = "." + want.(string)
			}
			if got.OID.Compare(oid) != 0 || got.Type != vb.Type || !reflect.DeepEqual(got.Value, want) {
				t.Errorf("decoded %v %v (%T), want %v %v (%T)", got.Type, got.Value, got.Value, vb.Type, want, want)
			}
		})
	}
	// Values outside the contract fall back to gosnmp (or fail there), never garbage.
	for _, vb := range []VarBind{
		{OID: oid, Type: gosnmp.Integer, Value: "7"},
		{OID: oid, Type: gosnmp.Counter32, Value: -1},
		{OID: OID{1}, Type: gosnmp.Null},
		{OID: oid, Type: gosnmp.Opaque, Value: []byte{1}},
	} {
		if _, ok := appendVarBind(nil, vb); ok {
			t.Errorf("native encoder accepted %v", vb)
		}
	}
}
