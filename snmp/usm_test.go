package snmp

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// rawV3 describes a hand-made v3 request.
type rawV3 struct {
	engineID    []byte
	boots, time uint32
	user        User
	flags       gosnmp.SnmpV3MsgFlags
	context     string
	msgID       uint32
	requestID   uint32
	maxSize     uint32           // msgMaxSize; 0 = 65507
	bulk        uint32           // GETBULK max-repetitions; 0 = a GET
	set         []gosnmp.SnmpPDU // a SET of these instead; oids are ignored
}

// build marshals the request with gosnmp, keys localized to r.engineID.
func (r rawV3) build(t *testing.T, oids ...string) []byte {
	t.Helper()
	auth, _ := authProtocol(r.user.AuthProtocol)
	priv, _ := privProtocol(r.user.PrivProtocol)
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID: string(r.engineID), AuthoritativeEngineBoots: r.boots, AuthoritativeEngineTime: r.time,
		UserName: r.user.Name, AuthenticationProtocol: auth, AuthenticationPassphrase: string(r.user.AuthPassphrase),
		PrivacyProtocol: priv, PrivacyPassphrase: string(r.user.PrivPassphrase),
		PrivacyParameters: []byte{1, 2, 3, 4, 5, 6, 7, 8},
	}
	if auth != gosnmp.NoAuth {
		if err := sp.InitSecurityKeys(); err != nil {
			t.Fatal(err)
		}
	}
	vars := make([]gosnmp.SnmpPDU, len(oids))
	for i, o := range oids {
		vars[i] = gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null}
	}
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version3, MsgFlags: r.flags, SecurityModel: gosnmp.UserSecurityModel,
		SecurityParameters: sp, ContextEngineID: string(r.engineID), ContextName: r.context,
		PDUType: gosnmp.GetRequest, MsgID: r.msgID, RequestID: r.requestID, MsgMaxSize: r.maxSize, Variables: vars}
	if pkt.MsgMaxSize == 0 {
		pkt.MsgMaxSize = 65507
	}
	if r.bulk > 0 {
		pkt.PDUType, pkt.MaxRepetitions = gosnmp.GetBulkRequest, r.bulk
	}
	if r.set != nil {
		pkt.PDUType, pkt.Variables = gosnmp.SetRequest, r.set
	}
	b, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// udpExchange sends each packet in order on one socket and returns the first reply.
