package snmp

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func fixedScalars(oids ...string) *scalars {
	h := &scalars{}
	for _, o := range oids {
		h.add(MustOID(o), func() VarBind { return VarBind{Type: gosnmp.Integer, Value: 1} })
	}
	h.sort()
	return h
}

func walkAll(e *Engine, from OID) []string {
	var got []string
	r := &Request{}
	for o := from; ; {
		vb := e.next(context.Background(), r, o, false)
		if vb.Type == gosnmp.EndOfMibView {
			return got
		}
		got = append(got, vb.OID.String())
		o = vb.OID
	}
}

// TestNestedRoots: a subtree registered inside another is walked in order, and GET
// goes to the deepest root.
func TestNestedRoots(t *testing.T) {
	e := &Engine{}
	e.Register(MustOID("1.3.6.1.3.7466"), fixedScalars("1.3.6.1.3.7466.1.0", "1.3.6.1.3.7466.9.0"))
	e.Register(MustOID("1.3.6.1.3.7466.5"), fixedScalars("1.3.6.1.3.7466.5.1.0", "1.3.6.1.3.7466.5.2.0"))
	e.Register(MustOID("1.3.6.1.3.7466.5.2"), fixedScalars("1.3.6.1.3.7466.5.2.7.0"))
	e.Register(MustOID("1.3.6.1.3.7467"), fixedScalars("1.3.6.1.3.7467.1.0"))
	e.Register(MustOID("1.3.6.1.2"), fixedScalars("1.3.6.1.2.1.0"))
	tests := []struct {
		from string
		want []string
	}{
		{"1.3", []string{".1.3.6.1.2.1.0", ".1.3.6.1.3.7466.1.0", ".1.3.6.1.3.7466.5.1.0", ".1.3.6.1.3.7466.5.2.0",
			".1.3.6.1.3.7466.5.2.7.0", ".1.3.6.1.3.7466.9.0", ".1.3.6.1.3.7467.1.0"}},
		{"1.3.6.1.3.7466.5.2.7.0", []string{".1.3.6.1.3.7466.9.0", ".1.3.6.1.3.7467.1.0"}},
		{"1.3.6.1.3.7466.5.1.0", []string{".1.3.6.1.3.7466.5.2.0", ".1.3.6.1.3.7466.5.2.7.0", ".1.3.6.1.3.7466.9.0", ".1.3.6.1.3.7467.1.0"}},
		{"1.3.6.1.3.7467.1.0", nil},
		{"2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			got := walkAll(e, MustOID(tt.from))
			if len(got) != len(tt.want) {
				t.Fatalf("walk from %s = %v, want %v", tt.from, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("walk from %s = %v, want %v", tt.from, got, tt.want)
				}
			}
		})
	}
	if vb := e.get(context.Background(), &Request{}, MustOID("1.3.6.1.3.7466.5.2.7.0"), false); vb.Type != gosnmp.Integer {
		t.Errorf("GET in the deepest root: %v", vb)
	}
	if vb := e.get(context.Background(), &Request{}, MustOID("1.3.6.1.3.7466.5.3.0"), false); vb.Type != gosnmp.NoSuchObject {
		t.Errorf("GET of a missing object in a nested root: %v", vb)
	}
	e.Unregister(MustOID("1.3.6.1.3.7466.5"))
	want := []string{".1.3.6.1.2.1.0", ".1.3.6.1.3.7466.1.0", ".1.3.6.1.3.7466.5.2.7.0", ".1.3.6.1.3.7466.9.0", ".1.3.6.1.3.7467.1.0"}
	if got := walkAll(e, MustOID("1.3")); len(got) != len(want) {
		t.Errorf("after Unregister: %v, want %v", got, want)
	}
}
