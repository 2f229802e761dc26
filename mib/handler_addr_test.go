package mib_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// addrView has addresses on two NICs of two VMs, given out of order, and a row whose
// source is unknown (no networkAddressSource instance: walks step over it).
func addrView() *mibtest.View {
	return mibtest.New(map[string]*mibtest.Data{"": {Addresses: addrRows()}})
}

func addrRows() []mib.NetworkAddressRow {
	a := func(vm, nic uint32, addr string, src mib.AddrSource) mib.NetworkAddressRow {
		return mib.NetworkAddressRow{VMID: vm, NetworkIndex: nic, Addr: netip.MustParseAddr(addr), PrefixLength: 24, Source: src}
	}
	return []mib.NetworkAddressRow{
		a(2, 1, "10.0.0.2", mib.AddrARP),
		a(1, 2, "fd00::1", mib.AddrAgent),
		a(1, 1, "fd00::1", mib.AddrAgent),
		a(1, 1, "192.168.1.1", mib.AddrLease),
		a(1, 1, "10.0.0.1", 0),
		a(1, 1, "2001:db8::1", mib.AddrAgent),
		a(1, 2, "10.9.9.9", mib.AddrAgent),
	}
}

// TestAddressWalkOrder: a walk lists each NIC's IPv4 addresses, then its IPv6 ones, each
// by octets, NIC by NIC and VM by VM, whatever the order the view was given.
func TestAddressWalkOrder(t *testing.T) {
	h := mib.NewHandler(addrView())
	col := oid(t, "networkAddressPrefixLength")
	var got []string
	for _, vb := range walk(t, h, "", col) {
		if !vb.OID.HasPrefix(col) {
			break
		}
		k, ok := mib.ParseAddrKey(vb.OID[len(col):])
		if !ok {
			t.Fatalf("walk gave %v: not a row index", vb.OID)
		}
		got = append(got, k.Addr.String()+"@"+snmp.OID{k.VMID, k.Network}.String())
	}
	want := []string{"10.0.0.1@.1.1", "192.168.1.1@.1.1", "2001:db8::1@.1.1", "fd00::1@.1.1",
		"10.9.9.9@.1.2", "fd00::1@.1.2", "10.0.0.2@.2.1"}
	if !slices.Equal(got, want) {
		t.Fatalf("walk order %v, want %v", got, want)
	}
	src := oid(t, "networkAddressSource", 1, 1, 1, 4, 10, 0, 0, 1)
	if vb := h.Get(context.Background(), req(""), src); vb.Type != gosnmp.NoSuchInstance {
		t.Fatalf("source of an unknown source = %v", vb.Type)
	}
}

// TestAddressNextBrute compares the handler's GETNEXT with the brute-force order of the
// table's instances, from random OIDs around the table, and GET with membership.
func TestAddressNextBrute(t *testing.T) {
	h := mib.NewHandler(addrView())
	// Every instance, built from the rows (not by the handler), sorted.
	var all []snmp.VarBind
	for _, r := range addrRows() {
		for _, col := range []uint32{mib.ColNetworkAddressPrefixLength, mib.ColNetworkAddressSource} {
			if col == mib.ColNetworkAddressSource && !r.Source.Valid() {
				continue
			}
			all = append(all, snmp.VarBind{OID: mib.NetworkAddressTable.Instance(col, r.Key().Index()...)})
		}
	}
	slices.SortFunc(all, func(a, b snmp.VarBind) int { return a.OID.Compare(b.OID) })
	rng := rand.New(rand.NewPCG(9, 10))
	vals := []uint32{0, 1, 2, 3, 4, 9, 10, 16, 17, 192, 253, 255, 256, mib.MaxIndex, ^uint32(0)}
	e := mib.NetworkAddressTable.Entry()
	for range 20000 {
		var o snmp.OID
		if rng.IntN(3) > 0 {
			base := all[rng.IntN(len(all))].OID
			o = slices.Clone(base[:len(e)+rng.IntN(len(base)-len(e)+1)])
		} else {
			o = e.Append()
		}
		for range rng.IntN(5) {
			o = append(o, vals[rng.IntN(len(vals))])
		}
		want := -1
		for i, vb := range all {
			if vb.OID.Compare(o) > 0 {
				want = i
				break
			}
		}
		vb, ok := h.Next(context.Background(), req(""), o)
		inTable := ok && vb.OID.HasPrefix(mib.NetworkAddressTable.OID)
		if (want >= 0) != inTable || (inTable && vb.OID.Compare(all[want].OID) != 0) {
			t.Fatalf("Next(%v) = %v %v; want instance %d", o, vb.OID, ok, want)
		}
		g := h.Get(context.Background(), req(""), o)
		_, member := slices.BinarySearchFunc(all, o, func(v snmp.VarBind, o snmp.OID) int { return v.OID.Compare(o) })
		if member == (g.Type == gosnmp.NoSuchInstance || g.Type == gosnmp.NoSuchObject) {
			t.Fatalf("Get(%v) = %v, instance: %v", o, g.Type, member)
		}
	}
}