func udpExchange(t *testing.T, addr *net.UDPAddr, pkts ...[]byte) []byte {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range pkts {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	return buf[:n]
}

// decoded is a reply read with the engine's own parser (and the user's keys).
type decoded struct {
	m  *message
	sp scopedPDU
	p  *pdu
}

func decodeReply(t *testing.T, b []byte, u *usmUser) decoded {
	t.Helper()
	m, err := parseMessage(b)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	scoped := m.scoped
	if m.flags&flagPriv != 0 {
		if u == nil {
			t.Fatal("encrypted reply and no user keys")
		}
		if scoped, err = u.decrypt(m); err != nil {
			t.Fatal(err)
		}
	}
	if m.flags&flagAuth != 0 && (u == nil || !u.verifyDigest(m)) {
		t.Fatal("reply claims authentication but its digest does not verify")
	}
	sp, err := parseScopedPDU(scoped)
	if err != nil {
		t.Fatal(err)
	}
	// Responses and reports carry error fields where parsePDU expects them.
	p, err := parsePDU(sp.pdu)
	if err != nil {
		t.Fatal(err)
	}
	return decoded{m: m, sp: sp, p: p}
}

func TestUSMReports(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	id := e.EngineID()
	ro, rw, anon := cfg.Users[0], cfg.Users[1], cfg.Users[3]
	wrongAuth, wrongPriv := wrongPassphrases(ro, rw)
	ghost := User{Name: "ghost"}
	authAnon := anon
	authAnon.AuthProtocol, authAnon.AuthPassphrase = "SHA", authPass
	roU, err := newUSMUser(ro, id)
	if err != nil {
		t.Fatal(err)
	}
	rwU, err := newUSMUser(rw, id)
	if err != nil {
		t.Fatal(err)
	}
	now := func() uint32 { return e.engineTime() }
	rep := gosnmp.Reportable
	tests := []struct {
		name      string
		req       rawV3
		keys      *usmUser // to read an authenticated reply
		wantOID   OID      // report varbind; nil: a Response
		wantFlags byte
		wantErr   gosnmp.SNMPError
	}{
		{name: "discovery", req: rawV3{flags: rep}, wantOID: oidUnknownEngineIDs},
		{name: "foreign engine ID", req: rawV3{engineID: []byte("\x80\x00\x1f\x88\x04abc"), user: ro, flags: rep | gosnmp.AuthNoPriv}, wantOID: oidUnknownEngineIDs},
		{name: "unknown user", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: ghost, flags: rep}, wantOID: oidUnknownUserNames},
		{name: "wrong auth password", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: wrongAuth, flags: rep | gosnmp.AuthNoPriv}, wantOID: oidWrongDigests},
		{name: "wrong priv password", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: wrongPriv, flags: rep | gosnmp.AuthPriv}, wantOID: oidDecryptionErrors},
		{name: "time too far ahead", req: rawV3{engineID: id, boots: e.Boots(), time: now() + 1000, user: ro, flags: rep | gosnmp.AuthNoPriv},
			keys: roU, wantOID: oidNotInTimeWindows, wantFlags: flagAuth},
		{name: "stale boots", req: rawV3{engineID: id, boots: e.Boots() - 1, time: now(), user: ro, flags: rep | gosnmp.AuthNoPriv},
			keys: roU, wantOID: oidNotInTimeWindows, wantFlags: flagAuth},
		{name: "level above the user's", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: authAnon, flags: rep | gosnmp.AuthNoPriv}, wantOID: oidUnsupportedSecLevels},
		{name: "unknown context", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: rw, flags: rep | gosnmp.AuthPriv, context: "nope"},
			keys: rwU, wantOID: oidUnknownContexts, wantFlags: flagAuth | flagPriv},
		{name: "level below the user's", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: User{Name: "ro"}, flags: rep},
			wantErr: gosnmp.AuthorizationError},
		{name: "authPriv ok", req: rawV3{engineID: id, boots: e.Boots(), time: now(), user: rw, flags: rep | gosnmp.AuthPriv, context: "kvm1"},
			keys: rwU, wantFlags: flagAuth | flagPriv},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.msgID, tt.req.requestID = uint32(1000+i), uint32(2000+i)
			reply := udpExchange(t, addr, tt.req.build(t, ".1.3.6.1.2.1.1.5.0"))
			d := decodeReply(t, reply, tt.keys)
			if got := d.m.flags; got != tt.wantFlags {
				t.Errorf("reply flags 0x%02x, want 0x%02x", got, tt.wantFlags)
			}
			if !bytes.Equal(d.m.usm.engineID, id) || d.m.usm.boots != int64(e.Boots()) {
				t.Errorf("reply engine %x boots %d, want %x %d", d.m.usm.engineID, d.m.usm.boots, id, e.Boots())
			}
			if d.m.msgID != int64(tt.req.msgID) {
				t.Errorf("msgID %d, want %d", d.m.msgID, tt.req.msgID)
			}
			if tt.wantOID == nil {
				if d.p.typ != gosnmp.GetResponse {
					t.Fatalf("PDU %v, want a Response", d.p.typ)
				}
				if d.p.requestID != int32(tt.req.requestID) {
					t.Errorf("request ID %d, want %d", d.p.requestID, tt.req.requestID)
				}
				return
			}
			if d.p.typ != gosnmp.Report || len(d.p.vars) != 1 {
				t.Fatalf("PDU %v with %d varbinds, want a Report with 1", d.p.typ, len(d.p.vars))
			}
			if got := d.p.vars[0]; got.OID.Compare(tt.wantOID) != 0 || got.Type != gosnmp.Counter32 || got.Value.(uint32) < 1 {
				t.Errorf("report varbind %v, want %s = Counter32 >= 1", got, tt.wantOID)
			}
		})
	}
	// Nothing unauthenticated reached the handler: the counters say why.
	for name, c := range map[string]uint32{
		"unknownEngineIDs": e.cnt.unknownEngineIDs.Load(), "unknownUserNames": e.cnt.unknownUserNames.Load(),
		"wrongDigests": e.cnt.wrongDigests.Load(), "decryptionErrors": e.cnt.decryptionErrors.Load(),
		"notInTimeWindows": e.cnt.notInTimeWindows.Load(), "unsupportedSecLevels": e.cnt.unsupportedSecLevels.Load(),
		"unknownContexts": e.cnt.unknownContexts.Load(),
	} {
		want := uint32(1)
		if name == "unknownEngineIDs" || name == "notInTimeWindows" {
			want = 2
		}
		if c != want {
			t.Errorf("%s = %d, want %d", name, c, want)
		}
	}
}

