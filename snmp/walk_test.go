package snmp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// listHandler serves a sorted list of instances.
type listHandler struct{ vbs []VarBind }

func (h *listHandler) Get(_ context.Context, _ *Request, oid OID) VarBind {
	if i, ok := slices.BinarySearchFunc(h.vbs, oid, func(vb VarBind, o OID) int { return vb.OID.Compare(o) }); ok {
		return h.vbs[i]
	}
	return VarBind{OID: oid, Type: gosnmp.NoSuchObject}
}

func (h *listHandler) Next(_ context.Context, _ *Request, oid OID) (VarBind, bool) {
	i, ok := slices.BinarySearchFunc(h.vbs, oid, func(vb VarBind, o OID) int { return vb.OID.Compare(o) })
	if ok {
		i++
	}
	if i == len(h.vbs) {
		return VarBind{}, false
	}
	return h.vbs[i], true
}

// listWalker is listHandler with Walk; stray makes it write an instance out of order
// (or out of its subtree) after every stray instances.
type listWalker struct {
	listHandler
	stray int
	calls int
}

func (h *listWalker) Walk(ctx context.Context, r *Request, oid OID, w *VarBindWriter) {
	h.calls++
	for n := 0; ; n++ {
		vb, ok := h.Next(ctx, r, oid)
		if !ok {
			return
		}
		if h.stray > 0 && n == h.stray {
			vb.OID = slices.Clone(oid) // not after the previous one
			if n%2 == 1 {
				vb.OID = MustOID("2.999.9.9")
			}
		}
		var more bool
		switch v := vb.Value.(type) {
		case int:
			more = w.Integer(vb.OID, int64(v))
		case uint32:
			more = w.Unsigned(vb.OID, vb.Type, uint64(v))
		case uint64:
			more = w.Unsigned(vb.OID, vb.Type, v)
		case []byte:
			more = w.Octets(vb.OID, v)
		case string:
			if vb.Type == gosnmp.OctetString {
				more = w.String(vb.OID, v)
			} else {
				more = w.VarBind(vb)
			}
		default:
			more = w.VarBind(vb)
		}
		if !more {
			return
		}
		oid = vb.OID
	}
}

// bulkFixture returns the instances of three subtrees under 2.999 and of one nested
// in the first: every value type, strings long enough for size cuts.
func bulkFixture() (a, nested, b, c []VarBind) {
	types := []func(i uint32) (gosnmp.Asn1BER, any){
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.Integer, int(i) - 20 },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.OctetString, fmt.Sprintf("vm-%d", i) },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.OctetString, []byte{byte(i), 0xff, 0} },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.Gauge32, i * 1e8 },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.Counter64, uint64(i) << 40 },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.TimeTicks, i },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.Counter32, ^i },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.ObjectIdentifier, fmt.Sprintf(".1.3.6.%d", i) },
		func(i uint32) (gosnmp.Asn1BER, any) { return gosnmp.IPAddress, fmt.Sprintf("10.0.%d.%d", i/256, i%256) },
	}
	for col, typ := range types {
		for row := uint32(1); row <= 500; row += 1 + uint32(col%2) {
			t, v := typ(row)
			a = append(a, VarBind{OID: MustOID("2.999.1").Append(uint32(col+1), row), Type: t, Value: v})
		}
	}
	for i := uint32(1); i <= 20; i++ {
		nested = append(nested, VarBind{OID: MustOID("2.999.1.5.1").Append(i, 2), Type: gosnmp.Integer, Value: int(i)})
		b = append(b, VarBind{OID: MustOID("2.999.2.1").Append(i), Type: gosnmp.OctetString,
			Value: strings.Repeat("x", int(i)*15)})
		c = append(c, VarBind{OID: MustOID("2.999.3").Append(i), Type: gosnmp.Gauge32, Value: i})
	}
	for _, l := range [][]VarBind{a, nested} {
		slices.SortFunc(l, func(x, y VarBind) int { return x.OID.Compare(y.OID) })
	}
	return a, nested, b, c
}

