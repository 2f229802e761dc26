package snmp

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// fixedEngineID is the engine ID the captured packets in testdata/fuzz were sent to
// (net-snmp 5.9.3 tools with -e; they sent boots 0, time 0).
const fixedEngineID = "80001d2a050102030405060708"

// fixedEngine is an Engine (not serving) with fixedEngineID and, forced for the test,
// boots 0 and a fresh start, so the captured v3 packets pass USM and reach dispatch.
func fixedEngine(tb testing.TB) *Engine {
	tb.Helper()
	cfg := Config{
		Listen:      []string{"udp:127.0.0.1:0"},
		StateDir:    tb.TempDir(),
		SysName:     "gw1",
		Communities: []Community{{Community: "public", Access: ReadOnly}, {Community: "private", Access: ReadWrite}},
		Users: []User{
			{Name: "anon", Access: ReadOnly, Contexts: []string{"*"}},
			{Name: "ro", AuthProtocol: "SHA", AuthPassphrase: authPass, Access: ReadOnly, Contexts: []string{"*"}},
			{Name: "rw", AuthProtocol: "SHA-256", AuthPassphrase: authPass, PrivProtocol: "AES", PrivPassphrase: privPass,
				Access: ReadWrite, Contexts: []string{"*"}},
			{Name: "cluster", AuthProtocol: "MD5", AuthPassphrase: authPass, PrivProtocol: "DES", PrivPassphrase: privPass,
				Access: ReadOnly, Contexts: []string{""}},
		},
	}
	state := "engine_id: " + fixedEngineID + "\nboots: 0\n"
	if err := os.WriteFile(filepath.Join(cfg.StateDir, stateFile), []byte(state), 0o600); err != nil {
		tb.Fatal(err)
	}
	e, err := New(cfg, WithLogger(testLogger(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	e.boots = 0
	e.SetContexts([]string{"kvm1"})
	e.Register(testRoot, newTableHandler())
	return e
}

func readCorpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzHandlePacket", name))
	if err != nil {
		t.Fatal(err)
	}
	// The go test fuzz v1 format: a header line, then []byte("...").
	_, body, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	lit, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(lit)
}

// TestNetSNMPCaptures replays requests captured from net-snmp 5.9.3 tools and checks
// the engine's answers: interoperability of its BER reading, HMAC and decryption.
func TestNetSNMPCaptures(t *testing.T) {
	e := fixedEngine(t)
	tests := []struct {
		file     string
		wantType gosnmp.PDUType
		wantErr  gosnmp.SNMPError
		wantOID  string // first varbind of the answer
		keysFor  string
	}{
		{file: "v1_get", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.1.0"},
		{file: "v2c_getnext", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.1.0"},
		{file: "v2c_getbulk", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.2.0"},
		{file: "v2c_set", wantType: gosnmp.GetResponse, wantOID: oidStr(testRoot, 2, 1)},
		{file: "v1_set", wantType: gosnmp.GetResponse, wantOID: oidStr(testRoot, 2, 1)},
		{file: "v3_discovery", wantType: gosnmp.Report, wantOID: oidUnknownEngineIDs.String()},
		{file: "v3_noauth_get", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.5.0"},
		{file: "v3_noauth_getbulk", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.1.0"},
		{file: "v3_authnopriv_get", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.5.0", keysFor: "ro"},
		{file: "v3_authpriv_getnext", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.1.0", keysFor: "rw"},
		{file: "v3_md5_des_get", wantType: gosnmp.GetResponse, wantOID: ".1.3.6.1.2.1.1.5.0", keysFor: "cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out := e.handlePacket(context.Background(), readCorpus(t, tt.file), nil, maxUDPPayload)
			if out == nil {
				t.Fatal("no answer")
			}
			m, err := parseMessage(out)
			if err != nil {
				t.Fatal(err)
			}
			var p *pdu
			if m.version == wireV3 {
				p = decodeReply(t, out, e.sec.Load().users[tt.keysFor]).p
			} else if p, err = parsePDU(m.pdu); err != nil {
				t.Fatal(err)
			}
			if p.typ != tt.wantType || len(p.vars) == 0 || p.vars[0].OID.String() != tt.wantOID {
				t.Fatalf("answer %v %v, want %v starting with %s", p.typ, p.vars, tt.wantType, tt.wantOID)
			}
		})
	}
	if n := e.cnt.panics.Load(); n != 0 {
		t.Errorf("%d panics recovered", n)
	}
}

// FuzzHandlePacket feeds raw datagrams to the packet handler: it must never panic
// (a recovered panic counts as a failure too).
func FuzzHandlePacket(f *testing.F) {
	e := fixedEngine(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e.handlePacket(context.Background(), b, nil, maxUDPPayload)
		if n := e.cnt.panics.Load(); n != 0 {
			t.Fatalf("handlePacket panicked on %x", b)
		}
	})
}

// FuzzParseMessage exercises the BER reader and message splitter alone.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			return
		}
		if m.pdu != nil {
			_, _ = parsePDU(m.pdu)
		}
		if m.scoped != nil {
			if sp, err := parseScopedPDU(m.scoped); err == nil {
				_, _ = parsePDU(sp.pdu)
			}
		}
	})
}

// FuzzServePDU feeds PDUs straight to dispatch, past the security checks a mutated
// v3 message never gets through, as the read-write community would.
func FuzzServePDU(f *testing.F) {
	e := fixedEngine(f)
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzHandlePacket", "v*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, body, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		lit, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
		if err != nil {
			f.Fatal(err)
		}
		if m, err := parseMessage([]byte(lit)); err == nil && m.pdu != nil {
			f.Add(m.pdu, false)
			f.Add(m.pdu, true)
		}
	}
	wrap := func(p pduOut) ([]byte, error) { return wrapCommunity(wireV2c, []byte("private"), p), nil }
	f.Fuzz(func(t *testing.T, b []byte, v1 bool) {
		p, err := parsePDU(b)
		if err != nil || !isRequest(p.typ) {
			return
		}
		r := &Request{Principal: Principal{Model: ModelV2c, Access: ReadWrite}}
		out, err := e.serve(context.Background(), r, p, v1, 1500, wrap)
		if err == nil && len(out) > 1500 {
			t.Fatalf("response of %d bytes over the 1500 limit", len(out))
		}
	})
}

// FuzzNullVarBinds: the fast decoder of read requests agrees with gosnmp's codec
// whenever both accept a PDU.
func FuzzNullVarBinds(f *testing.F) {
	for _, o := range []string{"1.3.6.1.2.1.1.5.0", "2.999.4294967295", "0.39", "1.3.6.1.4.1.99999.1.2.128.16384"} {
		pdu := buildPDU(gosnmp.GetNextRequest, 5, 0, 0, mustAppendVarBind(f, VarBind{OID: MustOID(o), Type: gosnmp.Null}))
		f.Add(pdu)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &berReader{buf: b}
		pdu, err := r.next()
		if err != nil {
			return
		}
		in := sub(pdu)
		for range 3 {
			if _, err := in.next(); err != nil {
				return
			}
		}
		vbl, err := in.expect(0x30, "vbl")
		if err != nil {
			return
		}
		fast, ok := nullVarBinds(vbl.value)
		if !ok {
			return
		}
		ref, err := gosnmpVarBinds(b[:pdu.end])
		if err != nil {
			return // gosnmp is stricter here; the fast path is used only for valid input
		}
		if len(fast) != len(ref) {
			t.Fatalf("fast %v, gosnmp %v", fast, ref)
		}
		for i := range fast {
			if fast[i].OID.Compare(ref[i].OID) != 0 || ref[i].Type != gosnmp.Null {
				t.Fatalf("varbind %d: fast %v, gosnmp %v", i+1, fast[i], ref[i])
			}
		}
	})
}

func mustAppendVarBind(tb testing.TB, vb VarBind) []byte {
	tb.Helper()
	b, ok := appendVarBind(nil, vb)
	if !ok {
		tb.Fatalf("cannot encode %v", vb)
	}
	return b
}