// TestReportableFlag: a failing message without the reportable flag gets no answer;
// the valid request sent right after it on the same socket is the first reply.
func TestReportableFlag(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	bad := cfg.Users[0]
	bad.AuthPassphrase = "not-the-password"
	silent := rawV3{engineID: e.EngineID(), boots: e.Boots(), time: e.engineTime(), user: bad, flags: gosnmp.AuthNoPriv, msgID: 1, requestID: 1}
	good := rawV3{engineID: e.EngineID(), boots: e.Boots(), time: e.engineTime(), user: cfg.Users[0], flags: gosnmp.AuthNoPriv | gosnmp.Reportable, msgID: 2, requestID: 2}
	u, err := newUSMUser(cfg.Users[0], e.EngineID())
	if err != nil {
		t.Fatal(err)
	}
	d := decodeReply(t, udpExchange(t, addr, silent.build(t, ".1.3.6.1.2.1.1.5.0"), good.build(t, ".1.3.6.1.2.1.1.5.0")), u)
	if d.m.msgID != 2 || d.p.typ != gosnmp.GetResponse {
		t.Fatalf("first reply: msgID %d PDU %v, want the valid request's response", d.m.msgID, d.p.typ)
	}
	if !eventually(t, func() bool { return e.cnt.wrongDigests.Load() == 1 }) {
		t.Errorf("usmStatsWrongDigests = %d, want 1", e.cnt.wrongDigests.Load())
	}
}

// TestDecryptPadding: pysnmp pads AES-CFB plaintext with 1..16 zero bytes and CBC-DES
// pads to 8; both must decrypt, and more than that is garbage.
func TestDecryptPadding(t *testing.T) {
	e := fixedEngine(t)
	scoped := appendTLV(nil, 0x30, appendTLV(appendTLV(nil, 0x04, e.engineID), 0x04, []byte("kvm1")))
	for _, priv := range []string{"AES", "AES-256", "DES"} {
		u, err := newUSMUser(User{Name: "p", AuthProtocol: "SHA", AuthPassphrase: authPass,
			PrivProtocol: priv, PrivPassphrase: privPass}, e.engineID)
		if err != nil {
			t.Fatal(err)
		}
		for _, pad := range []int{0, 1, 16, 24} {
			t.Run(priv+"/pad "+itoa(pad), func(t *testing.T) {
				pt := append(bytes.Clone(scoped), make([]byte, pad)...)
				if priv == "DES" {
					pt = append(pt, make([]byte, (8-len(pt)%8)%8)...)
				}
				salt, ct := e.newSalt(nil, u, 3), make([]byte, len(pt))
				if err := u.encrypt(ct, pt, 3, 77, salt); err != nil {
					t.Fatal(err)
				}
				m := &message{encrypted: ct, usm: usmHeader{boots: 3, time: 77, privParams: salt}}
				got, err := u.decrypt(m)
				wantOK := pad <= 16
				if priv == "DES" { // plus the cipher's own padding to 8
					wantOK = (len(scoped)+pad+7)/8*8-len(scoped) <= 16
				}
				if wantOK != (err == nil) {
					t.Fatalf("decrypt with %d bytes of padding: %v", pad, err)
				}
				if err == nil && !bytes.Equal(got, scoped) {
					t.Errorf("plaintext %x, want %x", got, scoped)
				}
			})
		}
	}
}

