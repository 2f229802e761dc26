package mib_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// FuzzHandler sends arbitrary OIDs (as strangers do) to Get and Next in every context:
// no panic, Get answers for the OID asked, Next answers strictly after it, inside the
// module, never with an exception, and agrees with Get.
func FuzzHandler(f *testing.F) {
	seed := seedOID
	for _, name := range []string{"vmName", "cpuState", "networkAddress", "vmmName", "templateRowStatus", "vmgateAgent"} {
		o, _ := mib.Lookup(name)
		f.Add(seed(o.Append(1, 1)), uint8(0))
		f.Add(seed(o), uint8(1))
	}
	// networkAddressTable's index parser: a valid IPv4 and IPv6 row, an octet above
	// 255, a wrong length, type ipv4z.
	pl, _ := mib.Lookup("networkAddressPrefixLength")
	f.Add(seed(pl.Append(1, 1, 1, 4, 192, 0, 2, 10)), uint8(1))
	f.Add(seed(pl.Append(1, 1, 2, 16, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0, 0, 1)), uint8(0))
	f.Add(seed(pl.Append(1, 1, 1, 4, 192, 0, 2, 256)), uint8(0))
	f.Add(seed(pl.Append(1, 1, 1, 16, 192, 0, 2, 10)), uint8(0))
	f.Add(seed(pl.Append(1, 1, 3, 4, 192, 0, 2, 10)), uint8(0))
	f.Add(seed(snmp.OID{1}), uint8(2))
	f.Add(seed(mib.Root.Append(1, 6, 1, 12, 2, 4294967295)), uint8(0))
	fuzzHandler(f, mib.NewHandler(fixture()), mib.Root)
}

// seedOID is an OID as the fuzz targets take it: 4 bytes per arc.
func seedOID(o snmp.OID) []byte {
	b := make([]byte, 4*len(o))
	for i, n := range o {
		binary.BigEndian.PutUint32(b[4*i:], n)
	}
	return b
}

// FuzzStdHandler is FuzzHandler for VM-MIB.
func FuzzStdHandler(f *testing.F) {
	for _, name := range []string{"vmName", "vmCpuAffinity", "vmStorageAccess", "vmHvObjectID", "vmNetworkPhysAddress"} {
		o, _ := mib.StdLookup(name)
		f.Add(seedOID(o.Append(1, 1)), uint8(0))
		f.Add(seedOID(o), uint8(1))
	}
	f.Add(seedOID(snmp.OID{1}), uint8(2))
	f.Add(seedOID(mib.StdRoot.Append(1, 6, 1, 3, 1, 2, 4294967295)), uint8(0))
	fuzzHandler(f, mib.NewStdHandler(stdFixture(), &enablesStub{}), mib.StdRoot)
}

// fuzzHandler runs arbitrary OIDs through h's Get and Next in every context of the
// fixtures: no panic, Get answers for the OID asked, Next answers strictly after it,
// inside root, never with an exception, and agrees with Get.
func fuzzHandler(f *testing.F, h snmp.Handler, root snmp.OID) {
	f.Helper()
	ctxs := []string{"", "kvm1", "kvm2", "nosuch"}
	f.Fuzz(func(t *testing.T, raw []byte, c uint8) {
		oid := make(snmp.OID, len(raw)/4)
		for i := range oid {
			oid[i] = binary.BigEndian.Uint32(raw[4*i:])
		}
		r := &snmp.Request{Context: ctxs[int(c)%len(ctxs)]}
		vb := h.Get(context.Background(), r, oid)
		if vb.OID.Compare(oid) != 0 {
			t.Fatalf("Get(%v) answered for %v", oid, vb.OID)
		}
		next, ok := h.Next(context.Background(), r, oid)
		if !ok {
			return
		}
		if next.OID.Compare(oid) <= 0 || !next.OID.HasPrefix(root) {
			t.Fatalf("Next(%v) = %v", oid, next.OID)
		}
		switch next.Type {
		case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
			t.Fatalf("Next(%v) = exception %v", oid, next.Type)
		}
		if got := h.Get(context.Background(), r, next.OID); got.Type != next.Type || !mibtest.SameValue(got.Value, next.Value) {
			t.Fatalf("Next(%v) = %v %v, Get = %v %v", oid, next.Type, next.Value, got.Type, got.Value)
		}
	})
}