// TestBulkWalkerSameAnswer checks that GETBULK answers the same bytes whether the
// handlers walk or are asked Next by Next: random N, M, R, starting points and size
// limits, a subtree nested in a walker's, and walkers writing instances out of order
// or out of their subtree.
func TestBulkWalkerSameAnswer(t *testing.T) {
	a, nested, b, c := bulkFixture()
	plain := fixedEngine(t)
	plain.Register(MustOID("2.999.1"), &listHandler{a})
	plain.Register(MustOID("2.999.1.5"), &listHandler{nested})
	plain.Register(MustOID("2.999.2"), &listHandler{b})
	plain.Register(MustOID("2.999.3"), &listHandler{c})
	walkers := []*listWalker{{listHandler: listHandler{a}}, {listHandler: listHandler{b}}}
	strays := []*listWalker{{listHandler: listHandler{a}, stray: 3}, {listHandler: listHandler{b}, stray: 4}}
	engines := map[string]*Engine{}
	for name, ws := range map[string][]*listWalker{"walkers": walkers, "stray walkers": strays} {
		e := fixedEngine(t)
		e.Register(MustOID("2.999.1"), ws[0])
		e.Register(MustOID("2.999.1.5"), &listHandler{nested})
		e.Register(MustOID("2.999.2"), ws[1])
		e.Register(MustOID("2.999.3"), &listHandler{c})
		engines[name] = e
	}
	// Lift the community caps (10 repetitions, 1,472 bytes) on every engine: the
	// requests below go up to 10,000 repetitions and 65,507 bytes (maxBulkVars).
	for _, e := range append([]*Engine{plain}, engines["walkers"], engines["stray walkers"]) {
		sec := *e.sec.Load()
		sec.communityMaxReps, sec.communityMaxSize = 1<<20, maxUDPPayload
		e.sec.Store(&sec)
	}
	starts := []string{"2.999", "2.999.1", "2.999.1.2.7", "2.999.1.4.30", "2.999.1.4.499", "2.999.1.5", "2.999.1.5.1.3",
		"2.999.1.5.1.20.2", "2.999.1.6.1", "2.999.1.9.29", "2.999.2", "2.999.2.1.19", "2.999.3.5", "2.999.4", "2.1000"}
	rng := rand.New(rand.NewPCG(13, 5))
	big := 0 // answers cut by maxBulkVars or near it
	for n := range 600 {
		req := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
			RequestID: uint32(n + 1), NonRepeaters: uint8(rng.IntN(3)),
			MaxRepetitions: []uint32{0, 1, 2, 5, 25, 10000}[rng.IntN(6)]}
		for range 1 + rng.IntN(4) {
			req.Variables = append(req.Variables, gosnmp.SnmpPDU{Name: "." + starts[rng.IntN(len(starts))], Type: gosnmp.Null})
		}
		raw, err := req.MarshalMsg()
		if err != nil {
			t.Fatal(err)
		}
		maxOut := []int{484, 1400, maxUDPPayload}[rng.IntN(3)]
		want := oldBulk(t, plain, raw, maxOut)
		if len(want) == 0 {
			t.Fatalf("request %d: no answer", n)
		}
		engines["plain"] = plain
		if len(want) > 40000 {
			big++
		}
		for name, e := range engines {
			if got := e.handlePacket(context.Background(), raw, nil, maxOut); string(got) != string(want) {
				t.Fatalf("%s: request %d (N=%d R=%d %v, max %d): answer differs from Next's:\n%x\n%x", name, n,
					req.NonRepeaters, req.MaxRepetitions, req.Variables, maxOut, got, want)
			}
		}
	}
	if big == 0 {
		t.Error("no answer over 40,000 bytes: the fixture is too small for maxBulkVars")
	}
	for i, w := range append(walkers, strays...) {
		if w.calls == 0 {
			t.Errorf("walker %d never asked to walk", i)
		}
	}
}

