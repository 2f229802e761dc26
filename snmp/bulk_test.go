package snmp

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestGetBulk(t *testing.T) {
	cfg := baseConfig(t)
	_, addr := startEngine(t, cfg)
	x := v2client(t, addr, "public", gosnmp.Version2c)
	tests := []struct {
		name    string
		oids    []string
		nonRep  uint8
		maxReps uint32
		want    []string // OIDs, "end" for endOfMibView
	}{
		{name: "non-repeaters then interleaved repetitions",
			oids: []string{"1.3.6.1.2.1.1.4.0", oidStr(testRoot, 1), oidStr(testRoot, 3, 2)}, nonRep: 1, maxReps: 3,
			want: []string{".1.3.6.1.2.1.1.5.0",
				oidStr(testRoot, 1, 1), oidStr(testRoot, 3, 3),
				oidStr(testRoot, 1, 2), oidStr(testRoot, 4, 1),
				oidStr(testRoot, 1, 3), oidStr(OIDSNMPEngine, 1, 0)}},
		{name: "end of MIB view stops the repetitions",
			oids: []string{oidStr(OIDUSMStats, 6, 0)}, maxReps: 5, want: []string{"end"}},
		{name: "one column reaches the end, the other goes on",
			oids: []string{oidStr(OIDUSMStats, 5, 0), oidStr(OIDUSMStats, 4, 0)}, maxReps: 3,
			want: []string{oidStr(OIDUSMStats, 6, 0), oidStr(OIDUSMStats, 5, 0), "end", oidStr(OIDUSMStats, 6, 0), "end", "end"}},
		{name: "non-repeaters larger than the list", oids: []string{"1.3.6.1.2.1.1.1.0"}, nonRep: 5, maxReps: 10,
			want: []string{".1.3.6.1.2.1.1.2.0"}},
		{name: "zero max-repetitions", oids: []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"}, nonRep: 1, maxReps: 0,
			want: []string{".1.3.6.1.2.1.1.2.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := x.GetBulk(tt.oids, tt.nonRep, tt.maxReps)
			if err != nil {
				t.Fatalf("GetBulk: %v", err)
			}
			var got []string
			for _, v := range res.Variables {
				if v.Type == gosnmp.EndOfMibView {
					got = append(got, "end")
				} else {
					got = append(got, v.Name)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestResponseSize: GETBULK answers are trimmed to the size limit, a GET that cannot
// fit gets tooBig.
func TestResponseSize(t *testing.T) {
	cfg := baseConfig(t)
	cfg.MaxMessageSize = 484
	_, addr := startEngine(t, cfg)
	bulk := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
		RequestID: 7, MaxRepetitions: 200, Variables: []gosnmp.SnmpPDU{{Name: ".1.3", Type: gosnmp.Null}}}
	raw, err := bulk.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	reply := udpExchange(t, addr, raw)
	if len(reply) > 484 {
		t.Errorf("GETBULK reply of %d bytes over the 484 limit", len(reply))
	}
	m, err := parseMessage(reply)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePDU(m.pdu)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.vars) < 5 || p.requestID != 7 {
		t.Errorf("trimmed GETBULK: %d varbinds, request ID %d", len(p.vars), p.requestID)
	}
	for _, v := range p.vars {
		if v.Type == gosnmp.EndOfMibView {
			t.Errorf("trimmed GETBULK reached the end of the MIB: %v", p.vars)
		}
	}
	x := v2client(t, addr, "public", gosnmp.Version2c)
	oids := make([]string, 40)
	for i := range oids {
		oids[i] = "1.3.6.1.2.1.1.1.0" // sysDescr, ~70 bytes each
	}
	res, err := x.Get(oids)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig || len(res.Variables) != 0 {
		t.Errorf("oversized GET: status %v with %d varbinds, want tooBig and none", res.Error, len(res.Variables))
	}
}

// TestAnswersRespectMaxSize: every answer fits the request's msgMaxSize, the
// authorizationError that echoes the request included (tooBig when it cannot).
func TestAnswersRespectMaxSize(t *testing.T) {
	cfg := baseConfig(t)
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.SetContexts([]string{"kvm1"})
	oids := make([]string, 40)
	for i := range oids {
		oids[i] = oidStr(testRoot, 1, uint32(100000+i), 1, 2, 3, 4, 5, 6, 7)
	}
	req := rawV3{engineID: e.EngineID(), boots: e.Boots(), time: e.engineTime(), user: cfg.Users[2],
		flags: gosnmp.AuthNoPriv | gosnmp.Reportable, context: "kvm1", maxSize: MinMaxMessageSize}
	out := e.handlePacket(context.Background(), req.build(t, oids...), nil, maxUDPPayload)
	if len(out) == 0 || len(out) > MinMaxMessageSize {
		t.Fatalf("answer of %d bytes to msgMaxSize %d", len(out), MinMaxMessageSize)
	}
	u, err := newUSMUser(cfg.Users[2], e.EngineID())
	if err != nil {
		t.Fatal(err)
	}
	d := decodeReply(t, out, u)
	top := &berReader{buf: d.sp.pdu}
	el, err := top.next()
	if err != nil {
		t.Fatal(err)
	}
	in := sub(el)
	_, _ = in.integer("request-id")
	if status, _ := in.integer("error-status"); d.p.typ != gosnmp.GetResponse || gosnmp.SNMPError(status) != gosnmp.TooBig {
		t.Errorf("answer %v status %v, want tooBig", d.p.typ, gosnmp.SNMPError(status))
	}
}

// TestGetBulkManyRepeaters: more repeaters than one answer may hold get the first ones
// that fit (RFC 3416 section 4.2.3), not an empty list.
func TestGetBulkManyRepeaters(t *testing.T) {
	e, err := New(baseConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	vars := make([]gosnmp.SnmpPDU, maxBulkVars+1)
	for i := range vars {
		vars[i] = gosnmp.SnmpPDU{Name: "1.3.6.1.2.1.1.1.0", Type: gosnmp.Null}
	}
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
		RequestID: 9, MaxRepetitions: 2, Variables: vars}
	raw, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	out := e.handlePacket(context.Background(), raw, nil, maxUDPPayload)
	res, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(out)
	if err != nil {
		t.Fatalf("answer of %d bytes: %v", len(out), err)
	}
	if res.Error != gosnmp.NoError || len(res.Variables) == 0 || res.Variables[0].Name != ".1.3.6.1.2.1.1.2.0" {
		t.Fatalf("status %v, %d varbinds, want the first repeaters' successors", res.Error, len(res.Variables))
	}
}

// TestCommunityAmplification: a small GETBULK under a community (sent by anyone who can
// forge a source address) gets at most community_max_message_size bytes back, with
// at most community_max_repetitions repetitions; an authenticated user is not capped.
func TestCommunityAmplification(t *testing.T) {
	cfg := baseConfig(t)
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Register(testRoot, seqHandler{n: 5000})
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
		RequestID: 1, MaxRepetitions: 10000, Variables: []gosnmp.SnmpPDU{{Name: "1.3", Type: gosnmp.Null}}}
	raw, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	out := e.handlePacket(context.Background(), raw, nil, maxUDPPayload)
	t.Logf("GETBULK: %d bytes in, %d out (x%.1f)", len(raw), len(out), float64(len(out))/float64(len(raw)))
	if len(out) == 0 || len(out) > DefaultCommunityMaxMessageSize {
		t.Errorf("answer of %d bytes, want 1..%d", len(out), DefaultCommunityMaxMessageSize)
	}
	res, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(out)
	if err != nil || len(res.Variables) == 0 || len(res.Variables) > DefaultCommunityMaxRepetitions {
		t.Errorf("answer of %d varbinds (err %v), want 1..%d", len(res.Variables), err, DefaultCommunityMaxRepetitions)
	}
	// A v3 user is authenticated, so no reflector: the engine's max_message_size holds.
	req := rawV3{engineID: e.EngineID(), boots: e.Boots(), time: e.engineTime(), user: cfg.Users[0],
		flags: gosnmp.AuthNoPriv, bulk: 10000}
	if out := e.handlePacket(context.Background(), req.build(t, "1.3"), nil, maxUDPPayload); len(out) < 10000 {
		t.Errorf("authenticated GETBULK answer of %d bytes, want the uncapped size", len(out))
	}
}

// seqHandler serves testRoot.1 .. testRoot.n, each a 20-byte string.
type seqHandler struct{ n uint32 }

func (h seqHandler) Get(_ context.Context, _ *Request, oid OID) VarBind {
	return VarBind{OID: oid, Type: gosnmp.NoSuchObject}
}

func (h seqHandler) Next(_ context.Context, _ *Request, oid OID) (VarBind, bool) {
	k := uint32(1)
	if oid.HasPrefix(testRoot) && len(oid) > len(testRoot) {
		k = oid[len(testRoot)] + 1
	} else if oid.Compare(testRoot) > 0 {
		return VarBind{}, false
	}
	if k > h.n {
		return VarBind{}, false
	}
	return VarBind{OID: testRoot.Append(k), Type: gosnmp.OctetString, Value: []byte("twenty bytes of text")}, true
}
