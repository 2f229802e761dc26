package mibtest

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// GetCase is one GET of a test: in context Ctx, OID must answer Type and Value. An
// alias of a struct literal type, so that tables of cases may list the fields in order.
type GetCase = struct {
	Name  string
	Ctx   string
	OID   snmp.OID
	Type  gosnmp.Asn1BER
	Value any
}

// CheckGets runs each case against h as a subtest.
func CheckGets(t *testing.T, h snmp.Handler, cases []GetCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			vb := h.Get(context.Background(), &snmp.Request{Context: tc.Ctx}, tc.OID)
			if vb.Type != tc.Type || !SameValue(vb.Value, tc.Value) {
				t.Errorf("GET %v = %v %#v, want %v %#v", tc.OID, vb.Type, vb.Value, tc.Type, tc.Value)
			}
		})
	}
}