// oldBulk is GETBULK as the engine answered it before repeaters were walked: e.next
// for every varbind, repetition by repetition.
func oldBulk(t *testing.T, e *Engine, raw []byte, maxOut int) []byte {
	t.Helper()
	m, err := parseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePDU(m.pdu)
	if err != nil {
		t.Fatal(err)
	}
	sec := e.sec.Load()
	p.maxReps = min(p.maxReps, sec.communityMaxReps)
	maxSize := min(e.maxSize, maxOut, max(sec.communityMaxSize, 2*len(m.raw)))
	ctx, r := context.Background(), &Request{Principal: Principal{Model: ModelV2c}}
	n := min(p.nonRepeaters, len(p.vars))
	reps := p.vars[n:]
	limit := min(maxBulkVars, maxSize/8)
	var out []VarBind
	for _, vb := range p.vars[:min(n, limit)] {
		out = append(out, e.next(ctx, r, vb.OID, false))
	}
	last := make([]OID, len(reps))
	for i, vb := range reps {
		last[i] = vb.OID
	}
	for rep := 0; rep < p.maxReps && len(reps) > 0 && len(out) < limit; rep++ {
		ended := 0
		for i := range reps[:min(len(reps), limit-len(out))] {
			vb := e.next(ctx, r, last[i], false)
			if vb.Type == gosnmp.EndOfMibView {
				ended++
			} else {
				last[i] = vb.OID
			}
			out = append(out, vb)
		}
		if ended == len(reps) {
			break
		}
	}
	vbs, _, err := encodeVarBinds(out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fitBulk(p.requestID, vbs, maxSize, func(po pduOut) ([]byte, error) {
		return wrapCommunity(m.version, m.community, po), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVarBindWriter checks what a writer refuses: instances not after the previous
// one, outside the subtree or at its bound, exceptions, values out of their type's
// range, and anything once full.
func TestVarBindWriter(t *testing.T) {
	root := MustOID("2.999.1")
	w := NewVarBindWriter(root, root.Append(2), 3)
	w.upper = MustOID("2.999.1.9")
	for _, tc := range []struct {
		name string
		ok   func() bool
	}{
		{"before the start", func() bool { return w.Integer(root.Append(1, 5), 1) }},
		{"the start itself", func() bool { return w.Integer(root.Append(2), 1) }},
		{"outside the subtree", func() bool { return w.Integer(MustOID("2.999.2.1"), 1) }},
		{"at the bound", func() bool { return w.Integer(MustOID("2.999.1.9"), 1) }},
		{"an exception", func() bool { return w.VarBind(VarBind{OID: root.Append(3), Type: gosnmp.EndOfMibView}) }},
		{"an Integer beyond Integer32", func() bool { return w.Integer(root.Append(3), 1<<31) }},
		{"a Gauge32 beyond 32 bits", func() bool { return w.Unsigned(root.Append(3), gosnmp.Gauge32, 1<<32) }},
		{"an Unsigned of type OCTET STRING", func() bool { return w.Unsigned(root.Append(3), gosnmp.OctetString, 1) }},
	} {
		if tc.ok() || w.Len() != 0 {
			t.Errorf("%s: taken", tc.name)
		}
	}
	if !w.Integer(root.Append(3), -5) || !w.String(root.Append(4), "a") {
		t.Fatal("instances in order refused")
	}
	if w.Unsigned(root.Append(5), gosnmp.Counter64, 1<<40) { // the third: full now
		t.Error("a full writer asks for more")
	}
	if w.Octets(root.Append(6), []byte("b")) || w.Len() != 3 || w.Room() != 0 {
		t.Errorf("a full writer took more: %d", w.Len())
	}
	got, err := w.VarBinds()
	if err != nil || len(got) != 3 || got[0].Value != -5 || string(got[1].Value.([]byte)) != "a" || got[2].Value != uint64(1)<<40 {
		t.Errorf("VarBinds() = %v, %v", got, err)
	}
	if w.Last().Compare(root.Append(5)) != 0 {
		t.Errorf("Last() = %v", w.Last())
	}
}

// TestVarBindWriterNames checks the names a writer encodes from the previous one's
// arcs against appendVarBind's: sorted OIDs sharing prefixes of every length, arcs of
// one to five bytes, names over 127 bytes (the long form, not reused), after elements
// over 127 bytes (a long length moves the name the next one copies from) and after a
// value the writer could not encode natively (refused once begun).
func TestVarBindWriterNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	arcs := []uint32{0, 1, 127, 128, 16383, 16384, 1 << 21, 1<<28 + 5, ^uint32(0)}
	var oids []OID
	for range 2000 {
		o := OID{1, 3, 6}
		for range rng.IntN(3) + rng.IntN(2)*rng.IntN(60) {
			o = append(o, arcs[rng.IntN(len(arcs))])
		}
		oids = append(oids, o)
	}
	slices.SortFunc(oids, OID.Compare)
	oids = slices.CompactFunc(oids, func(a, b OID) bool { return a.Compare(b) == 0 })
	root := OID{1, 3}
	w := NewVarBindWriter(root, root, len(oids))
	var want []byte
	for i, o := range oids {
		vb := VarBind{OID: o, Type: gosnmp.Integer, Value: i}
		switch rng.IntN(4) {
		case 0:
			vb = VarBind{OID: o, Type: gosnmp.OctetString, Value: strings.Repeat("x", rng.IntN(300))}
		case 1: // refused after a later name's arcs were encoded
			if w.VarBind(VarBind{OID: oids[min(i+1, len(oids)-1)], Type: gosnmp.Opaque, Value: []byte{1}}) {
				t.Fatalf("instance %d (%v): an Opaque taken", i, o)
			}
		}
		if !w.VarBind(vb) && i < len(oids)-1 {
			t.Fatalf("instance %d (%v) refused", i, o)
		}
		want, _ = appendVarBind(want, vb)
	}
	if string(w.l.b) != string(want) {
		t.Fatalf("names differ from appendVarBind's")
	}
}