// TestManagerMaxSize: a v3 GETBULK answer fits the manager's msgMaxSize, encrypted.
func TestManagerMaxSize(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	u, err := newUSMUser(cfg.Users[1], e.EngineID())
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []uint32{484, 1000, 1472} {
		t.Run(itoa(int(size)), func(t *testing.T) {
			req := rawV3{engineID: e.EngineID(), boots: e.Boots(), time: e.engineTime(), user: cfg.Users[1],
				flags: gosnmp.AuthPriv | gosnmp.Reportable, msgID: size, requestID: size, maxSize: size, bulk: 500}
			reply := udpExchange(t, addr, req.build(t, ".1.3"))
			if len(reply) > int(size) {
				t.Errorf("reply of %d bytes over msgMaxSize %d", len(reply), size)
			}
			d := decodeReply(t, reply, u)
			if d.p.typ != gosnmp.GetResponse || len(d.p.vars) < 3 {
				t.Errorf("reply %v with %d varbinds", d.p.typ, len(d.p.vars))
			}
		})
	}
}

// countingHandler counts the calls that reach it.
type countingHandler struct{ n atomic.Int32 }

func (c *countingHandler) Get(_ context.Context, _ *Request, oid OID) VarBind {
	c.n.Add(1)
	return VarBind{OID: oid, Type: gosnmp.Integer, Value: 1}
}

func (c *countingHandler) Next(context.Context, *Request, OID) (VarBind, bool) {
	c.n.Add(1)
	return VarBind{}, false
}

// TestRejectedNeverReachHandlers: wrong passwords, stale times, unknown users and
// levels never call a handler; the valid request does.
func TestRejectedNeverReachHandlers(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	h := &countingHandler{}
	root := MustOID("1.3.6.1.4.1.99999.5")
	e.Register(root, h)
	ro, rw := cfg.Users[0], cfg.Users[1]
	wrongAuth, wrongPriv := wrongPassphrases(ro, rw)
	now := e.engineTime()
	id, boots := e.EngineID(), e.Boots()
	rep := gosnmp.Reportable
	bad := []rawV3{
		{engineID: id, boots: boots, time: now, user: wrongAuth, flags: rep | gosnmp.AuthNoPriv},
		{engineID: id, boots: boots, time: now, user: wrongPriv, flags: rep | gosnmp.AuthPriv},
		{engineID: id, boots: boots, time: now + 151, user: ro, flags: rep | gosnmp.AuthNoPriv},
		{engineID: id, boots: boots + 1, time: now, user: ro, flags: rep | gosnmp.AuthNoPriv},
		{engineID: id, boots: boots, time: now, user: User{Name: "ro"}, flags: rep},
		{engineID: id, boots: boots, time: now, user: User{Name: "ghost"}, flags: rep},
		{engineID: []byte("\x80\x00\x00\x00\x05other"), boots: boots, time: now, user: ro, flags: rep | gosnmp.AuthNoPriv},
	}
	for i, r := range bad {
		r.msgID, r.requestID = uint32(i+1), uint32(i+1)
		udpExchange(t, addr, r.build(t, root.Append(1, 0).String()))
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("rejected requests reached the handler %d times", n)
	}
	good := rawV3{engineID: id, boots: boots, time: now, user: rw, flags: rep | gosnmp.AuthPriv, msgID: 99, requestID: 99}
	udpExchange(t, addr, good.build(t, root.Append(1, 0).String()))
	if n := h.n.Load(); n != 1 {
		t.Errorf("valid request reached the handler %d times, want 1", n)
	}
}
