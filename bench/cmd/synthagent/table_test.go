package main

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// TestTableWalk walks the whole table with Next from below it: every instance once, in
// strictly increasing order, then nothing.
func TestTableWalk(t *testing.T) {
	for _, tc := range []struct{ rows, cols int }{{1, 1}, {7, 5}, {100, 3}} {
		tb := newTable(tc.rows, tc.cols)
		oid := snmp.MustOID("1.3.6.1.4.1.99999")
		n := 0
		for {
			vb, ok := tb.Next(context.Background(), nil, oid)
			if !ok {
				break
			}
			if vb.OID.Compare(oid) <= 0 {
				t.Fatalf("%dx%d: Next(%v) = %v, not after it", tc.rows, tc.cols, oid, vb.OID)
			}
			if got := tb.Get(context.Background(), nil, vb.OID); got.Type != vb.Type {
				t.Fatalf("Get(%v) = %v, Next said %v", vb.OID, got.Type, vb.Type)
			}
			oid = vb.OID
			n++
		}
		if n != tc.rows*tc.cols {
			t.Fatalf("%dx%d: walked %d instances", tc.rows, tc.cols, n)
		}
	}
}

func TestTableNextAndGet(t *testing.T) {
	tb := newTable(3, 2) // rows 3, 6, 9
	next := []struct{ in, want string }{
		{"1.3.6.1.4.1.99999.1.1", ".1.3.6.1.4.1.99999.1.1.1.1.3"},
		{"1.3.6.1.4.1.99999.1.1.1.1.4", ".1.3.6.1.4.1.99999.1.1.1.1.6"},
		{"1.3.6.1.4.1.99999.1.1.1.1.6.5", ".1.3.6.1.4.1.99999.1.1.1.1.9"},
		{"1.3.6.1.4.1.99999.1.1.1.1.9", ".1.3.6.1.4.1.99999.1.1.1.2.3"},
		{"1.3.6.1.4.1.99999.1.1.1.0", ".1.3.6.1.4.1.99999.1.1.1.1.3"},
		{"1.3.6.1.4.1.99999.1.1.1.2.9", ""},
		{"1.3.6.1.4.1.99999.1.1.1.3", ""},
		{"1.3.6.1.4.1.99999.2", ""},
	}
	for _, c := range next {
		vb, ok := tb.Next(context.Background(), nil, snmp.MustOID(c.in))
		got := ""
		if ok {
			got = vb.OID.String()
		}
		if got != c.want {
			t.Errorf("Next(%s) = %q, want %q", c.in, got, c.want)
		}
	}
	get := []struct {
		in   string
		want gosnmp.Asn1BER
	}{
		{"1.3.6.1.4.1.99999.1.1.1.2.6", gosnmp.OctetString},
		{"1.3.6.1.4.1.99999.1.1.1.2.7", gosnmp.NoSuchInstance},
		{"1.3.6.1.4.1.99999.1.1.1.3.6", gosnmp.NoSuchObject},
		{"1.3.6.1.4.1.99999.1.1.1.1.6.0", gosnmp.NoSuchInstance},
	}
	for _, c := range get {
		if got := tb.Get(context.Background(), nil, snmp.MustOID(c.in)).Type; got != c.want {
			t.Errorf("Get(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestNullTableWalk walks the null table: rows 1..n of column 1, in order, then nothing;
// Get agrees with Next and refuses what is not an instance.
func TestNullTableWalk(t *testing.T) {
	tb := newNullTable(5)
	oid := snmp.MustOID("1.3.6.1.4.1.99999")
	var got []uint32
	for {
		vb, ok := tb.Next(context.Background(), nil, oid)
		if !ok {
			break
		}
		if vb.OID.Compare(oid) <= 0 {
			t.Fatalf("Next(%v) = %v, not after it", oid, vb.OID)
		}
		if g := tb.Get(context.Background(), nil, vb.OID); g.Type != gosnmp.Integer {
			t.Fatalf("Get(%v) = %v", vb.OID, g.Type)
		}
		got = append(got, vb.OID[len(vb.OID)-1])
		oid = vb.OID
	}
	if len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Fatalf("walked rows %v, want 1..5", got)
	}
	for _, o := range []string{"1.3.6.1.4.1.99999.1.1.1.1.0", "1.3.6.1.4.1.99999.1.1.1.1.6", "1.3.6.1.4.1.99999.1.1.1.2.1"} {
		if g := tb.Get(context.Background(), nil, snmp.MustOID(o)); g.Type == gosnmp.Integer {
			t.Fatalf("Get(%s) answered an instance", o)
		}
	}
	if vb, ok := tb.Next(context.Background(), nil, snmp.MustOID("1.3.6.1.4.1.99999.1.1.1.1.3.7")); !ok || vb.OID[len(vb.OID)-1] != 4 {
		t.Fatalf("Next below row 3 = %v %v, want row 4", vb.OID, ok)
	}
}
